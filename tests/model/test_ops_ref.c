/* Optimised kernels against their naive references (same inputs, relative
 * error over the tensor's scale), plus exact-value checks of RoPE and the 2-D
 * sin-cos position embedding. */
#include "pf_ops.h"
#include "../pf_test.h"

#include <omp.h>

static void fill(float *x, size_t n, pf_rng *r) { t_randn(x, n, 1.0f, r); }

static void cmp(const char *what, const float *a, const float *b, size_t n, double tol)
{
    double e = t_relerr(a, b, n, 1e-6);
    printf("%-32s rel err %.2e (tol %.0e)\n", what, e, tol);
    CHECK(e < tol || (tol == 0 && e == 0), "%s: optimised vs naive rel err %.3g >= %.3g", what, e, tol);
}

int main(void)
{
    pf_rng r;
    pf_rng_seed(&r, pf_rng_key(5, 0, 0, 1));
    enum { N = 37, IN = 70, OUT = 53 };
    float *x = t_alloc(N * IN), *w = t_alloc(OUT * IN), *b = t_alloc(OUT), *dy = t_alloc(N * OUT);
    float *y1 = t_alloc(N * OUT), *y2 = t_alloc(N * OUT);
    float *dx1 = t_alloc(N * IN), *dx2 = t_alloc(N * IN), *dw1 = t_alloc(OUT * IN),
          *dw2 = t_alloc(OUT * IN), *db1 = t_alloc(OUT), *db2 = t_alloc(OUT);
    fill(x, N * IN, &r); fill(w, OUT * IN, &r); fill(b, OUT, &r); fill(dy, N * OUT, &r);
    /* nonzero starting gradients: backward must accumulate, not overwrite */
    fill(dx1, N * IN, &r); memcpy(dx2, dx1, N * IN * sizeof(float));
    fill(dw1, OUT * IN, &r); memcpy(dw2, dw1, OUT * IN * sizeof(float));
    pf_linear_forward(y1, x, w, b, N, IN, OUT);
    pf_linear_forward_naive(y2, x, w, b, N, IN, OUT);
    cmp("linear forward (sgemm)", y1, y2, N * OUT, 1e-5);
    pf_linear_backward(dx1, dw1, db1, dy, x, w, N, IN, OUT);
    pf_linear_backward_naive(dx2, dw2, db2, dy, x, w, N, IN, OUT);
    cmp("linear backward dx", dx1, dx2, N * IN, 1e-5);
    cmp("linear backward dw", dw1, dw2, OUT * IN, 1e-5);
    cmp("linear backward db", db1, db2, OUT, 1e-5);

    /* pf_gemm large enough to be split over workers, all four transpose cases */
    {
        enum { GM = 300, GN = 130, GK = 120 };
        float *A = t_alloc(GM * GK), *Bm = t_alloc(GK * GM), *C1 = t_alloc(GM * GN), *C2 = t_alloc(GM * GN);
        fill(A, GM * GK, &r); fill(Bm, GK * GM, &r);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int wide = 0; wide < 2; wide++) {
                    /* wide = 1 swaps the roles so the split runs over N instead of M */
                    int M = wide ? GN : GM, N = wide ? GM : GN;
                    fill(C1, (size_t)M * N, &r);
                    memcpy(C2, C1, (size_t)M * N * sizeof(float));
                    pf_gemm(ta, tb, M, N, GK, 0.5f, A, ta ? M : GK, Bm, tb ? GK : N, 0.25f, C1, N);
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < N; j++) {
                            double s = 0;
                            for (int k = 0; k < GK; k++)
                                s += (double)(ta ? A[k * M + i] : A[i * GK + k]) * (tb ? Bm[j * GK + k] : Bm[k * N + j]);
                            C2[i * N + j] = (float)(0.5 * s + 0.25 * C2[i * N + j]);
                        }
                    char what[64];
                    snprintf(what, sizeof what, "pf_gemm ta=%d tb=%d %dx%dx%d", ta, tb, M, N, GK);
                    cmp(what, C1, C2, (size_t)M * N, 1e-5);
                }
    }

    enum { BA = 3, M = 17, K = 29, NN = 11 };
    float *a = t_alloc(BA * M * K), *bm = t_alloc(BA * K * NN), *c1 = t_alloc(BA * M * NN),
          *c2 = t_alloc(BA * M * NN), *dc = t_alloc(BA * M * NN);
    float *da1 = t_alloc(BA * M * K), *da2 = t_alloc(BA * M * K), *dbm1 = t_alloc(BA * K * NN),
          *dbm2 = t_alloc(BA * K * NN);
    fill(a, BA * M * K, &r); fill(bm, BA * K * NN, &r); fill(dc, BA * M * NN, &r);
    pf_bmm_forward(c1, a, bm, BA, M, K, NN);
    pf_bmm_forward_naive(c2, a, bm, BA, M, K, NN);
    cmp("bmm forward", c1, c2, BA * M * NN, 1e-5);
    pf_bmm_backward(da1, dbm1, dc, a, bm, BA, M, K, NN);
    pf_bmm_backward_naive(da2, dbm2, dc, a, bm, BA, M, K, NN);
    cmp("bmm backward da", da1, da2, BA * M * K, 1e-5);
    cmp("bmm backward db", dbm1, dbm2, BA * K * NN, 1e-5);

    /* GELU over a wide range including the tails */
    enum { G = 20001 };
    float *gx = t_alloc(G), *g1 = t_alloc(G), *g2 = t_alloc(G), *gd = t_alloc(G),
          *gdx1 = t_alloc(G), *gdx2 = t_alloc(G);
    for (int i = 0; i < G; i++) { gx[i] = -12.0f + 24.0f * i / (G - 1); gd[i] = 1.0f; }
    pf_gelu_forward(g1, gx, G);
    pf_gelu_forward_naive(g2, gx, G);
    double worst = 0;
    /* element-wise relative error, tails included (down to |gelu| ~ 1e-30): the
     * float exponent -z^2 limits the far tail to ~z^2 * 6e-8 relative */
    double core = 0;
    for (int i = 0; i < G; i++) {
        double ref = 0.5 * gx[i] * erfc(-gx[i] / sqrt(2.0));
        double e = fabs(ref) > 1e-30 ? fabs(g1[i] - ref) / fabs(ref) : 0;
        worst = fmax(worst, e);
        if (fabs(gx[i]) <= 4.0f) core = fmax(core, e);
    }
    printf("%-32s max elementwise rel err %.2e (|x|<=4: %.2e)\n", "gelu forward (fast vs double)", worst, core);
    CHECK(core < 3e-6, "gelu forward: fast erf deviates %.3g for |x| <= 4", core);
    CHECK(worst < 3e-5, "gelu forward: fast erf deviates %.3g in the tails", worst);
    cmp("gelu forward vs erff naive", g1, g2, G, 1e-6);
    pf_gelu_backward(gdx1, gd, gx, G);
    pf_gelu_backward_naive(gdx2, gd, gx, G);
    cmp("gelu backward", gdx1, gdx2, G, 1e-6);

    /* softmax (fast exp) against double */
    enum { SR = 7, SC = 301 };
    float *sx = t_alloc(SR * SC), *sy = t_alloc(SR * SC), *sref = t_alloc(SR * SC);
    fill(sx, SR * SC, &r);
    for (int i = 0; i < SR * SC; i++) sx[i] *= 8.0f;
    pf_softmax_forward(sy, sx, SR, SC);
    for (int i = 0; i < SR; i++) {
        double mx = -INFINITY, s = 0;
        for (int j = 0; j < SC; j++) mx = fmax(mx, sx[i * SC + j]);
        for (int j = 0; j < SC; j++) s += exp(sx[i * SC + j] - mx);
        for (int j = 0; j < SC; j++) sref[i * SC + j] = (float)(exp(sx[i * SC + j] - mx) / s);
    }
    cmp("softmax (fast exp) vs double", sy, sref, SR * SC, 1e-6);

    /* attention */
    enum { BH = 4, TQ = 23, TK = 31, HD = 16 };
    size_t nq = BH * TQ * HD, nk = BH * TK * HD, na = BH * TQ * TK;
    float *q = t_alloc(nq), *k = t_alloc(nk), *v = t_alloc(nk), *o1 = t_alloc(nq), *o2 = t_alloc(nq),
          *at1 = t_alloc(na), *at2 = t_alloc(na), *dO = t_alloc(nq), *scr = t_alloc(pf_sdpa_scratch(TQ, TK));
    float *dq1 = t_alloc(nq), *dq2 = t_alloc(nq), *dk1 = t_alloc(nk), *dk2 = t_alloc(nk),
          *dv1 = t_alloc(nk), *dv2 = t_alloc(nk);
    fill(q, nq, &r); fill(k, nk, &r); fill(v, nk, &r); fill(dO, nq, &r);
    pf_sdpa_forward(o1, at1, q, k, v, BH, TQ, TK, HD, 0.25f);
    pf_sdpa_forward_naive(o2, at2, q, k, v, BH, TQ, TK, HD, 0.25f);
    cmp("sdpa forward out", o1, o2, nq, 1e-5);
    cmp("sdpa forward att", at1, at2, na, 1e-5);
    pf_sdpa_backward(dq1, dk1, dv1, scr, dO, q, k, v, at1, BH, TQ, TK, HD, 0.25f);
    pf_sdpa_backward_naive(dq2, dk2, dv2, dO, q, k, v, at2, BH, TQ, TK, HD, 0.25f);
    cmp("sdpa backward dq", dq1, dq2, nq, 1e-5);
    cmp("sdpa backward dk", dk1, dk2, nk, 1e-5);
    cmp("sdpa backward dv", dv1, dv2, nk, 1e-5);

    /* lean attention: no stored probabilities, same results */
    {
        float *o3 = t_alloc(nq), *dq3 = t_alloc(nq), *dk3 = t_alloc(nk), *dv3 = t_alloc(nk);
        float *scr2 = t_alloc(2 * pf_sdpa_scratch(TQ, TK));
        pf_sdpa_forward_lean(o3, scr2, q, k, v, BH, TQ, TK, HD, 0.25f);
        memset(dq1, 0, nq * 4); memset(dk1, 0, nk * 4); memset(dv1, 0, nk * 4);
        pf_sdpa_backward(dq1, dk1, dv1, scr, dO, q, k, v, at1, BH, TQ, TK, HD, 0.25f);
        pf_sdpa_backward_lean(dq3, dk3, dv3, scr2, dO, q, k, v, BH, TQ, TK, HD, 0.25f);
        int same = !memcmp(o3, o1, nq * 4) && !memcmp(dq3, dq1, nq * 4) && !memcmp(dk3, dk1, nk * 4) &&
                   !memcmp(dv3, dv1, nk * 4);
        /* overwrite form over garbage equals the accumulate form from zero */
        for (size_t i = 0; i < nq; i++) dq3[i] = 1e3f;
        for (size_t i = 0; i < nk; i++) { dk3[i] = -7.0f; dv3[i] = 5.0f; }
        pf_sdpa_backward_into(dq3, dk3, dv3, scr2, dO, q, k, v, at1, BH, TQ, TK, HD, 0.25f, 0);
        same = same && !memcmp(dq3, dq1, nq * 4) && !memcmp(dk3, dk1, nk * 4) && !memcmp(dv3, dv1, nk * 4);
        printf("%-32s %s\n", "sdpa lean / overwrite vs stored", same ? "bit-identical" : "DIFFER");
        CHECK(same, "lean attention differs from the stored-probability attention");
    }

    /* RoPE: exact formula at one position, and q_m . k_n depends on m - n only */
    enum { RT = 40, RD = 8 };
    float tab[RT * RD], qa[RT * RD], ka[RT * RD];
    pf_rope_table(tab, RT, RD, 10000.0f);
    for (int t = 0; t < RT; t++)
        for (int d = 0; d < RD; d++) { qa[t * RD + d] = (float)(d + 1) * 0.1f; ka[t * RD + d] = 1.0f - 0.05f * d; }
    float q0[RD];
    memcpy(q0, qa + 7 * RD, sizeof q0);
    pf_rope_apply(qa, tab, 1, RT, RD, RD, 0);
    pf_rope_apply(ka, tab, 1, RT, RD, RD, 0);
    double th = pow(10000.0, -2.0 * 1 / RD) * 7;   /* pair i = 1 at t = 7 */
    double e0 = q0[2] * cos(th) - q0[3] * sin(th), e1 = q0[2] * sin(th) + q0[3] * cos(th);
    CHECK(fabs(qa[7 * RD + 2] - e0) < 1e-6 && fabs(qa[7 * RD + 3] - e1) < 1e-6,
          "rope: interleaved pair (2,3) at t=7 is (%g,%g), expected (%g,%g)", qa[7 * RD + 2],
          qa[7 * RD + 3], e0, e1);
    double d1 = 0, d2 = 0;
    for (int d = 0; d < RD; d++) { d1 += qa[10 * RD + d] * ka[3 * RD + d]; d2 += qa[37 * RD + d] * ka[30 * RD + d]; }
    printf("%-32s q10.k3 = %.6f, q37.k30 = %.6f\n", "rope relative position", d1, d2);
    CHECK(fabs(d1 - d2) < 1e-5, "rope: dot product not shift invariant (%g vs %g)", d1, d2);

    /* 2-D sin-cos: token (f=2, t=3), D = 16: q = 4, w_i = 10000^(-i/4) */
    float pe[3 * 5 * 16];
    CHECK(pf_posembed_2d_sincos(pe, 3, 5, 16) == 0, "posembed failed");
    const float *row = pe + (2 * 5 + 3) * 16;
    for (int i = 0; i < 4; i++) {
        double wi = pow(10000.0, -i / 4.0);
        CHECK(fabs(row[i] - sin(2 * wi)) < 1e-6 && fabs(row[4 + i] - cos(2 * wi)) < 1e-6 &&
              fabs(row[8 + i] - sin(3 * wi)) < 1e-6 && fabs(row[12 + i] - cos(3 * wi)) < 1e-6,
              "posembed: token (2,3) dim block %d wrong", i);
    }
    CHECK(pf_posembed_2d_sincos(pe, 3, 5, 18) != 0, "posembed accepted D = 18");

    /* upsample 'nearest' index rule of the reference (1025 -> 2048) */
    static float src[1025], dst[2048];
    for (int i = 0; i < 1025; i++) src[i] = (float)i;
    pf_upsample_nearest_forward(dst, src, 1, 1025, 2048);
    CHECK(dst[1023] == 511 && dst[1024] == 512 && dst[2047] == 1024 && dst[2046] == 1023,
          "upsample: src index rule differs (%g %g %g %g)", dst[1023], dst[1024], dst[2046], dst[2047]);

    /* dropout: drop rate, scaling, and masks independent of the worker count */
    {
        size_t n = 1 << 20;
        float *dx = t_alloc(n), *dy1 = t_alloc(n), *dy2 = t_alloc(n);
        uint8_t *m1 = (uint8_t *)t_alloc(n / 4), *m2 = (uint8_t *)t_alloc(n / 4);
        for (size_t i = 0; i < n; i++) dx[i] = 1.0f;
        pf_rng d1, d2;
        pf_rng_seed(&d1, pf_rng_key(1, 2, 3, 4));
        d2 = d1;
        omp_set_num_threads(1);
        pf_dropout_forward(dy1, m1, dx, n, 0.1f, &d1);
        omp_set_num_threads(2);
        pf_dropout_forward(dy2, m2, dx, n, 0.1f, &d2);
        size_t dropped = 0, badscale = 0;
        for (size_t i = 0; i < n; i++) {
            dropped += m1[i] == 0;
            badscale += m1[i] ? fabsf(dy1[i] - 1.0f / 0.9f) > 1e-6f : dy1[i] != 0.0f;
        }
        double rate = (double)dropped / n;
        printf("%-32s drop rate %.4f (p 0.1), 1 vs 2 workers %s\n", "dropout", rate,
               memcmp(m1, m2, n) == 0 ? "identical" : "DIFFER");
        CHECK(fabs(rate - 0.1) < 0.002, "dropout rate %.4f, expected 0.1", rate);
        CHECK(badscale == 0, "dropout: %zu values not scaled by 1/(1-p) or not zero", badscale);
        CHECK(memcmp(m1, m2, n) == 0 && memcmp(dy1, dy2, n * sizeof(float)) == 0,
              "dropout mask depends on the worker count");
    }

    /* fused encoder kernels against compositions of the basic ops */
    {
        enum { FN = 37, FC = 48 };
        size_t n = FN * FC;
        float *h = t_alloc(n), *h2 = t_alloc(n), *g1 = t_alloc(n), *g2 = t_alloc(n), *b = t_alloc(FC);
        float *res = t_alloc(n), *y1 = t_alloc(n), *y2 = t_alloc(n), *dg = t_alloc(n), *dh1 = t_alloc(n), *dh2 = t_alloc(n);
        uint8_t *m1 = (uint8_t *)t_alloc(n), *m2 = (uint8_t *)t_alloc(n), *mref = (uint8_t *)t_alloc(n);
        fill(h, n, &r); fill(b, FC, &r); fill(res, n, &r); fill(dg, n, &r);
        pf_rng a1, a2;
        pf_rng_seed(&a1, 31); a2 = a1;
        pf_dropout_mask(m1, n, 0.2f, &a1);
        pf_dropout_forward(y1, mref, h, n, 0.2f, &a2);
        CHECK(memcmp(m1, mref, n) == 0, "pf_dropout_mask differs from pf_dropout_forward's mask");
        pf_rng_seed(&a1, 32);
        pf_dropout_mask(m2, n, 0.2f, &a1);
        float s = 1.0f / 0.8f;
        /* bias + GELU + dropout */
        for (size_t i = 0; i < n; i++) h2[i] = h[i] + b[i % FC];
        pf_gelu_forward(g2, h2, n);
        for (size_t i = 0; i < n; i++) g2[i] *= m1[i] * s;
        memcpy(y1, h, n * sizeof(float));
        pf_bias_gelu_dropout_forward(y1, g1, b, m1, s, FN, FC);
        cmp("fused bias+GELU+dropout (g)", g1, g2, n, 1e-7);
        /* the saved derivative: GELU'(h + b) */
        for (size_t i = 0; i < n; i++) y2[i] = 1.0f;
        memset(dh2, 0, n * sizeof(float));
        pf_gelu_backward(dh2, y2, h2, n);
        cmp("fused bias+GELU+dropout (GELU')", y1, dh2, n, 1e-6);
        /* GELU + dropout backward from the saved derivative */
        for (size_t i = 0; i < n; i++) y2[i] = dg[i] * m1[i] * s;
        memset(dh2, 0, n * sizeof(float));
        pf_gelu_backward(dh2, y2, h2, n);
        pf_gelu_dropout_backward(dh1, dg, y1, m1, s, n);
        cmp("fused GELU+dropout backward", dh1, dh2, n, 1e-6);
        /* bias + two dropouts + residual */
        for (size_t i = 0; i < n; i++) y2[i] = res[i] + (h[i] + b[i % FC]) * m1[i] * s * m2[i] * s;
        pf_bias_dropout_residual_forward(y1, res, h, b, m1, m2, s * s, FN, FC);
        cmp("fused bias+dropout^2+residual", y1, y2, n, 1e-6);
        for (size_t i = 0; i < n; i++) y2[i] = res[i] + (h[i] + b[i % FC]) * m2[i] * s;
        pf_bias_dropout_residual_forward(y1, res, h, b, NULL, m2, s, FN, FC);
        cmp("fused bias+dropout+residual", y1, y2, n, 1e-6);
        for (size_t i = 0; i < n; i++) y2[i] = res[i] + h[i];
        pf_bias_dropout_residual_forward(y1, res, h, NULL, NULL, NULL, 1.0f, FN, FC);
        cmp("fused residual (no bias, no mask)", y1, y2, n, 0);
        for (size_t i = 0; i < n; i++) y2[i] = dg[i] * m1[i] * m2[i] * s * s;
        pf_mask_scale(y1, dg, m1, m2, s * s, n);
        cmp("mask_scale (dropout^2 backward)", y1, y2, n, 1e-6);
    }

    return pf_test_done();
}
