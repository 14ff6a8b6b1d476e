/* pf_mae: the masked-reconstruction model of model.md section 4A around the
 * encoder: patch embedding (Linear P->D, LayerNorm, GELU) + 2-D sin-cos,
 * masked tokens replaced by mask_token, encoder, head (Linear, GELU, Dropout,
 * LayerNorm, Linear D->P), masked MSE against the input patches. */
#ifndef PF_MAE_H
#define PF_MAE_H

#include "pf_encoder.h"

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
