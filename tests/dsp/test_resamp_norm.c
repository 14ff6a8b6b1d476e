/* Resampling 360->500 and 200->500 Hz against the analytic continuous signal
 * (after the reported delay), chunked == one-shot; normalisation z-score and
 * min-max including constant leads and non-finite samples. */
#include "../pf_test.h"
#include "pf_error.h"
#include "pf_norm.h"
#include "pf_resamp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static double sig(double t, int l) { return sin(2 * M_PI * 5 * t + l) + 0.5 * sin(2 * M_PI * 31 * t) + 0.2 * l; }

static void resamp_case(int fin, int fout)
{
    const int L = 3;
    size_t n = (size_t)fin * 10;
    float *x = malloc(sizeof(float) * n * L);
    for (size_t t = 0; t < n; t++)
        for (int l = 0; l < L; l++) x[t * L + l] = (float)sig((double)t / fin, l);
    pf_resamp *r = pf_resamp_create(fin, fout, L);
    CHECK(r != NULL, "create %d->%d: %s", fin, fout, pf_errmsg());
    if (!r) { free(x); return; }
    size_t cap = pf_resamp_max_out(r, n);
    float *y = malloc(sizeof(float) * cap * L), *yc = malloc(sizeof(float) * cap * L);
    size_t ny = 0, nyc = 0;
    CHECK(pf_resamp_process(r, x, n, y, cap, &ny) == 0, "process: %s", pf_errmsg());
    double delay = pf_resamp_delay(r);
    /* compare away from the start-up transient */
    double worst = 0;
    for (size_t k = (size_t)(2 * delay + 10); k < ny; k++)
        for (int l = 0; l < L; l++) {
            double e = fabs(y[k * L + l] - sig((k - delay) / fout, l));
            if (e > worst) worst = e;
        }
    printf("resample %d->%d Hz: %zu -> %zu samples, delay %.2f out samples, max |err| %.2e\n",
           fin, fout, n, ny, delay, worst);
    CHECK(ny > n * fout / fin - 2 * (size_t)fout, "output too short");
    CHECK(worst < 2e-3, "%d->%d: error %.3e vs analytic", fin, fout, worst);
    /* chunked */
    pf_resamp_reset(r);
    size_t sizes[] = {1, 17, 360, 5, 1001};
    for (size_t t = 0, k = 0; t < n; k++) {
        size_t m = sizes[k % 5] < n - t ? sizes[k % 5] : n - t, got;
        CHECK(pf_resamp_process(r, x + t * L, m, yc + nyc * L, cap - nyc, &got) == 0, "chunk: %s",
              pf_errmsg());
        nyc += got;
        t += m;
    }
    CHECK(nyc == ny && memcmp(y, yc, sizeof(float) * ny * L) == 0,
          "%d->%d chunked output differs (%zu vs %zu samples)", fin, fout, nyc, ny);
    float small[4];
    size_t got;
    CHECK(pf_resamp_process(r, x, n, small, 1, &got) == PF_ERANGE, "tiny output accepted");
    pf_resamp_destroy(r);
    free(x); free(y); free(yc);
}

static void norm_tests(void)
{
    enum { N = 1000, L = 4 };
    static float x[N * L], z[N * L];
    for (int t = 0; t < N; t++) {
        x[t * L + 0] = 1000.0f + 3.0f * sinf(t * 0.05f);  /* DC offset */
        x[t * L + 1] = 2.5f;                              /* constant lead */
        x[t * L + 2] = (t % 97 == 0) ? NAN : (float)t;    /* NaNs */
        x[t * L + 3] = (t == 10) ? INFINITY : -(float)(t % 13);
    }
    memcpy(z, x, sizeof x);
    size_t bad = 99;
    CHECK(pf_norm_zscore(z, N, L, &bad) == 0, "zscore");
    CHECK(bad == 11 + 1, "non-finite count %zu, expected 12", bad);
    for (int l = 0; l < L; l++) {
        double s = 0, s2 = 0;
        int m = 0;
        for (int t = 0; t < N; t++) {
            if (!isfinite(x[t * L + l])) { CHECK(z[t * L + l] == 0, "non-finite -> 0"); continue; }
            s += z[t * L + l]; s2 += z[t * L + l] * (double)z[t * L + l]; m++;
        }
        double mean = s / m, sd = sqrt(s2 / m - mean * mean);
        if (l == 1) CHECK(s2 == 0, "constant lead not zeros");
        else CHECK(fabs(mean) < 1e-5 && fabs(sd - 1) < 1e-5, "lead %d mean %g sd %g", l, mean, sd);
    }
    memcpy(z, x, sizeof x);
    CHECK(pf_norm_minmax(z, N, L, &bad) == 0 && bad == 12, "minmax count %zu", bad);
    for (int l = 0; l < L; l++) {
        float lo = 2, hi = -2;
        for (int t = 0; t < N; t++) {
            if (z[t * L + l] < lo) lo = z[t * L + l];
            if (z[t * L + l] > hi) hi = z[t * L + l];
        }
        if (l == 1) CHECK(lo == 0 && hi == 0, "constant lead minmax %g %g", lo, hi);
        else CHECK(fabsf(lo + 1) < 1e-6f && fabsf(hi - 1) < 1e-6f, "lead %d range [%g, %g]", l, lo, hi);
    }
    pf_norm_kind k;
    CHECK(pf_norm_parse("zscore", &k) == 0 && k == PF_NORM_ZSCORE, "parse");
    CHECK(pf_norm_parse("l2", &k) == PF_EINVAL, "bad kind accepted");
    CHECK(pf_norm_zscore(z, N, 0, NULL) == PF_ERANGE, "0 leads accepted");
}

int main(void)
{
    resamp_case(360, 500);
    resamp_case(200, 500);
    resamp_case(500, 250);
    CHECK(pf_resamp_create(0, 500, 1) == NULL, "rate 0 accepted");
    norm_tests();
    return pf_test_done();
}
