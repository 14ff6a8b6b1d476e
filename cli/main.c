/* physioflow: the command-line front end.
 *   physioflow check FILE [--set NODE.PARAM=VALUE]...   validate a graph, print every mistake
 *   physioflow graph FILE [--dot] [--set ...]           print the topology
 *   physioflow run FILE [--host H] [--quiet] [--set ...]
 *   physioflow node FILE NAME [--replica I] [--ipc-dir D] [--status EP] [--set ...]
 *   physioflow kinds [KIND]          node kinds and their parameters
 */
#include "pf_error.h"
#include "pf_graph.h"
#include "pf_launch.h"
#include "pf_cli.h"
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
            "  run FILE [--host NAME] [--quiet] [--resume]\n"
            "                                  start every node instance (or those on NAME) and supervise them;\n"
            "                                  --resume: continue from the latest checkpoint in the trainer's checkpoint_dir\n"
            "  node FILE NAME [--replica I] [--ipc-dir DIR] [--status ENDPOINT]\n"
            "                                  run one node instance in this process\n"
            "     check, graph, run and node take --set NODE.PARAM=VALUE (or KEY=VALUE for graph-level keys),\n"
            "     VALUE written as in the file: --set reader.records='[\"100\",\"105\"]' --set trainer.steps=20\n"
            "  kinds [KIND]                    list node kinds, or describe one kind's ports and parameters\n"
            "  eval rpeaks --data DIR [--ann-out OUTDIR] [--ann-ext EXT] RECORD...\n"
            "                                  score the R-peak detector on annotated records (EC57)\n"
            "  eval delineation --data DIR [--ann-out OUTDIR] RECORD...\n"
            "                                  score the beat delineator on per-lead boundaries (LUDB)\n"
            "  features fit (GRAPH.cfg [--set ..] | WINDOWS.h5...) --out STATS.h5 [--pca K]\n"
            "                                  fit feature standardisation (and PCA) on a training set\n"
            "  keygen CERT...                  CURVE key pairs for encrypted tcp edges (CERT, CERT_secret)\n"
            "  plot METRICS.csv [--out PNG]    a trainer's curves per term (training and validation) as a PNG\n"
            "  export slurm|systemd GRAPH ...  launch files for Slurm (batch script) or systemd (units); docs/deploy.md\n"
            "  monitor accuracy --data DIR [RECORD...] | monitor replay RECORD | monitor truth ...\n"
            "                                  score the bedside monitor's alarms (docs/nodes/monitor.md)\n"
            "  embed [--checkpoint DIR] --data DIR [--beats] [--features encoder|handcrafted] --out FILE.h5 RECORD...\n"
            "                                  one vector per window or beat (AAMI labels) from the encoder or features\n"
            "  probe TRAIN.h5 TEST.h5 [--head linear|mlp] [--json OUT]\n"
            "                                  fit a probe on one embedding file, score it on another\n");
}

pf_graph *pf_cli_load(const char *path, const char *const *set, int n_set)
{
    pf_diag d = {0};
    pf_graph_opts o = {.kinds = pf_kinds, .set = set, .n_set = n_set};
    pf_graph *g = pf_graph_load(path, &o, &d);
    if (!g) {
        pf_diag_print(&d, stderr);
        fprintf(stderr, "%s: %d error%s\n", path, d.n, d.n == 1 ? "" : "s");
    }
    pf_diag_free(&d);
    return g;
}

/* `run --resume`: the checkpoint directory a node of the graph declares
 * (the trainer's `checkpoint_dir`), which every node continues from. */
static const char *resume_dir(const pf_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; g->nodes[i].params && k < g->nodes[i].params->n; k++) {
            const pf_param_value *v = &g->nodes[i].params->v[k];
            if (!strcmp(v->name, "checkpoint_dir") && v->type == PF_P_STRING && v->s && *v->s) return v->s;
        }
    return NULL;
}

/* Take every "--set X" (or "--set=X") out of argv; returns the new argc. */
static int take_sets(int argc, char **argv, const char **set, int *n_set)
{
    int w = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--set") && i + 1 < argc) set[(*n_set)++] = argv[++i];
        else if (!strncmp(argv[i], "--set=", 6)) set[(*n_set)++] = argv[i] + 6;
        else argv[w++] = argv[i];
    }
    argv[w] = NULL;
    return w;
}

