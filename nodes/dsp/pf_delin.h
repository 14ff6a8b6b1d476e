/* pf_delin: single-lead beat delineation (P, QRS, T onset / peak / offset),
 * wavelet-based in the manner of Martinez et al. 2004 ("A wavelet-based ECG
 * delineator: evaluation on standard databases", IEEE TBME 51(4)).
 *
 * The wavelet is the derivative of a Gaussian (a smoothed derivative, like
 * Martinez's quadratic spline) at a fine scale for the QRS and a coarse scale
 * for P and T, computed with symmetric kernels so nothing is shifted. Around
 * each R peak the QRS is bounded by its first and last significant modulus
 * maxima, the boundary being where |W| falls below a fraction of that maximum
 * (or reaches a local minimum); P and T peaks are the zero crossings between
 * the two largest opposite-sign maxima in RR-dependent search windows, their
 * boundaries found the same way. Offline on a window (e.g. a 10 s record). */
#ifndef PF_DELIN_H
#define PF_DELIN_H

#include <stddef.h>

typedef struct {
    long p_on, p_peak, p_off;     /* -1 when no P wave was found */
    long qrs_on, r, qrs_off;
    long t_on, t_peak, t_off;     /* -1 when no T wave was found */
    double qamp;                  /* largest |W| of the QRS (fine scale) */
} pf_delin_beat;

typedef struct {
    double fs;
    double sigma_qrs_ms, sigma_pt_ms;  /* wavelet scales (Gaussian sigma) */
    double xi_qrs_on, xi_qrs_off;      /* boundary thresholds relative to the outer maxima */
    double xi_p_on, xi_p_off, xi_t_on, xi_t_off;
    double gamma_qrs;                  /* significant QRS maxima: > gamma x largest */
    double eps_p;                      /* P present if its maxima exceed eps_p x QRS's */
    double qrs_shift_on_ms, qrs_shift_off_ms; /* systematic corrections, ms */
    double sigma_sp_ms, xi_sp_on, xi_sp_off; /* pf_delin_qrs_spatial scale and thresholds */
    /* pf_delin_merge: a lead's boundary moves from the fusion towards its own
     * by this weight, when its own lies within the tolerance of the fusion */
    double lead_w_qrs, lead_tol_qrs_ms, lead_w_pt, lead_tol_pt_ms;
    double spike_ratio, spike_rel;     /* pf_delin_despike: narrow / wide curvature, share of lead amplitude */
    int spike_leads;                   /* leads that must see a pacing spike (0: no despiking) */
} pf_delin_cfg;

void pf_delin_cfg_default(pf_delin_cfg *c, double fs);
/* x: one lead, n samples; r: R-peak indices (increasing). out: nr beats. */
int pf_delin_lead(const pf_delin_cfg *c, const float *x, size_t n, const long *r, size_t nr,
                  pf_delin_beat *out);

/* Median of the non-negative values of v[0..n) (reorders v); -1 when fewer
 * than need of them (need >= 1). Boundaries absent in a lead are -1. */
long pf_delin_median(long *v, int n, int need);

/* Multi-lead fusion: per beat, each boundary is the median over the leads
 * that have it (a P or T wave counts when at least min_frac of the leads
 * found it). per_lead: L arrays of nb beats (same R peaks). Single-lead
 * boundaries scatter around the complex's global extent; the median is
 * steadier, and annotations made lead by lead differ little from it. */
int pf_delin_fuse(const pf_delin_beat *const *per_lead, int L, size_t nb, double min_frac,
                  pf_delin_beat *out);

/* QRS onset/offset from all leads at once: the spatial energy
 * E(t) = sum_l (W_l(t) / a_l)^2 of the fine-scale wavelet (a_l: the lead's
 * largest |W| in the complex) is walked out from its maximum until it falls
 * below c->xi_sp_on / xi_sp_off of it. x: [L][n] lead-major. Fills qrs_on and
 * qrs_off of out[0..nr) (other fields untouched). */
int pf_delin_qrs_spatial(const pf_delin_cfg *c, const float *x, int L, size_t n, const long *r,
                         size_t nr, pf_delin_beat *out);

/* A lead's boundaries after fusion: each onset / offset is the fused one
 * moved towards the lead's own by c->lead_w_qrs (QRS) or c->lead_w_pt (P, T)
 * when the lead's own is within lead_tol_*_ms of it, else the fused one.
 * Annotators mark each lead's own extent, which the fusion cannot know, but a
 * single lead's boundary is noisier than the median: a partial step towards
 * it scores better per lead than either (LUDB, cross-checked on odd / even
 * records). Peaks stay fused; a wave whose blended bounds would not enclose
 * its peak keeps the fused bounds. */
void pf_delin_merge(const pf_delin_cfg *c, const pf_delin_beat *lead, const pf_delin_beat *fused,
                    size_t nb, pf_delin_beat *out);

/* Bridge pacemaker spikes (narrow deflections seen by c->spike_leads leads
 * at once) with straight lines, in place. x: [L][n] lead-major. *nspikes
 * (may be NULL): spikes removed. */
int pf_delin_despike(const pf_delin_cfg *c, float *x, int L, size_t n, size_t *nspikes);

/* Every lead, the fusion and the joint QRS bounds on a despiked copy of x:
 * per_lead[l][0..nr) and fused[0..nr). */
int pf_delin_multi(const pf_delin_cfg *c, const float *x, int L, size_t n, const long *r, size_t nr,
                   pf_delin_beat *const *per_lead, pf_delin_beat *fused, size_t *nspikes);

/* The whole multi-lead procedure on one window, as validated on LUDB
 * (`physioflow eval delineation`): pf_delin_multi; with lead >= 0 that lead's
 * boundaries moved towards its own (pf_delin_merge).
 * x: [L][n] lead-major. *nspikes (may be NULL): pacing spikes bridged. */
int pf_delin_window(const pf_delin_cfg *c, const float *x, int L, size_t n, const long *r, size_t nr, int lead,
                    pf_delin_beat *out, size_t *nspikes);

#endif
