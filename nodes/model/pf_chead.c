#include "pf_chead.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pf_error.h"
#include "pf_ops.h"

struct pf_chead {
    pf_chead_cfg cfg;
    int max_B, max_T, D, K, H;
    int n_w, n_b, f1_w, f1_b, f2_w, f2_b; /* mlp: norm, fc1, fc2; linear: fc2 is cls.fc */
    int st_i;                             /* cls.pool_stats (standardize) */
    double *mean, *m2, count;             /* running statistics of the pooled features */
    pf_arena *arena;
    float *pooled, *ln, *ln_mean, *ln_rstd, *h1, *g1, *logits, *probs, *dlogits, *dg1, *dh1, *dln, *dpooled;
    int *argmax, *labels;
    uint8_t *dmask;
    float *targets;
    const float *z;
    int B, T, train, has_labels;
};

pf_chead_cfg pf_chead_defaults(int D, int K)
{
    pf_chead_cfg c;
    memset(&c, 0, sizeof c);
    c.dim = D;
    c.classes = K;
    c.hidden = 1024;
    c.pool = PF_POOL_MEAN;
    c.head = PF_CHEAD_MLP;
    c.loss = PF_CLOSS_CE;
    c.dropout = 0.1f;
    c.smoothing = 0.1f;
    c.ln_eps = 1e-5f;
    return c;
}

static int parse(const char *s, const char *const *names, int n, const char *what)
{
    for (int i = 0; i < n; i++)
        if (s && !strcmp(s, names[i])) return i;
    return pf_err(PF_EINVAL, "%s '%s': expected one of %s", what, s ? s : "(null)",
                  n == 4 ? "mean|max|first|last" : n == 2 && !strcmp(names[0], "mlp") ? "mlp|linear" : "ce|bce");
}
int pf_pool_parse(const char *s) { return parse(s, (const char *const[]){"mean", "max", "first", "last"}, 4, "pooling"); }
int pf_chead_kind_parse(const char *s) { return parse(s, (const char *const[]){"mlp", "linear"}, 2, "head"); }
int pf_closs_parse(const char *s) { return parse(s, (const char *const[]){"ce", "bce"}, 2, "loss"); }

static size_t layout(pf_chead *h, pf_arena *a)
{
    size_t B = (size_t)h->max_B, D = (size_t)h->D, K = (size_t)h->K, H = (size_t)h->H, total = 0;
#define TAKE(ptr, type, count) PF_ARENA_TAKE(ptr, type, count)
    TAKE(h->pooled, float, B * D); TAKE(h->argmax, int, B * D); TAKE(h->dpooled, float, B * D);
    TAKE(h->logits, float, B * K); TAKE(h->probs, float, B * K); TAKE(h->dlogits, float, B * K);
    TAKE(h->labels, int, B); TAKE(h->targets, float, B * K);
    if (h->cfg.head == PF_CHEAD_MLP) {
        TAKE(h->ln, float, B * D); TAKE(h->ln_mean, float, B); TAKE(h->ln_rstd, float, B);
        TAKE(h->h1, float, B * H); TAKE(h->g1, float, B * H); TAKE(h->dmask, uint8_t, B * H);
        TAKE(h->dg1, float, B * H); TAKE(h->dh1, float, B * H); TAKE(h->dln, float, B * D);
    }
#undef TAKE
    return total;
}

