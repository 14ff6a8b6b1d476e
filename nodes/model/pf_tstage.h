/* pf_tstage: the transformer stage of model.md sections 2.4-2.5 and 4A: a
 * Spec (or any [rows, T] map) cut into patches of P samples, a shared patch
 * embedding (Linear P->D, LayerNorm, GELU) + fixed 2-D sin-cos position,
 * frequency-guided masking (pf_mask) with the masked tokens replaced by one
 * learned mask token, and the pre-norm encoder (pf_encoder).
 *
 * spec [B, F, TP*P] is read as patches [B, F*TP, P] (row f, time patch t:
 * token f*TP + t); no copy. The backward returns the gradient with respect to
 * the spec through the embedding, plus (when given) the gradient its patches
 * received as the reconstruction target.
 *
 * Parameters (PyTorch module paths): patch_embed.proj.{weight,bias},
 * patch_embed.norm.{weight,bias}, mask_token, blocks.{i}.*, norm.*.
 */
#ifndef PF_TSTAGE_H
#define PF_TSTAGE_H

#include "pf_encoder.h"
#include "pf_mask.h"

typedef struct pf_tstage pf_tstage;

/* Reserves activations for up to max_B x max_T tokens. */
pf_tstage *pf_tstage_create(const pf_tfm_cfg *cfg, const pf_mask_cfg *mask, pf_pstore *p, int max_B, int max_T);
/* After pf_pstore_finalize: PhysioWave's initialisation (patch embedding as
 * PyTorch's Conv2d default, mask token N(0, 0.02^2), encoder from enc_key);
 * draws from r, which the caller may go on using. */
void pf_tstage_init(pf_tstage *s, pf_pstore *p, pf_rng *r, uint64_t enc_key);
// spec: [B, F, TP*P]; mask: [B, F*TP] (1 = masked) or NULL to draw it here from
// mask_key (frequency-guided, on the embedded tokens or the patches).
// drop_key seeds the encoder's dropout (train = 1).
int pf_tstage_forward(pf_tstage *s, pf_pstore *p, const float *spec, int B, int F, int TP,
                      const float *mask, int train, uint64_t mask_key, uint64_t drop_key);
const float *pf_tstage_encoded(const pf_tstage *s);  /* [B, N, D] after the final LayerNorm */
/* Draw masks for the first `rows` windows of a batch only (0 = all): the hybrid
 * masks its anchors while their views and neighbours pass unmasked. */
void pf_tstage_set_mask_rows(pf_tstage *s, int rows);
const float *pf_tstage_mask(const pf_tstage *s);     /* [B, N] the mask used */
// d_enc: [B, N, D]; d_target: [B, N, P] or NULL -> d_spec (=) [B, F, TP*P]; parameter
// gradients accumulate.
int pf_tstage_backward(pf_tstage *s, pf_pstore *p, const float *d_enc, const float *d_target, float *d_spec);
pf_encoder *pf_tstage_encoder(pf_tstage *s);
/* A [max_B, max_T, D] buffer the stage owns for its caller's d_enc (the head
 * writes it, the backward reads it): no allocation per step. */
float *pf_tstage_scratch_denc(pf_tstage *s);
size_t pf_tstage_arena_bytes(const pf_tstage *s);
void pf_tstage_destroy(pf_tstage *s);

#endif
