#include "pf_optim.h"

#include <math.h>
#include <stdlib.h>

#include "pf_error.h"
#include "pf_parallel.h"

pf_adamw_cfg pf_adamw_defaults(void)
{
    pf_adamw_cfg c = {0};
    c.lr = 1e-4f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.weight_decay = 0.01f;
    c.decay_all = 1;
    c.clip_norm = 1.0f;
    c.accum_steps = 1;
    return c;
}

pf_adamw *pf_adamw_create(const pf_adamw_cfg *cfg)
{
    if (!(cfg->lr >= 0) || !(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1)) {
        pf_err(PF_ERANGE, "adamw: lr %g, beta1 %g, beta2 %g out of range", cfg->lr, cfg->beta1,
               cfg->beta2);
        return NULL;
    }
    if (cfg->accum_steps < 1) {
        pf_err(PF_ERANGE, "adamw: accum_steps = %d must be >= 1", cfg->accum_steps);
        return NULL;
    }
    if (cfg->total_steps > 0 && cfg->total_steps < cfg->warmup_steps) {
        pf_err(PF_ERANGE, "adamw: total_steps %lld < warmup_steps %lld",
               (long long)cfg->total_steps, (long long)cfg->warmup_steps);
        return NULL;
    }
    pf_adamw *o = calloc(1, sizeof *o);
    if (!o) { pf_err(PF_ENOMEM, "adamw: cannot allocate"); return NULL; }
    o->cfg = *cfg;
    return o;
}

float pf_lr_at(const pf_adamw_cfg *c, int64_t step)
{
    if (step < c->warmup_steps) return c->lr * (float)step / (float)c->warmup_steps;
    if (c->total_steps <= 0) return c->lr;
    if (step >= c->total_steps) return c->min_lr;
    double prog = (double)(step - c->warmup_steps) / (double)(c->total_steps - c->warmup_steps);
    return (float)(c->min_lr + (c->lr - c->min_lr) * 0.5 * (1.0 + cos(M_PI * prog)));
}

/* Sum of squares over fixed 64K-float chunks (partials in double, added in
 * chunk order): the norm does not depend on the thread count. */
#define NORM_CHUNK 65536
typedef struct { const float *g; size_t n; double *part; } norm_ctx;
static void norm_chunk(void *vc, size_t lo, size_t hi)
{
    norm_ctx *k = vc;
    for (size_t c = lo; c < hi; c++) {
        size_t a = c * NORM_CHUNK, b = a + NORM_CHUNK < k->n ? a + NORM_CHUNK : k->n;
        double s = 0;
        for (size_t i = a; i < b; i++) s += (double)k->g[i] * k->g[i];
        k->part[c] = s;
    }
}

double pf_grad_global_norm(pf_pstore *p) { return sqrt(pf_grad_sqnorm(p)); }

double pf_grad_sqnorm(pf_pstore *p)
{
    /* the padding between tensors is never written, so it stays 0 */
    size_t nch = (p->total + NORM_CHUNK - 1) / NORM_CHUNK;
    double stack[1024], *part = nch <= 1024 ? stack : malloc(nch * sizeof(double));   /* 64 M params before any malloc */
    if (!part) return NAN;
    norm_ctx k = {p->block + p->total, p->total, part};
    pf_parallel_for(nch, 1, norm_chunk, &k);
    double s = 0;
    for (size_t c = 0; c < nch; c++) s += part[c];
    if (part != stack) free(part);
    return s;
}

double pf_clip_grad_norm(pf_pstore *p, float max_norm)
{
    double norm = pf_grad_global_norm(p);
    if (max_norm > 0 && norm > max_norm) {
        float sc = (float)(max_norm / (norm + 1e-6));
        float *g = p->block + p->total;
        for (size_t k = 0; k < p->total; k++) g[k] *= sc;
    }
    return norm;
}

typedef struct {
    float *w, *g, *m, *v;
    float b1, b2, decay, step_size, bc2_sqrt, eps, gscale;
    int zero;
} adamw_ctx;

