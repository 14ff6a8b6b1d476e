/* Every op's backward against central finite differences of its forward.
 * The scalar probed is L = sum(out * W) with a fixed random W (accumulated in
 * double), so the analytic input gradient is backward(dout = W). Losses are
 * probed directly. Also checks that the checker itself rejects a wrong gradient. */
#include "pf_ops.h"
#include "../pf_test.h"

static pf_rng R;
static float *X, *Y, *Z, *W1, *B1, *OUT, *WOUT, *DX, *DY, *DZ, *DW1, *DB1, *S1, *S2, *S3;
static int n1, n2, n3, n4, n5;   /* op dimensions */
static uint8_t MASKB[4096];
static int IDX[4096];
static float FMASK[4096];
static float wrong_scale = 1.0f;

static double weighted(const float *o, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)o[i] * WOUT[i];
    return s;
}
static void zero(float *p, size_t n) { memset(p, 0, n * sizeof(float)); }
static void setup(size_t n)
{
    float **all[] = {&X, &Y, &Z, &W1, &B1, &OUT, &WOUT, &DX, &DY, &DZ, &DW1, &DB1, &S1, &S2, &S3};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) { t_free(*all[i]); *all[i] = t_alloc(n); }
    t_randn(X, n, 1, &R); t_randn(Y, n, 1, &R); t_randn(Z, n, 1, &R);
    t_randn(W1, n, 0.5f, &R); t_randn(B1, n, 0.5f, &R); t_randn(WOUT, n, 1, &R);
}
static int report(const char *op, int bad)
{
    printf("%-24s %s\n", op, bad ? "FAIL" : "ok");
    if (bad) pf_test_fail++;
    return bad;
}
#define IN(nm, p, dp, n) {nm, p, dp, (size_t)(n)}

