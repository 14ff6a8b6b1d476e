#include "pf_wavelet.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_error.h"
#include "pf_ops.h"
#include "pf_parallel.h"
#include "pf_wavelet_taps.h"

/* ============================ config ======================================= */

pf_wavelet_cfg pf_wavelet_cfg_defaults(int n_leads)
{
    pf_wavelet_cfg c;
    memset(&c, 0, sizeof c);
    c.n_leads = n_leads;
    c.levels = 3;
    c.n_families = 4;
    snprintf(c.families[0], sizeof c.families[0], "db4");
    snprintf(c.families[1], sizeof c.families[1], "db6");
    snprintf(c.families[2], sizeof c.families[2], "sym4");
    snprintf(c.families[3], sizeof c.families[3], "coif2");
    c.init = PF_WAVELET_INIT_PHYSIOWAVE;
    c.kernel = 24;
    c.selector_hidden = 128;
    c.gate_heads = 4;
    c.ffn_ratio = 4;
    c.ffn_kernel = 3;
    c.xattn_heads = 4;
    c.dropout = 0.1f;
    c.sigma_init = 1e-5f;
    c.lambda_init = 0.1f;
    c.rho_init = 0.0f;
    return c;
}

int pf_wavelet_init_parse(const char *name)
{
    if (strcmp(name, "physiowave") == 0) return PF_WAVELET_INIT_PHYSIOWAVE;
    if (strcmp(name, "exact") == 0) return PF_WAVELET_INIT_EXACT;
    return pf_err(PF_EINVAL, "wavelet init '%s' (physiowave, exact)", name);
}

static const pf_wavelet_taps *find_taps(const char *name)
{
    for (size_t i = 0; i < sizeof PF_WAVELET_TAPS / sizeof *PF_WAVELET_TAPS; i++)
        if (strcmp(PF_WAVELET_TAPS[i].name, name) == 0) return &PF_WAVELET_TAPS[i];
    return NULL;
}

int pf_wavelet_filter_len(const pf_wavelet_cfg *c, int f)
{
    if (c->init == PF_WAVELET_INIT_PHYSIOWAVE) return c->kernel;
    const pf_wavelet_taps *t = find_taps(c->families[f]);
    return t ? t->n : -1;
}

/* conv output length with padding floor(K/2), then ceil(/2) after decimation */
static int dec_len(int T, int K) { return pf_decimate_out_len(pf_conv1d_out_len(T, K, K / 2), 2); }

int pf_wavelet_validate(const pf_wavelet_cfg *c)
{
    int C = c->n_leads;
    if (C <= 0 || c->levels <= 0 || c->levels > PF_WAVELET_MAX_LEVELS)
        return pf_err(PF_ERANGE, "wavelet: n_leads %d must be > 0 and levels %d in 1..%d", C, c->levels,
                      PF_WAVELET_MAX_LEVELS);
    if (c->n_families <= 0 || c->n_families > PF_WAVELET_MAX_FAMILIES)
        return pf_err(PF_ERANGE, "wavelet: %d families (1..%d)", c->n_families, PF_WAVELET_MAX_FAMILIES);
    if (c->init != PF_WAVELET_INIT_PHYSIOWAVE && c->init != PF_WAVELET_INIT_EXACT)
        return pf_err(PF_EINVAL, "wavelet: init %d (physiowave %d, exact %d)", c->init,
                      PF_WAVELET_INIT_PHYSIOWAVE, PF_WAVELET_INIT_EXACT);
    if (c->init == PF_WAVELET_INIT_PHYSIOWAVE && (c->kernel < 2 || c->kernel > PF_WAVELET_MAX_KERNEL))
        return pf_err(PF_ERANGE, "wavelet: kernel %d outside 2..%d", c->kernel, PF_WAVELET_MAX_KERNEL);
    int d0 = -1;
    for (int f = 0; f < c->n_families; f++) {
        if (!find_taps(c->families[f])) {
            char known[512] = "";
            for (size_t i = 0; i < sizeof PF_WAVELET_TAPS / sizeof *PF_WAVELET_TAPS; i++) {
                strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
                strncat(known, PF_WAVELET_TAPS[i].name, sizeof known - strlen(known) - 1);
            }
            return pf_err(PF_ENOTFOUND, "wavelet: family '%s' unknown (%s)", c->families[f], known);
        }
        /* the selector sums the families' decimated outputs: their lengths must agree */
        int d = dec_len(1024, pf_wavelet_filter_len(c, f));
        if (d0 >= 0 && d != d0)
            return pf_err(PF_EINVAL, "wavelet: init exact mixes even- and odd-length filters ('%s' has %d taps, "
                          "'%s' %d): their decimated outputs differ in length", c->families[f],
                          pf_wavelet_filter_len(c, f), c->families[0], pf_wavelet_filter_len(c, 0));
        d0 = d;
    }
    if (c->selector_hidden <= 0 || c->ffn_ratio <= 0)
        return pf_err(PF_ERANGE, "wavelet: selector_hidden %d and ffn_ratio %d must be > 0",
                      c->selector_hidden, c->ffn_ratio);
    if (c->gate_heads <= 0 || C % c->gate_heads)
        return pf_err(PF_EINVAL, "wavelet: gate_heads %d must divide n_leads %d (the gate splits the %d "
                      "pooled leads into heads)", c->gate_heads, C, C);
    if (c->xattn_heads <= 0 || (2 * C) % c->xattn_heads)
        return pf_err(PF_EINVAL, "wavelet: xattn_heads %d must divide 2 x n_leads = %d", c->xattn_heads, 2 * C);
    if (c->ffn_kernel <= 0 || c->ffn_kernel % 2 == 0)
        return pf_err(PF_EINVAL, "wavelet: ffn_kernel %d must be odd and > 0", c->ffn_kernel);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return pf_err(PF_ERANGE, "wavelet: dropout %g outside [0, 1)", c->dropout);
    return PF_OK;
}

size_t pf_wavelet_param_count(const pf_wavelet_cfg *c)
{
    size_t C = c->n_leads, E = 2 * C, H = (size_t)c->ffn_ratio * E, Hs = c->selector_hidden;
    size_t nf = c->n_families, k = c->ffn_kernel, n = 0;
    for (int f = 0; f < c->n_families; f++) n += 2 * C * (size_t)pf_wavelet_filter_len(c, f);
    n += C * Hs + Hs + Hs * nf + nf;                     /* selector MLP */
    n += 3 * (C * C + C);                                /* gate q, k, v */
    size_t ffn = (E * H + H) + (H * k * k + H) + (H * E + E) + (H + 1) + H;   /* fc1, dw, fc2, decomp, sigma */
    size_t mha = 3 * E * E + 3 * E + E * E + E + 1;      /* in_proj, out_proj, lambda */
    n += (size_t)c->levels * (ffn + mha + 1);            /* + rho */
    return n;
}

/* PyTorch F.interpolate(mode='linear', align_corners=True) in float, as the reference */
static void stretch(float *y, int K, const float *x, int N)
{
    float scale = K > 1 ? (float)(N - 1) / (float)(K - 1) : 0.0f;
    for (int j = 0; j < K; j++) {
        float src = scale * (float)j;
        int i0 = (int)src;
        if (i0 > N - 1) i0 = N - 1;
        int i1 = i0 + 1 < N ? i0 + 1 : N - 1;
        float l1 = src - (float)i0, l0 = 1.0f - l1;
        y[j] = l0 * x[i0] + l1 * x[i1];
    }
}

