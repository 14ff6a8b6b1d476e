#include "pf_encoder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_error.h"
#include "pf_ops.h"
#include "pf_parallel.h"

/* ============================ configs ====================================== */

int pf_tfm_preset(const char *name, pf_tfm_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->mlp_ratio = 4;
    c->rope_base = 10000.0f;
    c->dropout = 0.1f;
    c->ln_eps = 1e-5f;
    c->patch = 64;
    if (strcmp(name, "tiny") == 0) { c->dim = 128; c->depth = 4; c->heads = 4; }
    else if (strcmp(name, "small") == 0) { c->dim = 256; c->depth = 6; c->heads = 8; }
    else if (strcmp(name, "physiowave-ecg") == 0) { c->dim = 384; c->depth = 8; c->heads = 12; c->attn_lean = 1; }
    else return pf_err(PF_ENOTFOUND, "transformer preset '%s' (tiny, small, physiowave-ecg)", name);
    snprintf(c->name, sizeof c->name, "%s", name);
    return PF_OK;
}

int pf_tfm_validate(const pf_tfm_cfg *c)
{
    if (c->dim <= 0 || c->depth <= 0 || c->heads <= 0 || c->mlp_ratio <= 0 || c->patch <= 0)
        return pf_err(PF_ERANGE, "transformer: dim %d, depth %d, heads %d, mlp_ratio %d, patch %d must be > 0",
                      c->dim, c->depth, c->heads, c->mlp_ratio, c->patch);
    if (c->dim % c->heads)
        return pf_err(PF_EINVAL, "transformer: dim %d not divisible by heads %d", c->dim, c->heads);
    int hd = c->dim / c->heads;
    if (c->rope_dim < 0 || c->rope_dim > hd || c->rope_dim % 2)
        return pf_err(PF_EINVAL, "transformer: rope_dim %d must be even and <= head dim %d", c->rope_dim, hd);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return pf_err(PF_ERANGE, "transformer: dropout %g outside [0, 1)", c->dropout);
    if (c->dim % 4)
        return pf_err(PF_EINVAL, "transformer: dim %d must be a multiple of 4 (2-D sin-cos)", c->dim);
    return PF_OK;
}

size_t pf_encoder_param_count(const pf_tfm_cfg *c)
{
    size_t D = c->dim, Hm = (size_t)c->mlp_ratio * D;
    size_t block = 2 * D + (3 * D * D + 3 * D) + (D * D + D) + 2 * D + (Hm * D + Hm) + (D * Hm + D);
    return (size_t)c->depth * block + 2 * D;
}

size_t pf_mae_param_count(const pf_tfm_cfg *c)
{
    size_t D = c->dim, P = c->patch;
    return (P * D + D + 2 * D) + D + pf_encoder_param_count(c) + (D * D + D + 2 * D + D * P + P);
}

/* ============================ encoder ====================================== */

typedef struct {
    int norm1_w, norm1_b, qkv_w, qkv_b, proj_w, proj_b, norm2_w, norm2_b, fc1_w, fc1_b, fc2_w, fc2_b;
} block_ids;

typedef struct {
    float *ln1, *ln1_mean, *ln1_rstd;     // [N, D], [N], [N]
    float *q, *k, *v;                     // [B, H, T, hd] (q, k after RoPE)
    float *att;                           // [B, H, T, T]
    float *merged;                        // [N, D] attention output before proj
    float *res_mid;                       // [N, D]
    float *ln2, *ln2_mean, *ln2_rstd;
    float *h;                             // [N, Hm] GELU'(fc1 output): all the backward needs
    float *g;                             // [N, Hm] Drop(GELU(h))
    uint8_t *m_attn, *m_gelu, *m_fc2a, *m_fc2b;   /* dropout masks (NULL when p = 0) */
} block_acts;

struct pf_encoder {
    pf_tfm_cfg cfg;
    int max_B, max_T, D, H, hd, Hm, rope_dim;
    block_ids *ids;
    int norm_w, norm_b;
    pf_arena *arena;
    block_acts *acts;
    float **res;                          /* depth + 1 residual streams [N, D] */
    float *out, *out_mean, *out_rstd;     /* final LayerNorm */
    /* scratch shared by all layers */
    float *qkv, *ohm, *tmp, *rope;
    float *dres, *dln, *dqkv, *dq, *dk, *dv, *dohm, *dmerged, *dh, *dg, *dtmp, *datt;
    int B, T, rope_T;                     /* shape of the last forward */
    int scratch_threads;                  /* attention scratch reserved for this many workers */
    int train;
};

