#include "pf_stage.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pf_chead.h"
#include "pf_ckpt.h"
#include "pf_embed.h"
#include "pf_log.h"
#include "pf_error.h"
#include "pf_rhead.h"
#include "pf_rng.h"
#include "pf_tstage.h"

int pf_stage_wavelet_cfg(const pf_params *p, pf_wavelet_cfg *c)
{
    *c = pf_wavelet_cfg_defaults((int)pf_params_int(p, "leads"));
    c->levels = (int)pf_params_int(p, "levels");
    c->n_families = pf_params_list_len(p, "families");
    for (int f = 0; f < c->n_families && f < PF_WAVELET_MAX_FAMILIES; f++)
        snprintf(c->families[f], sizeof c->families[f], "%s", pf_params_list_str(p, "families", f));
    int init = pf_wavelet_init_parse(pf_params_string(p, "init"));
    if (init < 0) return init;
    c->init = init;
    c->kernel = (int)pf_params_int(p, "kernel");
    c->dropout = (float)pf_params_double(p, "wavelet_dropout");
    c->gate_heads = (int)pf_params_int(p, "gate_heads");
    c->xattn_heads = (int)pf_params_int(p, "xattn_heads");
    return pf_wavelet_validate(c);
}

int pf_stage_tfm_cfg(const pf_params *p, pf_tfm_cfg *t, pf_mask_cfg *m)
{
    int rc = pf_tfm_preset(pf_params_string(p, "preset"), t);
    if (rc < 0) return rc;
    t->dropout = (float)pf_params_double(p, "dropout");
    *m = pf_mask_cfg_defaults();
    m->mask_ratio = pf_params_double(p, "mask_ratio");
    m->importance_ratio = pf_params_double(p, "importance_ratio");
    int imp = pf_mask_importance_parse(pf_params_string(p, "importance"));
    if (imp < 0) return imp;
    m->importance = imp;
    return pf_tfm_validate(t);
}

void pf_step_opt_pack(const pf_step_opt *o, double *v)
{
    double w[PF_STEP_OPT_N] = {o->lr, o->beta1, o->beta2, o->eps, o->weight_decay, o->clip,
                               (double)o->step, (double)o->accum, (double)o->flags};
    memcpy(v, w, sizeof w);
}

int pf_step_opt_unpack(const double *v, pf_step_opt *o)
{
    for (int i = 0; i < PF_STEP_OPT_N; i++)
        if (!isfinite(v[i])) return pf_err(PF_EFORMAT, "optimiser settings: value %d is not finite", i);
    if (v[6] < 0 || v[7] < 1 || v[7] > 1e6 || v[8] < 0 || v[8] > 7)
        return pf_err(PF_EFORMAT, "optimiser settings: step %g, accum %g, flags %g out of range", v[6], v[7], v[8]);
    *o = (pf_step_opt){v[0], v[1], v[2], v[3], v[4], v[5], (int64_t)v[6], (int)v[7], (int)v[8]};
    return PF_OK;
}

uint64_t pf_stage_key(uint64_t seed, int64_t step, int micro, uint32_t site)
{
    return pf_rng_key(seed, (uint64_t)step, (uint64_t)micro, site);
}

double pf_stage_total_sq(double head, double transformer, double wavelet) { return (head + transformer) + wavelet; }

static pf_adamw_cfg adamw_cfg(const pf_step_opt *o)
{
    pf_adamw_cfg c = pf_adamw_defaults();
    c.lr = (float)o->lr;
    c.beta1 = (float)o->beta1;
    c.beta2 = (float)o->beta2;
    c.eps = (float)o->eps;
    c.weight_decay = (float)o->weight_decay;
    c.clip_norm = (float)o->clip;
    c.accum_steps = o->accum;
    return c;
}

int pf_stage_update(pf_stage *s, const pf_step_opt *o, double total_sq)
{
    pf_adamw_cfg c = adamw_cfg(o);
    if (!s->opt && !(s->opt = pf_adamw_create(&c))) return PF_ENOMEM;
    /* the schedule lives in the trainer: o->lr is this step's; the rest may not change */
    s->opt->cfg.beta1 = c.beta1;
    s->opt->cfg.beta2 = c.beta2;
    s->opt->cfg.eps = c.eps;
    s->opt->cfg.weight_decay = c.weight_decay;
    s->opt->cfg.clip_norm = c.clip_norm;
    s->opt->cfg.accum_steps = c.accum_steps;
    if (!isfinite(total_sq)) {
        pf_pstore_zero_grad(s->p);
        return 0;
    }
    pf_adamw_step_total(s->opt, s->p, (float)o->lr, total_sq, o->accum);
    return 1;
}

