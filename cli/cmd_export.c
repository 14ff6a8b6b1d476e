/* physioflow export slurm GRAPH [-o FILE]
 * physioflow export systemd GRAPH [--host H] [--user U] [-o DIR]
 * Launch files for Slurm and systemd from a graph file (docs/deploy.md). */
#include "pf_cli.h"
#include "pf_error.h"
#include "pf_export.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int pf_cmd_export(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[2], "slurm") && strcmp(argv[2], "systemd"))) {
        fprintf(stderr, "usage: physioflow export slurm GRAPH [-o SCRIPT]\n"
                        "       physioflow export systemd GRAPH [--host NAME] [--user USER] [-o DIR]\n");
        return 2;
    }
    int slurm = !strcmp(argv[2], "slurm");
    const char *out = NULL;
    pf_export_opts o = {0};
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
        else if (!slurm && !strcmp(argv[i], "--host") && i + 1 < argc) o.host = argv[++i];
        else if (!slurm && !strcmp(argv[i], "--user") && i + 1 < argc) o.user = argv[++i];
        else { fprintf(stderr, "physioflow export: unknown option '%s'\n", argv[i]); return 2; }
    }
    pf_graph *g = pf_cli_load(argv[3], NULL, 0);
    if (!g) return 2;
    /* units and scripts run elsewhere: absolute paths */
    char exe[PATH_MAX], graph[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    if (!realpath(argv[3], graph)) snprintf(graph, sizeof graph, "%s", argv[3]);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, "/");
    o.exe = exe;
    o.graph = graph;
    o.workdir = cwd;
    int found = !o.host;
    for (int h = 0; o.host && h < g->n_hosts; h++) found |= !strcmp(g->hosts[h].name, o.host);
    int rc;
    if (!found) rc = pf_err(PF_ENOTFOUND, "host '%s' is not declared in %s", o.host, argv[3]);
    else if (slurm) {
        FILE *f = out ? fopen(out, "w") : stdout;
        rc = f ? pf_export_slurm(g, &o, f) : pf_err(PF_EIO, "cannot write %s", out);
        if (f && out) fclose(f);
    } else {
        rc = pf_export_systemd(g, &o, out ? out : ".", stdout);
    }
    if (rc) fprintf(stderr, "physioflow export: %s\n", pf_errmsg());
    pf_graph_destroy(g);
    return rc ? 1 : 0;
}
