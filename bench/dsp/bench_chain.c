/* The DSP chain synth -> filter -> rpeak -> discard as four node processes
 * (or, with --data DIR, reader -> filter -> rpeak -> discard over the real
 * records of DIR: every .hea in it, 10-s windows at the record rate)
 * (`physioflow run`, ipc) vs the same work in one process (render the same
 * ECGSYN windows, filter, detect). Windows/s, medians of RUNS alternating
 * runs, ratio printed; target: the pipeline keeps >= 50 % of the fused rate.
 * The pipeline's rate is the discard node's (first message to last); the
 * fused rate times the same per-window work.
 * usage: bench_chain PHYSIOFLOW_EXE [records=8] [runs=5]
 *        bench_chain PHYSIOFLOW_EXE --data DIR [runs=5] */
#include "../bench_common.h"
#include "ecgsyn.h"
#include "pf_error.h"
#include "pf_record.h"
#include "pf_rpeak.h"
#include "pf_sos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>

#define FS 500.0
#define LEADS 12
#define WINDOW 5000
#define DURATION 120.0


static double pipeline(const char *exe, int records)
{
    char g[2048];
    snprintf(g, sizeof g,
            "name = \"chain%d\"; seed = 3;\nnodes = (\n"
            " { name = \"src\"; kind = \"synth\"; records = %d; duration = %g; fs = %g; leads = %d; window = %d; },\n"
            " { name = \"flt\"; kind = \"filter\"; },\n { name = \"rp\"; kind = \"rpeak\"; },\n"
            " { name = \"sink\"; kind = \"discard\"; }\n);\n"
            "edges = ( { from = \"src.out\"; to = \"flt.in\"; }, { from = \"flt.out\"; to = \"rp.in\"; },"
            " { from = \"rp.out\"; to = \"sink.in\"; } );\n",
            (int)getpid(), records, DURATION, FS, LEADS, WINDOW);
    return bench_graph_rate(exe, g);
}

static double fused(int records)
{
    float *lm = malloc(sizeof(float) * WINDOW * LEADS), *x = malloc(sizeof(float) * WINDOW * LEADS);
    long peaks[256];
    pf_iirdes d;
    pf_iirdes_butter(&d, PF_IIRDES_BANDPASS, 2, 0.5, 40, FS);
    double busy = 0;
    long windows = 0;
    for (int r = 0; r < records; r++) {
        pf_ecgsyn_config c;
        pf_ecgsyn_defaults(&c);
        c.fs = FS;
        c.duration = DURATION;
        c.n_leads = LEADS;
        c.seed = (uint64_t)r + 1;
        pf_ecgsyn *g = pf_ecgsyn_create(&c);
        pf_sos *f = pf_sos_create(&d, LEADS, PF_SOS_ENGINE_F64);
        pf_rpeak_cfg rc;
        pf_rpeak_cfg_default(&rc, FS, LEADS);
        pf_rpeak *det = pf_rpeak_create(&rc);
        if (!g || !f || !det) { fprintf(stderr, "%s\n", pf_errmsg()); exit(1); }
        double t0 = bench_now();
        for (int64_t s = 0; s + WINDOW <= pf_ecgsyn_length(g); s += WINDOW) {
            pf_ecgsyn_render(g, s, WINDOW, lm);
            for (int l = 0; l < LEADS; l++)
                for (int t = 0; t < WINDOW; t++) x[t * LEADS + l] = lm[l * WINDOW + t];
            pf_sos_process(f, x, x, WINDOW);
            size_t np;
            pf_rpeak_process(det, x, WINDOW, peaks, 256, &np);
            windows++;
        }
        busy += bench_now() - t0;
        pf_rpeak_destroy(det);
        pf_sos_destroy(f);
        pf_ecgsyn_destroy(g);
    }
    free(lm);
    free(x);
    return windows / busy;
}

/* --- the same chain on real records --------------------------------------- */
static char rec_names[256][64];
static int n_recs;

static void list_records(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) && n_recs < 256) {
        size_t l = strlen(e->d_name);
        if (l > 4 && l < 60 && !strcmp(e->d_name + l - 4, ".hea")) {
            snprintf(rec_names[n_recs], sizeof rec_names[0], "%.*s", (int)(l - 4), e->d_name);
            n_recs++;
        }
    }
    if (d) closedir(d);
    qsort(rec_names, (size_t)n_recs, sizeof rec_names[0], (int (*)(const void *, const void *))strcmp);
}

