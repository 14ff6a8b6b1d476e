/* physioflow eval rpeaks|delineation: score the detector / delineator on
 * annotated records (ANSI/AAMI EC57 for R-peaks; LUDB boundaries for
 * delineation), print the per-record table and the gross figures, and
 * optionally write the results as WFDB annotation files. */
#include "pf_cli.h"
#include "pf_error.h"
#include "pf_eval_run.h"
#include "pf_graph.h"
#include "pf_h5win_read.h"
#include "pf_launch.h"
#include "pf_record.h"

#include <math.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <errno.h>

static int usage(void)
{
    fprintf(stderr,
            "usage: physioflow eval rpeaks --data DIR [--ann-out OUTDIR] [--ann-ext EXT] [--lead I] [--chunk S] [--pipeline] RECORD...\n"
            "  --pipeline: run reader -> rpeak -> sink as node processes and score what the sink wrote\n"
            "       physioflow eval delineation --data DIR [--ann-out OUTDIR] [--per-lead]\n"
            "                                     [--errors CSV] RECORD...\n"
            "  RECORD is a record name inside DIR (e.g. 100 for DIR/100.hea).\n");
    return 2;
}

/* --pipeline: detections per record, read back from the sink's file */
typedef struct {
    size_t n;
    long **det;
    size_t *nd;
} piped_t;

static int piped_cb(void *ctx, size_t i, struct pf_record *r, long **det, size_t *nd)
{
    piped_t *p = ctx;
    (void)r;
    *nd = p->nd[i];
    *det = malloc(sizeof(long) * (p->nd[i] + 1));
    if (!*det) return pf_err(PF_ENOMEM, "eval: out of memory");
    if (p->nd[i]) memcpy(*det, p->det[i], sizeof(long) * p->nd[i]);
    return PF_OK;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Run reader -> rpeak -> sink over the records as separate processes, then
 * collect each record's detections (absolute sample indices) from the file. */
static int run_pipeline(const pf_eval_run_opts *o, const char **recs, size_t n, piped_t *p)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", o->data_dir, recs[0]);
    pf_record *r0 = pf_record_open(path, NULL);
    if (!r0) return pf_err_context(PF_ENOTFOUND, "eval rpeaks");
    long window = lround(10.0 * pf_record_rate(r0)); /* 10-s windows at the record's own rate */
    pf_record_close(r0);
    char cfg[128], out[128];
    snprintf(cfg, sizeof cfg, "/tmp/pf-eval-%d.cfg", (int)getpid());
    snprintf(out, sizeof out, "/tmp/pf-eval-%d.h5", (int)getpid());
    FILE *f = fopen(cfg, "w");
    if (!f) return pf_err(PF_EIO, "%s: cannot write", cfg);
    fprintf(f, "name = \"eval-rpeaks-%d\";\nnodes = (\n { name = \"reader\"; kind = \"reader\"; root = \"%s\"; records = [",
            (int)getpid(), o->data_dir);
    for (size_t i = 0; i < n; i++) fprintf(f, "%s\"%s\"", i ? ", " : "", recs[i]);
    fprintf(f, "]; window = %ld; tail = \"edge\"; },\n { name = \"rpeak\"; kind = \"rpeak\"; lead = %d; },\n"
               " { name = \"sink\"; kind = \"sink\"; path = \"%s\"; }\n);\n"
               "edges = ( { from = \"reader\"; to = \"rpeak\"; }, { from = \"rpeak\"; to = \"sink\"; } );\n",
            window, o->lead, out);
    fclose(f);
    pf_graph *g = pf_cli_load(cfg, NULL, 0);
    if (!g) {
        unlink(cfg);
        return pf_err(PF_EINVAL, "eval rpeaks: the pipeline graph is invalid");
    }
    pf_launch_opts lo = {.quiet = 1};
    int rc = pf_launch(g, &lo);
    pf_graph_destroy(g);
    unlink(cfg);
    if (rc) {
        char partial[160]; /* the failed run's sink leaves OUT.partial: it is ours to remove */
        snprintf(partial, sizeof partial, "%s.partial", out);
        unlink(partial);
        unlink(out);
        return pf_err(PF_EIO, "eval rpeaks: the pipeline failed (exit %d)", rc);
    }
    pf_h5win_read *h = pf_h5win_read_open(out, 0);
    if (!h) return pf_err_context(PF_EIO, "eval rpeaks: the pipeline's output");
    const int64_t *rp = NULL, *off = NULL;
    size_t nids = 0;
    int64_t nw = pf_h5win_read_count(h);
    const int32_t *wrec = nw < 0 ? NULL : pf_h5win_read_record(h);
    const char *const *ids = wrec ? pf_h5win_read_record_ids(h, &nids) : NULL;
    int bad = !ids || pf_h5win_read_rpeaks(h, &rp, &off);
    size_t nrp = bad ? 0 : (size_t)off[nw];
    p->n = n;
    p->det = calloc(n, sizeof *p->det);
    p->nd = calloc(n, sizeof *p->nd);
    if (!bad && p->det && p->nd) {
        for (size_t i = 0; i < n; i++) {
            p->det[i] = malloc(sizeof(long) * (nrp + 1));
            if (!p->det[i]) { bad = 1; break; }
            for (int64_t w = 0; w < nw; w++) {
                if (strcmp(ids[wrec[w]], recs[i])) continue;
                for (int64_t k = off[w]; k < off[w + 1]; k++) p->det[i][p->nd[i]++] = (long)rp[k];
            }
            qsort(p->det[i], p->nd[i], sizeof(long), cmp_long);
            size_t u = 0; /* a beat near a window edge may be reported by both windows */
            for (size_t k = 0; k < p->nd[i]; k++)
                if (!u || p->det[i][k] != p->det[i][u - 1]) p->det[i][u++] = p->det[i][k];
            p->nd[i] = u;
        }
    }
    if (bad) pf_err_context(PF_EFORMAT, "eval rpeaks: could not read the pipeline's detections");
    pf_h5win_read_close(&h);
    unlink(out);
    return bad ? PF_EFORMAT : PF_OK;
}

