/* The classification head (pf_chead, model.md section 5) against PyTorch:
 * chead_torch.py writes tokens, weights, logits, loss and gradients for every
 * pooling (mean, max, first, last), both heads (mlp, linear) and both losses
 * (cross-entropy with label smoothing and class weights, BCE with positive
 * weights); forward values must agree to rel 1e-4, gradients to 1e-3. Then the
 * training-mode dropout: deterministic per key, and its backward agrees with
 * finite differences of the same masked forward. */
#include <unistd.h>

#include "pf_chead.h"
#include "pf_ckpt.h"
#include "pf_error.h"
#include "../pf_test.h"

static hid_t G;

static int64_t attr_i(hid_t loc, const char *name)
{
    int64_t v = 0;
    pf_h5_attr_read(loc, name, H5T_NATIVE_INT64, &v, 1);
    return v;
}

static void cmp(const char *what, int c, const float *x, hid_t g, const char *name, size_t n, double tol)
{
    float *ref = t_alloc(n);
    if (pf_h5_read_f32(g, name, ref, n) < 0) { fprintf(stderr, "%s\n", pf_errmsg()); exit(1); }
    double e = t_relerr(x, ref, n, 1e-12);
    if (getenv("PF_TEST_VERBOSE") || e >= tol) printf("  case %d %-28s rel err %.2e\n", c, what, e);
    CHECK(e < tol, "case %d %s: rel err %.3g vs torch (tol %.0e)", c, what, e, tol);
    t_free(ref);
}

static void run_case(int c, int B, int T, int D, int H, int K)
{
    char gn[32];
    snprintf(gn, sizeof gn, "case%d", c);
    hid_t g = H5Gopen2(G, gn, H5P_DEFAULT);
    pf_chead_cfg cfg = pf_chead_defaults(D, K);
    cfg.hidden = H;
    cfg.pool = (pf_pool_kind)attr_i(g, "pool");
    cfg.head = attr_i(g, "mlp") ? PF_CHEAD_MLP : PF_CHEAD_LINEAR;
    cfg.loss = attr_i(g, "bce") ? PF_CLOSS_BCE : PF_CLOSS_CE;
    double sm = 0;
    pf_h5_attr_read(g, "smoothing", H5T_NATIVE_DOUBLE, &sm, 1);
    cfg.smoothing = (float)sm;
    if (attr_i(g, "weighted")) {
        float *w = cfg.loss == PF_CLOSS_CE ? cfg.class_weight : cfg.pos_weight;
        if (pf_h5_read_f32(g, "weight", w, (size_t)K) < 0) { fprintf(stderr, "%s\n", pf_errmsg()); exit(1); }
        if (cfg.loss == PF_CLOSS_CE) cfg.has_class_weight = 1; else cfg.has_pos_weight = 1;
    }
    pf_pstore *p = pf_pstore_create();
    pf_chead *h = pf_chead_create(&cfg, p, B, T);
    CHECK(h != NULL, "create: %s", pf_errmsg());
    if (!h) exit(1);
    CHECK_OK(pf_pstore_finalize(p));
    char dn[160];
    for (int i = 0; i < p->count; i++) {
        snprintf(dn, sizeof dn, "p/%s", p->info[i].name);
        CHECK_OK(pf_h5_read_f32(g, dn, pf_pstore_data(p, i), p->info[i].n));
    }
    size_t nz = (size_t)B * T * D;
    float *z = t_alloc(nz), *dz = t_alloc(nz), *tg = t_alloc((size_t)B * K);
    int lab[64];
    CHECK_OK(pf_h5_read_f32(g, "z", z, nz));
    if (cfg.loss == PF_CLOSS_CE) CHECK_OK(pf_h5_read_i32(g, "labels", lab, (size_t)B));
    else CHECK_OK(pf_h5_read_f32(g, "targets", tg, (size_t)B * K));
    float loss = 0;
    pf_pstore_zero_grad(p);
    CHECK_OK(pf_chead_forward(h, p, z, B, T, cfg.loss == PF_CLOSS_CE ? lab : NULL, cfg.loss == PF_CLOSS_BCE ? tg : NULL,
                              0, 0, &loss));
    cmp("logits", c, pf_chead_logits(h), g, "logits", (size_t)B * K, 1e-4);
    cmp("loss", c, &loss, g, "loss", 1, 1e-4);
    CHECK_OK(pf_chead_backward(h, p, dz));
    cmp("dz", c, dz, g, "dz", nz, 1e-3);
    for (int i = 0; i < p->count; i++) {
        snprintf(dn, sizeof dn, "g/%s", p->info[i].name);
        cmp(p->info[i].name, c, pf_pstore_grad(p, i), g, dn, p->info[i].n, 1e-3);
    }
    /* probabilities: softmax rows sum to 1, sigmoid in (0, 1) */
    const float *pr = pf_chead_probs(h);
    for (int b = 0; b < B; b++) {
        double s = 0;
        for (int k = 0; k < K; k++) s += pr[b * K + k];
        if (cfg.loss == PF_CLOSS_CE) CHECK(fabs(s - 1) < 1e-5, "case %d row %d: softmax sums to %g", c, b, s);
    }
    pf_chead_destroy(h);
    pf_pstore_destroy(p);
    H5Gclose(g);
}

