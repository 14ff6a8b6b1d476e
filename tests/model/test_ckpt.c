/* Checkpoint round trip and bit-exact resume: train N steps straight, or N/2 +
 * save + load into fresh objects + N/2, with dropout and gradient accumulation
 * on; losses and final parameters must be bitwise identical. Also checks that
 * loading into a model of another shape fails naming the tensor. */
#include "pf_ckpt.h"
#include "pf_mae.h"
#include "pf_error.h"
#include "../pf_test.h"

#include <unistd.h>

enum { B = 2, NF = 2, NTP = 3, STEPS = 6, ACCUM = 2 };

typedef struct {
    pf_pstore *p;
    pf_mae *m;
    pf_adamw *o;
    pf_rng data;     /* draws the synthetic batches: part of the resumable state */
} run;

static pf_tfm_cfg cfg(void)
{
    pf_tfm_cfg c;
    pf_tfm_preset("tiny", &c);
    c.dim = 24; c.depth = 2; c.heads = 3; c.patch = 8; c.dropout = 0.1f;
    return c;
}

static void run_open(run *r)
{
    pf_tfm_cfg c = cfg();
    r->p = pf_pstore_create();
    r->m = pf_mae_create(&c, r->p, B, NF * NTP);
    pf_pstore_finalize(r->p);
    pf_mae_init(r->m, r->p, 5);
    pf_adamw_cfg ac = pf_adamw_defaults();
    ac.lr = 1e-2f; ac.warmup_steps = 1; ac.total_steps = STEPS; ac.accum_steps = ACCUM;
    r->o = pf_adamw_create(&ac);
    pf_rng_seed(&r->data, pf_rng_key(77, 0, 0, 0));
}

static void run_close(run *r)
{
    pf_adamw_destroy(r->o);
    pf_mae_destroy(r->m);
    pf_pstore_destroy(r->p);
}

/* one micro-batch; dropout keyed by (optimiser step, micro index) */
static float micro(run *r)
{
    int T = NF * NTP, P = cfg().patch;
    float patches[B * 6 * 8], mask[B * 6], loss;
    for (int i = 0; i < B * T * P; i++) patches[i] = (float)pf_rng_normal(&r->data);
    for (int i = 0; i < B * T; i++) mask[i] = pf_rng_uniform(&r->data) < 0.6 ? 1.0f : 0.0f;
    mask[0] = 1.0f;
    uint64_t key = pf_rng_key(123, (uint64_t)r->o->step, (uint64_t)r->o->micro, 0);
    pf_mae_forward(r->m, r->p, patches, mask, B, NF, NTP, 1, key, &loss);
    pf_mae_backward(r->m, r->p);
    pf_adamw_micro_step(r->o, r->p);
    return loss;
}

int main(void)
{
    const char *path = "test_ckpt.h5";
    float la[STEPS * ACCUM], lb[STEPS * ACCUM];
    run a, b;
    run_open(&a);
    for (int i = 0; i < STEPS * ACCUM; i++) la[i] = micro(&a);

    /* half, then save in the middle of an accumulation cycle (odd micro count) */
    run_open(&b);
    int half = STEPS * ACCUM / 2 + 1;
    for (int i = 0; i < half; i++) lb[i] = micro(&b);
    pf_tfm_cfg c = cfg();
    pf_ckpt_state st = {&c, b.o, &b.data, 4242};
    CHECK(pf_ckpt_save(path, b.p, &st) == 0, "save: %s", pf_errmsg());
    CHECK(access(path, 0) == 0, "checkpoint file missing");
    run_close(&b);

    run_open(&b);   /* fresh objects, different init would be overwritten */
    pf_rng_seed(&b.data, 1);
    pf_ckpt_state ld = {NULL, b.o, &b.data, 0};
    pf_tfm_cfg got;
    CHECK(pf_ckpt_load(path, b.p, &ld, &got) == 0, "load: %s", pf_errmsg());
    CHECK(ld.data_pos == 4242, "data_pos %lld", (long long)ld.data_pos);
    CHECK(got.dim == c.dim && got.depth == c.depth && got.heads == c.heads && got.patch == c.patch &&
          got.dropout == c.dropout && strcmp(got.name, c.name) == 0, "config attributes not restored");
    CHECK(b.o->step == half / ACCUM && b.o->micro == half % ACCUM, "optimiser step/micro not restored (%lld/%d)",
          (long long)b.o->step, b.o->micro);
    for (int i = half; i < STEPS * ACCUM; i++) lb[i] = micro(&b);

    int same_loss = memcmp(la, lb, sizeof la) == 0;
    int same_params = memcmp(a.p->block, b.p->block, 4 * a.p->total * sizeof(float)) == 0;
    printf("resume after %d of %d micro-batches: losses %s, params+grads+moments %s (final loss %.6f)\n",
           half, STEPS * ACCUM, same_loss ? "bit-identical" : "DIFFER", same_params ? "bit-identical" : "DIFFER",
           la[STEPS * ACCUM - 1]);
    CHECK(same_loss, "losses differ after resume");
    CHECK(same_params, "parameters/optimizer state differ after resume");
    CHECK(la[0] != la[STEPS * ACCUM - 1], "training did not change the loss");

    /* a model of another shape must be refused, naming the tensor */
    pf_tfm_cfg c2 = cfg();
    c2.dim = 36;
    pf_pstore *p2 = pf_pstore_create();
    pf_mae *m2 = pf_mae_create(&c2, p2, 1, 4);
    pf_pstore_finalize(p2);
    int rc = pf_ckpt_load(path, p2, NULL, NULL);
    CHECK(rc == PF_EFORMAT && strstr(pf_errmsg(), "patch_embed.proj.weight") && strstr(pf_errmsg(), "36x8"),
          "shape mismatch: rc %d, message '%s'", rc, pf_errmsg());
    printf("mismatch message: %s\n", pf_errmsg());
    CHECK(pf_ckpt_load("no/such/file.h5", p2, NULL, NULL) == PF_EIO, "missing file not reported");
    pf_mae_destroy(m2);
    pf_pstore_destroy(p2);
    run_close(&a);
    run_close(&b);
    remove(path);
    return pf_test_done();
}
