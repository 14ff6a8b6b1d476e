/* The trainer's objective (pf_objective: masked + contrastive + global +
 * peak-aware, model.md 4A-4D) against PyTorch on the same inputs and head
 * weights (golden_objective.py): every term, the gradients of the encoded
 * tokens, of the masked target and of both heads; with an anchor without
 * features, one without R-peaks and one without a negative (counted, not
 * used). Relative error below 1e-4 forward and 1e-3 for gradients. */
#include <unistd.h>

#include "../pf_test.h"
#include "pf_error.h"
#include "pf_h5.h"
#include "pf_objective.h"

static hid_t G;

static float *rd(const char *name, size_t n)
{
    float *x = t_alloc(n);
    if (pf_h5_read_f32(G, name, x, n) < 0) { fprintf(stderr, "%s\n", pf_errmsg()); exit(1); }
    return x;
}

static double attr(const char *obj, const char *name)
{
    double v = 0;
    hid_t a = H5Aopen_by_name(G, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_DOUBLE, &v);
    H5Aclose(a);
    return v;
}

static void cmp(const char *what, const float *c, const char *golden, size_t n, double tol)
{
    float *g = rd(golden, n);
    double e = t_relerr(c, g, n, 1e-12);
    if (getenv("PF_TEST_VERBOSE") || e >= tol) printf("  %-40s rel err %.2e\n", what, e);
    CHECK(e < tol, "%s: rel err %.3g vs torch (tol %.0e)", what, e, tol);
    t_free(g);
}

