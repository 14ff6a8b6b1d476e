#include "pf_augment.h"

#include <math.h>
#include <string.h>

void pf_random_permutation(pf_rng *r, int *perm, int m)
{
    for (int i = 0; i < m; i++) perm[i] = i;
    for (int i = m - 1; i > 0; i--) {
        int j = (int)pf_rng_below(r, (uint64_t)i + 1);
        int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
}

void pf_shuffle_beats(const float *x, int C, int T, const int64_t *peaks, int m, const int *perm,
                      int keep_prefix, float *out, int64_t *out_peaks)
{
    int64_t pos = 0;
    for (int k = 0; k < m; k++) {
        int b = perm[k];
        int64_t s = peaks[b], e = b + 1 < m ? peaks[b + 1] : T; /* beat b: [r_b, r_b+1) */
        out_peaks[k] = pos;
        for (int c = 0; c < C; c++) memcpy(out + (size_t)c * T + pos, x + (size_t)c * T + s, (size_t)(e - s) * sizeof(float));
        pos += e - s;
    }
    int64_t prefix = m ? peaks[0] : T;
    for (int c = 0; c < C; c++) {
        float *o = out + (size_t)c * T + pos;
        if (keep_prefix) memcpy(o, x + (size_t)c * T, (size_t)prefix * sizeof(float));
        else memset(o, 0, (size_t)prefix * sizeof(float));
    }
}

static int coin(pf_rng *r, double p) { return p > 0 && pf_rng_uniform(r) < p; }

/* x[t] += amp * sin(w t + ph) for t < T, by rotating a phasor in double:
 * one complex multiply per sample instead of a sin() call; the rotation's
 * rounding drift over a window (T < 2^24) stays far below float precision. */
static void add_sine(float *x, int T, double amp, double w, double ph)
{
    double c = cos(ph), s = sin(ph), cw = cos(w), sw = sin(w);
    for (int t = 0; t < T; t++) {
        x[t] += (float)(amp * s);
        double c2 = c * cw - s * sw;
        s = s * cw + c * sw;
        c = c2;
    }
}

int pf_perturb(float *x, int C, int T, double fs, const pf_perturb_config *c, uint64_t key)
{
    /* One random stream per kind of perturbation, so switching one on or off
     * never changes what another one draws. */
    int done = 0;
    const double two_pi = 6.283185307179586;
    pf_rng r;
    pf_rng_seed(&r, pf_rng_key(key, PF_AUG_SCALE, 0, 0));
    if (coin(&r, c->scale_p)) {
        double scale = c->scale_min + (c->scale_max - c->scale_min) * pf_rng_uniform(&r);
        for (size_t i = 0; i < (size_t)C * T; i++) x[i] = (float)(x[i] * scale);
        done |= PF_AUG_SCALE;
    }
    pf_rng_seed(&r, pf_rng_key(key, PF_AUG_WANDER, 0, 0));
    if (coin(&r, c->wander_p)) {
        double wf = 0.05 + 0.45 * pf_rng_uniform(&r), wa = c->wander_amp * pf_rng_uniform(&r);
        for (int l = 0; l < C; l++) add_sine(x + (size_t)l * T, T, wa, two_pi * wf / fs, two_pi * pf_rng_uniform(&r));
        done |= PF_AUG_WANDER;
    }
    pf_rng_seed(&r, pf_rng_key(key, PF_AUG_POWERLINE, 0, 0));
    if (coin(&r, c->powerline_p)) {
        double ph = two_pi * pf_rng_uniform(&r);
        for (int l = 0; l < C; l++) add_sine(x + (size_t)l * T, T, c->powerline_amp, two_pi * c->mains_hz / fs, ph);
        done |= PF_AUG_POWERLINE;
    }
    pf_rng_seed(&r, pf_rng_key(key, PF_AUG_SHIFT, 0, 0));
    if (coin(&r, c->shift_p)) {
        for (int l = 0; l < C; l++) {
            float off = (float)(c->shift_max * (2 * pf_rng_uniform(&r) - 1));
            for (int t = 0; t < T; t++) x[(size_t)l * T + t] += off;
        }
        done |= PF_AUG_SHIFT;
    }
    pf_rng_seed(&r, pf_rng_key(key, PF_AUG_NOISE, 0, 0));
    if (coin(&r, c->noise_p)) {
        size_t n = (size_t)C * T, i = 0;
        for (; i + 1 < n; i += 2) { /* both Box-Muller deviates: half the log/sqrt calls */
            double a, b;
            pf_rng_normal2(&r, &a, &b);
            x[i] += (float)(c->noise_std * a);
            x[i + 1] += (float)(c->noise_std * b);
        }
        if (i < n) x[i] += (float)(c->noise_std * pf_rng_normal(&r));
        done |= PF_AUG_NOISE;
    }
    pf_rng_seed(&r, pf_rng_key(key, PF_AUG_MASK, 0, 0));
    if (coin(&r, c->mask_p)) {
        for (int l = 0; l < C; l++)
            if (pf_rng_uniform(&r) < c->mask_lead_p) memset(x + (size_t)l * T, 0, (size_t)T * sizeof(float));
        done |= PF_AUG_MASK;
    }
    return done;
}
