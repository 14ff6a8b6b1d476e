/* pf_alarmcheck on synthetic signals (ECGSYN ECG, a pulse wave at each beat):
 * alarms that clean signals refute are suppressed, alarms they support are
 * raised, pulses refute low-rate claims only, noise judges nothing, and a
 * non-arrhythmia type is refused. Ventricular tachycardia (pf_qrswidth,
 * pf_vtcheck): QRS widths of synthetic narrow and wide complexes, a run of wide
 * beats raised and a run of narrow ones (shaped unlike the dominant beat, which
 * the correlation alone called ventricular) not, and a pulse going on unchanged
 * through a wide "run" refuting it. */
#include "ecgsyn.h"
#include "pf_alarmcheck.h"
#include "pf_bedmon.h"
#include "pf_error.h"
#include "pf_qrswidth.h"
#include "pf_regular.h"
#include "pf_test.h"
#include "pf_vtcheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FS 250.0
#define SECS 60
#define N ((long)(SECS * FS))
#define W0 ((long)(44 * FS)) /* the alarm interval: the last 16 s */

static unsigned rng = 7;
static float noise(float a) { rng = rng * 1103515245u + 12345u; return a * ((float)(rng >> 16 & 0x7fff) / 32768.0f - 0.5f); }

static const pf_alarmcheck_ch *ch(const pf_alarmcheck *v, const char *name)
{
    for (int i = 0; i < v->nch; i++) if (!strcmp(v->ch[i].name, name)) return &v->ch[i];
    return NULL;
}

/* One complex of QRS duration d (s) at R time r (s), amplitude a (mV, the sign
 * gives the polarity): a triangle from r - d/2 to r + d/2, and a T wave. */
static void complex_at(float *x, long n, double r, double d, double a)
{
    for (long t = (long)((r - d) * FS); t < (long)((r + 0.6) * FS) && t < n; t++) {
        if (t < 0) continue;
        double u = (double)t / FS - r, v = 0;
        if (fabs(u) < d / 2) v += a * (1 - fabs(u) / (d / 2));
        v += 0.25 * fabs(a) * exp(-(u - 0.3) * (u - 0.3) / (2 * 0.04 * 0.04));
        x[t] += (float)v;
    }
}

/* A pulse 250 ms after time r (s). */
static void pulse_at(float *x, long n, double r)
{
    for (long t = (long)((r) * FS); t < (long)((r + 0.8) * FS) && t < n; t++) {
        if (t < 0) continue;
        double u = (double)t / FS - r - 0.25;
        x[t] += (float)exp(-u * u / (2 * 0.06 * 0.06));
    }
}

/* [II, V, PLETH]: narrow (70 ms) sinus beats at 72/min; from 50 s to 54 s a run
 * of 10 beats at 150/min of QRS duration run_d and polarity run_sign (run_d 0:
 * no run). Pulses after every sinus beat, through the run too when pulse_on. */
static void vt_record(float *x, double run_d, double run_sign, int pulse_on)
{
    memset(x, 0, sizeof(float) * N * 3);
    for (double r = 0.5; r < SECS; r += 60.0 / 72) {
        int in_run = run_d > 0 && r >= 50 && r < 54.2;
        if (!in_run) { complex_at(x, N, r, 0.07, 1.0); complex_at(x + N, N, r, 0.07, 0.8); }
        if (!in_run || pulse_on) pulse_at(x + 2 * N, N, r);
    }
    if (run_d > 0)
        for (int k = 0; k < 10; k++) {
            complex_at(x, N, 50.2 + 0.4 * k, run_d, run_sign * 1.5);
            complex_at(x + N, N, 50.2 + 0.4 * k, run_d, run_sign * 1.2);
        }
    for (long t = 0; t < N * 3; t++) x[t] += noise(0.02f);
}

