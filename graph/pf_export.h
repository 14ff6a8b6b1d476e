/* pf_export: a graph as launch files for existing engines, one task or
 * service per node instance, from the same graph file (docs/deploy.md).
 *   Slurm:   a batch script; one heterogeneous-job component per graph host
 *            (one plain job without hosts), each running its instances with
 *            srun --multi-prog.
 *   systemd: a template unit per node (instance = replica index, restart on
 *            failure) and a target grouping the graph's instances. */
#ifndef PF_EXPORT_H
#define PF_EXPORT_H

#include "pf_graph.h"

#include <stdio.h>

typedef struct {
    const char *exe;    /* absolute path of physioflow */
    const char *graph;  /* absolute path of the graph file */
    const char *host;   /* systemd: only instances on this host (NULL: all) */
    const char *user;   /* systemd: User= (NULL: none) */
    const char *workdir;/* relative paths in the graph (sink files, data) are relative to it */
} pf_export_opts;

int pf_export_slurm(const pf_graph *g, const pf_export_opts *o, FILE *f);
/* Writes the units into dir; prints their names to f. */
int pf_export_systemd(const pf_graph *g, const pf_export_opts *o, const char *dir, FILE *f);

#endif
