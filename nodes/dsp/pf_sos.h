/* pf_sos: executes a pf_iirdes second-order-section cascade on multi-lead ECG.
 *
 * Layout: sample-major interleaved, x[t * nleads + lead] (the order samples
 * arrive in from a multi-channel reader and travel on the wire). The kernel
 * vectorises across leads: leads are processed in groups of 4 lanes whose
 * transposed-direct-form-II state (float64) stays in registers over a block
 * of samples, section after section. Input/output samples are float32;
 * all arithmetic and state are float64, which is what keeps a 0.5 Hz
 * high-pass with a DC offset within 1e-6 of scipy's float64 sosfilt.
 *
 * Engines:
 *   PF_SOS_ENGINE_F64    the optimised kernel above (default)
 *   PF_SOS_ENGINE_REF    naive reference: lead by lead, sample by sample
 *   PF_SOS_ENGINE_LIQUID liquid-dsp iirfilt_rrrf per lead (float32 coefficients
 *                        and state; kept for comparison, ~1e-2 off scipy near DC)
 *
 * Causal streaming: state persists across pf_sos_process calls, so a record
 * fed in chunks gives the same output as fed at once. Group delay (samples,
 * at the design's f_ref) lets downstream code keep sample indices aligned.
 */
#ifndef PF_SOS_H
#define PF_SOS_H

#include "pf_iirdes.h"

#include <stddef.h>

typedef enum {
    PF_SOS_ENGINE_F64 = 0,
    PF_SOS_ENGINE_REF,
    PF_SOS_ENGINE_LIQUID,
} pf_sos_engine;

typedef struct pf_sos pf_sos;

pf_sos *pf_sos_create(const pf_iirdes *d, int nleads, pf_sos_engine engine);
void pf_sos_destroy(pf_sos *f);
/* A new filter in the same state (f64 and ref engines; NULL + error for liquid). */
pf_sos *pf_sos_copy(const pf_sos *f);
/* x, y: [n, nleads] interleaved; y may equal x. */
int pf_sos_process(pf_sos *f, const float *x, float *y, size_t n);
/* Same on float64 samples (used by tests comparing against scipy at full precision). */
int pf_sos_process_f64(pf_sos *f, const double *x, double *y, size_t n);
/* Zero state (a fresh stream). */
void pf_sos_reset(pf_sos *f);
/* Group delay in samples at the design's f_ref (causal mode). */
double pf_sos_group_delay(const pf_sos *f);
const char *pf_sos_engine_name(pf_sos_engine e);
int pf_sos_engine_parse(const char *name, pf_sos_engine *out);

/* Zero-phase forward-backward filtering of a whole window, identical in
 * convention to scipy.signal.sosfiltfilt(sos, x, axis=0) with its defaults:
 * odd extension of padlen = 3 * (2 nsec + 1 - min(#b2==0, #a2==0)) samples at
 * each end, and each pass started from the steady state (sosfilt_zi) scaled
 * by the first sample. n must exceed padlen. x, y: [n, nleads]; y may equal x.
 * Zero group delay. */
int pf_sos_filtfilt(const pf_iirdes *d, const float *x, float *y, size_t n, int nleads);
int pf_sos_filtfilt_f64(const pf_iirdes *d, const double *x, double *y, size_t n, int nleads);
/* The padlen pf_sos_filtfilt uses for d. */
size_t pf_sos_filtfilt_padlen(const pf_iirdes *d);

#endif