pf_chead *pf_chead_create(const pf_chead_cfg *cfg, pf_pstore *p, int max_B, int max_T)
{
    if (cfg->dim <= 0 || cfg->classes < 1 || cfg->classes > PF_CHEAD_MAX_CLASSES || max_B <= 0 || max_T <= 0 ||
        (cfg->head == PF_CHEAD_MLP && cfg->hidden <= 0) || !(cfg->dropout >= 0 && cfg->dropout < 1) ||
        !(cfg->smoothing >= 0 && cfg->smoothing <= 1) || cfg->pool < PF_POOL_MEAN || cfg->pool > PF_POOL_LAST) {
        pf_err(PF_EINVAL, "classification head: D %d, K %d (1..%d), hidden %d, dropout %g, smoothing %g, batch %d x %d tokens",
               cfg->dim, cfg->classes, PF_CHEAD_MAX_CLASSES, cfg->hidden, cfg->dropout, cfg->smoothing, max_B, max_T);
        return NULL;
    }
    if (cfg->loss == PF_CLOSS_CE && cfg->classes < 2) {
        pf_err(PF_EINVAL, "classification head: cross-entropy needs at least 2 classes, got %d", cfg->classes);
        return NULL;
    }
    for (int k = 0; k < cfg->classes; k++)
        if ((cfg->has_class_weight && !(cfg->class_weight[k] >= 0 && isfinite(cfg->class_weight[k]))) ||
            (cfg->has_pos_weight && !(cfg->pos_weight[k] >= 0 && isfinite(cfg->pos_weight[k])))) {
            pf_err(PF_EINVAL, "classification head: class %d has weight %g / positive weight %g (need finite >= 0)", k,
                   cfg->class_weight[k], cfg->pos_weight[k]);
            return NULL;
        }
    pf_chead *h = calloc(1, sizeof *h);
    if (!h) { pf_err(PF_ENOMEM, "classification head: cannot allocate"); return NULL; }
    h->cfg = *cfg;
    h->max_B = max_B;
    h->max_T = max_T;
    int D = h->D = cfg->dim, K = h->K = cfg->classes, H = h->H = cfg->head == PF_CHEAD_MLP ? cfg->hidden : 0;
    int bad = 0;
    if (cfg->head == PF_CHEAD_MLP) {
        bad |= (h->n_w = pf_pstore_add(p, "cls.norm.weight", 1, &D)) < 0;
        bad |= (h->n_b = pf_pstore_add(p, "cls.norm.bias", 1, &D)) < 0;
        bad |= (h->f1_w = pf_pstore_add(p, "cls.fc1.weight", 2, (int[]){H, D})) < 0;
        bad |= (h->f1_b = pf_pstore_add(p, "cls.fc1.bias", 1, &H)) < 0;
        bad |= (h->f2_w = pf_pstore_add(p, "cls.fc2.weight", 2, (int[]){K, H})) < 0;
        bad |= (h->f2_b = pf_pstore_add(p, "cls.fc2.bias", 1, &K)) < 0;
    } else {
        bad |= (h->f2_w = pf_pstore_add(p, "cls.fc.weight", 2, (int[]){K, D})) < 0;
        bad |= (h->f2_b = pf_pstore_add(p, "cls.fc.bias", 1, &K)) < 0;
    }
    if (cfg->standardize) {
        int n = 2 * D + 1;
        bad |= (h->st_i = pf_pstore_add(p, "cls.pool_stats", 1, &n)) < 0;
        h->mean = calloc((size_t)D, sizeof(double));
        h->m2 = calloc((size_t)D, sizeof(double));
        bad |= !h->mean || !h->m2;
    }
    if (bad) {
        pf_err_context(PF_EINVAL, "classification head: registering parameters");
        pf_chead_destroy(h);
        return NULL;
    }
    h->arena = pf_arena_create(layout(h, NULL));
    if (!h->arena) { pf_chead_destroy(h); return NULL; }
    layout(h, h->arena);
    return h;
}

void pf_chead_init(pf_chead *h, pf_pstore *p, pf_rng *r)
{
    if (h->cfg.head == PF_CHEAD_MLP) {
        pf_init_ln(p, h->n_w, h->n_b);
        pf_init_linear(p, h->f1_w, h->f1_b, r);
    }
    pf_init_linear(p, h->f2_w, h->f2_b, r);
    pf_chead_stats_put(h, p); /* no samples yet: mean 0, M2 0, count 0 */
}