static int cmd_node(int argc, char **argv, const char *const *set, int n_set)
{
    if (argc < 4) { usage(stderr); return 2; }
    const char *file = argv[2], *name = argv[3], *ipc = NULL, *status = NULL, *resume = NULL;
    int replica = 0;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--replica") && i + 1 < argc) {
            char *end;
            long r = strtol(argv[++i], &end, 10);
            if (*end || r < 0) { fprintf(stderr, "physioflow node: --replica '%s' is not a replica index\n", argv[i]); return 2; }
            replica = (int)r;
        } else if (!strcmp(argv[i], "--ipc-dir") && i + 1 < argc) ipc = argv[++i];
        else if (!strcmp(argv[i], "--status") && i + 1 < argc) status = argv[++i];
        else if (!strcmp(argv[i], "--resume") && i + 1 < argc) resume = argv[++i];
        else { fprintf(stderr, "physioflow node: unknown option '%s'\n", argv[i]); return 2; }
    }
    pf_graph *g = pf_cli_load(file, set, n_set);
    if (!g) return 2;
    pf_instance inst;
    if (pf_graph_plan(g, name, replica, ipc, status, &inst)) {
        fprintf(stderr, "physioflow node: %s\n", pf_errmsg());
        pf_graph_destroy(g);
        return 2;
    }
    inst.resume_dir = resume;
    int rc = pf_node_run(&inst);
    pf_graph_plan_free(&inst);
    pf_graph_destroy(g);
    return rc;
}

static int dispatch(int argc, char **argv, const char *const *set, int n_set);

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) { usage(argc < 2 ? stderr : stdout); return argc < 2 ? 2 : 0; }
    const char *cmd = argv[1];
    const char **set = calloc((size_t)argc + 1, sizeof *set);
    int n_set = 0;
    if (!set) return 2;
    if (!strcmp(cmd, "node") || !strcmp(cmd, "check") || !strcmp(cmd, "graph") || !strcmp(cmd, "run"))
        argc = take_sets(argc, argv, set, &n_set);
    int rc = dispatch(argc, argv, set, n_set);
    free(set);
    return rc;
}

static int dispatch(int argc, char **argv, const char *const *set, int n_set)
{
    const char *cmd = argv[1];
    if (!strcmp(cmd, "node")) return cmd_node(argc, argv, set, n_set);
    if (!strcmp(cmd, "eval")) return pf_cmd_eval(argc, argv);
    if (!strcmp(cmd, "features")) return pf_cmd_features(argc, argv);
    if (!strcmp(cmd, "keygen")) return pf_cmd_keygen(argc, argv);
    if (!strcmp(cmd, "plot")) return pf_cmd_plot(argc, argv);
    if (!strcmp(cmd, "export")) return pf_cmd_export(argc, argv);
    if (!strcmp(cmd, "monitor")) return pf_cmd_monitor(argc, argv);
    if (!strcmp(cmd, "embed")) return pf_cmd_embed(argc, argv);
    if (!strcmp(cmd, "probe")) return pf_cmd_probe(argc, argv);
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
    pf_graph *g = pf_cli_load(argv[2], set, n_set);
    if (!g) return 2;
    int rc = 0;
    if (strcmp(cmd, "graph")) {
        /* what only this machine can tell: files, folders, socket path lengths */
        const char *host = NULL;
        for (int i = 3; i + 1 < argc; i++)
            if (!strcmp(argv[i], "--host")) host = argv[i + 1];
        pf_diag d = {0};
        pf_graph_check_env(g, host, &d);
        if (d.n) {
            pf_diag_print(&d, stderr);
            fprintf(stderr, "%s: %d error%s\n", argv[2], d.n, d.n == 1 ? "" : "s");
            pf_diag_free(&d);
            pf_graph_destroy(g);
            return 2;
        }
        pf_diag_free(&d);
    }
    if (!strcmp(cmd, "check")) {
        int inst = 0;
        for (int i = 0; i < g->n_nodes; i++) inst += g->nodes[i].replicas;
        printf("%s: ok (%d nodes, %d edges, %d processes)\n", argv[2], g->n_nodes, g->n_edges, inst);
    } else if (!strcmp(cmd, "graph")) {
        int dot = argc > 3 && !strcmp(argv[3], "--dot");
        pf_graph_print(g, stdout, dot);
    } else {
        pf_launch_opts o = {0};
        for (int i = 3; i < argc; i++) {
            if (!strcmp(argv[i], "--host") && i + 1 < argc) o.host = argv[++i];
            else if (!strcmp(argv[i], "--quiet")) o.quiet = 1;
            else if (!strcmp(argv[i], "--resume")) {
                o.resume = resume_dir(g);
                if (!o.resume) { fprintf(stderr, "physioflow run: --resume, but no node of %s has a checkpoint_dir\n", argv[2]); pf_graph_destroy(g); return 2; }
            }
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
