#include "pf_mae.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_error.h"
#include "pf_ops.h"
#include "pf_parallel.h"

/* ============================ masked reconstruction model ================== */

struct pf_mae {
    pf_tfm_cfg cfg;
    pf_encoder *enc;
    int max_B, max_T, D, P;
    int pe_w, pe_b, pn_w, pn_b, mask_tok, h1_w, h1_b, hn_w, hn_b, h2_w, h2_b;
    pf_arena *arena;
    float *emb, *emb_mean, *emb_rstd, *emb_ln, *tokens, *pos;
    float *hh, *hg, *hln, *hln_mean, *hln_rstd, *pred, *dpred, *dhln, *dhg, *dhh, *dx, *dtok;
    uint8_t *hmask;
    const float *patches, *mask;
    int B, F, TP, pos_F, pos_TP, train;
};

static size_t mae_layout(pf_mae *m, pf_arena *a)
{
    size_t N = (size_t)m->max_B * m->max_T, D = m->D, P = m->P, total = 0;
#define TAKE(ptr, type, count)                                                  \
    do {                                                                        \
        size_t bytes_ = (count) * sizeof(type);                                 \
        total += (bytes_ + PF_ALIGN - 1) / PF_ALIGN * PF_ALIGN;                 \
        if (a) (ptr) = (type *)pf_arena_alloc(a, bytes_);                       \
    } while (0)
    TAKE(m->emb, float, N * D); TAKE(m->emb_mean, float, N); TAKE(m->emb_rstd, float, N);
    TAKE(m->emb_ln, float, N * D); TAKE(m->tokens, float, N * D); TAKE(m->pos, float, (size_t)m->max_T * D);
    TAKE(m->hh, float, N * D); TAKE(m->hg, float, N * D); TAKE(m->hln, float, N * D);
    TAKE(m->hln_mean, float, N); TAKE(m->hln_rstd, float, N); TAKE(m->pred, float, N * P);
    TAKE(m->dpred, float, N * P); TAKE(m->dhln, float, N * D); TAKE(m->dhg, float, N * D);
    TAKE(m->dhh, float, N * D); TAKE(m->dx, float, N * D); TAKE(m->dtok, float, N * D);
    TAKE(m->hmask, uint8_t, N * D);
#undef TAKE
    return total;
}

pf_mae *pf_mae_create(const pf_tfm_cfg *cfg, pf_pstore *p, int max_B, int max_T)
{
    if (pf_tfm_validate(cfg) < 0) return NULL;
    pf_mae *m = calloc(1, sizeof *m);
    if (!m) { pf_err(PF_ENOMEM, "mae: cannot allocate"); return NULL; }
    m->cfg = *cfg;
    m->max_B = max_B;
    m->max_T = max_T;
    int D = m->D = cfg->dim, P = m->P = cfg->patch;
    m->pe_w = pf_pstore_add(p, "patch_embed.proj.weight", 2, (int[]){D, P});
    m->pe_b = pf_pstore_add(p, "patch_embed.proj.bias", 1, &D);
    m->pn_w = pf_pstore_add(p, "patch_embed.norm.weight", 1, &D);
    m->pn_b = pf_pstore_add(p, "patch_embed.norm.bias", 1, &D);
    m->mask_tok = pf_pstore_add(p, "mask_token", 1, &D);
    m->enc = pf_encoder_create(cfg, p, "", max_B, max_T);
    m->h1_w = pf_pstore_add(p, "head.fc1.weight", 2, (int[]){D, D});
    m->h1_b = pf_pstore_add(p, "head.fc1.bias", 1, &D);
    m->hn_w = pf_pstore_add(p, "head.norm.weight", 1, &D);
    m->hn_b = pf_pstore_add(p, "head.norm.bias", 1, &D);
    m->h2_w = pf_pstore_add(p, "head.fc2.weight", 2, (int[]){P, D});
    m->h2_b = pf_pstore_add(p, "head.fc2.bias", 1, &P);
    if (!m->enc || m->pe_w < 0 || m->pe_b < 0 || m->pn_w < 0 || m->pn_b < 0 || m->mask_tok < 0 ||
        m->h1_w < 0 || m->h1_b < 0 || m->hn_w < 0 || m->hn_b < 0 || m->h2_w < 0 || m->h2_b < 0) {
        pf_err_context(PF_EINVAL, "mae: building '%s'", cfg->name);
        pf_mae_destroy(m);
        return NULL;
    }
    m->arena = pf_arena_create(mae_layout(m, NULL));
    if (!m->arena) { pf_mae_destroy(m); return NULL; }
    mae_layout(m, m->arena);
    return m;
}

