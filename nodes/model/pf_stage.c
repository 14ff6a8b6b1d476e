#include "pf_stage.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pf_ckpt.h"
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
    if (v[6] < 0 || v[7] < 1 || v[7] > 1e6 || v[8] < 0 || v[8] > 3)
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

/* ---- batcher ---- */

int pf_batcher_init(pf_batcher *b, int B, int M, int C, int T)
{
    memset(b, 0, sizeof *b);
    b->B = B; b->M = M; b->C = C; b->T = T;
    b->x = malloc(sizeof(float) * (size_t)M * B * C * T);
    return b->x ? PF_OK : pf_err(PF_ENOMEM, "batch of %d x %d windows of %d x %d: out of memory", M, B, C, T);
}

int pf_batcher_take(pf_node *n, pf_batcher *b, const pf_msg *m, int *full)
{
    *full = 0;
    if (m->n_leads != (uint32_t)b->C || m->n_samples != (uint32_t)b->T)
        return pf_node_reject(n, "shape", m, "window is %u x %u, the model takes %d leads x %d samples", m->n_leads,
                              m->n_samples, b->C, b->T);
    const float *x = pf_msg_find_const(m, PF_SEC_SAMPLES)->data;
    size_t cnt = (size_t)b->C * b->T;
    for (size_t i = 0; i < cnt; i++)
        if (!isfinite(x[i]))
            return pf_node_reject(n, "nonfinite", m, "lead %zu sample %zu is %g", i / b->T, i % b->T, x[i]);
    if (b->skip > 0) { /* trained on before the checkpoint we resumed from */
        b->skip--;
        pf_node_count(n, "resume_skipped", 1);
        return PF_OK;
    }
    memcpy(b->x + (size_t)b->n * cnt, x, sizeof(float) * cnt);
    b->epoch = m->epoch;
    if (++b->n == b->M * b->B) { *full = 1; b->n = 0; }
    return PF_OK;
}

void pf_batcher_free(pf_batcher *b) { free(b->x); memset(b, 0, sizeof *b); }

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

pf_rhead *pf_stage_build_head(pf_stage *st, const pf_tfm_cfg *c, int max_N, uint64_t seed, const char *resume_dir)
{
    if (stage_begin(st, "head")) return NULL;
    pf_rhead *h = pf_rhead_create(c, st->p, max_N);
    if (!h || pf_pstore_finalize(st->p)) { pf_rhead_destroy(h); return NULL; }
    pf_rng r;
    pf_rng_seed(&r, pf_rng_key(seed, 0x696e6974ull, PF_SITE_HEAD, 0));
    pf_rhead_init(h, st->p, &r);
    if (stage_end(st, resume_dir)) { pf_rhead_destroy(h); return NULL; }
    return h;
}
