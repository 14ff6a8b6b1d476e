/* pf_transformer: the pre-norm transformer encoder of model.md section 2.5 and
 * the masked-reconstruction model around it (patch embedding, mask token,
 * encoder, reconstruction head, masked MSE), built from pf_ops.
 *
 * Block (PhysioWave, reference/physiowave.md section 4):
 *   x <- x + Drop(Proj(Attn(RoPE(q), RoPE(k), v)))         q,k,v = split(QKV(LN1(x)))
 *   x <- x + Drop(Drop(FC2(Drop(GELU(FC1(LN2(x)))))))       two dropouts, as the code does
 * then a final LayerNorm. qkv layout within 3D: [3, heads, hd]; RoPE interleaved
 * pairs, position = flattened token index, base 10000; no attention dropout.
 *
 * Parameter names follow the PyTorch module paths (timm style):
 *   patch_embed.proj.{weight,bias}, patch_embed.norm.{weight,bias}, mask_token,
 *   blocks.{i}.norm1, blocks.{i}.attn.qkv, blocks.{i}.attn.proj, blocks.{i}.norm2,
 *   blocks.{i}.mlp.fc1, blocks.{i}.mlp.fc2, norm, head.fc1, head.norm, head.fc2.
 *
 * Activations live in one arena sized at creation for (max_B, max_T): the
 * forward/backward of a step does not allocate.
 */
#ifndef PF_TRANSFORMER_H
#define PF_TRANSFORMER_H

#include <stddef.h>
#include <stdint.h>

#include "pf_tensor.h"

typedef struct pf_tfm_cfg {
    char name[32];
    int dim, depth, heads;
    int mlp_ratio;        /* hidden = mlp_ratio * dim */
    int rope_dim;         /* dims per head that rotate; 0 = the whole head */
    float rope_base;      /* 10000 */
    float dropout;        /* 0.1 */
    float ln_eps;         /* 1e-5 */
    int patch;            /* samples per token, 64 */
    int attn_lean;        /* 1: do not store attention probabilities, recompute them in the
                             backward (memory O(T) instead of O(T^2) per layer; ~+5% time) */
} pf_tfm_cfg;

/* "tiny" (128/4/4), "small" (256/6/8), "physiowave-ecg" (384/8/12); patch 64,
 * MLP 4x, dropout 0.1, RoPE over the whole head, base 10000. physiowave-ecg
 * (1536 tokens) sets attn_lean = 1. */
int pf_tfm_preset(const char *name, pf_tfm_cfg *cfg);
int pf_tfm_validate(const pf_tfm_cfg *cfg);
/* Exact parameter counts implied by a config. */
size_t pf_encoder_param_count(const pf_tfm_cfg *cfg);
size_t pf_mae_param_count(const pf_tfm_cfg *cfg);

/* ---- encoder ------------------------------------------------------------------ */
typedef struct pf_encoder pf_encoder;

/* Registers the encoder's tensors in p under prefix ("" for top level) and
 * reserves activations for up to max_B x max_T tokens. */
pf_encoder *pf_encoder_create(const pf_tfm_cfg *cfg, pf_pstore *p, const char *prefix,
                              int max_B, int max_T);
/* After pf_pstore_finalize: PhysioWave's initialisation from pf_rng(key). */
void pf_encoder_init(pf_encoder *e, pf_pstore *p, uint64_t key);
// x: [B, T, D] -> output (pf_encoder_output): [B, T, D], final LayerNorm applied.
// train = 1 applies dropout with masks drawn from pf_rng_key(key, layer, site, 0).
int pf_encoder_forward(pf_encoder *e, pf_pstore *p, const float *x, int B, int T, int train,
                       uint64_t key);
// dy: [B, T, D] -> accumulates parameter gradients; dx (+=) [B, T, D] or NULL.
int pf_encoder_backward(pf_encoder *e, pf_pstore *p, const float *dy, float *dx);
const float *pf_encoder_output(const pf_encoder *e);
size_t pf_encoder_arena_bytes(const pf_encoder *e);
void pf_encoder_destroy(pf_encoder *e);

/* ---- masked reconstruction model ---------------------------------------------- */
typedef struct pf_mae pf_mae;

pf_mae *pf_mae_create(const pf_tfm_cfg *cfg, pf_pstore *p, int max_B, int max_T);
void pf_mae_init(pf_mae *m, pf_pstore *p, uint64_t seed);
// patches: [B, T, P] with T = F * TP tokens (row f, time patch t: token f*TP + t),
// mask: [B, T] (1 = masked: replaced by mask_token, counted in the loss).
// Tokens = GELU(LN(patch W^T + b)) + 2-D sin-cos(F, TP); masked tokens -> mask_token;
// encoder; head Linear D->D, GELU, Drop, LN, Linear D->P; loss = masked MSE vs patches.
int pf_mae_forward(pf_mae *m, pf_pstore *p, const float *patches, const float *mask, int B,
                   int F, int TP, int train, uint64_t key, float *loss);
/* Gradients of the last forward's loss (d loss = 1), accumulated into p's gradients. */
int pf_mae_backward(pf_mae *m, pf_pstore *p);
const float *pf_mae_pred(const pf_mae *m);           /* [B, T, P] */
const float *pf_mae_encoded(const pf_mae *m);        /* [B, T, D] */
pf_encoder *pf_mae_encoder(pf_mae *m);
size_t pf_mae_arena_bytes(const pf_mae *m);
void pf_mae_destroy(pf_mae *m);

#endif
