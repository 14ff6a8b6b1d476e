/* pf_alarmcheck: verify a monitor's alarm from every signal (pf_alarmcheck.h). */
#include "pf_alarmcheck.h"

#include "pf_bedmon.h"
#include "pf_error.h"
#include "pf_iirdes.h"
#include "pf_regular.h"
#include "pf_rpeak.h"
#include "pf_sos.h"
#include "pf_vtcheck.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Constants, each with its source:
 * - ECG complexes under 0.08 mV after the 1-40 Hz filter, or under 0.3 x the
 *   lead's reference QRS amplitude, are not beats: the same gate as pf_bedmon
 *   (bedside monitors ignore complexes under ~0.15 mV, AAMI EC13).
 * - kSQI: an ECG lead whose kurtosis is not above 5 is noise (Li, Clark &
 *   Clifford 2008); digitally flat (< 2 uV over 1 s) is lead-off.
 * - ABP: a pulse pressure under 20 mmHg or a mean pressure outside 30-200
 *   mmHg is an abnormal (artefactual) waveform (Sun, Reisner & Mark 2006).
 * - Pulses under 0.3 x the signal's reference pulse amplitude are not pulses
 *   (the detector re-learns on noise during a pause, as for the ECG).
 * - A pulse signal judges rates only when its intervals are regular (CV <= 0.25,
 *   as pf_bedmon's pulse rule): a detector counting dicrotic notches, or missing
 *   weak pulses, gives irregular intervals.
 * - A rate claim is refuted only beyond the heart-rate accuracy a monitor is
 *   allowed: +-10 % or +-5 /min, whichever is greater (AAMI EC13, 4.1.2.1): a
 *   monitor alarming at "< 40" may have seen up to 45, at "> 140" down to 126. */
#define QRS_MIN_MV 0.08
#define REL_MIN 0.3
#define KSQI_MIN 5.0
#define FLAT_MV 0.002
#define ABP_PP_MIN 20.0
#define ABP_MEAN_LO 30.0
#define ABP_MEAN_HI 200.0
#define PULSE_CV_MAX 0.25

/* The rate a monitor may have measured when the true rate is `bpm` (AAMI EC13). */
static double hr_tol(double bpm) { return fmax(0.1 * bpm, 5.0); }

static int is_pulse(const char *s) { return !strcasecmp(s, "PLETH") || !strcasecmp(s, "ABP") || !strcasecmp(s, "ART") || !strcasecmp(s, "PPG"); }
static int is_other(const char *s) { return !strcasecmp(s, "RESP") || !strcasecmp(s, "CO2") || !strcasecmp(s, "CVP") || !strcasecmp(s, "PAP") || !strcasecmp(s, "SpO2"); }

static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

static double median(double *v, long n)
{
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Beats (pulses) of one signal: detector, then the amplitude gate. */
static long detect(const float *x, long n, long w0, double fs, int pulse, int abp, const float *filt, double gd, long *bt, long cap)
{
    pf_rpeak_cfg c;
    pf_rpeak_cfg_default(&c, fs, 1);
    if (pulse) { c.f_lo = 0.5; c.f_hi = 6; c.mwi_ms = 150; c.peak_ms = 250; c.refractory_ms = 300; c.twave_ms = 0; } /* as pf_bedmon's pulse detector */
    pf_rpeak *d = pf_rpeak_create(&c);
    if (!d) return -1;
    size_t got = 0, more = 0;
    size_t pcap = (size_t)(n / (0.2 * fs)) + 8, extra = 256; /* the flush decides what the look-ahead still holds */
    long *pk = malloc(sizeof(long) * (pcap + extra));
    if (!pk || pf_rpeak_process(d, x, (size_t)n, pk, pcap, &got) || pf_rpeak_flush(d, pk + got, extra, &more)) { pf_rpeak_destroy(d); free(pk); return -1; }
    pf_rpeak_destroy(d);
    got += more;
    /* amplitude of each detection */
    double *amp = malloc(sizeof(double) * (got + 1)), *ref = malloc(sizeof(double) * (got + 1));
    long nref = 0;
    for (size_t i = 0; amp && ref && i < got; i++) {
        long t = pk[i];
        double a = 0;
        if (pulse) {
            /* peak to trough of the beat: from the foot before the upstroke to the peak after */
            long lo = t - (long)(0.5 * fs), hi = t + (long)(0.3 * fs);
            if (lo < 0) lo = 0;
            if (hi > n) hi = n;
            double mn = INFINITY, mx = -INFINITY;
            for (long k = lo; k < hi; k++) { if (x[k] < mn) mn = x[k]; if (x[k] > mx) mx = x[k]; }
            a = mx - mn;
        } else {
            long c0 = t + (long)lround(gd), tw = (long)(0.1 * fs);
            for (long k = c0 - tw; k <= c0 + tw; k++) if (k >= 0 && k < n) a = fmax(a, fabs(filt[k]));
        }
        amp[i] = a;
        if (t < w0) ref[nref++] = a;
    }
    double r = amp && ref ? median(ref, nref) : NAN;
    long nb = 0;
    for (size_t i = 0; amp && i < got && nb < cap; i++) {
        if (!pulse && amp[i] < QRS_MIN_MV) continue;
        if (abp && amp[i] < ABP_PP_MIN) continue;
        if (isfinite(r) && amp[i] < REL_MIN * r) continue;
        bt[nb++] = pk[i];
    }
    int ok = amp && ref;
    free(amp); free(ref); free(pk);
    return ok ? nb : -1;
}

/* vtach (pf_vtcheck.h for the rules): refuted by a good pulse signal going on
 * unchanged through the whole interval, whatever the ECG shows; else raised when
 * a good ECG lead has a ventricular run, unless a good pulse signal goes on
 * unchanged through every run; with no good ECG lead, raised (nothing to judge).
 * Requiring a second lead to confirm a run was tried and measured: on the 69
 * challenge VT alarms it suppressed 6 false alarms and 3 true ones (a bad trade
 * at 5 x FN; docs/nodes/monitor.md). */
static void vt_combine(pf_alarmcheck *out, const pf_vtlead *vt, long *const *pbt, const long *pnb, long n, long w0, double fs)
{
    for (int i = 0; i < out->nch; i++) {
        pf_alarmcheck_ch *c = &out->ch[i];
        if (!c->pulse || !c->good || !pbt[i] || !pf_vtcheck_pulse_steady(pbt[i], pnb[i], n, w0, fs, w0, n)) continue;
        c->steady = 1;
        c->verdict = PF_VERDICT_CONTRADICTS;
        c->why = "pulse unchanged through the interval";
        out->refuted = 1;
    }
    /* a good ECG lead with a regular rhythm and no ventricular beat through the whole
     * interval (pf_regular.h: Plesinger et al. 2015) refutes it: a run on another lead
     * is artefact, since a ventricular run shows as beats on every lead and breaks
     * the regularity */
    for (int i = 0; i < out->nch; i++) {
        pf_alarmcheck_ch *c = &out->ch[i];
        if (c->pulse || !c->good || !c->regular) continue;
        c->verdict = PF_VERDICT_CONTRADICTS;
        c->why = "regular narrow rhythm through the interval";
        out->refuted = 1;
    }
    if (out->refuted) { out->raise = 0; return; }
    int good = 0, nsp = 0;
    long on[PF_VT_MAXRUN * PF_ALARMCHECK_MAXCH], off[PF_VT_MAXRUN * PF_ALARMCHECK_MAXCH];
    for (int i = 0; i < out->nch; i++) {
        if (out->ch[i].pulse || !out->ch[i].good) continue;
        good++;
        for (int r = 0; r < vt[i].nrun; r++) { on[nsp] = vt[i].run_on[r]; off[nsp] = vt[i].run_off[r]; nsp++; }
    }
    out->raise = !good || nsp > 0;
    for (int i = 0; nsp && i < out->nch; i++) {
        pf_alarmcheck_ch *c = &out->ch[i];
        if (!c->pulse || !c->good || !pbt[i]) continue;
        int steady = 1;
        for (int k = 0; k < nsp && steady; k++) steady = pf_vtcheck_pulse_steady(pbt[i], pnb[i], n, w0, fs, on[k], off[k]);
        c->steady = steady;
        c->verdict = steady ? PF_VERDICT_CONTRADICTS : PF_VERDICT_SUPPORTS;
        c->why = steady ? "pulse unchanged through the ECG's runs" : "pulse changed during a run";
        if (steady) out->raise = 0;
    }
}

int pf_alarmcheck_run(int type, const float *x, int n_leads, const char *names, long n, long w0, double fs, pf_alarmcheck *out)
{
    memset(out, 0, sizeof *out);
    if (type < PF_ALARM_ASYSTOLE || type > PF_ALARM_VFIB) return pf_err(PF_EINVAL, "alarm check: type %d is not an arrhythmia alarm", type);
    if (!(fs >= 50) || n < 1 || w0 < 0 || w0 >= n) return pf_err(PF_EINVAL, "alarm check: interval [%ld, %ld) at %g Hz", w0, n, fs);
    pf_iirdes bp;
    double hi = fs * 0.45 < 40 ? fs * 0.45 : 40;
    if (pf_iirdes_butter(&bp, PF_IIRDES_BANDPASS, 2, 1.0, hi, fs)) return PF_EINVAL;
    float *raw = malloc(sizeof(float) * (size_t)n), *filt = malloc(sizeof(float) * (size_t)n);
    long cap = (long)(n / (0.2 * fs)) + 16, *bt = malloc(sizeof(long) * (size_t)cap);
    if (!raw || !filt || !bt) { free(raw); free(filt); free(bt); return pf_err(PF_ENOMEM, "alarm check: out of memory"); }
    const long bl = (long)lround(fs);
    const char *p = names;
    int rc = PF_OK;
    /* vtach: each ECG lead's runs, each pulse signal's pulses, for the combination */
    pf_vtlead vt[PF_ALARMCHECK_MAXCH];
    memset(vt, 0, sizeof vt);
    long *pbt[PF_ALARMCHECK_MAXCH] = {0}, pnb[PF_ALARMCHECK_MAXCH] = {0};
    for (int l = 0; l < n_leads && out->nch < PF_ALARMCHECK_MAXCH; l++) {
        char name[16] = "";
        if (p) {
            size_t k = 0;
            while (*p && *p != ',') { if (k < sizeof name - 1 && !isspace((unsigned char)*p)) name[k++] = *p; p++; }
            if (*p == ',') p++;
        }
        if (is_other(name)) continue;
        int pulse = is_pulse(name), abp = pulse && (!strcasecmp(name, "ABP") || !strcasecmp(name, "ART"));
        pf_alarmcheck_ch *c = &out->ch[out->nch++];
        snprintf(c->name, sizeof c->name, "%s", name[0] ? name : "ECG");
        c->pulse = pulse;
        c->min_rate = c->max_rate = c->ksqi = NAN;
        /* validity of the interval: no flat (lead-off) or mostly invalid second */
        const float *src = x + (size_t)l * n;
        long bad_blocks = 0;
        double sum = 0;
        for (long b = w0; b < n; b += bl) {
            long e = b + bl < n ? b + bl : n, nan = 0;
            double mn = INFINITY, mx = -INFINITY;
            for (long k = b; k < e; k++) {
                if (!isfinite(src[k])) { nan++; continue; }
                mn = fmin(mn, src[k]); mx = fmax(mx, src[k]); sum += src[k];
            }
            bad_blocks += !(mx - mn >= (pulse ? 1e-3 : FLAT_MV)) || nan > (e - b) / 2;
        }
        for (long k = 0; k < n; k++) raw[k] = isfinite(src[k]) ? src[k] : 0;
        double gd = 0;
        if (!pulse) {
            pf_sos *f = pf_sos_create(&bp, 1, PF_SOS_ENGINE_F64);
            if (!f) { rc = pf_err(PF_ENOMEM, "alarm check: out of memory"); break; }
            pf_sos_process(f, raw, filt, (size_t)n);
            gd = pf_sos_group_delay(f);
            pf_sos_destroy(f);
            double s2 = 0, s4 = 0;
            for (long k = w0; k < n; k++) { double v = (double)filt[k] * filt[k]; s2 += v; s4 += v * v; }
            c->ksqi = s2 > 0 ? (double)(n - w0) * s4 / (s2 * s2) : 0;
        }
        long nb = detect(raw, n, w0, fs, pulse, abp, filt, gd, bt, cap);
        if (nb < 0) { rc = pf_err(PF_EINVAL, "alarm check: signal %d (%s): beat detection failed: %s", l, c->name, pf_errmsg()); break; }
        double mean = sum / (double)(n - w0);
        c->good = 1;
        if (bad_blocks) { c->good = 0; c->why = "flat or invalid (lead-off)"; }
        /* not for vtach: a ventricular tachycardia is itself near-sinusoidal (low kurtosis) */
        else if (!pulse && !(c->ksqi > KSQI_MIN) && type != PF_ALARM_VTACH) { c->good = 0; c->why = "kurtosis <= 5 (noise)"; }
        else if (abp && (mean < ABP_MEAN_LO || mean > ABP_MEAN_HI)) { c->good = 0; c->why = "mean pressure outside 30-200 mmHg"; }
        /* the interval's beats: the longest stretch without one, and the rates over the
         * definition's runs of consecutive beats (a run may start before the interval) */
        long first = 0;
        while (first < nb && bt[first] < w0) first++;
        c->beats = (int)(nb - first);
        double gap = 0;
        for (long i = first; i <= nb; i++) {
            long a = i > 0 ? bt[i - 1] : 0, b = i < nb ? bt[i] : n;
            if (a < w0) a = w0;
            if (b - a > gap) gap = (double)(b - a);
        }
        c->max_gap_s = gap / fs;
        /* ventricular runs (pf_vtcheck: wide and unlike the dominant beat, >= 5 at >= 90/min) */
        int vrun = 0, ci = out->nch - 1;
        c->qrs_native_ms = c->qrs_run_ms = NAN;
        if (type == PF_ALARM_VTACH && !pulse) {
            if ((rc = pf_vtcheck_lead(raw, filt, n, w0, fs, gd, bt, nb, &vt[ci]))) { pf_err_context(rc, "alarm check: signal %d (%s)", l, c->name); break; }
            vrun = vt[ci].nrun > 0;
            c->vbeats = vt[ci].nv; c->vruns = vt[ci].nrun;
            c->qrs_native_ms = vt[ci].native_qrs_ms; c->qrs_run_ms = vt[ci].run_qrs_ms;
            c->regular = c->good && vt[ci].nv == 0 && pf_regular_span(bt, nb, w0, n, fs);
        }
        if (type == PF_ALARM_VTACH && pulse && nb > 0) {
            if (!(pbt[ci] = malloc(sizeof(long) * (size_t)nb))) { rc = pf_err(PF_ENOMEM, "alarm check: out of memory"); break; }
            memcpy(pbt[ci], bt, sizeof(long) * (size_t)nb);
            pnb[ci] = nb;
        }
        int run = type == PF_ALARM_TACHY ? 17 : 5;
        for (long i = first; i < nb; i++) {
            if (i < run - 1) continue;
            double r = 60.0 * fs * (run - 1) / (double)(bt[i] - bt[i - run + 1]);
            if (!(r >= c->min_rate)) c->min_rate = isnan(c->min_rate) ? r : fmin(c->min_rate, r);
            if (!(r <= c->max_rate)) c->max_rate = isnan(c->max_rate) ? r : fmax(c->max_rate, r);
        }
        if (c->good && pulse) {
            double s1 = 0, s2 = 0;
            long k = 0;
            for (long i = first > 0 ? first : 1; i < nb; i++) { double d = (double)(bt[i] - bt[i - 1]); s1 += d; s2 += d * d; k++; }
            double cv = k >= 3 ? sqrt(fmax(0, s2 / k - (s1 / k) * (s1 / k))) / (s1 / k) : NAN;
            if (!(cv <= PULSE_CV_MAX)) { c->good = 0; c->why = "pulse intervals irregular (CV > 0.25) or too few"; }
        }
        if (!c->good) { c->verdict = PF_VERDICT_UNKNOWN; continue; }
        int sup = 0;
        switch (type) {
        case PF_ALARM_ASYSTOLE: sup = c->max_gap_s >= 4.0; break;
        case PF_ALARM_BRADY: sup = c->max_gap_s >= 4.0 || !(c->min_rate >= 40 + hr_tol(40)); break;
        case PF_ALARM_TACHY: sup = !(c->max_rate < 140 - hr_tol(140)); break;
        case PF_ALARM_VTACH: sup = vrun; break;
        case PF_ALARM_VFIB: sup = c->max_gap_s >= 4.0 || !c->beats; break; /* no organised beat (pulse) for 4 s */
        }
        /* pulses never refute a high rate by counting (a pulse deficit is real); for vtach
         * an unchanged pulse through the ECG's run refutes it, decided below */
        if (pulse && (type == PF_ALARM_TACHY || type == PF_ALARM_VTACH)) { c->verdict = PF_VERDICT_UNKNOWN; c->why = "pulses cannot refute a high rate"; continue; }
        c->verdict = sup ? PF_VERDICT_SUPPORTS : PF_VERDICT_CONTRADICTS;
    }
    free(raw); free(filt); free(bt);
    if (!rc && type == PF_ALARM_VTACH) vt_combine(out, vt, pbt, pnb, n, w0, fs);
    for (int i = 0; i < PF_ALARMCHECK_MAXCH; i++) free(pbt[i]);
    if (rc) return rc;
    if (type == PF_ALARM_VTACH) return PF_OK;
    int good_ecg = 0, contra_ecg = 0, contra = 0;
    for (int i = 0; i < out->nch; i++) {
        if (!out->ch[i].good || out->ch[i].verdict == PF_VERDICT_UNKNOWN) continue;
        int k = out->ch[i].verdict == PF_VERDICT_CONTRADICTS;
        contra += k;
        if (!out->ch[i].pulse) { good_ecg++; contra_ecg += k; }
    }
    if (type == PF_ALARM_TACHY || type == PF_ALARM_VTACH) out->raise = !(good_ecg && contra_ecg == good_ecg);
    else out->raise = !contra;
    /* low-rate claims: pulses cannot come without heartbeats, so a good pulse signal
     * contradicting the claim is conclusive, whatever the ECG shows */
    for (int i = 0; i < out->nch; i++) out->refuted |= !out->raise && out->ch[i].pulse && out->ch[i].verdict == PF_VERDICT_CONTRADICTS;
    /* ... and so are two or more clean ECG leads that each show the beats the claim
     * denies: a false low-rate alarm comes from beats missed, and beats found
     * independently on two clean leads are not missed (the streaming monitor's
     * alarm is overruled too). Not for tachy: there a lead missing small complexes
     * is what would refute it */
    if (type != PF_ALARM_TACHY && good_ecg >= 2 && contra_ecg == good_ecg) out->refuted = 1;
    return PF_OK;
}
