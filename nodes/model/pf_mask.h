/* pf_mask: frequency-guided masking of model.md section 4A (PhysioWave).
 *
 * Per window: an importance per token, a score
 *     c = r * importance + (1 - r) * U(0,1)
 * and the top floor(L * mask_ratio) scores are masked (mask [B, L] floats, 1 = masked,
 * as pf_mae_forward takes). Ties go to the lower token index (torch.topk leaves
 * their order unspecified). No gradient flows through the mask.
 *
 * importance:
 *  - PF_IMPORTANCE_TOKEN_SEQUENCE (default, the published code): tokens [B, L, D]
 *    (embedded, after the position embedding); |rfft along the token axis| summed
 *    over the D dims gives S [L/2 + 1], stretched to L by linear interpolation with
 *    aligned corners (F.interpolate). Unnormalised.
 *  - PF_IMPORTANCE_PATCH_ENERGY (what the paper describes): patches [B, L, P] (the Spec
 *    patches); each token's spectral energy sum_k |DFT(patch)_k|^2 = P sum_p x_p^2
 *    (Parseval), min-max normalised to [0, 1] per window (all zeros if constant).
 *
 * The FFT is liquid-dsp's (any length: 1536 = 2^9 3 for the ECG reference); two
 * real columns travel in one complex transform.
 */
#ifndef PF_MASK_H
#define PF_MASK_H

#include <stddef.h>
#include <stdint.h>

enum { PF_IMPORTANCE_TOKEN_SEQUENCE = 0, PF_IMPORTANCE_PATCH_ENERGY = 1 };

typedef struct pf_mask_cfg {
    double mask_ratio;        /* 0.7 (ECG script); count = floor(L * mask_ratio) as Python's int() */
    double importance_ratio;  /* r, 0.7 (ECG script) */
    int importance;           /* PF_IMPORTANCE_* */
} pf_mask_cfg;

pf_mask_cfg pf_mask_cfg_defaults(void);
/* "token_sequence" | "patch_energy" -> PF_IMPORTANCE_* (negative PF_E* otherwise) */
int pf_mask_importance_parse(const char *name);
/* Tokens masked per window: floor(L * mask_ratio). */
int pf_mask_count(int L, double mask_ratio);

typedef struct pf_mask pf_mask;

/* For windows of L tokens (plans the FFT, reserves the scratch). */
pf_mask *pf_mask_create(const pf_mask_cfg *cfg, int L);
// x: [B, L, D] tokens (token_sequence) or [B, L, P] patches (patch_energy) -> imp: [B, L]
int pf_mask_importance(pf_mask *m, const float *x, int B, int D, float *imp);
// u: [n] U(0,1) draws, in order, from pf_rng seeded with key
void pf_mask_noise(float *u, size_t n, uint64_t key);
// imp, u: [B, L] -> mask: [B, L] (1 = masked); scores in float: (float)r imp + (float)(1-r) u
int pf_mask_select(pf_mask *m, const float *imp, const float *u, int B, float *mask);
/* importance + pf_mask_noise(key) + select in one pass (no [B, L] scratch needed). */
int pf_mask_generate(pf_mask *m, const float *x, int B, int D, uint64_t key, float *mask);
void pf_mask_destroy(pf_mask *m);

#endif
