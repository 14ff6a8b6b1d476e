/* bench_full: the whole PhysioWave pretraining step, timed: wavelet front-end
 * (pf_wavelet, 12 leads x 2048 by default) -> Spec patches (P 64) -> embedding
 * (Linear, LayerNorm, GELU, 2-D sin-cos) -> frequency-guided masking (pf_mask,
 * token_sequence, 70 %, r 0.7) -> mask token -> encoder (preset) -> head (Linear,
 * GELU, Dropout, LayerNorm, Linear) -> masked MSE against the Spec patches (not
 * detached: the gradient reaches the front-end through target and embedding) ->
 * AdamW with clipping over all parameters. Dropout 0.1 everywhere, as training.
 *
 * The step is composed here from the public pieces (pf_wavelet, pf_encoder, pf_ops,
 * pf_mask) because pf_mae does not return the gradient of its input patches; at
 * start the composition's loss is checked against pf_mae_forward on the same
 * weights, Spec and mask (printed as check_rel_err).
 *
 *   bench_full --preset tiny --leads 12 --samples 2048 --batch 4 --steps 5 --warmup 2
 * Prints key=value lines for run.py. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "pf_error.h"
#include "pf_mask.h"
#include "pf_ops.h"
#include "pf_optim.h"
#include "pf_mae.h"
#include "pf_wavelet.h"
#include "../bench_common.h"

typedef struct {
    pf_tfm_cfg tc;
    pf_wavelet *w;
    pf_encoder *enc;
    pf_mask *mk;
    int B, C, T, F, TP, Ntok, N, D, P;
    int pe_w, pe_b, pn_w, pn_b, mtok, h1_w, h1_b, hn_w, hn_b, h2_w, h2_b;
    float *emb, *emb_mean, *emb_rstd, *emb_ln, *tok, *pos, *mask, *hh, *hg, *hln, *hln_mean, *hln_rstd, *pred;
    float *dpred, *dhln, *dhg, *dtmp, *dhh, *dz, *dtok, *dln, *demb, *dspec;
    uint8_t *hmask;
} full;

static float *fl(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
    return p;
}

// x [B, C, T] -> loss; train = 1: dropout on (wavelet, encoder, head)
static float full_forward(full *f, pf_pstore *p, const float *x, int train, uint64_t key)
{
    int N = f->N, D = f->D, P = f->P;
    pf_wavelet_forward(f->w, p, x, f->B, train, pf_rng_key(key, 1, 0, 0));
    const float *spec = pf_wavelet_output(f->w);   // [B, F, T] = patches [B, F*TP, P]
    pf_linear_forward(f->emb, spec, pf_pstore_data(p, f->pe_w), pf_pstore_data(p, f->pe_b), N, P, D);
    pf_layernorm_forward(f->emb_ln, f->emb_mean, f->emb_rstd, f->emb, pf_pstore_data(p, f->pn_w),
                         pf_pstore_data(p, f->pn_b), N, D, f->tc.ln_eps);
    pf_gelu_forward(f->tok, f->emb_ln, (size_t)N * D);
    for (int n = 0; n < N; n++) {
        float *row = f->tok + (size_t)n * D;
        const float *pe = f->pos + (size_t)(n % f->Ntok) * D;
        for (int d = 0; d < D; d++) row[d] += pe[d];
    }
    pf_mask_generate(f->mk, f->tok, f->B, D, pf_rng_key(key, 2, 0, 0), f->mask);
    const float *mt = pf_pstore_data(p, f->mtok);
    for (int n = 0; n < N; n++)
        if (f->mask[n] != 0.0f) memcpy(f->tok + (size_t)n * D, mt, (size_t)D * sizeof(float));
    pf_encoder_forward(f->enc, p, f->tok, f->B, f->Ntok, train, pf_rng_key(key, 3, 0, 0));
    const float *z = pf_encoder_output(f->enc);
    pf_linear_forward(f->hh, z, pf_pstore_data(p, f->h1_w), pf_pstore_data(p, f->h1_b), N, D, D);
    pf_gelu_forward(f->hg, f->hh, (size_t)N * D);
    pf_rng r;
    pf_rng_seed(&r, pf_rng_key(key, 4, 0, 0));
    pf_dropout_forward(f->hg, f->hmask, f->hg, (size_t)N * D, train ? f->tc.dropout : 0.0f, &r);
    pf_layernorm_forward(f->hln, f->hln_mean, f->hln_rstd, f->hg, pf_pstore_data(p, f->hn_w),
                         pf_pstore_data(p, f->hn_b), N, D, f->tc.ln_eps);
    pf_linear_forward(f->pred, f->hln, pf_pstore_data(p, f->h2_w), pf_pstore_data(p, f->h2_b), N, D, P);
    return pf_mse_masked_forward(f->pred, spec, f->mask, N, P);
}

static void full_backward(full *f, pf_pstore *p, int train)
{
    int N = f->N, D = f->D, P = f->P;
    size_t ND = (size_t)N * D;
    const float *spec = pf_wavelet_output(f->w);
    pf_mse_masked_backward(f->dpred, f->pred, spec, f->mask, N, P, 1.0f);
    for (size_t i = 0; i < (size_t)N * P; i++) f->dspec[i] = -f->dpred[i];   /* target path */
    memset(f->dhln, 0, ND * sizeof(float));
    pf_linear_backward(f->dhln, pf_pstore_grad(p, f->h2_w), pf_pstore_grad(p, f->h2_b), f->dpred, f->hln,
                       pf_pstore_data(p, f->h2_w), N, D, P);
    memset(f->dhg, 0, ND * sizeof(float));
    pf_layernorm_backward(f->dhg, pf_pstore_grad(p, f->hn_w), pf_pstore_grad(p, f->hn_b), f->dhln, f->hg,
                          f->hln_mean, f->hln_rstd, pf_pstore_data(p, f->hn_w), N, D);
    memset(f->dtmp, 0, ND * sizeof(float));
    pf_dropout_backward(f->dtmp, f->dhg, f->hmask, ND, train ? f->tc.dropout : 0.0f);
    memset(f->dhh, 0, ND * sizeof(float));
    pf_gelu_backward(f->dhh, f->dtmp, f->hh, ND);
    memset(f->dz, 0, ND * sizeof(float));
    pf_linear_backward(f->dz, pf_pstore_grad(p, f->h1_w), pf_pstore_grad(p, f->h1_b), f->dhh,
                       pf_encoder_output(f->enc), pf_pstore_data(p, f->h1_w), N, D, D);
    memset(f->dtok, 0, ND * sizeof(float));
    pf_encoder_backward(f->enc, p, f->dz, f->dtok);
    float *gmt = pf_pstore_grad(p, f->mtok);
    for (int n = 0; n < N; n++)
        if (f->mask[n] != 0.0f) {
            float *row = f->dtok + (size_t)n * D;
            for (int d = 0; d < D; d++) gmt[d] += row[d];
            memset(row, 0, (size_t)D * sizeof(float));
        }
    memset(f->dln, 0, ND * sizeof(float));
    pf_gelu_backward(f->dln, f->dtok, f->emb_ln, ND);
    memset(f->demb, 0, ND * sizeof(float));
    pf_layernorm_backward(f->demb, pf_pstore_grad(p, f->pn_w), pf_pstore_grad(p, f->pn_b), f->dln, f->emb,
                          f->emb_mean, f->emb_rstd, pf_pstore_data(p, f->pn_w), N, D);
    pf_linear_backward(f->dspec, pf_pstore_grad(p, f->pe_w), pf_pstore_grad(p, f->pe_b), f->demb, spec,
                       pf_pstore_data(p, f->pe_w), N, P, D);   /* embedding path (+=) */
    pf_wavelet_backward(f->w, p, f->dspec, NULL);
}