static int mkdir_p(const char *dir)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *q = buf + 1; *q; q++)
        if (*q == '/') { *q = 0; mkdir(buf, 0755); *q = '/'; }
    if (mkdir(buf, 0755) && errno != EEXIST) return pf_err(PF_EIO, "cannot create directory %s: %s", dir, strerror(errno));
    return PF_OK;
}

int pf_stage_save(pf_stage *s, const char *dir, int64_t step, int64_t windows)
{
    char sub[4096], path[4200];
    snprintf(sub, sizeof sub, "%s/step-%08lld", dir, (long long)step);
    int rc = mkdir_p(sub);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/%s.h5", sub, s->role);
    pf_ckpt_state st = {.opt = s->opt, .data_pos = windows};
    return pf_ckpt_save(path, s->p, &st);
}

int pf_ckpt_manifest_write(const char *dir, int64_t step, int64_t windows, int epoch)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/latest", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return pf_err(PF_EIO, "cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "step = %lld\nwindows = %lld\nepoch = %d\ndir = step-%08lld\n", (long long)step, (long long)windows,
            epoch, (long long)step);
    if (fclose(f) || rename(tmp, path)) return pf_err(PF_EIO, "cannot write %s: %s", path, strerror(errno));
    return PF_OK;
}

int pf_ckpt_manifest_read(const char *dir, int64_t *step, int64_t *windows, int *epoch)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/latest", dir);
    FILE *f = fopen(path, "r");
    if (!f) return pf_err(PF_ENOTFOUND, "resume: no checkpoint manifest %s (%s)", path, strerror(errno));
    long long st = -1, w = -1;
    int ep = -1, got = 0;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        got += sscanf(line, "step = %lld", &st) == 1;
        got += sscanf(line, "windows = %lld", &w) == 1;
        got += sscanf(line, "epoch = %d", &ep) == 1;
    }
    fclose(f);
    if (got != 3 || st < 0 || w < 0 || ep < 0) return pf_err(PF_EFORMAT, "resume: %s is not a checkpoint manifest", path);
    *step = st;
    *windows = w;
    if (epoch) *epoch = ep;
    return PF_OK;
}

int pf_ckpt_mark_best(const char *dir, int64_t step, int64_t windows, int epoch)
{
    /* DIR/best is a checkpoint directory of its own: its manifest and a link to the step */
    char best[4200], link[4300], target[64];
    snprintf(best, sizeof best, "%s/best", dir);
    int rc = mkdir_p(best);
    if (rc) return rc;
    snprintf(target, sizeof target, "../step-%08lld", (long long)step);
    snprintf(link, sizeof link, "%s/step-%08lld", best, (long long)step);
    remove(link);
    if (symlink(target, link)) return pf_err(PF_EIO, "cannot link %s -> %s: %s", link, target, strerror(errno));
    return pf_ckpt_manifest_write(best, step, windows, epoch);
}

/* Fine-tuning from a checkpoint: its wavelet and transformer parameters
 * (not its optimiser or heads); an encoder of another shape is refused with
 * both shapes named. */
int pf_stage_init_encoder(const char *dir, const pf_tfm_cfg *tc, pf_stage *wst, pf_stage *tst)
{
    int D, depth, P, rc = pf_embed_ckpt_shape(dir, &D, &depth, &P);
    if (rc) return pf_err_context(rc, "init_from");
    if (D != tc->dim || depth != tc->depth || P != tc->patch)
        return pf_err(PF_EFORMAT, "init_from %s holds an encoder of D = %d, depth %d, patch %d; preset '%s' is D = %d, depth %d, patch %d",
                      dir, D, depth, P, tc->name, tc->dim, tc->depth, tc->patch);
    if (wst && (rc = pf_stage_load_params(wst, dir))) return rc;
    if (tst && (rc = pf_stage_load_params(tst, dir))) return rc;
    pf_info("encoder initialised from %s", dir);
    return PF_OK;
}

