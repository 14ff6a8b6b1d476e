/* pf_augment: ECG augmentations (model.md section 3).
 *
 * All kernels work on one window x: [C leads, T samples], lead-major, in
 * place or into out. Randomness comes only from the pf_rng passed in, which
 * the caller seeds from (seed, epoch, window id, view): the same window gets
 * the same augmentation whichever process handles it. */
#ifndef PF_AUGMENT_H
#define PF_AUGMENT_H

#include "pf_rng.h"

#include <stdint.h>

/* Heartbeat shuffling (PhysioCLR). peaks: m window-relative R-peak indices,
 * ascending, in [0, T). Beats are the spans [r_k, r_k+1), the last running to
 * T; they are written contiguously from sample 0 in the order perm[0..m-1]
 * (the same for every lead). keep_prefix = 0 drops [0, r_0) and leaves zeros
 * at the end (published behaviour); 1 appends it after the beats.
 * out_peaks[k] = where beat perm[k]'s R-peak lands. x and out must not overlap. */
void pf_shuffle_beats(const float *x, int C, int T, const int64_t *peaks, int m, const int *perm,
                      int keep_prefix, float *out, int64_t *out_peaks);
/* A uniformly random permutation of 0..m-1 (Fisher-Yates). */
void pf_random_permutation(pf_rng *r, int *perm, int m);

typedef struct {
    double mask_p, mask_lead_p;          /* apply lead masking with mask_p; each lead zeroed with mask_lead_p */
    double noise_p, noise_std;           /* Gaussian noise, standard deviation in signal units */
    double wander_p, wander_amp;         /* baseline wander: sinusoid 0.05-0.5 Hz, amplitude up to wander_amp */
    double powerline_p, powerline_amp, mains_hz;
    double scale_p, scale_min, scale_max;/* amplitude scaling, one factor for all leads */
    double shift_p, shift_max;           /* baseline shift, per lead, uniform in [-shift_max, shift_max] */
} pf_perturb_config;

/* Which perturbations were applied (bit per kind), for counters. */
enum { PF_AUG_MASK = 1, PF_AUG_NOISE = 2, PF_AUG_WANDER = 4, PF_AUG_POWERLINE = 8, PF_AUG_SCALE = 16, PF_AUG_SHIFT = 32 };

/* Apply the configured perturbations in place, in the order scale, wander,
 * powerline, shift, noise, mask (so masked leads end up exactly zero). key
 * identifies the window and view (pf_rng_key(seed, epoch, window id, view));
 * each kind draws from its own stream derived from it. Returns the PF_AUG_*
 * bits applied. */
int pf_perturb(float *x, int C, int T, double fs, const pf_perturb_config *c, uint64_t key);

#endif
