/* AdamW, schedule, clipping and accumulation against independent double
 * re-computations of the formulas in pf_optim.h. */
#include "pf_optim.h"
#include "../pf_test.h"

int main(void)
{
    /* schedule: warm-up factor step/warmup, then cosine to min_lr */
    pf_adamw_cfg c = pf_adamw_defaults();
    c.lr = 1e-3f; c.warmup_steps = 10; c.total_steps = 110; c.min_lr = 1e-5f;
    CHECK(pf_lr_at(&c, 0) == 0.0f, "lr at step 0 = %g, expected 0", pf_lr_at(&c, 0));
    CHECK(fabsf(pf_lr_at(&c, 5) - 5e-4f) < 1e-9f, "lr at 5 = %g", pf_lr_at(&c, 5));
    CHECK(fabsf(pf_lr_at(&c, 10) - 1e-3f) < 1e-9f, "lr at warm-up end = %g", pf_lr_at(&c, 10));
    CHECK(fabsf(pf_lr_at(&c, 60) - (1e-3f + 1e-5f) / 2) < 1e-8f, "lr mid-cosine = %g", pf_lr_at(&c, 60));
    CHECK(fabsf(pf_lr_at(&c, 35) - (float)(1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + cos(M_PI * 0.25)))) < 1e-8f,
          "lr at quarter cosine = %g", pf_lr_at(&c, 35));
    CHECK(pf_lr_at(&c, 110) == 1e-5f && pf_lr_at(&c, 500) == 1e-5f, "lr after the end != min_lr");
    for (int s = 11; s < 110; s++)
        CHECK(pf_lr_at(&c, s) <= pf_lr_at(&c, s - 1), "cosine not monotone at %d", s);
    c.total_steps = 5;
    CHECK(pf_adamw_create(&c) == NULL, "accepted total_steps < warmup_steps");
    c.total_steps = 110; c.accum_steps = 0;
    CHECK(pf_adamw_create(&c) == NULL, "accepted accum_steps = 0");

    /* parameters: a matrix (decays) and a bias */
    pf_pstore *p = pf_pstore_create();
    int iw = pf_pstore_add(p, "w", 2, (int[]){3, 4});
    int ib = pf_pstore_add(p, "b", 1, (int[]){3});
    CHECK(pf_pstore_add(p, "w", 1, (int[]){2}) < 0, "duplicate name accepted");
    CHECK(pf_pstore_finalize(p) == 0, "finalize failed");
    CHECK(p->n_params == 15, "n_params = %zu", p->n_params);
    pf_rng r;
    pf_rng_seed(&r, 11);
    t_randn(pf_pstore_data(p, iw), 12, 1, &r);
    t_randn(pf_pstore_data(p, ib), 3, 1, &r);

    /* clipping: gradients of norm 5 -> 1 / (5 + 1e-6) * 5 */
    float *gw = pf_pstore_grad(p, iw), *gb = pf_pstore_grad(p, ib);
    gw[0] = 3; gb[2] = 4;
    double n0 = pf_clip_grad_norm(p, 1.0f);
    CHECK(fabs(n0 - 5.0) < 1e-6, "global norm = %g, expected 5", n0);
    CHECK(fabs(pf_grad_global_norm(p) - 5.0 / (5.0 + 1e-6)) < 1e-6, "clipped norm = %g", pf_grad_global_norm(p));
    CHECK(fabsf(gw[0] - 3.0f / (5.0f + 1e-6f)) < 1e-6f, "clip scaled gw[0] to %g", gw[0]);
    pf_pstore_zero_grad(p);
    CHECK(pf_grad_global_norm(p) == 0.0, "zero_grad left gradients");

    /* AdamW: 5 steps of random gradients vs a double re-implementation */
    c = pf_adamw_defaults();
    c.lr = 0.01f; c.beta1 = 0.9f; c.beta2 = 0.95f; c.eps = 1e-8f; c.weight_decay = 0.1f;
    c.decay_all = 0; c.clip_norm = 0;
    pf_adamw *o = pf_adamw_create(&c);
    double w[15], m[15] = {0}, v[15] = {0};
    for (int i = 0; i < 12; i++) w[i] = pf_pstore_data(p, iw)[i];
    for (int i = 0; i < 3; i++) w[12 + i] = pf_pstore_data(p, ib)[i];
    for (int t = 1; t <= 5; t++) {
        double g[15];
        for (int i = 0; i < 15; i++) g[i] = pf_rng_normal(&r);
        for (int i = 0; i < 12; i++) gw[i] = (float)g[i];
        for (int i = 0; i < 3; i++) gb[i] = (float)g[12 + i];
        pf_adamw_update(o, p, c.lr);
        for (int i = 0; i < 15; i++) {
            if (i < 12) w[i] *= 1.0 - c.lr * c.weight_decay;   /* bias not decayed: decay_all = 0 */
            m[i] = 0.9 * m[i] + 0.1 * g[i];
            v[i] = 0.95 * v[i] + 0.05 * g[i] * g[i];
            double mh = m[i] / (1 - pow(0.9, t)), vh = v[i] / (1 - pow(0.95, t));
            w[i] -= 0.01 * mh / (sqrt(vh) + 1e-8);
        }
    }
    double worst = 0;
    for (int i = 0; i < 12; i++) worst = fmax(worst, fabs(pf_pstore_data(p, iw)[i] - w[i]));
    for (int i = 0; i < 3; i++) worst = fmax(worst, fabs(pf_pstore_data(p, ib)[i] - w[12 + i]));
    printf("adamw vs double reference after 5 steps: max abs diff %.3g\n", worst);
    CHECK(worst < 1e-5, "adamw deviates from the reference by %g", worst);
    CHECK(o->step == 5, "step counter = %lld", (long long)o->step);
    pf_adamw_destroy(o);

    /* accumulation: 2 micro-batches of 4 rows == 1 batch of 8 rows (mean loss).
     * loss = mean_n 0.5 * ||W x_n - y_n||^2, gradient dW = mean_n (W x_n - y_n) x_n^T */
    float X[8][4], Y[8][3];
    for (int n = 0; n < 8; n++) {
        for (int i = 0; i < 4; i++) X[n][i] = (float)pf_rng_normal(&r);
        for (int i = 0; i < 3; i++) Y[n][i] = (float)pf_rng_normal(&r);
    }
    float final[2][12];
    for (int mode = 0; mode < 2; mode++) {
        pf_pstore *q = pf_pstore_create();
        int qw = pf_pstore_add(q, "w", 2, (int[]){3, 4});
        pf_pstore_finalize(q);
        pf_rng r2;
        pf_rng_seed(&r2, 99);
        t_randn(pf_pstore_data(q, qw), 12, 1, &r2);
        pf_adamw_cfg ac = pf_adamw_defaults();
        ac.lr = 0.05f; ac.clip_norm = 0.5f; ac.accum_steps = mode ? 2 : 1;
        pf_adamw *oa = pf_adamw_create(&ac);
        int taken = 0;
        for (int step = 0; step < 3; step++) {
            int chunks = mode ? 2 : 1, rows = 8 / chunks;
            for (int ch = 0; ch < chunks; ch++) {
                float *W = pf_pstore_data(q, qw), *G = pf_pstore_grad(q, qw);
                for (int n = ch * rows; n < (ch + 1) * rows; n++)
                    for (int o3 = 0; o3 < 3; o3++) {
                        float e = -Y[n][o3];
                        for (int i = 0; i < 4; i++) e += W[o3 * 4 + i] * X[n][i];
                        for (int i = 0; i < 4; i++) G[o3 * 4 + i] += e * X[n][i] / rows;
                    }
                int rc = pf_adamw_micro_step(oa, q);
                CHECK(rc == (ch == chunks - 1), "micro_step returned %d at chunk %d", rc, ch);
                taken += rc;
            }
        }
        CHECK(taken == 3 && oa->step == 3, "accum mode %d took %d steps", mode, taken);
        memcpy(final[mode], pf_pstore_data(q, qw), sizeof final[mode]);
        pf_adamw_destroy(oa);
        pf_pstore_destroy(q);
    }
    double acc = 0;
    for (int i = 0; i < 12; i++) acc = fmax(acc, fabs(final[0][i] - final[1][i]));
    printf("accumulation (2 x 4) vs batch 8: max abs diff %.3g\n", acc);
    CHECK(acc < 1e-6, "gradient accumulation differs from the full batch by %g", acc);

    pf_pstore_destroy(p);
    return pf_test_done();
}
