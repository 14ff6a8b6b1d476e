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

double pf_grad_global_norm(pf_params *p)
{
    double s = 0;
    for (int i = 0; i < p->count; i++) {
        const float *g = pf_params_grad(p, i);
        for (size_t k = 0; k < p->info[i].n; k++) s += (double)g[k] * g[k];
    }
    return sqrt(s);
}

double pf_clip_grad_norm(pf_params *p, float max_norm)
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
    float b1, b2, decay, step_size, bc2_sqrt, eps;
} adamw_ctx;

static void adamw_chunk(void *vc, size_t lo, size_t hi)
{
    adamw_ctx *k = vc;
    float b1 = k->b1, b2 = k->b2;
    for (size_t i = lo; i < hi; i++) {
        float g = k->g[i];
        k->w[i] *= k->decay;
        k->m[i] = b1 * k->m[i] + (1.0f - b1) * g;
        k->v[i] = b2 * k->v[i] + (1.0f - b2) * g * g;
        // PyTorch's form: denom = sqrt(v)/sqrt(bc2) + eps; p -= (lr/bc1) * m / denom
        k->w[i] -= k->step_size * k->m[i] / (sqrtf(k->v[i]) / k->bc2_sqrt + k->eps);
    }
}

void pf_adamw_update(pf_adamw *o, pf_params *p, float lr)
{
    const pf_adamw_cfg *c = &o->cfg;
    o->step++;
    /* bias corrections in double, as PyTorch computes them in Python floats */
    double bc1 = 1.0 - pow(c->beta1, (double)o->step), bc2 = 1.0 - pow(c->beta2, (double)o->step);
    for (int i = 0; i < p->count; i++) {
        adamw_ctx k = {pf_params_data(p, i), pf_params_grad(p, i), pf_params_m(p, i), pf_params_v(p, i),
                       c->beta1, c->beta2,
                       (c->decay_all || p->info[i].decay) ? 1.0f - lr * c->weight_decay : 1.0f,
                       (float)(lr / bc1), (float)sqrt(bc2), c->eps};
        pf_parallel_for(p->info[i].n, 1 << 15, adamw_chunk, &k);
    }
    o->last_lr = lr;
}

int pf_adamw_micro_step(pf_adamw *o, pf_params *p)
{
    if (!p->finalized) return pf_err(PF_ESTATE, "adamw: parameters not finalized");
    if (++o->micro < o->cfg.accum_steps) return 0;
    if (o->cfg.accum_steps > 1) {
        float sc = 1.0f / (float)o->cfg.accum_steps;
        float *g = p->block + p->total;
        for (size_t k = 0; k < p->total; k++) g[k] *= sc;
    }
    o->last_norm = (float)pf_clip_grad_norm(p, o->cfg.clip_norm);
    pf_adamw_update(o, p, pf_lr_at(&o->cfg, o->step));
    pf_params_zero_grad(p);
    o->micro = 0;
    return 1;
}

void pf_adamw_destroy(pf_adamw *o) { free(o); }