static double pipeline_reader(const char *exe, const char *dir, long window)
{
    static char g[16384];
    int len = snprintf(g, sizeof g, "name = \"chainr%d\";\nnodes = (\n { name = \"src\"; kind = \"reader\"; root = \"%s\"; records = [",
                       (int)getpid(), dir);
    for (int i = 0; i < n_recs; i++) len += snprintf(g + len, sizeof g - (size_t)len, "%s\"%s\"", i ? ", " : "", rec_names[i]);
    snprintf(g + len, sizeof g - (size_t)len,
             "]; window = %ld; },\n { name = \"flt\"; kind = \"filter\"; },\n { name = \"rp\"; kind = \"rpeak\"; },\n"
             " { name = \"sink\"; kind = \"discard\"; }\n);\n"
             "edges = ( { from = \"src\"; to = \"flt\"; }, { from = \"flt\"; to = \"rp\"; }, { from = \"rp\"; to = \"sink\"; } );\n",
             window);
    return bench_graph_rate(exe, g);
}

/* read, filter and detect the same windows in this process */
static double fused_reader(const char *dir, long window)
{
    double busy = 0;
    long windows = 0;
    for (int i = 0; i < n_recs; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%.900s/%.60s", dir, rec_names[i]);
        pf_record *r = pf_record_open(path, NULL);
        if (!r) { fprintf(stderr, "%s\n", pf_errmsg()); exit(1); }
        int L = pf_record_nleads(r);
        double fs = pf_record_rate(r);
        pf_iirdes d;
        pf_iirdes_butter(&d, PF_IIRDES_BANDPASS, 2, 0.5, 40, fs);
        pf_sos *f = pf_sos_create(&d, L, PF_SOS_ENGINE_F64);
        pf_rpeak_cfg rc;
        pf_rpeak_cfg_default(&rc, fs, L);
        pf_rpeak *det = pf_rpeak_create(&rc);
        float *lm = malloc(sizeof(float) * (size_t)window * L), *x = malloc(sizeof(float) * (size_t)window * L);
        long peaks[512];
        double t0 = bench_now();
        for (int64_t s0 = 0; s0 + window <= pf_record_length(r); s0 += window) {
            pf_record_read(r, s0, window, NULL, L, lm);
            for (int l = 0; l < L; l++)
                for (long t = 0; t < window; t++) x[t * L + l] = lm[l * window + t];
            pf_sos_process(f, x, x, (size_t)window);
            size_t np;
            pf_rpeak_process(det, x, (size_t)window, peaks, 512, &np);
            windows++;
        }
        busy += bench_now() - t0;
        free(lm);
        free(x);
        pf_rpeak_destroy(det);
        pf_sos_destroy(f);
        pf_record_close(r);
    }
    return windows / busy;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[2], "--data")) {
        list_records(argv[3]);
        if (!n_recs) { fprintf(stderr, "no .hea records in %s\n", argv[3]); return 2; }
        char first[1024];
        snprintf(first, sizeof first, "%.900s/%.60s", argv[3], rec_names[0]);
        pf_record *r0 = pf_record_open(first, NULL);
        if (!r0) { fprintf(stderr, "%s\n", pf_errmsg()); return 1; }
        long window = (long)(10 * pf_record_rate(r0));
        int L = pf_record_nleads(r0);
        pf_record_close(r0);
        int runs = argc > 4 ? atoi(argv[4]) : 5;
        if (runs < 1 || runs > 32) runs = 5;
        double pr[32], fr[32];
        printf("reader -> filter -> rpeak -> discard over %d records of %s, %d leads, windows of %ld samples\n", n_recs, argv[3], L, window);
        for (int r = 0; r < runs; r++) {
            pr[r] = pipeline_reader(argv[1], argv[3], window);
            fr[r] = fused_reader(argv[3], window);
            printf("  run %d: pipeline %.1f windows/s, fused %.1f windows/s\n", r + 1, pr[r], fr[r]);
            fflush(stdout);
        }
        double p = bench_median(pr, runs), fz = bench_median(fr, runs);
        printf("medians: pipeline %.1f windows/s (%.1f M lead-samples/s), fused %.1f windows/s; pipeline/fused %.2f (target >= 0.50)\n",
               p, p * window * L / 1e6, fz, p / fz);
        return 0;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: %s PHYSIOFLOW_EXE [records] [runs]\n", argv[0]);
        return 2;
    }
    int records = argc > 2 ? atoi(argv[2]) : 8, runs = argc > 3 ? atoi(argv[3]) : 5;
    if (runs < 1 || runs > 32) runs = 5;
    double pr[32], fr[32];
    printf("synth -> filter -> rpeak -> discard, %d records x %g s, %d leads, %g Hz, windows of %d\n",
           records, DURATION, LEADS, FS, WINDOW);
    for (int r = 0; r < runs; r++) {
        pr[r] = pipeline(argv[1], records);
        fr[r] = fused(records);
        printf("  run %d: pipeline %.1f windows/s, fused %.1f windows/s\n", r + 1, pr[r], fr[r]);
        fflush(stdout);
    }
    double p = bench_median(pr, runs), fz = bench_median(fr, runs);
    printf("medians: pipeline %.1f windows/s (%.1f M lead-samples/s), fused %.1f windows/s; "
           "pipeline/fused %.2f (target >= 0.50)\n",
           p, p * WINDOW * LEADS / 1e6, fz, p / fz);
    return 0;
}
