#include "pf_rhead.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_error.h"
#include "pf_ops.h"

struct pf_rhead {
    pf_tfm_cfg cfg;
    int max_N, D, P;
    int h1_w, h1_b, hn_w, hn_b, h2_w, h2_b;
    pf_arena *arena;
    float *hh, *hg, *hln, *hln_mean, *hln_rstd, *pred, *dpred, *dhln, *dhg, *dhh;
    uint8_t *hmask;
    const float *z, *target, *mask, *weight;
    int N, train;
};

static size_t layout(pf_rhead *h, pf_arena *a)
{
    size_t N = (size_t)h->max_N, D = h->D, P = h->P, total = 0;
#define TAKE(ptr, type, count) PF_ARENA_TAKE(ptr, type, count)
    TAKE(h->hh, float, N * D); TAKE(h->hg, float, N * D); TAKE(h->hln, float, N * D);
    TAKE(h->hln_mean, float, N); TAKE(h->hln_rstd, float, N); TAKE(h->pred, float, N * P);
    TAKE(h->dpred, float, N * P); TAKE(h->dhln, float, N * D); TAKE(h->dhg, float, N * D);
    TAKE(h->dhh, float, N * D); TAKE(h->hmask, uint8_t, N * D);
#undef TAKE
    return total;
}

pf_rhead *pf_rhead_create(const pf_tfm_cfg *cfg, pf_pstore *p, int max_N)
{
    return pf_rhead_create_named(cfg, p, max_N, "head");
}

pf_rhead *pf_rhead_create_named(const pf_tfm_cfg *cfg, pf_pstore *p, int max_N, const char *prefix)
{
    if (pf_tfm_validate(cfg) < 0) return NULL;
    pf_rhead *h = calloc(1, sizeof *h);
    if (!h) { pf_err(PF_ENOMEM, "head: cannot allocate"); return NULL; }
    h->cfg = *cfg;
    h->max_N = max_N;
    int D = h->D = cfg->dim, P = h->P = cfg->patch;
    char nm[6][96];
    static const char *const part[6] = {"fc1.weight", "fc1.bias", "norm.weight", "norm.bias", "fc2.weight", "fc2.bias"};
    for (int i = 0; i < 6; i++) snprintf(nm[i], sizeof nm[i], "%s.%s", prefix, part[i]);
    h->h1_w = pf_pstore_add(p, nm[0], 2, (int[]){D, D});
    h->h1_b = pf_pstore_add(p, nm[1], 1, &D);
    h->hn_w = pf_pstore_add(p, nm[2], 1, &D);
    h->hn_b = pf_pstore_add(p, nm[3], 1, &D);
    h->h2_w = pf_pstore_add(p, nm[4], 2, (int[]){P, D});
    h->h2_b = pf_pstore_add(p, nm[5], 1, &P);
    if (h->h1_w < 0 || h->h1_b < 0 || h->hn_w < 0 || h->hn_b < 0 || h->h2_w < 0 || h->h2_b < 0) {
        pf_err_context(PF_EINVAL, "head: registering parameters");
        pf_rhead_destroy(h);
        return NULL;
    }
    h->arena = pf_arena_create(layout(h, NULL));
    if (!h->arena) { pf_rhead_destroy(h); return NULL; }
    layout(h, h->arena);
    return h;
}

void pf_rhead_init(pf_rhead *h, pf_pstore *p, pf_rng *r)
{
    pf_init_linear(p, h->h1_w, h->h1_b, r);
    pf_init_ln(p, h->hn_w, h->hn_b);
    pf_init_linear(p, h->h2_w, h->h2_b, r);
}

static int head_forward(pf_rhead *h, pf_pstore *p, const float *z, int N, int train, uint64_t key)
{
    if (N <= 0 || N > h->max_N) return pf_err(PF_ERANGE, "head: %d tokens, reserved %d", N, h->max_N);
    int D = h->D, P = h->P;
    h->z = z; h->N = N; h->train = train;
    // Linear D->D, GELU, Drop, LN, Linear D->P
    pf_linear_forward(h->hh, z, pf_pstore_data(p, h->h1_w), pf_pstore_data(p, h->h1_b), N, D, D);
    pf_gelu_forward(h->hg, h->hh, (size_t)N * D);
    float pdrop = train ? h->cfg.dropout : 0.0f;
    if (pdrop > 0) pf_drop_forward(h->hg, h->hmask, (size_t)N * D, pdrop, key, 0x68656164, 0);
    pf_layernorm_forward(h->hln, h->hln_mean, h->hln_rstd, h->hg, pf_pstore_data(p, h->hn_w),
                         pf_pstore_data(p, h->hn_b), N, D, h->cfg.ln_eps);
    pf_linear_forward(h->pred, h->hln, pf_pstore_data(p, h->h2_w), pf_pstore_data(p, h->h2_b), N, D, P);
    return PF_OK;
}

