#include "pf_delin.h"

#include "pf_error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void pf_delin_cfg_default(pf_delin_cfg *c, double fs)
{
    memset(c, 0, sizeof *c);
    c->fs = fs;
    c->sigma_qrs_ms = 6;
    c->sigma_pt_ms = 16;
    c->xi_qrs_on = 0.03;
    c->xi_qrs_off = 0.125;
    c->xi_p_on = 0.6;
    c->xi_p_off = 0.9;
    c->xi_t_on = 0.35;
    c->xi_t_off = 0.4;
    c->gamma_qrs = 0.15;
    c->eps_p = 0.02;
    c->sigma_sp_ms = 12;
    c->xi_sp_on = 0.03;
    c->xi_sp_off = 0.03;
    c->spike_ratio = 0.8;
    c->spike_rel = 0.2;
    c->spike_leads = 5;
    c->lead_w_qrs = 0.3;
    c->lead_tol_qrs_ms = 40;
    c->lead_w_pt = 0.4;
    c->lead_tol_pt_ms = 80;
}

/* W = x convolved with the derivative of a Gaussian (sigma in samples),
 * symmetric, edges by clamping. */
static void dog(const float *x, size_t n, double sigma, double *w)
{
    int h = (int)ceil(4 * sigma);
    double *k = malloc(sizeof(double) * (2 * h + 1));
    if (!k) return;
    for (int i = -h; i <= h; i++) k[i + h] = -i / (sigma * sigma) * exp(-0.5 * i * i / (sigma * sigma));
    for (size_t t = 0; t < n; t++) {
        double s = 0;
        for (int i = -h; i <= h; i++) {
            long u = (long)t - i;
            if (u < 0) u = 0;
            if (u >= (long)n) u = (long)n - 1;
            s += k[i + h] * x[u];
        }
        w[t] = s;
    }
    free(k);
}

static long clampl(long v, long lo, long hi) { return v < lo ? lo : v > hi ? hi : v; }

/* walk from m in direction dir while |w| > frac |w[m]| and |w| keeps falling
 * (stop at a local minimum of |w|); bounded by [lo, hi] */
static long walk(const double *w, long m, int dir, double frac, long lo, long hi)
{
    double thr = frac * fabs(w[m]);
    long t = m;
    while (t + dir >= lo && t + dir <= hi) {
        long u = t + dir;
        if (fabs(w[u]) < thr) return u;
        if (fabs(w[u]) > fabs(w[t]) && t != m) return t; /* local minimum of |w| */
        t = u;
    }
    return t;
}

/* A wave (P or T) in [a, b] of w: the largest positive and negative maxima;
 * peak at the zero crossing between them; boundaries walked outwards. */
static int wave(const double *w, long N, long a, long b, double xi_on, double xi_off,
                double min_amp, long *on, long *peak, long *off)
{
    if (b - a < 4) return 0;
    long imax = a, imin = a;
    for (long t = a; t <= b; t++) {
        if (w[t] > w[imax]) imax = t;
        if (w[t] < w[imin]) imin = t;
    }
    if (w[imax] <= 0 || w[imin] >= 0) return 0;
    if (fmin(w[imax], -w[imin]) < min_amp) return 0;
    long m1 = imax < imin ? imax : imin, m2 = imax < imin ? imin : imax;
    long z = m1;
    while (z < m2 && (w[z] > 0) == (w[m1] > 0)) z++;
    /* zero crossing between z-1 and z: pick the closer */
    if (z > m1 && fabs(w[z - 1]) < fabs(w[z])) z--;
    *peak = z;
    /* boundaries may lie outside the search window, by up to half its width */
    *on = walk(w, m1, -1, xi_on, clampl(a - (b - a) / 2, 0, N), m1);
    *off = walk(w, m2, +1, xi_off, m2, clampl(b + (b - a) / 2, 0, N));
    return 1;
}

/* qrs (may be NULL): QRS bounds that place the P and T searches (and the
 * bridging) instead of this lead's own */
