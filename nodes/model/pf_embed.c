#include "pf_embed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_ckpt.h"
#include "pf_error.h"
#include "pf_h5.h"
#include "pf_ops.h"
#include "pf_stage.h"
#include "pf_tstage.h"

struct pf_embedder {
    pf_wavelet_cfg wc;
    pf_tfm_cfg tc;
    pf_stage ws, ts;
    pf_wavelet *w;
    pf_tstage *t;
    int max_B, C, T, F, TP;
    float *mask; /* [max_B, F*TP] all zero: nothing masked */
};

int pf_embed_ckpt_shape(const char *dir, int *dim, int *depth, int *patch)
{
    int64_t step, win;
    int rc = pf_ckpt_manifest_read(dir, &step, &win, NULL);
    if (rc) return rc;
    char path[4200];
    snprintf(path, sizeof path, "%s/step-%08lld/transformer.h5", dir, (long long)step);
    hid_t f = pf_h5_open_read(path);
    if (f < 0) return PF_EIO;
    int rank = 0;
    hsize_t dims[PF_H5_MAX_RANK];
    rc = pf_h5_shape(f, "params/patch_embed.proj.weight", &rank, dims, NULL);
    if (!rc && rank != 2) rc = pf_err(PF_EFORMAT, "patch_embed.proj.weight has rank %d, expected 2", rank);
    if (!rc) {
        *dim = (int)dims[0];
        *patch = (int)dims[1];
        int d = 0;
        char nm[96];
        for (;; d++) {
            snprintf(nm, sizeof nm, "params/blocks.%d.norm1.weight", d);
            if (pf_h5_shape(f, nm, NULL, NULL, NULL)) break;
        }
        *depth = d;
    }
    H5Fclose(f);
    return rc ? pf_err_context(rc, "checkpoint %s", path) : PF_OK;
}

/* The parameters only (no optimiser state): DIR/step-N/ROLE.h5 of the manifest's step. */
static int load_params(pf_stage *st, const char *dir)
{
    int64_t step, win;
    int rc = pf_ckpt_manifest_read(dir, &step, &win, NULL);
    if (rc) return rc;
    char path[4200];
    snprintf(path, sizeof path, "%s/step-%08lld/%s.h5", dir, (long long)step, st->role);
    return pf_ckpt_load(path, st->p, NULL, NULL);
}

pf_embedder *pf_embedder_create(const pf_wavelet_cfg *w, const pf_tfm_cfg *t, int max_B, int T, uint64_t seed,
                                const char *ckpt_dir)
{
    if (T % t->patch) {
        pf_err(PF_EINVAL, "embedding: window of %d samples is not a multiple of the %d-sample patch", T, t->patch);
        return NULL;
    }
    if (ckpt_dir) { /* the encoder's shape first: a clearer refusal than a tensor's */
        int D, depth, P;
        if (pf_embed_ckpt_shape(ckpt_dir, &D, &depth, &P)) return NULL;
        if (D != t->dim || depth != t->depth || P != t->patch) {
            pf_err(PF_EFORMAT, "checkpoint %s holds an encoder of D = %d, depth %d, patch %d; preset '%s' is D = %d, depth %d, patch %d",
                   ckpt_dir, D, depth, P, t->name, t->dim, t->depth, t->patch);
            return NULL;
        }
    }
    pf_embedder *e = calloc(1, sizeof *e);
    if (!e) { pf_err(PF_ENOMEM, "embedding: out of memory"); return NULL; }
    e->wc = *w;
    e->tc = *t;
    e->tc.dropout = 0; /* eval mode everywhere */
    e->wc.dropout = 0;
    e->max_B = max_B;
    e->C = w->n_leads;
    e->T = T;
    e->F = (w->levels + 1) * w->n_leads;
    e->TP = T / t->patch;
    pf_mask_cfg mc = pf_mask_cfg_defaults();
    e->w = pf_stage_build_wavelet(&e->ws, &e->wc, max_B, T, seed, NULL);
    if (e->w && ckpt_dir && load_params(&e->ws, ckpt_dir)) {
        pf_wavelet_destroy(e->w);
        e->w = NULL;
    }
    if (!e->w) {
        if (ckpt_dir)
            pf_err_context(PF_EFORMAT, "checkpoint %s does not fit a wavelet front-end of %d leads, %d levels, %d families",
                           ckpt_dir, w->n_leads, w->levels, w->n_families);
        pf_embedder_destroy(e);
        return NULL;
    }
    e->t = pf_stage_build_tfm(&e->ts, &e->tc, &mc, max_B, e->F * e->TP, seed, NULL);
    if (e->t && ckpt_dir && load_params(&e->ts, ckpt_dir)) {
        pf_tstage_destroy(e->t);
        e->t = NULL;
    }
    e->mask = calloc((size_t)max_B * e->F * e->TP, sizeof(float));
    if (!e->t || !e->mask) {
        if (!e->mask) pf_err(PF_ENOMEM, "embedding: out of memory");
        else if (ckpt_dir) pf_err_context(PF_EFORMAT, "checkpoint %s does not fit preset '%s'", ckpt_dir, t->name);
        pf_embedder_destroy(e);
        return NULL;
    }
    return e;
}

int pf_embedder_run(pf_embedder *e, const float *x, int B, float *out)
{
    // x [B, C, T] -> spec [B, F, T] -> tokens [B, F*TP, D] -> mean over tokens [B, D]
    int rc = pf_wavelet_forward(e->w, e->ws.p, x, B, 0, 0);
    if (!rc) rc = pf_tstage_forward(e->t, e->ts.p, pf_wavelet_output(e->w), B, e->F, e->TP, e->mask, 0, 0, 0);
    if (rc) return pf_err_context(rc, "embedding %d windows", B);
    pf_meanpool_forward(out, pf_tstage_encoded(e->t), B, e->F * e->TP, e->tc.dim);
    return PF_OK;
}

int pf_embedder_dim(const pf_embedder *e) { return e->tc.dim; }
int pf_embedder_tokens(const pf_embedder *e) { return e->F * e->TP; }

void pf_embedder_destroy(pf_embedder *e)
{
    if (!e) return;
    pf_wavelet_destroy(e->w);
    pf_tstage_destroy(e->t);
    pf_stage_free(&e->ws);
    pf_stage_free(&e->ts);
    free(e->mask);
    free(e);
}