int pf_param_add(pf_pstore *p, const char *prefix, const char *name, int ndim, const int *shape)
{
    char full[PF_NAME_MAX + 32];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return pf_pstore_add(p, full, ndim, shape);
}

/* Plans (arena == NULL: counts bytes) or carves the activation buffers. */
static size_t encoder_layout(pf_encoder *e, pf_arena *a)
{
    size_t N = (size_t)e->max_B * e->max_T, D = e->D, Hm = e->Hm, T = e->max_T;
    size_t total = 0;
    int drop = e->cfg.dropout > 0.0f;
#define TAKE(ptr, type, count) PF_ARENA_TAKE(ptr, type, count)
    for (int l = 0; l <= e->cfg.depth; l++) TAKE(e->res[l], float, N * D);
    for (int l = 0; l < e->cfg.depth; l++) {
        block_acts *b = &e->acts[l];
        TAKE(b->ln1, float, N * D); TAKE(b->ln1_mean, float, N); TAKE(b->ln1_rstd, float, N);
        TAKE(b->q, float, N * D); TAKE(b->k, float, N * D); TAKE(b->v, float, N * D);
        if (!e->cfg.attn_lean) TAKE(b->att, float, (size_t)e->max_B * e->H * T * T);
        TAKE(b->merged, float, N * D); TAKE(b->res_mid, float, N * D);
        TAKE(b->ln2, float, N * D); TAKE(b->ln2_mean, float, N); TAKE(b->ln2_rstd, float, N);
        TAKE(b->h, float, N * Hm); TAKE(b->g, float, N * Hm);
        if (drop) {
            TAKE(b->m_attn, uint8_t, N * D); TAKE(b->m_gelu, uint8_t, N * Hm);
            TAKE(b->m_fc2a, uint8_t, N * D); TAKE(b->m_fc2b, uint8_t, N * D);
        }
    }
    TAKE(e->out, float, N * D); TAKE(e->out_mean, float, N); TAKE(e->out_rstd, float, N);
    TAKE(e->qkv, float, N * 3 * D); TAKE(e->ohm, float, N * D); TAKE(e->tmp, float, N * D);
    TAKE(e->rope, float, T * (size_t)e->rope_dim);
    TAKE(e->dres, float, N * D); TAKE(e->dln, float, N * D); TAKE(e->dqkv, float, N * 3 * D);
    TAKE(e->dq, float, N * D); TAKE(e->dk, float, N * D); TAKE(e->dv, float, N * D);
    TAKE(e->dohm, float, N * D); TAKE(e->dmerged, float, N * D);
    TAKE(e->dh, float, N * Hm); TAKE(e->dg, float, N * Hm); TAKE(e->dtmp, float, N * D);
    e->scratch_threads = pf_threads();
    TAKE(e->datt, float, 2 * pf_sdpa_scratch((int)T, (int)T));
#undef TAKE
    return total;
}