static int delin_lead(const pf_delin_cfg *c, const float *x, size_t n, const long *r, size_t nr,
                      const pf_delin_beat *qrs, pf_delin_beat *out)
{
    if (!c || !x || (!r && nr) || (!out && nr)) return pf_err(PF_EINVAL, "pf_delin_lead: NULL argument");
    if (!(c->fs > 0)) return pf_err(PF_ERANGE, "delin: fs = %g must be > 0", c->fs);
    double *wq = malloc(sizeof(double) * (n + 1)), *wp = malloc(sizeof(double) * (n + 1));
    if (!wq || !wp) {
        free(wq);
        free(wp);
        return pf_err(PF_ENOMEM, "delin: out of memory (%zu samples)", n);
    }
    const double fs = c->fs;
    dog(x, n, c->sigma_qrs_ms * 1e-3 * fs, wq);
#define MS(v) ((long)lround((v) * 1e-3 * fs))
    const long N = (long)n - 1;
    for (size_t i = 0; i < nr; i++) {
        pf_delin_beat *b = &out[i];
        long R = clampl(r[i], 0, N);
        b->r = R;
        b->p_on = b->p_peak = b->p_off = b->t_on = b->t_peak = b->t_off = -1;
        /* QRS: significant modulus maxima of wq around R */
        long a = clampl(R - MS(120), 0, N), e = clampl(R + MS(120), 0, N);
        double big = 0;
        for (long t = a; t <= e; t++) big = fmax(big, fabs(wq[t]));
        long first = R, last = R;
        int have = 0;
        for (long t = a + 1; t < e; t++) {
            double v = fabs(wq[t]);
            if (v >= fabs(wq[t - 1]) && v > fabs(wq[t + 1]) && v > c->gamma_qrs * big) {
                if (!have || t < first) first = t;
                if (!have || t > last) last = t;
                have = 1;
            }
        }
        b->qrs_on = walk(wq, first, -1, c->xi_qrs_on, clampl(first - MS(80), 0, N), first);
        b->qrs_off = walk(wq, last, +1, c->xi_qrs_off, last, clampl(last + MS(100), 0, N));
        b->qrs_on = clampl(b->qrs_on + MS(c->qrs_shift_on_ms), 0, N);
        b->qrs_off = clampl(b->qrs_off + MS(c->qrs_shift_off_ms), 0, N);
        b->qamp = big;
    }
    /* P and T on a copy with every QRS bridged by a straight line: at the
     * coarse scale the QRS slopes would otherwise leak into the P and T
     * search windows and pull their maxima toward the complex */
    float *xb = malloc(sizeof(float) * (n + 1));
    if (!xb) {
        free(wq);
        free(wp);
        return pf_err(PF_ENOMEM, "delin: out of memory (%zu samples)", n);
    }
    memcpy(xb, x, sizeof(float) * n);
    for (size_t i = 0; i < nr; i++) {
        long a = out[i].qrs_on, e = out[i].qrs_off;
        if (qrs) { /* the wider of the two: no QRS slope may leak into P or T */
            a = qrs[i].qrs_on < a ? qrs[i].qrs_on : a;
            e = qrs[i].qrs_off > e ? qrs[i].qrs_off : e;
        }
        for (long t = a + 1; t < e; t++) xb[t] = (float)(x[a] + (x[e] - x[a]) * (double)(t - a) / (e - a));
    }
    dog(xb, n, c->sigma_pt_ms * 1e-3 * fs, wp);
    free(xb);
    for (size_t i = 0; i < nr; i++) {
        pf_delin_beat *b = &out[i];
        long R = b->r;
        double big = b->qamp;
        /* RR context */
        long rr_next = i + 1 < nr ? r[i + 1] - R : (i > 0 ? R - r[i - 1] : MS(800));
        long rr_prev = i > 0 ? R - r[i - 1] : rr_next;
        /* T: after the QRS, up to 60 % of RR (at most 600 ms) */
        long qon = b->qrs_on, qoff = b->qrs_off;
        if (qrs) {
            qon = qrs[i].qrs_on < qon ? qrs[i].qrs_on : qon;
            qoff = qrs[i].qrs_off > qoff ? qrs[i].qrs_off : qoff;
        }
        long ta = clampl(qoff + MS(40), 0, N);
        long tb = clampl(R + (long)fmin(0.6 * rr_next, (double)MS(600)), 0, N);
        if (i + 1 < nr) tb = (long)fmin(tb, r[i + 1] - MS(150));
        double qamp = big;
        long on, pk, off;
        if (tb > ta && wave(wp, N, ta, tb, c->xi_t_on, c->xi_t_off, 0.0, &on, &pk, &off)) {
            b->t_on = on;
            b->t_peak = pk;
            b->t_off = off;
        }
        /* P: before the QRS, within 300 ms (and after the previous T) */
        long pb = clampl(qon - MS(20), 0, N);
        long pa = clampl(qon - (long)fmin(MS(300), 0.5 * rr_prev), 0, N);
        if (i > 0 && out[i - 1].t_off >= 0 && out[i - 1].t_off > pa) pa = out[i - 1].t_off;
        double pscale = qamp * c->sigma_qrs_ms / c->sigma_pt_ms; /* compare on one scale */
        if (pb > pa && wave(wp, N, pa, pb, c->xi_p_on, c->xi_p_off, c->eps_p * pscale, &on, &pk, &off)) {
            b->p_on = on;
            b->p_peak = pk;
            b->p_off = off;
        }
    }
#undef MS
    free(wq);
    free(wp);
    return PF_OK;
}

