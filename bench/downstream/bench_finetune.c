/* Fine-tuning step time of the C model (wavelet front-end + encoder + the
 * classification head of model.md 5, cross-entropy, AdamW over every stage,
 * global-norm clip: what the trainer does per step with objective classify),
 * the C side of bench/downstream/run_finetune.py. Dropout is off on both sides
 * so that the PyTorch side (bench_finetune_torch.py), started from the weights
 * saved here on the same windows and labels, must give the same losses.
 *   bench_finetune --out DIR [--batch 16] [--steps 5] [--leads 2] [--samples 1600]
 *                  [--classes 5] [--preset tiny] [--gate-heads 2] [--freeze 0|1]
 * Prints key=value: ms_per_step (median over steps after the first), loss0..lossN. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../bench_common.h"
#include "pf_chead.h"
#include "pf_ckpt.h"
#include "pf_error.h"
#include "pf_stage.h"
#include "pf_tstage.h"

#define FAIL() do { fprintf(stderr, "%s\n", pf_errmsg()); return 1; } while (0)

int main(int argc, char **argv)
{
    const char *out = NULL, *preset = "tiny";
    int B = 16, S = 5, C = 2, T = 1600, K = 5, gh = 2, freeze = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--out")) out = argv[i + 1];
        else if (!strcmp(argv[i], "--batch")) B = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) S = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--leads")) C = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--samples")) T = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--classes")) K = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--preset")) preset = argv[i + 1];
        else if (!strcmp(argv[i], "--gate-heads")) gh = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--freeze")) freeze = atoi(argv[i + 1]);
    }
    if (!out || B < 1 || S < 2 || K < 2) { fprintf(stderr, "usage: bench_finetune --out DIR [options]\n"); return 2; }
    mkdir(out, 0755);
    pf_wavelet_cfg wc = pf_wavelet_cfg_defaults(C);
    wc.gate_heads = gh;
    wc.dropout = 0;
    pf_tfm_cfg tc;
    pf_mask_cfg mc = pf_mask_cfg_defaults();
    if (pf_tfm_preset(preset, &tc) || pf_wavelet_validate(&wc)) FAIL();
    tc.dropout = 0;
    int F = (wc.levels + 1) * C, TP = T / tc.patch, N = F * TP;
    pf_chead_cfg hc = pf_chead_defaults(tc.dim, K);
    hc.dropout = 0;
    hc.smoothing = 0; /* plain cross-entropy on both sides */
    pf_stage ws, ts, hs;
    pf_wavelet *w = pf_stage_build_wavelet(&ws, &wc, B, T, 7, NULL);
    pf_tstage *t = pf_stage_build_tfm(&ts, &tc, &mc, B, N, 7, NULL);
    pf_chead *h = pf_stage_build_chead(&hs, &hc, B, N, 7, NULL);
    if (!w || !t || !h) FAIL();
    /* the starting weights, for the PyTorch side */
    if (pf_stage_save(&ws, out, 0, 0) || pf_stage_save(&ts, out, 0, 0) || pf_stage_save(&hs, out, 0, 0) ||
        pf_ckpt_manifest_write(out, 0, 0, 0))
        FAIL();
    float *x = malloc(sizeof(float) * (size_t)B * C * T), *dz = malloc(sizeof(float) * (size_t)B * N * tc.dim);
    float *dspec = malloc(sizeof(float) * (size_t)B * F * T), *zeros = calloc((size_t)B * N, sizeof(float));
    int *lab = malloc(sizeof(int) * B);
    float *labf = malloc(sizeof(float) * B);
    pf_rng r;
    pf_rng_seed(&r, 2026);
    for (size_t i = 0; i < (size_t)B * C * T; i++) x[i] = (float)pf_rng_normal(&r);
    for (int i = 0; i < B; i++) labf[i] = (float)(lab[i] = i % K);
    char path[1200];
    snprintf(path, sizeof path, "%s/batch.h5", out);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0 || pf_h5_write_f32(f, "x", x, 3, (int[]){B, C, T}) || pf_h5_write_f32(f, "labels", labf, 1, (int[]){B})) FAIL();
    H5Fclose(f);
    /* PhysioWave's fine-tuning optimiser (trainer objective classify), lr constant here */
    pf_step_opt o = {2e-4, 0.9, 0.999, 1e-8, 1e-3, 1.0, 0, 1, 0};
    double *ms = malloc(sizeof(double) * S);
    printf("batch=%d leads=%d samples=%d tokens=%d dim=%d classes=%d freeze=%d", B, C, T, N, tc.dim, K, freeze);
    for (int s = 0; s < S; s++) {
        double t0 = bench_now();
        float loss;
        int rc = pf_wavelet_forward(w, ws.p, x, B, !freeze, 0);
        if (!rc) rc = pf_tstage_forward(t, ts.p, pf_wavelet_output(w), B, F, TP, zeros, !freeze, 0, 0);
        if (!rc) rc = pf_chead_forward(h, hs.p, pf_tstage_encoded(t), B, N, lab, NULL, 1, 0, &loss);
        if (!rc) rc = pf_chead_backward(h, hs.p, freeze ? NULL : dz);
        if (!rc && !freeze) rc = pf_tstage_backward(t, ts.p, dz, NULL, dspec);
        if (!rc && !freeze) rc = pf_wavelet_backward(w, ws.p, dspec, NULL);
        if (rc) FAIL();
        double total = pf_stage_total_sq(pf_grad_sqnorm(hs.p), freeze ? 0 : pf_grad_sqnorm(ts.p), freeze ? 0 : pf_grad_sqnorm(ws.p));
        o.step = s;
        pf_stage_update(&hs, &o, total);
        if (!freeze) {
            pf_stage_update(&ts, &o, total);
            pf_stage_update(&ws, &o, total);
        }
        ms[s] = 1e3 * (bench_now() - t0);
        printf(" loss%d=%.7g", s, loss);
    }
    printf(" ms_per_step=%.2f\n", bench_median(ms + 1, S - 1));
    return 0;
}