int main(int argc, char **argv)
{
    int B = 2, steps = 5, warm = 2, C = 12, T = 2048;
    const char *preset = "tiny";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) B = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warm = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--preset") && i + 1 < argc) preset = argv[++i];
        else if (!strcmp(argv[i], "--leads") && i + 1 < argc) C = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--samples") && i + 1 < argc) T = atoi(argv[++i]);
        else { fprintf(stderr, "usage: %s [--preset P] [--leads C] [--samples T] [--batch B] [--steps S] [--warmup W]\n", argv[0]); return 2; }
    }
    full f = {0};
    if (pf_tfm_preset(preset, &f.tc) < 0) { fprintf(stderr, "%s\n", pf_errmsg()); return 2; }
    pf_wavelet_cfg wc = pf_wavelet_cfg_defaults(C);
    f.B = B; f.C = C; f.T = T; f.D = f.tc.dim; f.P = f.tc.patch;
    if (T % f.P) { fprintf(stderr, "samples %d not a multiple of the patch %d\n", T, f.P); return 2; }
    f.F = (wc.levels + 1) * C; f.TP = T / f.P; f.Ntok = f.F * f.TP; f.N = B * f.Ntok;
    int D = f.D, P = f.P, N = f.N, Ntok = f.Ntok;
    pf_pstore *p = pf_pstore_create();
    f.w = pf_wavelet_create(&wc, p, "wavelet_decomp.", B, T);
    f.pe_w = pf_pstore_add(p, "patch_embed.proj.weight", 2, (int[]){D, P});
    f.pe_b = pf_pstore_add(p, "patch_embed.proj.bias", 1, &D);
    f.pn_w = pf_pstore_add(p, "patch_embed.norm.weight", 1, &D);
    f.pn_b = pf_pstore_add(p, "patch_embed.norm.bias", 1, &D);
    f.mtok = pf_pstore_add(p, "mask_token", 1, &D);
    f.enc = pf_encoder_create(&f.tc, p, "", B, Ntok);
    f.h1_w = pf_pstore_add(p, "head.fc1.weight", 2, (int[]){D, D});
    f.h1_b = pf_pstore_add(p, "head.fc1.bias", 1, &D);
    f.hn_w = pf_pstore_add(p, "head.norm.weight", 1, &D);
    f.hn_b = pf_pstore_add(p, "head.norm.bias", 1, &D);
    f.h2_w = pf_pstore_add(p, "head.fc2.weight", 2, (int[]){P, D});
    f.h2_b = pf_pstore_add(p, "head.fc2.bias", 1, &P);
    pf_mask_cfg mc = pf_mask_cfg_defaults();
    f.mk = pf_mask_create(&mc, Ntok);
    if (!f.w || !f.enc || !f.mk || pf_pstore_finalize(p) < 0) { fprintf(stderr, "%s\n", pf_errmsg()); return 1; }
    /* initialisation as pf_mae_init / pf_wavelet_init */
    pf_rng r;
    pf_rng_seed(&r, 3);
    pf_wavelet_init(f.w, p, 1);
    pf_encoder_init(f.enc, p, 2);
    float bound = 1.0f / sqrtf((float)P);
    pf_init_uniform(pf_pstore_data(p, f.pe_w), (size_t)D * P, -bound, bound, &r);
    pf_init_uniform(pf_pstore_data(p, f.pe_b), (size_t)D, -bound, bound, &r);
    pf_init_const(pf_pstore_data(p, f.pn_w), (size_t)D, 1.0f);
    pf_init_normal(pf_pstore_data(p, f.mtok), (size_t)D, 0.02f, &r);
    pf_init_normal(pf_pstore_data(p, f.h1_w), (size_t)D * D, 0.02f, &r);
    pf_init_const(pf_pstore_data(p, f.hn_w), (size_t)D, 1.0f);
    pf_init_normal(pf_pstore_data(p, f.h2_w), (size_t)P * D, 0.02f, &r);
    size_t ND = (size_t)N * D;
    f.emb = fl(ND); f.emb_mean = fl(N); f.emb_rstd = fl(N); f.emb_ln = fl(ND); f.tok = fl(ND);
    f.pos = fl((size_t)Ntok * D); f.mask = fl(N); f.hh = fl(ND); f.hg = fl(ND); f.hln = fl(ND);
    f.hln_mean = fl(N); f.hln_rstd = fl(N); f.pred = fl((size_t)N * P); f.dpred = fl((size_t)N * P);
    f.dhln = fl(ND); f.dhg = fl(ND); f.dtmp = fl(ND); f.dhh = fl(ND); f.dz = fl(ND); f.dtok = fl(ND);
    f.dln = fl(ND); f.demb = fl(ND); f.dspec = fl((size_t)N * P);
    f.hmask = malloc(ND);
    pf_posembed_2d_sincos(f.pos, f.F, f.TP, D);
    float *x = fl((size_t)B * C * T);
    for (size_t i = 0; i < (size_t)B * C * T; i++) x[i] = (float)pf_rng_normal(&r);

    /* the composition equals pf_mae on the same weights, Spec and mask (eval) */
    float l0 = full_forward(&f, p, x, 0, 7), lm = 0;
    pf_pstore *p2 = pf_pstore_create();
    pf_mae *m = pf_mae_create(&f.tc, p2, B, Ntok);
    pf_pstore_finalize(p2);
    for (int i = 0; i < p2->count; i++)
        memcpy(pf_pstore_data(p2, i), pf_pstore_data(p, pf_pstore_find(p, p2->info[i].name)),
               p2->info[i].n * sizeof(float));
    pf_mae_forward(m, p2, pf_wavelet_output(f.w), f.mask, B, f.F, f.TP, 0, 0, &lm);
    double check = fabs((double)l0 - lm) / fabs((double)lm);
    pf_mae_destroy(m);
    pf_pstore_destroy(p2);

    pf_adamw_cfg ac = pf_adamw_defaults();
    ac.lr = 2e-5f; ac.beta2 = 0.95f; ac.weight_decay = 1e-3f; ac.warmup_steps = 2; ac.total_steps = 1000;
    pf_adamw *o = pf_adamw_create(&ac);
    double *ts = malloc(sizeof(double) * (size_t)(steps + 1)), *tw = malloc(sizeof(double) * (size_t)(steps + 1));
    float loss = 0, first = 0;
    for (int s = 0; s < warm + steps; s++) {
        double t0 = bench_now();
        loss = full_forward(&f, p, x, 1, pf_rng_key(1, (uint64_t)o->step, 0, 0));
        full_backward(&f, p, 1);
        pf_adamw_micro_step(o, p);
        if (s >= warm) ts[s - warm] = bench_now() - t0;
        if (s == 0) first = loss;
    }
    /* the front-end alone, forward + backward, for the breakdown */
    for (int s = 0; s < warm + steps; s++) {
        double t0 = bench_now();
        pf_wavelet_forward(f.w, p, x, B, 1, 11);
        pf_wavelet_backward(f.w, p, f.dspec, NULL);
        if (s >= warm) tw[s - warm] = bench_now() - t0;
    }
    double step = bench_median(ts, steps), wt = bench_median(tw, steps);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("train_step_ms=%.2f samples_per_s=%.2f wavelet_ms=%.2f loss_first=%.5f loss_last=%.5f params=%zu "
           "check_rel_err=%.2e tokens=%d peak_rss_mb=%.1f\n",
           1e3 * step, B / step, 1e3 * wt, first, loss, p->n_params, check, Ntok, ru.ru_maxrss / 1024.0);
    pf_adamw_destroy(o);
    pf_mask_destroy(f.mk);
    pf_encoder_destroy(f.enc);
    pf_wavelet_destroy(f.w);
    pf_pstore_destroy(p);
    return check < 1e-5 ? 0 : 1;
}