int pf_delin_lead(const pf_delin_cfg *c, const float *x, size_t n, const long *r, size_t nr,
                  pf_delin_beat *out)
{
    return delin_lead(c, x, n, r, nr, NULL, out);
}

static int cmpl(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

long pf_delin_median(long *v, int n, int need)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        if (v[i] >= 0) v[m++] = v[i];
    if (m < need || m == 0) return -1;
    qsort(v, (size_t)m, sizeof *v, cmpl);
    return m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
}

int pf_delin_fuse(const pf_delin_beat *const *per_lead, int L, size_t nb, double min_frac,
                  pf_delin_beat *out)
{
    if (!per_lead || !out || L < 1) return pf_err(PF_EINVAL, "pf_delin_fuse: bad arguments (L = %d)", L);
    long v[512];
    if (L > 512) return pf_err(PF_ERANGE, "pf_delin_fuse: %d leads (max 512)", L);
    int need = (int)ceil(min_frac * L);
    if (need < 1) need = 1;
    for (size_t i = 0; i < nb; i++) {
        pf_delin_beat *o = &out[i];
#define FUSE(field, k)                                                                             \
        do {                                                                                       \
            for (int l = 0; l < L; l++) v[l] = per_lead[l][i].field;                               \
            o->field = pf_delin_median(v, L, k);                                                               \
        } while (0)
        FUSE(r, 1);
        FUSE(qrs_on, 1);
        FUSE(qrs_off, 1);
        FUSE(p_peak, need);
        FUSE(t_peak, need);
        if (o->p_peak >= 0) { FUSE(p_on, 1); FUSE(p_off, 1); }
        else o->p_on = o->p_off = -1;
        if (o->t_peak >= 0) { FUSE(t_on, 1); FUSE(t_off, 1); }
        else o->t_on = o->t_off = -1;
#undef FUSE
    }
    return PF_OK;
}

static long blend(long own, long fused, double w, long tol)
{
    if (fused < 0 || own < 0 || labs(own - fused) > tol) return fused;
    return fused + lround(w * (double)(own - fused));
}

void pf_delin_merge(const pf_delin_cfg *c, const pf_delin_beat *lead, const pf_delin_beat *fused,
                    size_t nb, pf_delin_beat *out)
{
    long tq = lround(c->lead_tol_qrs_ms * 1e-3 * c->fs), tp = lround(c->lead_tol_pt_ms * 1e-3 * c->fs);
    for (size_t i = 0; i < nb; i++) {
        const pf_delin_beat *a = &lead[i], *f = &fused[i];
        pf_delin_beat *o = &out[i];
        *o = *f;
        long on = blend(a->qrs_on, f->qrs_on, c->lead_w_qrs, tq), off = blend(a->qrs_off, f->qrs_off, c->lead_w_qrs, tq);
        if (on <= f->r && off >= f->r) o->qrs_on = on, o->qrs_off = off;
        if (f->p_peak >= 0) {
            on = blend(a->p_on, f->p_on, c->lead_w_pt, tp), off = blend(a->p_off, f->p_off, c->lead_w_pt, tp);
            if (on <= f->p_peak && off >= f->p_peak) o->p_on = on, o->p_off = off;
        }
        if (f->t_peak >= 0) {
            on = blend(a->t_on, f->t_on, c->lead_w_pt, tp), off = blend(a->t_off, f->t_off, c->lead_w_pt, tp);
            if (on <= f->t_peak && off >= f->t_peak) o->t_on = on, o->t_off = off;
        }
    }
}

