/* pf_graph_set: command-line overrides of a graph file (`--set NODE.PARAM=VALUE`,
 * `--set KEY=VALUE` for graph-level keys), VALUE written as in the file. */
#ifndef PF_GRAPH_SET_H
#define PF_GRAPH_SET_H

#include "pf_diag.h"

#include <libconfig.h>

/* Apply each override to the parsed file; problems go to dg, naming the
 * override. Returns the number of bad overrides (0 = all applied). */
int pf_graph_apply_sets(config_t *cfg, const char *path, const char *const *set, int n, pf_diag *dg);

#endif
