#include "pf_objective.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pf_error.h"

struct pf_objective_run {
    pf_objective o;
    pf_contrast_cfg cc;
    const pf_featstats *fs;
    pf_rhead *masked, *signal;
    int B, C, R, TP, P, D, N, Fo;
    float *h, *dh;            /* [3B, D] row embeddings and their gradients */
    float *hc, *dhc, *fc;     /* compacted [3B, D], [3B, D], [B, Fo] */
    float *scratch;
    float *s, *ds, *w;        /* signal head: [B C TP, D], its gradient, weights [B, C, T] */
    int *idx;
};

pf_objective_run *pf_objective_create(const pf_objective *o, const pf_contrast_cfg *cc, const pf_featstats *fs,
                                      pf_rhead *masked, pf_rhead *signal, int B, int C, int R, int TP, int P, int D)
{
    pf_objective_run *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->o = *o; r->cc = *cc; r->fs = fs; r->masked = masked; r->signal = signal;
    r->B = B; r->C = C; r->R = R; r->TP = TP; r->P = P; r->D = D; r->N = R * TP;
    r->Fo = fs ? (fs->k ? fs->k : fs->dim) : 0;
    size_t BD = (size_t)3 * B * D, S = (size_t)B * C * TP;
    r->h = calloc(BD, sizeof(float)); r->dh = calloc(BD, sizeof(float));
    r->hc = calloc(BD, sizeof(float)); r->dhc = calloc(BD, sizeof(float));
    r->fc = calloc((size_t)B * (r->Fo ? r->Fo : 1), sizeof(float));
    r->scratch = calloc(pf_contrastive_scratch(B, D), sizeof(float));
    r->s = calloc(S * D, sizeof(float)); r->ds = calloc(S * D, sizeof(float));
    r->w = calloc(S * P, sizeof(float));
    r->idx = calloc((size_t)B, sizeof(int));
    if (!r->h || !r->dh || !r->hc || !r->dhc || !r->fc || !r->scratch || !r->s || !r->ds || !r->w || !r->idx) {
        pf_objective_destroy(r);
        return NULL;
    }
    return r;
}

void pf_objective_destroy(pf_objective_run *r)
{
    if (!r) return;
    free(r->h); free(r->dh); free(r->hc); free(r->dhc); free(r->fc); free(r->scratch);
    free(r->s); free(r->ds); free(r->w); free(r->idx);
    free(r);
}

/* The contrastive term on the anchors that have features, a view and a neighbour. */
static int contrastive(pf_objective_run *r, const float *z, const pf_aux *a, int train, pf_obj_terms *out, float *dz)
{
    int B = r->B, D = r->D, N = r->N;
    if (a->rows != 3) return pf_err(PF_EFORMAT, "the contrastive term needs views and adjacent windows: set objective on the first stage (wavelet) too");
    if (!r->fs) return pf_err(PF_EINVAL, "contrastive term without feature statistics");
    for (int b = 0; b < 3 * B; b++) { /* h = mean of the row's encoded tokens */
        float *h = r->h + (size_t)b * D;
        memset(h, 0, sizeof(float) * D);
        for (int t = 0; t < N; t++) {
            const float *zt = z + ((size_t)b * N + t) * D;
            for (int d = 0; d < D; d++) h[d] += zt[d];
        }
        for (int d = 0; d < D; d++) h[d] /= (float)N;
    }
    int Bv = 0;
    const int need = PF_ROW_FEAT | PF_ROW_VIEW | PF_ROW_ADJ;
    for (int b = 0; b < B; b++) {
        if ((a->flags[b] & need) != need) { out->no_feat++; continue; }
        if (a->F != r->fs->dim) return pf_err(PF_EFORMAT, "feature vectors of %d values, the statistics were fitted on %d", a->F, r->fs->dim);
        r->idx[Bv++] = b;
    }
    out->con = NAN;
    if (Bv < 2) return PF_OK; /* nothing to contrast: the anchors were counted above */
    for (int i = 0; i < Bv; i++) {
        int b = r->idx[i];
        for (int s = 0; s < 3; s++) memcpy(r->hc + ((size_t)s * Bv + i) * D, r->h + ((size_t)s * B + b) * D, sizeof(float) * D);
        pf_featstats_apply(r->fs, a->feat + (size_t)b * a->F, r->fc + (size_t)i * r->Fo);
    }
    const float *hc = r->hc, *hs = hc + (size_t)Bv * D, *ha = hs + (size_t)Bv * D;
    pf_contrast_stats st = {0};
    float l = pf_contrastive_forward(&r->cc, hc, hs, ha, r->fc, Bv, D, r->Fo, r->scratch, &st);
    int ok = 0;
    out->rank_n += pf_contrastive_rank(&r->cc, hc, hs, ha, r->fc, Bv, D, r->Fo, r->scratch, &ok);
    out->rank_ok += ok;
    out->con_used += st.used;
    out->con_skipped += st.skipped;
    if (!st.used) return PF_OK;
    out->con = l;
    out->total += r->o.w_con * l;
    if (!train) return PF_OK;
    memset(r->dhc, 0, sizeof(float) * 3 * Bv * D);
    float *dhc = r->dhc, *dhs = dhc + (size_t)Bv * D, *dha = dhs + (size_t)Bv * D;
    pf_contrastive_backward(&r->cc, dhc, dhs, dha, hc, hs, ha, r->fc, Bv, D, r->Fo, r->scratch, (float)r->o.w_con);
    for (int i = 0; i < Bv; i++)
        for (int s = 0; s < 3; s++) {
            const float *g = r->dhc + ((size_t)s * Bv + i) * D;
            size_t row = (size_t)s * B + r->idx[i];
            for (int t = 0; t < N; t++) {
                float *dzt = dz + (row * N + t) * D;
                for (int d = 0; d < D; d++) dzt[d] += g[d] / (float)N;
            }
        }
    return PF_OK;
}

