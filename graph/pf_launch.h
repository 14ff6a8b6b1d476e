/* pf_launch: start every node instance of a graph (optionally only those
 * placed on one host) as its own OS process, supervise them, show live
 * status, stop cleanly on Ctrl-C. */
#ifndef PF_LAUNCH_H
#define PF_LAUNCH_H

#include "pf_graph.h"

typedef struct {
    const char *host;  /* only nodes placed on this host; NULL = all */
    int quiet;         /* no live status line */
    const char *exe;   /* binary to exec for nodes (default /proc/self/exe) */
    const char *resume; /* checkpoint directory every node continues from (`run --resume`), or NULL */
} pf_launch_opts;

/* Returns the exit code for `physioflow run`: 0 ok, 1 a node failed,
 * 130 stopped by the user. */
int pf_launch(const pf_graph *g, const pf_launch_opts *opts);

#endif
