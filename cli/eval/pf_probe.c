#include "pf_probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pf_error.h"
#include "pf_optim.h"
#include "pf_rng.h"

struct pf_probe {
    pf_probe_cfg cfg;
    int dim, k, multi, B;
    double *mean, *sd;
    pf_pstore *p;
    pf_chead *h;
    float *xb;
    double last_loss;
};

pf_probe_cfg pf_probe_defaults(pf_chead_kind head)
{
    pf_probe_cfg c = {head, 1024, 0.1f, head == PF_CHEAD_MLP ? 0.1f : 0.0f, 40, 256, 1e-3f, 1e-4f, head == PF_CHEAD_MLP ? 2 : 1, 15};
    return c;
}

static void standardise(const pf_probe *p, const float *x, float *out, size_t rows)
{
    for (size_t i = 0; i < rows; i++)
        for (int j = 0; j < p->dim; j++)
            out[i * p->dim + j] = (float)((x[i * p->dim + j] - p->mean[j]) / p->sd[j]);
}

pf_probe *pf_probe_fit(const pf_probe_cfg *c, const float *x, size_t n, int dim, int k, int multi, const long long *labels,
                       const float *y)
{
    if (!n || dim <= 0) { pf_err(PF_EINVAL, "probe: %zu training rows of %d values", n, dim); return NULL; }
    pf_probe *p = calloc(1, sizeof *p);
    if (!p) { pf_err(PF_ENOMEM, "probe: out of memory"); return NULL; }
    p->cfg = *c;
    p->dim = dim;
    p->k = k;
    p->multi = multi;
    p->B = c->batch < (int)n ? c->batch : (int)n;
    p->mean = calloc((size_t)dim, sizeof(double));
    p->sd = calloc((size_t)dim, sizeof(double));
    p->xb = malloc(sizeof(float) * (size_t)p->B * dim);
    float *tb = malloc(sizeof(float) * (size_t)p->B * (k > 0 ? k : 1));
    int *lb = malloc(sizeof(int) * (size_t)p->B);
    size_t *order = malloc(sizeof(size_t) * n), *byc = NULL;
    if (!p->mean || !p->sd || !p->xb || !tb || !lb || !order) { pf_err(PF_ENOMEM, "probe: out of memory"); goto fail; }
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < dim; j++) p->mean[j] += x[i * dim + j];
    for (int j = 0; j < dim; j++) p->mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < dim; j++) { double d = x[i * dim + j] - p->mean[j]; p->sd[j] += d * d; }
    for (int j = 0; j < dim; j++) {
        p->sd[j] = sqrt(p->sd[j] / (double)n);
        if (!(p->sd[j] > 1e-12)) p->sd[j] = 1.0; /* a constant feature carries nothing; leave it at 0 */
    }
    pf_chead_cfg hc = pf_chead_defaults(dim, k);
    hc.head = c->head;
    hc.hidden = c->hidden;
    hc.dropout = c->dropout;
    hc.smoothing = multi ? 0 : c->smoothing;
    hc.loss = multi ? PF_CLOSS_BCE : PF_CLOSS_CE;
    long long cnt[PF_CHEAD_MAX_CLASSES] = {0};
    for (size_t i = 0; i < n; i++)
        for (int q = 0; q < k; q++) cnt[q] += multi ? y[i * k + q] >= 0.5f : labels[i] == q;
    int sampling = c->balanced == 2 && !multi;
    size_t start[PF_CHEAD_MAX_CLASSES + 1] = {0};
    int present[PF_CHEAD_MAX_CLASSES], np = 0;
    if (sampling) { /* rows grouped by class: byc[start[q] .. start[q+1]) */
        if (!(byc = malloc(sizeof(size_t) * n))) { pf_err(PF_ENOMEM, "probe: out of memory"); goto fail; }
        for (int q = 0; q < k; q++) { start[q + 1] = start[q] + (size_t)cnt[q]; if (cnt[q]) present[np++] = q; }
        size_t fillp[PF_CHEAD_MAX_CLASSES];
        memcpy(fillp, start, sizeof(size_t) * (size_t)k);
        for (size_t i = 0; i < n; i++) byc[fillp[labels[i]]++] = i;
    }
    if (c->balanced && !sampling) {
        for (int q = 0; q < k; q++) {
            if (multi) hc.pos_weight[q] = cnt[q] ? (float)((double)(n - (size_t)cnt[q]) / (double)cnt[q]) : 1.0f;
            else hc.class_weight[q] = cnt[q] ? (float)((double)n / ((double)k * (double)cnt[q])) : 0.0f;
        }
        if (multi) hc.has_pos_weight = 1; else hc.has_class_weight = 1;
    }
    p->p = pf_pstore_create();
    p->h = p->p ? pf_chead_create(&hc, p->p, p->B, 1) : NULL;
    if (!p->h || pf_pstore_finalize(p->p)) goto fail;
    pf_rng r;
    pf_rng_seed(&r, pf_rng_key(c->seed, 0, 0, 0x70726f62));
    pf_chead_init(p->h, p->p, &r);
    size_t steps_per = (n + (size_t)p->B - 1) / (size_t)p->B;
    pf_adamw_cfg ac = pf_adamw_defaults();
    ac.lr = c->lr;
    ac.weight_decay = c->weight_decay;
    ac.decay_all = 0;    /* decay the matrices only: a probe's biases carry the class priors */
    ac.clip_norm = 0;
    ac.total_steps = (int64_t)steps_per * c->epochs;
    ac.accum_steps = 1;
    pf_adamw *opt = pf_adamw_create(&ac);
    if (!opt) goto fail;
    for (size_t i = 0; i < n; i++) order[i] = i;
    int rc = PF_OK;
    for (int ep = 0; ep < c->epochs && !rc; ep++) {
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)pf_rng_below(&r, (uint64_t)i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        double sum = 0;
        for (size_t s = 0; s < steps_per && !rc; s++) {
            size_t lo = s * (size_t)p->B;
            int B = (int)((n - lo) < (size_t)p->B ? n - lo : (size_t)p->B);
            for (int b = 0; b < B; b++) {
                size_t row = order[lo + (size_t)b];
                if (sampling) { /* a class uniformly, then one of its rows */
                    int q = present[pf_rng_below(&r, (uint64_t)np)];
                    row = byc[start[q] + pf_rng_below(&r, (uint64_t)cnt[q])];
                }
                standardise(p, x + row * dim, p->xb + (size_t)b * dim, 1);
                if (multi) memcpy(tb + (size_t)b * k, y + row * k, sizeof(float) * (size_t)k);
                else lb[b] = (int)labels[row];
            }
            float loss = 0;
            rc = pf_chead_forward(p->h, p->p, p->xb, B, 1, multi ? NULL : lb, multi ? tb : NULL, 1,
                                  pf_rng_key(c->seed, (uint64_t)ep, s, 0x64726f70), &loss);
            if (!rc) rc = pf_chead_backward(p->h, p->p, NULL);
            if (!rc) rc = pf_adamw_micro_step(opt, p->p) < 0 ? PF_EINVAL : PF_OK;
            sum += loss;
        }
        p->last_loss = sum / (double)steps_per;
        if (!isfinite(p->last_loss)) rc = pf_err(PF_EINVAL, "probe: the training loss is not finite at epoch %d", ep);
    }
    pf_adamw_destroy(opt);
    free(byc);
    free(tb);
    free(lb);
    free(order);
    if (rc) { pf_probe_destroy(p); return NULL; }
    return p;
fail:
    free(byc);
    free(tb);
    free(lb);
    free(order);
    pf_probe_destroy(p);
    return NULL;
}

int pf_probe_predict(pf_probe *p, const float *x, size_t n, float *probs)
{
    for (size_t lo = 0; lo < n; lo += (size_t)p->B) {
        int B = (int)((n - lo) < (size_t)p->B ? n - lo : (size_t)p->B);
        standardise(p, x + lo * p->dim, p->xb, (size_t)B);
        int rc = pf_chead_forward(p->h, p->p, p->xb, B, 1, NULL, NULL, 0, 0, NULL);
        if (rc) return rc;
        memcpy(probs + lo * p->k, pf_chead_probs(p->h), sizeof(float) * (size_t)B * p->k);
    }
    return PF_OK;
}

double pf_probe_last_loss(const pf_probe *p) { return p->last_loss; }

void pf_probe_destroy(pf_probe *p)
{
    if (!p) return;
    pf_chead_destroy(p->h);
    pf_pstore_destroy(p->p);
    free(p->mean);
    free(p->sd);
    free(p->xb);
    free(p);
}
