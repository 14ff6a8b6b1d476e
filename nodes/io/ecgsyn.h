/* pf_ecgsyn: a realistic synthetic multi-lead ECG with known R-peaks.
 *
 * The dynamical model of McSharry et al. 2003 (ECGSYN, IEEE TBME 50:289):
 * the heart's phase theta turns once per RR interval; each wave (P, Q, R, S,
 * T) is a Gaussian in theta at its ECGSYN angle and width, with ECGSYN's
 * heart-rate scaling of angles and widths. RR intervals come from ECGSYN's
 * bimodal spectrum (Mayer waves at 0.1 Hz, respiratory sinus arrhythmia at
 * 0.25 Hz). As in the 3-D extension of the model (Sameni et al. 2007), three
 * orthogonal vectorcardiogram leads X, Y, Z each get their own wave
 * amplitudes, and the 12 standard leads are the projection of the VCG through
 * Dower's inverse transform (Dower et al. 1988). Baseline wander, powerline
 * and white noise are added per lead.
 *
 * The R-peak of each beat is at theta = 0, so its time is known exactly.
 * Everything is a pure function of (seed, sample index): any sample range
 * renders the same values whichever window or process asks for it.
 */
#ifndef PF_ECGSYN_H
#define PF_ECGSYN_H

#include <stdint.h>

typedef struct {
    double fs;           /* sample rate, Hz */
    double duration;     /* seconds */
    int n_leads;         /* 12: I II III aVR aVL aVF V1-V6; fewer: first n of II V1 I III aVR aVL aVF V2-V6 */
    double hr_mean;      /* beats per minute */
    double hr_std;       /* heart-rate variability, bpm standard deviation */
    double lf_hf;        /* LF/HF power ratio of the RR spectrum */
    double noise_mv;     /* white noise standard deviation, mV */
    double baseline_mv;  /* baseline wander amplitude, mV */
    double powerline_mv; /* powerline interference amplitude, mV */
    double mains_hz;     /* 50 or 60 */
    uint64_t seed;
} pf_ecgsyn_config;

typedef struct pf_ecgsyn pf_ecgsyn;

void pf_ecgsyn_defaults(pf_ecgsyn_config *c);
pf_ecgsyn *pf_ecgsyn_create(const pf_ecgsyn_config *c);
void pf_ecgsyn_destroy(pf_ecgsyn *s);
int64_t pf_ecgsyn_length(const pf_ecgsyn *s);            /* samples */
int pf_ecgsyn_leads(const pf_ecgsyn *s);
const char *pf_ecgsyn_lead_name(const pf_ecgsyn *s, int lead);
/* Render samples [start, start + n) of every lead into out[lead * n + i], mV.
 * Samples beyond the record's end are zeros. */
int pf_ecgsyn_render(const pf_ecgsyn *s, int64_t start, int n, float *out);
/* R-peak sample indices in [start, start + n), ascending; returns how many
 * (at most cap are written). */
int pf_ecgsyn_rpeaks(const pf_ecgsyn *s, int64_t start, int64_t n, int64_t *out, int cap);
/* Every R-peak time in seconds (the exact model times). */
int pf_ecgsyn_beat_times(const pf_ecgsyn *s, const double **times);

#endif