/* ---- linear: x [N, IN], w [OUT, IN], b [OUT] */
static double L_linear(void *c) { pf_linear_forward(OUT, X, W1, B1, n1, n2, n3); return weighted(OUT, (size_t)n1 * n3); }
static void G_linear(void *c)
{
    zero(DX, (size_t)n1 * n2); zero(DW1, (size_t)n3 * n2); zero(DB1, n3);
    pf_linear_backward(DX, DW1, DB1, WOUT, X, W1, n1, n2, n3);
    for (int i = 0; i < n1 * n2; i++) DX[i] *= wrong_scale;
}
/* ---- bmm: a [B, M, K] = X, b [B, K, N] = Y */
static double L_bmm(void *c) { pf_bmm_forward(OUT, X, Y, n1, n2, n3, n4); return weighted(OUT, (size_t)n1 * n2 * n4); }
static void G_bmm(void *c)
{
    zero(DX, (size_t)n1 * n2 * n3); zero(DY, (size_t)n1 * n3 * n4);
    pf_bmm_backward(DX, DY, WOUT, X, Y, n1, n2, n3, n4);
}
/* ---- layernorm: x [N, C] */
static double L_ln(void *c) { pf_layernorm_forward(OUT, S1, S2, X, W1, B1, n1, n2, 1e-5f); return weighted(OUT, (size_t)n1 * n2); }
static void G_ln(void *c)
{
    pf_layernorm_forward(OUT, S1, S2, X, W1, B1, n1, n2, 1e-5f);
    zero(DX, (size_t)n1 * n2); zero(DW1, n2); zero(DB1, n2);
    pf_layernorm_backward(DX, DW1, DB1, WOUT, X, S1, S2, W1, n1, n2);
}
/* ---- elementwise */
static double L_gelu(void *c) { pf_gelu_forward(OUT, X, n1); return weighted(OUT, n1); }
static void G_gelu(void *c) { zero(DX, n1); pf_gelu_backward(DX, WOUT, X, n1); }
static double L_sig(void *c) { pf_sigmoid_forward(OUT, X, n1); return weighted(OUT, n1); }
static void G_sig(void *c) { pf_sigmoid_forward(OUT, X, n1); zero(DX, n1); pf_sigmoid_backward(DX, WOUT, OUT, n1); }
static double L_sm(void *c) { pf_softmax_forward(OUT, X, n1, n2); return weighted(OUT, (size_t)n1 * n2); }
static void G_sm(void *c) { pf_softmax_forward(OUT, X, n1, n2); zero(DX, (size_t)n1 * n2); pf_softmax_backward(DX, WOUT, OUT, n1, n2); }
static double L_add(void *c) { pf_add_forward(OUT, X, Y, n1); return weighted(OUT, n1); }
static void G_add(void *c) { zero(DX, n1); zero(DY, n1); pf_add_backward(DX, DY, WOUT, n1); }
static double L_drop(void *c)
{
    pf_rng r; pf_rng_seed(&r, pf_rng_key(7, 1, 2, 3));   /* same mask every call */
    pf_dropout_forward(OUT, MASKB, X, n1, 0.3f, &r);
    return weighted(OUT, n1);
}
static void G_drop(void *c) { L_drop(c); zero(DX, n1); pf_dropout_backward(DX, WOUT, MASKB, n1, 0.3f); }
/* ---- rope: x [BH, T, hd], table in S3 */
static double L_rope(void *c)
{
    memcpy(OUT, X, (size_t)n1 * n2 * n3 * sizeof(float));
    pf_rope_apply(OUT, S3, n1, n2, n3, n4, 0);
    return weighted(OUT, (size_t)n1 * n2 * n3);
}
static void G_rope(void *c)
{
    memcpy(DX, WOUT, (size_t)n1 * n2 * n3 * sizeof(float));
    pf_rope_apply(DX, S3, n1, n2, n3, n4, 1);
}
/* ---- sdpa: q [BH, Tq, hd] = X, k, v [BH, Tk, hd] = Y, Z; att in S1, scratch S2 */
static double L_sdpa(void *c) { pf_sdpa_forward(OUT, S1, X, Y, Z, n1, n2, n3, n4, 0.35f); return weighted(OUT, (size_t)n1 * n2 * n4); }
static void G_sdpa(void *c)
{
    L_sdpa(c);
    zero(DX, (size_t)n1 * n2 * n4); zero(DY, (size_t)n1 * n3 * n4); zero(DZ, (size_t)n1 * n3 * n4);
    pf_sdpa_backward(DX, DY, DZ, S2, WOUT, X, Y, Z, S1, n1, n2, n3, n4, 0.35f);
}
/* ---- heads split (B, T, H, hd, ld=3*H*hd, col = H*hd) then merge */
static double L_heads(void *c)
{
    pf_heads_split(S1, X, n1, n2, n3, n4, 3 * n3 * n4, n3 * n4);
    pf_heads_merge(OUT, S1, n1, n2, n3, n4);
    return weighted(OUT, (size_t)n1 * n2 * n3 * n4);
}
static void G_heads(void *c)
{
    zero(S2, (size_t)n1 * n2 * n3 * n4); zero(DX, (size_t)n1 * n2 * 3 * n3 * n4);
    pf_heads_merge_backward(S2, WOUT, n1, n2, n3, n4);
    pf_heads_split_backward(DX, S2, n1, n2, n3, n4, 3 * n3 * n4, n3 * n4);
}
/* ---- conv1d: n1 B, n2 CIN, n3 COUT, n4 T, n5 K; pad K/2; groups in IDX[0] */
static size_t conv_out(void) { return (size_t)n1 * n3 * pf_conv1d_out_len(n4, n5, n5 / 2); }
static double L_conv(void *c) { pf_conv1d_forward(OUT, X, W1, B1, n1, n2, n3, n4, n5, n5 / 2, IDX[0]); return weighted(OUT, conv_out()); }
static void G_conv(void *c)
{
    zero(DX, (size_t)n1 * n2 * n4); zero(DW1, (size_t)n3 * (n2 / IDX[0]) * n5); zero(DB1, n3);
    pf_conv1d_backward(DX, DW1, DB1, WOUT, X, W1, n1, n2, n3, n4, n5, n5 / 2, IDX[0]);
}
/* ---- decimate / upsample: rows n1, T n2, factor / out len n3 */
static double L_dec(void *c) { pf_decimate_forward(OUT, X, n1, n2, n3); return weighted(OUT, (size_t)n1 * pf_decimate_out_len(n2, n3)); }
static void G_dec(void *c) { zero(DX, (size_t)n1 * n2); pf_decimate_backward(DX, WOUT, n1, n2, n3); }
static double L_up(void *c) { pf_upsample_nearest_forward(OUT, X, n1, n2, n3); return weighted(OUT, (size_t)n1 * n3); }
static void G_up(void *c) { zero(DX, (size_t)n1 * n2); pf_upsample_nearest_backward(DX, WOUT, n1, n2, n3); }
/* ---- pooling: x [B, T, D] */
static double L_mean(void *c) { pf_meanpool_forward(OUT, X, n1, n2, n3); return weighted(OUT, (size_t)n1 * n3); }
static void G_mean(void *c) { zero(DX, (size_t)n1 * n2 * n3); pf_meanpool_backward(DX, WOUT, n1, n2, n3); }
static double L_max(void *c) { pf_maxpool_forward(OUT, IDX, X, n1, n2, n3); return weighted(OUT, (size_t)n1 * n3); }
static void G_max(void *c) { L_max(c); zero(DX, (size_t)n1 * n2 * n3); pf_maxpool_backward(DX, WOUT, IDX, n1, n2, n3); }
/* ---- losses */
static double L_mse(void *c) { return pf_mse_masked_forward(X, Y, FMASK, n1, n2); }
static void G_mse(void *c) { zero(DX, (size_t)n1 * n2); pf_mse_masked_backward(DX, X, Y, FMASK, n1, n2, 1.0f); }
static double L_ce(void *c) { return pf_cross_entropy_forward(S1, X, IDX, n1, n2, 0.1f); }
static void G_ce(void *c) { L_ce(c); pf_cross_entropy_backward(DX, S1, IDX, n1, n2, 0.1f, 1.0f); }
static double L_bce(void *c) { return pf_bce_logits_forward(X, Y, W1, n1, n2); }
static void G_bce(void *c) { pf_bce_logits_backward(DX, X, Y, W1, n1, n2, 1.0f); }
/* contrastive: h = X [B, D], hs = Y, ha = Z (or NULL when IDX[1] == 0), f = W1 [B, F] */
static pf_contrast_cfg CC;
static double L_con(void *c) { return pf_contrastive_forward(&CC, X, Y, IDX[1] ? Z : NULL, W1, n1, n2, n3, S3, NULL); }
static void G_con(void *c)
{
    zero(DX, (size_t)n1 * n2); zero(DY, (size_t)n1 * n2); zero(DZ, (size_t)n1 * n2);
    pf_contrastive_backward(&CC, DX, DY, IDX[1] ? DZ : NULL, X, Y, IDX[1] ? Z : NULL, W1, n1, n2, n3, S3, 1.0f);
}