/* dropout (train = 1): the same key gives the same loss, another key another one, and
 * the backward matches central differences of the masked forward */
typedef struct { pf_chead *h; pf_pstore *p; float *z, *dz; int B, T, *lab; } fd_ctx;
static double fd_loss(void *v)
{
    fd_ctx *c = v;
    float l = 0;
    pf_chead_forward(c->h, c->p, c->z, c->B, c->T, c->lab, NULL, 1, 42, &l);
    return l;
}
static void fd_grad(void *v)
{
    fd_ctx *c = v;
    pf_pstore_zero_grad(c->p);
    fd_loss(c);
    pf_chead_backward(c->h, c->p, c->dz);
}

static void test_dropout(void)
{
    int B = 4, T = 5, D = 8, K = 3;
    pf_chead_cfg cfg = pf_chead_defaults(D, K);
    cfg.hidden = 16;
    cfg.dropout = 0.3f;
    pf_pstore *p = pf_pstore_create();
    pf_chead *h = pf_chead_create(&cfg, p, B, T);
    CHECK_OK(pf_pstore_finalize(p));
    pf_rng r;
    pf_rng_seed(&r, 5);
    pf_chead_init(h, p, &r);
    /* larger weights than the 0.02 init so the loss moves measurably */
    for (int i = 0; i < p->count; i++)
        if (p->info[i].ndim == 2) t_randn(pf_pstore_data(p, i), p->info[i].n, 0.5f, &r);
    float *z = t_alloc((size_t)B * T * D), *dz = t_alloc((size_t)B * T * D);
    t_randn(z, (size_t)B * T * D, 1.0f, &r);
    int lab[4] = {0, 2, 1, 2};
    float l1, l2, l3, l0;
    pf_chead_forward(h, p, z, B, T, lab, NULL, 1, 42, &l1);
    pf_chead_forward(h, p, z, B, T, lab, NULL, 1, 42, &l2);
    pf_chead_forward(h, p, z, B, T, lab, NULL, 1, 43, &l3);
    pf_chead_forward(h, p, z, B, T, lab, NULL, 0, 42, &l0);
    CHECK(l1 == l2, "same key, different loss %g %g", l1, l2);
    CHECK(l1 != l3 && l1 != l0, "dropout has no effect: %g %g %g", l1, l3, l0);
    fd_ctx c = {h, p, z, dz, B, T, lab};
    fd_input in[2] = {{"z", z, dz, (size_t)B * T * D}, {"fc1.weight", pf_pstore_data(p, 2), pf_pstore_grad(p, 2), p->info[2].n}};
    CHECK(fd_check("chead dropout", &c, fd_loss, fd_grad, in, 2, 1e-2f, 2e-2, 2e-3, 0) == 0, "finite differences disagree");
    /* bad input: a label outside [0, K) is refused, naming it */
    int badlab[4] = {0, 3, 1, 2};
    CHECK(pf_chead_forward(h, p, z, B, T, badlab, NULL, 0, 0, &l0) == PF_ERANGE && strstr(pf_errmsg(), "label 3 of sample 1"),
          "bad label accepted: %s", pf_errmsg());
    pf_chead_destroy(h);
    pf_pstore_destroy(p);
}

int main(void)
{
    const char *py = getenv("PF_PYTHON"), *src = getenv("PF_SOURCE_DIR");
    test_dropout();
    if (!py || !*py || access(py, X_OK) != 0 || !src) {
        printf("SKIP: PF_PYTHON (%s) or PF_SOURCE_DIR not set up (dropout checks: ", py ? py : "unset");
        pf_test_done();
        return pf_test_fail ? 1 : 77;
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s -c 'import torch, h5py' 2>/dev/null", py);
    if (system(cmd) != 0) {
        printf("SKIP: %s cannot import torch and h5py (install python3-torch python3-h5py)\n", py);
        return pf_test_fail ? 1 : 77;
    }
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 %s %s/tests/model/chead_torch.py chead_torch.h5", py, src);
    if (system(cmd) != 0) { fprintf(stderr, "FAIL: chead_torch.py failed\n"); return 1; }
    G = pf_h5_open_read("chead_torch.h5");
    if (G < 0) { fprintf(stderr, "FAIL: %s\n", pf_errmsg()); return 1; }
    int B = (int)attr_i(G, "B"), T = (int)attr_i(G, "T"), D = (int)attr_i(G, "D"), H = (int)attr_i(G, "H"),
        K = (int)attr_i(G, "K"), n = (int)attr_i(G, "ncases");
    for (int c = 0; c < n; c++) run_case(c, B, T, D, H, K);
    H5Fclose(G);
    return pf_test_done();
}
