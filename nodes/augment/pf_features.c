#include "pf_features.h"

#include "pf_error.h"
#include "pf_iirdes.h"
#include "pf_sos.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pf_features {
    double fs;
    int lead;
    pf_iirdes hp;
    pf_delin_cfg delin;
    int cap;
    double *trace, *tmp;
    float *clean_f;
    long *r;
    pf_delin_beat *beats;
};

pf_features *pf_features_create(double fs, int lead)
{
    if (!(fs > 0)) { pf_err(PF_ERANGE, "features: sample rate %g must be > 0", fs); return NULL; }
    pf_features *f = calloc(1, sizeof *f);
    if (!f) { pf_err(PF_ENOMEM, "features: out of memory"); return NULL; }
    f->fs = fs;
    f->lead = lead;
    if (pf_iirdes_butter(&f->hp, PF_IIRDES_HIGHPASS, 5, 0.5, 0, fs)) { free(f); return NULL; }
    pf_delin_cfg_default(&f->delin, fs);
    return f;
}

void pf_features_destroy(pf_features *f)
{
    if (!f) return;
    free(f->trace); free(f->tmp); free(f->clean_f); free(f->r); free(f->beats);
    free(f);
}

static int grow(pf_features *f, int T)
{
    if (T <= f->cap) return PF_OK;
    free(f->trace); free(f->tmp); free(f->clean_f); free(f->r); free(f->beats);
    f->trace = malloc(sizeof(double) * (size_t)T);
    f->tmp = malloc(sizeof(double) * (size_t)T * 2 + 64 * sizeof(double));
    f->clean_f = malloc(sizeof(float) * (size_t)T);
    f->r = malloc(sizeof(long) * (size_t)T);
    f->beats = malloc(sizeof(pf_delin_beat) * (size_t)T);
    f->cap = T;
    if (!f->trace || !f->tmp || !f->clean_f || !f->r || !f->beats) { f->cap = 0; return pf_err(PF_ENOMEM, "features: out of memory"); }
    return PF_OK;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy's default percentile (linear interpolation) of a sorted array */
static double pct_sorted(const double *v, int n, double q)
{
    if (n == 0) return 0;
    double pos = q / 100.0 * (n - 1);
    int lo = (int)floor(pos);
    if (lo >= n - 1) return v[n - 1];
    return v[lo] + (pos - lo) * (v[lo + 1] - v[lo]);
}

static double median_of(const double *x, int n, double *scratch)
{
    if (n <= 0) return 0;
    memcpy(scratch, x, sizeof(double) * (size_t)n);
    qsort(scratch, (size_t)n, sizeof(double), cmp_d);
    return pct_sorted(scratch, n, 50);
}

/* scipy.signal.filtfilt(ones(L)/L, [1], x) with its default odd padding of 3L */
static void boxcar_filtfilt(double *x, int T, int L, double *tmp)
{
    if (L <= 1) return;
    int pad = 3 * L;
    if (pad > T - 1) pad = T - 1;
    int N = T + 2 * pad;
    double *e = tmp;
    for (int i = 0; i < pad; i++) e[i] = 2 * x[0] - x[pad - i];
    memcpy(e + pad, x, sizeof(double) * (size_t)T);
    for (int i = 0; i < pad; i++) e[pad + T + i] = 2 * x[T - 1] - x[T - 2 - i];
    for (int pass = 0; pass < 2; pass++) {
        /* steady state for the first sample: as if it had always been there */
        double first = e[0], acc = first * L;
        double *hist = e + N; /* ring of the last L inputs */
        for (int i = 0; i < L; i++) hist[i] = first;
        for (int i = 0, h = 0; i < N; i++, h = (h + 1) % L) {
            acc += e[i] - hist[h];
            hist[h] = e[i];
            e[i] = acc / L;
        }
        for (int i = 0; i < N / 2; i++) { double t = e[i]; e[i] = e[N - 1 - i]; e[N - 1 - i] = t; }
    }
    memcpy(x, e + pad, sizeof(double) * (size_t)T);
}

int pf_features_trace(pf_features *f, const float *x, int C, int T, double *clean)
{
    if (C < 1 || T < 64) return pf_err(PF_ERANGE, "features: window of %d x %d samples is too small (need >= 64 samples)", C, T);
    if (f->lead >= C) return pf_err(PF_ERANGE, "features: feature_lead %d but the window has %d leads", f->lead, C);
    int rc = grow(f, T + 8 * (int)(f->fs / 50) + 64);
    if (rc) return rc;
    for (int t = 0; t < T; t++) {
        double s = 0;
        if (f->lead < 0) { for (int c = 0; c < C; c++) s += x[(size_t)c * T + t]; s /= C; }
        else s = x[(size_t)f->lead * T + t];
        clean[t] = isfinite(s) ? s : 0;
    }
    double med = median_of(clean, T, f->tmp);
    for (int t = 0; t < T; t++) clean[t] -= med;
    if ((size_t)T > pf_sos_filtfilt_padlen(&f->hp)) pf_sos_filtfilt_f64(&f->hp, clean, clean, (size_t)T, 1);
    boxcar_filtfilt(clean, T, (int)lround(f->fs / 50.0), f->tmp);
    return PF_OK;
}

typedef struct { double v[PF_FEAT_BEATS]; int n; } block;

/* mean, population std, median, IQR of the finite non-zero values */
static void stats4(const double *v, int n, float *out)
{
    double s[PF_FEAT_BEATS];
    int k = 0;
    for (int i = 0; i < n; i++) if (isfinite(v[i]) && v[i] != 0) s[k++] = v[i];
    if (!k) { out[0] = out[1] = out[2] = out[3] = 0; return; }
    double m = 0, var = 0;
    for (int i = 0; i < k; i++) m += s[i];
    m /= k;
    for (int i = 0; i < k; i++) var += (s[i] - m) * (s[i] - m);
    qsort(s, (size_t)k, sizeof(double), cmp_d);
    out[0] = (float)m;
    out[1] = (float)sqrt(var / k);
    out[2] = (float)pct_sorted(s, k, 50);
    out[3] = (float)(pct_sorted(s, k, 75) - pct_sorted(s, k, 25));
}

static double pearson(const double *a, const double *b, int L)
{
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < L; i++) { ma += a[i]; mb += b[i]; }
    ma /= L; mb /= L;
    for (int i = 0; i < L; i++) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) * (a[i] - ma); sbb += (b[i] - mb) * (b[i] - mb); }
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
}