static void run_mode(const char *mode)
{
    int B = (int)attr(".", "B"), C = (int)attr(".", "C"), L1 = (int)attr(".", "L1"), TP = (int)attr(".", "TP");
    int P = (int)attr(".", "P"), D = (int)attr(".", "D"), F = (int)attr(".", "F"), K = (int)attr(".", "K");
    int R = C * L1, N = R * TP, T = TP * P;
    pf_tfm_cfg tc;
    pf_tfm_preset("tiny", &tc);
    tc.dim = D; tc.heads = 4; tc.patch = P; tc.dropout = 0; tc.rope_dim = 0;
    pf_stage hst;
    pf_rhead *mh = NULL, *sh = NULL;
    CHECK(pf_stage_build_head(&hst, &tc, B * N, B * C * TP, &mh, &sh, 1, NULL) == 0 && mh && sh, "heads: %s", pf_errmsg());
    if (!mh || !sh) return;
    static const char *const pn[] = {"fc1.weight", "fc1.bias", "norm.weight", "norm.bias", "fc2.weight", "fc2.bias"};
    char name[128], gname[160];
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 6; i++) {
            snprintf(name, sizeof name, "%s.%s", h ? "signal_head" : "head", pn[i]);
            int idx = pf_pstore_find(hst.p, name);
            CHECK(idx >= 0, "parameter %s", name);
            snprintf(gname, sizeof gname, "weights/%s", name);
            size_t n = hst.p->info[idx].n;
            float *w = rd(gname, n);
            memcpy(pf_pstore_data(hst.p, idx), w, n * sizeof(float));
            t_free(w);
        }
    pf_pstore_zero_grad(hst.p);
    /* the feature statistics as `physioflow features fit` stores them */
    pf_featstats fs = {.dim = F, .k = K};
    float *mean = rd("mean", F), *std = rd("std", F), *comp = rd("comp", (size_t)K * F);
    fs.mean = calloc(F, sizeof(double)); fs.std = calloc(F, sizeof(double)); fs.components = calloc((size_t)K * F, sizeof(double));
    for (int i = 0; i < F; i++) { fs.mean[i] = mean[i]; fs.std[i] = std[i]; }
    for (int i = 0; i < K * F; i++) fs.components[i] = comp[i];
    pf_objective o = {PF_OBJ_HYBRID, 1, 1, 0.2, 0.1, 40, 3, 0, 0, 0, 0, ""};
    pf_contrast_cfg cc = {(float)attr(".", "tau"), (float)attr(".", "delta"), strcmp(mode, "supcon") ? PF_CONTRAST_PHYSIOCLR : PF_CONTRAST_SUPCON};
    pf_objective_run *run = pf_objective_create(&o, &cc, &fs, mh, sh, B, C, R, TP, P, D);
    float *z = rd("z", (size_t)3 * B * N * D), *tg = rd("target", (size_t)3 * B * N * P), *mk = rd("mask", (size_t)3 * B * N);
    float *x = rd("x", (size_t)B * C * T), *feat = rd("feat", (size_t)B * F), *pkf = rd("peaks", (size_t)B * T), *flf = rd("flags", B);
    uint8_t *pk = malloc((size_t)B * T), *fl = malloc(B);
    for (int i = 0; i < B * T; i++) pk[i] = (uint8_t)pkf[i];
    for (int i = 0; i < B; i++) fl[i] = (uint8_t)flf[i];
    pf_aux a = {B, 3, 1, F, x, feat, pk, fl, NULL, 0};
    float *dz = t_alloc((size_t)3 * B * N * D), *dt = t_alloc((size_t)3 * B * N * P);
    pf_obj_terms t;
    int rc = pf_objective_step(run, hst.p, z, tg, mk, &a, 1, 0, 0, &t, dz, dt);
    CHECK(rc == 0, "%s: objective step: %s", mode, pf_errmsg());
    float v[5] = {(float)t.total, (float)t.masked, (float)t.con, (float)t.global, (float)t.peak};
    static const char *const tn[5] = {"total", "masked", "con", "glob", "peak"};
    for (int i = 0; i < 5; i++) {
        snprintf(gname, sizeof gname, "%s/%s", mode, tn[i]);
        snprintf(name, sizeof name, "%s loss %s", mode, tn[i]);
        cmp(name, &v[i], gname, 1, 1e-4);
    }
    CHECK(t.con_used == (int)attr(mode, "used") && t.con_skipped == (int)attr(mode, "skipped"),
          "%s: %d anchors used, %d without a negative (torch: %g, %g)", mode, t.con_used, t.con_skipped, attr(mode, "used"), attr(mode, "skipped"));
    CHECK(t.no_feat == 1 && t.no_peaks == 1, "%s: one anchor without features (%d), one without peaks (%d) counted", mode, t.no_feat, t.no_peaks);
    CHECK(t.rank_n == (int)attr(mode, "rank_n") && t.rank_ok == (int)attr(mode, "ranked"), "%s: ranking %d/%d (torch %g/%g)", mode,
          t.rank_ok, t.rank_n, attr(mode, "ranked"), attr(mode, "rank_n"));
    snprintf(gname, sizeof gname, "%s/dz", mode);
    cmp("d encoded tokens", dz, gname, (size_t)3 * B * N * D, 1e-3);
    snprintf(gname, sizeof gname, "%s/dtarget", mode);
    cmp("d masked target", dt, gname, (size_t)3 * B * N * P, 1e-3);
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 6; i++) {
            snprintf(name, sizeof name, "%s.%s", h ? "signal_head" : "head", pn[i]);
            int idx = pf_pstore_find(hst.p, name);
            snprintf(gname, sizeof gname, "%s/grad/%s", mode, name);
            cmp(name, pf_pstore_grad(hst.p, idx), gname, hst.p->info[idx].n, 1e-3);
        }
    /* forward only (validation): the same values, no gradient */
    pf_obj_terms t2;
    CHECK(pf_objective_step(run, hst.p, z, tg, mk, &a, 0, 0, 0, &t2, NULL, NULL) == 0 && t2.total == t.total,
          "%s: forward-only pass gives the same loss (%g vs %g)", mode, t2.total, t.total);
    pf_objective_destroy(run);
    free(fs.mean); free(fs.std); free(fs.components);
    t_free(mean); t_free(std); t_free(comp); t_free(z); t_free(tg); t_free(mk); t_free(x); t_free(feat); t_free(pkf); t_free(flf);
    t_free(dz); t_free(dt);
    free(pk); free(fl);
    pf_rhead_destroy(mh);
    pf_rhead_destroy(sh);
    pf_stage_free(&hst);
}

int main(void)
{
    const char *py = getenv("PF_PYTHON"), *src = getenv("PF_SOURCE_DIR");
    if (!py || !*py || access(py, X_OK) != 0 || !src) {
        printf("SKIP: PF_PYTHON (%s) or PF_SOURCE_DIR not set up\n", py ? py : "unset");
        return 77;
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s -c 'import torch, h5py' 2>/dev/null", py);
    if (system(cmd) != 0) {
        printf("SKIP: %s cannot import torch and h5py (install python3-torch python3-h5py)\n", py);
        return 77;
    }
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 %s %s/tests/model/golden_objective.py golden_objective.h5", py, src);
    if (system(cmd) != 0) { fprintf(stderr, "FAIL: golden_objective.py failed\n"); return 1; }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    G = H5Fopen("golden_objective.h5", H5F_ACC_RDONLY, H5P_DEFAULT);
    if (G < 0) { fprintf(stderr, "FAIL: cannot open golden_objective.h5\n"); return 1; }
    run_mode("physioclr");
    run_mode("supcon");
    H5Fclose(G);
    return pf_test_done();
}