pf_encoder *pf_encoder_create(const pf_tfm_cfg *cfg, pf_pstore *p, const char *prefix,
                              int max_B, int max_T)
{
    if (pf_tfm_validate(cfg) < 0) return NULL;
    if (max_B <= 0 || max_T <= 0) {
        pf_err(PF_ERANGE, "encoder: max_B %d and max_T %d must be > 0", max_B, max_T);
        return NULL;
    }
    pf_encoder *e = calloc(1, sizeof *e);
    if (!e) { pf_err(PF_ENOMEM, "encoder: cannot allocate"); return NULL; }
    e->cfg = *cfg;
    e->max_B = max_B;
    e->max_T = max_T;
    e->D = cfg->dim;
    e->H = cfg->heads;
    e->hd = cfg->dim / cfg->heads;
    e->Hm = cfg->mlp_ratio * cfg->dim;
    e->rope_dim = cfg->rope_dim ? cfg->rope_dim : e->hd;
    e->ids = calloc((size_t)cfg->depth, sizeof *e->ids);
    e->acts = calloc((size_t)cfg->depth, sizeof *e->acts);
    e->res = calloc((size_t)cfg->depth + 1, sizeof *e->res);
    if (!e->ids || !e->acts || !e->res) {
        pf_err(PF_ENOMEM, "encoder: cannot allocate tables for depth %d", cfg->depth);
        pf_encoder_destroy(e);
        return NULL;
    }
    int D = e->D, Hm = e->Hm, rc = 0;
    char nm[PF_NAME_MAX];
#define ADD(field, suffix, ...)                                                          \
    do {                                                                                 \
        int sh_[] = {__VA_ARGS__};                                                       \
        snprintf(nm, sizeof nm, "blocks.%d.%s", l, suffix);                              \
        int id_ = pf_param_add(p, prefix, nm, (int)(sizeof sh_ / sizeof *sh_), sh_);        \
        if (id_ < 0) rc = id_;                                                           \
        e->ids[l].field = id_;                                                           \
    } while (0)
    for (int l = 0; l < cfg->depth; l++) {
        ADD(norm1_w, "norm1.weight", D); ADD(norm1_b, "norm1.bias", D);
        ADD(qkv_w, "attn.qkv.weight", 3 * D, D); ADD(qkv_b, "attn.qkv.bias", 3 * D);
        ADD(proj_w, "attn.proj.weight", D, D); ADD(proj_b, "attn.proj.bias", D);
        ADD(norm2_w, "norm2.weight", D); ADD(norm2_b, "norm2.bias", D);
        ADD(fc1_w, "mlp.fc1.weight", Hm, D); ADD(fc1_b, "mlp.fc1.bias", Hm);
        ADD(fc2_w, "mlp.fc2.weight", D, Hm); ADD(fc2_b, "mlp.fc2.bias", D);
    }
#undef ADD
    e->norm_w = pf_param_add(p, prefix, "norm.weight", 1, &D);
    e->norm_b = pf_param_add(p, prefix, "norm.bias", 1, &D);
    if (rc < 0 || e->norm_w < 0 || e->norm_b < 0) {
        pf_err_context(PF_EINVAL, "encoder: registering parameters");
        pf_encoder_destroy(e);
        return NULL;
    }
    size_t bytes = encoder_layout(e, NULL);
    e->arena = pf_arena_create(bytes);
    if (!e->arena) { pf_encoder_destroy(e); return NULL; }
    encoder_layout(e, e->arena);
    return e;
}

void pf_init_linear(pf_pstore *p, int w, int b, pf_rng *r)
{
    pf_init_normal(pf_pstore_data(p, w), p->info[w].n, 0.02f, r);
    pf_init_const(pf_pstore_data(p, b), p->info[b].n, 0.0f);
}

void pf_init_ln(pf_pstore *p, int w, int b)
{
    pf_init_const(pf_pstore_data(p, w), p->info[w].n, 1.0f);
    pf_init_const(pf_pstore_data(p, b), p->info[b].n, 0.0f);
}

void pf_encoder_init(pf_encoder *e, pf_pstore *p, uint64_t key)
{
    pf_rng r;
    pf_rng_seed(&r, key);
    for (int l = 0; l < e->cfg.depth; l++) {
        block_ids *id = &e->ids[l];
        pf_init_ln(p, id->norm1_w, id->norm1_b);
        pf_init_linear(p, id->qkv_w, id->qkv_b, &r);
        pf_init_linear(p, id->proj_w, id->proj_b, &r);
        pf_init_ln(p, id->norm2_w, id->norm2_b);
        pf_init_linear(p, id->fc1_w, id->fc1_b, &r);
        pf_init_linear(p, id->fc2_w, id->fc2_b, &r);
    }
    pf_init_ln(p, e->norm_w, e->norm_b);
}

/* Dropout whose randomness depends only on (key, layer, site). */
void pf_drop_forward(float *x, uint8_t *mask, size_t n, float p, uint64_t key, int layer, int site)
{
    pf_rng r;
    pf_rng_seed(&r, pf_rng_key(key, (uint64_t)layer, (uint64_t)site, 0x64726f70ull));
    pf_dropout_forward(x, mask, x, n, p, &r);
}

/* The mask drop_fwd would draw for (key, layer, site), without applying it. */
static void mask_gen(uint8_t *mask, size_t n, float p, uint64_t key, int layer, int site)
{
    pf_rng r;
    pf_rng_seed(&r, pf_rng_key(key, (uint64_t)layer, (uint64_t)site, 0x64726f70ull));
    pf_dropout_mask(mask, n, p, &r);
}

/* in-place backward of dropout: g <- g * mask / (1 - p) */
typedef struct { float *g; const uint8_t *mask; float s; } dropb_ctx;
static void drop_bwd_chunk(void *vc, size_t lo, size_t hi)
{
    dropb_ctx *k = vc;
    for (size_t i = lo; i < hi; i++) k->g[i] *= (float)k->mask[i] * k->s;
}

