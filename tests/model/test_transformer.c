/* The transformer encoder and masked-reconstruction model: preset parameter
 * counts, whole-model gradients against finite differences (with and without
 * dropout), dropout determinism, and error reporting. */
#include "pf_mae.h"
#include "pf_error.h"
#include "../pf_test.h"

#include <omp.h>

static pf_mae *M;
static pf_pstore *PP;
static float *PATCH, *MASK;
static int MB = 2, MF = 2, MTP = 3, TRAIN = 0;

static double L_model(void *c)
{
    float loss;
    pf_mae_forward(M, PP, PATCH, MASK, MB, MF, MTP, TRAIN, 1234, &loss);
    return loss;
}
static void G_model(void *c)
{
    L_model(c);
    pf_pstore_zero_grad(PP);
    pf_mae_backward(M, PP);
}

static double pf_grad_norm_for_test(pf_pstore *p)
{
    double s = 0;
    for (size_t k = 0; k < p->total; k++) s += (double)p->block[p->total + k] * p->block[p->total + k];
    return sqrt(s);
}

static void count_preset(const char *name, size_t enc_expect, size_t mae_expect)
{
    pf_tfm_cfg c;
    CHECK(pf_tfm_preset(name, &c) == 0, "preset %s missing", name);
    pf_pstore *p = pf_pstore_create();
    pf_mae *m = pf_mae_create(&c, p, 1, 4);
    CHECK(m != NULL, "mae %s: %s", name, pf_errmsg());
    size_t enc = pf_encoder_param_count(&c);
    printf("%-15s D %3d depth %d heads %2d: encoder %zu, +patch/mask/head %zu (registered %zu)\n",
           name, c.dim, c.depth, c.heads, enc, pf_mae_param_count(&c), p->n_params);
    CHECK(enc == enc_expect, "%s encoder params %zu != %zu", name, enc, enc_expect);
    CHECK(p->n_params == mae_expect && pf_mae_param_count(&c) == mae_expect,
          "%s model params %zu (formula %zu) != %zu", name, p->n_params, pf_mae_param_count(&c), mae_expect);
    pf_mae_destroy(m);
    pf_pstore_destroy(p);
}

