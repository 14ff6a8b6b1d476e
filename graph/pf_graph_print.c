/* pf_graph_print: a graph's topology as text or Graphviz dot, and a node
 * kind's schema (ports, parameters with type, default, range). */
#include "pf_graph.h"
#include "pf_graph_security.h"

#include <stdio.h>
#include <string.h>

/* --- printing --------------------------------------------------------------- */

void pf_graph_print(const pf_graph *g, FILE *f, int dot)
{
    if (dot) {
        fprintf(f, "digraph \"%s\" {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n", g->name);
        for (int i = 0; i < g->n_nodes; i++) {
            const pf_gnode *n = &g->nodes[i];
            fprintf(f, "  \"%s\" [label=\"%s\\n(%s)%s%s%s\"];\n", n->name, n->name, n->kind_name,
                    n->replicas > 1 ? "\\nx" : "", n->replicas > 1 ? "" : "", "");
            if (n->replicas > 1) fprintf(f, "  \"%s\" [xlabel=\"x%d\", peripheries=2];\n", n->name, n->replicas);
        }
        for (int j = 0; j < g->n_edges; j++) {
            const pf_gedge *e = &g->edges[j];
            fprintf(f, "  \"%s\" -> \"%s\" [label=\"%s -> %s%s\"%s];\n", g->nodes[e->from].name, g->nodes[e->to].name,
                    e->from_port, e->to_port, e->policy == PF_POLICY_DROP ? " (drop)" : "", e->feedback ? ", style=dashed" : "");
        }
        fprintf(f, "}\n");
        return;
    }
    fprintf(f, "graph %s (%s): %d nodes, %d edges, seed %llu\n", g->name, g->path, g->n_nodes, g->n_edges, (unsigned long long)g->seed);
    for (int i = 0; i < g->n_nodes; i++) {
        const pf_gnode *n = &g->nodes[i];
        const char *h = pf_graph_node_host(g, i);
        fprintf(f, "  %-16s %-12s x%d%s%s\n", n->name, n->kind_name, n->replicas, *h ? "  on " : "", h);
    }
    for (int j = 0; j < g->n_edges; j++) {
        const pf_gedge *e = &g->edges[j];
        const char *hf = pf_graph_node_host(g, e->from), *ht = pf_graph_node_host(g, e->to);
        fprintf(f, "  %s.%s -> %s.%s  [%s, hwm %d, %s%s]\n", g->nodes[e->from].name, e->from_port, g->nodes[e->to].name, e->to_port,
                e->policy == PF_POLICY_DROP ? "drop" : "block", e->hwm, pf_gsec_edge_hosts(g, e->from, e->to, &hf, &ht) ? "tcp" : "ipc", e->feedback ? ", feedback" : "");
    }
}

void pf_kind_describe(const pf_kind *k, FILE *f)
{
    fprintf(f, "%s: %s\n", k->name, k->doc ? k->doc : "");
    for (const pf_port_spec *p = k->ports; p && p->name; p++)
        fprintf(f, "  %s port %-10s %s%s  %s\n", p->dir == PF_PORT_IN ? "in " : "out", p->name,
                p->msg == PF_MSG_WINDOW ? "windows" : "tensors", p->optional ? " (optional)" : "", p->doc ? p->doc : "");
    for (const pf_param_spec *s = k->params; s && s->name; s++) {
        fprintf(f, "  %-16s %-16s", s->name, pf_param_type_name(s->type));
        if (s->def) fprintf(f, " default %s", *s->def ? s->def : "\"\"");
        else fprintf(f, " required");
        if (pf_param_has_range(s)) fprintf(f, ", range [%.12g, %.12g]", s->min, s->max);
        if (s->choices) fprintf(f, ", one of %s", s->choices);
        fprintf(f, "\n      %s\n", s->doc ? s->doc : "");
    }
}