int pf_delin_qrs_spatial(const pf_delin_cfg *c, const float *x, int L, size_t n, const long *r,
                         size_t nr, pf_delin_beat *out)
{
    if (!c || !x || L < 1 || (!r && nr) || (!out && nr)) return pf_err(PF_EINVAL, "pf_delin_qrs_spatial: bad arguments");
    double *w = malloc(sizeof(double) * (size_t)L * (n + 1)), *e = malloc(sizeof(double) * (n + 1));
    if (!w || !e) {
        free(w);
        free(e);
        return pf_err(PF_ENOMEM, "delin: out of memory (%d x %zu samples)", L, n);
    }
    const double fs = c->fs;
    for (int l = 0; l < L; l++) dog(x + (size_t)l * n, n, c->sigma_sp_ms * 1e-3 * fs, w + (size_t)l * n);
    /* maxima are searched within +-120 ms of R, but the walk may go on to
     * +-200 ms: a paced beat's R mark can sit at the stimulus, at the start
     * of a wide complex */
    const long N = (long)n - 1, h = (long)lround(0.12 * fs), h2 = (long)lround(0.2 * fs);
    for (size_t i = 0; i < nr; i++) {
        long R = clampl(r[i], 0, N), a = clampl(R - h, 0, N), b = clampl(R + h, 0, N);
        long a2 = clampl(R - h2, 0, N), b2 = clampl(R + h2, 0, N);
        for (long t = a2; t <= b2; t++) e[t] = 0;
        for (int l = 0; l < L; l++) {
            const double *wl = w + (size_t)l * n;
            double amp = 0;
            for (long t = a; t <= b; t++) amp = fmax(amp, fabs(wl[t]));
            if (amp <= 0) continue;
            for (long t = a2; t <= b2; t++) e[t] += (wl[t] / amp) * (wl[t] / amp);
        }
        long m = R;
        for (long t = a; t <= b; t++)
            if (e[t] > e[m]) m = t;
        double thr_on = c->xi_sp_on * e[m], thr_off = c->xi_sp_off * e[m];
        /* Walk out from the largest energy peak on each side of R: when the
         * leads agree (or there is one lead) the energy is the squared
         * wavelet, which vanishes at the R-peak itself, and a walk from the
         * global maximum alone would stop there. */
        long lm = R, rm = R;
        for (long t = a; t <= R; t++)
            if (e[t] > e[lm]) lm = t;
        for (long t = R; t <= b; t++)
            if (e[t] > e[rm]) rm = t;
        if (e[lm] < 0.1 * e[m]) lm = m;
        if (e[rm] < 0.1 * e[m]) rm = m;
        long on = lm < m ? lm : m, off = rm > m ? rm : m;
        while (on > a2 && e[on - 1] >= thr_on) on--;
        while (off < b2 && e[off + 1] >= thr_off) off++;
        out[i].qrs_on = clampl(on + (long)lround(c->qrs_shift_on_ms * 1e-3 * fs), 0, N);
        out[i].qrs_off = clampl(off + (long)lround(c->qrs_shift_off_ms * 1e-3 * fs), 0, N);
    }
    free(w);
    free(e);
    return PF_OK;
}

/* Pacing spikes: a pacemaker stimulus is a deflection a few ms wide, far
 * narrower than any QRS, seen by many leads at once. Annotators place the
 * QRS onset after it, and in the wavelet energy it would pull the onset
 * forward. A sample is a spike in one lead when its curvature over +-4 ms
 * (r4) is most of its curvature over +-12 ms (r12: a QRS apex grows with the
 * span, a spike does not), exceeds spike_rel of the lead's 99.5th-percentile
 * amplitude, and the signal returns to its level within +-6 ms (a step does
 * not). Confirmed when spike_leads leads agree within one sample; then every
 * lead is bridged by a straight line across it. */