void pf_drop_backward_inplace(float *g, const uint8_t *mask, size_t n, float p)
{
    dropb_ctx k = {g, mask, 1.0f / (1.0f - p)};
    pf_parallel_for(n, 1 << 16, drop_bwd_chunk, &k);
}

/* qkv [B, T, 3D] (layout [3, H, hd] per token) -> q, k, v [B, H, T, hd] with RoPE on
 * q and k, in one pass (the composition of pf_heads_split and pf_rope_apply). */
static void qkv_split_rope(float *q, float *k, float *v, const float *qkv, const float *rope, int B,
                           int T, int H, int hd, int rd)
{
    int D = H * hd;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((size_t)B * T * D > (1 << 14))
#endif
    for (int bt = 0; bt < B * T; bt++) {
        int b = bt / T, t = bt % T;
        const float *row = qkv + (size_t)bt * 3 * D, *cs = rope + (size_t)t * rd;
        for (int h = 0; h < H; h++) {
            size_t o = (((size_t)b * H + h) * T + t) * hd;
            const float *qs = row + (size_t)h * hd, *ks = row + D + (size_t)h * hd;
            for (int i = 0; i < rd; i += 2) {
                float c = cs[i], s = cs[i + 1];
                q[o + i] = qs[i] * c - qs[i + 1] * s;
                q[o + i + 1] = qs[i] * s + qs[i + 1] * c;
                k[o + i] = ks[i] * c - ks[i + 1] * s;
                k[o + i + 1] = ks[i] * s + ks[i + 1] * c;
            }
            for (int i = rd; i < hd; i++) { q[o + i] = qs[i]; k[o + i] = ks[i]; }
            memcpy(v + o, row + 2 * D + (size_t)h * hd, (size_t)hd * sizeof(float));
        }
    }
}

/* backward of qkv_split_rope: dqkv (=) from dq, dk (rotated back) and dv */
static void qkv_split_rope_backward(float *dqkv, const float *dq, const float *dk, const float *dv,
                                    const float *rope, int B, int T, int H, int hd, int rd)
{
    int D = H * hd;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((size_t)B * T * D > (1 << 14))
#endif
    for (int bt = 0; bt < B * T; bt++) {
        int b = bt / T, t = bt % T;
        float *row = dqkv + (size_t)bt * 3 * D;
        const float *cs = rope + (size_t)t * rd;
        for (int h = 0; h < H; h++) {
            size_t o = (((size_t)b * H + h) * T + t) * hd;
            float *qd = row + (size_t)h * hd, *kd = row + D + (size_t)h * hd;
            for (int i = 0; i < rd; i += 2) {
                float c = cs[i], s = cs[i + 1];
                qd[i] = dq[o + i] * c + dq[o + i + 1] * s;
                qd[i + 1] = -dq[o + i] * s + dq[o + i + 1] * c;
                kd[i] = dk[o + i] * c + dk[o + i + 1] * s;
                kd[i + 1] = -dk[o + i] * s + dk[o + i + 1] * c;
            }
            for (int i = rd; i < hd; i++) { qd[i] = dq[o + i]; kd[i] = dk[o + i]; }
            memcpy(row + 2 * D + (size_t)h * hd, dv + o, (size_t)hd * sizeof(float));
        }
    }
}

/* pf_linear_backward with dx overwritten (=) instead of accumulated: saves a
 * memset of the activation gradient in the encoder's backward. */
static void linear_backward_fresh(float *dx, float *dw, float *db, const float *dy, const float *x,
                                  const float *w, int N, int IN, int OUT)
{
    pf_gemm(0, 0, N, IN, OUT, 1.0f, dy, OUT, w, IN, 0.0f, dx, IN);
    pf_linear_backward(NULL, dw, db, dy, x, w, N, IN, OUT);
}

