/* pf_reliable: which nodes and edges use acknowledged delivery
 * (runtime/pf_deliver.h, docs/protocol.md "Acknowledged delivery"). */
#include "pf_graph.h"

#include <string.h>

int pf_graph_protected(const pf_graph *g, int node)
{
    const pf_gnode *n = &g->nodes[node];
    return n->kind && n->kind->per_window && (n->replicas > 1 || n->restart > 0);
}

static int edge_wants_acks(const pf_graph *g, const pf_gedge *e)
{
    return !e->feedback && e->policy == PF_POLICY_BLOCK && (pf_graph_protected(g, e->from) || pf_graph_protected(g, e->to));
}

static int port_acked(const pf_graph *g, int to, const char *port)
{
    for (int j = 0; j < g->n_edges; j++) {
        const pf_gedge *f = &g->edges[j];
        if (f->to == to && !strcmp(f->to_port, port) && edge_wants_acks(g, f)) return 1;
    }
    return 0;
}

/* One input port is acked or not as a whole: every sender into it stamps its windows. */
int pf_graph_edge_acked(const pf_graph *g, int edge)
{
    const pf_gedge *e = &g->edges[edge];
    return !e->feedback && e->policy == PF_POLICY_BLOCK && port_acked(g, e->to, e->to_port);
}

void pf_graph_check_reliable(const pf_graph *g, pf_diag *dg)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const pf_gnode *n = &g->nodes[i];
        if (n->kind && n->restart > 0 && !n->kind->per_window)
            pf_diag_add(dg, "%s:%d: node '%s': restart needs a kind whose windows can be redelivered to a new instance "
                        "(per-window kinds: shuffle, passthrough); %s keeps state across windows", g->path,
                        n->restart_line, n->name, n->kind->name);
    }
    /* a drop edge into an acked port would send windows without delivery numbers */
    for (int j = 0; j < g->n_edges; j++) {
        const pf_gedge *e = &g->edges[j];
        if (e->feedback || e->policy == PF_POLICY_BLOCK || !port_acked(g, e->to, e->to_port)) continue;
        pf_diag_add(dg, "%s:%d: edge into %s.%s: policy \"drop\" on a port whose other edges are acknowledged "
                    "(replicated per-window node); use one policy per port", g->path, e->line, g->nodes[e->to].name, e->to_port);
    }
}
