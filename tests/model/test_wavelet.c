/* The wavelet front-end and the frequency-guided masking without Python: the
 * published parameter count, the reference's initial taps, rho = 0 at start,
 * whole-front-end gradients against finite differences (with and without dropout),
 * dropout keys, error reporting, and the masking's count, noise, ties and keys. */
#include "pf_error.h"
#include "pf_mask.h"
#include "../pf_test.h"
#include "pf_mae.h"
#include "pf_wavelet.h"

#include <omp.h>

static pf_wavelet *W;
static pf_pstore *PP;
static float *X, *GS, *DX;
static int WB = 2, TRAIN = 0;
static size_t NSPEC;

static double L_wave(void *c)
{
    (void)c;
    pf_wavelet_forward(W, PP, X, WB, TRAIN, 99);
    const float *s = pf_wavelet_output(W);
    double l = 0;
    for (size_t i = 0; i < NSPEC; i++) l += (double)s[i] * GS[i];
    return l;
}
static void G_wave(void *c)
{
    L_wave(c);
    pf_pstore_zero_grad(PP);
    pf_wavelet_backward(W, PP, GS, DX);
}

/* reference/physiowave.md section 2.1 table (8 decimals) */
static void test_counts_and_init(void)
{
    pf_wavelet_cfg c = pf_wavelet_cfg_defaults(12);
    pf_pstore *p = pf_pstore_create();
    pf_wavelet *w = pf_wavelet_create(&c, p, "wavelet_decomp.", 1, 2048);
    CHECK(w && pf_pstore_finalize(p) == 0, "ECG front-end: %s", pf_errmsg());
    if (!w) return;
    printf("ECG front-end (12 leads, L 3, db4/db6/sym4/coif2, K 24): %zu parameters (formula %zu), arena %.1f MB "
           "for one 12 x 2048 window\n", p->n_params, pf_wavelet_param_count(&c), pf_wavelet_arena_bytes(w) / 1e6);
    CHECK(p->n_params == 29801 && pf_wavelet_param_count(&c) == 29801,
          "published front-end has 29,801 parameters, registered %zu, formula %zu", p->n_params,
          pf_wavelet_param_count(&c));
    CHECK(pf_pstore_find(p, "wavelet_decomp.sub_ffn.2.attn.in_proj_weight") >= 0, "prefix / module path missing");
    pf_tfm_cfg tc;
    pf_tfm_preset("physiowave-ecg", &tc);
    CHECK(pf_mae_param_count(&tc) + p->n_params == 14425641,
          "published pretraining model: %zu + %zu != 14,425,641", pf_mae_param_count(&tc), p->n_params);
    pf_wavelet_init(w, p, 1);
    struct { const char *name; int hi, k; double v; } tab[] = {
        {"db4", 0, 0, -0.00343476}, {"db4", 0, 23, 0.07466860}, {"db4", 1, 0, -0.10805271},
        {"db4", 1, 7, -0.25901472}, {"db6", 0, 19, 0.35618578}, {"db6", 1, 4, -0.45856200},
        {"sym4", 0, 10, 0.23488466}, {"sym4", 1, 13, -0.33816757}, {"coif2", 0, 15, 0.35486174},
        {"coif2", 1, 8, -0.44462944}, {"coif2", 1, 23, -0.00053022}};
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++) {
        int f = 0;
        while (strcmp(c.families[f], tab[i].name)) f++;
        char nm[128];
        snprintf(nm, sizeof nm, "wavelet_decomp.selector.wavelet_filters.%d.%s_filter.weight", f,
                 tab[i].hi ? "high" : "low");
        const float *wt = pf_pstore_data(p, pf_pstore_find(p, nm));
        for (int lead = 0; lead < 12; lead++)
            CHECK(fabs(wt[lead * 24 + tab[i].k] - tab[i].v) < 2e-7, "%s lead %d tap %d: %.8f, reference table %.8f",
                  nm, lead, tab[i].k, wt[lead * 24 + tab[i].k], tab[i].v);
    }
    CHECK(pf_pstore_data(p, pf_pstore_find(p, "wavelet_decomp.res_scales.1"))[0] == 0.0f, "rho not 0 at init");
    CHECK(pf_pstore_data(p, pf_pstore_find(p, "wavelet_decomp.sub_ffn.1.scale"))[0] == 0.1f, "lambda not 0.1");
    /* rho = 0: Spec does not depend on the CAFFN weights at initialisation */
    pf_rng r;
    pf_rng_seed(&r, 5);
    float *x = t_alloc(12 * 2048), *s0 = t_alloc(48 * 2048);
    t_randn(x, 12 * 2048, 1.0f, &r);
    CHECK(pf_wavelet_forward(w, p, x, 1, 1, 3) == 0, "forward: %s", pf_errmsg());
    memcpy(s0, pf_wavelet_output(w), 48 * 2048 * sizeof(float));
    t_randn(pf_pstore_data(p, pf_pstore_find(p, "wavelet_decomp.sub_ffn.0.base.fc1.weight")), 96 * 24, 1.0f, &r);
    pf_wavelet_forward(w, p, x, 1, 1, 3);
    CHECK(memcmp(s0, pf_wavelet_output(w), 48 * 2048 * sizeof(float)) == 0, "rho = 0 but Spec depends on CAFFN");
    const float *al = pf_wavelet_alpha(w, 1);
    CHECK(fabsf(al[0] - 0.25f) < 0.05f, "selector not near uniform at init: alpha_0 %g", al[0]);
    CHECK(pf_wavelet_forward(w, p, x, 2, 0, 0) == PF_ERANGE, "B beyond max_B accepted");
    pf_wavelet_destroy(w);
    pf_pstore_destroy(p);

    c.init = PF_WAVELET_INIT_EXACT;   /* natural lengths: 8, 12, 8, 12 taps */
    CHECK(pf_wavelet_param_count(&c) == 29801 - 2 * 12 * (4 * 24 - 40), "exact count %zu", pf_wavelet_param_count(&c));
}

