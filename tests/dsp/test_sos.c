/* SOS execution vs scipy float64 (sosfilt / sosfiltfilt, generated at test time),
 * optimised kernel vs naive reference, chunked streaming vs one-shot, and the
 * liquid-dsp iirfilt engine's deviation (reported). Signals carry DC offsets,
 * baseline wander and 50 Hz hum. */
#include "../pf_test.h"
#include "pf_error.h"
#include "pf_sos.h"
#include "pyref.h"
#include "synth_ecg.h"


/* worst over leads of max|a-b| / max|b| */
static double rel_err(const double *a, const double *b, size_t n, int L)
{
    double worst = 0;
    for (int l = 0; l < L; l++) {
        double num = 0, den = 0;
        for (size_t t = 0; t < n; t++) {
            double d = fabs(a[t * L + l] - b[t * L + l]);
            if (d > num || d != d) num = d != d ? INFINITY : d;
            if (fabs(b[t * L + l]) > den) den = fabs(b[t * L + l]);
        }
        double r = num / (den > 0 ? den : 1);
        if (r > worst) worst = r;
    }
    return worst;
}

static int scipy_ref(const pf_iirdes *d, const double *x, size_t n, int L, const char *mode,
                     double *y)
{
    char sp[300], xp[300], yp[300], args[1200];
    snprintf(sp, sizeof sp, "%s/sos.bin", pyref_tmpdir());
    snprintf(xp, sizeof xp, "%s/x.bin", pyref_tmpdir());
    snprintf(yp, sizeof yp, "%s/y.bin", pyref_tmpdir());
    if (pyref_write(sp, &d->sos[0][0], (size_t)d->nsec * 6) || pyref_write(xp, x, n * L))
        return -1;
    snprintf(args, sizeof args, "%s %s %d %s %s", sp, xp, L, mode, yp);
    if (pyref_run("ref_sosfilt.py", args)) return -1;
    return pyref_read(yp, y, n * L) == (long)(n * L) ? 0 : -1;
}

