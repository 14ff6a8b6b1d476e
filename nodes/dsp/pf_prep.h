/* pf_prep: the per-window preprocessing of the pretraining graphs
 * (configs/pretrain-physiowave.cfg: filter band = "bandpass", f_lo 0.5, f_hi 40,
 * order 2, causal; resample 500; normalize "zscore") as one call, so that tools
 * outside a graph (physioflow embed) feed the encoder exactly what it was trained
 * on. It is the filter node's arithmetic (pf_iirdes, pf_sos, pf_resamp, pf_norm)
 * for a window that does not continue its stream, which is every window of a
 * shuffled epoch: filter and resampler start from rest at the window's start. */
#ifndef PF_PREP_H
#define PF_PREP_H

#include <stddef.h>

#include "pf_norm.h"

typedef struct {
    double f_lo, f_hi;   /* band-pass edges, Hz (f_lo <= 0: no filter) */
    int order;           /* Butterworth order */
    int resample;        /* output rate, Hz (0 = keep) */
    pf_norm_kind norm;
} pf_prep_cfg;

/* The pretraining graphs' settings: 0.5-40 Hz order 2, 500 Hz, z-score. */
pf_prep_cfg pf_prep_pretrain(void);
/* Output samples for n input samples at fs (exact for whole resampler blocks). */
size_t pf_prep_out_len(const pf_prep_cfg *c, double fs, size_t n);
// x: [L, n] lead-major at fs -> y: [L, *ny] lead-major (capacity ymax samples per lead)
int pf_prep_window(const pf_prep_cfg *c, double fs, const float *x, int L, size_t n, float *y, size_t ymax, size_t *ny);

#endif
