/* Augmentation cost and scaling.
 * 1. Cost per 12 x 2500 window of each augmentation, in this process.
 * 2. Throughput of repeat -> shuffle x R -> discard for R = 1 and 2 (separate
 *    processes via `physioflow run`), the shuffle node doing the published
 *    shuffling plus every perturbation on two views, so it is the bottleneck.
 * Medians of several runs; prints the scaling ratio.
 *   bench_augment PHYSIOFLOW_EXE [windows] [runs] */
#include "../bench_common.h"
#include "pf_augment.h"
#include "pf_features.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { C = 12, T = 2500 };

static double graph_rate(const char *exe, long n, int reps, int features)
{
    char g[1024];
    snprintf(g, sizeof g, "name = \"benchaug%d\";\nnodes = (\n"
                          " { name = \"src\"; kind = \"repeat\"; count = %ld; leads = %d; samples = %d; rpeak_every = 400; },\n"
                          " { name = \"aug\"; kind = \"shuffle\"; replicas = %d; views = 2; mask_p = 1.0; noise_p = 1.0; wander_p = 1.0;"
                          " powerline_p = 1.0; scale_p = 1.0; shift_p = 1.0; features = %s; },\n"
                          " { name = \"sink\"; kind = \"discard\"; }\n);\n"
                          "edges = ( { from = \"src\"; to = \"aug\"; }, { from = \"aug\"; to = \"sink\"; } );\n",
             (int)getpid(), n, C, T, reps, features ? "true" : "false");
    return bench_graph_rate(exe, g);
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: %s PHYSIOFLOW_EXE [windows] [runs]\n", argv[0]); return 2; }
    long n = argc > 2 ? atol(argv[2]) : 3000;
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    static float x[C * T], y[C * T];
    pf_rng r;
    pf_rng_seed(&r, 1);
    for (int i = 0; i < C * T; i++) x[i] = (float)pf_rng_normal(&r);
    int64_t peaks[8], op[8];
    int m = 0, perm[8];
    for (int t = 133; t < T && m < 8; t += 400) peaks[m++] = t;

    struct { const char *name; pf_perturb_config c; } kinds[] = {
        {"lead masking", {.mask_p = 1, .mask_lead_p = 0.5}},
        {"gaussian noise", {.noise_p = 1, .noise_std = 0.05}},
        {"baseline wander", {.wander_p = 1, .wander_amp = 0.2}},
        {"powerline", {.powerline_p = 1, .powerline_amp = 0.05, .mains_hz = 50}},
        {"amplitude scaling", {.scale_p = 1, .scale_min = 0.8, .scale_max = 1.2}},
        {"baseline shift", {.shift_p = 1, .shift_max = 0.1}},
    };
    printf("cost per %d x %d window (median of %d x 200 calls):\n", C, T, runs);
    double t[64];
    for (int k = -1; k < (int)(sizeof kinds / sizeof *kinds); k++) {
        for (int rr = 0; rr < runs; rr++) {
            double t0 = bench_now();
            for (int i = 0; i < 200; i++) {
                if (k < 0) {
                    pf_random_permutation(&r, perm, m);
                    pf_shuffle_beats(x, C, T, peaks, m, perm, 0, y, op);
                } else {
                    memcpy(y, x, sizeof y);
                    pf_perturb(y, C, T, 500, &kinds[k].c, (uint64_t)i);
                }
            }
            t[rr] = (bench_now() - t0) / 200 * 1e6;
        }
        printf("  %-20s %8.1f us\n", k < 0 ? "heartbeat shuffle" : kinds[k].name, bench_median(t, runs));
    }
    pf_features *fe = pf_features_create(500, -1);
    float fv[PF_FEAT_DIM];
    for (int rr = 0; rr < runs; rr++) {
        double t0 = bench_now();
        for (int i = 0; i < 20; i++) pf_features_compute(fe, x, C, T, peaks, m, fv);
        t[rr] = (bench_now() - t0) / 20 * 1e6;
    }
    printf("  %-20s %8.1f us  (12-lead delineation + 159 values)\n", "features", bench_median(t, runs));
    pf_features_destroy(fe);
    printf("graph repeat -> shuffle (2 views, shuffling + all perturbations) x R -> discard, %ld windows:\n", n);
    for (int features = 0; features < 2; features++) {
        double r1[32], r2[32];
        printf(" %s features:\n", features ? "with" : "without");
        for (int rr = 0; rr < runs && rr < 32; rr++) {
            r1[rr] = graph_rate(argv[1], n, 1, features);
            r2[rr] = graph_rate(argv[1], n, 2, features);
            printf("  run %d: 1 replica %.0f windows/s, 2 replicas %.0f windows/s\n", rr + 1, r1[rr], r2[rr]);
            fflush(stdout);
        }
        double m1 = bench_median(r1, runs), m2 = bench_median(r2, runs);
        printf("  median: 1 replica %.0f windows/s, 2 replicas %.0f windows/s, scaling %.2fx (2 cores shared with source and sink)\n", m1, m2, m2 / m1);
    }
    return 0;
}
