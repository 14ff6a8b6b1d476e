#include "pf_mask.h"

#include <complex.h>
#include <liquid/liquid.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pf_error.h"
#include "pf_rng.h"

pf_mask_cfg pf_mask_cfg_defaults(void)
{
    return (pf_mask_cfg){0.7, 0.7, PF_IMPORTANCE_TOKEN_SEQUENCE};
}

int pf_mask_importance_parse(const char *name)
{
    if (strcmp(name, "token_sequence") == 0) return PF_IMPORTANCE_TOKEN_SEQUENCE;
    if (strcmp(name, "patch_energy") == 0) return PF_IMPORTANCE_PATCH_ENERGY;
    return pf_err(PF_EINVAL, "importance '%s' (token_sequence, patch_energy)", name);
}

int pf_mask_count(int L, double mask_ratio) { return (int)floor((double)L * mask_ratio); }

typedef struct { float c; int i; } scored;

struct pf_mask {
    pf_mask_cfg cfg;
    int L;
    fftplan plan;
    float complex *in, *out;
    double *spec;          /* [L/2 + 1] magnitude sums */
    float *imp, *u;        /* [L] one window (pf_mask_generate) */
    scored *sc;            /* [L] */
};

pf_mask *pf_mask_create(const pf_mask_cfg *cfg, int L)
{
    if (L <= 0) { pf_err(PF_ERANGE, "mask: %d tokens", L); return NULL; }
    if (!(cfg->mask_ratio >= 0.0 && cfg->mask_ratio <= 1.0) ||
        !(cfg->importance_ratio >= 0.0 && cfg->importance_ratio <= 1.0)) {
        pf_err(PF_ERANGE, "mask: mask_ratio %g and importance_ratio %g must be in [0, 1]", cfg->mask_ratio,
               cfg->importance_ratio);
        return NULL;
    }
    if (cfg->importance != PF_IMPORTANCE_TOKEN_SEQUENCE && cfg->importance != PF_IMPORTANCE_PATCH_ENERGY) {
        pf_err(PF_EINVAL, "mask: importance %d (token_sequence %d, patch_energy %d)", cfg->importance,
               PF_IMPORTANCE_TOKEN_SEQUENCE, PF_IMPORTANCE_PATCH_ENERGY);
        return NULL;
    }
    pf_mask *m = calloc(1, sizeof *m);
    if (!m) { pf_err(PF_ENOMEM, "mask: cannot allocate"); return NULL; }
    m->cfg = *cfg;
    m->L = L;
    m->in = calloc((size_t)L, sizeof *m->in);
    m->out = calloc((size_t)L, sizeof *m->out);
    m->spec = calloc((size_t)L / 2 + 1, sizeof *m->spec);
    m->imp = calloc((size_t)L, sizeof *m->imp);
    m->u = calloc((size_t)L, sizeof *m->u);
    m->sc = calloc((size_t)L, sizeof *m->sc);
    if (!m->in || !m->out || !m->spec || !m->imp || !m->u || !m->sc) {
        pf_err(PF_ENOMEM, "mask: cannot allocate scratch for %d tokens", L);
        pf_mask_destroy(m);
        return NULL;
    }
    if (cfg->importance == PF_IMPORTANCE_TOKEN_SEQUENCE) {
        m->plan = fft_create_plan((unsigned)L, m->in, m->out, LIQUID_FFT_FORWARD, 0);
        if (!m->plan) {
            pf_err(PF_EINVAL, "mask: liquid cannot plan an FFT of length %d", L);
            pf_mask_destroy(m);
            return NULL;
        }
    }
    return m;
}

// x: [L, D] one window's tokens -> imp: [L]
static void token_sequence_row(pf_mask *m, const float *x, int D, float *imp)
{
    int L = m->L, nk = L / 2 + 1;
    memset(m->spec, 0, (size_t)nk * sizeof(double));
    for (int d = 0; d < D; d += 2) {
        int pair = d + 1 < D;
        /* z = x_d + i x_{d+1}: X_k = (Z_k + conj Z_{L-k}) / 2, Y_k = (Z_k - conj Z_{L-k}) / 2i */
        for (int l = 0; l < L; l++)
            m->in[l] = x[(size_t)l * D + d] + (pair ? x[(size_t)l * D + d + 1] : 0.0f) * I;
        fft_execute(m->plan);
        for (int k = 0; k < nk; k++) {
            float complex z = m->out[k], zc = conjf(m->out[(L - k) % L]);
            m->spec[k] += cabsf(0.5f * (z + zc));
            if (pair) m->spec[k] += cabsf(0.5f * (z - zc));
        }
    }
    /* stretch nk -> L, linear with aligned corners */
    if (L == 1) { imp[0] = (float)m->spec[0]; return; }
    double scale = (double)(nk - 1) / (double)(L - 1);
    for (int l = 0; l < L; l++) {
        double src = scale * l;
        int i0 = (int)src;
        if (i0 > nk - 1) i0 = nk - 1;
        int i1 = i0 + 1 < nk ? i0 + 1 : nk - 1;
        double w1 = src - i0;
        imp[l] = (float)((1.0 - w1) * m->spec[i0] + w1 * m->spec[i1]);
    }
}

