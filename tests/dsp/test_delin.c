/* Pacing-spike removal before delineation (pf_delin_despike), on synthetic
 * 12-lead ECG with known beats: a clean record with sharp R waves and wide
 * ectopic beats loses nothing; injected pacemaker spikes (2 samples wide,
 * most leads) are all found and bridged, leaving the rest of the signal as it
 * was; a baseline step is not a spike; and the QRS onsets delineated on the
 * spiked record equal those of the clean one, where without despiking the
 * spikes drag them earlier. */
#include "pf_delin.h"
#include "../pf_test.h"
#include "pf_error.h"
#include "synth_ecg.h"

#include <stdlib.h>
#include <string.h>

enum { L = 12, N = 5000 };

static void to_lead_major(const float *sm, float *lm)
{
    for (size_t i = 0; i < N; i++)
        for (int l = 0; l < L; l++) lm[(size_t)l * N + i] = sm[i * L + l];
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

int main(void)
{
    synth_ecg_cfg sc = {.fs = 500, .nleads = L, .hr = 72, .rr_jitter = 0.05, .noise = 0.01,
                        .ectopic = 0.15, .seed = 7};
    float *sm = malloc(sizeof(float) * N * L), *clean = malloc(sizeof(float) * N * L),
          *x = malloc(sizeof(float) * N * L);
    long r[64];
    size_t nb = synth_ecg(&sc, sm, N, r, 64);
    to_lead_major(sm, clean);
    pf_delin_cfg c;
    pf_delin_cfg_default(&c, 500);

    size_t ns = 99;
    memcpy(x, clean, sizeof(float) * N * L);
    CHECK(pf_delin_despike(&c, x, L, N, &ns) == PF_OK, "despike clean: %s", pf_errmsg());
    CHECK(ns == 0, "clean record (%zu beats, sharp R, ectopics): %zu spikes found, want 0", nb, ns);
    CHECK(max_diff(x, clean, (size_t)N * L) == 0, "clean record changed by despiking");

    /* pacemaker spikes 60 ms before the first 8 beats: -1 mV then -0.4 mV,
     * lead-specific sign and size, tiny in two leads */
    memcpy(x, clean, sizeof(float) * N * L);
    size_t inject = 0;
    for (size_t b = 0; b < nb && inject < 8; b++) {
        long t = r[b] - 30;
        if (t < 10) continue;
        for (int l = 0; l < L; l++) {
            double g = (l % 2 ? -1.0 : 1.0) * (l == 3 || l == 8 ? 0.02 : 0.5 + 0.1 * l);
            x[(size_t)l * N + t] += (float)(-1.0 * g);
            x[(size_t)l * N + t + 1] += (float)(-0.4 * g);
        }
        inject++;
    }
    float *spiked = malloc(sizeof(float) * N * L);
    memcpy(spiked, x, sizeof(float) * N * L);
    CHECK(pf_delin_despike(&c, x, L, N, &ns) == PF_OK, "despike: %s", pf_errmsg());
    CHECK(ns == inject, "%zu spikes found, %zu injected", ns, inject);
    double d = max_diff(x, clean, (size_t)N * L);
    CHECK(d < 0.05, "after despiking the record differs from the clean one by %.3f mV (want < 0.05)", d);

    /* a baseline step in every lead is not a spike */
    memcpy(x, clean, sizeof(float) * N * L);
    for (int l = 0; l < L; l++)
        for (size_t i = 2500; i < N; i++) x[(size_t)l * N + i] += 1.0f;
    CHECK(pf_delin_despike(&c, x, L, N, &ns) == PF_OK && ns == 0, "baseline step taken for %zu spikes", ns);

    /* QRS onsets: spiked == clean with despiking; earlier without */
    pf_delin_beat *bc = calloc(nb, sizeof *bc), *bs = calloc(nb, sizeof *bs), *bn = calloc(nb, sizeof *bn);
    CHECK(pf_delin_window(&c, clean, L, N, r, nb, -1, bc) == PF_OK, "delineate clean: %s", pf_errmsg());
    CHECK(pf_delin_window(&c, spiked, L, N, r, nb, -1, bs) == PF_OK, "delineate spiked: %s", pf_errmsg());
    pf_delin_cfg off = c;
    off.spike_leads = 0;
    CHECK(pf_delin_window(&off, spiked, L, N, r, nb, -1, bn) == PF_OK, "delineate, no despiking: %s", pf_errmsg());
    int same = 0, dragged = 0;
    for (size_t b = 0; b < inject; b++) {
        same += labs(bs[b].qrs_on - bc[b].qrs_on) <= 1;
        dragged += bc[b].qrs_on - bn[b].qrs_on >= 5; /* >= 10 ms earlier */
    }
    CHECK(same == (int)inject, "QRS onset of spiked beats equals the clean one in %d of %zu beats", same, inject);
    CHECK(2 * dragged >= (int)inject, "without despiking the spike moved the onset earlier in only %d of %zu beats "
          "(the test must see the spike matter)", dragged, inject);

    /* bad arguments name themselves */
    CHECK(pf_delin_despike(&c, x, 0, N, &ns) == PF_EINVAL, "L = 0 accepted");
    free(bc); free(bs); free(bn);
    free(sm); free(clean); free(x); free(spiked);
    return pf_test_done();
}