void pf_mae_init(pf_mae *m, pf_pstore *p, uint64_t seed)
{
    pf_rng r;
    pf_rng_seed(&r, pf_rng_key(seed, 0x696e6974ull, 0, 0));
    /* patch embedding is a Conv2d in the reference: PyTorch's default
     * kaiming_uniform(a = sqrt 5) = U(+-1/sqrt(fan_in)) for weight and bias */
    float bound = 1.0f / sqrtf((float)m->P);
    pf_init_uniform(pf_pstore_data(p, m->pe_w), p->info[m->pe_w].n, -bound, bound, &r);
    pf_init_uniform(pf_pstore_data(p, m->pe_b), p->info[m->pe_b].n, -bound, bound, &r);
    pf_init_ln(p, m->pn_w, m->pn_b);
    pf_init_normal(pf_pstore_data(p, m->mask_tok), (size_t)m->D, 0.02f, &r);
    pf_encoder_init(m->enc, p, pf_rng_key(seed, 0x656e63ull, 0, 0));
    pf_init_linear(p, m->h1_w, m->h1_b, &r);
    pf_init_ln(p, m->hn_w, m->hn_b);
    pf_init_linear(p, m->h2_w, m->h2_b, &r);
}

int pf_mae_forward(pf_mae *m, pf_pstore *p, const float *patches, const float *mask, int B,
                   int F, int TP, int train, uint64_t key, float *loss)
{
    int T = F * TP, D = m->D, P = m->P, N = B * T;
    if (B <= 0 || F <= 0 || TP <= 0 || B > m->max_B || T > m->max_T)
        return pf_err(PF_ERANGE, "mae forward: B %d, F %d x TP %d outside the reserved %d x %d",
                      B, F, TP, m->max_B, m->max_T);
    m->patches = patches;
    m->mask = mask;
    m->B = B; m->F = F; m->TP = TP; m->train = train;
    if (m->pos_F != F || m->pos_TP != TP) {
        pf_posembed_2d_sincos(m->pos, F, TP, D);
        m->pos_F = F;
        m->pos_TP = TP;
    }
    // tokens [N, D] = GELU(LN(patches [N, P] W^T + b)) + pos; masked -> mask_token
    pf_linear_forward(m->emb, patches, pf_pstore_data(p, m->pe_w), pf_pstore_data(p, m->pe_b), N, P, D);
    pf_layernorm_forward(m->emb_ln, m->emb_mean, m->emb_rstd, m->emb, pf_pstore_data(p, m->pn_w),
                         pf_pstore_data(p, m->pn_b), N, D, m->cfg.ln_eps);
    pf_gelu_forward(m->tokens, m->emb_ln, (size_t)N * D);
    const float *mt = pf_pstore_data(p, m->mask_tok);
    for (int n = 0; n < N; n++) {
        float *row = m->tokens + (size_t)n * D;
        if (mask && mask[n] != 0.0f) memcpy(row, mt, (size_t)D * sizeof(float));
        else {
            const float *pe = m->pos + (size_t)(n % T) * D;
            for (int d = 0; d < D; d++) row[d] += pe[d];
        }
    }
    int rc = pf_encoder_forward(m->enc, p, m->tokens, B, T, train, key);
    if (rc < 0) return rc;
    const float *z = pf_encoder_output(m->enc);
    // head: Linear D->D, GELU, Drop, LN, Linear D->P
    pf_linear_forward(m->hh, z, pf_pstore_data(p, m->h1_w), pf_pstore_data(p, m->h1_b), N, D, D);
    pf_gelu_forward(m->hg, m->hh, (size_t)N * D);
    float pdrop = train ? m->cfg.dropout : 0.0f;
    if (pdrop > 0) pf_drop_forward(m->hg, m->hmask, (size_t)N * D, pdrop, key, 0x68656164, 0);
    pf_layernorm_forward(m->hln, m->hln_mean, m->hln_rstd, m->hg, pf_pstore_data(p, m->hn_w),
                         pf_pstore_data(p, m->hn_b), N, D, m->cfg.ln_eps);
    pf_linear_forward(m->pred, m->hln, pf_pstore_data(p, m->h2_w), pf_pstore_data(p, m->h2_b), N, D, P);
    if (loss) *loss = pf_mse_masked_forward(m->pred, patches, mask, N, P);
    return PF_OK;
}

