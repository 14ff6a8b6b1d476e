/* pf_features: PhysioCLR's 159-value physiological feature vector of a
 * window (reference/physioclr.md section 1.4), from R-peaks and the P / QRS /
 * T boundaries of the beat delineator (nodes/dsp/pf_delin.h).
 *
 * Layout (float32 [159]): per-beat blocks of 10 (zero-padded) for RR, PR,
 * QRS, QTc (Bazett), P duration, T duration, R, T and P amplitude, QRS slope
 * (0-99); mean, std, median, IQR of RR, PR, QRS, QTc, P dur, T dur, R amp,
 * P amp, T amp, QRS slope, ST at J+60 ms (100-143); RMSSD, pNN50, CVRR, % short
 * RR, % PR > 200, % QRS >= 120, % QRS 100-119, % QTc >= 500, % absent P,
 * % inverted T, % abnormal ST, ST MAD, adjacent-beat correlation mean, std,
 * min (144-158). Times in ms, amplitudes in signal units.
 *
 * Missing waves are explicit: a beat without a P (or T) wave gets 0 for its P
 * (T) duration, amplitude, PR (QT), and zeros are left out of the aggregates,
 * exactly the reference's convention; never a value computed from an absent
 * boundary. */
#ifndef PF_FEATURES_H
#define PF_FEATURES_H

#include "pf_delin.h"

#include <stdint.h>

#define PF_FEAT_DIM 159
#define PF_FEAT_BEATS 10

typedef struct pf_features pf_features;

/* lead: -1 = mean of all leads (published), else the lead index used. */
pf_features *pf_features_create(double fs, int lead);
void pf_features_destroy(pf_features *f);
/* x: [C, T] lead-major; peaks: m window-relative R-peak indices, ascending.
 * Fills out[159]. Returns PF_OK, or an error for bad arguments. */
int pf_features_compute(pf_features *f, const float *x, int C, int T, const int64_t *peaks, int m, float *out);
/* The same from beats already delineated (window-relative indices, -1
 * absent), e.g. a `delineate` node's BEATS: no second delineation. */
int pf_features_compute_beats(pf_features *f, const float *x, int C, int T, const pf_delin_beat *beats, int nb, float *out);
/* The steps, for tests and tools: the cleaned single trace (mean or lead,
 * minus its median, 0.5 Hz 5th-order Butterworth high-pass and a fs/50
 * boxcar, both forward-backward) ... */
int pf_features_trace(pf_features *f, const float *x, int C, int T, double *clean);
/* ... and the vector from a cleaned trace and delineated beats (any source:
 * the delineator, or manual annotations). */
void pf_features_from_beats(const double *clean, int T, double fs, const pf_delin_beat *beats, int nb, float *out);
/* Name of entry i ("rr_3", "qrs_mean", "rmssd", ...). */
const char *pf_features_name(int i, char *buf, int cap);

#endif
