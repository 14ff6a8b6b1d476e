/* pf_graph_check: structural validation of a loaded graph: every required
 * port connected, runtime limits, no cycle through data edges. */
#include "pf_graph.h"

#include <stdlib.h>
#include <string.h>

/* Depth-first search for a cycle through data (non-feedback) edges. */
static int dfs_cycle(const pf_graph *g, int v, int *color, int *stack, int *depth, int *closing)
{
    color[v] = 1;
    stack[(*depth)++] = v;
    for (int i = 0; i < g->n_edges; i++) {
        const pf_gedge *e = &g->edges[i];
        if (e->feedback || e->from != v) continue;
        if (color[e->to] == 1) { stack[(*depth)++] = e->to; *closing = i; return 1; }
        if (color[e->to] == 0 && dfs_cycle(g, e->to, color, stack, depth, closing)) return 1;
    }
    color[v] = 2;
    (*depth)--;
    return 0;
}

void pf_graph_check(const pf_graph *g, pf_diag *dg)
{
    const char *file = g->path;
    /* every non-optional port connected; limits the runtime has */
    for (int i = 0; i < g->n_nodes; i++) {
        const pf_gnode *n = &g->nodes[i];
        if (!n->kind) continue;
        int n_in = 0, n_out = 0;
        for (const pf_port_spec *p = n->kind->ports; p && p->name; p++) {
            int used = 0;
            for (int j = 0; j < g->n_edges; j++) {
                const pf_gedge *e = &g->edges[j];
                if (p->dir == PF_PORT_IN && e->to == i && !strcmp(e->to_port, p->name)) used++;
                if (p->dir == PF_PORT_OUT && e->from == i && !strcmp(e->from_port, p->name)) used++;
            }
            if (!used && !p->optional)
                pf_diag_add(dg, "%s:%d: node '%s': %s port '%s' is not connected", file, n->line, n->name, p->dir == PF_PORT_IN ? "input" : "output", p->name);
            if (p->dir == PF_PORT_IN && used) n_in++;
            if (p->dir == PF_PORT_OUT) n_out += used;
        }
        if (n_in > PF_MAX_PORTS || n_out > PF_MAX_EDGES)
            pf_diag_add(dg, "%s:%d: node '%s': too many connections (%d inputs, %d output edges; limits %d, %d)", file, n->line, n->name, n_in, n_out, PF_MAX_PORTS, PF_MAX_EDGES);
    }
    pf_graph_check_reliable(g, dg);
    /* a port takes either data or feedback (gradient) edges: their ends differ */
    for (int j = 0; j < g->n_edges; j++)
        for (int k = 0; k < j; k++) {
            const pf_gedge *a = &g->edges[j], *b = &g->edges[k];
            if (a->to == b->to && !strcmp(a->to_port, b->to_port) && a->feedback != b->feedback)
                pf_diag_add(dg, "%s:%d: port %s.%s mixes feedback and data edges (see line %d)", file, a->line,
                            g->nodes[a->to].name, a->to_port, b->line);
        }
    int *color = calloc((size_t)g->n_nodes + 1, sizeof(int)), *stack = calloc((size_t)g->n_nodes + 2, sizeof(int));
    for (int v = 0; color && stack && v < g->n_nodes; v++) {
        int depth = 0, closing = -1;
        if (color[v] || !dfs_cycle(g, v, color, stack, &depth, &closing)) continue;
        int last = stack[depth - 1], start = 0;
        while (stack[start] != last) start++;
        char path[1024] = "";
        for (int k = start; k < depth; k++) {
            strncat(path, k > start ? " -> " : "", sizeof path - strlen(path) - 1);
            strncat(path, g->nodes[stack[k]].name, sizeof path - strlen(path) - 1);
        }
        pf_diag_add(dg, "%s:%d: edge closes a cycle in the data path: %s (mark a gradient edge 'feedback = true' if it is one)",
                    file, g->edges[closing].line, path);
        break;
    }
    free(color);
    free(stack);
}

