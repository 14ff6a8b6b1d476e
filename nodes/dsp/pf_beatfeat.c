#include "pf_beatfeat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_delin.h"
#include "pf_error.h"
#include "pf_iirdes.h"
#include "pf_sos.h"

enum { N_RR = 6, N_IV = 5, N_QRS = 10, N_T = 8 };
static const char *rr_names[N_RR + N_IV] = {"pre_rr", "post_rr", "avg_rr", "local_rr", "pre_local", "post_local",
                                            "qrs_dur", "p_present", "p_dur", "t_dur", "r_toff"};

int pf_beatfeat_dim(int nleads) { return N_RR + N_IV + (N_QRS + N_T) * nleads; }

const char *pf_beatfeat_name(int i, int nleads, char *buf, size_t cap)
{
    if (i < N_RR + N_IV) snprintf(buf, cap, "%s", rr_names[i]);
    else {
        int j = i - N_RR - N_IV, l = j / (N_QRS + N_T), k = j % (N_QRS + N_T);
        if (l >= nleads) snprintf(buf, cap, "?");
        else if (k < N_QRS) snprintf(buf, cap, "qrs_l%d_%d", l, k);
        else snprintf(buf, cap, "t_l%d_%d", l, k - N_QRS);
    }
    return buf;
}

static float at(const float *x, size_t n, long i) { return x[i < 0 ? 0 : (size_t)i >= n ? n - 1 : (size_t)i]; }

int pf_beatfeat_record(const float *x, int L, size_t n, double fs, const long *r, size_t nb, float *f)
{
    int D = pf_beatfeat_dim(L);
    if (nb == 0) return PF_OK;
    float *y = malloc(sizeof(float) * n * (size_t)L), *sm = malloc(sizeof(float) * n * (size_t)L);
    pf_delin_beat *bt = malloc(sizeof *bt * nb);
    double *rr = malloc(sizeof(double) * (nb + 1));
    int rc = y && sm && bt && rr ? PF_OK : pf_err(PF_ENOMEM, "beat features: out of memory for %zu samples", n);
    /* morphology from a zero-phase band-pass (no shift of the waveform) */
    pf_iirdes d;
    if (!rc) rc = pf_iirdes_butter(&d, PF_IIRDES_BANDPASS, 2, 0.5, 40.0, fs);
    for (int l = 0; !rc && l < L; l++)
        for (size_t t = 0; t < n; t++) sm[t * L + l] = x[(size_t)l * n + t];
    if (!rc) rc = pf_sos_filtfilt(&d, sm, sm, n, L);
    for (int l = 0; !rc && l < L; l++)
        for (size_t t = 0; t < n; t++) y[(size_t)l * n + t] = sm[t * L + l];
    pf_delin_cfg dc;
    pf_delin_cfg_default(&dc, fs);
    if (!rc) rc = pf_delin_window(&dc, x, L, n, r, nb, -1, bt, NULL);
    if (rc) goto done;
    /* rr[i] = interval before beat i (i >= 1) */
    for (size_t i = 1; i < nb; i++) rr[i] = (double)(r[i] - r[i - 1]) / fs;
    rr[0] = nb > 1 ? rr[1] : 1.0;
    rr[nb] = rr[nb - 1];
    /* average RR: intervals of beats within +-150 s, two pointers */
    size_t lo = 1, hi = 1;
    double sum = 0;
    long half = (long)(150.0 * fs);
    for (size_t i = 0; i < nb; i++) {
        float *o = f + i * (size_t)D;
        while (hi < nb && r[hi] <= r[i] + half) sum += rr[hi++];
        while (lo < hi && r[lo] < r[i] - half) sum -= rr[lo++];
        double avg = hi > lo ? sum / (double)(hi - lo) : rr[i];
        double loc = 0;
        int cnt = 0;
        for (long k = (long)i - 4; k <= (long)i + 5; k++)
            if (k >= 1 && k < (long)nb) { loc += rr[k]; cnt++; }
        loc = cnt ? loc / cnt : rr[i];
        double pre = rr[i], post = rr[i + 1 < nb ? i + 1 : nb];
        o[0] = (float)pre; o[1] = (float)post; o[2] = (float)avg; o[3] = (float)loc;
        o[4] = (float)(pre / loc); o[5] = (float)(post / loc);
        const pf_delin_beat *b = &bt[i];
        o[6] = b->qrs_on >= 0 && b->qrs_off > b->qrs_on ? (float)((b->qrs_off - b->qrs_on) / fs) : 0.0f;
        o[7] = b->p_peak >= 0 ? 1.0f : 0.0f;
        o[8] = b->p_on >= 0 && b->p_off > b->p_on ? (float)((b->p_off - b->p_on) / fs) : 0.0f;
        o[9] = b->t_on >= 0 && b->t_off > b->t_on ? (float)((b->t_off - b->t_on) / fs) : 0.0f;
        o[10] = b->t_off >= 0 ? (float)((b->t_off - r[i]) / fs) : 0.0f;
        for (int l = 0; l < L; l++) {
            const float *yl = y + (size_t)l * n;
            float *m = o + N_RR + N_IV + l * (N_QRS + N_T);
            for (int k = 0; k < N_QRS; k++) m[k] = at(yl, n, r[i] + (long)((-0.05 + 0.15 * k / (N_QRS - 1)) * fs));
            for (int k = 0; k < N_T; k++) m[N_QRS + k] = at(yl, n, r[i] + (long)((0.15 + 0.35 * k / (N_T - 1)) * fs));
        }
    }
done:
    free(y);
    free(sm);
    free(bt);
    free(rr);
    return rc ? pf_err_context(rc, "beat features") : PF_OK;
}
