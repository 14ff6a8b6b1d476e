/* pf_encoder: the pre-norm transformer encoder of model.md section 2.5 (and
 * its presets), built from pf_ops. The masked-reconstruction model around it
 * is pf_mae.h.
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
#ifndef PF_ENCODER_H
#define PF_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "pf_rng.h"
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

/* ---- helpers the model objects share (pf_encoder.c) ------------------------ */
/* Register prefix+name in p; returns its index (< 0 on error). */
int pf_param_add(pf_pstore *p, const char *prefix, const char *name, int ndim, const int *shape);
/* PhysioWave's initialisation: xavier-uniform weight, zero bias / LN weight 1, bias 0. */
void pf_init_linear(pf_pstore *p, int w, int b, pf_rng *r);
void pf_init_ln(pf_pstore *p, int w, int b);
/* Inverted dropout in place with masks from pf_rng_key(key, layer, site, 0). */
void pf_drop_forward(float *x, uint8_t *mask, size_t n, float p, uint64_t key, int layer, int site);
void pf_drop_backward_inplace(float *g, const uint8_t *mask, size_t n, float p);

#endif