int pf_cmd_eval(int argc, char **argv)
{
    if (argc < 3) return usage();
    const char *what = argv[2];
    int rpeaks = !strcmp(what, "rpeaks"), delin = !strcmp(what, "delineation");
    if (!rpeaks && !delin) { fprintf(stderr, "physioflow eval: unknown evaluation '%s'\n", what); return usage(); }
    pf_eval_run_opts o;
    pf_eval_run_opts_default(&o);
    const char **recs = calloc((size_t)argc, sizeof *recs);
    size_t n = 0;
    int pipeline = 0;
    const char *errors_path = NULL;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--data") && has) o.data_dir = argv[++i];
        else if (!strcmp(a, "--ann-out") && has) o.ann_out = argv[++i];
        else if (!strcmp(a, "--ann-ext") && has) o.ann_ext = argv[++i];
        else if (!strcmp(a, "--lead") && has) o.lead = atoi(argv[++i]);
        else if (!strcmp(a, "--chunk") && has) o.chunk_s = atof(argv[++i]);
        else if (!strcmp(a, "--per-lead")) o.per_lead = 1;
        else if (!strcmp(a, "--errors") && has) errors_path = argv[++i];
        else if (!strcmp(a, "--pipeline")) pipeline = 1;
        else if (a[0] == '-') { fprintf(stderr, "physioflow eval: unknown option '%s'\n", a); free(recs); return usage(); }
        else recs[n++] = a;
    }
    if (!o.data_dir || !n) { free(recs); return usage(); }
    if (o.chunk_s <= 0) { fprintf(stderr, "physioflow eval: --chunk must be > 0 seconds\n"); free(recs); return 2; }
    if (o.ann_out) {
        /* create the output folder (and its parents) like mkdir -p */
        char path[1024];
        snprintf(path, sizeof path, "%s", o.ann_out);
        for (char *p = path + 1;; p++) {
            char c = *p;
            if (c == '/' || c == 0) {
                *p = 0;
                if (mkdir(path, 0755) && errno != EEXIST) {
                    fprintf(stderr, "physioflow eval: cannot create %s: %s\n", path, strerror(errno));
                    free(recs);
                    return 1;
                }
                *p = c;
            }
            if (!c) break;
        }
    }
    int rc;
    if (rpeaks && pipeline) {
        piped_t p = {0};
        pf_eval_counts gross;
        rc = run_pipeline(&o, recs, n, &p);
        if (!rc) rc = pf_eval_rpeaks_score(&o, recs, n, piped_cb, &p, NULL, &gross);
        for (size_t i = 0; p.det && i < p.n; i++) free(p.det[i]);
        free(p.det);
        free(p.nd);
    } else if (rpeaks) {
        pf_eval_counts gross;
        rc = pf_eval_rpeaks_run(&o, recs, n, NULL, &gross);
    } else {
        pf_delin_stats st, cons;
        if (errors_path && !(o.errors = fopen(errors_path, "w"))) {
            fprintf(stderr, "physioflow eval: cannot write %s: %s\n", errors_path, strerror(errno));
            free(recs);
            return 1;
        }
        if (o.errors) fprintf(o.errors, "record,lead,boundary,annotation,detection\n");
        rc = pf_eval_delineation_run(&o, NULL, recs, n, &st, &cons);
        if (o.errors && fclose(o.errors) && !rc)
            rc = pf_err(PF_EIO, "eval: writing %s failed: %s", errors_path, strerror(errno));
    }
    if (rc) fprintf(stderr, "physioflow: %s\n", pf_errmsg());
    free(recs);
    return rc ? 1 : 0;
}
