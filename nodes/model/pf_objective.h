/* pf_objective: the trainer's loss on one micro-batch (model.md 4A-4D):
 *   L = gamma L_masked + w_c L_contrastive + alpha L_global + beta L_peak
 * from the encoded tokens of [rows * B] windows ([anchors | beat-shuffled
 * views | adjacent windows] when the contrastive term is on) and the
 * per-window tensors the first stage sent along (pf_aux). Forward and, when
 * training, backward: the gradient of the encoded tokens and of the masked
 * reconstruction's target, ready for the transformer stage.
 *
 * - masked: the anchors' masked tokens (pf_rhead "head"), target = their Spec patches.
 * - contrastive: h = mean of a row's encoded tokens; anchors without a feature
 *   vector, view or adjacent window are left out (counted); features are
 *   standardised (and projected) with the `physioflow features fit` statistics.
 * - global / peak: the signal head ("signal_head") maps, per lead and time
 *   patch, the mean of that lead's band tokens to the P samples of the
 *   original anchor; both terms are one weighted sum of squared errors
 *   (weight alpha / #samples everywhere, + beta / #peak samples within
 *   peak_ms of an R-peak); windows without R-peaks add no peak samples (counted).
 */
#ifndef PF_OBJECTIVE_H
#define PF_OBJECTIVE_H

#include "pf_featstats.h"
#include "pf_ops.h"
#include "pf_rhead.h"
#include "pf_stage.h"

typedef struct {
    double total;                      /* the weighted sum */
    double masked, con, global, peak;  /* each term unweighted (NAN when not computed) */
    int con_used, con_skipped;         /* anchors in the contrastive mean; without a negative */
    int no_feat, no_peaks;             /* anchors left out of the contrastive / peak term */
    int rank_ok, rank_n;               /* (anchor, positive) pairs ranked above all the anchor's negatives / pairs */
} pf_obj_terms;

typedef struct pf_objective_run pf_objective_run;

/* B windows per micro-batch, each R Spec rows of TP patches; C leads. */
pf_objective_run *pf_objective_create(const pf_objective *o, const pf_contrast_cfg *cc, const pf_featstats *fs,
                                      pf_rhead *masked, pf_rhead *signal, int B, int C, int R, int TP, int P, int D);
// z [rows B, R TP, D], target [rows B, R TP, P], mask [rows B, R TP], a: aux of the micro-batch.
// train: forward + backward -> dz (=) [rows B, R TP, D] and, if dtarget, (=) [rows B, R TP, P].
int pf_objective_step(pf_objective_run *r, pf_pstore *hp, const float *z, const float *target, const float *mask,
                      const pf_aux *a, int train, uint64_t key_masked, uint64_t key_signal, pf_obj_terms *out,
                      float *dz, float *dtarget);
void pf_objective_destroy(pf_objective_run *r);

#endif
