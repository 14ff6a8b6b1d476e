/* pf_rpeak: streaming multi-lead QRS (R-peak) detector.
 *
 * Per lead: causal Butterworth band-pass (QRS band) -> absolute slope over
 * ~10 ms -> moving-window integration (~80 ms), normalised by the lead's
 * running QRS feature level; the leads' features are summed (noisy or flat
 * leads weigh less because their level tracks their own beats). Peaks of the
 * combined feature that are the maximum within +-R ms become candidates,
 * classified with Hamilton-style adaptive thresholds (medians of the last 8
 * QRS and noise peaks), a T-wave slope test, and Pan-Tompkins search-back
 * when no beat arrives within a multiple of the running RR interval.
 * References: Pan & Tompkins 1985; Hamilton & Tompkins 1986 (OSEA).
 *
 * Streaming: every decision is taken sample by sample from buffered history,
 * so the detections do not depend on how the record is cut into chunks.
 * Detections are reported with a bounded delay (pf_rpeak_latency) as
 * absolute sample indices (0 = first sample ever fed), in increasing order.
 * Non-finite input samples are counted and treated as 0.
 */
#ifndef PF_RPEAK_H
#define PF_RPEAK_H

#include <stddef.h>

typedef struct {
    double fs;          /* Hz */
    int nleads;         /* leads in the interleaved input */
    int lead;           /* -1: use all leads; otherwise only this one */
    double f_lo, f_hi;  /* QRS band-pass edges, Hz (default 8, 20) */
    double mwi_ms;      /* integration window (default 100 ms) */
    double peak_ms;     /* candidates are maxima within +-peak_ms (default 200) */
    double refractory_ms; /* one beat per refractory period (default 200) */
    double th;          /* threshold position between noise and QRS medians (0.3125) */
    double sb_factor;   /* search back after sb_factor x RR (default 1.4) */
    double sb_th;       /* search-back accepts peaks above sb_th x threshold (0.5) */
    double relearn_factor; /* nothing even then after this x RR: re-learn the QRS level (3) */
    double relearn_snr;    /* ... from a candidate at least this x the noise level (2) */
    double twave_ms;    /* T-wave test for candidates closer than this (360 ms) */
    double learn_s;     /* learning period before the first decision (2 s) */
    double wfloor;      /* lead weight (wfloor + noise ratio)^-wpow (0.02, 2) */
    double wpow;
} pf_rpeak_cfg;

typedef struct pf_rpeak pf_rpeak;

void pf_rpeak_cfg_default(pf_rpeak_cfg *c, double fs, int nleads);
pf_rpeak *pf_rpeak_create(const pf_rpeak_cfg *c);
void pf_rpeak_destroy(pf_rpeak *d);
/* Feed n samples x: [n, nleads]. Detected R peaks (absolute indices) are
 * appended to peaks (capacity max); *np gets how many. A call can report at
 * most n / (0.2 fs) + 4 peaks; PF_ERANGE if max is smaller than needed. */
int pf_rpeak_process(pf_rpeak *d, const float *x, size_t n, long *peaks, size_t max, size_t *np);
/* End of record: decide the remaining buffered candidates. */
int pf_rpeak_flush(pf_rpeak *d, long *peaks, size_t max, size_t *np);
/* Samples between a beat and the call that reports it (upper bound). */
long pf_rpeak_latency(const pf_rpeak *d);
/* Non-finite input samples seen so far. */
size_t pf_rpeak_nonfinite(const pf_rpeak *d);
/* Memory the detector holds, bytes (its history rings dominate). */
size_t pf_rpeak_bytes(const pf_rpeak *d);

#endif
