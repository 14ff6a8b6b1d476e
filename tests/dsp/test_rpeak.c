/* R-peak detector on synthetic ECG with known R peaks: every beat found within
 * 10 ms and nothing else, at 250/360/500 Hz, single and multi lead, with DC
 * offset, baseline wander, hum, noise and ectopic beats; the same detections
 * for chunks of 1 sample, 1 s, 3.7 s and the whole record; bad input (NaN/Inf
 * runs, flat line, saturation, lead off) is counted and does not crash.
 * Also checks the EC57 scoring on hand-made cases. */
#include "../pf_test.h"
#include "pf_error.h"
#include "pf_eval_rpeaks.h"
#include "pf_rpeak.h"
#include "synth_ecg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* detections of x fed in chunks of `chunk` samples (0 = whole) */
static size_t run(const pf_rpeak_cfg *c, const float *x, size_t n, size_t chunk, long *det,
                  size_t cap)
{
    pf_rpeak *d = pf_rpeak_create(c);
    if (!d) {
        CHECK(0, "create: %s", pf_errmsg());
        return 0;
    }
    if (chunk == 0) chunk = n;
    size_t nd = 0, k;
    for (size_t t = 0; t < n; t += chunk) {
        size_t m = n - t < chunk ? n - t : chunk;
        CHECK(pf_rpeak_process(d, x + t * c->nleads, m, det + nd, cap - nd, &k) == 0, "process: %s",
              pf_errmsg());
        nd += k;
    }
    CHECK(pf_rpeak_flush(d, det + nd, cap - nd, &k) == 0, "flush: %s", pf_errmsg());
    nd += k;
    for (size_t i = 1; i < nd; i++) CHECK(det[i] > det[i - 1], "detections not increasing at %zu", i);
    pf_rpeak_destroy(d);
    return nd;
}

/* every reference beat matched within tol samples, one-to-one; returns misses + extras */
static long score(const long *ref, size_t nr, const long *det, size_t nd, long tol, long *worst)
{
    size_t i = 0, j = 0;
    long bad = 0;
    *worst = 0;
    while (i < nr || j < nd) {
        if (i < nr && j < nd && labs(det[j] - ref[i]) <= tol) {
            if (labs(det[j] - ref[i]) > *worst) *worst = labs(det[j] - ref[i]);
            i++;
            j++;
        } else if (j >= nd || (i < nr && ref[i] < det[j])) {
            if (getenv("PF_TEST_VERBOSE")) fprintf(stderr, "  missed %ld (nearest detection %ld)\n", ref[i], j < nd ? det[j] : -1);
            bad++;
            i++;
        } else {
            if (getenv("PF_TEST_VERBOSE")) fprintf(stderr, "  extra %ld\n", det[j]);
            bad++;
            j++;
        }
    }
    return bad;
}

static void synthetic(double fs, int L, double noise, double ectopic, uint64_t seed)
{
    size_t n = (size_t)(fs * 120);
    synth_ecg_cfg sc = {.fs = fs, .nleads = L, .hr = 72, .rr_jitter = 0.08, .dc = 2.0,
                        .wander = 0.4, .hum = 0.05, .noise = noise, .ectopic = ectopic, .seed = seed};
    float *x = malloc(sizeof(float) * n * L);
    long ref[400], det[4][600];
    size_t nr = synth_ecg(&sc, x, n, ref, 400);
    pf_rpeak_cfg c;
    pf_rpeak_cfg_default(&c, fs, L);
    size_t chunks[4] = {0, (size_t)fs, (size_t)(3.7 * fs), 1};
    size_t nd[4];
    for (int k = 0; k < 4; k++) nd[k] = run(&c, x, n, chunks[k], det[k], 600);
    long worst;
    long bad = score(ref, nr, det[0], nd[0], (long)(0.010 * fs), &worst);
    printf("synthetic fs=%g L=%d noise=%.2f ectopic=%.2f: %zu beats, %zu detections, %ld errors, "
           "worst offset %ld samples (%.1f ms)\n",
           fs, L, noise, ectopic, nr, nd[0], bad, worst, worst * 1000 / fs);
    CHECK(bad == 0, "fs=%g L=%d: %ld beats missed/extra/off by > 10 ms", fs, L, bad);
    for (int k = 1; k < 4; k++)
        CHECK(nd[k] == nd[0] && memcmp(det[k], det[0], sizeof(long) * nd[0]) == 0,
              "fs=%g L=%d: chunks of %zu samples give %zu detections vs %zu whole", fs, L,
              chunks[k], nd[k], nd[0]);
    free(x);
}

