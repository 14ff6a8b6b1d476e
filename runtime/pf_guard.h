/* pf_guard: checks of section *contents* against their window, done by the
 * runtime before a node's process() sees a message (the header and section
 * shapes are checked by pf_wire_validate). A window that fails is dropped and
 * counted per reason; the node carries on. */
#ifndef PF_GUARD_H
#define PF_GUARD_H

#include "pf_wire.h"

/* PF_OK, or PF_EFORMAT with the reason in pf_errmsg() and a short counter
 * name ("bad_beats", ...) in *reason. */
int pf_guard_window(const pf_msg *m, const char **reason);

#endif
