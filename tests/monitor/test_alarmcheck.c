/* pf_alarmcheck on synthetic signals (ECGSYN ECG, a pulse wave at each beat):
 * alarms that clean signals refute are suppressed, alarms they support are
 * raised, pulses refute low-rate claims only, noise judges nothing, and a
 * non-arrhythmia type is refused. */
#include "ecgsyn.h"
#include "pf_alarmcheck.h"
#include "pf_bedmon.h"
#include "pf_error.h"
#include "pf_test.h"

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

    /* bad input */
    CHECK(pf_alarmcheck_run(PF_ALARM_LEAD_OFF, x, 3, names, N, W0, FS, &v) == PF_EINVAL, "lead_off accepted as an arrhythmia alarm");
    CHECK(pf_alarmcheck_run(PF_ALARM_BRADY, x, 3, names, N, N, FS, &v) == PF_EINVAL, "an empty interval accepted");

    free(x); free(y);
    pf_ecgsyn_destroy(s);
    return pf_test_done();
}