static void test_errors(void)
{
    pf_wavelet_cfg c = pf_wavelet_cfg_defaults(2);   /* MIT-BIH: 2 leads */
    pf_pstore *p = pf_pstore_create();
    CHECK(pf_wavelet_create(&c, p, "", 1, 256) == NULL && strstr(pf_errmsg(), "gate_heads 4"),
          "2 leads with 4 gate heads not refused by name: %s", pf_errmsg());
    c.gate_heads = 2;
    pf_wavelet *w = pf_wavelet_create(&c, p, "", 1, 256);
    CHECK(w != NULL, "2 leads, 2 gate heads, 4 attention heads: %s", pf_errmsg());
    pf_wavelet_destroy(w);
    pf_pstore_destroy(p);
    c = pf_wavelet_cfg_defaults(12);
    snprintf(c.families[1], sizeof c.families[1], "db99");
    CHECK(pf_wavelet_validate(&c) == PF_ENOTFOUND && strstr(pf_errmsg(), "'db99'"), "unknown family: %s", pf_errmsg());
    c = pf_wavelet_cfg_defaults(12);
    c.ffn_kernel = 4;
    CHECK(pf_wavelet_validate(&c) == PF_EINVAL && strstr(pf_errmsg(), "ffn_kernel 4"), "even kernel: %s", pf_errmsg());
    CHECK(pf_wavelet_init_parse("exact") == PF_WAVELET_INIT_EXACT && pf_wavelet_init_parse("physiowave") == 0 &&
          pf_wavelet_init_parse("dyadic") == PF_EINVAL, "init names");
}