int pf_wavelet_initial_taps(const pf_wavelet_cfg *c, const char *family, float *lo, float *hi, int *len)
{
    const pf_wavelet_taps *t = find_taps(family);
    if (!t) return pf_err(PF_ENOTFOUND, "wavelet: family '%s' unknown", family);
    int N = t->n;
    float l0[PF_WAVELET_MAX_TAPS] = {0}, h0[PF_WAVELET_MAX_TAPS] = {0};
    for (int i = 0; i < N; i++) { l0[i] = (float)t->lo[i]; h0[i] = (float)t->hi[i]; }
    if (c->init == PF_WAVELET_INIT_EXACT) {
        /* reversed: the conv is a cross-correlation, the DWT convolves with dec_lo/dec_hi */
        for (int i = 0; i < N; i++) { lo[i] = l0[N - 1 - i]; hi[i] = h0[N - 1 - i]; }
        *len = N;
        return PF_OK;
    }
    int K = c->kernel;
    *len = K;
    if (K == N) { memcpy(lo, l0, (size_t)N * 4); memcpy(hi, h0, (size_t)N * 4); return PF_OK; }
    /* reference (load_wavelet_kernel): stretch, then lo keeps its sum, hi its L1 norm; taps
     * unreversed (its conv correlates with dec_lo). Sums in float as torch.sum does. */
    stretch(lo, K, l0, N);
    stretch(hi, K, h0, N);
    float s0 = 0, s1 = 0, a0 = 0, a1 = 0;
    for (int i = 0; i < N; i++) { s0 += l0[i]; a0 += fabsf(h0[i]); }
    for (int i = 0; i < K; i++) { s1 += lo[i]; a1 += fabsf(hi[i]); }
    float rs = s0 / s1, ra = a0 / a1;
    for (int i = 0; i < K; i++) { lo[i] *= rs; hi[i] *= ra; }
    return PF_OK;
}

/* ============================ object ======================================= */

typedef struct {
    int fc1_w, fc1_b, dw_w, dw_b, fc2_w, fc2_b, dc_w, dc_b, sigma;
    int in_w, in_b, out_w, out_b, lam, rho;
} level_ids;

typedef struct {
    float *p;                          // [B, C] mean_t of the level input
    float *sh_pre, *sh, *logits, *alpha;   // [B, Hs], [B, Hs], [B, nf], [B, nf]
    float *ylo[PF_WAVELET_MAX_FAMILIES], *yhi[PF_WAVELET_MAX_FAMILIES];   // [B, C, Td]
    float *a2, *d2;                    // [B, C, Td]
    float *ua, *ud;                    // [B, C, T] upsampled
    float *gq, *gk, *gv, *gatt, *gout, *g;   // [B, C] x3, [B, nh, nh], [B, C], [B, C]
    float *s;                          // [B, 2C, T]
    float *h1, *h2, *h3, *h5;          // [B, H, T]
    float *mpre;                       // [B, T] decomp pre-activation
    uint8_t *m1, *m2;                  // dropout masks [B, H, T], [B, E, T]
    float *co;                         // [B, E, T] CAFFN (+ cross-scale) output
    float *oT, *qh, *kh, *vh, *merged, *ao;   // cross-scale attention (levels > 1)
    float *a, *d;                      // [B, C, T] level outputs a_i, d_i
} level_acts;

struct pf_wavelet {
    pf_wavelet_cfg cfg;
    int max_B, T, C, E, H, Hs, nf, nh, hd, L, k, Td;
    int klen[PF_WAVELET_MAX_FAMILIES];
    int wlo[PF_WAVELET_MAX_FAMILIES], whi[PF_WAVELET_MAX_FAMILIES];
    int sel1_w, sel1_b, sel2_w, sel2_b, gq_w, gq_b, gk_w, gk_b, gv_w, gv_b;
    level_ids *ids;
    level_acts *acts;
    pf_arena *arena;
    float *x0, *spec, *sT;             // [B, C, T], [B, (L+1)C, T], [B, L*T, E]
    /* scratch */
    float *conv, *h6, *mg, *wmid, *dwmid, *qbuf, *kvbuf, *ohm, *att_scr;
    float *da, *dd, *du, *ddp, *ds, *dco, *dh_a, *dh_b, *dmpre, *dm;
    float *dao, *dmerged, *dohm, *dqh, *dkh, *dvh, *dQ, *dKV, *doT, *dsT;
    float *da2, *dd2, *dalpha, *dlogits, *dsh, *dp, *dg, *dgout, *dgq, *dgk, *dgv, *gscr;
    int B, train, scratch_threads;
};

static int add_param(pf_pstore *p, const char *prefix, const char *name, int ndim, const int *shape)
{
    char full[PF_NAME_MAX + 32];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return pf_pstore_add(p, full, ndim, shape);
}

static size_t xattn_scratch(int Tk);

static size_t wavelet_layout(pf_wavelet *w, pf_arena *a)
{
    size_t B = w->max_B, C = w->C, T = w->T, E = w->E, H = w->H, Td = w->Td, Hs = w->Hs, nf = w->nf;
    size_t L = w->L, nh = w->nh, total = 0, Tkmax = (L - 1) * T;
    int drop = w->cfg.dropout > 0.0f;
    size_t tcmax = 0;
    for (int f = 0; f < w->nf; f++) {
        size_t tc = (size_t)pf_conv1d_out_len((int)T, w->klen[f], w->klen[f] / 2);
        if (tc > tcmax) tcmax = tc;
    }
#define TAKE(ptr, type, count) PF_ARENA_TAKE(ptr, type, count)
    TAKE(w->x0, float, B * C * T);
    TAKE(w->spec, float, B * (L + 1) * C * T);
    TAKE(w->sT, float, B * L * T * E);
    for (size_t l = 0; l < L; l++) {
        level_acts *x = &w->acts[l];
        TAKE(x->p, float, B * C);
        TAKE(x->sh_pre, float, B * Hs); TAKE(x->sh, float, B * Hs);
        TAKE(x->logits, float, B * nf); TAKE(x->alpha, float, B * nf);
        for (size_t f = 0; f < nf; f++) { TAKE(x->ylo[f], float, B * C * Td); TAKE(x->yhi[f], float, B * C * Td); }
        TAKE(x->a2, float, B * C * Td); TAKE(x->d2, float, B * C * Td);
        TAKE(x->ua, float, B * C * T); TAKE(x->ud, float, B * C * T);
        TAKE(x->gq, float, B * C); TAKE(x->gk, float, B * C); TAKE(x->gv, float, B * C);
        TAKE(x->gatt, float, B * nh * nh); TAKE(x->gout, float, B * C); TAKE(x->g, float, B * C);
        TAKE(x->s, float, B * E * T);
        TAKE(x->h1, float, B * H * T); TAKE(x->h2, float, B * H * T);
        TAKE(x->h3, float, B * H * T); TAKE(x->h5, float, B * H * T);
        TAKE(x->mpre, float, B * T);
        if (drop) { TAKE(x->m1, uint8_t, B * H * T); TAKE(x->m2, uint8_t, B * E * T); }
        TAKE(x->co, float, B * E * T);
        if (l > 0) {
            size_t Tk = l * T;
            TAKE(x->oT, float, B * T * E); TAKE(x->qh, float, B * T * E);
            TAKE(x->kh, float, B * Tk * E); TAKE(x->vh, float, B * Tk * E);
            TAKE(x->merged, float, B * T * E); TAKE(x->ao, float, B * T * E);
        }
        TAKE(x->a, float, B * C * T); TAKE(x->d, float, B * C * T);
    }
    TAKE(w->conv, float, B * C * tcmax);
    TAKE(w->h6, float, B * H * T); TAKE(w->mg, float, B * T);
    TAKE(w->wmid, float, H * (size_t)w->k); TAKE(w->dwmid, float, H * (size_t)w->k);
    TAKE(w->qbuf, float, B * T * E); TAKE(w->kvbuf, float, B * (Tkmax ? Tkmax : 1) * 2 * E);
    TAKE(w->ohm, float, B * T * E);
    w->scratch_threads = pf_threads();
    TAKE(w->att_scr, float, Tkmax ? xattn_scratch((int)Tkmax) : 1);
    TAKE(w->da, float, B * C * T); TAKE(w->dd, float, B * C * T);
    TAKE(w->du, float, B * C * T); TAKE(w->ddp, float, B * C * T);
    TAKE(w->ds, float, B * E * T); TAKE(w->dco, float, B * E * T);
    TAKE(w->dh_a, float, B * H * T); TAKE(w->dh_b, float, B * H * T);
    TAKE(w->dmpre, float, B * T); TAKE(w->dm, float, B * T);
    TAKE(w->dao, float, B * T * E); TAKE(w->dmerged, float, B * T * E); TAKE(w->dohm, float, B * T * E);
    TAKE(w->dqh, float, B * T * E);
    TAKE(w->dkh, float, B * (Tkmax ? Tkmax : 1) * E); TAKE(w->dvh, float, B * (Tkmax ? Tkmax : 1) * E);
    TAKE(w->dQ, float, B * T * E); TAKE(w->dKV, float, B * (Tkmax ? Tkmax : 1) * 2 * E);
    TAKE(w->doT, float, B * T * E); TAKE(w->dsT, float, B * L * T * E);
    TAKE(w->da2, float, B * C * Td); TAKE(w->dd2, float, B * C * Td);
    TAKE(w->dalpha, float, B * nf); TAKE(w->dlogits, float, B * nf); TAKE(w->dsh, float, B * Hs);
    TAKE(w->dp, float, B * C); TAKE(w->dg, float, B * C); TAKE(w->dgout, float, B * C);
    TAKE(w->dgq, float, B * C); TAKE(w->dgk, float, B * C); TAKE(w->dgv, float, B * C);
    TAKE(w->gscr, float, pf_sdpa_scratch((int)nh, (int)nh));
#undef TAKE
    return total;
}

