/* Filter throughput in lead-samples/s per core on 12-lead ECG (synthetic,
 * 500 Hz, 120 s): the lead-vectorised float64-state SOS kernel, the naive
 * reference kernel, liquid-dsp's iirfilt (float32), and scipy.signal.sosfilt
 * (float64, [leads, samples] contiguous) in the same run, alternating round by
 * round (scipy: median of 3 passes per round). Medians of RUNS
 * runs; ratios printed. usage: bench_filter [runs] */
#include "pf_error.h"
#include "pf_sos.h"
#include "pf_rng.h"
#include "../bench_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* one timed pass of engine e over the whole record from a fresh state */
static double time_engine(pf_sos *f, const float *x, float *y, size_t n)
{
    pf_sos_reset(f);
    double t0 = bench_now();
    pf_sos_process(f, x, y, n);
    return bench_now() - t0;
}

/* median seconds of `runs` scipy.signal.sosfilt passes (one python process) */
static double bench_scipy(const pf_iirdes *d, const float *x, size_t n, int L, int runs)
{
    char dir[] = "/tmp/pf_bench_filter_XXXXXX";
    if (!mkdtemp(dir)) return -1;
    char sp[64], xp[64], cmd[512];
    snprintf(sp, sizeof sp, "%s/sos.bin", dir);
    snprintf(xp, sizeof xp, "%s/x.bin", dir);
    FILE *f = fopen(sp, "wb");
    fwrite(d->sos, sizeof(double), (size_t)d->nsec * 6, f);
    fclose(f);
    f = fopen(xp, "wb");
    fwrite(x, sizeof(float), n * L, f);
    fclose(f);
    const char *py = getenv("PF_PYTHON");
    snprintf(cmd, sizeof cmd, "%s %s/bench_sosfilt.py %s %s %d %d", py && *py ? py : "/usr/bin/python3",
             PF_BENCH_DIR, sp, xp, L, runs);
    FILE *p = popen(cmd, "r");
    double s = -1;
    if (!p || fscanf(p, "%lf", &s) != 1) s = -1;
    if (p) pclose(p);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return s;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 7;
    if (runs < 1 || runs > 64) runs = 7;
    const int L = 12;
    const double fs = 500;
    size_t n = (size_t)(fs * 120);
    float *x = malloc(sizeof(float) * n * L), *y = malloc(sizeof(float) * n * L);
    pf_rng g;
    pf_rng_seed(&g, pf_rng_key(1, 2, 3, 4));
    for (size_t t = 0; t < n; t++)
        for (int l = 0; l < L; l++)
            x[t * L + l] = (float)(1.5 + 0.3 * sin(2 * M_PI * 0.25 * t / fs + l) +
                                   sin(2 * M_PI * 1.2 * t / fs) * sin(2 * M_PI * 11 * t / fs) +
                                   0.05 * pf_rng_normal(&g));
    struct { const char *name; pf_iirdes d; } designs[3];
    designs[0].name = "bandpass 0.5-40 order 2 (2 sections)";
    pf_iirdes_butter(&designs[0].d, PF_IIRDES_BANDPASS, 2, 0.5, 40, fs);
    designs[1].name = "bandpass 0.5-40 order 4 (4 sections)";
    pf_iirdes_butter(&designs[1].d, PF_IIRDES_BANDPASS, 4, 0.5, 40, fs);
    designs[2].name = "bandpass order 2 + notch 50 (3 sections)";
    pf_iirdes_butter(&designs[2].d, PF_IIRDES_BANDPASS, 2, 0.5, 40, fs);
    pf_iirdes notch;
    pf_iirdes_notch(&notch, 50, 30, fs);
    pf_iirdes_cascade(&designs[2].d, &notch);
    double ls = (double)n * L;
    printf("12 leads x %zu samples (%.0f lead-samples), median of %d runs, one core\n", n, ls, runs);
    for (int k = 0; k < 3; k++) {
        const pf_iirdes *d = &designs[k].d;
        pf_sos *fk = pf_sos_create(d, L, PF_SOS_ENGINE_F64), *fr = pf_sos_create(d, L, PF_SOS_ENGINE_REF),
               *fl = pf_sos_create(d, L, PF_SOS_ENGINE_LIQUID);
        if (!fk || !fr || !fl) { fprintf(stderr, "%s\n", pf_errmsg()); return 1; }
        double tk[64], tr[64], tl[64], tsc[64];
        /* rounds alternate the peers so load changes on the shared machine hit all of them */
        for (int r = 0; r < runs; r++) {
            tk[r] = time_engine(fk, x, y, n);
            tr[r] = time_engine(fr, x, y, n);
            tl[r] = time_engine(fl, x, y, n);
            tsc[r] = bench_scipy(d, x, n, L, 3);
        }
        pf_sos_destroy(fk);
        pf_sos_destroy(fr);
        pf_sos_destroy(fl);
        double tf = bench_median(tk, runs), trr = bench_median(tr, runs), tll = bench_median(tl, runs), ts = bench_median(tsc, runs);
        printf("%s:\n", designs[k].name);
        printf("  pf_sos f64 kernel   %8.1f M lead-samples/s\n", ls / tf / 1e6);
        printf("  pf_sos reference    %8.1f M lead-samples/s\n", ls / trr / 1e6);
        printf("  liquid iirfilt f32  %8.1f M lead-samples/s\n", ls / tll / 1e6);
        if (ts > 0) printf("  scipy sosfilt f64   %8.1f M lead-samples/s\n", ls / ts / 1e6);
        else printf("  scipy sosfilt       unavailable ($PF_PYTHON with scipy needed)\n");
        printf("  ratios: kernel/scipy %.2fx  kernel/liquid %.2fx  kernel/reference %.2fx\n",
               ts > 0 ? ts / tf : NAN, tll / tf, trr / tf);
    }
    free(x);
    free(y);
    return 0;
}
