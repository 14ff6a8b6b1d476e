/* pf_bedmon on synthetic ECG (ECGSYN) with known beats: heart rate, an injected
 * asystole raised once at the right sample and cleared by the next beat, the
 * same events whatever the chunking, no alarm across a gap, lead-off instead of
 * asystole on a flat line, VF on a fibrillation-like waveform. */
#include "ecgsyn.h"
#include "pf_bedmon.h"
#include "pf_error.h"
#include "pf_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FS 250.0
#define LEADS 2

typedef struct { pf_bedmon_event ev[256]; int n; } evlist;

/* x: [LEADS][n] lead-major; fed in chunks of `chunk`, optionally skipping [gap0, gap1) */
static evlist run(const float *x, int64_t n, int chunk, int64_t gap0, int64_t gap1, double *hr)
{
    pf_bedmon_cfg c;
    pf_bedmon_cfg_default(&c, FS, LEADS);
    c.lead_names = "II,V";
    pf_bedmon *m = pf_bedmon_create(&c);
    evlist L = {.n = 0};
    float *buf = malloc(sizeof(float) * (size_t)chunk * LEADS);
    int64_t pk[256];
    for (int64_t s = 0; s < n; s += chunk) {
        int k = (int)(n - s < chunk ? n - s : chunk);
        if (s + k > gap0 && s < gap1) continue;
        for (int l = 0; l < LEADS; l++) memcpy(buf + (size_t)l * k, x + (size_t)l * n + s, sizeof(float) * (size_t)k);
        int ne = 0, np = 0;
        int rc = pf_bedmon_process(m, buf, k, s, 0, L.ev + L.n, 256 - L.n, &ne, pk, 256, &np);
        if (rc) { fprintf(stderr, "%s\n", pf_errmsg()); exit(1); }
        L.n += ne;
    }
    double st[PF_ST_N];
    pf_bedmon_state(m, st);
    if (hr) *hr = st[PF_ST_HR];
    free(buf);
    pf_bedmon_destroy(m);
    return L;
}

static int count(const evlist *L, int type, int onset) { int k = 0; for (int i = 0; i < L->n; i++) k += L->ev[i].type == type && L->ev[i].onset == onset; return k; }
static int64_t first(const evlist *L, int type, int onset) { for (int i = 0; i < L->n; i++) if (L->ev[i].type == type && L->ev[i].onset == onset) return L->ev[i].sample; return -1; }