pf_wavelet *pf_wavelet_create(const pf_wavelet_cfg *cfg, pf_pstore *p, const char *prefix, int max_B, int T)
{
    if (pf_wavelet_validate(cfg) < 0) return NULL;
    int kmax = 0;
    for (int f = 0; f < cfg->n_families; f++)
        if (pf_wavelet_filter_len(cfg, f) > kmax) kmax = pf_wavelet_filter_len(cfg, f);
    if (max_B <= 0 || T < 2 || T < kmax / 2) {
        pf_err(PF_ERANGE, "wavelet: max_B %d must be > 0 and T %d >= max(2, K/2 = %d)", max_B, T, kmax / 2);
        return NULL;
    }
    pf_wavelet *w = calloc(1, sizeof *w);
    if (!w) { pf_err(PF_ENOMEM, "wavelet: cannot allocate"); return NULL; }
    w->cfg = *cfg;
    w->max_B = max_B;
    w->T = T;
    int C = w->C = cfg->n_leads, E = w->E = 2 * C, H = w->H = cfg->ffn_ratio * E;
    int Hs = w->Hs = cfg->selector_hidden, nf = w->nf = cfg->n_families, k = w->k = cfg->ffn_kernel;
    w->nh = cfg->gate_heads;
    w->hd = E / cfg->xattn_heads;
    w->L = cfg->levels;
    for (int f = 0; f < nf; f++) w->klen[f] = pf_wavelet_filter_len(cfg, f);
    w->Td = dec_len(T, w->klen[0]);
    w->ids = calloc((size_t)w->L, sizeof *w->ids);
    w->acts = calloc((size_t)w->L, sizeof *w->acts);
    if (!w->ids || !w->acts) {
        pf_err(PF_ENOMEM, "wavelet: cannot allocate tables");
        pf_wavelet_destroy(w);
        return NULL;
    }
    /* registration order = the reference module's named_parameters() order */
    int rc = 0;
    char nm[PF_NAME_MAX];
#define REG(dst, ...)                                                                    \
    do {                                                                                 \
        int sh_[] = {__VA_ARGS__};                                                       \
        int id_ = add_param(p, prefix, nm, (int)(sizeof sh_ / sizeof *sh_), sh_);        \
        if (id_ < 0) rc = id_;                                                           \
        (dst) = id_;                                                                     \
    } while (0)
    for (int f = 0; f < nf; f++) {
        snprintf(nm, sizeof nm, "selector.wavelet_filters.%d.low_filter.weight", f);
        REG(w->wlo[f], C, 1, w->klen[f]);
        snprintf(nm, sizeof nm, "selector.wavelet_filters.%d.high_filter.weight", f);
        REG(w->whi[f], C, 1, w->klen[f]);
    }
    snprintf(nm, sizeof nm, "selector.selector.2.weight"); REG(w->sel1_w, Hs, C);
    snprintf(nm, sizeof nm, "selector.selector.2.bias"); REG(w->sel1_b, Hs);
    snprintf(nm, sizeof nm, "selector.selector.4.weight"); REG(w->sel2_w, nf, Hs);
    snprintf(nm, sizeof nm, "selector.selector.4.bias"); REG(w->sel2_b, nf);
    snprintf(nm, sizeof nm, "gate.q.weight"); REG(w->gq_w, C, C);
    snprintf(nm, sizeof nm, "gate.q.bias"); REG(w->gq_b, C);
    snprintf(nm, sizeof nm, "gate.k.weight"); REG(w->gk_w, C, C);
    snprintf(nm, sizeof nm, "gate.k.bias"); REG(w->gk_b, C);
    snprintf(nm, sizeof nm, "gate.v.weight"); REG(w->gv_w, C, C);
    snprintf(nm, sizeof nm, "gate.v.bias"); REG(w->gv_b, C);
    for (int l = 0; l < w->L; l++) {
        level_ids *id = &w->ids[l];
#define LREG(field, suffix, ...)                                                         \
    do {                                                                                 \
        snprintf(nm, sizeof nm, "sub_ffn.%d.%s", l, suffix);                             \
        REG(id->field, __VA_ARGS__);                                                     \
    } while (0)
        LREG(fc1_w, "base.fc1.weight", H, E, 1, 1); LREG(fc1_b, "base.fc1.bias", H);
        LREG(dw_w, "base.dw.weight", H, 1, k, k); LREG(dw_b, "base.dw.bias", H);
        LREG(fc2_w, "base.fc2.weight", E, H, 1, 1); LREG(fc2_b, "base.fc2.bias", E);
        LREG(dc_w, "base.decomp.weight", 1, H, 1, 1); LREG(dc_b, "base.decomp.bias", 1);
        LREG(sigma, "base.sigma.scale", 1, H, 1, 1);
        LREG(in_w, "attn.in_proj_weight", 3 * E, E); LREG(in_b, "attn.in_proj_bias", 3 * E);
        LREG(out_w, "attn.out_proj.weight", E, E); LREG(out_b, "attn.out_proj.bias", E);
        LREG(lam, "scale", 1);
#undef LREG
    }
    for (int l = 0; l < w->L; l++) {
        snprintf(nm, sizeof nm, "res_scales.%d", l);
        REG(w->ids[l].rho, 1);
    }
#undef REG
    if (rc < 0) {
        pf_err_context(PF_EINVAL, "wavelet: registering parameters");
        pf_wavelet_destroy(w);
        return NULL;
    }
    w->arena = pf_arena_create(wavelet_layout(w, NULL));
    if (!w->arena) { pf_wavelet_destroy(w); return NULL; }
    wavelet_layout(w, w->arena);
    return w;
}