static int cmpf(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

int pf_delin_despike(const pf_delin_cfg *c, float *x, int L, size_t n, size_t *nspikes)
{
    if (nspikes) *nspikes = 0;
    if (!c || !x || L < 1) return pf_err(PF_EINVAL, "pf_delin_despike: bad arguments (L = %d)", L);
    const double fs = c->fs;
    long k1 = lround(0.004 * fs), k2 = lround(0.006 * fs), k3 = lround(0.012 * fs);
    if (k1 < 1) k1 = 1;
    if (k2 <= k1) k2 = k1 + 1;
    if (k3 <= k2) k3 = k2 + 1;
    if ((long)n < 4 * k3 || c->spike_leads <= 0) return PF_OK;
    unsigned char *hits = calloc(n, 1);
    float *tmp = malloc(sizeof(float) * n);
    if (!hits || !tmp) {
        free(hits);
        free(tmp);
        return pf_err(PF_ENOMEM, "delin: out of memory (%zu samples)", n);
    }
    for (int l = 0; l < L; l++) {
        const float *v = x + (size_t)l * n;
        memcpy(tmp, v, sizeof(float) * n);
        qsort(tmp, n, sizeof *tmp, cmpf);
        float med = tmp[n / 2];
        for (size_t t = 0; t < n; t++) tmp[t] = fabsf(v[t] - med);
        qsort(tmp, n, sizeof *tmp, cmpf);
        double amp = tmp[(size_t)(0.995 * (double)(n - 1))];
        if (!(amp > 0) || !isfinite(amp)) continue;
        double prev = 0;
        for (long t = k3; t < (long)n - k3; t++) {
            double r4 = fabs(v[t] - 0.5 * (v[t - k1] + v[t + k1]));
            double r12 = fabs(v[t] - 0.5 * (v[t - k3] + v[t + k3]));
            double next = t + 1 < (long)n - k3 ? fabs(v[t + 1] - 0.5 * (v[t + 1 - k1] + v[t + 1 + k1])) : 0;
            int peak = r4 >= prev && r4 >= next;
            prev = r4;
            if (peak && r4 > c->spike_ratio * r12 && r4 > c->spike_rel * amp && fabs(v[t + k2] - v[t - k2]) < 0.5 * r4 &&
                hits[t] < 255)
                hits[t]++;
        }
    }
    size_t count = 0;
    for (long t = k3; t < (long)n - k3; t++) {
        int h = hits[t - 1] + hits[t] + hits[t + 1];
        if (h < c->spike_leads) continue;
        /* bridge [t - k1, t + k1 + 1] on every lead, then skip past it */
        long a = t - k1 - 1, b = t + k1 + 2;
        if (a < 0) a = 0;
        if (b > (long)n - 1) b = (long)n - 1;
        for (int l = 0; l < L; l++) {
            float *v = x + (size_t)l * n;
            for (long u = a + 1; u < b; u++) v[u] = (float)(v[a] + (v[b] - v[a]) * (double)(u - a) / (double)(b - a));
        }
        count++;
        t = b + k1;
    }
    free(hits);
    free(tmp);
    if (nspikes) *nspikes = count;
    return PF_OK;
}

int pf_delin_multi(const pf_delin_cfg *c, const float *x, int L, size_t n, const long *r, size_t nr,
                   pf_delin_beat *const *per_lead, pf_delin_beat *fused, size_t *nspikes)
{
    if (nspikes) *nspikes = 0;
    if (!c || !x || L < 1 || !per_lead || (!fused && nr) || (!r && nr))
        return pf_err(PF_EINVAL, "pf_delin_multi: bad arguments (L = %d)", L);
    if (!nr) return PF_OK;
    float *clean = malloc(sizeof(float) * (size_t)L * n);
    if (!clean) return pf_err(PF_ENOMEM, "delineation: out of memory (%d x %zu samples)", L, n);
    memcpy(clean, x, sizeof(float) * (size_t)L * n);
    pf_delin_beat *q = calloc(nr, sizeof *q);
    int rc = q ? pf_delin_despike(c, clean, L, n, nspikes) : pf_err(PF_ENOMEM, "delineation: out of memory");
    /* the joint QRS bounds first: they place every lead's P and T searches */
    if (!rc) rc = pf_delin_qrs_spatial(c, clean, L, n, r, nr, q);
    for (int l = 0; l < L && !rc; l++) rc = delin_lead(c, clean + (size_t)l * n, n, r, nr, q, per_lead[l]);
    if (!rc) rc = pf_delin_fuse((const pf_delin_beat *const *)per_lead, L, nr, 0.5, fused);
    for (size_t i = 0; i < nr && !rc; i++) {
        fused[i].qrs_on = q[i].qrs_on;
        fused[i].qrs_off = q[i].qrs_off;
    }
    free(q);
    free(clean);
    return rc;
}

int pf_delin_window(const pf_delin_cfg *c, const float *x, int L, size_t n, const long *r, size_t nr, int lead,
                    pf_delin_beat *out, size_t *nspikes)
{
    if (nspikes) *nspikes = 0;
    if (!nr) return PF_OK;
    if (lead >= L) return pf_err(PF_ERANGE, "delineation: lead %d but the window has %d leads", lead, L);
    pf_delin_beat **per = calloc((size_t)L, sizeof *per), *mine = malloc(sizeof(pf_delin_beat) * nr);
    int rc = per && mine ? PF_OK : pf_err(PF_ENOMEM, "delineation: out of memory");
    for (int l = 0; l < L && !rc; l++)
        if (!(per[l] = malloc(sizeof(pf_delin_beat) * nr))) rc = pf_err(PF_ENOMEM, "delineation: out of memory");
    if (!rc) rc = pf_delin_multi(c, x, L, n, r, nr, per, out, nspikes);
    if (!rc && lead >= 0) {
        pf_delin_merge(c, per[lead], out, nr, mine);
        memcpy(out, mine, sizeof(pf_delin_beat) * nr);
    }
    for (int l = 0; per && l < L; l++) free(per[l]);
    free(per);
    free(mine);
    return rc;
}
