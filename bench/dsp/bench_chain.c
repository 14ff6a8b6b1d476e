/* The DSP chain synth -> filter -> rpeak -> discard as four node processes
 * (`physioflow run`, ipc) vs the same work in one process (render the same
 * ECGSYN windows, filter, detect). Windows/s, medians of RUNS alternating
 * runs, ratio printed; target: the pipeline keeps >= 50 % of the fused rate.
 * The pipeline's rate is the discard node's (first message to last); the
 * fused rate times the same per-window work.
 * usage: bench_chain PHYSIOFLOW_EXE [records=8] [runs=5] */
#include "../bench_common.h"
#include "ecgsyn.h"
#include "pf_error.h"
#include "pf_rpeak.h"
#include "pf_sos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FS 500.0
#define LEADS 12
#define WINDOW 5000
#define DURATION 120.0

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

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
        double t0 = now();
        for (int64_t s = 0; s + WINDOW <= pf_ecgsyn_length(g); s += WINDOW) {
            pf_ecgsyn_render(g, s, WINDOW, lm);
            for (int l = 0; l < LEADS; l++)
                for (int t = 0; t < WINDOW; t++) x[t * LEADS + l] = lm[l * WINDOW + t];
            pf_sos_process(f, x, x, WINDOW);
            size_t np;
            pf_rpeak_process(det, x, WINDOW, peaks, 256, &np);
            windows++;
        }
        busy += now() - t0;
        pf_rpeak_destroy(det);
        pf_sos_destroy(f);
        pf_ecgsyn_destroy(g);
    }
    free(lm);
    free(x);
    return windows / busy;
}

int main(int argc, char **argv)
{
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
    qsort(pr, (size_t)runs, sizeof *pr, cmpd);
    qsort(fr, (size_t)runs, sizeof *fr, cmpd);
    double p = pr[runs / 2], fz = fr[runs / 2];
    printf("medians: pipeline %.1f windows/s (%.1f M lead-samples/s), fused %.1f windows/s; "
           "pipeline/fused %.2f (target >= 0.50)\n",
           p, p * WINDOW * LEADS / 1e6, fz, p / fz);
    return 0;
}