void pf_wavelet_init(pf_wavelet *w, pf_pstore *p, uint64_t key)
{
    pf_rng r;
    pf_rng_seed(&r, pf_rng_key(key, 0x77617665ull, 0, 0));
    int C = w->C, E = w->E, H = w->H, k = w->k;
    for (int f = 0; f < w->nf; f++) {
        float lo[PF_WAVELET_MAX_KERNEL], hi[PF_WAVELET_MAX_KERNEL];
        int len = 0;
        pf_wavelet_initial_taps(&w->cfg, w->cfg.families[f], lo, hi, &len);
        float *wl = pf_pstore_data(p, w->wlo[f]), *wh = pf_pstore_data(p, w->whi[f]);
        for (int c = 0; c < C; c++) {   /* every lead starts from the same pair */
            memcpy(wl + (size_t)c * len, lo, (size_t)len * sizeof(float));
            memcpy(wh + (size_t)c * len, hi, (size_t)len * sizeof(float));
        }
    }
    /* nn.Linear under the model's _init_weights: N(0, 0.02^2) (trunc at +-2: inactive), bias 0 */
    int lin[][2] = {{w->sel1_w, w->sel1_b}, {w->sel2_w, w->sel2_b}, {w->gq_w, w->gq_b},
                    {w->gk_w, w->gk_b}, {w->gv_w, w->gv_b}};
    for (size_t i = 0; i < sizeof lin / sizeof *lin; i++) {
        pf_init_normal(pf_pstore_data(p, lin[i][0]), p->info[lin[i][0]].n, 0.02f, &r);
        pf_init_const(pf_pstore_data(p, lin[i][1]), p->info[lin[i][1]].n, 0.0f);
    }
    for (int l = 0; l < w->L; l++) {
        level_ids *id = &w->ids[l];
        /* Conv2d default: kaiming_uniform(a = sqrt 5) = U(+-1/sqrt(fan_in)), bias likewise */
        struct { int wi, bi; float fan; } cv[] = {{id->fc1_w, id->fc1_b, (float)E},
                                                 {id->dw_w, id->dw_b, (float)(k * k)},
                                                 {id->fc2_w, id->fc2_b, (float)H},
                                                 {id->dc_w, id->dc_b, (float)H}};
        for (size_t i = 0; i < sizeof cv / sizeof *cv; i++) {
            float b = 1.0f / sqrtf(cv[i].fan);
            pf_init_uniform(pf_pstore_data(p, cv[i].wi), p->info[cv[i].wi].n, -b, b, &r);
            pf_init_uniform(pf_pstore_data(p, cv[i].bi), p->info[cv[i].bi].n, -b, b, &r);
        }
        pf_init_const(pf_pstore_data(p, id->sigma), (size_t)H, w->cfg.sigma_init);
        /* MultiheadAttention: in_proj Xavier-uniform over [3E, E], bias 0; out_proj is an
         * nn.Linear, so _init_weights gives it N(0, 0.02^2) and bias 0 */
        float xb = sqrtf(6.0f / (float)(E + 3 * E));
        pf_init_uniform(pf_pstore_data(p, id->in_w), (size_t)3 * E * E, -xb, xb, &r);
        pf_init_const(pf_pstore_data(p, id->in_b), (size_t)3 * E, 0.0f);
        pf_init_normal(pf_pstore_data(p, id->out_w), (size_t)E * E, 0.02f, &r);
        pf_init_const(pf_pstore_data(p, id->out_b), (size_t)E, 0.0f);
        pf_init_const(pf_pstore_data(p, id->lam), 1, w->cfg.lambda_init);
        pf_init_const(pf_pstore_data(p, id->rho), 1, w->cfg.rho_init);
    }
}

/* ============================ helpers ====================================== */

#define PF_PRAGMA(x) _Pragma(#x)
#define PAR_IF(n) PF_PRAGMA(omp parallel for schedule(static) if ((n) > (1 << 15)))

// x: [R, T] -> m: [R] mean over T (double accumulation)
static void mean_rows(float *m, const float *x, int R, int T)
{
    for (int r = 0; r < R; r++) {
        double s = 0;
        const float *xr = x + (size_t)r * T;
        for (int t = 0; t < T; t++) s += xr[t];
        m[r] = (float)(s / T);
    }
}

// x: [B, R, T] -> y: [B, T, R] (y = or +=); batch strides xstride, ystride floats
static void transpose_bt(float *y, const float *x, int B, int R, int T, int accumulate, size_t xstride,
                         size_t ystride)
{
    PAR_IF((size_t)B * R * T)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *yr = y + (size_t)b * ystride + (size_t)t * R;
            const float *xb = x + (size_t)b * xstride + t;
            if (accumulate) for (int r = 0; r < R; r++) yr[r] += xb[(size_t)r * T];
            else for (int r = 0; r < R; r++) yr[r] = xb[(size_t)r * T];
        }
}

// per batch: y_b [M, T] = W [M, K] @ x_b [K, T] (+ bias[m]); the 1x1 conv on [B, K, T]
static void conv1x1_forward(float *y, const float *x, const float *W, const float *bias, int B, int M, int K, int T)
{
    for (int b = 0; b < B; b++) {
        float *yb = y + (size_t)b * M * T;
        pf_gemm(0, 0, M, T, K, 1.0f, W, K, x + (size_t)b * K * T, T, 0.0f, yb, T);
        if (bias)
            for (int m = 0; m < M; m++)
                for (int t = 0; t < T; t++) yb[(size_t)m * T + t] += bias[m];
    }
}

// backward of conv1x1_forward: dx (+=) W^T dy, dW += dy x^T, db += rowsum(dy)
static void conv1x1_backward(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W,
                             int B, int M, int K, int T)
{
    for (int b = 0; b < B; b++) {
        const float *dyb = dy + (size_t)b * M * T, *xb = x + (size_t)b * K * T;
        if (dx) pf_gemm(1, 0, K, T, M, 1.0f, W, K, dyb, T, 1.0f, dx + (size_t)b * K * T, T);
        pf_gemm(0, 1, M, K, T, 1.0f, dyb, T, xb, T, 1.0f, dW, K);
        if (db)
            for (int m = 0; m < M; m++) {
                double s = 0;
                for (int t = 0; t < T; t++) s += dyb[(size_t)m * T + t];
                db[m] += (float)s;
            }
    }
}

static void mask_draw(uint8_t *mask, size_t n, float p, uint64_t key, int level, int site)
{
    pf_rng r;
    pf_rng_seed(&r, pf_rng_key(key, (uint64_t)level, (uint64_t)site, 0x77646f70ull));
    pf_dropout_mask(mask, n, p, &r);
}

static void mask_apply(float *x, const uint8_t *m, size_t n, float scale)
{
    PAR_IF(n)
    for (size_t i = 0; i < n; i++) x[i] *= (float)m[i] * scale;
}


/* Cross-scale attention in query blocks: q [BH, Tq, hd], k, v [BH, Tk, hd] (hd = 6).
 * Whole [Tq, Tk] probability blocks (33 MB per head at level 3) would stream through
 * memory several times per pass; blocks of XATT_ROWS queries stay in cache, and the
 * probabilities are never stored (the backward recomputes them). The backward adds
 * into dk, dv over the blocks of one (batch, head), so it runs the heads in parallel.
 * OpenBLAS is single-threaded here (pf_gemm set it before: the CAFFN runs first). */
#define XATT_ROWS 32

static size_t xattn_scratch(int Tk) { return 2 * (size_t)pf_threads() * XATT_ROWS * (size_t)Tk; }