/* Global and peak-aware reconstruction of the anchors' original samples. */
static int signal_terms(pf_objective_run *r, pf_pstore *hp, const float *z, const pf_aux *a, int train, uint64_t key,
                        pf_obj_terms *out, float *dz)
{
    int B = r->B, C = r->C, TP = r->TP, P = r->P, D = r->D, N = r->N, L1 = r->R / C, T = TP * P;
    size_t S = (size_t)B * C * TP;
    /* s[b, c, t] = mean over bands of z[b, (band C + c) TP + t]: band-major Spec rows */
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int t = 0; t < TP; t++) {
                float *s = r->s + (((size_t)b * C + c) * TP + t) * D;
                memset(s, 0, sizeof(float) * D);
                for (int l = 0; l < L1; l++) {
                    const float *zt = z + ((size_t)b * N + (size_t)(l * C + c) * TP + t) * D;
                    for (int d = 0; d < D; d++) s[d] += zt[d];
                }
                for (int d = 0; d < D; d++) s[d] /= (float)L1;
            }
    double n_all = (double)B * C * T, n_peak = 0;
    for (int b = 0; b < B; b++) {
        if (!(a->flags[b] & PF_ROW_PEAKS)) { out->no_peaks++; continue; }
        for (int t = 0; t < T; t++) n_peak += (double)C * a->peaks[(size_t)b * T + t];
    }
    double wg = r->o.w_global / n_all, wp = n_peak > 0 ? r->o.w_peak / n_peak : 0;
    for (int b = 0; b < B; b++) {
        int hasp = a->flags[b] & PF_ROW_PEAKS;
        for (int c = 0; c < C; c++)
            for (int t = 0; t < T; t++)
                r->w[((size_t)b * C + c) * T + t] = (float)(wg + (hasp && a->peaks[(size_t)b * T + t] ? wp : 0));
    }
    float wl = 0;
    int rc = pf_rhead_forward_weighted(r->signal, hp, r->s, a->x, r->w, (int)S, train, key, &wl);
    if (rc) return rc;
    /* each term on its own, for the curves */
    const float *pred = pf_rhead_pred(r->signal);
    double sg = 0, sp = 0;
    for (int b = 0; b < B; b++) {
        int hasp = a->flags[b] & PF_ROW_PEAKS;
        for (int c = 0; c < C; c++)
            for (int t = 0; t < T; t++) {
                size_t i = ((size_t)b * C + c) * T + t;
                double d = (double)pred[i] - a->x[i];
                sg += d * d;
                if (hasp && a->peaks[(size_t)b * T + t]) sp += d * d;
            }
    }
    out->global = sg / n_all;
    out->peak = n_peak > 0 ? sp / n_peak : NAN;
    out->total += wl;
    if (!train) return PF_OK;
    rc = pf_rhead_backward_scaled(r->signal, hp, r->ds, NULL, 1.0f);
    if (rc) return rc;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int t = 0; t < TP; t++) {
                const float *g = r->ds + (((size_t)b * C + c) * TP + t) * D;
                for (int l = 0; l < L1; l++) {
                    float *dzt = dz + ((size_t)b * N + (size_t)(l * C + c) * TP + t) * D;
                    for (int d = 0; d < D; d++) dzt[d] += g[d] / (float)L1;
                }
            }
    return PF_OK;
}

int pf_objective_step(pf_objective_run *r, pf_pstore *hp, const float *z, const float *target, const float *mask,
                      const pf_aux *a, int train, uint64_t key_masked, uint64_t key_signal, pf_obj_terms *out,
                      float *dz, float *dtarget)
{
    int B = r->B, N = r->N, D = r->D, P = r->P, rows = a->rows;
    if (a->B != B) return pf_err(PF_EFORMAT, "micro-batch of %d windows, the objective was built for %d", a->B, B);
    memset(out, 0, sizeof *out);
    out->masked = out->con = out->global = out->peak = NAN;
    size_t anchors = (size_t)B * N;
    if (train) memset(dz + (r->masked ? anchors * D : 0), 0, sizeof(float) * ((size_t)rows * B * N - (r->masked ? anchors : 0)) * D);
    if (train && dtarget) memset(dtarget, 0, sizeof(float) * (size_t)rows * B * N * P);
    int rc = PF_OK;
    if (r->masked) { /* the anchors' masked tokens; dz of the anchors (=) */
        float lm = 0;
        rc = pf_rhead_forward(r->masked, hp, z, target, mask, (int)anchors, train, key_masked, &lm);
        if (!rc && train) rc = pf_rhead_backward_scaled(r->masked, hp, dz, dtarget, (float)r->o.w_masked);
        if (rc) return rc;
        out->masked = lm;
        out->total += r->o.w_masked * lm;
    }
    if (r->o.w_con > 0 && (rc = contrastive(r, z, a, train, out, dz))) return rc;
    if (r->signal && (rc = signal_terms(r, hp, z, a, train, key_signal, out, dz))) return rc;
    return PF_OK;
}
