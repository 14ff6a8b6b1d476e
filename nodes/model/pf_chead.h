/* pf_chead: the classification head of model.md section 5, on the encoder's
 * tokens z [B, T, D]:
 *   pool (mean | max | first | last over T) -> [B, D]
 *   head "mlp":    LayerNorm, Linear D->hidden (1024), GELU, Dropout, Linear hidden->K
 *   head "linear": Linear D->K (a true linear probe: nothing else learns)
 *   loss "ce":  cross-entropy over K classes, label smoothing, optional class weights
 *               (PyTorch CrossEntropyLoss(weight, label_smoothing), mean reduction; note
 *               that its smoothing term weighs every class c of every sample by w_c, so
 *               large minority weights with smoothing pull all predictions towards the
 *               minority: balance by sampling instead when smoothing)
 *   loss "bce": multi-label binary cross-entropy with optional per-class positive
 *               weights (PyTorch BCEWithLogitsLoss(pos_weight), mean over B*K)
 * Forward and backward side by side, activations in one arena sized at creation.
 *
 * Parameters (PyTorch module paths): cls.norm.{weight,bias}, cls.fc1.{weight,bias},
 * cls.fc2.{weight,bias} (mlp) or cls.fc.{weight,bias} (linear).
 */
#ifndef PF_CHEAD_H
#define PF_CHEAD_H

#include "pf_encoder.h"

typedef enum { PF_POOL_MEAN = 0, PF_POOL_MAX, PF_POOL_FIRST, PF_POOL_LAST } pf_pool_kind;
typedef enum { PF_CHEAD_MLP = 0, PF_CHEAD_LINEAR } pf_chead_kind;
typedef enum { PF_CLOSS_CE = 0, PF_CLOSS_BCE } pf_closs_kind;

#define PF_CHEAD_MAX_CLASSES 256

typedef struct pf_chead_cfg {
    int dim;              /* D */
    int classes;          /* K */
    int hidden;           /* 1024 */
    pf_pool_kind pool;    /* mean */
    pf_chead_kind head;   /* mlp */
    pf_closs_kind loss;   /* ce */
    float dropout;        /* 0.1 (mlp, train only) */
    float smoothing;      /* 0.1 (ce) */
    float ln_eps;         /* 1e-5 */
    int has_class_weight; /* ce: weight [K] applies */
    float class_weight[PF_CHEAD_MAX_CLASSES];
    int has_pos_weight;   /* bce: pos_weight [K] applies */
    float pos_weight[PF_CHEAD_MAX_CLASSES];
    int standardize;      /* 0 (model.md); 1: pooled features minus their running mean, over their
                             running standard deviation, per dimension, before the head */
} pf_chead_cfg;

/* model.md section 5: mean pooling, mlp, hidden 1024, dropout 0.1, ce with smoothing 0.1. */
pf_chead_cfg pf_chead_defaults(int D, int K);
/* "mean|max|first|last", "mlp|linear", "ce|bce" -> the enum (negative PF_E* on anything else). */
int pf_pool_parse(const char *s);
int pf_chead_kind_parse(const char *s);
int pf_closs_parse(const char *s);

typedef struct pf_chead pf_chead;

/* Registers the head's tensors in p and reserves activations for max_B x max_T tokens. */
pf_chead *pf_chead_create(const pf_chead_cfg *cfg, pf_pstore *p, int max_B, int max_T);
/* After pf_pstore_finalize: Linear N(0, 0.02^2) / bias 0, LayerNorm 1 / 0 (as the encoder). */
void pf_chead_init(pf_chead *h, pf_pstore *p, pf_rng *r);
// z: [B, T, D]; labels [B] in [0, K) (ce) or targets [B, K] in [0, 1] (bce); either may be
// NULL for inference (then *loss is not written). Dropout masks from key when train = 1.
int pf_chead_forward(pf_chead *h, pf_pstore *p, const float *z, int B, int T, const int *labels,
                     const float *targets, int train, uint64_t key, float *loss);
/* standardize = 1: the statistics (Welford over every training sample so far, updated by
 * each training forward before it standardises; fixed otherwise) live in the head and are
 * mirrored in the tensor cls.pool_stats [2D + 1] = (mean, M2, count) of the stage's store so
 * that checkpoints carry them. They are not trained: after an optimiser update (which would
 * decay them) pf_chead_stats_put restores the tensor; after a load pf_chead_stats_get reads it. */
void pf_chead_stats_put(const pf_chead *h, pf_pstore *p);
void pf_chead_stats_get(pf_chead *h, pf_pstore *p);
// d loss = 1 -> dz (=) [B, T, D] (may be NULL: a frozen encoder needs none); parameter
// gradients accumulate.
int pf_chead_backward(pf_chead *h, pf_pstore *p, float *dz);
const float *pf_chead_pooled(const pf_chead *h); /* [B, D] */
const float *pf_chead_logits(const pf_chead *h); /* [B, K] */
/* [B, K]: softmax (ce) or sigmoid (bce) of the last forward's logits. */
const float *pf_chead_probs(const pf_chead *h);
size_t pf_chead_arena_bytes(const pf_chead *h);
void pf_chead_destroy(pf_chead *h);

#endif
