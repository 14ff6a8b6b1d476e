/* The synthetic ECG: R-peaks where the signal peaks, beat count and RR
 * statistics that match the configured heart rate and variability, samples
 * independent of how the record is cut into windows, seeded determinism. */
#include "../pf_test.h"
#include "ecgsyn.h"
#include "pf_error.h"

#include <math.h>
#include <string.h>

static void check_rpeaks(double hr, double hr_std, uint64_t seed)
{
    pf_ecgsyn_config c;
    pf_ecgsyn_defaults(&c);
    c.hr_mean = hr;
    c.hr_std = hr_std;
    c.noise_mv = 0;
    c.baseline_mv = 0;
    c.duration = 120;
    c.seed = seed;
    pf_ecgsyn *s = pf_ecgsyn_create(&c);
    CHECK(s != NULL, "create: %s", pf_errmsg());
    if (!s) return;
    int64_t n = pf_ecgsyn_length(s);
    CHECK(n == 60000, "length %lld", (long long)n);
    float *x = malloc((size_t)n * 12 * sizeof(float));
    pf_ecgsyn_render(s, 0, (int)n, x);
    int64_t peaks[1000];
    int np = pf_ecgsyn_rpeaks(s, 0, n, peaks, 1000);
    double expect = hr * 120 / 60;
    CHECK(fabs(np - expect) <= 0.05 * expect + 2, "hr %g: %d beats in 120 s, expected about %.0f", hr, np, expect);
    /* each true R-peak is the maximum of lead II within +-100 ms, to 10 ms */
    const float *ii = x + 1 * n;
    int worst = 0, all_inside = 1;
    for (int k = 0; k < np; k++) {
        int64_t lo = peaks[k] - 50, hi = peaks[k] + 50, arg = peaks[k];
        if (lo < 0 || hi >= n) continue;
        for (int64_t i = lo; i <= hi; i++) if (ii[i] > ii[arg]) arg = i;
        int off = (int)llabs(arg - peaks[k]);
        if (off > worst) worst = off;
        all_inside &= peaks[k] >= 0 && peaks[k] < n;
    }
    CHECK(worst <= 5, "hr %g: lead II maximum up to %d samples (%.0f ms) from the true R-peak", hr, worst, worst * 2.0);
    CHECK(all_inside, "R-peaks inside the record");
    /* RR statistics */
    double m = 0, v = 0;
    for (int k = 1; k < np; k++) m += (double)(peaks[k] - peaks[k - 1]) / 500.0;
    m /= np - 1;
    for (int k = 1; k < np; k++) { double d = (double)(peaks[k] - peaks[k - 1]) / 500.0 - m; v += d * d; }
    double sd = sqrt(v / (np - 2));
    CHECK(fabs(m - 60 / hr) < 0.03 * 60 / hr, "hr %g: mean RR %.4f s, expected %.4f", hr, m, 60 / hr);
    double want_sd = hr_std * 60 / (hr * hr);
    if (hr_std == 0) CHECK(sd < 0.003, "no HRV asked, RR sd %.4f s", sd);
    else CHECK(sd > 0.4 * want_sd && sd < 2.0 * want_sd, "hr_std %g: RR sd %.4f s, expected about %.4f", hr_std, sd, want_sd);
    /* ECG sanity: R amplitude in II about 1-2 mV, V1 mostly negative QRS */
    double rmax = 0;
    for (int k = 0; k < np; k++) if (ii[peaks[k]] > rmax) rmax = ii[peaks[k]];
    CHECK(rmax > 0.8 && rmax < 2.5, "R amplitude in II %.2f mV", rmax);
    CHECK(x[6 * n + peaks[np / 2] + 5] < 0, "V1 QRS is negative (rS)");
    free(x);
    pf_ecgsyn_destroy(s);
}

static void check_windows_and_seeds(void)
{
    pf_ecgsyn_config c;
    pf_ecgsyn_defaults(&c);
    c.duration = 10;
    c.powerline_mv = 0.05;
    pf_ecgsyn *a = pf_ecgsyn_create(&c), *b = pf_ecgsyn_create(&c);
    int n = 5000;
    float *full = malloc(12 * (size_t)n * sizeof(float)), *part = malloc(12 * 1000 * sizeof(float));
    float *other = malloc(12 * (size_t)n * sizeof(float));
    pf_ecgsyn_render(a, 0, n, full);
    pf_ecgsyn_render(b, 0, n, other);
    CHECK(!memcmp(full, other, 12 * (size_t)n * sizeof(float)), "same seed, same signal");
    int same = 1;
    for (int start = 0; start < n; start += 777) {
        int len = start + 1000 <= n ? 1000 : n - start;
        pf_ecgsyn_render(b, start, len, part);
        for (int l = 0; l < 12; l++)
            same &= !memcmp(part + (size_t)l * len, full + (size_t)l * n + start, (size_t)len * sizeof(float));
    }
    CHECK(same, "any window renders exactly the samples of the whole record");
    pf_ecgsyn_render(b, n - 100, 1000, part);
    int zeros = 1;
    for (int l = 0; l < 12; l++) for (int i = 100; i < 1000; i++) zeros &= part[(size_t)l * 1000 + i] == 0;
    CHECK(zeros, "samples past the end are zeros");
    pf_ecgsyn_destroy(b);
    c.seed = 2;
    b = pf_ecgsyn_create(&c);
    pf_ecgsyn_render(b, 0, n, other);
    CHECK(memcmp(full, other, 12 * (size_t)n * sizeof(float)) != 0, "another seed, another signal");
    CHECK(!strcmp(pf_ecgsyn_lead_name(a, 0), "I") && !strcmp(pf_ecgsyn_lead_name(a, 11), "V6"), "12-lead order");
    pf_ecgsyn_destroy(b);
    c.n_leads = 2;
    b = pf_ecgsyn_create(&c);
    CHECK(!strcmp(pf_ecgsyn_lead_name(b, 0), "II") && !strcmp(pf_ecgsyn_lead_name(b, 1), "V1"), "2 leads are II and V1");
    pf_ecgsyn_destroy(b);
    c.hr_mean = 500;
    CHECK(pf_ecgsyn_create(&c) == NULL && strstr(pf_errmsg(), "hr_mean 500"), "bad heart rate named: %s", pf_errmsg());
    pf_ecgsyn_destroy(a);
    free(full); free(part); free(other);
}

int main(void)
{
    check_rpeaks(70, 3, 1);
    check_rpeaks(45, 0, 2);
    check_rpeaks(130, 5, 3);
    check_windows_and_seeds();
    return pf_test_done();
}
