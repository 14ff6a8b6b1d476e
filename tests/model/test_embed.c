/* pf_embed: the embedding of a window is the mean over tokens of the encoder's
 * final outputs with nothing masked, in eval mode: computed here by hand from
 * the stages of a checkpoint whose weights were changed before saving, it must
 * equal what the embedder loads and computes; a window alone or inside a batch
 * gets the same vector; a checkpoint of another preset is refused with both
 * shapes named. */
#include <unistd.h>

#include "pf_embed.h"
#include "pf_ops.h"
#include "pf_stage.h"
#include "pf_tstage.h"
#include "../pf_test.h"

int main(void)
{
    char dir[] = "/tmp/pf_test_embed_XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    int B = 3, C = 2, T = 640;
    pf_wavelet_cfg wc = pf_wavelet_cfg_defaults(C);
    wc.gate_heads = 2;
    pf_tfm_cfg tc;
    CHECK_OK(pf_tfm_preset("tiny", &tc));
    pf_mask_cfg mc = pf_mask_cfg_defaults();
    pf_stage ws, ts;
    pf_wavelet *w = pf_stage_build_wavelet(&ws, &wc, B, T, 11, NULL);
    pf_tstage *t = pf_stage_build_tfm(&ts, &tc, &mc, B, (wc.levels + 1) * C * (T / tc.patch), 11, NULL);
    CHECK(w && t, "build: %s", pf_errmsg());
    if (!w || !t) return 1;
    /* weights no initialisation gives: only a real load reproduces them */
    int k = pf_pstore_find(ts.p, "patch_embed.proj.weight");
    float *pw = pf_pstore_data(ts.p, k);
    for (size_t i = 0; i < ts.p->info[k].n; i++) pw[i] *= 1.7f;
    pf_rng r;
    pf_rng_seed(&r, 9);
    for (int i = 0; i < ws.p->count; i++) {
        float *d = pf_pstore_data(ws.p, i);
        for (size_t j = 0; j < ws.p->info[i].n; j++) d[j] += 0.01f * (float)pf_rng_normal(&r);
    }
    CHECK_OK(pf_stage_save(&ws, dir, 5, 0));
    CHECK_OK(pf_stage_save(&ts, dir, 5, 0));
    CHECK_OK(pf_ckpt_manifest_write(dir, 5, 0, 0));

    float *x = t_alloc((size_t)B * C * T), *want = t_alloc((size_t)B * tc.dim), *got = t_alloc((size_t)B * tc.dim),
          *one = t_alloc(tc.dim), *rnd = t_alloc((size_t)B * tc.dim);
    t_randn(x, (size_t)B * C * T, 1.0f, &r);
    int F = (wc.levels + 1) * C, TP = T / tc.patch;
    float *mask = t_alloc((size_t)B * F * TP); /* zeros: nothing masked */
    CHECK_OK(pf_wavelet_forward(w, ws.p, x, B, 0, 0));
    CHECK_OK(pf_tstage_forward(t, ts.p, pf_wavelet_output(w), B, F, TP, mask, 0, 0, 0));
    pf_meanpool_forward(want, pf_tstage_encoded(t), B, F * TP, tc.dim);

    pf_embedder *e = pf_embedder_create(&wc, &tc, B, T, 11, dir);
    CHECK(e != NULL, "embedder from the checkpoint: %s", pf_errmsg());
    if (e) {
        CHECK_OK(pf_embedder_run(e, x, B, got));
        double err = t_relerr(got, want, (size_t)B * tc.dim, 1e-12);
        CHECK(err < 1e-6, "checkpoint embedding vs by hand: rel err %g", err);
        CHECK_OK(pf_embedder_run(e, x + (size_t)C * T, 1, one)); /* window 1 alone */
        err = t_relerr(one, got + tc.dim, tc.dim, 1e-12);
        CHECK(err < 1e-6, "a window alone vs in a batch: rel err %g", err);
        pf_embedder_destroy(e);
    }
    e = pf_embedder_create(&wc, &tc, B, T, 11, NULL); /* random init of the same seed: not the saved weights */
    CHECK(e && pf_embedder_run(e, x, B, rnd) == PF_OK && t_relerr(rnd, want, (size_t)B * tc.dim, 1e-12) > 1e-3,
          "random init differs from the checkpoint");
    pf_embedder_destroy(e);

    pf_tfm_cfg small;
    CHECK_OK(pf_tfm_preset("small", &small));
    e = pf_embedder_create(&wc, &small, B, T, 11, dir);
    CHECK(e == NULL && strstr(pf_errmsg(), "D = 128, depth 4") && strstr(pf_errmsg(), "'small' is D = 256, depth 6"),
          "another preset refused naming both shapes: %s", pf_errmsg());
    pf_embedder_destroy(e);
    pf_wavelet_cfg w3 = wc;
    w3.n_leads = 4;
    w3.gate_heads = 2;
    e = pf_embedder_create(&w3, &tc, B, T, 11, dir);
    CHECK(e == NULL && strstr(pf_errmsg(), "model expects") && strstr(pf_errmsg(), "4 leads"),
          "a front-end of other leads refused naming the tensor shapes: %s", pf_errmsg());
    pf_embedder_destroy(e);

    pf_wavelet_destroy(w);
    pf_tstage_destroy(t);
    pf_stage_free(&ws);
    pf_stage_free(&ts);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    return pf_test_done();
}
