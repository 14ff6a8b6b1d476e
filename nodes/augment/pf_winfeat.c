#include "pf_winfeat.h"

#include "pf_error.h"

#include <stdlib.h>
#include <string.h>

struct pf_winfeat {
    int lead;
    double fs;
    pf_features *feat; /* for the sample rate fs; made on the first window */
};

pf_winfeat *pf_winfeat_create(int lead)
{
    pf_winfeat *w = calloc(1, sizeof *w);
    if (!w) { pf_err(PF_ENOMEM, "features: out of memory"); return NULL; }
    w->lead = lead;
    return w;
}

void pf_winfeat_destroy(pf_winfeat **wp)
{
    if (!wp || !*wp) return;
    pf_features_destroy((*wp)->feat);
    free(*wp);
    *wp = NULL;
}

int pf_winfeat_compute(pf_winfeat *w, const pf_msg *m, const int64_t *peaks, int np, float *out, int *from_beats)
{
    if (from_beats) *from_beats = 0;
    if (!w->feat || w->fs != m->sample_rate) {
        pf_features_destroy(w->feat);
        w->feat = pf_features_create(m->sample_rate, w->lead);
        w->fs = m->sample_rate;
        if (!w->feat) { w->fs = 0; return PF_ERANGE; } /* a rate the extractor cannot take (message set) */
    }
    int C = (int)m->n_leads, T = (int)m->n_samples, rc;
    const pf_section *xs = pf_msg_find_const(m, PF_SEC_SAMPLES);
    if (!xs) return pf_err(PF_EFORMAT, "features: window '%s' #%llu has no samples", m->id, (unsigned long long)m->window_index);
    const float *x = xs->data;
    const pf_section *bs = pf_msg_find_const(m, PF_SEC_BEATS);
    if (bs) {
        /* boundaries from an upstream delineate node: used as they are */
        int nb = (int)bs->dims[0];
        pf_delin_beat *db = malloc(sizeof *db * (size_t)(nb + 1));
        if (!db) return pf_err(PF_ENOMEM, "features: out of memory");
        const int64_t *v = bs->data;
        for (int i = 0; i < nb; i++) {
            long b[9];
            for (int k = 0; k < 9; k++) b[k] = v[i * 9 + k] < 0 ? -1 : (long)(v[i * 9 + k] - m->start_sample);
            db[i] = (pf_delin_beat){.p_on = b[0], .p_peak = b[1], .p_off = b[2], .qrs_on = b[3], .r = b[4],
                                    .qrs_off = b[5], .t_on = b[6], .t_peak = b[7], .t_off = b[8]};
        }
        rc = pf_features_compute_beats(w->feat, x, C, T, db, nb, out);
        free(db);
        if (from_beats) *from_beats = 1;
    } else {
        rc = pf_features_compute(w->feat, x, C, T, peaks, np, out);
    }
    if (rc) {
        /* an odd window keeps the stream's layout: zeros */
        memset(out, 0, sizeof(float) * PF_FEAT_DIM);
        return PF_EAGAIN;
    }
    return PF_OK;
}
