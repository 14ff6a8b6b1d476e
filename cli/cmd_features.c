/* physioflow features fit: per-dimension mean/std and an optional PCA basis
 * of the physiological feature vectors of a training set, saved in HDF5 for
 * the trainer. The input is either window files written by the sink (with a
 * /features dataset), or a graph config, which is run first and whose sinks'
 * outputs are then fitted: the training set streams through the pipeline. */
#include "pf_cli.h"
#include "pf_error.h"
#include "pf_featstats.h"
#include "pf_graph.h"
#include "pf_h5win_read.h"
#include "pf_launch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: physioflow features fit (GRAPH.cfg [--set NODE.PARAM=VALUE]... | WINDOWS.h5...) --out STATS.h5 [--pca K]\n"
                    "  GRAPH.cfg is run first; the files its sink nodes write are then fitted.\n");
    return 2;
}

/* Append /features of one window file to *x (n x dim). */
static int read_features(const char *path, float **x, uint64_t *n, int *dim)
{
    pf_h5win_read *r = pf_h5win_read_open(path, 0);
    if (!r) return PF_EIO;
    const float *f = NULL;
    size_t rows = 0;
    int d = 0, rc = pf_h5win_read_features(r, &f, &rows, &d);
    if (!rc && *dim && d != *dim) rc = pf_err(PF_EFORMAT, "%s: /features is not [N, %d]", path, *dim);
    float *nx = rc ? NULL : realloc(*x, sizeof(float) * (size_t)(*n + rows) * (size_t)d);
    if (!rc && !nx && rows) rc = pf_err(PF_ENOMEM, "%s: out of memory", path);
    if (!rc && rows) {
        *x = nx;
        memcpy(*x + *n * (uint64_t)d, f, sizeof(float) * rows * (size_t)d);
    }
    if (!rc) { *n += rows; *dim = d; }
    pf_h5win_read_close(&r);
    return rc;
}

int pf_cmd_features(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[2], "fit")) return usage();
    const char *out = NULL, *inputs[256], *sets[64];
    int ni = 0, k = 0, ns = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--set") && i + 1 < argc && ns < 64) sets[ns++] = argv[++i];
        else if (!strcmp(argv[i], "--pca") && i + 1 < argc) k = atoi(argv[++i]);
        else if (argv[i][0] == '-') { fprintf(stderr, "physioflow features: unknown option '%s'\n", argv[i]); return usage(); }
        else if (ni < 256) inputs[ni++] = argv[i];
    }
    if (!out || !ni || k < 0) return usage();
    /* a graph: run it, then fit what its sinks wrote */
    char *owned[256];
    int n_owned = 0;
    if (ni == 1 && strlen(inputs[0]) > 4 && !strcmp(inputs[0] + strlen(inputs[0]) - 4, ".cfg")) {
        pf_graph *g = pf_cli_load(inputs[0], sets, ns);
        if (!g) return 2;
        pf_launch_opts o = {.quiet = 1};
        fprintf(stderr, "physioflow features: running %s to stream the training set\n", inputs[0]);
        int rc = pf_launch(g, &o);
        if (rc) { pf_graph_destroy(g); fprintf(stderr, "physioflow features: the graph did not complete (exit %d)\n", rc); return 1; }
        ni = 0;
        for (int i = 0; i < g->n_nodes && ni < 256; i++) {
            if (strcmp(g->nodes[i].kind_name, "sink")) continue;
            int nf = 0;
            char **files = pf_h5win_read_files(pf_params_string(g->nodes[i].params, "path"), g->nodes[i].replicas, &nf);
            if (!files) { fprintf(stderr, "physioflow features: %s\n", pf_errmsg()); pf_graph_destroy(g); return 2; }
            for (int r = 0; files && r < nf && ni < 256; r++) {
                owned[n_owned] = files[r];
                inputs[ni++] = owned[n_owned++];
                files[r] = NULL; /* now owned here */
            }
            pf_h5win_read_free_files(files, nf);
        }
        pf_graph_destroy(g);
        if (!ni) { fprintf(stderr, "physioflow features: the graph has no sink node to read features from\n"); return 2; }
    }
    float *x = NULL;
    uint64_t n = 0;
    int dim = 0, rc = PF_OK;
    for (int i = 0; i < ni && !rc; i++) rc = read_features(inputs[i], &x, &n, &dim);
    /* windows marked without features (NaN: fewer than two beats, or not computable) are left out */
    uint64_t kept_n = 0;
    for (uint64_t i = 0; !rc && i < n; i++) {
        int ok = 1;
        for (int d = 0; d < dim && ok; d++) ok = isfinite(x[i * dim + d]);
        if (ok) memmove(x + kept_n++ * dim, x + i * dim, sizeof(float) * dim);
    }
    if (!rc && kept_n < n) printf("left out %llu of %llu windows marked without features\n", (unsigned long long)(n - kept_n), (unsigned long long)n);
    n = kept_n;
    pf_featstats *s = rc ? NULL : pf_featstats_fit(x, n, dim, k);
    if (!rc && !s) rc = PF_EINVAL;
    char prov[1024];
    int len = snprintf(prov, sizeof prov, "physioflow features fit on %llu vectors from", (unsigned long long)n);
    for (int i = 0; i < ni && len < (int)sizeof prov - 2; i++) len += snprintf(prov + len, sizeof prov - (size_t)len, " %s", inputs[i]);
    if (!rc) rc = pf_featstats_save(s, out, prov);
    if (rc) fprintf(stderr, "physioflow features: %s\n", pf_errmsg());
    else {
        double kept = 0;
        for (int c = 0; c < s->k; c++) kept += s->variance[c];
        printf("fitted %llu feature vectors of %d values%s", (unsigned long long)n, dim, k ? "" : "\n");
        if (k) printf(", PCA: %d components, variance %.2f of the standardised total\n", k, kept);
        printf("wrote %s\n", out);
    }
    pf_featstats_destroy(s);
    free(x);
    for (int i = 0; i < n_owned; i++) free(owned[i]);
    return rc ? 1 : 0;
}
