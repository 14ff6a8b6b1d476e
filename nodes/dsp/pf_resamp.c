#include "pf_resamp.h"

#include "pf_error.h"

#include <liquid/liquid.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SEMI_LEN 16  /* filter semi-length (input samples): delay and sharpness */
#define BW 0.45f     /* pass band, relative to the lower of the two rates */
#define ATTEN 80.0f  /* stop-band attenuation, dB: well below ECG ADC resolution */

struct pf_resamp {
    int P, Q, nleads;
    rresamp_rrrf *q;   /* one per lead */
    float *pend;       /* [nleads][Q]: inputs waiting for a full block */
    int npend;
    float *out;        /* [P] scratch */
    /* The last HB input blocks per lead, so that a copy can rebuild the
     * polyphase window by replay (liquid-dsp 1.5 has no rresamp copy):
     * liquid's state is the last 2 * SEMI_LEN inputs, HB * Q >= that. */
    float *hist;       /* [nleads][HB][Q] ring */
    int HB;
    long blocks;       /* blocks executed since create/reset */
};

static int gcd(int a, int b) { return b ? gcd(b, a % b) : a; }

pf_resamp *pf_resamp_create(int fs_in, int fs_out, int nleads)
{
    if (fs_in <= 0 || fs_out <= 0) {
        pf_err(PF_ERANGE, "pf_resamp_create: rates %d -> %d Hz must be positive", fs_in, fs_out);
        return NULL;
    }
    if (nleads < 1) {
        pf_err(PF_ERANGE, "pf_resamp_create: nleads = %d must be >= 1", nleads);
        return NULL;
    }
    int g = gcd(fs_in, fs_out);
    pf_resamp *r = calloc(1, sizeof *r);
    if (!r) goto nomem;
    r->P = fs_out / g;
    r->Q = fs_in / g;
    if (r->P > 1000 || r->Q > 1000) {
        pf_err(PF_ERANGE, "pf_resamp_create: ratio %d/%d too fine (P, Q must be <= 1000)", r->P,
               r->Q);
        free(r);
        return NULL;
    }
    r->nleads = nleads;
    r->q = calloc((size_t)nleads, sizeof *r->q);
    r->pend = calloc((size_t)nleads * r->Q, sizeof(float));
    r->out = calloc((size_t)r->P, sizeof(float));
    r->HB = (2 * SEMI_LEN + r->Q - 1) / r->Q;
    r->hist = calloc((size_t)nleads * r->HB * r->Q, sizeof(float));
    if (!r->q || !r->pend || !r->out || !r->hist) goto nomem;
    /* liquid's bw is relative to the interpolated rate's Nyquist band of the
     * slower side: min(P, Q)/max(P, Q) scales it for decimation. */
    float bw = BW * (r->P < r->Q ? (float)r->P / r->Q : 1.0f);
    for (int l = 0; l < nleads; l++) {
        r->q[l] = rresamp_rrrf_create_kaiser((unsigned)r->P, (unsigned)r->Q, SEMI_LEN, bw, ATTEN);
        if (!r->q[l]) {
            pf_err(PF_EINVAL, "liquid rresamp_rrrf_create_kaiser(%d, %d) failed", r->P, r->Q);
            pf_resamp_destroy(r);
            return NULL;
        }
        /* liquid's polyphase output carries a gain of sqrt(Q/P); undo it so
         * resampled ECG keeps its millivolts */
        float sc;
        rresamp_rrrf_get_scale(r->q[l], &sc);
        rresamp_rrrf_set_scale(r->q[l], sc * sqrtf((float)r->P / (float)r->Q));
    }
    return r;
nomem:
    pf_resamp_destroy(r);
    pf_err(PF_ENOMEM, "pf_resamp_create: out of memory");
    return NULL;
}

void pf_resamp_destroy(pf_resamp *r)
{
    if (!r) return;
    if (r->q)
        for (int l = 0; l < r->nleads; l++)
            if (r->q[l]) rresamp_rrrf_destroy(r->q[l]);
    free(r->q);
    free(r->pend);
    free(r->out);
    free(r->hist);
    free(r);
}

void pf_resamp_reset(pf_resamp *r)
{
    for (int l = 0; l < r->nleads; l++) rresamp_rrrf_reset(r->q[l]);
    r->npend = 0;
    r->blocks = 0;
}

pf_resamp *pf_resamp_copy(const pf_resamp *r)
{
    pf_resamp *c = pf_resamp_create(r->Q, r->P, r->nleads); /* only the ratio P/Q matters */
    if (!c) return NULL;
    long nb = r->blocks < r->HB ? r->blocks : r->HB;
    for (long b = r->blocks - nb; b < r->blocks; b++)
        for (int l = 0; l < r->nleads; l++)
            rresamp_rrrf_execute(c->q[l], r->hist + ((size_t)l * r->HB + b % r->HB) * r->Q, c->out);
    memcpy(c->hist, r->hist, sizeof(float) * r->nleads * r->HB * r->Q);
    memcpy(c->pend, r->pend, sizeof(float) * r->nleads * r->Q);
    c->npend = r->npend;
    c->blocks = r->blocks;
    return c;
}

size_t pf_resamp_max_out(const pf_resamp *r, size_t n)
{
    return (n + (size_t)r->npend) / (size_t)r->Q * (size_t)r->P;
}

double pf_resamp_delay(const pf_resamp *r)
{
    /* the prototype is linear phase, SEMI_LEN input samples long on each side */
    return (double)SEMI_LEN * r->P / r->Q;
}

int pf_resamp_process(pf_resamp *r, const float *x, size_t n, float *y, size_t ymax, size_t *ny)
{
    if (!r || (!x && n) || !ny) return pf_err(PF_EINVAL, "pf_resamp_process: NULL argument");
    *ny = 0;
    size_t need = pf_resamp_max_out(r, n);
    if (need > ymax)
        return pf_err(PF_ERANGE, "pf_resamp_process: output needs %zu samples, capacity %zu", need,
                      ymax);
    const int L = r->nleads, P = r->P, Q = r->Q;
    size_t m = 0;
    for (size_t t = 0; t < n; t++) {
        for (int l = 0; l < L; l++) r->pend[l * Q + r->npend] = x[t * L + l];
        if (++r->npend < Q) continue;
        int slot = (int)(r->blocks % r->HB);
        for (int l = 0; l < L; l++) {
            rresamp_rrrf_execute(r->q[l], r->pend + l * Q, r->out);
            for (int k = 0; k < P; k++) y[(m + k) * L + l] = r->out[k];
            memcpy(r->hist + ((size_t)l * r->HB + slot) * Q, r->pend + l * Q, sizeof(float) * Q);
        }
        r->blocks++;
        m += P;
        r->npend = 0;
    }
    *ny = m;
    return PF_OK;
}