static void test_gradients(void)
{
    /* small: 4 leads, 40 samples, 3 levels, two families stretched to 8 taps */
    pf_wavelet_cfg c = pf_wavelet_cfg_defaults(4);
    c.n_families = 2;
    snprintf(c.families[1], sizeof c.families[1], "sym4");
    c.kernel = 8;
    c.selector_hidden = 6;
    c.ffn_ratio = 2;
    c.dropout = 0.2f;
    int C = 4, T = 40;
    PP = pf_pstore_create();
    W = pf_wavelet_create(&c, PP, "", WB, T);
    CHECK(W && pf_pstore_finalize(PP) == 0, "create: %s", pf_errmsg());
    if (!W) return;
    pf_wavelet_init(W, PP, 11);
    pf_rng r;
    pf_rng_seed(&r, 4);
    for (int i = 0; i < PP->count; i++) {   /* every path active: rho, lambda, sigma != 0 */
        float *w = pf_pstore_data(PP, i);
        for (size_t k = 0; k < PP->info[i].n; k++) w[k] += 0.15f * (float)pf_rng_normal(&r);
    }
    /* keep the selector's ReLU units 1 away from their kink (a finite difference across it
     * is meaningless) and give rho, lambda weight so the CAFFN paths carry signal */
    float *b1 = pf_pstore_data(PP, pf_pstore_find(PP, "selector.selector.2.bias"));
    for (int h = 0; h < c.selector_hidden; h++) b1[h] = h % 2 ? -1.0f : 1.0f;
    char nm[64];
    for (int l = 0; l < c.levels; l++) {
        snprintf(nm, sizeof nm, "res_scales.%d", l);
        pf_pstore_data(PP, pf_pstore_find(PP, nm))[0] = 0.6f + 0.2f * l;
        snprintf(nm, sizeof nm, "sub_ffn.%d.scale", l);
        pf_pstore_data(PP, pf_pstore_find(PP, nm))[0] = 0.5f;
    }
    NSPEC = (size_t)WB * (c.levels + 1) * C * T;
    X = t_alloc((size_t)WB * C * T); GS = t_alloc(NSPEC); DX = t_alloc((size_t)WB * C * T);
    t_randn(X, (size_t)WB * C * T, 1.0f, &r);
    t_randn(GS, NSPEC, 1.0f, &r);
    fd_input in[80];
    for (int mode = 0; mode < 2; mode++) {
        TRAIN = mode;
        int n = 0;
        in[n++] = (fd_input){"x", X, DX, (size_t)WB * C * T};
        for (int i = 0; i < PP->count && n < 80; i++) {
            if (strstr(PP->info[i].name, "sub_ffn.0.attn") || strstr(PP->info[i].name, "sub_ffn.0.scale"))
                continue;   /* unused at level 1 (zero gradient, checked below) */
            in[n++] = (fd_input){PP->info[i].name, pf_pstore_data(PP, i), pf_pstore_grad(PP, i), PP->info[i].n};
        }
        memset(DX, 0, (size_t)WB * C * T * sizeof(float));
        int bad = fd_check(mode ? "wavelet (dropout)" : "wavelet", NULL, L_wave, G_wave, in, n, 3e-2f, 3e-2, 1e-2,
                           getenv("PF_TEST_VERBOSE") != NULL);
        printf("front-end gradients vs finite differences (%s): %d inputs, %d bad\n", mode ? "dropout 0.2" : "eval", n,
               bad);
        CHECK(bad == 0, "%d gradient entries off (mode %d)", bad, mode);
        const float *g0 = pf_pstore_grad(PP, pf_pstore_find(PP, "sub_ffn.0.attn.in_proj_weight"));
        CHECK(g0[0] == 0.0f && g0[5] == 0.0f, "level-1 attention has a gradient");
    }
    /* the checker must be able to fail: a wrong gradient is rejected */
    G_wave(NULL);
    int f1 = pf_pstore_find(PP, "sub_ffn.1.base.fc1.weight");
    float *gw = pf_pstore_grad(PP, f1);
    for (size_t k = 0; k < PP->info[f1].n; k++) gw[k] *= 1.1f;
    fd_quiet = 1;
    /* re-run the comparison on the scaled gradient without recomputing it */
    double worst = 0;
    for (size_t k = 0; k < 8; k++) {
        float keep = pf_pstore_data(PP, f1)[k];
        pf_pstore_data(PP, f1)[k] = keep + 1e-2f; double lp = L_wave(NULL);
        pf_pstore_data(PP, f1)[k] = keep - 1e-2f; double lm = L_wave(NULL);
        pf_pstore_data(PP, f1)[k] = keep;
        double num = (lp - lm) / 2e-2;
        if (fabs(num) > 1e-3) worst = fmax(worst, fabs(gw[k] - num) / fabs(num));
    }
    fd_quiet = 0;
    CHECK(worst > 0.05, "a 10%% wrong gradient went unnoticed (worst %.3g)", worst);
    /* dropout: same key, same Spec; another key, another Spec */
    float *s1 = t_alloc(NSPEC);
    pf_wavelet_forward(W, PP, X, WB, 1, 5);
    memcpy(s1, pf_wavelet_output(W), NSPEC * sizeof(float));
    pf_wavelet_forward(W, PP, X, WB, 1, 5);
    CHECK(memcmp(s1, pf_wavelet_output(W), NSPEC * sizeof(float)) == 0, "dropout not a function of the key");
    pf_wavelet_forward(W, PP, X, WB, 1, 6);
    CHECK(memcmp(s1, pf_wavelet_output(W), NSPEC * sizeof(float)) != 0, "dropout ignores the key");
    /* same thread count: bit-identical; 1 vs 2 workers: equal to float rounding */
    float *g1 = t_alloc(PP->total), *s2 = t_alloc(NSPEC);
    int nt = omp_get_max_threads();
    TRAIN = 1;
    G_wave(NULL);
    memcpy(s1, pf_wavelet_output(W), NSPEC * sizeof(float));
    memcpy(g1, PP->block + PP->total, PP->total * sizeof(float));
    G_wave(NULL);
    CHECK(memcmp(s1, pf_wavelet_output(W), NSPEC * sizeof(float)) == 0 &&
          memcmp(g1, PP->block + PP->total, PP->total * sizeof(float)) == 0, "rerun not bit-identical");
    if (nt > 1) {   /* fewer workers than reserved for at creation */
        omp_set_num_threads(1);
        G_wave(NULL);
        memcpy(s2, pf_wavelet_output(W), NSPEC * sizeof(float));
        double es = t_relerr(s2, s1, NSPEC, 1e-12), eg = t_relerr(PP->block + PP->total, g1, PP->total, 1e-12);
        omp_set_num_threads(nt);
        printf("front-end with %d vs 1 worker: Spec rel err %.1e, gradients %.1e\n", nt, es, eg);
        CHECK(es < 1e-5 && eg < 1e-4, "worker count changes results: Spec %.3g, gradients %.3g", es, eg);
    } else {        /* more workers than the attention scratch was reserved for: refused */
        omp_set_num_threads(2);
        CHECK(pf_wavelet_forward(W, PP, X, WB, 0, 0) == PF_ESTATE && strstr(pf_errmsg(), "reserved for 1"),
              "more threads than reserved not refused: %s", pf_errmsg());
        omp_set_num_threads(nt);
    }
    pf_wavelet_destroy(W);
    pf_pstore_destroy(PP);
}