int pf_rhead_forward(pf_rhead *h, pf_pstore *p, const float *z, const float *target, const float *mask, int N,
                     int train, uint64_t key, float *loss)
{
    int rc = head_forward(h, p, z, N, train, key);
    h->target = target; h->mask = mask; h->weight = NULL;
    if (!rc && loss) *loss = pf_mse_masked_forward(h->pred, target, mask, N, h->P);
    return rc;
}

int pf_rhead_forward_weighted(pf_rhead *h, pf_pstore *p, const float *z, const float *target, const float *weight,
                              int N, int train, uint64_t key, float *loss)
{
    int rc = head_forward(h, p, z, N, train, key);
    h->target = target; h->mask = NULL; h->weight = weight;
    if (rc || !loss) return rc;
    double s = 0;
    for (size_t i = 0; i < (size_t)N * h->P; i++) {
        double d = (double)h->pred[i] - target[i];
        s += weight[i] * d * d;
    }
    *loss = (float)s;
    return PF_OK;
}

int pf_rhead_backward(pf_rhead *h, pf_pstore *p, float *dz, float *dtarget)
{
    return pf_rhead_backward_scaled(h, p, dz, dtarget, 1.0f);
}

int pf_rhead_backward_scaled(pf_rhead *h, pf_pstore *p, float *dz, float *dtarget, float dloss)
{
    if (!h->z) return pf_err(PF_ESTATE, "head backward: no forward pass yet");
    int N = h->N, D = h->D, P = h->P;
    size_t ND = (size_t)N * D;
    if (h->weight)
        for (size_t i = 0; i < (size_t)N * P; i++) h->dpred[i] = 2.0f * dloss * h->weight[i] * (h->pred[i] - h->target[i]);
    else
        pf_mse_masked_backward(h->dpred, h->pred, h->target, h->mask, N, P, dloss);
    if (dtarget) /* d/d target of (pred - target)^2 is the negative of d/d pred */
        for (size_t i = 0; i < (size_t)N * P; i++) dtarget[i] = -h->dpred[i];
    memset(h->dhln, 0, ND * sizeof(float));
    pf_linear_backward(h->dhln, pf_pstore_grad(p, h->h2_w), pf_pstore_grad(p, h->h2_b), h->dpred, h->hln,
                       pf_pstore_data(p, h->h2_w), N, D, P);
    memset(h->dhg, 0, ND * sizeof(float));
    pf_layernorm_backward(h->dhg, pf_pstore_grad(p, h->hn_w), pf_pstore_grad(p, h->hn_b), h->dhln, h->hg,
                          h->hln_mean, h->hln_rstd, pf_pstore_data(p, h->hn_w), N, D);
    float pdrop = h->train ? h->cfg.dropout : 0.0f;
    if (pdrop > 0) pf_drop_backward_inplace(h->dhg, h->hmask, ND, pdrop);
    memset(h->dhh, 0, ND * sizeof(float));
    pf_gelu_backward(h->dhh, h->dhg, h->hh, ND);
    memset(dz, 0, ND * sizeof(float));
    pf_linear_backward(dz, pf_pstore_grad(p, h->h1_w), pf_pstore_grad(p, h->h1_b), h->dhh, h->z,
                       pf_pstore_data(p, h->h1_w), N, D, D);
    return PF_OK;
}

const float *pf_rhead_pred(const pf_rhead *h) { return h->pred; }
size_t pf_rhead_arena_bytes(const pf_rhead *h) { return h->arena ? h->arena->cap : 0; }

void pf_rhead_destroy(pf_rhead *h)
{
    if (!h) return;
    pf_arena_destroy(h->arena);
    free(h);
}
