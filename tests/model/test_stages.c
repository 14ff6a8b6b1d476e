/* The model stages the pretraining nodes run (pf_stage, pf_tstage, pf_rhead):
 * the published model's parameter count from the stages as the nodes build
 * them, and the gradient with respect to the Spec against finite differences
 * when the Spec is both the encoder's input and the reconstruction target
 * (detach_target = false, as PhysioWave) and when the target is detached. */
#include "pf_error.h"
#include "pf_rhead.h"
#include "pf_stage.h"
#include "../pf_test.h"
#include "pf_tstage.h"

static pf_tfm_cfg C;
static pf_tstage *TS;
static pf_rhead *H;
static pf_pstore *PT, *PH;
static float *SPEC, *TARGET, *MASK, *DZ, *DT, *DSPEC;
static int B = 2, F = 3, TP = 2, DETACH = 0;

static double loss_fn(void *c)
{
    float loss;
    pf_tstage_forward(TS, PT, SPEC, B, F, TP, MASK, 0, 0, 0);
    pf_rhead_forward(H, PH, pf_tstage_encoded(TS), DETACH ? TARGET : SPEC, MASK, B * F * TP, 0, 0, &loss);
    return loss;
}

static void grad_fn(void *c)
{
    loss_fn(c);
    pf_pstore_zero_grad(PT);
    pf_pstore_zero_grad(PH);
    pf_rhead_backward(H, PH, DZ, DETACH ? NULL : DT);
    pf_tstage_backward(TS, PT, DZ, DETACH ? NULL : DT, DSPEC);
}

int main(void)
{
    /* 1. the published ECG model, built as the nodes build it: 14,425,641 parameters */
    pf_tfm_cfg ecg;
    CHECK(pf_tfm_preset("physiowave-ecg", &ecg) == 0, "preset");
    pf_wavelet_cfg wc = pf_wavelet_cfg_defaults(12);
    pf_stage sw, st, sh;
    pf_wavelet *w = pf_stage_build_wavelet(&sw, &wc, 1, 2048, 1, NULL);
    pf_tstage *t = pf_stage_build_tfm(&st, &ecg, NULL, 1, 1536, 1, NULL);
    pf_rhead *h = NULL, *sig = NULL;
    CHECK(pf_stage_build_head(&sh, &ecg, 1536, 0, &h, &sig, 1, NULL) == 0 && !sig, "head stage: %s", pf_errmsg());
    CHECK(w && t && h, "stages build: %s", pf_errmsg());
    if (w && t && h) {
        size_t total = sw.p->n_params + st.p->n_params + sh.p->n_params;
        CHECK(total == 14425641, "physiowave-ecg stages hold %zu parameters, the published model 14,425,641", total);
        printf("physiowave-ecg: wavelet %zu + transformer %zu + head %zu = %zu parameters\n", sw.p->n_params,
               st.p->n_params, sh.p->n_params, total);
    }
    pf_wavelet_destroy(w);
    pf_tstage_destroy(t);
    pf_rhead_destroy(h);
    pf_stage_free(&sw);
    pf_stage_free(&st);
    pf_stage_free(&sh);

    /* 2. d loss / d spec, with and without the target's gradient */
    C = (pf_tfm_cfg){.name = "t", .dim = 16, .depth = 1, .heads = 2, .mlp_ratio = 2, .rope_base = 10000, .dropout = 0,
                     .ln_eps = 1e-5f, .patch = 4};
    PT = pf_pstore_create();
    PH = pf_pstore_create();
    TS = pf_tstage_create(&C, NULL, PT, B, F * TP);
    H = pf_rhead_create(&C, PH, B * F * TP);
    CHECK(TS && H && pf_pstore_finalize(PT) == 0 && pf_pstore_finalize(PH) == 0, "small stages: %s", pf_errmsg());
    pf_rng r;
    pf_rng_seed(&r, 7);
    pf_tstage_init(TS, PT, &r, 9);
    pf_rhead_init(H, PH, &r);
    size_t ns = (size_t)B * F * TP * C.patch, nt = (size_t)B * F * TP;
    SPEC = t_alloc(ns); TARGET = t_alloc(ns); MASK = t_alloc(nt); DZ = t_alloc(nt * C.dim); DT = t_alloc(ns); DSPEC = t_alloc(ns);
    t_randn(SPEC, ns, 1.0f, &r);
    t_randn(TARGET, ns, 1.0f, &r);
    for (size_t i = 0; i < nt; i++) MASK[i] = (i % 3) != 0; /* 2 of 3 masked */
    for (DETACH = 0; DETACH <= 1; DETACH++) {
        fd_input in[] = {{"spec", SPEC, DSPEC, ns}};
        /* detached, only the encoder path is left: gradients near 1e-5, so the float loss's
         * rounding needs a wider step and tolerance */
        int bad = fd_check(DETACH ? "stages, target detached" : "stages, target = spec", NULL, loss_fn, grad_fn, in, 1,
                           DETACH ? 5e-2f : 1e-2f, DETACH ? 5e-2 : 2e-2, DETACH ? 5e-2 : 2e-3, 1);
        CHECK(bad == 0, "d loss / d spec (detach %d): %d elements off", DETACH, bad);
    }
    pf_tstage_destroy(TS);
    pf_rhead_destroy(H);
    pf_pstore_destroy(PT);
    pf_pstore_destroy(PH);
    
    return pf_test_done();
}
