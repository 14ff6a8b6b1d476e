/* The C model core against PyTorch (Debian's python3-torch): golden_torch.py
 * writes inputs, weights, outputs and gradients; every tensor is compared here
 * with relative error (max |c - torch| / max |torch|) below 1e-4 for forward
 * values and 1e-3 for gradients, and 10 AdamW steps of losses below 1e-4. */
#include <unistd.h>

#include "pf_ckpt.h"
#include "pf_error.h"
#include "pf_ops.h"
#include "../pf_test.h"
#include "pf_mae.h"

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

static void cmp(const char *what, const float *c, const char *golden, size_t n, int is_grad)
{
    float *g = rd(golden, n);
    double e = t_relerr(c, g, n, 1e-12);
    double tol = is_grad ? GRAD_TOL : FWD_TOL;
    if (is_grad) worst_grad = fmax(worst_grad, e); else worst_fwd = fmax(worst_fwd, e);
    if (getenv("PF_TEST_VERBOSE") || e >= tol) printf("  %-44s rel err %.2e\n", what, e);
    CHECK(e < tol, "%s: rel err %.3g vs torch (tol %.0e)", what, e, tol);
    t_free(g);
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

static void test_model(void)
{
    pf_tfm_cfg c;
    pf_tfm_preset("tiny", &c);
    snprintf(c.name, sizeof c.name, "golden");
    c.dim = (int)attr_i("model", "dim"); c.depth = (int)attr_i("model", "depth");
    c.heads = (int)attr_i("model", "heads"); c.patch = (int)attr_i("model", "patch");
    c.mlp_ratio = (int)attr_i("model", "mlp_ratio"); c.dropout = 0.0f;
    int B = (int)attr_i("model", "B"), F = (int)attr_i("model", "F"), TP = (int)attr_i("model", "TP");
    int T = F * TP, N = B * T;
    pf_pstore *p = pf_pstore_create();
    pf_mae *m = pf_mae_create(&c, p, B, T);
    CHECK(m && pf_pstore_finalize(p) == 0, "model: %s", pf_errmsg());
    char nm[256];
    for (int i = 0; i < p->count; i++) {
        snprintf(nm, sizeof nm, "model/param/%s", p->info[i].name);
        float *w = rd(nm, p->info[i].n);
        memcpy(pf_pstore_data(p, i), w, p->info[i].n * sizeof(float));
        t_free(w);
    }
    float *patches = rd("model/patches", (size_t)N * c.patch), *mask = rd("model/mask", (size_t)N);
    float loss;
    CHECK(pf_mae_forward(m, p, patches, mask, B, F, TP, 0, 0, &loss) == 0, "forward: %s", pf_errmsg());
    cmp("model encoder output [B,T,D]", pf_mae_encoded(m), "model/encoded", (size_t)N * c.dim, 0);
    cmp("model reconstruction [B,T,P]", pf_mae_pred(m), "model/pred", (size_t)N * c.patch, 0);
    cmp("model masked-MSE loss", &loss, "model/loss", 1, 0);
    pf_pstore_zero_grad(p);
    pf_mae_backward(m, p);
    for (int i = 0; i < p->count; i++) {
        snprintf(nm, sizeof nm, "model/grad/%s", p->info[i].name);
        char what[256];
        snprintf(what, sizeof what, "grad %s", p->info[i].name);
        cmp(what, pf_pstore_grad(p, i), nm, p->info[i].n, 1);
    }
    printf("model: %d parameter gradients compared\n", p->count);

    /* 10 AdamW steps, schedule and clipping as golden_torch.py */
    pf_adamw_cfg ac = pf_adamw_defaults();
    ac.lr = (float)attr_d("model", "lr"); ac.beta1 = 0.9f; ac.beta2 = 0.95f; ac.eps = 1e-8f;
    ac.weight_decay = 0.01f; ac.decay_all = 1; ac.clip_norm = 1.0f;
    ac.warmup_steps = attr_i("model", "warmup"); ac.total_steps = attr_i("model", "total");
    pf_adamw *o = pf_adamw_create(&ac);
    int steps = (int)ac.total_steps;
    float *ref = rd("model/adamw_losses", (size_t)steps), losses[64];
    pf_pstore_zero_grad(p);
    double worst = 0;
    for (int s = 0; s < steps; s++) {
        pf_mae_forward(m, p, patches, mask, B, F, TP, 0, 0, &losses[s]);
        pf_mae_backward(m, p);
        CHECK(pf_adamw_micro_step(o, p) == 1, "adamw step %d not taken", s);
        double e = fabs(losses[s] - ref[s]) / fabs(ref[s]);
        worst = fmax(worst, e);
        if (getenv("PF_TEST_VERBOSE")) printf("  step %d: C %.7f torch %.7f\n", s, losses[s], ref[s]);
    }
    printf("model: %d AdamW steps, loss %.5f -> %.5f, worst rel err vs torch %.2e\n", steps,
           losses[0], losses[steps - 1], worst);
    CHECK(worst < FWD_TOL, "AdamW trajectory deviates from torch: rel err %.3g", worst);
    CHECK(losses[steps - 1] < losses[0], "training did not reduce the loss");
    worst_fwd = fmax(worst_fwd, worst);
    t_free(ref); t_free(patches); t_free(mask);
    pf_adamw_destroy(o);
    pf_mae_destroy(m);
    pf_pstore_destroy(p);
}

static void test_losses(void)
{
    int N = 6, K = 5;
    float *logits = rd("ce/logits", N * K), probs[64], dl[64], loss;
    int labels[16];
    CHECK(pf_h5_read_i32(G, "ce/labels", labels, N) == 0, "%s", pf_errmsg());
    loss = pf_cross_entropy_forward(probs, logits, labels, N, K, 0.1f);
    pf_cross_entropy_backward(dl, probs, labels, N, K, 0.1f, 1.0f);
    cmp("cross-entropy (smoothing 0.1) loss", &loss, "ce/loss", 1, 0);
    cmp("cross-entropy grad", dl, "ce/grad", N * K, 1);
    t_free(logits);

    logits = rd("bce/logits", N * K);
    float *tg = rd("bce/targets", N * K), *pw = rd("bce/pos_weight", K);
    loss = pf_bce_logits_forward(logits, tg, pw, N, K);
    pf_bce_logits_backward(dl, logits, tg, pw, N, K, 1.0f);
    cmp("bce pos_weight loss", &loss, "bce/loss", 1, 0);
    cmp("bce pos_weight grad", dl, "bce/grad", N * K, 1);
    t_free(logits); t_free(tg); t_free(pw);

    int B = (int)attr_i("contrast", "B"), D = (int)attr_i("contrast", "D"), F = (int)attr_i("contrast", "F");
    float *h = rd("contrast/h", (size_t)B * D), *hs = rd("contrast/hs", (size_t)B * D);
    float *ha = rd("contrast/ha", (size_t)B * D), *f = rd("contrast/f", (size_t)B * F);
    float *scr = t_alloc(pf_contrastive_scratch(B, D));
    float *dh = t_alloc((size_t)B * D), *dhs = t_alloc((size_t)B * D), *dha = t_alloc((size_t)B * D);
    pf_contrast_cfg cc = {(float)attr_d("contrast", "tau"), (float)attr_d("contrast", "delta"), 0};
    const char *names[2] = {"physioclr", "supcon"};
    for (int mode = 0; mode < 2; mode++)
        for (int adj = 0; adj < 2; adj++) {
            char g[64], what[128];
            cc.mode = mode;
            pf_contrast_stats st;
            loss = pf_contrastive_forward(&cc, h, hs, adj ? ha : NULL, f, B, D, F, scr, &st);
            memset(dh, 0, (size_t)B * D * 4); memset(dhs, 0, (size_t)B * D * 4); memset(dha, 0, (size_t)B * D * 4);
            pf_contrastive_backward(&cc, dh, dhs, adj ? dha : NULL, h, hs, adj ? ha : NULL, f, B, D, F, scr, 1.0f);
            snprintf(g, sizeof g, "contrast/%s%s", names[mode], adj ? "_adj" : "");
            CHECK(st.used == attr_i(g, "used"), "%s: %d anchors used, torch %lld", g, st.used, (long long)attr_i(g, "used"));
            snprintf(what, sizeof what, "%s loss", g);
            char ds[160];
            snprintf(ds, sizeof ds, "%s/loss", g); cmp(what, &loss, ds, 1, 0);
            snprintf(what, sizeof what, "%s dh", g); snprintf(ds, sizeof ds, "%s/dh", g); cmp(what, dh, ds, (size_t)B * D, 1);
            snprintf(what, sizeof what, "%s dhs", g); snprintf(ds, sizeof ds, "%s/dhs", g); cmp(what, dhs, ds, (size_t)B * D, 1);
            if (adj) { snprintf(what, sizeof what, "%s dha", g); snprintf(ds, sizeof ds, "%s/dha", g); cmp(what, dha, ds, (size_t)B * D, 1); }
        }
    t_free(h); t_free(hs); t_free(ha); t_free(f); t_free(scr); t_free(dh); t_free(dhs); t_free(dha);
}

static void test_wavelet_ops(void)
{
    const char *grp[2] = {"conv_grouped", "conv_depthwise"};
    for (int i = 0; i < 2; i++) {
        int B = (int)attr_i(grp[i], "B"), CIN = (int)attr_i(grp[i], "CIN"), COUT = (int)attr_i(grp[i], "COUT");
        int T = (int)attr_i(grp[i], "T"), K = (int)attr_i(grp[i], "K"), Gr = (int)attr_i(grp[i], "G");
        int TO = pf_conv1d_out_len(T, K, K / 2);
        char n[128], w2[128];
        size_t nx = (size_t)B * CIN * T, nw = (size_t)COUT * (CIN / Gr) * K, ny = (size_t)B * COUT * TO;
#define RDG(var, key, cnt) snprintf(n, sizeof n, "%s/%s", grp[i], key); float *var = rd(n, cnt)
        RDG(x, "x", nx); RDG(w, "w", nw); RDG(b, "b", (size_t)COUT); RDG(gy, "gy", ny);
#undef RDG
        float *y = t_alloc(ny), *dx = t_alloc(nx), *dw = t_alloc(nw), *db = t_alloc(COUT);
        pf_conv1d_forward(y, x, w, b, B, CIN, COUT, T, K, K / 2, Gr);
        pf_conv1d_backward(dx, dw, db, gy, x, w, B, CIN, COUT, T, K, K / 2, Gr);
        snprintf(w2, sizeof w2, "%s forward", grp[i]); snprintf(n, sizeof n, "%s/y", grp[i]); cmp(w2, y, n, ny, 0);
        snprintf(w2, sizeof w2, "%s dx", grp[i]); snprintf(n, sizeof n, "%s/dx", grp[i]); cmp(w2, dx, n, nx, 1);
        snprintf(w2, sizeof w2, "%s dw", grp[i]); snprintf(n, sizeof n, "%s/dw", grp[i]); cmp(w2, dw, n, nw, 1);
        snprintf(w2, sizeof w2, "%s db", grp[i]); snprintf(n, sizeof n, "%s/db", grp[i]); cmp(w2, db, n, COUT, 1);
        t_free(x); t_free(w); t_free(b); t_free(gy); t_free(y); t_free(dx); t_free(dw); t_free(db);
    }
    float *ux = rd("upsample/x", 3 * 1025), *uy = t_alloc(3 * 2048);
    pf_upsample_nearest_forward(uy, ux, 3, 1025, 2048);
    cmp("nearest upsample 1025 -> 2048 (F.interpolate)", uy, "upsample/y", 3 * 2048, 0);
    float *pe = t_alloc(5 * 7 * 24);
    pf_posembed_2d_sincos(pe, 5, 7, 24);
    cmp("2-D sin-cos position embedding", pe, "posembed/pe", 5 * 7 * 24, 0);
    t_free(ux); t_free(uy); t_free(pe);
}

/* cross-attention composed from the ops, against nn.MultiheadAttention:
 * q = x Wq^T + bq, k = ctx Wk^T + bk, v = ctx Wv^T + bv (in_proj split in three),
 * heads, softmax(q k^T / sqrt(hd)) v, merge, out_proj. */
static void test_cross_attention(void)
{
    int B = (int)attr_i("xattn", "B"), TQ = (int)attr_i("xattn", "TQ"), TK = (int)attr_i("xattn", "TK");
    int D = (int)attr_i("xattn", "D"), H = (int)attr_i("xattn", "H"), hd = D / H;
    size_t nq = (size_t)B * TQ * D, nk = (size_t)B * TK * D;
    float *x = rd("xattn/x", nq), *ctx = rd("xattn/ctx", nk), *go = rd("xattn/gout", nq);
    float *iw = rd("xattn/in_w", 3 * D * D), *ib = rd("xattn/in_b", 3 * D);
    float *ow = rd("xattn/out_w", D * D), *ob = rd("xattn/out_b", D);
    float *q = t_alloc(nq), *k = t_alloc(nk), *v = t_alloc(nk), *qh = t_alloc(nq), *kh = t_alloc(nk),
          *vh = t_alloc(nk), *oh = t_alloc(nq), *att = t_alloc((size_t)B * H * TQ * TK), *mg = t_alloc(nq),
          *out = t_alloc(nq);
    const float *Wq = iw, *Wk = iw + D * D, *Wv = iw + 2 * D * D;
    pf_linear_forward(q, x, Wq, ib, B * TQ, D, D);
    pf_linear_forward(k, ctx, Wk, ib + D, B * TK, D, D);
    pf_linear_forward(v, ctx, Wv, ib + 2 * D, B * TK, D, D);
    pf_heads_split(qh, q, B, TQ, H, hd, D, 0);
    pf_heads_split(kh, k, B, TK, H, hd, D, 0);
    pf_heads_split(vh, v, B, TK, H, hd, D, 0);
    float scale = 1.0f / sqrtf((float)hd);
    pf_sdpa_forward(oh, att, qh, kh, vh, B * H, TQ, TK, hd, scale);
    pf_heads_merge(mg, oh, B, TQ, H, hd);
    pf_linear_forward(out, mg, ow, ob, B * TQ, D, D);
    cmp("cross-attention output", out, "xattn/out", nq, 0);
    /* backward */
    float *dmg = t_alloc(nq), *doh = t_alloc(nq), *dqh = t_alloc(nq), *dkh = t_alloc(nk), *dvh = t_alloc(nk),
          *dq = t_alloc(nq), *dk = t_alloc(nk), *dv = t_alloc(nk), *dx = t_alloc(nq), *dctx = t_alloc(nk),
          *diw = t_alloc(3 * D * D), *dib = t_alloc(3 * D), *dow = t_alloc(D * D), *dob = t_alloc(D),
          *scr = t_alloc(pf_sdpa_scratch(TQ, TK));
    pf_linear_backward(dmg, dow, dob, go, mg, ow, B * TQ, D, D);
    pf_heads_merge_backward(doh, dmg, B, TQ, H, hd);
    pf_sdpa_backward(dqh, dkh, dvh, scr, doh, qh, kh, vh, att, B * H, TQ, TK, hd, scale);
    pf_heads_split_backward(dq, dqh, B, TQ, H, hd, D, 0);
    pf_heads_split_backward(dk, dkh, B, TK, H, hd, D, 0);
    pf_heads_split_backward(dv, dvh, B, TK, H, hd, D, 0);
    pf_linear_backward(dx, diw, dib, dq, x, Wq, B * TQ, D, D);
    pf_linear_backward(dctx, diw + D * D, dib + D, dk, ctx, Wk, B * TK, D, D);
    pf_linear_backward(dctx, diw + 2 * D * D, dib + 2 * D, dv, ctx, Wv, B * TK, D, D);
    cmp("cross-attention d query input", dx, "xattn/dx", nq, 1);
    cmp("cross-attention d context", dctx, "xattn/dctx", nk, 1);
    cmp("cross-attention d in_proj_weight", diw, "xattn/d_in_w", 3 * D * D, 1);
    cmp("cross-attention d in_proj_bias", dib, "xattn/d_in_b", 3 * D, 1);
    cmp("cross-attention d out_proj.weight", dow, "xattn/d_out_w", D * D, 1);
    cmp("cross-attention d out_proj.bias", dob, "xattn/d_out_b", D, 1);
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
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 %s %s/tests/model/golden_torch.py golden_torch.h5", py, src);
    if (system(cmd) != 0) { fprintf(stderr, "FAIL: golden_torch.py failed\n"); return 1; }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    G = H5Fopen("golden_torch.h5", H5F_ACC_RDONLY, H5P_DEFAULT);
    if (G < 0) { fprintf(stderr, "FAIL: cannot open golden_torch.h5\n"); return 1; }
    test_model();
    test_losses();
    test_wavelet_ops();
    test_cross_attention();
    H5Fclose(G);
    printf("worst rel err vs torch: forward %.2e (tol %.0e), gradients %.2e (tol %.0e)\n", worst_fwd,
           FWD_TOL, worst_grad, GRAD_TOL);
    return pf_test_done();
}