int pf_mae_backward(pf_mae *m, pf_pstore *p)
{
    if (!m->patches) return pf_err(PF_ESTATE, "mae backward: no forward pass yet");
    int B = m->B, T = m->F * m->TP, D = m->D, P = m->P, N = B * T;
    size_t ND = (size_t)N * D;
    pf_mse_masked_backward(m->dpred, m->pred, m->patches, m->mask, N, P, 1.0f);
    memset(m->dhln, 0, ND * sizeof(float));
    pf_linear_backward(m->dhln, pf_pstore_grad(p, m->h2_w), pf_pstore_grad(p, m->h2_b), m->dpred,
                       m->hln, pf_pstore_data(p, m->h2_w), N, D, P);
    memset(m->dhg, 0, ND * sizeof(float));
    pf_layernorm_backward(m->dhg, pf_pstore_grad(p, m->hn_w), pf_pstore_grad(p, m->hn_b), m->dhln,
                          m->hg, m->hln_mean, m->hln_rstd, pf_pstore_data(p, m->hn_w), N, D);
    float pdrop = m->train ? m->cfg.dropout : 0.0f;
    if (pdrop > 0) pf_drop_backward_inplace(m->dhg, m->hmask, ND, pdrop);
    memset(m->dhh, 0, ND * sizeof(float));
    pf_gelu_backward(m->dhh, m->dhg, m->hh, ND);
    memset(m->dx, 0, ND * sizeof(float));
    pf_linear_backward(m->dx, pf_pstore_grad(p, m->h1_w), pf_pstore_grad(p, m->h1_b), m->dhh,
                       pf_encoder_output(m->enc), pf_pstore_data(p, m->h1_w), N, D, D);
    memset(m->dtok, 0, ND * sizeof(float));
    int rc = pf_encoder_backward(m->enc, p, m->dx, m->dtok);
    if (rc < 0) return rc;
    // masked tokens: gradient to mask_token; others through the GELU(LN(linear)) embedding
    float *gmt = pf_pstore_grad(p, m->mask_tok);
    for (int n = 0; n < N; n++) {
        float *row = m->dtok + (size_t)n * D;
        if (m->mask && m->mask[n] != 0.0f) {
            for (int d = 0; d < D; d++) gmt[d] += row[d];
            memset(row, 0, (size_t)D * sizeof(float));
        }
    }
    memset(m->dhg, 0, ND * sizeof(float));   /* reuse as d emb_ln */
    pf_gelu_backward(m->dhg, m->dtok, m->emb_ln, ND);
    memset(m->dhh, 0, ND * sizeof(float));   /* reuse as d emb */
    pf_layernorm_backward(m->dhh, pf_pstore_grad(p, m->pn_w), pf_pstore_grad(p, m->pn_b), m->dhg,
                          m->emb, m->emb_mean, m->emb_rstd, pf_pstore_data(p, m->pn_w), N, D);
    pf_linear_backward(NULL, pf_pstore_grad(p, m->pe_w), pf_pstore_grad(p, m->pe_b), m->dhh,
                       m->patches, pf_pstore_data(p, m->pe_w), N, P, D);
    return PF_OK;
}

const float *pf_mae_pred(const pf_mae *m) { return m->pred; }
const float *pf_mae_encoded(const pf_mae *m) { return pf_encoder_output(m->enc); }
pf_encoder *pf_mae_encoder(pf_mae *m) { return m->enc; }
size_t pf_mae_arena_bytes(const pf_mae *m)
{
    return (m->arena ? m->arena->cap : 0) + pf_encoder_arena_bytes(m->enc);
}

void pf_mae_destroy(pf_mae *m)
{
    if (!m) return;
    pf_encoder_destroy(m->enc);
    pf_arena_destroy(m->arena);
    free(m);
}