static void adamw_chunk(void *vc, size_t lo, size_t hi)
{
    adamw_ctx *k = vc;
    float b1 = k->b1, b2 = k->b2;
    for (size_t i = lo; i < hi; i++) {
        float g = k->g[i] * k->gscale;
        if (k->zero) k->g[i] = 0.0f;
        k->w[i] *= k->decay;
        k->m[i] = b1 * k->m[i] + (1.0f - b1) * g;
        k->v[i] = b2 * k->v[i] + (1.0f - b2) * g * g;
        // PyTorch's form: denom = sqrt(v)/sqrt(bc2) + eps; p -= (lr/bc1) * m / denom
        k->w[i] -= k->step_size * k->m[i] / (sqrtf(k->v[i]) / k->bc2_sqrt + k->eps);
    }
}

static void adamw_apply(pf_adamw *o, pf_pstore *p, float lr, float gscale, int zero)
{
    const pf_adamw_cfg *c = &o->cfg;
    o->step++;
    /* bias corrections in double, as PyTorch computes them in Python floats */
    double bc1 = 1.0 - pow(c->beta1, (double)o->step), bc2 = 1.0 - pow(c->beta2, (double)o->step);
    if (c->decay_all && p->count > 0) {
        /* one pass over the whole block: the padding between tensors is 0 in
         * params, grads and moments and stays 0 under the update */
        adamw_ctx k = {p->block, p->block + p->total, p->block + 2 * p->total, p->block + 3 * p->total,
                       c->beta1, c->beta2, 1.0f - lr * c->weight_decay,
                       (float)(lr / bc1), (float)sqrt(bc2), c->eps, gscale, zero};
        pf_parallel_for(p->total, 1 << 15, adamw_chunk, &k);
        o->last_lr = lr;
        return;
    }
    for (int i = 0; i < p->count; i++) {
        adamw_ctx k = {pf_pstore_data(p, i), pf_pstore_grad(p, i), pf_pstore_m(p, i), pf_pstore_v(p, i),
                       c->beta1, c->beta2,
                       (c->decay_all || p->info[i].decay) ? 1.0f - lr * c->weight_decay : 1.0f,
                       (float)(lr / bc1), (float)sqrt(bc2), c->eps, gscale, zero};
        pf_parallel_for(p->info[i].n, 1 << 15, adamw_chunk, &k);
    }
    o->last_lr = lr;
}

void pf_adamw_update(pf_adamw *o, pf_pstore *p, float lr) { adamw_apply(o, p, lr, 1.0f, 0); }

int pf_adamw_micro_step(pf_adamw *o, pf_pstore *p)
{
    if (!p->finalized) return pf_err(PF_ESTATE, "adamw: parameters not finalized");
    if (++o->micro < o->cfg.accum_steps) return 0;
    /* one pass for the norm, one fused pass for average + clip + update + zero */
    double acc = 1.0 / o->cfg.accum_steps;
    double norm = pf_grad_global_norm(p) * acc;
    double clip = o->cfg.clip_norm > 0 && norm > o->cfg.clip_norm ? o->cfg.clip_norm / (norm + 1e-6) : 1.0;
    o->last_norm = (float)norm;
    adamw_apply(o, p, pf_lr_at(&o->cfg, o->step), (float)(acc * clip), 1);
    o->micro = 0;
    return 1;
}

double pf_adamw_step_total(pf_adamw *o, pf_pstore *p, float lr, double total_sq, int accum)
{
    double acc = 1.0 / (accum > 0 ? accum : 1);
    double norm = sqrt(total_sq) * acc;
    double clip = o->cfg.clip_norm > 0 && norm > o->cfg.clip_norm ? o->cfg.clip_norm / (norm + 1e-6) : 1.0;
    o->last_norm = (float)norm;
    adamw_apply(o, p, lr, (float)(acc * clip), 1);
    o->micro = 0;
    return norm;
}

void pf_adamw_destroy(pf_adamw *o) { free(o); }
