#include "pf_tstage.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pf_error.h"
#include "pf_ops.h"

struct pf_tstage {
    pf_tfm_cfg cfg;
    pf_mask_cfg mcfg;
    pf_encoder *enc;
    pf_mask *masker;
    int masker_L, mask_rows;
    int max_B, max_T, D, P;
    int pe_w, pe_b, pn_w, pn_b, mask_tok;
    pf_arena *arena;
    float *emb, *emb_mean, *emb_rstd, *emb_ln, *tokens, *pos, *mask, *dtok, *demb_ln, *demb, *denc;
    const float *patches;
    int B, F, TP, pos_F, pos_TP;
};

static size_t layout(pf_tstage *s, pf_arena *a)
{
    size_t N = (size_t)s->max_B * s->max_T, D = s->D, total = 0;
#define TAKE(ptr, count) PF_ARENA_TAKE(ptr, float, count)
    TAKE(s->emb, N * D); TAKE(s->emb_mean, N); TAKE(s->emb_rstd, N); TAKE(s->emb_ln, N * D);
    TAKE(s->tokens, N * D); TAKE(s->pos, (size_t)s->max_T * D); TAKE(s->mask, N);
    TAKE(s->dtok, N * D); TAKE(s->demb_ln, N * D); TAKE(s->demb, N * D); TAKE(s->denc, N * D);
#undef TAKE
    return total;
}

pf_tstage *pf_tstage_create(const pf_tfm_cfg *cfg, const pf_mask_cfg *mc, pf_pstore *p, int max_B, int max_T)
{
    if (pf_tfm_validate(cfg) < 0) return NULL;
    if (max_B <= 0 || max_T <= 0) { pf_err(PF_ERANGE, "tstage: max_B %d, max_T %d must be > 0", max_B, max_T); return NULL; }
    pf_tstage *s = calloc(1, sizeof *s);
    if (!s) { pf_err(PF_ENOMEM, "tstage: cannot allocate"); return NULL; }
    s->cfg = *cfg;
    s->mcfg = mc ? *mc : pf_mask_cfg_defaults();
    s->max_B = max_B;
    s->max_T = max_T;
    int D = s->D = cfg->dim, P = s->P = cfg->patch;
    s->pe_w = pf_pstore_add(p, "patch_embed.proj.weight", 2, (int[]){D, P});
    s->pe_b = pf_pstore_add(p, "patch_embed.proj.bias", 1, &D);
    s->pn_w = pf_pstore_add(p, "patch_embed.norm.weight", 1, &D);
    s->pn_b = pf_pstore_add(p, "patch_embed.norm.bias", 1, &D);
    s->mask_tok = pf_pstore_add(p, "mask_token", 1, &D);
    s->enc = pf_encoder_create(cfg, p, "", max_B, max_T);
    if (!s->enc || s->pe_w < 0 || s->pe_b < 0 || s->pn_w < 0 || s->pn_b < 0 || s->mask_tok < 0) {
        pf_err_context(PF_EINVAL, "tstage: building '%s'", cfg->name);
        pf_tstage_destroy(s);
        return NULL;
    }
    s->arena = pf_arena_create(layout(s, NULL));
    if (!s->arena) { pf_tstage_destroy(s); return NULL; }
    layout(s, s->arena);
    return s;
}

void pf_tstage_init(pf_tstage *s, pf_pstore *p, pf_rng *r, uint64_t enc_key)
{
    /* the reference's patch embedding is a Conv2d: PyTorch's default
     * kaiming_uniform(a = sqrt 5) = U(+-1/sqrt(fan_in)) for weight and bias */
    float bound = 1.0f / sqrtf((float)s->P);
    pf_init_uniform(pf_pstore_data(p, s->pe_w), p->info[s->pe_w].n, -bound, bound, r);
    pf_init_uniform(pf_pstore_data(p, s->pe_b), p->info[s->pe_b].n, -bound, bound, r);
    pf_init_ln(p, s->pn_w, s->pn_b);
    pf_init_normal(pf_pstore_data(p, s->mask_tok), (size_t)s->D, 0.02f, r);
    pf_encoder_init(s->enc, p, enc_key);
}