// one block: p [n, Tk] = softmax(scale q k^T)
static void xattn_probs(float *p, const float *q, const float *k, int n, int Tk, int hd, float scale)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, Tk, hd, scale, q, hd, k, hd, 0.0f, p, Tk);
    pf_softmax_forward(p, p, n, Tk);
}

static void xattn_forward(float *o, float *scr, const float *q, const float *k, const float *v, int BH, int Tq,
                          int Tk, int hd, float scale)
{
    int nb = (Tq + XATT_ROWS - 1) / XATT_ROWS;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int job = 0; job < BH * nb; job++) {
        int bh = job / nb, r0 = (job % nb) * XATT_ROWS, n = Tq - r0 < XATT_ROWS ? Tq - r0 : XATT_ROWS;
        size_t qo = ((size_t)bh * Tq + r0) * hd, ko = (size_t)bh * Tk * hd;
        float *p = scr + (size_t)pf_thread_id() * 2 * XATT_ROWS * Tk;
        xattn_probs(p, q + qo, k + ko, n, Tk, hd, scale);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, Tk, 1.0f, p, Tk, v + ko, hd, 0.0f, o + qo, hd);
    }
}

// dq, dk, dv (=); do_: [BH, Tq, hd]
static void xattn_backward(float *dq, float *dk, float *dv, float *scr, const float *do_, const float *q,
                           const float *k, const float *v, int BH, int Tq, int Tk, int hd, float scale)
{
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int bh = 0; bh < BH; bh++) {
        size_t ko = (size_t)bh * Tk * hd;
        float *p = scr + (size_t)pf_thread_id() * 2 * XATT_ROWS * Tk, *dp = p + (size_t)XATT_ROWS * Tk;
        for (int r0 = 0; r0 < Tq; r0 += XATT_ROWS) {
            int n = Tq - r0 < XATT_ROWS ? Tq - r0 : XATT_ROWS;
            float beta = r0 > 0 ? 1.0f : 0.0f;   /* the first block overwrites dk, dv */
            size_t qo = ((size_t)bh * Tq + r0) * hd;
            xattn_probs(p, q + qo, k + ko, n, Tk, hd, scale);
            // dv [Tk, hd] += p^T do; dp [n, Tk] = do v^T
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, hd, n, 1.0f, p, Tk, do_ + qo, hd, beta, dv + ko, hd);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, Tk, hd, 1.0f, do_ + qo, hd, v + ko, hd, 0.0f, dp, Tk);
            // ds = p * (dp - rowsum(dp * p)), in dp
            for (int i = 0; i < n; i++) {
                float *dr = dp + (size_t)i * Tk;
                const float *pr = p + (size_t)i * Tk;
                float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                for (int j = 0; j < Tk; j++) sum += dr[j] * pr[j];
#pragma omp simd
                for (int j = 0; j < Tk; j++) dr[j] = pr[j] * (dr[j] - sum);
            }
            // dq [n, hd] = scale ds k; dk [Tk, hd] += scale ds^T q
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, Tk, scale, dp, Tk, k + ko, hd, 0.0f, dq + qo, hd);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, hd, n, scale, dp, Tk, q + qo, hd, beta, dk + ko, hd);
        }
    }
}

/* ============================ forward ====================================== */