static void bad_input(void)
{
    const double fs = 360;
    const int L = 2;
    size_t n = (size_t)(fs * 60);
    synth_ecg_cfg sc = {.fs = fs, .nleads = L, .hr = 70, .rr_jitter = 0.05, .dc = 1, .seed = 3};
    float *x = malloc(sizeof(float) * n * L);
    long ref[200], det[400];
    size_t nr = synth_ecg(&sc, x, n, ref, 200);
    /* 2 s NaN run on both leads, 1 s +Inf on lead 1, 3 s flat, 2 s saturation, lead 1 off for 10 s */
    for (size_t t = (size_t)(10 * fs); t < (size_t)(12 * fs); t++) x[t * L] = x[t * L + 1] = NAN;
    for (size_t t = (size_t)(20 * fs); t < (size_t)(21 * fs); t++) x[t * L + 1] = INFINITY;
    for (size_t t = (size_t)(30 * fs); t < (size_t)(33 * fs); t++) x[t * L] = x[t * L + 1] = 0.5f;
    for (size_t t = (size_t)(40 * fs); t < (size_t)(42 * fs); t++)
        if (x[t * L] > 0.6f) x[t * L] = 0.6f;
    for (size_t t = (size_t)(45 * fs); t < (size_t)(55 * fs); t++) x[t * L + 1] = 0;
    pf_rpeak_cfg c;
    pf_rpeak_cfg_default(&c, fs, L);
    pf_rpeak *d = pf_rpeak_create(&c);
    size_t nd = 0, k;
    CHECK(pf_rpeak_process(d, x, n, det, 400, &nd) == 0, "bad input: %s", pf_errmsg());
    CHECK(pf_rpeak_flush(d, det + nd, 400 - nd, &k) == 0, "flush");
    nd += k;
    size_t nf = pf_rpeak_nonfinite(d);
    CHECK(nf == (size_t)(2 * fs * 2 + fs), "non-finite count %zu, expected %zu", nf,
          (size_t)(2 * fs * 2 + fs));
    /* beats away from the damaged stretches are still found */
    long missed = 0;
    for (size_t i = 0; i < nr; i++) {
        double ts = ref[i] / fs;
        if ((ts > 9 && ts < 14) || (ts > 29 && ts < 35)) continue;
        int found = 0;
        for (size_t j = 0; j < nd; j++)
            if (labs(det[j] - ref[i]) <= (long)(0.05 * fs)) found = 1;
        missed += !found;
    }
    printf("bad input: %zu non-finite samples counted, %zu detections, %ld beats missed outside "
           "NaN/flat stretches\n", nf, nd, missed);
    CHECK(missed <= 2, "%ld beats missed around damaged stretches", missed);
    pf_rpeak_destroy(d);
    /* all-NaN and all-flat records: no crash, no beats */
    for (size_t i = 0; i < n * L; i++) x[i] = NAN;
    d = pf_rpeak_create(&c);
    CHECK(pf_rpeak_process(d, x, n, det, 400, &nd) == 0 && nd == 0, "all-NaN gave %zu beats", nd);
    pf_rpeak_flush(d, det, 400, &nd);
    CHECK(nd == 0, "all-NaN flush gave %zu beats", nd);
    pf_rpeak_destroy(d);
    for (size_t i = 0; i < n * L; i++) x[i] = 1.0f;
    d = pf_rpeak_create(&c);
    pf_rpeak_process(d, x, n, det, 400, &nd);
    pf_rpeak_flush(d, det + nd, 400 - nd, &k);
    CHECK(nd + k == 0, "flat line gave %zu beats", nd + k);
    pf_rpeak_destroy(d);
    /* output capacity too small is an error, not an overflow */
    synth_ecg(&sc, x, n, ref, 200);
    d = pf_rpeak_create(&c);
    CHECK(pf_rpeak_process(d, x, n, det, 3, &nd) == PF_ERANGE, "tiny output accepted");
    pf_rpeak_destroy(d);
    c.lead = 5;
    CHECK(pf_rpeak_create(&c) == NULL, "lead 5 of 2 accepted");
    free(x);
}

static void eval_cases(void)
{
    pf_eval_opts o;
    pf_eval_opts_default(&o, 100);
    o.start_s = 1; /* from sample 100 */
    /* beats N at 50 (before start), 200, 400, 600 (V), a VF episode 700..900 with a
     * beat at 800, a non-beat '+' (28) at 950, beat 1000 */
    long at[] = {50, 200, 400, 600, 700, 800, 900, 950, 1000};
    int ac[] = {1, 1, 1, 5, 32, 1, 33, 28, 1};
    long det[] = {55, 214, 390, 700 - 1, 760, 805, 985, 1100};
    pf_eval_counts c = {0, 0, 0};
    CHECK(pf_eval_rpeaks_record(at, ac, 9, det, 8, 1200, &o, &c) == 0, "eval: %s", pf_errmsg());
    /* 200, 400 matched (14 and 10 samples <= 15); 600 missed (699 is 99 away);
     * 800 and 760/805 excluded (VF); 1000 matched by 985; FP: 699, 1100 */
    CHECK(c.tp == 3 && c.fn == 1 && c.fp == 2, "eval counts tp %ld fn %ld fp %ld", c.tp, c.fn, c.fp);
    double se, p, f1;
    pf_eval_rates(&c, &se, &p, &f1);
    CHECK(fabs(se - 75) < 1e-9 && fabs(p - 60) < 1e-9, "rates %g %g", se, p);
    long bad[] = {5, 3};
    CHECK(pf_eval_rpeaks_record(at, ac, 9, bad, 2, 1200, &o, &c) == PF_EINVAL, "unsorted accepted");
    CHECK(pf_eval_is_beat(1) && pf_eval_is_beat(12) && !pf_eval_is_beat(37) && !pf_eval_is_beat(28),
          "beat codes");
}

int main(void)
{
    synthetic(360, 2, 0.02, 0.0, 1);
    synthetic(500, 12, 0.03, 0.1, 2);
    synthetic(250, 1, 0.05, 0.15, 3);
    synthetic(360, 2, 0.08, 0.1, 4);
    bad_input();
    eval_cases();
    return pf_test_done();
}