int pf_encoder_forward(pf_encoder *e, pf_pstore *p, const float *x, int B, int T, int train,
                       uint64_t key)
{
    if (B <= 0 || T <= 0 || B > e->max_B || T > e->max_T)
        return pf_err(PF_ERANGE, "encoder forward: B %d, T %d outside the reserved %d x %d", B, T,
                      e->max_B, e->max_T);
    if (!p->finalized) return pf_err(PF_ESTATE, "encoder forward: parameters not finalized");
    e->B = B;
    e->T = T;
    e->train = train;
    int D = e->D, H = e->H, hd = e->hd, Hm = e->Hm, N = B * T;
    float pdrop = train ? e->cfg.dropout : 0.0f;
    float keep = pdrop > 0 ? 1.0f / (1.0f - pdrop) : 1.0f;   /* inverted-dropout scale */
    float scale = 1.0f / sqrtf((float)hd);
    if (e->rope_T != T) { pf_rope_table(e->rope, T, e->rope_dim, e->cfg.rope_base); e->rope_T = T; }
    memcpy(e->res[0], x, (size_t)N * D * sizeof(float));
    for (int l = 0; l < e->cfg.depth; l++) {
        block_ids *id = &e->ids[l];
        block_acts *a = &e->acts[l];
        const float *xin = e->res[l];
        // attention branch: ln1 [N, D] -> qkv [N, 3D] -> q, k, v [B, H, T, hd]
        pf_layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, xin, pf_pstore_data(p, id->norm1_w),
                             pf_pstore_data(p, id->norm1_b), N, D, e->cfg.ln_eps);
        pf_linear_forward(e->qkv, a->ln1, pf_pstore_data(p, id->qkv_w), pf_pstore_data(p, id->qkv_b),
                          N, D, 3 * D);
        qkv_split_rope(a->q, a->k, a->v, e->qkv, e->rope, B, T, H, hd, e->rope_dim);
        if (e->cfg.attn_lean) pf_sdpa_forward_lean(e->ohm, e->datt, a->q, a->k, a->v, B * H, T, T, hd, scale);
        else pf_sdpa_forward(e->ohm, a->att, a->q, a->k, a->v, B * H, T, T, hd, scale);
        pf_heads_merge(a->merged, e->ohm, B, T, H, hd);
        // proj, then res_mid = x + Drop(proj + b) in one pass
        pf_gemm(0, 1, N, D, D, 1.0f, a->merged, D, pf_pstore_data(p, id->proj_w), D, 0.0f, e->tmp, D);
        if (pdrop > 0) mask_gen(a->m_attn, (size_t)N * D, pdrop, key, l, 0);
        pf_bias_dropout_residual_forward(a->res_mid, xin, e->tmp, pf_pstore_data(p, id->proj_b),
                                         pdrop > 0 ? a->m_attn : NULL, NULL, keep, N, D);
        // MLP branch: ln2 -> fc1 [N, Hm] -> (+b, GELU, Drop) -> fc2 [N, D] -> (+b, Drop, Drop, +res)
        pf_layernorm_forward(a->ln2, a->ln2_mean, a->ln2_rstd, a->res_mid,
                             pf_pstore_data(p, id->norm2_w), pf_pstore_data(p, id->norm2_b), N, D,
                             e->cfg.ln_eps);
        pf_gemm(0, 1, N, Hm, D, 1.0f, a->ln2, D, pf_pstore_data(p, id->fc1_w), D, 0.0f, a->h, Hm);
        if (pdrop > 0) mask_gen(a->m_gelu, (size_t)N * Hm, pdrop, key, l, 1);
        pf_bias_gelu_dropout_forward(a->h, a->g, pf_pstore_data(p, id->fc1_b),
                                     pdrop > 0 ? a->m_gelu : NULL, keep, N, Hm);
        pf_gemm(0, 1, N, D, Hm, 1.0f, a->g, Hm, pf_pstore_data(p, id->fc2_w), Hm, 0.0f, e->tmp, D);
        if (pdrop > 0) {
            mask_gen(a->m_fc2a, (size_t)N * D, pdrop, key, l, 2);
            mask_gen(a->m_fc2b, (size_t)N * D, pdrop, key, l, 3);
        }
        pf_bias_dropout_residual_forward(e->res[l + 1], a->res_mid, e->tmp, pf_pstore_data(p, id->fc2_b),
                                         pdrop > 0 ? a->m_fc2a : NULL, pdrop > 0 ? a->m_fc2b : NULL,
                                         keep * keep, N, D);
    }
    pf_layernorm_forward(e->out, e->out_mean, e->out_rstd, e->res[e->cfg.depth],
                         pf_pstore_data(p, e->norm_w), pf_pstore_data(p, e->norm_b), N, D,
                         e->cfg.ln_eps);
    return PF_OK;
}

