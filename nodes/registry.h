/* The node kinds this build knows. Adding a kind: define its pf_kind in its
 * domain folder and list it in registry.c. */
#ifndef PF_REGISTRY_H
#define PF_REGISTRY_H

#include "pf_node.h"

extern const pf_kind *const pf_kinds[]; /* NULL-terminated */
const pf_kind *pf_kind_find(const char *name);

#endif