void pf_features_from_beats(const double *x, int T, double fs, const pf_delin_beat *beats, int nb, float *out)
{
    memset(out, 0, sizeof(float) * PF_FEAT_DIM);
    int n = nb < PF_FEAT_BEATS ? nb : PF_FEAT_BEATS;
    double ms = 1000.0 / fs;
    double RR[10] = {0}, PR[10] = {0}, QRS[10] = {0}, QTc[10] = {0}, Pd[10] = {0}, Td[10] = {0};
    double Ra[10] = {0}, Pa[10] = {0}, Ta[10] = {0}, Sl[10] = {0}, ST[10] = {0};
    double *scratch = malloc(sizeof(double) * (size_t)(T > 64 ? T : 64));
    double gmed = scratch ? median_of(x, T, scratch) : 0;
    long w40 = lround(0.080 * fs), w60 = lround(0.060 * fs);
    for (int i = 0; i < n; i++) {
        const pf_delin_beat *b = &beats[i];
        if (i > 0) RR[i] = (double)(b->r - beats[i - 1].r) * ms;
        int has_p = b->p_on >= 0 && b->p_off > b->p_on, has_t = b->t_on >= 0 && b->t_off > b->t_on;
        int has_q = b->qrs_on >= 0 && b->qrs_off > b->qrs_on;
        if (has_p) Pd[i] = (double)(b->p_off - b->p_on) * ms;
        if (has_q) QRS[i] = (double)(b->qrs_off - b->qrs_on) * ms;
        if (has_t) Td[i] = (double)(b->t_off - b->t_on) * ms;
        if (has_p && has_q) PR[i] = (double)(b->qrs_on - b->p_on) * ms;
        if (has_t && has_q && RR[i] > 0) QTc[i] = (double)(b->t_off - b->qrs_on) * ms / sqrt(RR[i] / 1000.0);
        double base = gmed;
        if (has_q && b->qrs_on > w40 && scratch) base = median_of(x + b->qrs_on - w40, (int)w40, scratch);
        if (b->r >= 0 && b->r < T) Ra[i] = x[b->r] - base;
        if (has_p && b->p_off <= T) { double mx = -INFINITY; for (long t = b->p_on; t < b->p_off; t++) mx = fmax(mx, x[t]); Pa[i] = mx - base; }
        if (has_t && b->t_off <= T) { double mx = -INFINITY; for (long t = b->t_on; t < b->t_off; t++) mx = fmax(mx, x[t]); Ta[i] = mx - base; }
        if (has_q && b->qrs_off + w60 < T) ST[i] = x[b->qrs_off + w60] - base;
        if (has_q && b->r > b->qrs_on && b->r < T) {
            double mx = 0;
            for (long t = b->qrs_on + 1; t <= b->r; t++) mx = fmax(mx, fabs(x[t] - x[t - 1]) * fs / 1000.0);
            Sl[i] = mx;
        }
    }
    const double *blocks[10] = {RR, PR, QRS, QTc, Pd, Td, Ra, Ta, Pa, Sl};
    for (int k = 0; k < 10; k++)
        for (int i = 0; i < n; i++) out[k * 10 + i] = (float)blocks[k][i];
    const double *agg[11] = {RR, PR, QRS, QTc, Pd, Td, Ra, Pa, Ta, Sl, ST};
    for (int k = 0; k < 11; k++) stats4(agg[k], n, out + 100 + 4 * k);
    float *h = out + 144;
    /* HRV over the valid RR intervals */
    double rr[10];
    int nr = 0;
    for (int i = 0; i < n; i++) if (RR[i] > 0) rr[nr++] = RR[i];
    if (nr >= 2) {
        double s2 = 0, m = 0, var = 0;
        int nn50 = 0;
        for (int i = 1; i < nr; i++) { double d = rr[i] - rr[i - 1]; s2 += d * d; nn50 += fabs(d) > 50; }
        for (int i = 0; i < nr; i++) m += rr[i];
        m /= nr;
        for (int i = 0; i < nr; i++) var += (rr[i] - m) * (rr[i] - m);
        double srt[10];
        memcpy(srt, rr, sizeof(double) * (size_t)nr);
        qsort(srt, (size_t)nr, sizeof(double), cmp_d);
        double med = pct_sorted(srt, nr, 50);
        int shorts = 0;
        for (int i = 0; i < nr; i++) shorts += rr[i] < 0.8 * med;
        h[0] = (float)sqrt(s2 / (nr - 1));
        h[1] = (float)(100.0 * nn50 / (nr - 1));
        h[2] = (float)(sqrt(var / nr) / (m + 1e-6));
        h[3] = (float)(100.0 * shorts / nr);
    }
    int npr = 0, pr200 = 0, nq = 0, q120 = 0, q100 = 0, nqt = 0, qt500 = 0, absent_p = 0, inv_t = 0, abn_st = 0;
    for (int i = 0; i < n; i++) {
        if (PR[i] > 0) { npr++; pr200 += PR[i] > 200; }
        if (QRS[i] > 0) { nq++; q120 += QRS[i] >= 120; }
        q100 += QRS[i] >= 100 && QRS[i] < 120;
        if (QTc[i] > 0) { nqt++; qt500 += QTc[i] >= 500; }
        absent_p += Pa[i] == 0;
        inv_t += Ta[i] < -0.05;
        abn_st += fabs(ST[i]) >= 0.1;
    }
    if (npr) h[4] = (float)(100.0 * pr200 / npr);
    if (nq) h[5] = (float)(100.0 * q120 / nq);
    if (n) {
        h[6] = (float)(100.0 * q100 / n);
        h[8] = (float)(100.0 * absent_p / n);
        h[9] = (float)(100.0 * inv_t / n);
        h[10] = (float)(100.0 * abn_st / n);
        double med = median_of(ST, n, scratch ? scratch : rr), dev[10];
        for (int i = 0; i < n; i++) dev[i] = fabs(ST[i] - med);
        h[11] = (float)median_of(dev, n, scratch ? scratch : rr);
    }
    if (nqt) h[7] = (float)(100.0 * qt500 / nqt);
    /* correlation of consecutive beats, each bounded by the midpoints between R-peaks */
    double corr[PF_FEAT_BEATS];
    int nc = 0;
    for (int i = 0; i + 1 < nb && nc < 9; i++) {
        long a0 = i > 0 ? (beats[i - 1].r + beats[i].r) / 2 : 0, a1 = (beats[i].r + beats[i + 1].r) / 2;
        long b0 = a1, b1 = i + 2 < nb ? (beats[i + 1].r + beats[i + 2].r) / 2 : T;
        long L = a1 - a0 < b1 - b0 ? a1 - a0 : b1 - b0;
        if (L < 30 || a0 < 0 || b1 > T) continue;
        corr[nc++] = pearson(x + a0, x + b0, (int)L);
    }
    if (nc) {
        double m = 0, var = 0, mn = corr[0];
        for (int i = 0; i < nc; i++) { m += corr[i]; mn = fmin(mn, corr[i]); }
        m /= nc;
        for (int i = 0; i < nc; i++) var += (corr[i] - m) * (corr[i] - m);
        h[12] = (float)m;
        h[13] = (float)sqrt(var / nc);
        h[14] = (float)mn;
    }
    free(scratch);
}