#define RT 2e-2
#define AT 2e-3

int main(void)
{
    pf_rng_seed(&R, pf_rng_key(2026, 5, 0, 0));
    int v = getenv("PF_TEST_VERBOSE") != NULL;

    setup(4096); n1 = 5; n2 = 7; n3 = 6;
    { fd_input in[] = {IN("x", X, DX, n1 * n2), IN("w", W1, DW1, n3 * n2), IN("b", B1, DB1, n3)};
      report("linear", fd_check("linear", 0, L_linear, G_linear, in, 3, 1e-2f, RT, AT, v)); }
    /* the checker must reject a gradient that is 10% off */
    { wrong_scale = 1.1f; fd_quiet = 1; fd_input in[] = {IN("x", X, DX, n1 * n2)};
      int bad = fd_check("linear(wrong)", 0, L_linear, G_linear, in, 1, 1e-2f, RT, AT, 0);
      wrong_scale = 1.0f; fd_quiet = 0;
      printf("%-24s %s\n", "checker rejects 10% off", bad ? "ok" : "FAIL");
      CHECK(bad > 0, "finite-difference checker accepted a gradient scaled by 1.1"); }

    setup(4096); n1 = 3; n2 = 4; n3 = 5; n4 = 6;
    { fd_input in[] = {IN("a", X, DX, n1 * n2 * n3), IN("b", Y, DY, n1 * n3 * n4)};
      report("bmm", fd_check("bmm", 0, L_bmm, G_bmm, in, 2, 1e-2f, RT, AT, v)); }

    setup(4096); n1 = 6; n2 = 16;
    for (int i = 0; i < n2; i++) W1[i] = 1.0f + 0.3f * W1[i];
    { fd_input in[] = {IN("x", X, DX, n1 * n2), IN("w", W1, DW1, n2), IN("b", B1, DB1, n2)};
      report("layernorm", fd_check("layernorm", 0, L_ln, G_ln, in, 3, 1e-2f, RT, AT, v)); }

    setup(4096); n1 = 200;
    for (int i = 0; i < n1; i++) X[i] *= 2.5f;
    { fd_input in[] = {IN("x", X, DX, n1)};
      report("gelu", fd_check("gelu", 0, L_gelu, G_gelu, in, 1, 1e-2f, RT, AT, v));
      report("sigmoid", fd_check("sigmoid", 0, L_sig, G_sig, in, 1, 1e-2f, RT, AT, v)); }
    { fd_input in[] = {IN("a", X, DX, n1), IN("b", Y, DY, n1)};
      report("add", fd_check("add", 0, L_add, G_add, in, 2, 1e-2f, RT, AT, v)); }
    { fd_input in[] = {IN("x", X, DX, n1)};
      report("dropout", fd_check("dropout", 0, L_drop, G_drop, in, 1, 1e-2f, RT, AT, v)); }

    setup(4096); n1 = 4; n2 = 9;
    { fd_input in[] = {IN("x", X, DX, n1 * n2)};
      report("softmax", fd_check("softmax", 0, L_sm, G_sm, in, 1, 1e-2f, RT, AT, v)); }

    setup(4096); n1 = 3; n2 = 11; n3 = 8; n4 = 6;   /* BH, T, hd, rope_dim < hd */
    pf_rope_table(S3, n2, n4, 10000.0f);
    { fd_input in[] = {IN("x", X, DX, n1 * n2 * n3)};
      report("rope", fd_check("rope", 0, L_rope, G_rope, in, 1, 1e-2f, RT, AT, v)); }

    setup(4096); n1 = 2; n2 = 5; n3 = 7; n4 = 4;     /* BH, Tq, Tk, hd: cross-attention shape */
    CHECK(pf_sdpa_scratch(n2, n3) <= 4096, "sdpa scratch exceeds the test buffer");
    { fd_input in[] = {IN("q", X, DX, n1 * n2 * n4), IN("k", Y, DY, n1 * n3 * n4), IN("v", Z, DZ, n1 * n3 * n4)};
      report("sdpa", fd_check("sdpa", 0, L_sdpa, G_sdpa, in, 3, 1e-2f, RT, AT, v)); }

    setup(4096); n1 = 2; n2 = 3; n3 = 2; n4 = 4;
    { fd_input in[] = {IN("qkv", X, DX, n1 * n2 * 3 * n3 * n4)};
      int bad = report("heads split/merge", fd_check("heads", 0, L_heads, G_heads, in, 1, 1e-2f, RT, AT, v));
      /* and the q/v thirds get exactly zero gradient */
      for (int i = 0; i < n1 * n2 && !bad; i++)
          for (int j = 0; j < n3 * n4; j++)
              CHECK(DX[i * 3 * n3 * n4 + j] == 0.0f && DX[i * 3 * n3 * n4 + 2 * n3 * n4 + j] == 0.0f,
                    "heads split leaked gradient outside its column block"); }

    setup(4096); n1 = 2; n2 = 4; n3 = 6; n4 = 13; n5 = 5; IDX[0] = 2;   /* grouped */
    { fd_input in[] = {IN("x", X, DX, n1 * n2 * n4), IN("w", W1, DW1, n3 * (n2 / 2) * n5), IN("b", B1, DB1, n3)};
      report("conv1d grouped", fd_check("conv1d grouped", 0, L_conv, G_conv, in, 3, 1e-2f, RT, AT, v)); }
    setup(4096); n1 = 2; n2 = 3; n3 = 3; n4 = 16; n5 = 6; IDX[0] = 3;  /* depthwise, even K */
    { fd_input in[] = {IN("x", X, DX, n1 * n2 * n4), IN("w", W1, DW1, n3 * n5), IN("b", B1, DB1, n3)};
      report("conv1d depthwise", fd_check("conv1d depthwise", 0, L_conv, G_conv, in, 3, 1e-2f, RT, AT, v)); }

    setup(4096); n1 = 3; n2 = 11; n3 = 2;
    { fd_input in[] = {IN("x", X, DX, n1 * n2)};
      report("decimate", fd_check("decimate", 0, L_dec, G_dec, in, 1, 1e-2f, RT, AT, v)); }
    n1 = 3; n2 = 7; n3 = 16;
    { fd_input in[] = {IN("x", X, DX, n1 * n2)};
      report("upsample nearest", fd_check("upsample", 0, L_up, G_up, in, 1, 1e-2f, RT, AT, v)); }

    setup(4096); n1 = 2; n2 = 5; n3 = 6;
    { fd_input in[] = {IN("x", X, DX, n1 * n2 * n3)};
      report("meanpool", fd_check("meanpool", 0, L_mean, G_mean, in, 1, 1e-2f, RT, AT, v));
      report("maxpool", fd_check("maxpool", 0, L_max, G_max, in, 1, 1e-3f, RT, AT, v)); }

    setup(4096); n1 = 6; n2 = 5;
    for (int i = 0; i < n1; i++) FMASK[i] = (float)(i % 2);
    { fd_input in[] = {IN("pred", X, DX, n1 * n2), IN("target", Y, DX, 0)};
      report("mse masked", fd_check("mse masked", 0, L_mse, G_mse, in, 1, 1e-2f, RT, AT, v));
      /* unmasked tokens get zero gradient and do not change the loss */
      double l0 = L_mse(0); X[0] += 5.0f; double l1 = L_mse(0); X[0] -= 5.0f;
      CHECK(l0 == l1, "mse masked: unmasked token changed the loss (%g vs %g)", l0, l1); }

    setup(4096); n1 = 5; n2 = 4;
    for (int i = 0; i < n1; i++) IDX[i] = i % n2;
    { fd_input in[] = {IN("logits", X, DX, n1 * n2)};
      report("cross-entropy smooth", fd_check("cross-entropy", 0, L_ce, G_ce, in, 1, 1e-2f, RT, AT, v)); }

    setup(4096); n1 = 4; n2 = 3;
    for (int i = 0; i < n1 * n2; i++) Y[i] = (float)(pf_rng_u64(&R) & 1);
    for (int i = 0; i < n2; i++) W1[i] = 0.5f + i;
    { fd_input in[] = {IN("logits", X, DX, n1 * n2)};
      report("bce pos_weight", fd_check("bce", 0, L_bce, G_bce, in, 1, 1e-2f, RT, AT, v)); }

    setup(8192); n1 = 6; n2 = 5; n3 = 4;
    CC.tau = 0.5f; CC.delta = 0.25f;   /* larger tau keeps FD in float well conditioned */
    for (int mode = 0; mode < 2; mode++)
        for (int adj = 0; adj < 2; adj++) {
            CC.mode = mode; IDX[1] = adj;
            char nm[64];
            snprintf(nm, sizeof nm, "contrastive %s%s", mode ? "supcon" : "physioclr", adj ? "+adj" : "");
            fd_input in[] = {IN("h", X, DX, n1 * n2), IN("hs", Y, DY, n1 * n2), IN("ha", Z, DZ, adj ? n1 * n2 : 0)};
            report(nm, fd_check(nm, 0, L_con, G_con, in, adj ? 3 : 2, 1e-2f, RT, AT, v));
        }

    return pf_test_done();
}