int pf_stage_load(pf_stage *s, const char *dir, int64_t *windows)
{
    int64_t step, w;
    int rc = pf_ckpt_manifest_read(dir, &step, &w, NULL);
    if (rc) return rc;
    char path[4200];
    snprintf(path, sizeof path, "%s/step-%08lld/%s.h5", dir, (long long)step, s->role);
    if (!s->opt) {
        pf_adamw_cfg c = pf_adamw_defaults();
        if (!(s->opt = pf_adamw_create(&c))) return PF_ENOMEM;
    }
    pf_ckpt_state st = {.opt = s->opt};
    rc = pf_ckpt_load(path, s->p, &st, NULL);
    if (rc) return pf_err_context(rc, "resume from %s", path);
    if (windows) *windows = w;
    return PF_OK;
}

void pf_stage_free(pf_stage *s)
{
    pf_adamw_destroy(s->opt);
    pf_pstore_destroy(s->p);
    memset(s, 0, sizeof *s);
}

/* ---- named tensors ---- */

int pf_tmsg_add(pf_msg *m, const char *name, int dtype, int ndim, const uint32_t *dims, const void *data)
{
    uint32_t n = (uint32_t)strlen(name);
    int rc = pf_msg_add(m, PF_SEC_NAME, PF_DT_U8, 1, &n, name);
    return rc ? rc : pf_msg_add(m, PF_SEC_TENSOR, dtype, ndim, dims, data);
}