static void run_case(const char *name, const pf_iirdes *d, double fs, int L, double dc)
{
    size_t n = (size_t)(fs * 20);
    synth_ecg_cfg c = {.fs = fs, .nleads = L, .hr = 70, .rr_jitter = 0.05, .dc = dc,
                       .wander = 0.5, .hum = 0.1, .noise = 0.02, .ectopic = 0.1, .seed = 7};
    float *xf = malloc(sizeof(float) * n * L), *yf = malloc(sizeof(float) * n * L);
    double *x = malloc(sizeof(double) * n * L), *y = malloc(sizeof(double) * n * L);
    double *ref = malloc(sizeof(double) * n * L), *y2 = malloc(sizeof(double) * n * L);
    long rr[200];
    synth_ecg(&c, xf, n, rr, 200);
    for (size_t i = 0; i < n * L; i++) x[i] = xf[i];

    /* causal: scipy sosfilt */
    if (scipy_ref(d, x, n, L, "sosfilt", ref)) { pf_test_fail++; goto out; }
    pf_sos *f = pf_sos_create(d, L, PF_SOS_ENGINE_F64);
    pf_sos *fr = pf_sos_create(d, L, PF_SOS_ENGINE_REF);
    pf_sos *fl = pf_sos_create(d, L, PF_SOS_ENGINE_LIQUID);
    CHECK(f && fr && fl, "create: %s", pf_errmsg());
    if (!f || !fr || !fl) goto out;
    pf_sos_process_f64(f, x, y, n);
    double e64 = rel_err(y, ref, n, L);
    pf_sos_process_f64(fr, x, y2, n);
    double eref = rel_err(y2, ref, n, L), ekr = rel_err(y, y2, n, L);
    /* float32 samples in/out (what the node carries) */
    pf_sos_reset(f);
    pf_sos_process(f, xf, yf, n);
    for (size_t i = 0; i < n * L; i++) y2[i] = yf[i];
    double ef32 = rel_err(y2, ref, n, L);
    /* chunked streaming, float32 path, odd chunk sizes incl. 1 sample */
    pf_sos_reset(f);
    size_t chunks[] = {1, 7, 256, 257, 333, 1000, 3};
    float *yc = malloc(sizeof(float) * n * L);
    for (size_t t = 0, k = 0; t < n; k++) {
        size_t m = chunks[k % 7];
        if (m > n - t) m = n - t;
        pf_sos_process(f, xf + t * L, yc + t * L, m);
        t += m;
    }
    double ech = 0;
    for (size_t i = 0; i < n * L; i++) {
        double dd = fabs((double)yc[i] - yf[i]);
        if (dd > ech) ech = dd;
    }
    free(yc);
    /* liquid float32 iirfilt */
    pf_sos_process_f64(fl, x, y2, n);
    double eliq = rel_err(y2, ref, n, L);
    printf("%-22s L=%2d fs=%g: sosfilt rel err f64=%.2e ref=%.2e f32io=%.2e kernel-vs-ref=%.2e "
           "chunked max|d|=%.2e liquid=%.2e gd=%.2f\n",
           name, L, fs, e64, eref, ef32, ekr, ech, eliq, pf_sos_group_delay(f));
    CHECK(e64 < 1e-9, "%s: f64 kernel vs scipy %.3e", name, e64);  /* float64 in and out */
    CHECK(eref < 1e-9, "%s: reference kernel vs scipy %.3e", name, eref);
    /* the kernels round differently (fused multiply-adds, b1 x + z2 first);
     * near-unit-circle poles amplify that to ~1e-10 relative */
    CHECK(ekr < 1e-9, "%s: optimised vs reference kernel %.3e", name, ekr);
    CHECK(ef32 < 1e-4, "%s: float32 I/O vs scipy %.3e", name, ef32);
    CHECK(ech <= 1e-6, "%s: chunked vs one-shot %.3e", name, ech);
    CHECK(isfinite(eliq), "%s: liquid engine produced non-finite output", name);
    pf_sos_destroy(f);
    pf_sos_destroy(fr);
    pf_sos_destroy(fl);

    /* zero-phase: scipy sosfiltfilt */
    if (scipy_ref(d, x, n, L, "sosfiltfilt", ref)) { pf_test_fail++; goto out; }
    CHECK(pf_sos_filtfilt_f64(d, x, y, n, L) == 0, "filtfilt: %s", pf_errmsg());
    double eff = rel_err(y, ref, n, L);
    CHECK(pf_sos_filtfilt(d, xf, yf, n, L) == 0, "filtfilt f32: %s", pf_errmsg());
    for (size_t i = 0; i < n * L; i++) y2[i] = yf[i];
    double eff32 = rel_err(y2, ref, n, L);
    printf("%-22s L=%2d fs=%g: sosfiltfilt rel err f64=%.2e f32io=%.2e (padlen %zu)\n", name, L,
           fs, eff, eff32, pf_sos_filtfilt_padlen(d));
    CHECK(eff < 1e-9, "%s: filtfilt vs scipy %.3e", name, eff);
    CHECK(eff32 < 1e-4, "%s: filtfilt float32 I/O vs scipy %.3e", name, eff32);
out:
    free(xf); free(yf); free(x); free(y); free(ref); free(y2);
}

int main(void)
{
    pf_iirdes bp, hp, notch, chain;
    pf_iirdes_butter(&bp, PF_IIRDES_BANDPASS, 2, 0.5, 40, 500);
    run_case("bandpass2 0.5-40", &bp, 500, 12, 5.0);
    pf_iirdes_butter(&bp, PF_IIRDES_BANDPASS, 4, 0.5, 40, 360);
    run_case("bandpass4 0.5-40", &bp, 360, 2, 3.0);
    pf_iirdes_butter(&hp, PF_IIRDES_HIGHPASS, 2, 0.5, 0, 500);
    run_case("highpass2 0.5", &hp, 500, 5, 10.0);
    pf_iirdes_butter(&chain, PF_IIRDES_BANDPASS, 2, 0.5, 40, 500);
    pf_iirdes_notch(&notch, 50, 30, 500);
    pf_iirdes_cascade(&chain, &notch);
    run_case("bandpass2+notch50", &chain, 500, 12, 5.0);

    /* bad input */
    CHECK(pf_sos_create(&bp, 0, PF_SOS_ENGINE_F64) == NULL, "0 leads accepted");
    float tiny[10] = {0};
    CHECK(pf_sos_filtfilt(&bp, tiny, tiny, 10, 1) == PF_ERANGE, "short filtfilt accepted");
    pf_sos_engine e;
    CHECK(pf_sos_engine_parse("liquid", &e) == 0 && e == PF_SOS_ENGINE_LIQUID, "parse liquid");
    CHECK(pf_sos_engine_parse("fast", &e) == PF_EINVAL, "parse bogus");
    pyref_cleanup();
    return pf_test_done();
}
