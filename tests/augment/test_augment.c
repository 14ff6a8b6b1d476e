/* Heartbeat shuffling keeps every beat and every RR interval, moves all leads
 * together, drops or keeps the prefix as asked; permutations are uniform;
 * lead masking hits its probability; perturbations are deterministic per key
 * and independent of each other. */
#include "../pf_test.h"
#include "pf_augment.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

enum { C = 3, T = 1000 };

static int cmp64(const void *a, const void *b) { int64_t x = *(const int64_t *)a, y = *(const int64_t *)b; return (x > y) - (x < y); }

static void test_shuffle(void)
{
    pf_rng r;
    pf_rng_seed(&r, 7);
    float x[C * T], out[C * T];
    int ok_beats = 1, ok_rr = 1, ok_sync = 1, ok_prefix = 1, ok_keep = 1, ok_peaks = 1;
    for (int trial = 0; trial < 300; trial++) {
        /* random R-peaks, random signal; lead c = (c + 1) x lead 0 to see synchronisation */
        int m = 2 + (int)pf_rng_below(&r, 9);
        int64_t peaks[16], op[16];
        int64_t pos = 1 + (int64_t)pf_rng_below(&r, 150);
        for (int k = 0; k < m; k++) { peaks[k] = pos; pos += 30 + (int64_t)pf_rng_below(&r, 60); }
        for (int t = 0; t < T; t++) {
            float v = (float)pf_rng_normal(&r);
            for (int c = 0; c < C; c++) x[c * T + t] = v * (float)(c + 1);
        }
        int perm[16];
        pf_random_permutation(&r, perm, m);
        int keep = trial % 2;
        pf_shuffle_beats(x, C, T, peaks, m, perm, keep, out, op);
        /* every output beat is an input beat, in permutation order, starting at its R-peak */
        int64_t in_len[16], out_len[16];
        for (int k = 0; k < m; k++) in_len[k] = (k + 1 < m ? peaks[k + 1] : T) - peaks[k];
        for (int k = 0; k < m; k++) {
            int b = perm[k];
            out_len[k] = in_len[b];
            ok_peaks &= k == 0 ? op[0] == 0 : op[k] == op[k - 1] + in_len[perm[k - 1]];
            ok_beats &= !memcmp(out + op[k], x + peaks[b], (size_t)in_len[b] * sizeof(float));
        }
        /* the RR multiset (beat lengths) is preserved */
        qsort(in_len, (size_t)m, sizeof(int64_t), cmp64);
        qsort(out_len, (size_t)m, sizeof(int64_t), cmp64);
        ok_rr &= !memcmp(in_len, out_len, (size_t)m * sizeof(int64_t));
        for (int t = 0; t < T; t++)
            for (int c = 1; c < C; c++) ok_sync &= out[c * T + t] == out[t] * (float)(c + 1);
        int64_t tail = T - peaks[0];
        for (int64_t t = tail; t < T; t++) {
            if (keep) ok_keep &= out[t] == x[t - tail];
            else ok_prefix &= out[t] == 0;
        }
    }
    CHECK(ok_beats, "each output beat is an input beat, copied whole");
    CHECK(ok_peaks, "output R-peaks sit at the start of each moved beat");
    CHECK(ok_rr, "RR multiset preserved");
    CHECK(ok_sync, "all leads moved with the same permutation");
    CHECK(ok_prefix, "prefix = drop leaves zeros where the prefix was");
    CHECK(ok_keep, "prefix = keep appends the prefix after the beats");
}

static void test_permutation_uniform(void)
{
    pf_rng r;
    pf_rng_seed(&r, 11);
    int counts[6] = {0};
    enum { N = 60000 };
    for (int i = 0; i < N; i++) {
        int p[3];
        pf_random_permutation(&r, p, 3);
        counts[p[0] * 2 + (p[1] > p[2])]++;
    }
    double sd = sqrt(N / 6.0 * (5.0 / 6.0));
    for (int k = 0; k < 6; k++) CHECK(fabs(counts[k] - N / 6.0) < 5 * sd, "permutation %d drawn %d times of %d", k, counts[k], N);
}

