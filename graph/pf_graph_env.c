/* Checks of a graph against the machine it will run on (graph/pf_graph.h,
 * pf_graph_check_env): Unix socket path lengths, and each node kind's own
 * check of its parameters (records, folders). */
#include "pf_graph.h"

#include "pf_error.h"

#include <stdio.h>
#include <string.h>
#include <sys/un.h>

/* Longest run folder suffix: "-" + a PID (Linux pid_max is at most 4194304). */
#define RUN_SUFFIX_MAX 8

static int on_this_host(const pf_graph *g, int node, const char *host)
{
    const char *h = pf_graph_node_host(g, node);
    return !*h || (host && !strcmp(h, host));
}

void pf_graph_check_env(const pf_graph *g, const char *host, pf_diag *dg)
{
    const size_t max = sizeof ((struct sockaddr_un *)0)->sun_path - 1;
    for (int i = 0; i < g->n_nodes; i++) {
        const pf_gnode *n = &g->nodes[i];
        if (!on_this_host(g, i, host)) continue;
        /* ipc://DIR-PID/NODE.REPLICA.PORT must fit a Unix socket address */
        for (const pf_port_spec *p = n->kind->ports; p && p->name; p++) {
            if (p->dir != PF_PORT_IN) continue;
            char rep[16];
            snprintf(rep, sizeof rep, "%d", n->replicas - 1);
            size_t len = strlen(g->ipc_dir) + RUN_SUFFIX_MAX + 1 + strlen(n->name) + 1 + strlen(rep) + 1 + strlen(p->name);
            if (len > max)
                pf_diag_add(dg, "%s:%d: node '%s': its socket path %s-PID/%s.%s.%s can reach %zu bytes, more than the %zu a Unix "
                            "socket allows; shorten the graph or node name, or set a shorter ipc_dir", g->path, n->line, n->name,
                            g->ipc_dir, n->name, rep, p->name, len, max);
        }
        if (n->kind->check && n->kind->check(n->params))
            pf_diag_add(dg, "%s:%d: node '%s': %s", g->path, n->line, n->name, pf_errmsg());
    }
    size_t st = strlen(g->ipc_dir) + RUN_SUFFIX_MAX + strlen("/status");
    if (st > max)
        pf_diag_add(dg, "%s:1: the launcher's status socket %s-PID/status can reach %zu bytes, more than the %zu a Unix socket allows; "
                    "set a shorter ipc_dir", g->path, g->ipc_dir, st, max);
}
