/* physioflow: the command-line front end.
 *   physioflow check FILE            validate a graph, print every mistake
 *   physioflow graph FILE [--dot]    print the topology
 *   physioflow run FILE [--host H] [--quiet]
 *   physioflow node FILE NAME [--replica I] [--ipc-dir D] [--status EP]
 *   physioflow kinds [KIND]          node kinds and their parameters
 */
#include "pf_error.h"
#include "pf_graph.h"
#include "pf_launch.h"
#include "pf_log.h"
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: physioflow COMMAND ...\n"
            "  check FILE                      validate a graph config; print each mistake with its line\n"
            "  graph FILE [--dot]              print the topology (Graphviz with --dot)\n"
            "  run FILE [--host NAME] [--quiet] start every node instance (or those on NAME) and supervise them\n"
            "  node FILE NAME [--replica I] [--ipc-dir DIR] [--status ENDPOINT]\n"
            "                                  run one node instance in this process\n"
            "  kinds [KIND]                    list node kinds, or describe one kind's ports and parameters\n"
            "  eval rpeaks --data DIR [--ann-out OUTDIR] [--ann-ext EXT] RECORD...\n"
            "                                  score the R-peak detector on annotated records (EC57)\n"
            "  eval delineation --data DIR [--ann-out OUTDIR] RECORD...\n"
            "                                  score the beat delineator on per-lead boundaries (LUDB)\n"
            "  features fit (GRAPH.cfg | WINDOWS.h5...) --out STATS.h5 [--pca K]\n"
            "                                  fit feature standardisation (and PCA) on a training set\n"
            "  monitor accuracy --data DIR [RECORD...] | monitor replay RECORD | monitor truth ...\n"
            "                                  score the bedside monitor's alarms (docs/nodes/monitor.md)\n");
}

int pf_cmd_eval(int argc, char **argv);
int pf_cmd_features(int argc, char **argv);
int pf_cmd_monitor(int argc, char **argv); /* cmd_monitor.c */

static pf_graph *load_or_report(const char *path)
{
    pf_diag d = {0};
    pf_graph *g = pf_graph_load(path, &d);
    if (!g) {
        pf_diag_print(&d, stderr);
        fprintf(stderr, "%s: %d error%s\n", path, d.n, d.n == 1 ? "" : "s");
    }
    pf_diag_free(&d);
    return g;
}

/* Feedback edges (gradients flowing back to earlier model stages) are part of
 * the config model so graphs can declare them, but the runtime does not yet
 * define how their end-of-stream interleaves with the data path: running one
 * would deadlock, so refuse it by name. */
static int refuse_feedback(const pf_graph *g)
{
    for (int j = 0; j < g->n_edges; j++)
        if (g->edges[j].feedback) {
            fprintf(stderr, "%s:%d: feedback edge %s.%s -> %s.%s: valid in the config model, but this runtime does not run "
                            "feedback edges yet (they arrive with the model stages)\n", g->path, g->edges[j].line,
                    g->nodes[g->edges[j].from].name, g->edges[j].from_port, g->nodes[g->edges[j].to].name, g->edges[j].to_port);
            return 1;
        }
    return 0;
}

static int cmd_node(int argc, char **argv)
{
    if (argc < 4) { usage(stderr); return 2; }
    const char *file = argv[2], *name = argv[3], *ipc = NULL, *status = NULL;
    int replica = 0;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--replica") && i + 1 < argc) {
            char *end;
            long r = strtol(argv[++i], &end, 10);
            if (*end || r < 0) { fprintf(stderr, "physioflow node: --replica '%s' is not a replica index\n", argv[i]); return 2; }
            replica = (int)r;
        } else if (!strcmp(argv[i], "--ipc-dir") && i + 1 < argc) ipc = argv[++i];
        else if (!strcmp(argv[i], "--status") && i + 1 < argc) status = argv[++i];
        else { fprintf(stderr, "physioflow node: unknown option '%s'\n", argv[i]); return 2; }
    }
    pf_graph *g = load_or_report(file);
    if (!g) return 2;
    if (refuse_feedback(g)) { pf_graph_destroy(g); return 2; }
    pf_instance inst;
    if (pf_graph_plan(g, name, replica, ipc, status, &inst)) {
        fprintf(stderr, "physioflow node: %s\n", pf_errmsg());
        pf_graph_destroy(g);
        return 2;
    }
    int rc = pf_node_run(&inst);
    pf_graph_plan_free(&inst);
    pf_graph_destroy(g);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) { usage(argc < 2 ? stderr : stdout); return argc < 2 ? 2 : 0; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "node")) return cmd_node(argc, argv);
    if (!strcmp(cmd, "eval")) return pf_cmd_eval(argc, argv);
    if (!strcmp(cmd, "features")) return pf_cmd_features(argc, argv);
    if (!strcmp(cmd, "monitor")) return pf_cmd_monitor(argc, argv);
    if (!strcmp(cmd, "kinds")) {
        for (int k = 0; pf_kinds[k]; k++) {
            if (argc > 2 && strcmp(argv[2], pf_kinds[k]->name)) continue;
            if (argc > 2) pf_kind_describe(pf_kinds[k], stdout);
            else printf("%-14s %s\n", pf_kinds[k]->name, pf_kinds[k]->doc);
        }
        if (argc > 2 && !pf_kind_find(argv[2])) { fprintf(stderr, "physioflow: no node kind '%s'\n", argv[2]); return 2; }
        return 0;
    }
    if (strcmp(cmd, "check") && strcmp(cmd, "graph") && strcmp(cmd, "run")) {
        fprintf(stderr, "physioflow: unknown command '%s'\n", cmd);
        usage(stderr);
        return 2;
    }
    if (argc < 3) { usage(stderr); return 2; }
    pf_graph *g = load_or_report(argv[2]);
    if (!g) return 2;
    int rc = 0;
    if (!strcmp(cmd, "check")) {
        int inst = 0;
        for (int i = 0; i < g->n_nodes; i++) inst += g->nodes[i].replicas;
        printf("%s: ok (%d nodes, %d edges, %d processes)\n", argv[2], g->n_nodes, g->n_edges, inst);
    } else if (!strcmp(cmd, "graph")) {
        int dot = argc > 3 && !strcmp(argv[3], "--dot");
        pf_graph_print(g, stdout, dot);
    } else if (refuse_feedback(g)) {
        rc = 2;
    } else {
        pf_launch_opts o = {0};
        for (int i = 3; i < argc; i++) {
            if (!strcmp(argv[i], "--host") && i + 1 < argc) o.host = argv[++i];
            else if (!strcmp(argv[i], "--quiet")) o.quiet = 1;
            else { fprintf(stderr, "physioflow run: unknown option '%s'\n", argv[i]); pf_graph_destroy(g); return 2; }
        }
        if (o.host) {
            int found = 0;
            for (int h = 0; h < g->n_hosts; h++) found |= !strcmp(g->hosts[h].name, o.host);
            if (!found) { fprintf(stderr, "physioflow run: host '%s' is not declared in %s\n", o.host, argv[2]); pf_graph_destroy(g); return 2; }
        }
        rc = pf_launch(g, &o);
    }
    pf_graph_destroy(g);
    return rc;
}
