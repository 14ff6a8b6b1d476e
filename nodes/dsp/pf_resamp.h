/* pf_resamp: rational-rate resampling of multi-lead ECG with liquid-dsp's
 * polyphase rresamp_rrrf (one per lead), e.g. MIT-BIH 360 -> 500 Hz
 * (P/Q = 25/18) and CPSC 2021 200 -> 500 Hz (5/2). Streaming: inputs that do
 * not fill a whole Q-sample block wait for the next call, so chunked and
 * one-shot output are identical. x: [n, nleads], y: [m, nleads]. */
#ifndef PF_RESAMP_H
#define PF_RESAMP_H

#include <stddef.h>

typedef struct pf_resamp pf_resamp;

/* Rates must be positive integers (Hz); P/Q = fs_out/fs_in reduced by their gcd. */
pf_resamp *pf_resamp_create(int fs_in, int fs_out, int nleads);
void pf_resamp_destroy(pf_resamp *r);
/* A new resampler in the same state: its outputs equal those of r for the same inputs. */
pf_resamp *pf_resamp_copy(const pf_resamp *r);
/* Largest number of output samples a call with n inputs can produce. */
size_t pf_resamp_max_out(const pf_resamp *r, size_t n);
/* Writes *ny samples to y (capacity ymax samples). */
int pf_resamp_process(pf_resamp *r, const float *x, size_t n, float *y, size_t ymax, size_t *ny);
/* Delay of the anti-aliasing filter in output samples: output sample k
 * corresponds to input time (k - delay) / fs_out. */
double pf_resamp_delay(const pf_resamp *r);
void pf_resamp_reset(pf_resamp *r);

#endif