int main(void)
{
    /* physiowave-ecg: encoder 8 x 1,774,464 + 768; patch embed 25,728, mask 384,
     * head 173,248 (reference/physiowave.md 2.8). The wavelet front-end (29,801,
     * node `wavelet`) brings the published model to 14,425,641 = 14.4 M. */
    count_preset("physiowave-ecg", 14196480, 14196480 + 25728 + 384 + 173248);
    CHECK(14196480 + 25728 + 384 + 173248 + 29801 == 14425641, "physiowave total arithmetic");
    count_preset("small", 6 * (12 * 256 * 256 + 13 * 256) + 512, 0 + 4739072 + (64 * 256 + 256 + 512) + 256 + (256 * 256 + 256 + 512 + 256 * 64 + 64));
    count_preset("tiny", 4 * (12 * 128 * 128 + 13 * 128) + 256, 793344 + (64 * 128 + 128 + 256) + 128 + (128 * 128 + 128 + 256 + 128 * 64 + 64));

    pf_tfm_cfg c;
    pf_tfm_preset("tiny", &c);
    CHECK(pf_tfm_preset("huge", &c) == PF_ENOTFOUND, "unknown preset accepted");
    pf_tfm_preset("tiny", &c);
    c.heads = 3;
    CHECK(pf_tfm_validate(&c) == PF_EINVAL && strstr(pf_errmsg(), "heads 3"), "dim/heads mismatch not named: %s", pf_errmsg());

    /* whole-model gradients of a small config */
    c.dim = 16; c.depth = 2; c.heads = 2; c.patch = 8; c.dropout = 0.1f;
    PP = pf_pstore_create();
    M = pf_mae_create(&c, PP, MB, MF * MTP);
    CHECK(M && pf_pstore_finalize(PP) == 0, "create: %s", pf_errmsg());
    pf_mae_init(M, PP, 7);
    /* bigger random weights than the 0.02 init so every path carries signal */
    pf_rng r;
    pf_rng_seed(&r, 3);
    for (int i = 0; i < PP->count; i++) {
        float *w = pf_pstore_data(PP, i);
        for (size_t k = 0; k < PP->info[i].n; k++) w[k] += 0.3f * (float)pf_rng_normal(&r);
    }
    int T = MF * MTP;
    PATCH = t_alloc((size_t)MB * T * c.patch);
    MASK = t_alloc((size_t)MB * T);
    t_randn(PATCH, (size_t)MB * T * c.patch, 1, &r);
    for (int i = 0; i < MB * T; i++) MASK[i] = (i % 3 != 0);
    float l1, l2;
    CHECK(pf_mae_forward(M, PP, PATCH, MASK, MB, MF, MTP, 0, 1, &l1) == 0, "forward: %s", pf_errmsg());
    CHECK(pf_mae_forward(M, PP, PATCH, MASK, MB, MF + 1, MTP, 0, 1, &l2) == PF_ERANGE,
          "forward accepted more tokens than reserved");

    for (TRAIN = 0; TRAIN < 2; TRAIN++) {
        fd_input in[64];
        int nin = 0;
        for (int i = 0; i < PP->count && nin < 64; i++)
            in[nin++] = (fd_input){PP->info[i].name, pf_pstore_data(PP, i), pf_pstore_grad(PP, i), PP->info[i].n};
        int bad = fd_check(TRAIN ? "mae (dropout)" : "mae", 0, L_model, G_model, in, nin, 1e-2f, 3e-2, 3e-3,
                           getenv("PF_TEST_VERBOSE") != NULL);
        printf("whole-model gradient check, %d tensors, %s: %s\n", nin, TRAIN ? "train (dropout 0.1)" : "eval",
               bad ? "FAIL" : "ok");
        CHECK(bad == 0, "whole-model gradients (train %d): %d mismatches", TRAIN, bad);
    }

    /* dropout: same key -> same loss; other key -> other loss; eval ignores key */
    float a, b, d, e1, e2;
    pf_mae_forward(M, PP, PATCH, MASK, MB, MF, MTP, 1, 42, &a);
    pf_mae_forward(M, PP, PATCH, MASK, MB, MF, MTP, 1, 42, &b);
    pf_mae_forward(M, PP, PATCH, MASK, MB, MF, MTP, 1, 43, &d);
    pf_mae_forward(M, PP, PATCH, MASK, MB, MF, MTP, 0, 42, &e1);
    pf_mae_forward(M, PP, PATCH, MASK, MB, MF, MTP, 0, 43, &e2);
    CHECK(a == b, "same dropout key gave %g and %g", a, b);
    CHECK(a != d, "different dropout keys gave the same loss %g", a);
    CHECK(e1 == e2 && e1 != a, "eval mode depends on the key or equals train (%g %g %g)", e1, e2, a);

    /* worker count: repeated runs bit-identical; 1 vs 2 workers agree to float rounding
     * (GEMM blocking differs with the split, so not bitwise) */
    float lt[2], lt2;
    double gn[2];
    for (int nt = 1; nt <= 2; nt++) {
        omp_set_num_threads(nt);
        pf_mae_forward(M, PP, PATCH, MASK, MB, MF, MTP, 1, 99, &lt[nt - 1]);
        pf_pstore_zero_grad(PP);
        pf_mae_backward(M, PP);
        gn[nt - 1] = pf_grad_norm_for_test(PP);
    }
    pf_mae_forward(M, PP, PATCH, MASK, MB, MF, MTP, 1, 99, &lt2);
    CHECK(lt2 == lt[1], "repeated run differs: %.9g vs %.9g", lt2, lt[1]);
    CHECK(fabs(lt[0] - lt[1]) <= 1e-5 * fabs(lt[0]) && fabs(gn[0] - gn[1]) <= 1e-5 * gn[0],
          "1 vs 2 workers: loss %.9g vs %.9g, grad norm %.9g vs %.9g", lt[0], lt[1], gn[0], gn[1]);

    /* attn_lean: same parameters, probabilities recomputed in the backward ->
     * bit-identical loss and gradients, and the whole-model FD check passes */
    {
        omp_set_num_threads(2);
        pf_tfm_cfg cl = c;
        cl.attn_lean = 1;
        pf_pstore *pl = pf_pstore_create();
        pf_mae *ml = pf_mae_create(&cl, pl, MB, MF * MTP);
        CHECK(ml && pf_pstore_finalize(pl) == 0, "lean create: %s", pf_errmsg());
        memcpy(pl->block, PP->block, PP->total * sizeof(float));
        float la, lb;
        pf_mae_forward(M, PP, PATCH, MASK, MB, MF, MTP, 1, 5, &la);
        pf_pstore_zero_grad(PP);
        pf_mae_backward(M, PP);
        pf_mae_forward(ml, pl, PATCH, MASK, MB, MF, MTP, 1, 5, &lb);
        pf_pstore_zero_grad(pl);
        pf_mae_backward(ml, pl);
        int same = la == lb && memcmp(PP->block + PP->total, pl->block + pl->total, PP->total * sizeof(float)) == 0;
        printf("attn_lean vs stored attention: loss and gradients %s\n", same ? "bit-identical" : "DIFFER");
        CHECK(same, "attn_lean changes the result (loss %.9g vs %.9g)", la, lb);
        pf_mae *keep_m = M;
        pf_pstore *keep_p = PP;
        M = ml; PP = pl; TRAIN = 1;
        fd_input in[64];
        int nin = 0;
        for (int i = 0; i < PP->count && nin < 64; i++)
            in[nin++] = (fd_input){PP->info[i].name, pf_pstore_data(PP, i), pf_pstore_grad(PP, i), PP->info[i].n};
        int bad = fd_check("mae lean", 0, L_model, G_model, in, nin, 1e-2f, 3e-2, 3e-3, 0);
        CHECK(bad == 0, "attn_lean whole-model gradients: %d mismatches", bad);
        M = keep_m; PP = keep_p;
        pf_mae_destroy(ml);
        pf_pstore_destroy(pl);
    }

    pf_mae_destroy(M);
    pf_pstore_destroy(PP);
    return pf_test_done();
}