const pf_section *pf_tmsg_get(const pf_msg *m, const char *name, int dtype, int ndim, const uint32_t *dims)
{
    size_t len = strlen(name);
    for (int i = 0; i + 1 < m->n_sections; i++) {
        const pf_section *nm = &m->sec[i], *t = &m->sec[i + 1];
        if (nm->type != PF_SEC_NAME || nm->bytes != len || memcmp(nm->data, name, len) || t->type != PF_SEC_TENSOR) continue;
        int ok = t->dtype == dtype && t->ndim == ndim;
        for (int d = 0; ok && d < ndim; d++) ok = !dims || !dims[d] || t->dims[d] == dims[d];
        if (ok) return t;
        char want[96] = "", got[96] = "";
        for (int d = 0; d < ndim; d++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%u", d ? "," : "", dims ? dims[d] : 0);
        for (int d = 0; d < t->ndim; d++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%u", d ? "," : "", t->dims[d]);
        pf_err(PF_EFORMAT, "message '%s' #%llu: tensor '%s' is dtype %u [%s], expected dtype %d [%s] (0 = any)", m->id,
               (unsigned long long)m->window_index, name, t->dtype, got, dtype, want);
        return NULL;
    }
    pf_err(PF_EFORMAT, "message '%s' #%llu: no tensor '%s'", m->id, (unsigned long long)m->window_index, name);
    return NULL;
}

/* ---- objective ---- */

int pf_stage_objective(const pf_params *p, pf_objective *o)
{
    const char *name = pf_params_string(p, "objective");
    memset(o, 0, sizeof *o);
    o->preset = !strcmp(name, "physioclr") ? PF_OBJ_PHYSIOCLR : !strcmp(name, "hybrid") ? PF_OBJ_HYBRID
              : !strcmp(name, "classify") ? PF_OBJ_CLASSIFY : PF_OBJ_PHYSIOWAVE;
    o->peak_ms = pf_params_double(p, "peak_ms");
    o->rows = 1;
    if (o->preset == PF_OBJ_CLASSIFY) { /* model.md 5: the head's loss only; nothing masked */
        o->classify = 1;
        o->K = (int)pf_params_int(p, "classes");
        o->multi = !strcmp(pf_params_string(p, "loss"), "bce");
        o->freeze = pf_params_bool(p, "freeze_encoder");
        snprintf(o->init_from, sizeof o->init_from, "%s", pf_params_string(p, "init_from"));
        if (o->K < 2 && !(o->multi && o->K == 1))
            return pf_err(PF_EINVAL, "objective 'classify' needs classes = K (%d given): the number of label classes", o->K);
        return PF_OK;
    }
    if (pf_params_string(p, "init_from")[0] || pf_params_bool(p, "freeze_encoder"))
        return pf_err(PF_EINVAL, "objective '%s': init_from and freeze_encoder belong to objective 'classify' (a pretraining continues with run --resume)", name);
    /* model.md 4D: L = gamma L_masked + L_contrastive + alpha L_global + beta L_peak */
    static const double preset_w[3][4] = {{1, 0, 0, 0}, {0, 1, 0.2, 0.1}, {1, 1, 0.2, 0.1}};
    static const char *const wname[4] = {"w_masked", "w_contrastive", "w_global", "w_peak"};
    double *w[4] = {&o->w_masked, &o->w_con, &o->w_global, &o->w_peak};
    for (int i = 0; i < 4; i++) {
        double v = pf_params_double(p, wname[i]);
        *w[i] = v < 0 ? preset_w[o->preset][i] : v;
    }
    if (o->w_masked + o->w_con + o->w_global + o->w_peak <= 0)
        return pf_err(PF_EINVAL, "objective '%s': every loss weight is 0", name);
    o->rows = o->w_con > 0 ? 3 : 1;
    return PF_OK;
}

/* ---- batcher ---- */

int pf_batcher_init(pf_batcher *b, int B, int M, int C, int T, int rows, double peak_ms)
{
    memset(b, 0, sizeof *b);
    b->B = B; b->M = M; b->C = C; b->T = T; b->rows = rows; b->peak_ms = peak_ms;
    size_t W = (size_t)M * B;
    b->x = malloc(sizeof(float) * W * rows * C * T);
    b->feat = calloc(W * PF_FEAT_MAX, sizeof(float));
    b->peaks = calloc(W * T, 1);
    b->flags = calloc(W, 1);
    b->key = calloc(W, sizeof(uint64_t));
    if (!b->x || !b->feat || !b->peaks || !b->flags || !b->key) {
        pf_batcher_free(b);
        return pf_err(PF_ENOMEM, "batch of %d x %d windows of %d x %d: out of memory", M, B, C, T);
    }
    return PF_OK;
}

int pf_batcher_labels(pf_batcher *b, int K, int multi)
{
    b->K = K;
    b->multi = multi;
    free(b->lab);
    b->lab = calloc((size_t)b->M * b->B * (multi ? K : 1), sizeof(float));
    return b->lab ? PF_OK : pf_err(PF_ENOMEM, "labels of %d x %d windows: out of memory", b->M, b->B);
}

/* The window's LABELS into lab (1 or K values); 1 if valid, 0 if rejected (counted), < 0 on error. */
static int take_label(pf_node *n, const pf_batcher *b, const pf_msg *m, float *lab)
{
    const pf_section *l = pf_msg_find_const(m, PF_SEC_LABELS);
    int rc;
    if (!l) {
        rc = pf_node_reject(n, "no_label", m, "no LABELS section (set the reader's around = beats, dx_labels, or an HDF5 set with labels)");
        return rc ? rc : 0;
    }
    if (!b->multi) {
        if (l->dtype != PF_DT_I64 || l->dims[0] != 1) {
            rc = pf_node_reject(n, "label", m, "LABELS is %s [%u], loss ce takes one class id (i64 [1]); multi-label targets need loss = bce",
                                l->dtype == PF_DT_I64 ? "i64" : "f32", l->dims[0]);
            return rc ? rc : 0;
        }
        int64_t c = *(const int64_t *)l->data;
        if (c < 0 || c >= b->K) {
            rc = pf_node_reject(n, "label", m, "class %lld outside the %d classes", (long long)c, b->K);
            return rc ? rc : 0;
        }
        lab[0] = (float)c;
        return 1;
    }
    if (l->dtype != PF_DT_F32 || l->dims[0] != (uint32_t)b->K) {
        rc = pf_node_reject(n, "label", m, "LABELS is %s [%u], loss bce takes %d targets (f32 [%d])", l->dtype == PF_DT_I64 ? "i64" : "f32",
                            l->dims[0], b->K, b->K);
        return rc ? rc : 0;
    }
    const float *y = l->data;
    for (int k = 0; k < b->K; k++)
        if (!(y[k] >= 0 && y[k] <= 1)) {
            rc = pf_node_reject(n, "label", m, "target %d is %g, not in [0, 1]", k, y[k]);
            return rc ? rc : 0;
        }
    memcpy(lab, y, sizeof(float) * b->K);
    return 1;
}

float *pf_batcher_micro(const pf_batcher *b, int micro) { return b->x + (size_t)micro * b->rows * b->B * b->C * b->T; }

static float *slot_row(const pf_batcher *b, int slot, int row)
{
    return pf_batcher_micro(b, slot / b->B) + ((size_t)row * b->B + slot % b->B) * b->C * b->T;
}

static int finite_all(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* Check m and fill slot s; 1 if taken, 0 if rejected (counted), < 0 on error. */
static int fill_slot(pf_node *n, pf_batcher *b, int s, const pf_msg *m)
{
    if (m->n_leads != (uint32_t)b->C || m->n_samples != (uint32_t)b->T) {
        int rc = pf_node_reject(n, "shape", m, "window is %u x %u, the model takes %d leads x %d samples", m->n_leads,
                                m->n_samples, b->C, b->T);
        return rc ? rc : 0;
    }
    const float *x = pf_msg_find_const(m, PF_SEC_SAMPLES)->data;
    size_t cnt = (size_t)b->C * b->T;
    if (b->lab) {
        int rc = take_label(n, b, m, b->lab + (size_t)s * (b->multi ? b->K : 1));
        if (rc <= 0) return rc;
    }
    for (size_t i = 0; i < cnt; i++)
        if (!isfinite(x[i])) {
            int rc = pf_node_reject(n, "nonfinite", m, "lead %zu sample %zu is %g", i / b->T, i % b->T, x[i]);
            return rc ? rc : 0;
        }
    memcpy(slot_row(b, s, 0), x, sizeof(float) * cnt);
    uint8_t fl = 0;
    if (b->rows == 3) {
        /* the beat-shuffled view (the shuffle node's first) and the next window of the record;
         * a window without one keeps a copy of itself there, marked, and the contrastive term
         * leaves it out */
        const pf_section *v = pf_msg_find_const(m, PF_SEC_VIEWS), *a = pf_msg_find_const(m, PF_SEC_ADJ_SAMPLES);
        int vok = v && v->dims[1] == (uint32_t)b->C && v->dims[2] == (uint32_t)b->T && finite_all(v->data, cnt);
        int aok = a && a->dims[0] == (uint32_t)b->C && a->dims[1] == (uint32_t)b->T && finite_all(a->data, cnt);
        memcpy(slot_row(b, s, 1), vok ? v->data : x, sizeof(float) * cnt);
        memcpy(slot_row(b, s, 2), aok ? a->data : x, sizeof(float) * cnt);
        fl |= (vok ? PF_ROW_VIEW : 0) | (aok ? PF_ROW_ADJ : 0);
        if (!vok && b->count_missing) pf_node_count(n, "no_view", 1);
        if (!aok && b->count_missing) pf_node_count(n, "no_adjacent", 1);
    }
    const pf_section *f = pf_msg_find_const(m, PF_SEC_FEATURES);
    float *fd = b->feat + (size_t)s * PF_FEAT_MAX;
    memset(fd, 0, sizeof(float) * PF_FEAT_MAX);
    if (f && f->dims[0] > 0 && f->dims[0] <= PF_FEAT_MAX && (!b->F || (int)f->dims[0] == b->F) && finite_all(f->data, f->dims[0])) {
        b->F = (int)f->dims[0];
        memcpy(fd, f->data, sizeof(float) * b->F);
        fl |= PF_ROW_FEAT;
    } else if (b->count_missing) pf_node_count(n, "no_features", 1);
    const pf_section *r = pf_msg_find_const(m, PF_SEC_RPEAKS);
    uint8_t *pk = b->peaks + (size_t)s * b->T;
    memset(pk, 0, (size_t)b->T);
    int hw = (int)lround(b->peak_ms * 1e-3 * m->sample_rate), np = 0;
    for (uint32_t i = 0; r && i < r->dims[0]; i++) {
        int64_t c = ((const int64_t *)r->data)[i] - m->start_sample;
        if (c < 0 || c >= b->T) continue;
        np++;
        for (int64_t t = c - hw < 0 ? 0 : c - hw; t <= c + hw && t < b->T; t++) pk[t] = 1;
    }
    if (np) fl |= PF_ROW_PEAKS;
    else if (b->count_missing) pf_node_count(n, "no_peaks", 1);
    b->flags[s] = fl;
    uint64_t h = 1469598103934665603ull; /* FNV-1a of the record id */
    for (const char *c = m->id; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
    /* window index first: a validation micro-batch then mixes records (patients), as a shuffled
     * training batch does; one patient's windows alone would leave the contrastive term no negatives */
    b->key[s] = (m->window_index << 32) | (h >> 32);
    b->epoch = m->epoch;
    return 1;
}

int pf_batcher_take(pf_node *n, pf_batcher *b, const pf_msg *m, int *full)
{
    *full = 0;
    if (b->skip > 0) { /* trained on before the checkpoint we resumed from */
        b->skip--;
        pf_node_count(n, "resume_skipped", 1);
        return PF_OK;
    }
    int rc = fill_slot(n, b, b->n, m);
    if (rc <= 0) return rc;
    if (++b->n == b->M * b->B) { *full = 1; b->n = 0; }
    return PF_OK;
}

int pf_batcher_append(pf_node *n, pf_batcher *b, const pf_msg *m)
{
    if (b->n >= b->M * b->B) return 0;
    int rc = fill_slot(n, b, b->n, m);
    if (rc < 0) return rc;
    b->n += rc;
    return 1;
}

void pf_batcher_copy_slot(pf_batcher *dst, int ds, const pf_batcher *src, int ss)
{
    size_t cnt = (size_t)src->C * src->T;
    for (int r = 0; r < src->rows; r++) memcpy(slot_row(dst, ds, r), slot_row(src, ss, r), sizeof(float) * cnt);
    memcpy(dst->feat + (size_t)ds * PF_FEAT_MAX, src->feat + (size_t)ss * PF_FEAT_MAX, sizeof(float) * PF_FEAT_MAX);
    memcpy(dst->peaks + (size_t)ds * dst->T, src->peaks + (size_t)ss * src->T, (size_t)src->T);
    dst->flags[ds] = src->flags[ss];
    dst->key[ds] = src->key[ss];
    if (src->lab && dst->lab) {
        size_t w = src->multi ? (size_t)src->K : 1;
        memcpy(dst->lab + ds * w, src->lab + ss * w, sizeof(float) * w);
    }
    if (!dst->F) dst->F = src->F;
}

void pf_batcher_sort(pf_batcher *b)
{
    /* insertion sort through a scratch slot: the validation set is small and sorted once */
    pf_batcher tmp;
    if (b->n < 2 || pf_batcher_init(&tmp, 1, 1, b->C, b->T, b->rows, b->peak_ms)) return;
    if (b->lab && pf_batcher_labels(&tmp, b->K, b->multi)) { pf_batcher_free(&tmp); return; }
    for (int i = 1; i < b->n; i++) {
        int j = i;
        while (j > 0 && b->key[j - 1] > b->key[i]) j--;
        if (j == i) continue;
        pf_batcher_copy_slot(&tmp, 0, b, i);
        for (int k = i; k > j; k--) pf_batcher_copy_slot(b, k, b, k - 1);
        pf_batcher_copy_slot(b, j, &tmp, 0);
    }
    pf_batcher_free(&tmp);
}

void pf_batcher_free(pf_batcher *b)
{
    free(b->x); free(b->feat); free(b->peaks); free(b->flags); free(b->key); free(b->lab);
    memset(b, 0, sizeof *b);
}

int pf_batcher_add_aux(pf_msg *m, const pf_batcher *b, int micro, int masked)
{
    size_t s0 = (size_t)micro * b->B;
    uint32_t B = (uint32_t)b->B, dx[3] = {B, (uint32_t)b->C, (uint32_t)b->T}, dp[2] = {B, (uint32_t)b->T},
             df[2] = {B, (uint32_t)(b->F ? b->F : 1)}, four = 4;
    int64_t layout[4] = {b->B, b->rows, masked, b->F};
    /* features: the first F of each slot's PF_FEAT_MAX */
    float *f = malloc(sizeof(float) * B * df[1]);
    if (!f) return PF_ENOMEM;
    for (uint32_t i = 0; i < B; i++) memcpy(f + (size_t)i * df[1], b->feat + (s0 + i) * PF_FEAT_MAX, sizeof(float) * df[1]);
    int rc = pf_tmsg_add(m, "layout", PF_DT_I64, 1, &four, layout);
    if (!rc) rc = pf_tmsg_add(m, "x", PF_DT_F32, 3, dx, pf_batcher_micro(b, micro));
    if (!rc) rc = pf_tmsg_add(m, "peaks", PF_DT_U8, 2, dp, b->peaks + s0 * b->T);
    if (!rc) rc = pf_tmsg_add(m, "feat", PF_DT_F32, 2, df, f);
    if (!rc) rc = pf_tmsg_add(m, "flags", PF_DT_U8, 1, &B, b->flags + s0);
    if (!rc && b->lab) {
        uint32_t dl[2] = {B, (uint32_t)(b->multi ? b->K : 1)};
        rc = pf_tmsg_add(m, "labels", PF_DT_F32, 2, dl, b->lab + s0 * dl[1]);
    }
    free(f);
    return rc;
}

int pf_aux_get(const pf_msg *m, int C, int T, pf_aux *a)
{
    const pf_section *l = pf_tmsg_get(m, "layout", PF_DT_I64, 1, (uint32_t[]){4});
    if (!l) return PF_EFORMAT;
    const int64_t *lv = l->data;
    if (lv[0] < 1 || lv[0] > 1 << 20 || (lv[1] != 1 && lv[1] != 3) || (lv[2] != 0 && lv[2] != 1) || lv[3] < 0 || lv[3] > PF_FEAT_MAX)
        return pf_err(PF_EFORMAT, "message '%s' #%llu: layout (%lld, %lld, %lld, %lld) out of range", m->id,
                      (unsigned long long)m->window_index, (long long)lv[0], (long long)lv[1], (long long)lv[2], (long long)lv[3]);
    a->B = (int)lv[0]; a->rows = (int)lv[1]; a->masked = (int)lv[2]; a->F = (int)lv[3];
    uint32_t B = (uint32_t)a->B;
    const pf_section *x = pf_tmsg_get(m, "x", PF_DT_F32, 3, (uint32_t[]){B, (uint32_t)C, (uint32_t)T});
    const pf_section *p = x ? pf_tmsg_get(m, "peaks", PF_DT_U8, 2, (uint32_t[]){B, (uint32_t)T}) : NULL;
    const pf_section *f = p ? pf_tmsg_get(m, "feat", PF_DT_F32, 2, (uint32_t[]){B, (uint32_t)(a->F ? a->F : 1)}) : NULL;
    const pf_section *g = f ? pf_tmsg_get(m, "flags", PF_DT_U8, 1, &B) : NULL;
    if (!g) return PF_EFORMAT;
    a->x = x->data; a->peaks = p->data; a->feat = f->data; a->flags = g->data;
    a->lab = NULL; a->lab_w = 0;
    for (int i = 0; i + 1 < m->n_sections; i++) /* optional: only a classify run's first stage sends them */
        if (m->sec[i].type == PF_SEC_NAME && m->sec[i].bytes == 6 && !memcmp(m->sec[i].data, "labels", 6)) {
            const pf_section *l = pf_tmsg_get(m, "labels", PF_DT_F32, 2, (uint32_t[]){B, 0});
            if (!l) return PF_EFORMAT;
            a->lab = l->data;
            a->lab_w = (int)l->dims[1];
        }
    return PF_OK;
}

int pf_aux_forward(pf_msg *dst, const pf_msg *src)
{
    static const char *const names[] = {"layout", "x", "peaks", "feat", "flags", "labels"};
    for (int k = 0; k < 6; k++) {
        size_t len = strlen(names[k]);
        int found = 0;
        for (int i = 0; i + 1 < src->n_sections && !found; i++) {
            const pf_section *nm = &src->sec[i], *t = &src->sec[i + 1];
            if (nm->type != PF_SEC_NAME || nm->bytes != len || memcmp(nm->data, names[k], len) || t->type != PF_SEC_TENSOR) continue;
            int rc = pf_tmsg_add(dst, names[k], t->dtype, t->ndim, t->dims, t->data);
            if (rc) return rc;
            found = 1;
        }
        if (!found && k == 5) break; /* labels are optional */
        if (!found) return pf_err(PF_EFORMAT, "message '%s' #%llu: no tensor '%s'", src->id, (unsigned long long)src->window_index, names[k]);
    }
    return PF_OK;
}

/* ---- building ---- */

static int stage_begin(pf_stage *st, const char *role)
{
    memset(st, 0, sizeof *st);
    snprintf(st->role, sizeof st->role, "%s", role);
    st->p = pf_pstore_create();
    return st->p ? PF_OK : PF_ENOMEM;
}

static int stage_end(pf_stage *st, const char *resume_dir)
{
    return resume_dir ? pf_stage_load(st, resume_dir, NULL) : PF_OK;
}

pf_wavelet *pf_stage_build_wavelet(pf_stage *st, const pf_wavelet_cfg *c, int B, int T, uint64_t seed, const char *resume_dir)
{
    if (stage_begin(st, "wavelet")) return NULL;
    pf_wavelet *w = pf_wavelet_create(c, st->p, "", B, T);
    if (!w || pf_pstore_finalize(st->p)) { pf_wavelet_destroy(w); return NULL; }
    pf_wavelet_init(w, st->p, pf_rng_key(seed, 0x696e6974ull, PF_SITE_WAVELET, 0));
    if (stage_end(st, resume_dir)) { pf_wavelet_destroy(w); return NULL; }
    return w;
}

pf_tstage *pf_stage_build_tfm(pf_stage *st, const pf_tfm_cfg *c, const pf_mask_cfg *mc, int B, int max_T,
                              uint64_t seed, const char *resume_dir)
{
    if (stage_begin(st, "transformer")) return NULL;
    pf_tstage *t = pf_tstage_create(c, mc, st->p, B, max_T);
    if (!t || pf_pstore_finalize(st->p)) { pf_tstage_destroy(t); return NULL; }
    pf_rng r;
    pf_rng_seed(&r, pf_rng_key(seed, 0x696e6974ull, PF_SITE_ENCODER, 0));
    pf_tstage_init(t, st->p, &r, pf_rng_key(seed, 0x696e6974ull, PF_SITE_ENCODER, 1));
    if (stage_end(st, resume_dir)) { pf_tstage_destroy(t); return NULL; }
    return t;
}

int pf_stage_build_head(pf_stage *st, const pf_tfm_cfg *c, int max_N, int max_S, pf_rhead **masked, pf_rhead **signal,
                        uint64_t seed, const char *resume_dir)
{
    *masked = *signal = NULL;
    if (stage_begin(st, "head")) return PF_ENOMEM;
    pf_rhead *h = max_N > 0 ? pf_rhead_create(c, st->p, max_N) : NULL;
    pf_rhead *sh = max_S > 0 ? pf_rhead_create_named(c, st->p, max_S, "signal_head") : NULL;
    if ((max_N > 0 && !h) || (max_S > 0 && !sh) || pf_pstore_finalize(st->p)) {
        pf_rhead_destroy(h);
        pf_rhead_destroy(sh);
        return pf_err_context(PF_EINVAL, "heads");
    }
    pf_rng r; /* the masked head draws first: a PhysioWave run initialises as before */
    pf_rng_seed(&r, pf_rng_key(seed, 0x696e6974ull, PF_SITE_HEAD, 0));
    if (h) pf_rhead_init(h, st->p, &r);
    if (sh) pf_rhead_init(sh, st->p, &r);
    int rc = stage_end(st, resume_dir);
    if (rc) { pf_rhead_destroy(h); pf_rhead_destroy(sh); return rc; }
    *masked = h;
    *signal = sh;
    return PF_OK;
}

struct pf_chead *pf_stage_build_chead(pf_stage *st, const struct pf_chead_cfg *c, int max_B, int max_T, uint64_t seed,
                                      const char *resume_dir)
{
    if (stage_begin(st, "head")) return NULL;
    pf_chead *h = pf_chead_create(c, st->p, max_B, max_T);
    if (!h || pf_pstore_finalize(st->p)) { pf_chead_destroy(h); return NULL; }
    pf_rng r;
    pf_rng_seed(&r, pf_rng_key(seed, 0x696e6974ull, PF_SITE_HEAD, 2));
    pf_chead_init(h, st->p, &r);
    if (stage_end(st, resume_dir)) { pf_chead_destroy(h); return NULL; }
    return h;
}

int pf_stage_load_params(pf_stage *s, const char *dir)
{
    int64_t step, win;
    int rc = pf_ckpt_manifest_read(dir, &step, &win, NULL);
    if (rc) return pf_err_context(rc, "init_from %s", dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/step-%08lld/%s.h5", dir, (long long)step, s->role);
    rc = pf_ckpt_load(path, s->p, NULL, NULL);
    return rc ? pf_err_context(rc, "init_from %s (the %s stage)", dir, s->role) : PF_OK;
}