static void test_perturbations(void)
{
    enum { L = 12, N = 500 };
    static float x[L * N], y[L * N], z[L * N];
    pf_perturb_config mask = {.mask_p = 1, .mask_lead_p = 0.5};
    int masked = 0, total = 0, windows_masked = 0;
    for (int w = 0; w < 2000; w++) {
        for (int i = 0; i < L * N; i++) x[i] = 1.0f;
        pf_perturb(x, L, N, 500, &mask, pf_rng_key(1, 0, (uint64_t)w, 0));
        for (int l = 0; l < L; l++) { masked += x[l * N] == 0; total++; }
    }
    double frac = (double)masked / total, sd = sqrt(0.25 / total);
    CHECK(fabs(frac - 0.5) < 4 * sd, "lead masking rate %.4f, expected 0.5 +- %.4f", frac, 4 * sd);
    mask.mask_p = 0.3;
    for (int w = 0; w < 4000; w++) {
        for (int i = 0; i < L * N; i++) x[i] = 1.0f;
        windows_masked += (pf_perturb(x, L, N, 500, &mask, pf_rng_key(2, 0, (uint64_t)w, 0)) & PF_AUG_MASK) != 0;
    }
    CHECK(fabs(windows_masked / 4000.0 - 0.3) < 4 * sqrt(0.21 / 4000), "masking applied to %.3f of windows, expected 0.3", windows_masked / 4000.0);

    pf_perturb_config all = {.mask_p = 1, .mask_lead_p = 0.5, .noise_p = 1, .noise_std = 0.1, .wander_p = 1, .wander_amp = 0.3,
                             .powerline_p = 1, .powerline_amp = 0.05, .mains_hz = 50, .scale_p = 1, .scale_min = 0.5,
                             .scale_max = 1.5, .shift_p = 1, .shift_max = 0.2};
    for (int i = 0; i < L * N; i++) x[i] = y[i] = (float)sin(i * 0.01);
    int a = pf_perturb(x, L, N, 500, &all, 99), b = pf_perturb(y, L, N, 500, &all, 99);
    CHECK(a == b && a == (PF_AUG_MASK | PF_AUG_NOISE | PF_AUG_WANDER | PF_AUG_POWERLINE | PF_AUG_SCALE | PF_AUG_SHIFT), "all applied");
    CHECK(!memcmp(x, y, sizeof x), "same key, same perturbation");
    for (int i = 0; i < L * N; i++) y[i] = (float)sin(i * 0.01);
    pf_perturb(y, L, N, 500, &all, 100);
    CHECK(memcmp(x, y, sizeof x) != 0, "another key, another perturbation");
    /* independence: the mask pattern is the same with or without the other perturbations */
    for (int i = 0; i < L * N; i++) z[i] = 1.0f;
    mask.mask_p = 1;
    pf_perturb(z, L, N, 500, &mask, 99);
    int same_mask = 1;
    for (int l = 0; l < L; l++) same_mask &= (z[l * N] == 0) == (x[l * N] == 0 && x[l * N + 7] == 0);
    CHECK(same_mask, "switching other perturbations on does not change the lead mask");
    /* a masked lead is exactly zero even after noise */
    int zero_ok = 1;
    for (int l = 0; l < L; l++) if (z[l * N] == 0) for (int t = 0; t < N; t++) zero_ok &= x[l * N + t] == 0;
    CHECK(zero_ok, "masked leads are exactly zero");
    /* scaling only: every sample multiplied by one factor in range */
    pf_perturb_config sc = {.scale_p = 1, .scale_min = 0.5, .scale_max = 1.5};
    for (int i = 0; i < L * N; i++) x[i] = 2.0f;
    pf_perturb(x, L, N, 500, &sc, 5);
    int one_factor = 1;
    for (int i = 0; i < L * N; i++) one_factor &= x[i] == x[0];
    CHECK(one_factor && x[0] >= 1.0f && x[0] <= 3.0f, "one scale factor in [0.5, 1.5]: %g", x[0] / 2);
    /* powerline: a 50 Hz sinusoid of the given amplitude, identical on every lead */
    pf_perturb_config pl = {.powerline_p = 1, .powerline_amp = 0.25, .mains_hz = 50};
    memset(x, 0, sizeof x);
    pf_perturb(x, L, N, 500, &pl, 3);
    double mx = 0, period_err = 0, lead_err = 0;
    for (int t = 0; t < N; t++) {
        if (fabs(x[t]) > mx) mx = fabs(x[t]);
        if (t + 10 < N) period_err = fmax(period_err, fabs(x[t + 10] - x[t]));
        lead_err = fmax(lead_err, fabs(x[(L - 1) * N + t] - x[t]));
    }
    CHECK(fabs(mx - 0.25) < 0.01 && period_err < 1e-5 && lead_err == 0, "powerline amplitude %g, period error %g, lead difference %g", mx, period_err, lead_err);
}

int main(void)
{
    test_shuffle();
    test_permutation_uniform();
    test_perturbations();
    return pf_test_done();
}
