/* pf_rhead: the masked-reconstruction head and loss of model.md section 4A:
 * per token Linear D->D, GELU, Dropout, LayerNorm, Linear D->P predicting the
 * token's patch; MSE over masked tokens only. The target may receive a
 * gradient too (detach_target = 0, as PhysioWave: its target is the
 * encoder's own input).
 *
 * Parameters: head.fc1.{weight,bias}, head.norm.{weight,bias}, head.fc2.{weight,bias}.
 */
#ifndef PF_RHEAD_H
#define PF_RHEAD_H

#include "pf_encoder.h"

typedef struct pf_rhead pf_rhead;

pf_rhead *pf_rhead_create(const pf_tfm_cfg *cfg, pf_pstore *p, int max_N);   /* parameters head.* */
/* The same head under other parameter names (the signal head of model.md 4C: "signal_head"). */
pf_rhead *pf_rhead_create_named(const pf_tfm_cfg *cfg, pf_pstore *p, int max_N, const char *prefix);
void pf_rhead_init(pf_rhead *h, pf_pstore *p, pf_rng *r);
// z: [N, D], target: [N, P], mask: [N] -> *loss; dropout from key (train = 1)
int pf_rhead_forward(pf_rhead *h, pf_pstore *p, const float *z, const float *target, const float *mask, int N,
                     int train, uint64_t key, float *loss);
// z: [N, D], target: [N, P], weight: [N, P] -> *loss = sum weight * (pred - target)^2
// (the global + peak-aware reconstruction of model.md 4C as one weighted sum)
int pf_rhead_forward_weighted(pf_rhead *h, pf_pstore *p, const float *z, const float *target, const float *weight,
                              int N, int train, uint64_t key, float *loss);
// d loss = 1: dz (=) [N, D]; dtarget (=) [N, P] or NULL (detached)
int pf_rhead_backward(pf_rhead *h, pf_pstore *p, float *dz, float *dtarget);
// the same with d loss = dloss (the objective's weight of this term)
int pf_rhead_backward_scaled(pf_rhead *h, pf_pstore *p, float *dz, float *dtarget, float dloss);
const float *pf_rhead_pred(const pf_rhead *h);       /* [N, P] */
size_t pf_rhead_arena_bytes(const pf_rhead *h);
void pf_rhead_destroy(pf_rhead *h);

#endif