// x: [L, P] one window's patches -> imp: [L] energy, min-max normalised
static void patch_energy_row(const float *x, int L, int P, float *imp)
{
    double mn = INFINITY, mx = -INFINITY;
    for (int l = 0; l < L; l++) {
        double e = 0;
        for (int p = 0; p < P; p++) e += (double)x[(size_t)l * P + p] * x[(size_t)l * P + p];
        imp[l] = (float)e;
        if (imp[l] < mn) mn = imp[l];   /* on the stored values: the extremes map to exactly 0 and 1 */
        if (imp[l] > mx) mx = imp[l];
    }
    double span = mx - mn;
    for (int l = 0; l < L; l++) imp[l] = span > 0 ? (float)((imp[l] - mn) / span) : 0.0f;
}

int pf_mask_importance(pf_mask *m, const float *x, int B, int D, float *imp)
{
    if (B <= 0 || D <= 0) return pf_err(PF_ERANGE, "mask importance: B %d, D %d", B, D);
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * m->L * D;
        for (size_t i = 0; i < (size_t)m->L * D; i++)
            if (!isfinite(xb[i]))
                return pf_err(PF_EINVAL, "mask importance: window %d token %zu holds %g", b, i / (size_t)D, xb[i]);
        if (m->cfg.importance == PF_IMPORTANCE_TOKEN_SEQUENCE) token_sequence_row(m, xb, D, imp + (size_t)b * m->L);
        else patch_energy_row(xb, m->L, D, imp + (size_t)b * m->L);
    }
    return PF_OK;
}

void pf_mask_noise(float *u, size_t n, uint64_t key)
{
    pf_rng r;
    pf_rng_seed(&r, key);
    for (size_t i = 0; i < n; i++) u[i] = (float)pf_rng_uniform(&r);
}

static int by_score(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->c > y->c) return -1;
    if (x->c < y->c) return 1;
    return (x->i > y->i) - (x->i < y->i);
}

// one window: imp, u [L] -> mask [L]
static void select_row(pf_mask *m, const float *imp, const float *u, float *mask)
{
    int L = m->L, n = pf_mask_count(L, m->cfg.mask_ratio);
    float r = (float)m->cfg.importance_ratio, q = (float)(1.0 - m->cfg.importance_ratio);
    for (int l = 0; l < L; l++) {
        float a = r * imp[l], b = q * u[l];   /* two roundings, then the sum: as numpy/torch */
        m->sc[l].c = a + b;
        m->sc[l].i = l;
    }
    qsort(m->sc, (size_t)L, sizeof *m->sc, by_score);
    for (int l = 0; l < L; l++) mask[l] = 0.0f;
    for (int j = 0; j < n; j++) mask[m->sc[j].i] = 1.0f;
}

int pf_mask_select(pf_mask *m, const float *imp, const float *u, int B, float *mask)
{
    for (int b = 0; b < B; b++)
        select_row(m, imp + (size_t)b * m->L, u + (size_t)b * m->L, mask + (size_t)b * m->L);
    return PF_OK;
}

int pf_mask_generate(pf_mask *m, const float *x, int B, int D, uint64_t key, float *mask)
{
    pf_rng r;
    pf_rng_seed(&r, key);
    for (int b = 0; b < B; b++) {
        int rc = pf_mask_importance(m, x + (size_t)b * m->L * D, 1, D, m->imp);
        if (rc < 0) return pf_err_context(rc, "window %d", b);
        for (int l = 0; l < m->L; l++) m->u[l] = (float)pf_rng_uniform(&r);   /* = pf_mask_noise order */
        select_row(m, m->imp, m->u, mask + (size_t)b * m->L);
    }
    return PF_OK;
}

void pf_mask_destroy(pf_mask *m)
{
    if (!m) return;
    if (m->plan) fft_destroy_plan(m->plan);
    free(m->in);
    free(m->out);
    free(m->spec);
    free(m->imp);
    free(m->u);
    free(m->sc);
    free(m);
}
