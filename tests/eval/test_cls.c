/* Classification metrics (pf_eval_cls) and the probe (pf_probe) on synthetic
 * data with known answers: AUROC against a brute-force pairwise count (ties
 * count a half), the confusion-derived metrics and EC57 gross S / V against
 * hand counts, and the probe recovering separable Gaussian classes. */
#include "pf_eval_cls.h"
#include "pf_probe.h"
#include "pf_rng.h"
#include "../pf_test.h"

static double brute_auroc(const float *s, const int *t, size_t n)
{
    double num = 0, np = 0, nn = 0;
    for (size_t i = 0; i < n; i++) { np += t[i]; nn += !t[i]; }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (t[i] && !t[j]) num += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
    return num / (np * nn);
}

int main(void)
{
    pf_rng r;
    pf_rng_seed(&r, 3);
    enum { N = 400 };
    float s[N];
    int t[N];
    for (int trial = 0; trial < 5; trial++) {
        for (int i = 0; i < N; i++) {
            t[i] = pf_rng_below(&r, 3) == 0;
            s[i] = (float)(int)(10 * pf_rng_uniform(&r) + 3 * t[i]) / 10.0f; /* coarse: many ties */
        }
        double a = pf_auroc(s, t, N), b = brute_auroc(s, t, N);
        CHECK(fabs(a - b) < 1e-12, "AUROC %g, pairwise %g", a, b);
    }
    int none[3] = {0, 0, 0};
    CHECK(isnan(pf_auroc(s, none, 3)), "AUROC without positives is undefined");

    /* one-hot probabilities give a known confusion: truth x predicted counts */
    const char *nm[5] = {"N", "S", "V", "F", "Q"};
    static const int cnt[5][5] = {{50, 3, 2, 1, 0}, {4, 10, 1, 0, 0}, {2, 1, 20, 2, 0}, {1, 0, 3, 5, 0}, {0, 0, 1, 0, 2}};
    float probs[200 * 5];
    long long lab[200];
    size_t n = 0;
    for (int a = 0; a < 5; a++)
        for (int p = 0; p < 5; p++)
            for (int c = 0; c < cnt[a][p]; c++, n++) {
                for (int k = 0; k < 5; k++) probs[n * 5 + k] = k == p ? 0.9f : 0.025f;
                lab[n] = a;
            }
    pf_cls_metrics m;
    CHECK_OK(pf_cls_score(&m, probs, lab, NULL, n, 5, nm, 0));
    CHECK(m.conf[1][0] == 4 && m.conf[3][2] == 3, "confusion");
    CHECK(fabs(m.accuracy - 87.0 / 108.0) < 1e-12, "accuracy %g", m.accuracy);
    CHECK(fabs(m.se[1] - 10.0 / 15.0) < 1e-12 && fabs(m.ppv[1] - 10.0 / 14.0) < 1e-12, "S Se %g +P %g", m.se[1], m.ppv[1]);
    CHECK(fabs(m.f1[2] - 40.0 / (40.0 + 7 + 5)) < 1e-12, "V F1 %g", m.f1[2]);
    /* EC57: Q rows not scored; V false positives exclude fusion beats called V */
    CHECK(m.aami && m.v_tp == 20 && m.v_fp == 3 && m.v_fn == 5, "VEB tp %lld fp %lld fn %lld", m.v_tp, m.v_fp, m.v_fn);
    CHECK(m.s_tp == 10 && m.s_fp == 4 && m.s_fn == 5, "SVEB tp %lld fp %lld fn %lld", m.s_tp, m.s_fp, m.s_fn);
    CHECK(fabs(m.s_fpr - 4.0 / (105 - 15)) < 1e-12, "SVEB FPR %g", m.s_fpr);

    /* the probe separates three Gaussian classes in 8 dimensions (shifted means) */
    enum { M = 600, D = 8, K = 3 };
    static float x[M * D], pr[M * K];
    static long long y[M];
    for (int i = 0; i < M; i++) {
        y[i] = i % K;
        for (int d = 0; d < D; d++) x[i * D + d] = (float)pf_rng_normal(&r) + (d == y[i] ? 2.5f : 0.0f) + 10.0f;
    }
    for (int h = 0; h < 2; h++) {
        pf_probe_cfg c = pf_probe_defaults(h ? PF_CHEAD_MLP : PF_CHEAD_LINEAR);
        c.hidden = 32;
        c.epochs = 30;
        c.batch = 64;
        pf_probe *p = pf_probe_fit(&c, x, M, D, K, 0, y, NULL);
        CHECK(p != NULL, "fit: %s", pf_errmsg());
        if (!p) continue;
        CHECK_OK(pf_probe_predict(p, x, M, pr));
        const char *cn[3] = {"a", "b", "c"};
        CHECK_OK(pf_cls_score(&m, pr, y, NULL, M, K, cn, 0));
        CHECK(m.accuracy > 0.85 && m.macro_auroc > 0.95, "%s probe: accuracy %g, AUROC %g", h ? "mlp" : "linear", m.accuracy,
              m.macro_auroc);
        pf_probe_destroy(p);
    }
    return pf_test_done();
}