int pf_wavelet_forward(pf_wavelet *w, pf_pstore *p, const float *x, int B, int train, uint64_t key)
{
    if (B <= 0 || B > w->max_B)
        return pf_err(PF_ERANGE, "wavelet forward: B %d outside 1..%d reserved", B, w->max_B);
    if (!p->finalized) return pf_err(PF_ESTATE, "wavelet forward: parameters not finalized");
    if (pf_threads() > w->scratch_threads)
        return pf_err(PF_ESTATE, "wavelet forward: %d threads, attention scratch reserved for %d at creation",
                      pf_threads(), w->scratch_threads);
    w->B = B;
    w->train = train;
    int C = w->C, T = w->T, E = w->E, H = w->H, Hs = w->Hs, nf = w->nf, nh = w->nh, Td = w->Td, L = w->L;
    int k = w->k, xh = w->cfg.xattn_heads, hd = w->hd, gh = C / nh;
    size_t BCT = (size_t)B * C * T, BHT = (size_t)B * H * T, BET = (size_t)B * E * T;
    float pdrop = train ? w->cfg.dropout : 0.0f, keep = pdrop > 0 ? 1.0f / (1.0f - pdrop) : 1.0f;
    memcpy(w->x0, x, BCT * sizeof(float));
    for (int l = 0; l < L; l++) {
        level_ids *id = &w->ids[l];
        level_acts *a = &w->acts[l];
        const float *u = l ? w->acts[l - 1].a : w->x0;        // a_{l-1} [B, C, T]
        const float *dprev = l ? w->acts[l - 1].d : NULL;     // d_{l-1}, d_0 = 0
        mean_rows(a->p, u, B * C, T);
        // selector: alpha [B, nf] = softmax(W2 ReLU(W1 p + b1) + b2)
        pf_linear_forward(a->sh_pre, a->p, pf_pstore_data(p, w->sel1_w), pf_pstore_data(p, w->sel1_b), B, C, Hs);
        for (size_t i = 0; i < (size_t)B * Hs; i++) a->sh[i] = a->sh_pre[i] > 0.0f ? a->sh_pre[i] : 0.0f;
        pf_linear_forward(a->logits, a->sh, pf_pstore_data(p, w->sel2_w), pf_pstore_data(p, w->sel2_b), B, Hs, nf);
        pf_softmax_forward(a->alpha, a->logits, B, nf);
        // per family: depthwise conv (pad K/2) then keep even samples -> [B, C, Td]
        for (int f = 0; f < nf; f++) {
            int K = w->klen[f], TC = pf_conv1d_out_len(T, K, K / 2);
            pf_conv1d_forward(w->conv, u, pf_pstore_data(p, w->wlo[f]), NULL, B, C, C, T, K, K / 2, C);
            pf_decimate_forward(a->ylo[f], w->conv, B * C, TC, 2);
            pf_conv1d_forward(w->conv, u, pf_pstore_data(p, w->whi[f]), NULL, B, C, C, T, K, K / 2, C);
            pf_decimate_forward(a->yhi[f], w->conv, B * C, TC, 2);
        }
        // a2, d2 = sum_f alpha_f y_f
        for (int b = 0; b < B; b++) {
            size_t o = (size_t)b * C * Td, n = (size_t)C * Td;
            for (size_t i = 0; i < n; i++) { a->a2[o + i] = 0.0f; a->d2[o + i] = 0.0f; }
            for (int f = 0; f < nf; f++) {
                float al = a->alpha[b * nf + f];
                const float *yl = a->ylo[f] + o, *yh = a->yhi[f] + o;
                for (size_t i = 0; i < n; i++) { a->a2[o + i] += al * yl[i]; a->d2[o + i] += al * yh[i]; }
            }
        }
        pf_upsample_nearest_forward(a->ua, a->a2, B * C, Td, T);
        pf_upsample_nearest_forward(a->ud, a->d2, B * C, Td, T);
        // gate g [B, C]: attention between the nh heads of the pooled vector, sigmoid
        pf_linear_forward(a->gq, a->p, pf_pstore_data(p, w->gq_w), pf_pstore_data(p, w->gq_b), B, C, C);
        pf_linear_forward(a->gk, a->p, pf_pstore_data(p, w->gk_w), pf_pstore_data(p, w->gk_b), B, C, C);
        pf_linear_forward(a->gv, a->p, pf_pstore_data(p, w->gv_w), pf_pstore_data(p, w->gv_b), B, C, C);
        pf_sdpa_forward(a->gout, a->gatt, a->gq, a->gk, a->gv, B, nh, nh, gh, 1.0f / sqrtf((float)gh));
        pf_sigmoid_forward(a->g, a->gout, (size_t)B * C);
        // s = [g u + (1-g) up(a2); g d_prev + (1-g) up(d2)]  [B, 2C, T]
        PAR_IF(BCT)
        for (int bc = 0; bc < B * C; bc++) {
            int b = bc / C, c = bc % C;
            float g = a->g[bc];
            const float *ur = u + (size_t)bc * T, *uar = a->ua + (size_t)bc * T, *udr = a->ud + (size_t)bc * T;
            float *sa = a->s + ((size_t)b * E + c) * T, *sd = a->s + ((size_t)b * E + C + c) * T;
            for (int t = 0; t < T; t++) sa[t] = g * ur[t] + (1.0f - g) * uar[t];
            if (dprev) {
                const float *dr = dprev + (size_t)bc * T;
                for (int t = 0; t < T; t++) sd[t] = g * dr[t] + (1.0f - g) * udr[t];
            } else
                for (int t = 0; t < T; t++) sd[t] = (1.0f - g) * udr[t];
        }
        // keys/values for the later levels' cross-scale attention: s^T at rows [l T, (l+1) T)
        if (l < L - 1) transpose_bt(w->sT + (size_t)l * T * E, a->s, B, E, T, 0, (size_t)E * T, (size_t)L * T * E);
        // CAFFN: fc1 -> depthwise (middle row) -> GELU -> Drop -> - GELU(decomp) -> * (1 + sigma) -> fc2 -> Drop
        conv1x1_forward(a->h1, a->s, pf_pstore_data(p, id->fc1_w), pf_pstore_data(p, id->fc1_b), B, H, E, T);
        const float *dww = pf_pstore_data(p, id->dw_w);
        for (int h = 0; h < H; h++)
            memcpy(w->wmid + (size_t)h * k, dww + (size_t)h * k * k + (size_t)(k / 2) * k, (size_t)k * sizeof(float));
        pf_conv1d_forward(a->h2, a->h1, w->wmid, pf_pstore_data(p, id->dw_b), B, H, H, T, k, k / 2, H);
        pf_gelu_forward(a->h3, a->h2, BHT);
        if (pdrop > 0) { mask_draw(a->m1, BHT, pdrop, key, l, 0); mask_apply(a->h3, a->m1, BHT, keep); }
        conv1x1_forward(a->mpre, a->h3, pf_pstore_data(p, id->dc_w), pf_pstore_data(p, id->dc_b), B, 1, H, T);
        pf_gelu_forward(w->mg, a->mpre, (size_t)B * T);
        const float *sig = pf_pstore_data(p, id->sigma);
        PAR_IF(BHT)
        for (int bh = 0; bh < B * H; bh++) {
            int b = bh / H, h = bh % H;
            const float *h3 = a->h3 + (size_t)bh * T, *mg = w->mg + (size_t)b * T;
            float *h5 = a->h5 + (size_t)bh * T, *h6 = w->h6 + (size_t)bh * T, s1 = 1.0f + sig[h];
            for (int t = 0; t < T; t++) { h5[t] = h3[t] - mg[t]; h6[t] = h5[t] * s1; }
        }
        conv1x1_forward(a->co, w->h6, pf_pstore_data(p, id->fc2_w), pf_pstore_data(p, id->fc2_b), B, E, H, T);
        if (pdrop > 0) { mask_draw(a->m2, BET, pdrop, key, l, 1); mask_apply(a->co, a->m2, BET, keep); }
        if (l > 0) {
            // cross-scale attention: queries o^T [B, T, E], keys/values s_1..s_l^T [B, l T, E]
            int Tk = l * T;
            const float *Win = pf_pstore_data(p, id->in_w), *bin = pf_pstore_data(p, id->in_b);
            transpose_bt(a->oT, a->co, B, E, T, 0, (size_t)E * T, (size_t)T * E);
            pf_linear_forward(w->qbuf, a->oT, Win, bin, B * T, E, E);
            pf_heads_split(a->qh, w->qbuf, B, T, xh, hd, E, 0);
            for (int b = 0; b < B; b++)
                pf_linear_forward(w->kvbuf + (size_t)b * Tk * 2 * E, w->sT + (size_t)b * L * T * E,
                                  Win + (size_t)E * E, bin + E, Tk, E, 2 * E);
            pf_heads_split(a->kh, w->kvbuf, B, Tk, xh, hd, 2 * E, 0);
            pf_heads_split(a->vh, w->kvbuf, B, Tk, xh, hd, 2 * E, E);
            xattn_forward(w->ohm, w->att_scr, a->qh, a->kh, a->vh, B * xh, T, Tk, hd, 1.0f / sqrtf((float)hd));
            pf_heads_merge(a->merged, w->ohm, B, T, xh, hd);
            pf_linear_forward(a->ao, a->merged, pf_pstore_data(p, id->out_w), pf_pstore_data(p, id->out_b), B * T, E, E);
            // co += lambda ao^T
            float lam = pf_pstore_data(p, id->lam)[0];
            PAR_IF(BET)
            for (int b = 0; b < B; b++)
                for (int e = 0; e < E; e++) {
                    float *cr = a->co + ((size_t)b * E + e) * T;
                    const float *ar = a->ao + (size_t)b * T * E + e;
                    for (int t = 0; t < T; t++) cr[t] += lam * ar[(size_t)t * E];
                }
        }
        // r = s + rho co; a_l = r[:, :C], d_l = r[:, C:]
        float rho = pf_pstore_data(p, id->rho)[0];
        PAR_IF(BCT)
        for (int bc = 0; bc < B * C; bc++) {
            int b = bc / C, c = bc % C;
            const float *sa = a->s + ((size_t)b * E + c) * T, *sd = a->s + ((size_t)b * E + C + c) * T;
            const float *ca = a->co + ((size_t)b * E + c) * T, *cd = a->co + ((size_t)b * E + C + c) * T;
            float *ar = a->a + (size_t)bc * T, *dr = a->d + (size_t)bc * T;
            for (int t = 0; t < T; t++) { ar[t] = sa[t] + rho * ca[t]; dr[t] = sd[t] + rho * cd[t]; }
        }
    }
    // Spec [B, (L+1)C, T] = [d_1 .. d_L, a_L]
    for (int b = 0; b < B; b++) {
        for (int l = 0; l < L; l++)
            memcpy(w->spec + ((size_t)b * (L + 1) + l) * C * T, w->acts[l].d + (size_t)b * C * T,
                   (size_t)C * T * sizeof(float));
        memcpy(w->spec + ((size_t)b * (L + 1) + L) * C * T, w->acts[L - 1].a + (size_t)b * C * T,
               (size_t)C * T * sizeof(float));
    }
    return PF_OK;
}

/* ============================ backward ===================================== */

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

