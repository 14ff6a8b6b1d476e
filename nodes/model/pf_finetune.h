/* pf_finetune: the trainer's classification objective (objective = "classify",
 * model.md section 5): the head pf_chead on the encoded tokens with the
 * window's LABELS, the accuracy of each training step, and the validation
 * passes scored with pf_eval_cls (accuracy, macro-F1, per class, AUROC,
 * confusion) — the best pass by macro-F1 kept for early stopping. */
#ifndef PF_FINETUNE_H
#define PF_FINETUNE_H

#include "pf_chead.h"
#include "pf_eval_cls.h"
#include "pf_node.h"
#include "pf_stage.h"

typedef struct pf_finetune pf_finetune;

/* The head in stage hst (role "head"), for max_B windows of max_T tokens of the preset's D. */
pf_finetune *pf_finetune_create(const pf_params *p, const pf_objective *o, int D, int max_B, int max_T, pf_stage *hst,
                                uint64_t seed, const char *resume_dir);
// One micro-batch: z [B, T, D], lab [B, 1 or K] (class ids or targets) -> *loss;
// training: parameter gradients accumulate and dz (=) [B, T, D] unless dz is NULL (frozen encoder).
// Not training: the probabilities join the validation pass begun last.
int pf_finetune_micro(pf_finetune *f, pf_pstore *p, const float *z, int B, int T, const float *lab, int train,
                      uint64_t key, float *loss, float *dz);
/* After the head stage's optimiser update, and after its parameters were loaded: the
 * running statistics of pool_norm = "running" (not trained) kept, or taken from the load. */
void pf_finetune_after_update(pf_finetune *f, pf_pstore *p);
void pf_finetune_after_load(pf_finetune *f, pf_pstore *p);
/* Training accuracy of the micro-batches since the last call (NaN if none); resets. */
double pf_finetune_train_acc(pf_finetune *f);
void pf_finetune_val_begin(pf_finetune *f);
/* Score the pass: *m filled; *improved = 1 when its macro-F1 beats every earlier pass
 * (then val_json, if set, is rewritten). */
int pf_finetune_val_end(pf_finetune *f, pf_cls_metrics *m, int *improved);
/* Validation passes since the best one (early stopping's count). */
int pf_finetune_since_best(const pf_finetune *f);
int pf_finetune_patience(const pf_finetune *f);
double pf_finetune_best_f1(const pf_finetune *f);
/* Windows per class taken for training so far ([K], single-label only). */
const long long *pf_finetune_class_counts(const pf_finetune *f);
void pf_finetune_destroy(pf_finetune *f);

#endif
