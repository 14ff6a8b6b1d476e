/* Pacing-spike removal before delineation (pf_delin_despike), on synthetic
 * 12-lead ECG with known beats: a clean record with sharp R waves and wide
 * ectopic beats loses nothing; injected pacemaker spikes (2 samples wide,
 * most leads) are all found and bridged, leaving the rest of the signal as it
 * was; a baseline step is not a spike; and the QRS onsets delineated on the
 * spiked record equal those of the clean one, where without despiking the
 * spikes drag them earlier. Also the per-lead merge (pf_delin_merge): the
 * fused boundary moved part-way towards the lead's own, only when the lead's
 * own lies within the tolerance, never past the wave's peak. */
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
    CHECK(pf_delin_window(&c, clean, L, N, r, nb, -1, bc, NULL) == PF_OK, "delineate clean: %s", pf_errmsg());
    size_t wspikes = 0;
    CHECK(pf_delin_window(&c, spiked, L, N, r, nb, -1, bs, &wspikes) == PF_OK, "delineate spiked: %s", pf_errmsg());
    CHECK(wspikes == inject, "pf_delin_window reports %zu spikes bridged, %zu injected", wspikes, inject);
    pf_delin_cfg off = c;
    off.spike_leads = 0;
    CHECK(pf_delin_window(&off, spiked, L, N, r, nb, -1, bn, NULL) == PF_OK, "delineate, no despiking: %s", pf_errmsg());
    int same = 0, dragged = 0;
    for (size_t b = 0; b < inject; b++) {
        same += labs(bs[b].qrs_on - bc[b].qrs_on) <= 1;
        dragged += bc[b].qrs_on - bn[b].qrs_on >= 5; /* >= 10 ms earlier */
    }
    CHECK(same == (int)inject, "QRS onset of spiked beats equals the clean one in %d of %zu beats", same, inject);
    CHECK(2 * dragged >= (int)inject, "without despiking the spike moved the onset earlier in only %d of %zu beats "
          "(the test must see the spike matter)", dragged, inject);

    /* per-lead merge: fused + w (own - fused) within the tolerance */
    {
        pf_delin_cfg m;
        pf_delin_cfg_default(&m, 500);
        m.lead_w_qrs = 0.5, m.lead_tol_qrs_ms = 40; /* 20 samples */
        m.lead_w_pt = 0.25, m.lead_tol_pt_ms = 80;  /* 40 samples */
        pf_delin_beat f = {100, 120, 140, 200, 220, 250, 300, 350, 400, 1};
        pf_delin_beat own[3] = {
            {90, 121, 150, 190, 220, 270, 260, 350, 420, 1},  /* all within tolerance */
            {30, 121, 150, 150, 220, 250, 300, 350, 460, 1},  /* P on, QRS on, T off too far */
            {100, 120, 140, 200, 220, 250, 300, 350, 400, 1}, /* the same as the fusion */
        }, out[3], fused[3] = {f, f, f};
        pf_delin_merge(&m, own, fused, 2, out);
        pf_delin_cfg whole = m;
        whole.lead_w_pt = 1;
        own[2].p_on = 130; /* past the P peak (120) after blending: keep the fused P bounds */
        own[2].p_off = 150;
        pf_delin_merge(&whole, own + 2, fused + 2, 1, out + 2);
        CHECK(out[0].qrs_on == 195 && out[0].qrs_off == 260 && out[0].p_on == 97 && out[0].p_off == 143 &&
              out[0].t_on == 290 && out[0].t_off == 405 && out[0].r == 220 && out[0].p_peak == 120 &&
              out[0].t_peak == 350, "blend within tolerance: QRS %ld-%ld P %ld-%ld T %ld-%ld", out[0].qrs_on,
              out[0].qrs_off, out[0].p_on, out[0].p_off, out[0].t_on, out[0].t_off);
        CHECK(out[1].qrs_on == 200 && out[1].qrs_off == 250 && out[1].p_on == 100 && out[1].p_off == 143 &&
              out[1].t_off == 400, "beyond tolerance the fused boundary stays: QRS on %ld P on %ld T off %ld",
              out[1].qrs_on, out[1].p_on, out[1].t_off);
        CHECK(out[2].p_on == 100 && out[2].p_off == 140, "blended P onset past its peak: P %ld-%ld (want fused 100-140)",
              out[2].p_on, out[2].p_off);
        pf_delin_beat nop = f;
        nop.p_on = nop.p_peak = nop.p_off = -1;
        pf_delin_beat o1;
        pf_delin_merge(&m, &own[0], &nop, 1, &o1);
        CHECK(o1.p_on == -1 && o1.p_peak == -1 && o1.p_off == -1, "no fused P wave: none from the lead (P %ld)", o1.p_peak);
    }

    /* bad arguments name themselves */
    CHECK(pf_delin_despike(&c, x, 0, N, &ns) == PF_EINVAL, "L = 0 accepted");
    free(bc); free(bs); free(bn);
    free(sm); free(clean); free(x); free(spiked);
    return pf_test_done();
}
