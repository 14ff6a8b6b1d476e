/* Node kind `embed`: the graph form of `physioflow embed` (model.md 5,
 * embedding export): every window through the encoder of a checkpoint (or
 * the preset at random initialisation of the graph's seed), eval mode,
 * nothing masked, mean over tokens -> one vector, written with the window's
 * label, record, beat sample and window index to an embedding file
 * (docs/formats.md, pf_embfile) that `physioflow probe` reads. The file is
 * written as OUT.partial and renamed to OUT only when the stream ended: an
 * interrupted or failed run never leaves a file that looks complete. */
#include "pf_embed.h"
#include "pf_embfile.h"
#include "pf_error.h"
#include "pf_log.h"
#include "pf_node.h"
#include "pf_stage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const pf_param_spec embed_params[] = {
    {"out", PF_P_STRING, "", 0, 0, NULL, "the embedding file to write (HDF5, docs/formats.md)"},
    {"checkpoint", PF_P_STRING, "", 0, 0, NULL, "trainer checkpoint directory (pretraining or fine-tuning; \"\" = the preset at random initialisation)"},
    {"class_names", PF_P_STRLIST, "N, S, V, F, Q", 1, 256, NULL, "names of the label classes (default: AAMI beat classes, reader around = beats)"},
    {"multi_label", PF_P_BOOL, "false", 0, 0, NULL, "LABELS are multi-label targets (f32, one per class: e.g. reader dx_labels), not a class id"},
    {"batch", PF_P_INT, "16", 1, 4096, NULL, "windows per encoder pass"},
    {"leads", PF_P_INT, "12", 1, 256, NULL, "leads of every window (C)"},
    {"window", PF_P_INT, "2048", 64, 1 << 20, NULL, "samples of every window (T, a multiple of the patch)"},
    PF_STAGE_WAVELET_PARAMS,
    {"preset", PF_P_STRING, "tiny", 0, 0, "tiny|small|physiowave-ecg", "encoder size: D/layers/heads 128/4/4, 256/6/8, 384/8/12"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const pf_port_spec embed_ports[] = {
    {"in", PF_PORT_IN, PF_MSG_WINDOW, 0, "windows (leads x window samples), with LABELS and BEAT when the reader gives them"},
    {NULL, 0, 0, 0, NULL},
};

typedef struct {
    pf_embedder *e;
    pf_embset *set;
    int B, C, T, D, K, n;
    float *x, *z;             /* [B, C, T], [B, D] */
    int64_t *label, *sample, *widx;
    float *y;                 /* [B, K] multi-label targets */
    char (*rec)[260];     /* record ids (a message id is at most 255 bytes) */
    int multi;                /* labels are targets (f32 [K]) */
    char out[1024], partial[1100];
} embed_t;

static int embed_create(pf_node *n, void **state)
{
    const pf_params *p = pf_node_params(n);
    embed_t *s = calloc(1, sizeof *s);
    if (!s) return pf_err(PF_ENOMEM, "embed: out of memory");
    *state = s;
    snprintf(s->out, sizeof s->out, "%s", pf_params_string(p, "out"));
    if (!s->out[0]) return pf_err(PF_EINVAL, "embed: set out = \"FILE.h5\", the embedding file to write");
    snprintf(s->partial, sizeof s->partial, "%s.partial", s->out);
    s->B = (int)pf_params_int(p, "batch");
    s->C = (int)pf_params_int(p, "leads");
    s->T = (int)pf_params_int(p, "window");
    s->K = pf_params_list_len(p, "class_names");
    s->multi = pf_params_bool(p, "multi_label");
    pf_wavelet_cfg wc;
    pf_tfm_cfg tc;
    int rc = pf_stage_wavelet_cfg(p, &wc);
    if (!rc) rc = pf_tfm_preset(pf_params_string(p, "preset"), &tc);
    if (rc) return rc;
    const char *ck = pf_params_string(p, "checkpoint");
    if (!(s->e = pf_embedder_create(&wc, &tc, s->B, s->T, pf_node_seed(n), ck[0] ? ck : NULL))) return pf_err_context(PF_EINVAL, "embed");
    s->D = pf_embedder_dim(s->e);
    const char *names[256];
    for (int k = 0; k < s->K; k++) names[k] = pf_params_list_str(p, "class_names", k);
    char source[1200];
    snprintf(source, sizeof source, "encoder preset %s, %d leads x %d samples, %s (embed node)", tc.name, s->C, s->T,
             ck[0] ? ck : "random initialisation");
    s->set = pf_embset_create(s->D, s->K, names, s->multi, source);
    s->x = malloc(sizeof(float) * (size_t)s->B * s->C * s->T);
    s->z = malloc(sizeof(float) * (size_t)s->B * s->D);
    s->y = calloc((size_t)s->B * s->K, sizeof(float));
    s->label = malloc(sizeof(int64_t) * s->B);
    s->sample = malloc(sizeof(int64_t) * s->B);
    s->widx = malloc(sizeof(int64_t) * s->B);
    s->rec = malloc(sizeof *s->rec * s->B);
    if (!s->set || !s->x || !s->z || !s->y || !s->label || !s->sample || !s->widx || !s->rec)
        return pf_err(PF_ENOMEM, "embed: out of memory");
    pf_info("embedding %d leads x %d samples with %s into %s", s->C, s->T, source, s->out);
    return PF_OK;
}

static int flush(pf_node *n, embed_t *s)
{
    if (!s->n) return PF_OK;
    int rc = pf_embedder_run(s->e, s->x, s->n, s->z);
    for (int i = 0; !rc && i < s->n; i++)
        rc = pf_embset_add(s->set, s->z + (size_t)i * s->D, s->label[i], s->multi ? s->y + (size_t)i * s->K : NULL, s->rec[i],
                           s->sample[i], s->widx[i]);
    if (!rc) pf_node_count(n, "embedded", (uint64_t)s->n);
    s->n = 0;
    return rc;
}

static int embed_process(pf_node *n, void *state, const char *port, pf_msg *m)
{
    (void)port;
    embed_t *s = state;
    if (m->n_leads != (uint32_t)s->C || m->n_samples != (uint32_t)s->T)
        return pf_node_reject(n, "shape", m, "window is %u x %u, the encoder takes %d leads x %d samples", m->n_leads, m->n_samples, s->C, s->T);
    const pf_section *l = pf_msg_find_const(m, PF_SEC_LABELS), *b = pf_msg_find_const(m, PF_SEC_BEAT);
    int i = s->n;
    s->label[i] = -1; /* unlabelled (e.g. detected beats) */
    if (l && !s->multi) {
        int64_t c = l->dtype == PF_DT_I64 && l->dims[0] == 1 ? *(const int64_t *)l->data : -2;
        if (c == -2) return pf_node_reject(n, "label", m, "LABELS are %u targets: set multi_label = true", l->dims[0]);
        if (c < 0 || c >= s->K) return pf_node_reject(n, "label", m, "class %lld outside the %d class_names", (long long)c, s->K);
        s->label[i] = c;
    } else if (s->multi) {
        if (!l || l->dtype != PF_DT_F32 || l->dims[0] != (uint32_t)s->K)
            return pf_node_reject(n, "label", m, "multi_label takes %d f32 targets per window, this one has %s", s->K, l ? "another LABELS" : "none");
        memcpy(s->y + (size_t)i * s->K, l->data, sizeof(float) * s->K);
    }
    memcpy(s->x + (size_t)i * s->C * s->T, pf_msg_find_const(m, PF_SEC_SAMPLES)->data, sizeof(float) * s->C * s->T);
    s->sample[i] = b ? ((const int64_t *)b->data)[0] : -1;
    s->widx[i] = (int64_t)m->window_index;
    snprintf(s->rec[i], sizeof s->rec[i], "%s", m->id);
    return ++s->n == s->B ? flush(n, s) : PF_OK;
}

static int embed_finish(pf_node *n, void *state, int interrupted)
{
    embed_t *s = state;
    int rc = flush(n, s);
    if (!rc && !s->set->n) return pf_err(PF_ENOTFOUND, "embed: no windows arrived: %s not written", s->out);
    /* pf_embset_write goes through OUT.partial itself; interrupted, the rows go to .partial only */
    if (!rc) rc = pf_embset_write(s->set, interrupted ? s->partial : s->out);
    if (rc) return pf_err_context(rc, "embed: writing %s", interrupted ? s->partial : s->out);
    if (interrupted) {
        pf_warn("interrupted: %zu vectors left in %s (incomplete)", s->set->n, s->partial);
        return PF_OK;
    }
    pf_info("wrote %s: %zu vectors of %d", s->out, s->set->n, s->D);
    return PF_OK;
}

static void embed_destroy(void *state)
{
    embed_t *s = state;
    if (!s) return;
    pf_embedder_destroy(s->e);
    pf_embset_destroy(s->set);
    free(s->x); free(s->z); free(s->y); free(s->label); free(s->sample); free(s->widx); free(s->rec);
    free(s);
}

const pf_kind pf_kind_embed = {
    .name = "embed",
    .doc = "model: one vector per window from a checkpoint's encoder (or random init), written with labels to an embedding file",
    .params = embed_params,
    .ports = embed_ports,
    .create = embed_create,
    .process = embed_process,
    .finish = embed_finish,
    .destroy = embed_destroy,
};
