/* R-peak detector throughput: a 30-minute 2-lead record at 360 Hz (MIT-BIH
 * shape; synthetic Gaussian-wave ECG with noise and wander) streamed in 1 s
 * chunks. Reports frames/s and lead-samples/s per core, median of RUNS.
 * usage: bench_rpeak [runs] [leads] */
#include "pf_error.h"
#include "pf_rng.h"
#include "pf_rpeak.h"
#include "../bench_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    int L = argc > 2 ? atoi(argv[2]) : 2;
    if (runs < 1 || runs > 64) runs = 5;
    if (L < 1 || L > 12) L = 2;
    const double fs = 360;
    size_t n = (size_t)(fs * 1800);
    float *x = malloc(sizeof(float) * n * L);
    pf_rng g;
    pf_rng_seed(&g, pf_rng_key(7, 0, 0, 0));
    double next = 0.5;
    for (size_t t = 0; t < n; t++) {
        double ts = t / fs;
        if (ts > next + 0.3) next += 0.7 + 0.2 * pf_rng_uniform(&g);
        double u = (ts - next) / 0.012, v = 1.2 * exp(-0.5 * u * u);
        for (int l = 0; l < L; l++)
            x[t * L + l] = (float)(v * (l % 2 ? -0.6 : 1) + 0.3 * sin(0.4 * ts + l) +
                                   0.03 * pf_rng_normal(&g));
    }
    long *det = malloc(sizeof(long) * 20000);
    double tm[64];
    size_t total = 0;
    for (int r = 0; r < runs; r++) {
        pf_rpeak_cfg c;
        pf_rpeak_cfg_default(&c, fs, L);
        pf_rpeak *d = pf_rpeak_create(&c);
        size_t chunk = (size_t)fs, nd = 0, k;
        double t0 = bench_now();
        for (size_t t = 0; t < n; t += chunk) {
            size_t m = n - t < chunk ? n - t : chunk;
            if (pf_rpeak_process(d, x + t * L, m, det + nd, 20000 - nd, &k)) {
                fprintf(stderr, "%s\n", pf_errmsg());
                return 1;
            }
            nd += k;
        }
        pf_rpeak_flush(d, det + nd, 20000 - nd, &k);
        tm[r] = bench_now() - t0;
        total = nd + k;
        pf_rpeak_destroy(d);
    }
    double med = bench_median(tm, runs);
    printf("rpeak: %d leads, %zu samples per lead (30 min at 360 Hz), %zu beats, median of %d runs\n",
           L, n, total, runs);
    printf("  %.1f M samples/s (frames of %d leads), %.1f M lead-samples/s, %.0fx real time\n",
           n / med / 1e6, L, n * (double)L / med / 1e6, n / fs / med);
    printf("  target >= 20 M samples/s per core: %s\n", n / med / 1e6 >= 20 ? "met" : "NOT met");
    free(x);
    free(det);
    return 0;
}
