/* pf_probe: a probe fitted on embedding vectors (physioflow probe): the
 * features standardised with the training set's mean and standard deviation,
 * then the classification head pf_chead on them as a one-token sequence —
 * head "linear" is multinomial logistic regression, "mlp" model.md's head —
 * trained with AdamW (pf_optim) on shuffled mini-batches, cosine schedule.
 * Class imbalance (single-label): class weights n / (K n_c) (linear head), or
 * class-balanced sampling (mlp head: with label smoothing, PyTorch's weighted
 * loss adds eps/K w_c to every class c of every sample, which drives a
 * minority class with a large weight into the majority's predictions);
 * multi-label: positive weights n_neg / n_pos. */
#ifndef PF_PROBE_H
#define PF_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "pf_chead.h"

typedef struct {
    pf_chead_kind head;
    int hidden;          /* mlp: 1024 */
    float dropout;       /* mlp: 0.1 */
    float smoothing;     /* ce: 0 for linear, 0.1 for mlp by default */
    int epochs;          /* 40 */
    int batch;           /* 256 */
    float lr, weight_decay;
    int balanced;        /* 0: none; 1: class / positive weights from the training counts;
                            2: class-balanced sampling (single-label; multi-label uses weights) */
    uint64_t seed;
} pf_probe_cfg;

pf_probe_cfg pf_probe_defaults(pf_chead_kind head);

typedef struct pf_probe pf_probe;

/* x: [n, dim]; single-label: labels [n] in [0, k) (every class present); multi: y [n, k]. */
pf_probe *pf_probe_fit(const pf_probe_cfg *c, const float *x, size_t n, int dim, int k, int multi, const long long *labels,
                       const float *y);
/* x: [n, dim] -> probs [n, k] (softmax or sigmoid) */
int pf_probe_predict(pf_probe *p, const float *x, size_t n, float *probs);
/* Training loss of the last epoch (mean over its mini-batches). */
double pf_probe_last_loss(const pf_probe *p);
void pf_probe_destroy(pf_probe *p);

#endif
