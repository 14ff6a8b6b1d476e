/* pf_vtcheck: ventricular runs per lead, pulses through a run (pf_vtcheck.h). */
#include "pf_vtcheck.h"

#include "pf_error.h"
#include "pf_qrswidth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CORR_MAX 0.7     /* as pf_bedmon's ventricular-beat test */
#define RUN_BEATS 5      /* the challenge's VT definition: >= 5 ventricular beats */
#define RUN_MIN_BPM 90.0 /* 100/min less the AAMI EC13 tolerance (10 %) */
#define PULSE_AVG 4       /* pulse rate over 4 intervals, the VT definition's 5 beats: one peak's jitter is not a rate change */
#define PULSE_DELAY_S 0.6 /* R to peripheral pulse peak: pulse arrival ~0.2-0.4 s, PLETH peak later */

static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

static double median_finite(const double *v, long n)
{
    double *w = malloc(sizeof(double) * (size_t)(n + 1));
    long m = 0;
    for (long i = 0; w && i < n; i++) if (isfinite(v[i])) w[m++] = v[i];
    double r = NAN;
    if (m) { qsort(w, (size_t)m, sizeof *w, cmp_d); r = m % 2 ? w[m / 2] : 0.5 * (w[m / 2 - 1] + w[m / 2]); }
    free(w);
    return r;
}

int pf_vtcheck_lead(const float *raw, const float *filt, long n, long w0, double fs, double gd, const long *bt, long nb, pf_vtlead *out)
{
    memset(out, 0, sizeof *out);
    out->native_qrs_ms = out->run_qrs_ms = NAN;
    if (nb <= 0) return PF_OK;
    double *wd = malloc(sizeof(double) * (size_t)nb);
    unsigned char *abn = calloc((size_t)nb, 1);
    long tw = (long)(0.1 * fs), L = 2 * tw + 1, nt = 0, first = 0;
    double *tm = calloc((size_t)L, sizeof(double));
    if (!wd || !abn || !tm) { free(wd); free(abn); free(tm); return pf_err(PF_ENOMEM, "vt check: out of memory"); }
    int rc = pf_qrswidth_lead(raw, n, fs, bt, nb, wd);
    while (first < nb && bt[first] < w0) first++;
    if (!rc) out->native_qrs_ms = median_finite(wd, first);
    /* the dominant beat: mean of the history's complexes */
    for (long i = 0; !rc && i < first; i++) {
        long c0 = bt[i] + (long)lround(gd);
        if (c0 - tw < 0 || c0 + tw >= n) continue;
        for (long k = 0; k < L; k++) tm[k] += filt[c0 - tw + k];
        nt++;
    }
    /* after a narrow native rhythm a wide beat has changed shape by its width alone;
     * after a wide one (bundle-branch block, pacing) width cannot tell and the shape
     * decides (correlation, as pf_bedmon); with no history, width alone */
    const int wide_native = out->native_qrs_ms >= PF_QRS_WIDE_MS && nt >= 5;
    for (long i = first; !rc && i < nb; i++) {
        if (!wide_native && !(wd[i] >= PF_QRS_WIDE_MS)) continue;
        long c0 = bt[i] + (long)lround(gd);
        int unlike = !wide_native;
        if (wide_native && c0 - tw >= 0 && c0 + tw < n) {
            double ma = 0, mb = 0, xy = 0, xx = 0, yy = 0;
            for (long k = 0; k < L; k++) { ma += filt[c0 - tw + k]; mb += tm[k]; }
            ma /= L; mb /= L;
            for (long k = 0; k < L; k++) { double a = filt[c0 - tw + k] - ma, b = tm[k] - mb; xy += a * b; xx += a * a; yy += b * b; }
            unlike = xy / sqrt(xx * yy + 1e-30) < CORR_MAX;
        }
        abn[i] = (unsigned char)unlike;
        out->nv += unlike;
    }
    /* runs: RUN_BEATS consecutive ventricular beats at >= RUN_MIN_BPM over their own intervals;
     * overlapping windows of one run merge into one span */
    for (long i = first + RUN_BEATS - 1; !rc && i < nb; i++) {
        int all = 1;
        for (long k = i - RUN_BEATS + 1; k <= i; k++) all &= abn[k];
        if (!all) continue;
        double bpm = 60.0 * fs * (RUN_BEATS - 1) / (double)(bt[i] - bt[i - RUN_BEATS + 1]);
        if (!(bpm >= RUN_MIN_BPM)) continue;
        long on = bt[i - RUN_BEATS + 1];
        if (out->nrun && on <= out->run_off[out->nrun - 1]) { out->run_off[out->nrun - 1] = bt[i]; continue; }
        if (!out->nrun) out->run_qrs_ms = median_finite(wd + i - RUN_BEATS + 1, RUN_BEATS);
        if (out->nrun < PF_VT_MAXRUN) { out->run_on[out->nrun] = on; out->run_off[out->nrun] = bt[i]; out->nrun++; }
    }
    free(wd); free(abn); free(tm);
    return rc;
}

int pf_vtcheck_pulse_steady(const long *pl, long np, long n, long w0, double fs, long on, long off)
{
    double *iv = malloc(sizeof(double) * (size_t)(np + 1));
    long ni = 0;
    for (long i = 1; iv && i < np && pl[i] < w0; i++) iv[ni++] = (double)(pl[i] - pl[i - 1]);
    double ref = ni >= 4 ? median_finite(iv, ni) : NAN;
    free(iv);
    if (!isfinite(ref)) return 0;
    const double max_iv = 1.5 * ref; /* one missing pulse doubles the interval */
    /* a speed-up is a rate beyond the run's 90/min and beyond the pre-alarm pulse rate
     * plus the rate error a monitor is allowed (+-10 % or 5/min, AAMI EC13): a pulse
     * already at 110/min that stays there has not followed a run */
    const double ref_bpm = 60.0 * fs / ref, up_bpm = fmax(RUN_MIN_BPM, ref_bpm + fmax(0.1 * ref_bpm, 5.0));
    long end = off + (long)lround(PULSE_DELAY_S * fs);
    /* the pulses around the span: from the last one at or before `on` to the first
     * after `end`, or to the last one when the data end first (real time) */
    long a = -1, b = -1;
    for (long i = 0; i < np; i++) {
        if (pl[i] <= on) a = i;
        if (pl[i] > end) { b = i; break; }
    }
    if (a < 0) return 0;
    if (b < 0) {
        b = np - 1;
        /* the data end within the span: the last pulse must be recent, no longer ago
         * than the longest interval the tolerance allows */
        if ((double)(n - pl[b]) > max_iv) return 0;
    }
    if (b <= a) return 0;
    for (long i = a + 1; i <= b; i++) {
        long k = i - PULSE_AVG >= 0 ? i - PULSE_AVG : 0;
        if ((double)(pl[i] - pl[i - 1]) > max_iv) return 0;
        if (60.0 * fs * (double)(i - k) / (double)(pl[i] - pl[k]) >= up_bpm) return 0;
    }
    return 1;
}