/* ---- weighted, smoothed cross-entropy (PyTorch's formula for mean reduction):
 *   W = sum_n w[y_n]
 *   loss = (1-eps) sum_n w[y_n] (-log p[n,y_n]) / W + eps/K sum_n sum_c w[c] (-log p[n,c]) / W
 *   dloss/dx[n,k] = (1-eps) w[y_n] (p[n,k] - [k=y_n]) / W + eps/(K W) (p[n,k] sum_c w[c] - w[k]) */
// logits: [B, K] -> probs [B, K] (softmax), loss
static float wce_forward(float *probs, const float *logits, const int *y, const float *w, int B, int K, float eps)
{
    double num_nll = 0, num_smooth = 0, W = 0;
    for (int n = 0; n < B; n++) {
        const float *l = logits + (size_t)n * K;
        double mx = -INFINITY, s = 0;
        for (int k = 0; k < K; k++) if (l[k] > mx) mx = l[k];
        for (int k = 0; k < K; k++) s += exp(l[k] - mx);
        double lse = mx + log(s), sm = 0;
        for (int k = 0; k < K; k++) {
            probs[(size_t)n * K + k] = (float)exp(l[k] - lse);
            sm += (w ? w[k] : 1.0) * (lse - l[k]);
        }
        double wy = w ? w[y[n]] : 1.0;
        num_nll += wy * (lse - l[y[n]]);
        num_smooth += sm;
        W += wy;
    }
    if (!(W > 0)) return 0.0f; /* every sample of zero weight: nothing to learn from */
    return (float)((1.0 - eps) * num_nll / W + eps / K * num_smooth / W);
}

static void wce_backward(float *dlogits, const float *probs, const int *y, const float *w, int B, int K, float eps)
{
    double W = 0, Sw = 0;
    for (int n = 0; n < B; n++) W += w ? w[y[n]] : 1.0;
    for (int k = 0; k < K; k++) Sw += w ? w[k] : 1.0;
    for (int n = 0; n < B; n++) {
        double wy = w ? w[y[n]] : 1.0;
        for (int k = 0; k < K; k++) {
            double pk = probs[(size_t)n * K + k], wk = w ? w[k] : 1.0;
            double g = W > 0 ? ((1.0 - eps) * wy * (pk - (k == y[n])) + eps / K * (pk * Sw - wk)) / W : 0.0;
            dlogits[(size_t)n * K + k] = (float)g;
        }
    }
}

/* The running standard deviation (population), floored: a constant feature is not blown up. */
static float stats_std(const pf_chead *h, int d)
{
    double v = h->count > 0 ? h->m2[d] / h->count : 1.0;
    return (float)sqrt(v > 1e-12 ? v : 1e-12) + 1e-6f;
}

void pf_chead_stats_put(const pf_chead *h, pf_pstore *p)
{
    if (!h->cfg.standardize) return;
    float *s = pf_pstore_data(p, h->st_i);
    for (int d = 0; d < h->D; d++) { s[d] = (float)h->mean[d]; s[h->D + d] = (float)h->m2[d]; }
    s[2 * h->D] = (float)h->count;
}

void pf_chead_stats_get(pf_chead *h, pf_pstore *p)
{
    if (!h->cfg.standardize) return;
    const float *s = pf_pstore_data(p, h->st_i);
    for (int d = 0; d < h->D; d++) { h->mean[d] = s[d]; h->m2[d] = s[h->D + d]; }
    h->count = s[2 * h->D];
}