int main(void)
{
    pf_ecgsyn_config c;
    pf_ecgsyn_defaults(&c);
    c.fs = FS; c.n_leads = 2; c.duration = SECS; c.hr_mean = 72; c.seed = 11;
    pf_ecgsyn *s = pf_ecgsyn_create(&c);
    /* [II, V, PLETH] lead-major */
    float *x = malloc(sizeof(float) * N * 3), *y = malloc(sizeof(float) * N * 3);
    pf_ecgsyn_render(s, 0, (int)N, x);
    int64_t pk[200];
    int np = pf_ecgsyn_rpeaks(s, 0, N, pk, 200);
    float *pl = x + 2 * N;
    memset(pl, 0, sizeof(float) * N);
    for (int i = 0; i < np; i++) /* a pulse 250 ms after each R peak */
        for (long t = pk[i]; t < pk[i] + (long)(0.8 * FS) && t < N; t++) {
            double u = (double)(t - pk[i]) / FS - 0.25;
            pl[t] += (float)exp(-u * u / (2 * 0.06 * 0.06));
        }
    pf_alarmcheck v;
    const char *names = "II,V,PLETH";

    /* sinus rhythm at 72/min on every signal refutes asystole, brady, vtach and vfib */
    int types[] = {PF_ALARM_ASYSTOLE, PF_ALARM_BRADY, PF_ALARM_VTACH, PF_ALARM_VFIB, PF_ALARM_TACHY};
    for (int k = 0; k < 5; k++) {
        CHECK_OK(pf_alarmcheck_run(types[k], x, 3, names, N, W0, FS, &v));
        CHECK(!v.raise, "%s raised on clean sinus rhythm", pf_alarm_name(types[k]));
    }
    const pf_alarmcheck_ch *e = ch(&v, "II"), *p = ch(&v, "PLETH");
    CHECK(e && e->good && fabs(e->max_rate - 72) < 8, "lead II: good %d, rate %.1f (72 expected)", e ? e->good : -1, e ? e->max_rate : NAN);
    CHECK(p && p->good && p->beats >= 17 && p->beats <= 21, "PLETH: good %d, %d pulses in 16 s (about 19)", p ? p->good : -1, p ? p->beats : -1);

    /* two clean ECG leads with beats through the interval refute a low-rate claim
     * conclusively (overruling the streaming monitor), without any pulse signal; one
     * clean lead suppresses it in the verification only; never a tachy claim */
    CHECK_OK(pf_alarmcheck_run(PF_ALARM_ASYSTOLE, x, 2, "II,V", N, W0, FS, &v));
    CHECK(!v.raise && v.refuted, "asystole on two clean leads in sinus rhythm: raise %d, refuted %d", v.raise, v.refuted);
    CHECK_OK(pf_alarmcheck_run(PF_ALARM_TACHY, x, 2, "II,V", N, W0, FS, &v));
    CHECK(!v.raise && !v.refuted, "tachy on two clean leads at 72/min: raise %d, refuted %d", v.raise, v.refuted);
    memcpy(y, x, sizeof(float) * N * 2);
    for (long t = 0; t < N; t++) y[N + t] = noise(1.0f);
    CHECK_OK(pf_alarmcheck_run(PF_ALARM_BRADY, y, 2, "II,V", N, W0, FS, &v));
    CHECK(!v.raise && !v.refuted && ch(&v, "V") && !ch(&v, "V")->good, "brady with one clean lead at 72/min: raise %d, refuted %d", v.raise, v.refuted);

    /* asystole from 50 s: ECG and pulse stop (20 uV noise); raised */
    memcpy(y, x, sizeof(float) * N * 3);
    for (int l = 0; l < 3; l++) for (long t = (long)(50 * FS); t < N; t++) y[l * N + t] = noise(0.02f);
    CHECK_OK(pf_alarmcheck_run(PF_ALARM_ASYSTOLE, y, 3, names, N, W0, FS, &v));
    CHECK(v.raise, "true asystole suppressed");
    e = ch(&v, "II");
    CHECK(e && e->verdict == PF_VERDICT_SUPPORTS && e->max_gap_s > 9, "lead II: verdict %d, gap %.1f s", e ? e->verdict : -1, e ? e->max_gap_s : NAN);

    /* ECG lost (noise on both leads, as a loose electrode) while the pulse goes on:
     * the leads judge nothing, the pulses refute asystole and brady ... */
    memcpy(y, x, sizeof(float) * N * 3);
    for (int l = 0; l < 2; l++) for (long t = 0; t < N; t++) y[l * N + t] = noise(1.0f);
    CHECK_OK(pf_alarmcheck_run(PF_ALARM_ASYSTOLE, y, 3, names, N, W0, FS, &v));
    CHECK(!v.raise, "asystole raised while regular pulses go on");
    CHECK(ch(&v, "II") && !ch(&v, "II")->good, "a noise lead judged good (kSQI %.1f)", ch(&v, "II") ? ch(&v, "II")->ksqi : NAN);
    CHECK_OK(pf_alarmcheck_run(PF_ALARM_BRADY, y, 3, names, N, W0, FS, &v));
    CHECK(!v.raise, "brady raised while pulses run at 72/min");
    /* ... but not a high-rate claim (a pulse deficit is real) */
    CHECK_OK(pf_alarmcheck_run(PF_ALARM_TACHY, y, 3, names, N, W0, FS, &v));
    CHECK(v.raise, "tachy suppressed by pulses alone");
    /* nothing to judge from (noise, no pulse signal): raised */
    CHECK_OK(pf_alarmcheck_run(PF_ALARM_ASYSTOLE, y, 2, "II,V", N, W0, FS, &v));
    CHECK(v.raise, "asystole suppressed with nothing to judge from");
    /* a flat pulse signal judges nothing either */
    for (long t = 0; t < N; t++) y[2 * N + t] = 0;
    CHECK_OK(pf_alarmcheck_run(PF_ALARM_BRADY, y, 3, names, N, W0, FS, &v));
    CHECK(v.raise && ch(&v, "PLETH") && !ch(&v, "PLETH")->good, "brady suppressed by a flat pulse signal");

    /* QRS width of synthetic complexes: 70 ms narrow, 160 ms wide (the delineator
     * marks a triangle's bounds where its smoothed slope starts and ends: within 30 ms) */
    {
        long r[40];
        double w[40];
        int nr = 0;
        memset(y, 0, sizeof(float) * N);
        for (int k = 0; k < 20; k++, nr++) { r[nr] = (long)((1 + k) * FS); complex_at(y, N, (double)r[nr] / FS, k < 10 ? 0.07 : 0.16, 1.0); }
        CHECK_OK(pf_qrswidth_lead(y, N, FS, r, nr, w));
        for (int k = 0; k < nr; k++) {
            double want = k < 10 ? 70 : 160;
            CHECK(fabs(w[k] - want) <= 30 && (k < 10 ? w[k] < PF_QRS_WIDE_MS : w[k] >= PF_QRS_WIDE_MS), "beat %d: QRS %.0f ms, %.0f expected", k, w[k], want);
        }
        r[0] = 10; /* a beat at the window's edge is not measured */
        CHECK_OK(pf_qrswidth_lead(y, N, FS, r, 1, w));
        CHECK(isnan(w[0]), "a complex cut by the window's start measured %.0f ms", w[0]);
    }

    /* ventricular tachycardia: a run of 10 wide (160 ms) beats at 150/min without pulses is raised ... */
    vt_record(y, 0.16, -1, 0);
    CHECK_OK(pf_alarmcheck_run(PF_ALARM_VTACH, y, 3, names, N, W0, FS, &v));
    e = ch(&v, "II");
    CHECK(v.raise && !v.refuted, "a wide run at 150/min suppressed (raise %d, refuted %d)", v.raise, v.refuted);
    CHECK(e && e->vruns >= 1 && e->qrs_native_ms < 100 && e->qrs_run_ms >= PF_QRS_WIDE_MS, "lead II: %d runs, QRS %.0f ms before, %.0f in the run",
          e ? e->vruns : -1, e ? e->qrs_native_ms : NAN, e ? e->qrs_run_ms : NAN);
    /* ... a run of narrow (70 ms) beats shaped unlike the dominant one (inverted) is not:
     * no QRS is wide (the correlation alone called every one of them ventricular) */
    vt_record(y, 0.07, -1, 0);
    CHECK_OK(pf_alarmcheck_run(PF_ALARM_VTACH, y, 3, names, N, W0, FS, &v));
    e = ch(&v, "II");
    CHECK(!v.raise, "a narrow run raised as ventricular tachycardia");
    CHECK(e && e->good && e->vruns == 0 && e->vbeats == 0, "lead II: %d ventricular beats in a narrow run", e ? e->vbeats : -1);
    /* ... and a wide "run" through which the pulse goes on unchanged is refuted by the pulse */
    vt_record(y, 0.16, -1, 1);
    CHECK_OK(pf_alarmcheck_run(PF_ALARM_VTACH, y, 3, names, N, W0, FS, &v));
    p = ch(&v, "PLETH");
    CHECK(!v.raise && v.refuted && p && p->steady && p->verdict == PF_VERDICT_CONTRADICTS, "wide run with an unchanged pulse: raise %d, refuted %d", v.raise, v.refuted);
    /* without the pulse signal the ECG alone raises it */
    CHECK_OK(pf_alarmcheck_run(PF_ALARM_VTACH, y, 2, "II,V", N, W0, FS, &v));
    CHECK(v.raise, "a wide run suppressed with no pulse signal");

    /* a wide run on lead II only while lead V goes on in a regular narrow rhythm: the
     * run is artefact (pf_regular), refuted with no pulse signal at all */
    vt_record(y, 0.16, -1, 0);
    memset(y + N, 0, sizeof(float) * N);
    for (double r = 0.5; r < SECS; r += 60.0 / 72) complex_at(y + N, N, r, 0.07, 0.8);
    for (long t = N; t < 2 * N; t++) y[t] += noise(0.02f);
    CHECK_OK(pf_alarmcheck_run(PF_ALARM_VTACH, y, 2, "II,V", N, W0, FS, &v));
    e = ch(&v, "V");
    CHECK(!v.raise && v.refuted && e && e->regular && e->verdict == PF_VERDICT_CONTRADICTS, "a one-lead run beside a regular lead: raise %d, refuted %d, V regular %d",
          v.raise, v.refuted, e ? e->regular : -1);
    CHECK(ch(&v, "II") && ch(&v, "II")->vruns >= 1 && !ch(&v, "II")->regular, "lead II: %d runs, regular %d", ch(&v, "II") ? ch(&v, "II")->vruns : -1, ch(&v, "II") ? ch(&v, "II")->regular : -1);

    /* pf_regular on beat times: 72/min regular; a 5-beat run at 150/min, a pause, a rate
     * outside 45-135/min or RR jitter over 25 ms is not */
    {
        long b[200], nb = 0;
        for (double t = 0.3; t < SECS; t += 60.0 / 72) b[nb++] = (long)(t * FS);
        CHECK(pf_regular_span(b, nb, W0, N, FS) == 1 && pf_regular_window(b, nb, W0, W0 + (long)(10 * FS), FS) == 1, "72/min not regular");
        long q[220], nq = 0;
        for (long i = 0; i < nb; i++) { q[nq++] = b[i]; if (b[i] > (long)(50 * FS) && nq < 200 && q[nq - 1] < (long)(50.9 * FS)) for (int k = 1; k <= 4; k++) q[nq++] = b[i] + (long)(k * 0.4 * FS); }
        long m = 0; /* drop the sinus beats the run replaced */
        for (long i = 0; i < nq; i++) if (!m || q[i] > q[m - 1] + (long)(0.35 * FS)) q[m++] = q[i];
        CHECK(pf_regular_span(q, m, W0, N, FS) == 0, "a run at 150/min called regular");
        CHECK(pf_regular_span(b, nb - 4, W0, N, FS) == 0, "a 3 s pause at the end called regular");
        for (long i = 0; i < nb; i++) q[i] = b[i] / 2 * 3; /* 48/min: in range */
        CHECK(pf_regular_window(q, nb, W0, W0 + (long)(10 * FS), FS) == 1, "48/min not regular");
        for (long i = 0; i < nb; i++) q[i] = b[i] * 2; /* 36/min: out of range */
        CHECK(pf_regular_window(q, nb, 2 * W0, 2 * W0 + (long)(10 * FS), FS) == 0, "36/min called regular");
        for (long i = 0; i < nb; i++) q[i] = b[i] + (i % 2 ? (long)(0.05 * FS) : 0); /* +-50 ms alternation */
        CHECK(pf_regular_window(q, nb, W0, W0 + (long)(10 * FS), FS) == 0, "RR alternating by 100 ms called regular");
    }

    /* pf_vtcheck_pulse_steady on pulse times: 72/min from 0 to 60 s, span 50-54 s */
    {
        long pl[100], np = 0;
        for (double t = 0.3; t < SECS; t += 60.0 / 72) pl[np++] = (long)(t * FS);
        long on = (long)(50 * FS), off = (long)(54 * FS);
        CHECK(pf_vtcheck_pulse_steady(pl, np, N, W0, FS, on, off) == 1, "steady pulses not steady");
        long q[200], nq = 0; /* one pulse missing in the span */
        for (long i = 0; i < np; i++) if (!(pl[i] > (long)(51 * FS) && pl[i] < (long)(51.9 * FS))) q[nq++] = pl[i];
        CHECK(nq == np - 1 && pf_vtcheck_pulse_steady(q, nq, N, W0, FS, on, off) == 0, "a missing pulse still steady");
        nq = 0; /* pulses at 150/min through the span */
        for (long i = 0; i < np && pl[i] < on; i++) q[nq++] = pl[i];
        for (double t = 50.2; t < 54.5; t += 0.4) q[nq++] = (long)(t * FS);
        for (long i = 0; i < np; i++) if (pl[i] > q[nq - 1] + (long)(0.5 * FS)) q[nq++] = pl[i];
        CHECK(pf_vtcheck_pulse_steady(q, nq, N, W0, FS, on, off) == 0, "pulses at 150/min called unchanged");
        /* a pulse already at 110/min going on at 110/min is unchanged (the speed-up is
         * judged against the pre-alarm rate, not the run's 90/min) ... */
        long h[200], nh = 0;
        for (double t = 0.3; t < SECS; t += 60.0 / 110) h[nh++] = (long)(t * FS);
        CHECK(pf_vtcheck_pulse_steady(h, nh, N, W0, FS, on, off) == 1, "a steady pulse at 110/min called changed");
        /* ... but going up to 150/min through the span is not */
        nq = 0;
        for (long i = 0; i < nh && h[i] < on; i++) q[nq++] = h[i];
        for (double t = 50.2; t < 54.5; t += 0.4) q[nq++] = (long)(t * FS);
        for (long i = 0; i < nh; i++) if (h[i] > q[nq - 1] + (long)(0.4 * FS)) q[nq++] = h[i];
        CHECK(pf_vtcheck_pulse_steady(q, nq, N, W0, FS, on, off) == 0, "pulses from 110 to 150/min called unchanged");
        /* data ending in the span: steady while the last pulse is recent, not after it stops */
        long n52 = (long)(52 * FS), k = 0;
        while (k < np && pl[k] < n52) k++;
        CHECK(pf_vtcheck_pulse_steady(pl, k, n52, W0, FS, on, off) == 1, "steady pulses up to the data's end not steady");
        while (k > 0 && pl[k - 1] > (long)(50.5 * FS)) k--;
        CHECK(pf_vtcheck_pulse_steady(pl, k, n52, W0, FS, on, off) == 0, "pulses that stopped 1.5 s before the data's end called steady");
    }

    /* bad input */
    CHECK(pf_alarmcheck_run(PF_ALARM_LEAD_OFF, x, 3, names, N, W0, FS, &v) == PF_EINVAL, "lead_off accepted as an arrhythmia alarm");
    CHECK(pf_alarmcheck_run(PF_ALARM_BRADY, x, 3, names, N, N, FS, &v) == PF_EINVAL, "an empty interval accepted");

    free(x); free(y);
    pf_ecgsyn_destroy(s);
    return pf_test_done();
}