static void test_mask(void)
{
    CHECK(pf_mask_importance_parse("token_sequence") == PF_IMPORTANCE_TOKEN_SEQUENCE &&
          pf_mask_importance_parse("patch_energy") == PF_IMPORTANCE_PATCH_ENERGY &&
          pf_mask_importance_parse("energy") == PF_EINVAL, "importance names");
    CHECK(pf_mask_count(1536, 0.7) == 1075 && pf_mask_count(10, 0.7) == 7 && pf_mask_count(10, 0.3) == 3,
          "count: %d %d %d", pf_mask_count(1536, 0.7), pf_mask_count(10, 0.7), pf_mask_count(10, 0.3));
    int B = 3, L = 96, D = 12;
    pf_rng r;
    pf_rng_seed(&r, 8);
    float *tok = t_alloc((size_t)B * L * D), *imp = t_alloc((size_t)B * L), *u = t_alloc((size_t)B * L);
    float *m1 = t_alloc((size_t)B * L), *m2 = t_alloc((size_t)B * L);
    t_randn(tok, (size_t)B * L * D, 1.0f, &r);
    pf_mask_cfg mc = pf_mask_cfg_defaults();
    pf_mask *m = pf_mask_create(&mc, L);
    CHECK(m != NULL, "mask: %s", pf_errmsg());
    /* generate = importance + noise(key) + select */
    pf_mask_generate(m, tok, B, D, 42, m1);
    pf_mask_importance(m, tok, B, D, imp);
    pf_mask_noise(u, (size_t)B * L, 42);
    pf_mask_select(m, imp, u, B, m2);
    CHECK(memcmp(m1, m2, (size_t)B * L * sizeof(float)) == 0, "generate differs from its parts");
    double mean = 0;
    for (int i = 0; i < B * L; i++) { mean += u[i]; CHECK(u[i] >= 0.0f && u[i] < 1.0f, "U(0,1) draw %g", u[i]); }
    mean /= B * L;
    CHECK(fabs(mean - 0.5) < 0.06, "noise mean %.3f", mean);
    pf_mask_destroy(m);
    /* r = 1: the top-k importance; r = 0: the top-k noise; ties to the lower index */
    for (int pure = 0; pure < 2; pure++) {
        pf_mask_cfg c2 = {0.25, pure ? 0.0 : 1.0, PF_IMPORTANCE_TOKEN_SEQUENCE};
        m = pf_mask_create(&c2, L);
        const float *src = pure ? u : imp;
        pf_mask_select(m, imp, u, B, m1);
        for (int b = 0; b < B; b++) {
            int k = pf_mask_count(L, 0.25), above = 0;
            float thr = INFINITY;
            for (int l = 0; l < L; l++) if (m1[b * L + l] != 0.0f && src[b * L + l] < thr) thr = src[b * L + l];
            for (int l = 0; l < L; l++) above += src[b * L + l] > thr;
            CHECK(above == k - 1, "window %d (r %d): %d scores above the smallest masked, want %d", b, !pure, above, k - 1);
        }
        pf_mask_destroy(m);
    }
    for (int i = 0; i < B * L; i++) { imp[i] = 1.0f; u[i] = 0.5f; }
    pf_mask_cfg c3 = {0.5, 0.7, 0};
    m = pf_mask_create(&c3, L);
    pf_mask_select(m, imp, u, B, m1);
    for (int l = 0; l < L; l++) CHECK(m1[l] == (l < L / 2 ? 1.0f : 0.0f), "tie order at %d", l);
    /* patch_energy: normalised to [0, 1] per window, constant window -> 0 */
    pf_mask_destroy(m);
    c3.importance = PF_IMPORTANCE_PATCH_ENERGY;
    m = pf_mask_create(&c3, L);
    pf_mask_importance(m, tok, B, D, imp);
    float mn = INFINITY, mx = -INFINITY;
    for (int l = 0; l < L; l++) { mn = fminf(mn, imp[l]); mx = fmaxf(mx, imp[l]); }
    CHECK(mn == 0.0f && mx == 1.0f, "patch energy range [%g, %g]", mn, mx);
    /* with normalised importance the noise matters: another key, another mask */
    c3.mask_ratio = 0.7;
    pf_mask_generate(m, tok, B, D, 42, m1);
    pf_mask_generate(m, tok, B, D, 43, m2);
    CHECK(memcmp(m1, m2, (size_t)B * L * sizeof(float)) != 0, "patch_energy mask ignores the key");
    tok[5 * D + 3] = NAN;
    CHECK(pf_mask_importance(m, tok, B, D, imp) == PF_EINVAL && strstr(pf_errmsg(), "window 0 token 5"),
          "NaN not named: %s", pf_errmsg());
    pf_mask_destroy(m);
    c3.mask_ratio = 1.5;
    CHECK(pf_mask_create(&c3, L) == NULL && strstr(pf_errmsg(), "mask_ratio 1.5"), "ratio 1.5: %s", pf_errmsg());
    printf("masking: count, noise, generate = parts, pure importance / noise rankings, ties, errors\n");
}

int main(void)
{
    test_counts_and_init();
    test_errors();
    test_gradients();
    test_mask();
    
    return pf_test_done();
}