int pf_chead_forward(pf_chead *h, pf_pstore *p, const float *z, int B, int T, const int *labels,
                     const float *targets, int train, uint64_t key, float *loss)
{
    if (B <= 0 || B > h->max_B || T <= 0 || T > h->max_T)
        return pf_err(PF_ERANGE, "classification head: batch %d x %d tokens, reserved %d x %d", B, T, h->max_B, h->max_T);
    int D = h->D, K = h->K, H = h->H;
    h->z = z; h->B = B; h->T = T; h->train = train;
    // pool: z [B, T, D] -> pooled [B, D]
    switch (h->cfg.pool) {
    case PF_POOL_MEAN: pf_meanpool_forward(h->pooled, z, B, T, D); break;
    case PF_POOL_MAX: pf_maxpool_forward(h->pooled, h->argmax, z, B, T, D); break;
    case PF_POOL_FIRST:
    case PF_POOL_LAST: {
        int t = h->cfg.pool == PF_POOL_FIRST ? 0 : T - 1;
        for (int b = 0; b < B; b++) memcpy(h->pooled + (size_t)b * D, z + ((size_t)b * T + t) * D, sizeof(float) * D);
        break;
    }
    }
    if (h->cfg.standardize) {
        // running statistics (this batch included when training), then (x - mean) / std in place
        for (int b = 0; train && b < B; b++) {
            h->count += 1;
            for (int d = 0; d < D; d++) {
                double x = h->pooled[(size_t)b * D + d], dm = x - h->mean[d];
                h->mean[d] += dm / h->count;
                h->m2[d] += dm * (x - h->mean[d]);
            }
        }
        for (int d = 0; d < D; d++) {
            float m = (float)h->mean[d], is = 1.0f / stats_std(h, d);
            for (int b = 0; b < B; b++) h->pooled[(size_t)b * D + d] = (h->pooled[(size_t)b * D + d] - m) * is;
        }
    }
    if (h->cfg.head == PF_CHEAD_MLP) {
        // LN [B, D] -> fc1 [B, H] -> GELU -> Drop -> fc2 [B, K]
        pf_layernorm_forward(h->ln, h->ln_mean, h->ln_rstd, h->pooled, pf_pstore_data(p, h->n_w),
                             pf_pstore_data(p, h->n_b), B, D, h->cfg.ln_eps);
        pf_linear_forward(h->h1, h->ln, pf_pstore_data(p, h->f1_w), pf_pstore_data(p, h->f1_b), B, D, H);
        pf_gelu_forward(h->g1, h->h1, (size_t)B * H);
        if (train && h->cfg.dropout > 0) pf_drop_forward(h->g1, h->dmask, (size_t)B * H, h->cfg.dropout, key, 0, 0x636c73);
        pf_linear_forward(h->logits, h->g1, pf_pstore_data(p, h->f2_w), pf_pstore_data(p, h->f2_b), B, H, K);
    } else {
        pf_linear_forward(h->logits, h->pooled, pf_pstore_data(p, h->f2_w), pf_pstore_data(p, h->f2_b), B, D, K);
    }
    h->has_labels = h->cfg.loss == PF_CLOSS_CE ? labels != NULL : targets != NULL;
    if (h->cfg.loss == PF_CLOSS_CE) {
        if (labels)
            for (int b = 0; b < B; b++) {
                if (labels[b] < 0 || labels[b] >= K)
                    return pf_err(PF_ERANGE, "classification head: label %d of sample %d is outside [0, %d)", labels[b], b, K);
                h->labels[b] = labels[b];
            }
        float l = wce_forward(h->probs, h->logits, h->has_labels ? h->labels : (int[1]){0}, h->cfg.has_class_weight ? h->cfg.class_weight : NULL,
                              h->has_labels ? B : 0, K, h->cfg.smoothing);
        if (!labels) pf_softmax_forward(h->probs, h->logits, B, K);
        if (loss && labels) *loss = l;
    } else {
        pf_sigmoid_forward(h->probs, h->logits, (size_t)B * K);
        if (targets) {
            memcpy(h->targets, targets, sizeof(float) * (size_t)B * K);
            if (loss) *loss = pf_bce_logits_forward(h->logits, h->targets, h->cfg.has_pos_weight ? h->cfg.pos_weight : NULL, B, K);
        }
    }
    return PF_OK;
}