int pf_features_compute(pf_features *f, const float *x, int C, int T, const int64_t *peaks, int m, float *out)
{
    int rc = grow(f, T + 8 * (int)(f->fs / 50) + 64);
    if (!rc) rc = pf_features_trace(f, x, C, T, f->trace);
    if (rc) return rc;
    int nr = 0;
    for (int i = 0; i < m; i++)
        if (peaks[i] >= 0 && peaks[i] < T && (nr == 0 || peaks[i] > f->r[nr - 1])) f->r[nr++] = (long)peaks[i];
    /* the delineation validated on LUDB (nodes/dsp, `physioflow eval delineation`) */
    if (nr && pf_delin_window(&f->delin, x, C, (size_t)T, f->r, (size_t)nr, f->lead, f->beats, NULL))
        return pf_err_context(PF_EINVAL, "features: delineation of a %d x %d window", C, T);
    pf_features_from_beats(f->trace, T, f->fs, f->beats, nr, out);
    return PF_OK;
}

const char *pf_features_name(int i, char *buf, int cap)
{
    static const char *blocks[10] = {"rr", "pr", "qrs", "qtc", "p_dur", "t_dur", "r_amp", "t_amp", "p_amp", "qrs_slope"};
    static const char *aggs[11] = {"rr", "pr", "qrs", "qtc", "p_dur", "t_dur", "r_amp", "p_amp", "t_amp", "qrs_slope", "st"};
    static const char *st[4] = {"mean", "std", "median", "iqr"};
    static const char *tail[15] = {"rmssd", "pnn50", "cvrr", "pct_short_rr", "pct_pr_gt_200", "pct_qrs_ge_120", "pct_qrs_100_119",
                                   "pct_qtc_ge_500", "pct_absent_p", "pct_inverted_t", "pct_abn_st", "st_mad", "adj_corr_mean",
                                   "adj_corr_std", "adj_corr_min"};
    if (i < 0 || i >= PF_FEAT_DIM) snprintf(buf, (size_t)cap, "?");
    else if (i < 100) snprintf(buf, (size_t)cap, "%s_%d", blocks[i / 10], i % 10);
    else if (i < 144) snprintf(buf, (size_t)cap, "%s_%s", aggs[(i - 100) / 4], st[(i - 100) % 4]);
    else snprintf(buf, (size_t)cap, "%s", tail[i - 144]);
    return buf;
}

int pf_features_compute_beats(pf_features *f, const float *x, int C, int T, const pf_delin_beat *beats, int nb, float *out)
{
    int rc = grow(f, T + 8 * (int)(f->fs / 50) + 64);
    if (!rc) rc = pf_features_trace(f, x, C, T, f->trace);
    if (rc) return rc;
    pf_features_from_beats(f->trace, T, f->fs, beats, nb, out);
    return PF_OK;
}
