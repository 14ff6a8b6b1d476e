/* The wavelet front-end and the frequency-guided masking against PyTorch, PyWavelets
 * and numpy (Debian's python3-torch, python3-pywt): golden_wavelet.py writes inputs,
 * weights, outputs and gradients; forward values must agree within 1e-4 relative
 * (max |c - ref| / max |ref|), gradients within 1e-3. */
#include <unistd.h>

#include "pf_ckpt.h"
#include "pf_error.h"
#include "pf_mask.h"
#include "../pf_test.h"
#include "pf_wavelet.h"

#define FWD_TOL 1e-4
#define GRAD_TOL 1e-3

static hid_t G;
static double worst_fwd = 0, worst_grad = 0;

static float *rd(const char *name, size_t n)
{
    float *x = t_alloc(n);
    if (pf_h5_read_f32(G, name, x, n) < 0) { fprintf(stderr, "%s\n", pf_errmsg()); exit(1); }
    return x;
}

static double cmp(const char *what, const float *c, const char *golden, size_t n, int is_grad)
{
    float *g = rd(golden, n);
    double e = t_relerr(c, g, n, 1e-12);
    double tol = is_grad ? GRAD_TOL : FWD_TOL;
    if (is_grad) worst_grad = fmax(worst_grad, e); else worst_fwd = fmax(worst_fwd, e);
    if (getenv("PF_TEST_VERBOSE") || e >= tol) printf("  %-58s rel err %.2e\n", what, e);
    CHECK(e < tol, "%s: rel err %.3g vs reference (tol %.0e)", what, e, tol);
    t_free(g);
    return e;
}