int pf_chead_backward(pf_chead *h, pf_pstore *p, float *dz)
{
    if (!h->z) return pf_err(PF_ESTATE, "classification head backward: no forward pass yet");
    if (!h->has_labels) return pf_err(PF_ESTATE, "classification head backward: the forward had no labels");
    int B = h->B, T = h->T, D = h->D, K = h->K, H = h->H;
    if (h->cfg.loss == PF_CLOSS_CE)
        wce_backward(h->dlogits, h->probs, h->labels, h->cfg.has_class_weight ? h->cfg.class_weight : NULL, B, K,
                     h->cfg.smoothing);
    else
        pf_bce_logits_backward(h->dlogits, h->logits, h->targets, h->cfg.has_pos_weight ? h->cfg.pos_weight : NULL, B, K, 1.0f);
    memset(h->dpooled, 0, sizeof(float) * (size_t)B * D);
    if (h->cfg.head == PF_CHEAD_MLP) {
        memset(h->dg1, 0, sizeof(float) * (size_t)B * H);
        pf_linear_backward(h->dg1, pf_pstore_grad(p, h->f2_w), pf_pstore_grad(p, h->f2_b), h->dlogits, h->g1,
                           pf_pstore_data(p, h->f2_w), B, H, K);
        if (h->train && h->cfg.dropout > 0) pf_drop_backward_inplace(h->dg1, h->dmask, (size_t)B * H, h->cfg.dropout);
        memset(h->dh1, 0, sizeof(float) * (size_t)B * H);
        pf_gelu_backward(h->dh1, h->dg1, h->h1, (size_t)B * H);
        memset(h->dln, 0, sizeof(float) * (size_t)B * D);
        pf_linear_backward(h->dln, pf_pstore_grad(p, h->f1_w), pf_pstore_grad(p, h->f1_b), h->dh1, h->ln,
                           pf_pstore_data(p, h->f1_w), B, D, H);
        pf_layernorm_backward(h->dpooled, pf_pstore_grad(p, h->n_w), pf_pstore_grad(p, h->n_b), h->dln, h->pooled,
                              h->ln_mean, h->ln_rstd, pf_pstore_data(p, h->n_w), B, D);
    } else {
        pf_linear_backward(h->dpooled, pf_pstore_grad(p, h->f2_w), pf_pstore_grad(p, h->f2_b), h->dlogits, h->pooled,
                           pf_pstore_data(p, h->f2_w), B, D, K);
    }
    if (!dz) return PF_OK;
    if (h->cfg.standardize) /* the statistics are constants of the step */
        for (int d = 0; d < D; d++) {
            float is = 1.0f / stats_std(h, d);
            for (int b = 0; b < B; b++) h->dpooled[(size_t)b * D + d] *= is;
        }
    // dpooled [B, D] -> dz (=) [B, T, D]
    memset(dz, 0, sizeof(float) * (size_t)B * T * D);
    switch (h->cfg.pool) {
    case PF_POOL_MEAN: pf_meanpool_backward(dz, h->dpooled, B, T, D); break;
    case PF_POOL_MAX: pf_maxpool_backward(dz, h->dpooled, h->argmax, B, T, D); break;
    case PF_POOL_FIRST:
    case PF_POOL_LAST: {
        int t = h->cfg.pool == PF_POOL_FIRST ? 0 : T - 1;
        for (int b = 0; b < B; b++) memcpy(dz + ((size_t)b * T + t) * D, h->dpooled + (size_t)b * D, sizeof(float) * D);
        break;
    }
    }
    return PF_OK;
}

const float *pf_chead_pooled(const pf_chead *h) { return h->pooled; }
const float *pf_chead_logits(const pf_chead *h) { return h->logits; }
const float *pf_chead_probs(const pf_chead *h) { return h->probs; }
size_t pf_chead_arena_bytes(const pf_chead *h) { return h->arena ? h->arena->cap : 0; }

void pf_chead_destroy(pf_chead *h)
{
    if (!h) return;
    pf_arena_destroy(h->arena);
    free(h->mean);
    free(h->m2);
    free(h);
}