int pf_tstage_forward(pf_tstage *s, pf_pstore *p, const float *spec, int B, int F, int TP, const float *mask,
                      int train, uint64_t mask_key, uint64_t drop_key)
{
    int T = F * TP, D = s->D, P = s->P, N = B * T;
    if (B <= 0 || F <= 0 || TP <= 0 || B > s->max_B || T > s->max_T)
        return pf_err(PF_ERANGE, "transformer stage: B %d, %d rows x %d patches outside the reserved %d x %d tokens",
                      B, F, TP, s->max_B, s->max_T);
    s->patches = spec;
    s->B = B; s->F = F; s->TP = TP;
    if (s->pos_F != F || s->pos_TP != TP) {
        pf_posembed_2d_sincos(s->pos, F, TP, D);
        s->pos_F = F;
        s->pos_TP = TP;
    }
    // tokens [N, D] = GELU(LN(patches [N, P] W^T + b)) + pos
    pf_linear_forward(s->emb, spec, pf_pstore_data(p, s->pe_w), pf_pstore_data(p, s->pe_b), N, P, D);
    pf_layernorm_forward(s->emb_ln, s->emb_mean, s->emb_rstd, s->emb, pf_pstore_data(p, s->pn_w),
                         pf_pstore_data(p, s->pn_b), N, D, s->cfg.ln_eps);
    pf_gelu_forward(s->tokens, s->emb_ln, (size_t)N * D);
    for (int n = 0; n < N; n++) {
        float *row = s->tokens + (size_t)n * D;
        const float *pe = s->pos + (size_t)(n % T) * D;
        for (int d = 0; d < D; d++) row[d] += pe[d];
    }
    if (mask) {
        memcpy(s->mask, mask, sizeof(float) * (size_t)N);
    } else {
        /* frequency-guided: importance of each embedded token (or patch), plus noise from mask_key */
        if (!s->masker || s->masker_L != T) {
            pf_mask_destroy(s->masker);
            s->masker = pf_mask_create(&s->mcfg, T);
            s->masker_L = T;
            if (!s->masker) return pf_err_context(PF_EINVAL, "transformer stage: masking %d tokens", T);
        }
        /* only the first mask_rows windows (the anchors), when set: the rest pass unmasked */
        int mb = s->mask_rows > 0 && s->mask_rows < B ? s->mask_rows : B;
        int rc = s->mcfg.importance == PF_IMPORTANCE_PATCH_ENERGY
                     ? pf_mask_generate(s->masker, spec, mb, P, mask_key, s->mask)
                     : pf_mask_generate(s->masker, s->tokens, mb, D, mask_key, s->mask);
        if (rc < 0) return rc;
        memset(s->mask + (size_t)mb * T, 0, sizeof(float) * (size_t)(B - mb) * T);
    }
    const float *mt = pf_pstore_data(p, s->mask_tok);
    for (int n = 0; n < N; n++)
        if (s->mask[n] != 0.0f) memcpy(s->tokens + (size_t)n * D, mt, (size_t)D * sizeof(float));
    return pf_encoder_forward(s->enc, p, s->tokens, B, T, train, drop_key);
}

const float *pf_tstage_encoded(const pf_tstage *s) { return pf_encoder_output(s->enc); }
void pf_tstage_set_mask_rows(pf_tstage *s, int rows) { s->mask_rows = rows; }
const float *pf_tstage_mask(const pf_tstage *s) { return s->mask; }
pf_encoder *pf_tstage_encoder(pf_tstage *s) { return s->enc; }
float *pf_tstage_scratch_denc(pf_tstage *s) { return s->denc; }

int pf_tstage_backward(pf_tstage *s, pf_pstore *p, const float *d_enc, const float *d_target, float *d_spec)
{
    if (!s->patches) return pf_err(PF_ESTATE, "transformer stage backward: no forward pass yet");
    int B = s->B, T = s->F * s->TP, D = s->D, P = s->P, N = B * T;
    size_t ND = (size_t)N * D;
    memset(s->dtok, 0, ND * sizeof(float));
    int rc = pf_encoder_backward(s->enc, p, d_enc, s->dtok);
    if (rc < 0) return rc;
    // masked tokens: gradient to mask_token; the others through the GELU(LN(linear)) embedding
    float *gmt = pf_pstore_grad(p, s->mask_tok);
    for (int n = 0; n < N; n++) {
        float *row = s->dtok + (size_t)n * D;
        if (s->mask[n] != 0.0f) {
            for (int d = 0; d < D; d++) gmt[d] += row[d];
            memset(row, 0, (size_t)D * sizeof(float));
        }
    }
    memset(s->demb_ln, 0, ND * sizeof(float));
    pf_gelu_backward(s->demb_ln, s->dtok, s->emb_ln, ND);
    memset(s->demb, 0, ND * sizeof(float));
    pf_layernorm_backward(s->demb, pf_pstore_grad(p, s->pn_w), pf_pstore_grad(p, s->pn_b), s->demb_ln,
                          s->emb, s->emb_mean, s->emb_rstd, pf_pstore_data(p, s->pn_w), N, D);
    if (d_spec) {
        /* the spec's patches feed the embedding and, undetached, the target */
        if (d_target) memcpy(d_spec, d_target, sizeof(float) * (size_t)N * P);
        else memset(d_spec, 0, sizeof(float) * (size_t)N * P);
    }
    pf_linear_backward(d_spec, pf_pstore_grad(p, s->pe_w), pf_pstore_grad(p, s->pe_b), s->demb,
                       s->patches, pf_pstore_data(p, s->pe_w), N, P, D);
    return PF_OK;
}

size_t pf_tstage_arena_bytes(const pf_tstage *s)
{
    return (s->arena ? s->arena->cap : 0) + pf_encoder_arena_bytes(s->enc);
}

void pf_tstage_destroy(pf_tstage *s)
{
    if (!s) return;
    pf_encoder_destroy(s->enc);
    pf_mask_destroy(s->masker);
    pf_arena_destroy(s->arena);
    free(s);
}
