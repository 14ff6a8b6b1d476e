/* pf_optim: AdamW (decoupled weight decay, PyTorch semantics), linear warm-up +
 * cosine schedule, clipping by global L2 norm, gradient accumulation.
 *
 * Per optimiser step t (1-based), for every parameter:
 *   p <- p - lr*wd*p;  m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2
 *   p <- p - lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
 * Accumulation: call pf_adamw_micro_step after each micro-batch's backward
 * (with dloss = 1); every accum_steps calls it divides the summed gradients by
 * accum_steps, clips, updates, zeroes the gradients and advances the schedule,
 * as PhysioWave's loop (loss / accum, clip, step, zero_grad) does.
 */
#ifndef PF_OPTIM_H
#define PF_OPTIM_H

#include <stdint.h>

#include "pf_tensor.h"

typedef struct pf_adamw_cfg {
    float lr;              /* peak learning rate */
    float beta1, beta2, eps;
    float weight_decay;
    int decay_all;         /* 1 (default, PhysioWave): decay every tensor; 0: matrices only */
    float clip_norm;       /* <= 0 disables clipping; default 1.0 */
    int64_t warmup_steps;  /* lr factor step/warmup during warm-up (0 at step 0, as LambdaLR) */
    int64_t total_steps;   /* cosine to min_lr at total_steps; 0 = constant after warm-up */
    float min_lr;
    int accum_steps;       /* micro-batches per optimiser step (>= 1) */
} pf_adamw_cfg;

typedef struct pf_adamw {
    pf_adamw_cfg cfg;
    int64_t step;          /* optimiser steps taken */
    int micro;             /* micro-batches accumulated towards the next step */
    float last_norm;       /* global gradient norm before clipping, last step */
    float last_lr;
} pf_adamw;

pf_adamw_cfg pf_adamw_defaults(void);   /* lr 1e-4, (0.9, 0.999), 1e-8, wd 0.01, clip 1 */
pf_adamw *pf_adamw_create(const pf_adamw_cfg *cfg);
/* Learning rate used at (0-based) optimiser step `step`. */
float pf_lr_at(const pf_adamw_cfg *cfg, int64_t step);
/* sqrt(sum g^2) over all gradients (double accumulation). */
double pf_grad_global_norm(pf_pstore *p);
/* sum g^2 over all gradients (double, chunked as pf_grad_global_norm: independent of
 * the thread count). Stages of a split model add theirs up in a fixed order. */
double pf_grad_sqnorm(pf_pstore *p);
/* One optimiser step from accumulated gradients whose squared norm over the WHOLE
 * model (every stage) is total_sq: average over accum micro-batches, clip by the
 * global norm sqrt(total_sq) / accum, update with lr, zero the gradients. Equal
 * to pf_adamw_micro_step when this store is the whole model. Returns the norm. */
double pf_adamw_step_total(pf_adamw *o, pf_pstore *p, float lr, double total_sq, int accum);
/* Scale gradients by max_norm / (norm + 1e-6) when norm > max_norm; returns norm. */
double pf_clip_grad_norm(pf_pstore *p, float max_norm);
/* One AdamW update with the given lr from the current gradients (no clipping). */
void pf_adamw_update(pf_adamw *o, pf_pstore *p, float lr);
/* Accumulate-then-step; returns 1 when an optimiser step was taken, 0 when it
 * only accumulated, negative PF_E* on error. */
int pf_adamw_micro_step(pf_adamw *o, pf_pstore *p);
void pf_adamw_destroy(pf_adamw *o);

#endif