int pf_encoder_backward(pf_encoder *e, pf_pstore *p, const float *dy, float *dx)
{
    if (e->B == 0) return pf_err(PF_ESTATE, "encoder backward: no forward pass yet");
    if (pf_threads() > e->scratch_threads)
        return pf_err(PF_ESTATE, "encoder backward: %d threads, attention scratch reserved for %d at creation",
                      pf_threads(), e->scratch_threads);
    int B = e->B, T = e->T, D = e->D, H = e->H, hd = e->hd, Hm = e->Hm, N = B * T;
    size_t ND = (size_t)N * D, NH = (size_t)N * Hm;
    float pdrop = e->train ? e->cfg.dropout : 0.0f;
    float keep = pdrop > 0 ? 1.0f / (1.0f - pdrop) : 1.0f;
    float scale = 1.0f / sqrtf((float)hd);
    float *dres = e->dres;
    memset(dres, 0, ND * sizeof(float));
    pf_layernorm_backward(dres, pf_pstore_grad(p, e->norm_w), pf_pstore_grad(p, e->norm_b), dy,
                          e->res[e->cfg.depth], e->out_mean, e->out_rstd,
                          pf_pstore_data(p, e->norm_w), N, D);
    for (int l = e->cfg.depth - 1; l >= 0; l--) {
        block_ids *id = &e->ids[l];
        block_acts *a = &e->acts[l];
        // MLP branch: dres is d res_out = d res_mid (identity path) + branch
        const float *dbr = dres;
        if (pdrop > 0) { pf_mask_scale(e->dtmp, dres, a->m_fc2a, a->m_fc2b, keep * keep, ND); dbr = e->dtmp; }
        linear_backward_fresh(e->dg, pf_pstore_grad(p, id->fc2_w), pf_pstore_grad(p, id->fc2_b),
                              dbr, a->g, pf_pstore_data(p, id->fc2_w), N, Hm, D);
        pf_gelu_dropout_backward(e->dh, e->dg, a->h, pdrop > 0 ? a->m_gelu : NULL, keep, NH);
        linear_backward_fresh(e->dln, pf_pstore_grad(p, id->fc1_w), pf_pstore_grad(p, id->fc1_b),
                              e->dh, a->ln2, pf_pstore_data(p, id->fc1_w), N, D, Hm);
        pf_layernorm_backward(dres, pf_pstore_grad(p, id->norm2_w), pf_pstore_grad(p, id->norm2_b),
                              e->dln, a->res_mid, a->ln2_mean, a->ln2_rstd,
                              pf_pstore_data(p, id->norm2_w), N, D);
        // attention branch: dres is now d res_mid
        dbr = dres;
        if (pdrop > 0) { pf_mask_scale(e->dtmp, dres, a->m_attn, NULL, keep, ND); dbr = e->dtmp; }
        linear_backward_fresh(e->dmerged, pf_pstore_grad(p, id->proj_w), pf_pstore_grad(p, id->proj_b),
                              dbr, a->merged, pf_pstore_data(p, id->proj_w), N, D, D);
        // merge's backward is the split (overwrites: no zeroing pass)
        pf_heads_split(e->dohm, e->dmerged, B, T, H, hd, D, 0);
        pf_sdpa_backward_into(e->dq, e->dk, e->dv, e->datt, e->dohm, a->q, a->k, a->v,
                              e->cfg.attn_lean ? NULL : a->att, B * H, T, T, hd, scale, 0);
        qkv_split_rope_backward(e->dqkv, e->dq, e->dk, e->dv, e->rope, B, T, H, hd, e->rope_dim);
        linear_backward_fresh(e->dln, pf_pstore_grad(p, id->qkv_w), pf_pstore_grad(p, id->qkv_b),
                              e->dqkv, a->ln1, pf_pstore_data(p, id->qkv_w), N, D, 3 * D);
        pf_layernorm_backward(dres, pf_pstore_grad(p, id->norm1_w), pf_pstore_grad(p, id->norm1_b),
                              e->dln, e->res[l], a->ln1_mean, a->ln1_rstd,
                              pf_pstore_data(p, id->norm1_w), N, D);
    }
    if (dx) pf_add_backward(dx, NULL, dres, ND);
    return PF_OK;
}

const float *pf_encoder_output(const pf_encoder *e) { return e->out; }
size_t pf_encoder_arena_bytes(const pf_encoder *e) { return e->arena ? e->arena->cap : 0; }

void pf_encoder_destroy(pf_encoder *e)
{
    if (!e) return;
    pf_arena_destroy(e->arena);
    free(e->ids);
    free(e->acts);
    free(e->res);
    free(e);
}

