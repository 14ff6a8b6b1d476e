/* bench_model: one physioflow training/inference configuration, timed.
 * Model: patch embedding (P 64) + pre-norm RoPE encoder (D 256, 6 layers, 8
 * heads, MLP 4x, dropout 0.1) + reconstruction head + masked MSE (70% masked),
 * 100 tokens per sample (4 rows x 25 time patches), AdamW with clipping.
 * Prints one machine-readable line per measurement (key=value) for run.py.
 *
 *   bench_model --batch 8 --steps 10 --warmup 3 [--infer-steps 10] [--sgemm]
 * Threads come from OPENBLAS_NUM_THREADS (set by run.py). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "pf_error.h"
#include "pf_optim.h"
#include "pf_mae.h"
#include "../bench_common.h"

/* matmul FLOPs of one forward pass (the same count is used for PyTorch) */
static double fwd_flops(const pf_tfm_cfg *c, int B, int T, double *enc_out)
{
    double D = c->dim, P = c->patch, Hm = (double)c->mlp_ratio * D, N = (double)B * T;
    double layer = 2 * N * D * 3 * D + 2 * 2 * N * T * D + 2 * N * D * D + 2 * 2 * N * D * Hm;
    double enc = c->depth * layer;
    if (enc_out) *enc_out = enc;
    return 2 * N * P * D + enc + 2 * N * D * D + 2 * N * D * P;
}

static double sgemm_peak(void)
{
    int n = 1536;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    for (int i = 0; i < n * n; i++) { a[i] = (float)(i % 7) * 0.1f; b[i] = (float)(i % 5) * 0.1f; }
    double best = 0;
    for (int r = 0; r < 6; r++) {
        double t0 = bench_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double g = 2.0 * n * n * n / (bench_now() - t0) / 1e9;
        if (g > best) best = g;
    }
    free(a); free(b); free(c);
    return best;
}

int main(int argc, char **argv)
{
    int B = 8, steps = 10, warm = 3, infer_steps = 10, do_sgemm = 0, F = 4, TP = 25;
    const char *preset = "small";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) B = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warm = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--infer-steps") && i + 1 < argc) infer_steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sgemm")) do_sgemm = 1;
        else if (!strcmp(argv[i], "--preset") && i + 1 < argc) preset = argv[++i];
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc) F = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tpatches") && i + 1 < argc) TP = atoi(argv[++i]);
        else { fprintf(stderr, "usage: %s [--batch B] [--steps S] [--warmup W] [--infer-steps I] [--sgemm] [--preset P --rows F --tpatches TP]\n", argv[0]); return 2; }
    }
    if (do_sgemm) { printf("sgemm_gflops=%.1f\n", sgemm_peak()); return 0; }
    pf_tfm_cfg c;
    /* default: "small" = D 256, 6 layers, 8 heads, MLP 4x, dropout 0.1, P 64, 4 x 25 tokens */
    if (pf_tfm_preset(preset, &c) < 0) { fprintf(stderr, "%s\n", pf_errmsg()); return 2; }
    int T = F * TP, N = B * T;
    pf_pstore *p = pf_pstore_create();
    pf_mae *m = pf_mae_create(&c, p, B, T);
    if (!m || pf_pstore_finalize(p) < 0) { fprintf(stderr, "%s\n", pf_errmsg()); return 1; }
    pf_mae_init(m, p, 1);
    pf_adamw_cfg ac = pf_adamw_defaults();
    ac.lr = 1e-4f; ac.beta2 = 0.95f; ac.warmup_steps = 2; ac.total_steps = 1000;
    pf_adamw *o = pf_adamw_create(&ac);
    pf_rng r;
    pf_rng_seed(&r, 9);
    float *patches = malloc(sizeof(float) * (size_t)N * c.patch), *mask = malloc(sizeof(float) * (size_t)N);
    for (size_t i = 0; i < (size_t)N * c.patch; i++) patches[i] = (float)pf_rng_normal(&r);
    for (int i = 0; i < N; i++) mask[i] = pf_rng_uniform(&r) < 0.7 ? 1.0f : 0.0f;

    double *ts = malloc(sizeof(double) * (size_t)(steps + infer_steps + 1));
    float loss = 0, first = 0;
    for (int s = 0; s < warm + steps; s++) {
        double t0 = bench_now();
        pf_mae_forward(m, p, patches, mask, B, F, TP, 1, pf_rng_key(1, (uint64_t)o->step, 0, 0), &loss);
        pf_mae_backward(m, p);
        pf_adamw_micro_step(o, p);
        if (s >= warm) ts[s - warm] = bench_now() - t0;
        if (s == 0) first = loss;
    }
    double step = bench_median(ts, steps);
    double enc_f, f = fwd_flops(&c, B, T, &enc_f);
    double train_flops = 3 * f - 2.0 * N * c.patch * c.dim;   /* patch embed needs no input grad */
    printf("train_step_ms=%.2f samples_per_s=%.1f gflops=%.1f loss_first=%.4f loss_last=%.4f params=%zu\n",
           1e3 * step, B / step, train_flops / step / 1e9, first, loss, p->n_params);

    /* encoder alone, forward + backward, for the share of sgemm peak */
    pf_encoder *e = pf_mae_encoder(m);
    float *x = malloc(sizeof(float) * (size_t)N * c.dim), *dy = malloc(sizeof(float) * (size_t)N * c.dim);
    for (size_t i = 0; i < (size_t)N * c.dim; i++) { x[i] = (float)pf_rng_normal(&r); dy[i] = (float)pf_rng_normal(&r); }
    for (int s = 0; s < warm + steps; s++) {
        double t0 = bench_now();
        pf_encoder_forward(e, p, x, B, T, 1, 5);
        pf_encoder_backward(e, p, dy, NULL);
        if (s >= warm) ts[s - warm] = bench_now() - t0;
    }
    double enc_t = bench_median(ts, steps);
    printf("encoder_ms=%.2f encoder_gflops=%.1f\n", 1e3 * enc_t, 3 * enc_f / enc_t / 1e9);

    for (int s = 0; s < 2 + infer_steps; s++) {
        double t0 = bench_now();
        pf_mae_forward(m, p, patches, mask, B, F, TP, 0, 0, &loss);
        if (s >= 2) ts[s - 2] = bench_now() - t0;
    }
    double inf = bench_median(ts, infer_steps);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("infer_ms=%.2f infer_samples_per_s=%.1f peak_rss_mb=%.1f arena_mb=%.1f\n", 1e3 * inf, B / inf,
           ru.ru_maxrss / 1024.0, (pf_mae_arena_bytes(m) + 4.0 * p->total * sizeof(float)) / 1048576.0);
    free(x); free(dy); free(ts); free(patches); free(mask);
    pf_adamw_destroy(o);
    pf_mae_destroy(m);
    pf_pstore_destroy(p);
    return 0;
}