int main(void)
{
    pf_ecgsyn_config c;
    pf_ecgsyn_defaults(&c);
    c.fs = FS; c.n_leads = LEADS; c.duration = 60; c.hr_mean = 72; c.seed = 5;
    pf_ecgsyn *s = pf_ecgsyn_create(&c);
    int64_t n = (int64_t)(60 * FS);
    float *x = malloc(sizeof(float) * (size_t)n * LEADS), *y = malloc(sizeof(float) * (size_t)n * LEADS);
    pf_ecgsyn_render(s, 0, (int)n, x);
    int64_t pk[200];
    int np = pf_ecgsyn_rpeaks(s, 0, n, pk, 200);

    /* clean sinus rhythm: no alarms, HR near 72 */
    double hr;
    evlist L = run(x, n, 10, -1, -1, &hr);
    CHECK(L.n == 0, "%d events on clean sinus rhythm (first: type %d)", L.n, L.n ? L.ev[0].type : 0);
    CHECK(fabs(hr - 72) < 8, "HR %.1f, expected ~72", hr);

    /* asystole: flat (small noise) from the first beat after 30 s for 8 s */
    int64_t a0 = 0, last = 0;
    for (int i = 0; i < np; i++) if (pk[i] > 30 * FS) { a0 = pk[i] + (int64_t)(0.3 * FS); last = pk[i]; break; }
    int64_t a1 = a0 + (int64_t)(8 * FS);
    memcpy(y, x, sizeof(float) * (size_t)n * LEADS);
    unsigned r = 1;
    for (int l = 0; l < LEADS; l++)
        for (int64_t t = a0; t < a1; t++) { r = r * 1103515245u + 12345u; y[(size_t)l * n + t] = 0.01f * ((float)(r >> 16 & 0x7fff) / 32768.0f - 0.5f); }
    L = run(y, n, 10, -1, -1, NULL);
    int64_t on = first(&L, PF_ALARM_ASYSTOLE, 1), off = first(&L, PF_ALARM_ASYSTOLE, 0);
    CHECK(count(&L, PF_ALARM_ASYSTOLE, 1) == 1, "%d asystole onsets", count(&L, PF_ALARM_ASYSTOLE, 1));
    CHECK(llabs(on - (last + (int64_t)(4 * FS))) <= (int64_t)(0.1 * FS), "asystole triggered at %lld, expected %lld (last beat + 4 s)", (long long)on, (long long)(last + 4 * FS));
    CHECK(off >= a1 && off < a1 + (int64_t)(1.5 * FS), "asystole cleared at %lld, signal back at %lld", (long long)off, (long long)a1);
    CHECK(count(&L, PF_ALARM_BRADY, 1) == 0, "the pause is not also bradycardia");
    /* chunking does not change the events */
    evlist L2 = run(y, n, 333, -1, -1, NULL);
    CHECK(L2.n == L.n, "%d events in 333-sample chunks vs %d in 10-sample chunks", L2.n, L.n);
    for (int i = 0; i < L.n && i < L2.n; i++)
        CHECK(L.ev[i].type == L2.ev[i].type && L.ev[i].sample == L2.ev[i].sample && L.ev[i].onset == L2.ev[i].onset, "event %d differs", i);

    /* a 6 s gap in clean rhythm is a gap, not an asystole */
    L = run(x, n, 25, (int64_t)(20 * FS), (int64_t)(26 * FS), NULL);
    CHECK(count(&L, PF_ALARM_ASYSTOLE, 1) == 0, "asystole raised across a gap");

    /* digitally flat line: lead-off, not asystole */
    memcpy(y, x, sizeof(float) * (size_t)n * LEADS);
    for (int l = 0; l < LEADS; l++) for (int64_t t = a0; t < a1; t++) y[(size_t)l * n + t] = 0;
    L = run(y, n, 10, -1, -1, NULL);
    CHECK(count(&L, PF_ALARM_LEAD_OFF, 1) == 1 && count(&L, PF_ALARM_ASYSTOLE, 1) == 0, "lead-off %d, asystole %d on a flat line",
          count(&L, PF_ALARM_LEAD_OFF, 1), count(&L, PF_ALARM_ASYSTOLE, 1));

    /* fibrillation-like: 5 Hz wandering sinusoid, 0.4 mV, for 10 s */
    memcpy(y, x, sizeof(float) * (size_t)n * LEADS);
    for (int l = 0; l < LEADS; l++)
        for (int64_t t = a0; t < a0 + (int64_t)(10 * FS); t++) {
            double u = (double)(t - a0) / FS;
            y[(size_t)l * n + t] = (float)(0.4 * (1 + 0.3 * sin(2 * M_PI * 0.3 * u + l)) * sin(2 * M_PI * (5 + 0.5 * sin(2 * M_PI * 0.2 * u)) * u + l));
        }
    L = run(y, n, 10, -1, -1, NULL);
    on = first(&L, PF_ALARM_VFIB, 1);
    CHECK(on > a0 && on <= a0 + (int64_t)(6 * FS), "VF onset at %lld, fibrillation from %lld", (long long)on, (long long)a0);
    CHECK(count(&L, PF_ALARM_ASYSTOLE, 1) == 0, "no asystole during VF");

    free(x); free(y);
    pf_ecgsyn_destroy(s);
    return pf_test_done();
}