static int64_t attr_i(const char *obj, const char *name)
{
    int64_t v = 0;
    hid_t a = H5Aopen_by_name(G, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    return v;
}

static double attr_d(const char *obj, const char *name)
{
    double v = 0;
    hid_t a = H5Aopen_by_name(G, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_DOUBLE, &v);
    H5Aclose(a);
    return v;
}

static void test_front_end(const char *cs, int init)
{
    char g[64], nm[256], what[256];
    snprintf(g, sizeof g, "wave_%s", cs);
    int B = (int)attr_i(g, "B"), C = (int)attr_i(g, "C"), T = (int)attr_i(g, "T");
    pf_wavelet_cfg cfg = pf_wavelet_cfg_defaults(C);
    cfg.levels = (int)attr_i(g, "levels");
    cfg.init = init;
    if (init == PF_WAVELET_INIT_PHYSIOWAVE) cfg.kernel = (int)attr_i(g, "K");
    cfg.dropout = 0.0f;
    pf_pstore *p = pf_pstore_create();
    pf_wavelet *w = pf_wavelet_create(&cfg, p, "", B, T);
    CHECK(w && pf_pstore_finalize(p) == 0, "%s: create: %s", g, pf_errmsg());
    if (!w) return;
    CHECK((int64_t)p->n_params == attr_i(g, "n_params") && p->n_params == pf_wavelet_param_count(&cfg),
          "%s: %zu parameters, torch %lld, count %zu", g, p->n_params, (long long)attr_i(g, "n_params"),
          pf_wavelet_param_count(&cfg));
    for (int i = 0; i < p->count; i++) {
        snprintf(nm, sizeof nm, "%s/param/%s", g, p->info[i].name);
        float *v = rd(nm, p->info[i].n);
        memcpy(pf_pstore_data(p, i), v, p->info[i].n * sizeof(float));
        t_free(v);
    }
    size_t nx = (size_t)B * C * T, ns = (size_t)B * (cfg.levels + 1) * C * T;
    snprintf(nm, sizeof nm, "%s/x", g);
    float *x = rd(nm, nx);
    snprintf(nm, sizeof nm, "%s/gspec", g);
    float *gs = rd(nm, ns), *dx = t_alloc(nx);
    CHECK(pf_wavelet_forward(w, p, x, B, 0, 1) == 0, "%s forward: %s", g, pf_errmsg());
    snprintf(nm, sizeof nm, "%s/spec", g);
    snprintf(what, sizeof what, "%s Spec [B,(L+1)C,T]", g);
    cmp(what, pf_wavelet_output(w), nm, ns, 0);
    pf_pstore_zero_grad(p);
    CHECK(pf_wavelet_backward(w, p, gs, dx) == 0, "%s backward: %s", g, pf_errmsg());
    snprintf(nm, sizeof nm, "%s/dx", g);
    snprintf(what, sizeof what, "%s dx", g);
    cmp(what, dx, nm, nx, 1);
    for (int i = 0; i < p->count; i++) {
        snprintf(nm, sizeof nm, "%s/grad/%s", g, p->info[i].name);
        snprintf(what, sizeof what, "%s grad %s", g, p->info[i].name);
        float *ref = rd(nm, p->info[i].n);
        int zero = 1;
        for (size_t j = 0; j < p->info[i].n; j++) zero &= ref[j] == 0.0f;
        t_free(ref);
        if (zero) {   /* unused in torch (level-1 attention, dead dw rows): must be exactly 0 here too */
            const float *gc = pf_pstore_grad(p, i);
            int z = 1;
            for (size_t j = 0; j < p->info[i].n; j++) z &= gc[j] == 0.0f;
            CHECK(z, "%s: torch gradient is zero, C's is not", what);
        } else
            cmp(what, pf_pstore_grad(p, i), nm, p->info[i].n, 1);
    }
    printf("%s: Spec, dx and %d parameter gradients compared (%zu parameters)\n", g, p->count, p->n_params);
    t_free(x); t_free(gs); t_free(dx);
    pf_wavelet_destroy(w);
    pf_pstore_destroy(p);
}

static void test_initial_taps(void)
{
    const char *fams[] = {"db4", "db6", "sym4", "coif2", "db1", "sym5", "coif3", "bior4.4"};
    for (int init = 0; init < 2; init++)
        for (size_t f = 0; f < sizeof fams / sizeof *fams; f++) {
            pf_wavelet_cfg c = pf_wavelet_cfg_defaults(4);
            c.init = init;
            float lo[64], hi[64];
            int len = 0;
            CHECK(pf_wavelet_initial_taps(&c, fams[f], lo, hi, &len) == 0, "%s: %s", fams[f], pf_errmsg());
            char nm[128], what[128];
            const char *in = init ? "exact" : "physiowave";
            snprintf(nm, sizeof nm, "init/%s/%s/lo", in, fams[f]);
            snprintf(what, sizeof what, "initial taps %s %s lo (%d taps)", in, fams[f], len);
            cmp(what, lo, nm, (size_t)len, 0);
            snprintf(nm, sizeof nm, "init/%s/%s/hi", in, fams[f]);
            snprintf(what, sizeof what, "initial taps %s %s hi", in, fams[f]);
            cmp(what, hi, nm, (size_t)len, 0);
        }
    printf("initial taps: 8 families x 2 inits equal the reference rule\n");
}

/* init = exact, level 1, each family: the decimated low/high outputs are PyWavelets'
 * single-level DWT with mode='zero' (zero extension, as the conv's zero padding).
 * pywt: cA[o] = sum_j dec_lo[j] x[2o + 1 - j], o < floor((T + F - 1) / 2). Here, with
 * the reversed taps and padding F/2: a2[n] = sum_j dec_lo[j] x[2n + F/2 - 1 - j], i.e.
 * a2[n] = cA[n + F/4 - 1] (F % 4 == 0 for all four families): a contiguous slice of
 * pywt's coefficients, all of ours (T/2 + 1 of them) and none of theirs past the edges. */
static void test_pywt(void)
{
    const char *fams[] = {"db4", "db6", "sym4", "coif2"};
    int B = 2, C = 3, T = 256;
    pf_wavelet_cfg cfg = pf_wavelet_cfg_defaults(C);
    cfg.init = PF_WAVELET_INIT_EXACT;
    cfg.levels = 1;
    cfg.gate_heads = 1;
    cfg.xattn_heads = 2;
    pf_pstore *p = pf_pstore_create();
    pf_wavelet *w = pf_wavelet_create(&cfg, p, "", B, T);
    CHECK(w && pf_pstore_finalize(p) == 0, "pywt: create: %s", pf_errmsg());
    if (!w) return;
    pf_wavelet_init(w, p, 7);
    float *x = rd("pywt/db4/x", (size_t)B * C * T);
    CHECK(pf_wavelet_forward(w, p, x, B, 0, 0) == 0, "pywt forward: %s", pf_errmsg());
    for (int f = 0; f < 4; f++) {
        int F = pf_wavelet_filter_len(&cfg, f), NC = (T + F - 1) / 2, off = F / 4 - 1, Td = 0;
        CHECK(F % 4 == 0, "%s: %d taps", fams[f], F);
        for (int hi = 0; hi < 2; hi++) {
            char nm[64], what[128];
            snprintf(nm, sizeof nm, "pywt/%s/%s", fams[f], hi ? "cD" : "cA");
            float *ref = rd(nm, (size_t)B * C * NC);
            const float *y = pf_wavelet_filter_output(w, 1, f, hi, &Td);
            CHECK(off + Td <= NC, "%s: slice %d + %d past pywt's %d coefficients", fams[f], off, Td, NC);
            float *sl = t_alloc((size_t)B * C * Td);
            for (int r = 0; r < B * C; r++)
                memcpy(sl + (size_t)r * Td, ref + (size_t)r * NC + off, (size_t)Td * sizeof(float));
            snprintf(what, sizeof what, "init exact level-1 %s %s = pywt.dwt[%d:%d]", fams[f], hi ? "high" : "low",
                     off, off + Td);
            double e = t_relerr(y, sl, (size_t)B * C * Td, 1e-12);
            worst_fwd = fmax(worst_fwd, e);
            printf("  %-58s rel err %.2e\n", what, e);
            CHECK(e < 1e-5, "%s: rel err %.3g", what, e);
            t_free(sl); t_free(ref);
        }
    }
    t_free(x);
    pf_wavelet_destroy(w);
    pf_pstore_destroy(p);
}

static void test_mask(const char *cs)
{
    char g[64], nm[128];
    snprintf(g, sizeof g, "mask/%s", cs);
    int B = (int)attr_i(g, "B"), L = (int)attr_i(g, "L"), D = (int)attr_i(g, "D"), P = (int)attr_i(g, "P");
    pf_mask_cfg mc = {attr_d(g, "ratio"), attr_d(g, "r"), 0};
    snprintf(nm, sizeof nm, "%s/tokens", g); float *tok = rd(nm, (size_t)B * L * D);
    snprintf(nm, sizeof nm, "%s/patches", g); float *pat = rd(nm, (size_t)B * L * P);
    snprintf(nm, sizeof nm, "%s/u", g); float *u = rd(nm, (size_t)B * L);
    float *imp = t_alloc((size_t)B * L), *mask = t_alloc((size_t)B * L);
    for (int kind = 0; kind < 2; kind++) {
        const char *kn = kind ? "pe" : "ts";
        mc.importance = kind;
        pf_mask *m = pf_mask_create(&mc, L);
        CHECK(m != NULL, "%s: %s", g, pf_errmsg());
        if (!m) continue;
        CHECK(pf_mask_importance(m, kind ? pat : tok, B, kind ? P : D, imp) == 0, "%s", pf_errmsg());
        char what[128];
        snprintf(what, sizeof what, "%s importance %s vs numpy", g, kind ? "patch_energy" : "token_sequence");
        snprintf(nm, sizeof nm, "%s/imp_%s", g, kn);
        cmp(what, imp, nm, (size_t)B * L, 0);
        /* same importance and U(0,1) draws as numpy -> the same mask, bit for bit */
        float *ref_imp = rd(nm, (size_t)B * L);
        snprintf(nm, sizeof nm, "%s/mask_%s", g, kn);
        float *ref = rd(nm, (size_t)B * L);
        pf_mask_select(m, ref_imp, u, B, mask);
        int diff = 0, count = 0, want = pf_mask_count(L, mc.mask_ratio);
        for (int i = 0; i < B * L; i++) { diff += mask[i] != ref[i]; count += mask[i] != 0.0f; }
        CHECK(diff == 0, "%s %s: %d tokens differ from numpy's top-k", g, kn, diff);
        CHECK(count == B * want, "%s %s: %d masked, want %d per window", g, kn, count, want);
        /* with our own importance: identical except where scores tie within float error */
        pf_mask_select(m, imp, u, B, mask);
        int swaps = 0;
        for (int i = 0; i < B * L; i++) swaps += mask[i] != ref[i];
        printf("  %-58s %d masked per window, %d/%d tokens differ from numpy\n", what, want, swaps, B * L);
        CHECK(swaps <= 2, "%s %s: %d tokens differ (importance within tolerance should not reorder more)", g, kn,
              swaps);
        t_free(ref); t_free(ref_imp);
        pf_mask_destroy(m);
    }
    t_free(tok); t_free(pat); t_free(u); t_free(imp); t_free(mask);
}

int main(void)
{
    const char *py = getenv("PF_PYTHON"), *src = getenv("PF_SOURCE_DIR");
    if (!py || !*py || access(py, X_OK) != 0 || !src) {
        printf("SKIP: PF_PYTHON (%s) or PF_SOURCE_DIR not set up\n", py ? py : "unset");
        return 77;
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s -c 'import torch, h5py, pywt' 2>/dev/null", py);
    if (system(cmd) != 0) {
        printf("SKIP: %s cannot import torch, h5py and pywt (install python3-torch python3-h5py python3-pywt)\n", py);
        return 77;
    }
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 %s %s/tests/model/golden_wavelet.py golden_wavelet.h5", py, src);
    if (system(cmd) != 0) { fprintf(stderr, "FAIL: golden_wavelet.py failed\n"); return 1; }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    G = H5Fopen("golden_wavelet.h5", H5F_ACC_RDONLY, H5P_DEFAULT);
    if (G < 0) { fprintf(stderr, "FAIL: cannot open golden_wavelet.h5\n"); return 1; }
    int64_t ecg = attr_i("/", "ecg_params");
    pf_wavelet_cfg d = pf_wavelet_cfg_defaults(12);
    CHECK(ecg == 29801 && pf_wavelet_param_count(&d) == 29801,
          "12-lead front-end: torch %lld, C %zu parameters, want 29,801", (long long)ecg, pf_wavelet_param_count(&d));
    test_front_end("pw", PF_WAVELET_INIT_PHYSIOWAVE);
    test_front_end("exact", PF_WAVELET_INIT_EXACT);
    test_initial_taps();
    test_pywt();
    test_mask("long");
    test_mask("odd");
    H5Fclose(G);
    printf("worst rel err vs reference: forward %.2e (tol %.0e), gradients %.2e (tol %.0e)\n", worst_fwd, FWD_TOL,
           worst_grad, GRAD_TOL);
    
    return pf_test_done();
}
