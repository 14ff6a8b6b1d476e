/* bench_stages: each model stage alone, as the nodes build and run it
 * (pf_stage_build_*, pf_tstage, pf_objective), on one micro-batch of the
 * hybrid objective: B anchors + their views + their neighbours = 3B rows of
 * C leads x T samples through the wavelet front-end (forward + backward),
 * the transformer stage (patch tokens, mask, encoder: forward + backward)
 * and the trainer's objective (masked + contrastive + global + peak-aware:
 * forward + backward). Median ms per micro-batch and windows/s per stage: the
 * throughput each stage would have on its own, which bench_hybrid.py sets
 * the pipelined run against.
 *   bench_stages --preset tiny --leads 2 --samples 3200 --batch 8 --steps 5 --warmup 2 [--objective hybrid]
 * Prints key=value lines. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "pf_error.h"
#include "pf_objective.h"
#include "pf_stage.h"
#include "pf_tstage.h"
#include "../bench_common.h"

int main(int argc, char **argv)
{
    int B = 8, steps = 5, warm = 2, C = 2, T = 3200, F = 159;
    const char *preset = "tiny", *objective = "hybrid";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) B = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warm = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--preset") && i + 1 < argc) preset = argv[++i];
        else if (!strcmp(argv[i], "--leads") && i + 1 < argc) C = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--samples") && i + 1 < argc) T = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--objective") && i + 1 < argc) objective = argv[++i];
        else { fprintf(stderr, "usage: %s [--preset P] [--leads C] [--samples T] [--batch B] [--steps S] [--warmup W] [--objective physiowave|physioclr|hybrid]\n", argv[0]); return 2; }
    }
    pf_objective o = {0};
    o.preset = !strcmp(objective, "physioclr") ? PF_OBJ_PHYSIOCLR : !strcmp(objective, "hybrid") ? PF_OBJ_HYBRID : PF_OBJ_PHYSIOWAVE;
    static const double w[3][4] = {{1, 0, 0, 0}, {0, 1, 0.2, 0.1}, {1, 1, 0.2, 0.1}};
    o.w_masked = w[o.preset][0]; o.w_con = w[o.preset][1]; o.w_global = w[o.preset][2]; o.w_peak = w[o.preset][3];
    o.peak_ms = 40; o.rows = o.w_con > 0 ? 3 : 1;
    int rows = o.rows, RB = rows * B;
    pf_tfm_cfg tc;
    pf_mask_cfg mc = pf_mask_cfg_defaults();
    if (pf_tfm_preset(preset, &tc) < 0) { fprintf(stderr, "%s\n", pf_errmsg()); return 2; }
    pf_wavelet_cfg wc = pf_wavelet_cfg_defaults(C);
    if (C % 4) wc.gate_heads = C % 2 ? 1 : 2;
    int R = (wc.levels + 1) * C, TP = T / tc.patch, N = R * TP;
    pf_stage sw, st, sh;
    pf_wavelet *wv = pf_stage_build_wavelet(&sw, &wc, RB, T, 1, NULL);
    pf_tstage *ts = wv ? pf_stage_build_tfm(&st, &tc, &mc, RB, N, 1, NULL) : NULL;
    pf_rhead *mh = NULL, *sg = NULL;
    if (!ts || pf_stage_build_head(&sh, &tc, o.w_masked > 0 ? B * N : 0, o.w_global > 0 ? B * C * TP : 0, &mh, &sg, 1, NULL)) {
        fprintf(stderr, "build: %s\n", pf_errmsg());
        return 1;
    }
    /* identity feature statistics: the features are already standard normal */
    pf_featstats fs = {.dim = F, .k = 0};
    fs.mean = calloc(F, sizeof(double)); fs.std = malloc(F * sizeof(double));
    for (int i = 0; i < F; i++) fs.std[i] = 1;
    pf_contrast_cfg cc = {0.1f, 0.25f, PF_CONTRAST_PHYSIOCLR};
    pf_objective_run *run = pf_objective_create(&o, &cc, &fs, mh, sg, B, C, R, TP, tc.patch, tc.dim);
    float *x = malloc(sizeof(float) * (size_t)RB * C * T), *feat = malloc(sizeof(float) * (size_t)B * F);
    uint8_t *peaks = calloc((size_t)B * T, 1), *flags = malloc(B);
    pf_rng r;
    pf_rng_seed(&r, 5);
    for (size_t i = 0; i < (size_t)RB * C * T; i++) x[i] = pf_rng_normal(&r);
    for (int i = 0; i < B * F; i++) feat[i] = pf_rng_normal(&r);
    for (int b = 0; b < B; b++) {
        flags[b] = PF_ROW_FEAT | PF_ROW_PEAKS | PF_ROW_VIEW | PF_ROW_ADJ;
        for (int t = 200; t < T; t += 400) for (int k = -20; k <= 20; k++) peaks[(size_t)b * T + t + k] = 1;
    }
    pf_aux a = {B, rows, o.w_masked > 0, F, x, feat, peaks, flags, NULL, 0};
    float *dz = malloc(sizeof(float) * (size_t)RB * N * tc.dim), *dt = malloc(sizeof(float) * (size_t)RB * N * tc.patch);
    float *dspec = malloc(sizeof(float) * (size_t)RB * R * T), *zeros = calloc((size_t)RB * N, sizeof(float));
    int n = warm + steps;
    double *tw = calloc(n, sizeof(double)), *tt = calloc(n, sizeof(double)), *to = calloc(n, sizeof(double));
    float loss = 0;
    for (int s = 0; s < n; s++) {
        uint64_t k = pf_stage_key(1, s, 0, 0);
        double t0 = bench_now();
        pf_wavelet_forward(wv, sw.p, x, RB, 1, k);
        double t1 = bench_now();
        const float *spec = pf_wavelet_output(wv);
        pf_tstage_forward(ts, st.p, spec, RB, R, TP, a.masked ? NULL : zeros, 1, k ^ 1, k ^ 2);
        double t2 = bench_now();
        pf_obj_terms ot;
        if (pf_objective_step(run, sh.p, pf_tstage_encoded(ts), spec, a.masked ? pf_tstage_mask(ts) : zeros, &a, 1, k ^ 3, k ^ 4, &ot, dz,
                              a.masked ? dt : NULL)) { fprintf(stderr, "objective: %s\n", pf_errmsg()); return 1; }
        double t3 = bench_now();
        pf_tstage_backward(ts, st.p, dz, a.masked ? dt : NULL, dspec);
        double t4 = bench_now();
        pf_wavelet_backward(wv, sw.p, dspec, NULL);
        double t5 = bench_now();
        tw[s] = (t1 - t0) + (t5 - t4);
        tt[s] = (t2 - t1) + (t4 - t3);
        to[s] = t3 - t2;
        loss = (float)ot.total;
    }
    double mw = bench_median(tw + warm, steps), mt = bench_median(tt + warm, steps), mo = bench_median(to + warm, steps);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("objective=%s preset=%s leads=%d samples=%d batch=%d rows=%d tokens=%d\n", objective, preset, C, T, B, RB, N);
    printf("wavelet_ms=%.2f transformer_ms=%.2f trainer_ms=%.2f step_ms=%.2f\n", 1e3 * mw, 1e3 * mt, 1e3 * mo, 1e3 * (mw + mt + mo));
    printf("wavelet_wps=%.2f transformer_wps=%.2f trainer_wps=%.2f fused_wps=%.2f loss=%.5f peak_rss_mb=%.1f\n", B / mw, B / mt,
           B / mo, B / (mw + mt + mo), loss, ru.ru_maxrss / 1024.0);
    return 0;
}