int pf_wavelet_backward(pf_wavelet *w, pf_pstore *p, const float *dspec, float *dx)
{
    if (w->B == 0) return pf_err(PF_ESTATE, "wavelet backward: no forward pass yet");
    if (pf_threads() > w->scratch_threads)
        return pf_err(PF_ESTATE, "wavelet backward: %d threads, attention scratch reserved for %d at creation",
                      pf_threads(), w->scratch_threads);
    int B = w->B, C = w->C, T = w->T, E = w->E, H = w->H, Hs = w->Hs, nf = w->nf, nh = w->nh, Td = w->Td;
    int L = w->L, k = w->k, xh = w->cfg.xattn_heads, hd = w->hd, gh = C / nh;
    size_t BCT = (size_t)B * C * T, BHT = (size_t)B * H * T, BET = (size_t)B * E * T;
    float pdrop = w->train ? w->cfg.dropout : 0.0f, keep = pdrop > 0 ? 1.0f / (1.0f - pdrop) : 1.0f;
    // da = d a_L, dd = d d_L from Spec's last two bands
    for (int b = 0; b < B; b++) {
        memcpy(w->da + (size_t)b * C * T, dspec + ((size_t)b * (L + 1) + L) * C * T, (size_t)C * T * sizeof(float));
        memcpy(w->dd + (size_t)b * C * T, dspec + ((size_t)b * (L + 1) + L - 1) * C * T, (size_t)C * T * sizeof(float));
    }
    memset(w->dsT, 0, (size_t)B * L * T * E * sizeof(float));
    for (int l = L - 1; l >= 0; l--) {
        level_ids *id = &w->ids[l];
        level_acts *a = &w->acts[l];
        const float *u = l ? w->acts[l - 1].a : w->x0;
        const float *dprev = l ? w->acts[l - 1].d : NULL;
        float rho = pf_pstore_data(p, id->rho)[0];
        // r = s + rho co: ds = dr (+ the later levels' key/value gradients), dco = rho dr
        double drho = 0;
        for (int b = 0; b < B; b++)
            for (int half = 0; half < 2; half++) {
                const float *src = (half ? w->dd : w->da) + (size_t)b * C * T;
                size_t o = ((size_t)b * E + (size_t)half * C) * T;
                memcpy(w->ds + o, src, (size_t)C * T * sizeof(float));
                drho += dot(src, a->co + o, (size_t)C * T);
                for (size_t i = 0; i < (size_t)C * T; i++) w->dco[o + i] = rho * src[i];
            }
        pf_pstore_grad(p, id->rho)[0] += (float)drho;
        if (l < L - 1) transpose_bt(w->ds, w->dsT + (size_t)l * T * E, B, T, E, 1, (size_t)L * T * E, (size_t)E * T);
        if (l > 0) {
            int Tk = l * T;
            float lam = pf_pstore_data(p, id->lam)[0], scale = 1.0f / sqrtf((float)hd);
            const float *Win = pf_pstore_data(p, id->in_w);
            float *dWin = pf_pstore_grad(p, id->in_w), *dbin = pf_pstore_grad(p, id->in_b);
            // co = o + lam ao^T: dlam = <dco, ao^T>, dao = lam dco^T
            transpose_bt(w->dao, w->dco, B, E, T, 0, (size_t)E * T, (size_t)T * E);
            pf_pstore_grad(p, id->lam)[0] += (float)dot(w->dao, a->ao, BET);
            for (size_t i = 0; i < BET; i++) w->dao[i] *= lam;
            memset(w->dmerged, 0, BET * sizeof(float));
            pf_linear_backward(w->dmerged, pf_pstore_grad(p, id->out_w), pf_pstore_grad(p, id->out_b), w->dao,
                               a->merged, pf_pstore_data(p, id->out_w), B * T, E, E);
            pf_heads_split(w->dohm, w->dmerged, B, T, xh, hd, E, 0);
            xattn_backward(w->dqh, w->dkh, w->dvh, w->att_scr, w->dohm, a->qh, a->kh, a->vh, B * xh, T, Tk, hd,
                           scale);
            memset(w->dQ, 0, BET * sizeof(float));
            pf_heads_split_backward(w->dQ, w->dqh, B, T, xh, hd, E, 0);
            memset(w->dKV, 0, (size_t)B * Tk * 2 * E * sizeof(float));
            pf_heads_split_backward(w->dKV, w->dkh, B, Tk, xh, hd, 2 * E, 0);
            pf_heads_split_backward(w->dKV, w->dvh, B, Tk, xh, hd, 2 * E, E);
            memset(w->doT, 0, BET * sizeof(float));
            pf_linear_backward(w->doT, dWin, dbin, w->dQ, a->oT, Win, B * T, E, E);
            for (int b = 0; b < B; b++)
                pf_linear_backward(w->dsT + (size_t)b * L * T * E, dWin + (size_t)E * E, dbin + E,
                                   w->dKV + (size_t)b * Tk * 2 * E, w->sT + (size_t)b * L * T * E,
                                   Win + (size_t)E * E, Tk, E, 2 * E);
            transpose_bt(w->dco, w->doT, B, T, E, 1, (size_t)T * E, (size_t)E * T);   // do += doT^T
        }
        // CAFFN backward; dco is d(Drop(fc2 out))
        if (pdrop > 0) mask_apply(w->dco, a->m2, BET, keep);
        const float *sig = pf_pstore_data(p, id->sigma);
        for (int bh = 0; bh < B * H; bh++) {   /* recompute fc2's input h6 = h5 (1 + sigma) */
            float s1 = 1.0f + sig[bh % H];
            for (int t = 0; t < T; t++) w->h6[(size_t)bh * T + t] = a->h5[(size_t)bh * T + t] * s1;
        }
        float *dh = w->dh_a;   // d h6 -> d h5 -> d h3 in place
        memset(dh, 0, BHT * sizeof(float));
        conv1x1_backward(dh, pf_pstore_grad(p, id->fc2_w), pf_pstore_grad(p, id->fc2_b), w->dco, w->h6,
                         pf_pstore_data(p, id->fc2_w), B, E, H, T);
        float *dsig = pf_pstore_grad(p, id->sigma);
        for (int h = 0; h < H; h++) {
            double s = 0;
            for (int b = 0; b < B; b++) s += dot(dh + ((size_t)b * H + h) * T, a->h5 + ((size_t)b * H + h) * T, (size_t)T);
            dsig[h] += (float)s;
        }
        // h5 = h3 - GELU(mpre): dm = -sum_c dh5
        memset(w->dm, 0, (size_t)B * T * sizeof(float));
        for (int bh = 0; bh < B * H; bh++) {
            float s1 = 1.0f + sig[bh % H];
            float *dr = dh + (size_t)bh * T, *dmr = w->dm + (size_t)(bh / H) * T;
            for (int t = 0; t < T; t++) { dr[t] *= s1; dmr[t] -= dr[t]; }
        }
        memset(w->dmpre, 0, (size_t)B * T * sizeof(float));
        pf_gelu_backward(w->dmpre, w->dm, a->mpre, (size_t)B * T);
        conv1x1_backward(dh, pf_pstore_grad(p, id->dc_w), pf_pstore_grad(p, id->dc_b), w->dmpre, a->h3,
                         pf_pstore_data(p, id->dc_w), B, 1, H, T);
        if (pdrop > 0) mask_apply(dh, a->m1, BHT, keep);
        float *dh2 = w->dh_b;
        memset(dh2, 0, BHT * sizeof(float));
        pf_gelu_backward(dh2, dh, a->h2, BHT);
        const float *dww = pf_pstore_data(p, id->dw_w);
        for (int h = 0; h < H; h++)
            memcpy(w->wmid + (size_t)h * k, dww + (size_t)h * k * k + (size_t)(k / 2) * k, (size_t)k * sizeof(float));
        memset(w->dwmid, 0, (size_t)H * k * sizeof(float));
        memset(dh, 0, BHT * sizeof(float));   // now d h1
        pf_conv1d_backward(dh, w->dwmid, pf_pstore_grad(p, id->dw_b), dh2, a->h1, w->wmid, B, H, H, T, k, k / 2, H);
        float *gdw = pf_pstore_grad(p, id->dw_w);
        for (int h = 0; h < H; h++)
            for (int j = 0; j < k; j++) gdw[(size_t)h * k * k + (size_t)(k / 2) * k + j] += w->dwmid[(size_t)h * k + j];
        conv1x1_backward(w->ds, pf_pstore_grad(p, id->fc1_w), pf_pstore_grad(p, id->fc1_b), dh, a->s,
                         pf_pstore_data(p, id->fc1_w), B, H, E, T);
        // gating: at = g u + (1-g) ua, dt = g dprev + (1-g) ud
        memset(w->du, 0, BCT * sizeof(float));
        memset(w->ddp, 0, BCT * sizeof(float));
        float *dua = w->da, *dud = w->dd;   /* da, dd are consumed: reuse for d ua, d ud */
        for (int bc = 0; bc < B * C; bc++) {
            int b = bc / C, c = bc % C;
            float g = a->g[bc];
            const float *dsa = w->ds + ((size_t)b * E + c) * T, *dsd = w->ds + ((size_t)b * E + C + c) * T;
            const float *ur = u + (size_t)bc * T, *uar = a->ua + (size_t)bc * T, *udr = a->ud + (size_t)bc * T;
            const float *dr = dprev ? dprev + (size_t)bc * T : NULL;
            double sg = 0;
            for (int t = 0; t < T; t++) {
                sg += (double)dsa[t] * (ur[t] - uar[t]) + (double)dsd[t] * ((dr ? dr[t] : 0.0f) - udr[t]);
                w->du[(size_t)bc * T + t] = g * dsa[t];
                w->ddp[(size_t)bc * T + t] = g * dsd[t];
                dua[(size_t)bc * T + t] = (1.0f - g) * dsa[t];
                dud[(size_t)bc * T + t] = (1.0f - g) * dsd[t];
            }
            w->dg[bc] = (float)sg;
        }
        memset(w->da2, 0, (size_t)B * C * Td * sizeof(float));
        memset(w->dd2, 0, (size_t)B * C * Td * sizeof(float));
        pf_upsample_nearest_backward(w->da2, dua, B * C, Td, T);
        pf_upsample_nearest_backward(w->dd2, dud, B * C, Td, T);
        // mixture: dalpha_f = <da2, ylo_f> + <dd2, yhi_f>; dy_f = alpha_f d(a2|d2)
        for (int f = 0; f < nf; f++) {
            int K = w->klen[f], TC = pf_conv1d_out_len(T, K, K / 2);
            for (int b = 0; b < B; b++) {
                size_t o = (size_t)b * C * Td, n = (size_t)C * Td;
                w->dalpha[b * nf + f] = (float)(dot(w->da2 + o, a->ylo[f] + o, n) + dot(w->dd2 + o, a->yhi[f] + o, n));
            }
            for (int hi = 0; hi < 2; hi++) {
                const float *dsrc = hi ? w->dd2 : w->da2;
                memset(w->conv, 0, (size_t)B * C * TC * sizeof(float));
                for (int b = 0; b < B; b++) {   /* decimate backward, scaled by alpha */
                    float al = a->alpha[b * nf + f];
                    for (int c = 0; c < C; c++) {
                        const float *dr = dsrc + ((size_t)b * C + c) * Td;
                        float *cr = w->conv + ((size_t)b * C + c) * TC;
                        for (int n = 0; n < Td; n++) cr[2 * n] = al * dr[n];
                    }
                }
                int wid = hi ? w->whi[f] : w->wlo[f];
                pf_conv1d_backward(w->du, pf_pstore_grad(p, wid), NULL, w->conv, u, pf_pstore_data(p, wid), B, C, C, T,
                                   K, K / 2, C);
            }
        }
        // selector backward -> dp [B, C]
        memset(w->dlogits, 0, (size_t)B * nf * sizeof(float));
        pf_softmax_backward(w->dlogits, w->dalpha, a->alpha, B, nf);
        memset(w->dsh, 0, (size_t)B * Hs * sizeof(float));
        pf_linear_backward(w->dsh, pf_pstore_grad(p, w->sel2_w), pf_pstore_grad(p, w->sel2_b), w->dlogits, a->sh,
                           pf_pstore_data(p, w->sel2_w), B, Hs, nf);
        for (size_t i = 0; i < (size_t)B * Hs; i++) if (!(a->sh_pre[i] > 0.0f)) w->dsh[i] = 0.0f;
        memset(w->dp, 0, (size_t)B * C * sizeof(float));
        pf_linear_backward(w->dp, pf_pstore_grad(p, w->sel1_w), pf_pstore_grad(p, w->sel1_b), w->dsh, a->p,
                           pf_pstore_data(p, w->sel1_w), B, C, Hs);
        // gate backward -> dp
        memset(w->dgout, 0, (size_t)B * C * sizeof(float));
        pf_sigmoid_backward(w->dgout, w->dg, a->g, (size_t)B * C);
        memset(w->dgq, 0, (size_t)B * C * sizeof(float));
        memset(w->dgk, 0, (size_t)B * C * sizeof(float));
        memset(w->dgv, 0, (size_t)B * C * sizeof(float));
        pf_sdpa_backward(w->dgq, w->dgk, w->dgv, w->gscr, w->dgout, a->gq, a->gk, a->gv, a->gatt, B, nh, nh, gh,
                         1.0f / sqrtf((float)gh));
        pf_linear_backward(w->dp, pf_pstore_grad(p, w->gq_w), pf_pstore_grad(p, w->gq_b), w->dgq, a->p,
                           pf_pstore_data(p, w->gq_w), B, C, C);
        pf_linear_backward(w->dp, pf_pstore_grad(p, w->gk_w), pf_pstore_grad(p, w->gk_b), w->dgk, a->p,
                           pf_pstore_data(p, w->gk_w), B, C, C);
        pf_linear_backward(w->dp, pf_pstore_grad(p, w->gv_w), pf_pstore_grad(p, w->gv_b), w->dgv, a->p,
                           pf_pstore_data(p, w->gv_w), B, C, C);
        // p = mean_t u
        for (int bc = 0; bc < B * C; bc++) {
            float v = w->dp[bc] / (float)T;
            float *r = w->du + (size_t)bc * T;
            for (int t = 0; t < T; t++) r[t] += v;
        }
        // hand over to level l-1: d a_{l-1} = du; d d_{l-1} = ddp + Spec band l-1
        if (l > 0) {
            float *t1 = w->da, *t2 = w->dd;
            w->da = w->du; w->du = t1;
            w->dd = w->ddp; w->ddp = t2;
            for (int b = 0; b < B; b++) {
                float *dr = w->dd + (size_t)b * C * T;
                const float *sr = dspec + ((size_t)b * (L + 1) + l - 1) * C * T;
                for (size_t i = 0; i < (size_t)C * T; i++) dr[i] += sr[i];
            }
        } else if (dx) {
            pf_add_backward(dx, NULL, w->du, BCT);
        }
    }
    return PF_OK;
}

const float *pf_wavelet_output(const pf_wavelet *w) { return w->spec; }

const float *pf_wavelet_filter_output(const pf_wavelet *w, int level, int f, int hi, int *tdec)
{
    if (level < 1 || level > w->L || f < 0 || f >= w->nf) return NULL;
    if (tdec) *tdec = w->Td;
    return hi ? w->acts[level - 1].yhi[f] : w->acts[level - 1].ylo[f];
}

const float *pf_wavelet_alpha(const pf_wavelet *w, int level)
{
    if (level < 1 || level > w->L) return NULL;
    return w->acts[level - 1].alpha;
}

size_t pf_wavelet_arena_bytes(const pf_wavelet *w) { return w->arena ? w->arena->cap : 0; }

void pf_wavelet_destroy(pf_wavelet *w)
{
    if (!w) return;
    pf_arena_destroy(w->arena);
    free(w->ids);
    free(w->acts);
    free(w);
}
