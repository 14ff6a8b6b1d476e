#include "pf_export.h"

#include "pf_error.h"
#include "pf_graph_security.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static int count_on(const pf_graph *g, const char *host)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int r = 0; r < g->nodes[i].replicas; r++) n += !host || !strcmp(pf_graph_instance_host(g, i, r), host);
    return n;
}

/* One srun --multi-prog configuration: task k runs instance k of `host`. */
static void multiprog(const pf_graph *g, const pf_export_opts *o, const char *host, int comp, FILE *f)
{
    fprintf(f, "cat > \"$conf.%d\" <<EOF\n", comp);
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int r = 0; r < g->nodes[i].replicas; r++) {
            if (host && strcmp(pf_graph_instance_host(g, i, r), host)) continue;
            /* multi-prog lines are split on blanks, not by a shell: the paths must have none (checked below) */
            fprintf(f, "%d %s node %s %s --replica %d --ipc-dir $ipc\n", k++, o->exe, o->graph, g->nodes[i].name, r);
        }
    fprintf(f, "EOF\n");
}

int pf_export_slurm(const pf_graph *g, const pf_export_opts *o, FILE *f)
{
    if (strpbrk(o->exe, " \t'\"$") || strpbrk(o->graph, " \t'\"$") || strpbrk(o->workdir, " \t'\"$"))
        return pf_err(PF_EINVAL, "srun --multi-prog cannot run paths with blanks or quotes: %s, %s", o->exe, o->graph);
    int het = g->n_hosts > 0 && pf_gsec_has_tcp(g);
    fprintf(f, "#!/bin/bash\n# Slurm batch script for graph %s, written by `physioflow export slurm %s`.\n", g->name, g->path);
    fprintf(f, "# One task per node instance; submit with: sbatch THIS_FILE\n");
    if (!het) {
        fprintf(f, "#SBATCH --job-name=pf-%s\n#SBATCH --nodes=1\n#SBATCH --ntasks=%d\n", g->name, count_on(g, NULL));
    } else {
        /* one component per host: the host's instances share its node (ipc between them) */
        fprintf(f, "# Heterogeneous job: component i runs the instances of graph host i on one node; the graph's\n"
                   "# host addresses must be those nodes (see docs/deploy.md).\n");
        int c = 0;
        for (int h = 0; h < g->n_hosts; h++) {
            int n = count_on(g, g->hosts[h].name);
            if (!n) continue;
            if (c++) fprintf(f, "#SBATCH hetjob\n");
            fprintf(f, "#SBATCH --job-name=pf-%s --nodes=1 --ntasks=%d   # host %s (%s)\n", g->name, n, g->hosts[h].name, g->hosts[h].addr);
        }
    }
    fprintf(f, "set -eu\ncd %s\n", o->workdir);
    fprintf(f, "# every instance of one host shares a private socket folder\n");
    fprintf(f, "ipc=/tmp/physioflow-$(id -u)/%s-slurm-${SLURM_JOB_ID:-$$}\n", g->name);
    fprintf(f, "conf=$(mktemp)\ntrap 'rm -f \"$conf\".*' EXIT\n");
    if (!het) {
        multiprog(g, o, NULL, 0, f);
        fprintf(f, "srun --kill-on-bad-exit=1 --ntasks=%d --multi-prog \"$conf.0\"\n", count_on(g, NULL));
    } else {
        int c = 0;
        for (int h = 0; h < g->n_hosts; h++) {
            if (!count_on(g, g->hosts[h].name)) continue;
            multiprog(g, o, g->hosts[h].name, c, f);
            fprintf(f, "srun --het-group=%d --kill-on-bad-exit=1 --multi-prog \"$conf.%d\" &\n", c, c);
            c++;
        }
        fprintf(f, "status=0\nfor job in $(jobs -p); do wait \"$job\" || status=1; done\nexit $status\n");
    }
    return PF_OK;
}

int pf_export_systemd(const pf_graph *g, const pf_export_opts *o, const char *dir, FILE *f)
{
    mkdir(dir, 0755);
    char path[1024], target[256];
    snprintf(target, sizeof target, "physioflow-%s.target", g->name);
    for (int i = 0; i < g->n_nodes; i++) {
        if (!count_on(g, NULL)) continue;
        int here = 0;
        for (int r = 0; r < g->nodes[i].replicas; r++) here += !o->host || !strcmp(pf_graph_instance_host(g, i, r), o->host);
        if (!here) continue;
        snprintf(path, sizeof path, "%s/physioflow-%s-%s@.service", dir, g->name, g->nodes[i].name);
        FILE *u = fopen(path, "w");
        if (!u) return pf_err(PF_EIO, "cannot write %s: %s", path, strerror(errno));
        fprintf(u, "# written by `physioflow export systemd %s`: node '%s' (kind %s); instance = replica index\n",
                g->path, g->nodes[i].name, g->nodes[i].kind_name);
        fprintf(u, "[Unit]\nDescription=physioflow graph %s: node %s, replica %%i\n", g->name, g->nodes[i].name);
        fprintf(u, "PartOf=%s\nAfter=network-online.target\nWants=network-online.target\n", target);
        /* a replica that keeps failing is a bug or bad data: stop retrying after 5 in a minute */
        fprintf(u, "StartLimitIntervalSec=60\nStartLimitBurst=5\n\n");
        fprintf(u, "[Service]\nType=exec\nWorkingDirectory=%s\n", o->workdir);
        if (o->user) fprintf(u, "User=%s\n", o->user);
        fprintf(u, "ExecStart=\"%s\" node \"%s\" %s --replica %%i\n", o->exe, o->graph, g->nodes[i].name);
        fprintf(u, "Restart=on-failure\nRestartSec=2\n");
        /* SIGTERM is the node's drain request; give it drain_timeout plus a margin */
        fprintf(u, "KillSignal=SIGTERM\nTimeoutStopSec=%d\n", (int)g->drain_timeout + 10);
        fprintf(u, "\n[Install]\nWantedBy=%s\n", target);
        fclose(u);
        fprintf(f, "%s\n", path);
    }
    snprintf(path, sizeof path, "%s/%s", dir, target);
    FILE *t = fopen(path, "w");
    if (!t) return pf_err(PF_EIO, "cannot write %s: %s", path, strerror(errno));
    fprintf(t, "# written by `physioflow export systemd %s`%s%s\n[Unit]\nDescription=physioflow graph %s\n", g->path,
            o->host ? ": instances on host " : "", o->host ? o->host : "", g->name);
    fprintf(t, "Wants=");
    for (int i = 0; i < g->n_nodes; i++)
        for (int r = 0; r < g->nodes[i].replicas; r++)
            if (!o->host || !strcmp(pf_graph_instance_host(g, i, r), o->host))
                fprintf(t, " physioflow-%s-%s@%d.service", g->name, g->nodes[i].name, r);
    fprintf(t, "\n\n[Install]\nWantedBy=multi-user.target\n");
    fclose(t);
    fprintf(f, "%s\n", path);
    return PF_OK;
}
