/* Synthetic multi-lead ECG for tests: Gaussian P, Q, R, S, T waves per beat
 * (lead-specific amplitudes), variable RR, optional ectopic wide beats,
 * DC offset, baseline wander, mains hum and white noise. R-peak sample
 * indices are returned so detectors can be scored exactly. */
#ifndef PF_TEST_SYNTH_ECG_H
#define PF_TEST_SYNTH_ECG_H

#include "pf_rng.h"

#include <math.h>
#include <stddef.h>

typedef struct {
    double fs;
    int nleads;
    double hr;          /* mean beats per minute */
    double rr_jitter;   /* relative RR standard deviation */
    double dc;          /* DC offset (mV) added to every lead, lead l gets dc*(1+l/4) */
    double wander;      /* baseline wander amplitude (mV), 0.15-0.3 Hz */
    double hum;         /* 50 Hz amplitude (mV) */
    double noise;       /* white noise SD (mV) */
    double ectopic;     /* fraction of wide (ventricular-like) beats */
    uint64_t seed;
} synth_ecg_cfg;

/* x: [n, nleads] sample-major. r: receives R-peak indices (max rmax).
 * Returns the number of beats written to r. */
static inline size_t synth_ecg(const synth_ecg_cfg *c, float *x, size_t n, long *r, size_t rmax)
{
    pf_rng g;
    pf_rng_seed(&g, pf_rng_key(c->seed, 0x5ec6, 0, 0));
    const double fs = c->fs;
    const int L = c->nleads;
    for (size_t i = 0; i < n * (size_t)L; i++) x[i] = 0;
    double lead_gain[64];
    for (int l = 0; l < L; l++) lead_gain[l] = (l % 3 == 2 ? -0.6 : 1.0) * (0.7 + 0.1 * (l % 5));
    size_t nb = 0;
    double t = 0.4 + 0.3 * pf_rng_uniform(&g);
    while (t * fs < (double)n - 1) {
        int wide = pf_rng_uniform(&g) < c->ectopic;
        long rs = (long)lround(t * fs);
        if (nb < rmax) r[nb] = rs;
        nb++;
        /* waves: (offset s, width s, amplitude mV) */
        double w[5][3] = {{-0.20, 0.025, 0.15}, {-0.03, 0.010, -0.12}, {0.0, 0.011, 1.2},
                          {0.03, 0.010, -0.25}, {0.28, 0.05, 0.3}};
        if (wide) {
            /* wide ventricular-like beat: no P, broad R (QRS ~120 ms), deep S */
            w[0][2] = 0; w[1][2] = 0; w[2][1] = 0.020; w[2][2] = 1.6;
            w[3][0] = 0.05; w[3][1] = 0.02; w[3][2] = -0.5; w[4][2] = -0.4;
        }
        for (int k = 0; k < 5; k++) {
            double mu = t + w[k][0], sd = w[k][1];
            long a = (long)floor((mu - 5 * sd) * fs), b = (long)ceil((mu + 5 * sd) * fs);
            for (long i = a < 0 ? 0 : a; i <= b && i < (long)n; i++) {
                double u = (i / fs - mu) / sd, v = w[k][2] * exp(-0.5 * u * u);
                for (int l = 0; l < L; l++) x[(size_t)i * L + l] += (float)(v * lead_gain[l]);
            }
        }
        double rr = 60.0 / c->hr * (1 + c->rr_jitter * pf_rng_normal(&g));
        if (wide) rr *= 0.75; /* premature */
        if (rr < 0.3) rr = 0.3;
        t += rr;
    }
    double ph = 2 * M_PI * pf_rng_uniform(&g), fw = 0.15 + 0.15 * pf_rng_uniform(&g);
    for (size_t i = 0; i < n; i++) {
        double ti = i / fs;
        double base = c->wander * sin(2 * M_PI * fw * ti + ph) + c->hum * sin(2 * M_PI * 50 * ti);
        for (int l = 0; l < L; l++)
            x[i * L + l] += (float)(c->dc * (1 + l / 4.0) + base * (1 + 0.1 * l) +
                                    c->noise * pf_rng_normal(&g));
    }
    return nb;
}

#endif
