/* physioflow eval rpeaks|delineation: score the detector / delineator on
 * annotated records (ANSI/AAMI EC57 for R-peaks; LUDB boundaries for
 * delineation), print the per-record table and the gross figures, and
 * optionally write the results as WFDB annotation files. */
#include "pf_error.h"
#include "pf_eval_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <errno.h>

static int usage(void)
{
    fprintf(stderr,
            "usage: physioflow eval rpeaks --data DIR [--ann-out OUTDIR] [--ann-ext EXT] [--lead I] [--chunk S] RECORD...\n"
            "       physioflow eval delineation --data DIR [--ann-out OUTDIR] [--per-lead] RECORD...\n"
            "  RECORD is a record name inside DIR (e.g. 100 for DIR/100.hea).\n");
    return 2;
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
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--data") && has) o.data_dir = argv[++i];
        else if (!strcmp(a, "--ann-out") && has) o.ann_out = argv[++i];
        else if (!strcmp(a, "--ann-ext") && has) o.ann_ext = argv[++i];
        else if (!strcmp(a, "--lead") && has) o.lead = atoi(argv[++i]);
        else if (!strcmp(a, "--chunk") && has) o.chunk_s = atof(argv[++i]);
        else if (!strcmp(a, "--per-lead")) o.per_lead = 1;
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
    if (rpeaks) {
        pf_eval_counts gross;
        rc = pf_eval_rpeaks_run(&o, recs, n, NULL, &gross);
    } else {
        pf_delin_stats st;
        rc = pf_eval_delineation_run(&o, NULL, recs, n, &st);
    }
    if (rc) fprintf(stderr, "physioflow: %s\n", pf_errmsg());
    free(recs);
    return rc ? 1 : 0;
}
