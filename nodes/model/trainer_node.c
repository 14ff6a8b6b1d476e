/* Node kind `trainer`: the last model stage (model.md 4A): reconstruction
 * head and masked MSE, the learning-rate schedule, per-step metrics (CSV and
 * the launcher's status line), checkpoints and the end of the run.
 *
 * Split (port `in` from a transformer stage): per micro-batch it computes
 * the loss and the gradients of the encoded tokens and of the target, and
 * sends them back (port `back`, a feedback edge); with the step's last it
 * also sends the optimiser settings, its squared gradient norm and the
 * checkpoint directory up the chain. The wavelet stage's "step" message
 * brings the whole model's norm back down: the head updates, the metrics
 * row is written, and at the step count the trainer needs no more input.
 *
 * Fused (port `windows`): the same stage objects in this one process, the
 * same arithmetic in the same order, so the losses are identical. */
#include "pf_error.h"
#include "pf_log.h"
#include "pf_node.h"
#include "pf_rhead.h"
#include "pf_stage.h"
#include "pf_tstage.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const pf_param_spec trainer_params[] = {
    PF_STAGE_TRAINER_PARAMS,
    PF_STAGE_TRANSFORMER_PARAMS,
    PF_STAGE_BATCH_PARAMS,
    PF_STAGE_WAVELET_PARAMS,
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const pf_port_spec trainer_ports[] = {
    {"in", PF_PORT_IN, PF_MSG_TENSOR, 1, "split: encoded tokens, targets and masks from the transformer stage"},
    {"windows", PF_PORT_IN, PF_MSG_WINDOW, 1, "fused: windows; this node then runs the wavelet and transformer stages itself"},
    {"back", PF_PORT_OUT, PF_MSG_TENSOR, 1, "split: gradients to the transformer stage (feedback edge)"},
    {NULL, 0, 0, 0, NULL},
};

typedef struct {
    uint64_t seed;
    int fused;
    pf_tfm_cfg tc;
    pf_mask_cfg mc;
    pf_wavelet_cfg wc;
    pf_adamw_cfg sched;     /* lr schedule only */
    int64_t steps, every;
    int max_bad, bad_run, detach;
    char metrics[1024], ckpt_dir[1024];
    FILE *mf;
    /* stages: head always; wavelet + transformer when fused */
    pf_stage hst, tst, wst;
    pf_rhead *head;
    pf_tstage *ts;
    pf_wavelet *w;
    pf_batcher in;
    int B, M, N, R, T, D, P;
    float *dz, *dtarget, *dspec;
    int64_t step;           /* next step (0-based) */
    int64_t windows;
    int64_t saved_step;
    double loss_sum;
    int micro_seen;
    float first_loss, last_loss;
    uint64_t t_step;
} trainer_t;

static int open_metrics(trainer_t *t, int64_t keep_upto)
{
    if (!t->metrics[0]) return PF_OK;
    /* on resume keep the rows of the steps already taken, drop any after them */
    char *kept = NULL;
    size_t klen = 0;
    if (keep_upto >= 0) {
        FILE *old = fopen(t->metrics, "r");
        FILE *mem = open_memstream(&kept, &klen);
        char line[1024];
        for (int first = 1; old && mem && fgets(line, sizeof line, old); first = 0) {
            long long st = 0;
            if (first || (sscanf(line, "%lld,", &st) == 1 && st <= keep_upto + 1)) fputs(line, mem);
        }
        if (old) fclose(old);
        if (mem) fclose(mem);
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", t->metrics);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) { /* make its folder, as the checkpoints' */
        *slash = 0;
        for (char *q = dir + 1; *q; q++)
            if (*q == '/') { *q = 0; mkdir(dir, 0755); *q = '/'; }
        mkdir(dir, 0755);
    }
    t->mf = fopen(t->metrics, "w");
    if (!t->mf) { free(kept); return pf_err(PF_EIO, "trainer: cannot write metrics %s: %s", t->metrics, strerror(errno)); }
    if (kept && klen) fwrite(kept, 1, klen, t->mf);
    else fprintf(t->mf, "step,epoch,lr,loss,loss_masked,grad_norm,windows_per_s,skipped_steps\n");
    free(kept);
    fflush(t->mf);
    return PF_OK;
}

static int build_head(pf_node *n, trainer_t *t, int max_N)
{
    t->head = pf_stage_build_head(&t->hst, &t->tc, max_N, t->seed, pf_node_resume_dir(n));
    if (!t->head) return pf_err_context(PF_EINVAL, "trainer head");
    t->dz = malloc(sizeof(float) * (size_t)max_N * t->tc.dim);
    t->dtarget = malloc(sizeof(float) * (size_t)max_N * t->tc.patch);
    return t->dz && t->dtarget ? PF_OK : PF_ENOMEM;
}

static int trainer_create(pf_node *n, void **state)
{
    const pf_params *p = pf_node_params(n);
    trainer_t *t = calloc(1, sizeof *t);
    if (!t) return pf_err(PF_ENOMEM, "trainer: out of memory");
    *state = t;
    t->seed = pf_node_seed(n);
    t->saved_step = -1;
    t->steps = pf_params_int(p, "steps");
    t->every = pf_params_int(p, "checkpoint_every");
    t->max_bad = (int)pf_params_int(p, "max_bad_steps");
    t->detach = pf_params_bool(p, "detach_target");
    snprintf(t->metrics, sizeof t->metrics, "%s", pf_params_string(p, "metrics"));
    snprintf(t->ckpt_dir, sizeof t->ckpt_dir, "%s", pf_params_string(p, "checkpoint_dir"));
    t->sched = pf_adamw_defaults();
    t->sched.lr = (float)pf_params_double(p, "lr");
    t->sched.min_lr = (float)pf_params_double(p, "min_lr");
    t->sched.warmup_steps = pf_params_int(p, "warmup_steps");
    t->sched.total_steps = pf_params_int(p, "total_steps") ? pf_params_int(p, "total_steps") : t->steps;
    int rc = pf_stage_tfm_cfg(p, &t->tc, &t->mc);
    if (rc) return rc;
    /* fused when windows come in: this process runs every stage */
    t->fused = pf_node_input_connected(n, "windows");
    if (t->fused == pf_node_input_connected(n, "in"))
        return pf_err(PF_EINVAL, "trainer: connect exactly one of 'in' (split stages) and 'windows' (fused)");
    if (t->fused) {
        if ((rc = pf_stage_wavelet_cfg(p, &t->wc))) return rc;
        t->B = (int)pf_params_int(p, "batch");
        t->M = (int)pf_params_int(p, "accum");
        t->T = (int)pf_params_int(p, "window");
        t->R = (t->wc.levels + 1) * t->wc.n_leads;
        if (t->T % t->tc.patch) return pf_err(PF_EINVAL, "trainer: window %d is not a multiple of the patch %d", t->T, t->tc.patch);
        t->N = t->B * t->R * (t->T / t->tc.patch);
        const char *rd = pf_node_resume_dir(n);
        t->w = pf_stage_build_wavelet(&t->wst, &t->wc, t->B, t->T, t->seed, rd);
        t->ts = t->w ? pf_stage_build_tfm(&t->tst, &t->tc, &t->mc, t->B, t->N / t->B, t->seed, rd) : NULL;
        if (!t->ts) return pf_err_context(PF_EINVAL, "trainer (fused) stages");
        if ((rc = build_head(n, t, t->N))) return rc;
        t->dspec = malloc(sizeof(float) * (size_t)t->B * t->R * t->T);
        if (!t->dspec || (rc = pf_batcher_init(&t->in, t->B, t->M, t->wc.n_leads, t->T))) return rc ? rc : PF_ENOMEM;
    }
    int64_t keep = -1;
    if (pf_node_resume_dir(n)) {
        int64_t st, w;
        if ((rc = pf_ckpt_manifest_read(pf_node_resume_dir(n), &st, &w, NULL))) return rc;
        t->step = st + 1;
        t->windows = t->in.skip = w;
        t->saved_step = st;
        keep = st;
        pf_info("resuming after step %lld of %lld", (long long)st + 1, (long long)t->steps);
    }
    if ((rc = open_metrics(t, keep))) return rc;
    pf_node_set_counter(n, "steps_total", (uint64_t)t->steps);
    pf_node_set_counter(n, "step", (uint64_t)t->step);
    t->t_step = pf_now_ns();
    return PF_OK;
}

/* The optimiser settings every stage updates with at this step. */
static pf_step_opt step_opt(pf_node *n, const trainer_t *t, int64_t step)
{
    const pf_params *p = pf_node_params(n);
    pf_step_opt o = {pf_lr_at(&t->sched, step), pf_params_double(p, "beta1"), pf_params_double(p, "beta2"),
                     pf_params_double(p, "eps"), pf_params_double(p, "weight_decay"), pf_params_double(p, "clip"),
                     step, t->M, 0};
    return o;
}

static int flags_of(const trainer_t *t, int64_t step)
{
    int f = 0;
    if (step + 1 >= t->steps) f |= PF_STEP_FINAL;
    if (t->ckpt_dir[0] && ((f & PF_STEP_FINAL) || (t->every > 0 && (step + 1) % t->every == 0))) f |= PF_STEP_CKPT;
    return f;
}

/* After every stage has updated (or skipped) step t->step: metrics, checkpoint, end. */
static int step_done(pf_node *n, trainer_t *t, double total, uint32_t epoch, int flags, int applied)
{
    int64_t step = t->step;
    double loss = t->micro_seen ? t->loss_sum / t->micro_seen : NAN;
    uint64_t now = pf_now_ns();
    double wps = (double)t->B * t->M / ((double)(now - t->t_step) / 1e9);
    t->t_step = now;
    double norm = sqrt(total) / t->M;
    if (applied) t->bad_run = 0;
    else {
        t->bad_run++;
        pf_node_count(n, "skipped_steps", 1);
        pf_warn("step %lld: non-finite loss or gradient (loss %g, norm %g): skipped, parameters unchanged", (long long)step + 1, loss, norm);
    }
    if (t->mf) {
        fprintf(t->mf, "%lld,%u,%.9g,%.9g,%.9g,%.9g,%.3f,%d\n", (long long)step + 1, epoch, (double)pf_lr_at(&t->sched, step), loss, loss,
                norm, wps, t->bad_run);
        fflush(t->mf);
    }
    if (step == 0 || (step + 1) % 10 == 0 || (flags & PF_STEP_FINAL))
        pf_info("step %lld/%lld epoch %u: loss %.6f, grad norm %.4f, lr %.3g, %.1f windows/s", (long long)step + 1,
                (long long)t->steps, epoch, loss, norm, (double)pf_lr_at(&t->sched, step), wps);
    if (step == 0 || t->step == t->saved_step + 1) t->first_loss = t->first_loss ? t->first_loss : (float)loss;
    t->last_loss = (float)loss;
    pf_node_set_counter(n, "step", (uint64_t)step + 1);
    pf_node_set_counter(n, "epoch", epoch);
    pf_node_set_counter(n, "loss_e6", isfinite(loss) && loss >= 0 ? (uint64_t)llround(loss * 1e6) : 0);
    pf_node_set_counter(n, "win_s_e3", (uint64_t)llround(wps * 1e3));
    if (t->bad_run >= t->max_bad)
        return pf_err(PF_ERANGE, "trainer: %d consecutive steps with a non-finite loss or gradient (last: step %lld): stopping",
                      t->bad_run, (long long)step + 1);
    t->windows += (int64_t)t->B * t->M;
    t->loss_sum = 0;
    t->micro_seen = 0;
    t->step++;
    if (flags & PF_STEP_CKPT) {
        int rc = pf_stage_save(&t->hst, t->ckpt_dir, step, t->windows);
        if (!rc && t->fused) rc = pf_stage_save(&t->tst, t->ckpt_dir, step, t->windows);
        if (!rc && t->fused) rc = pf_stage_save(&t->wst, t->ckpt_dir, step, t->windows);
        if (!rc) rc = pf_ckpt_manifest_write(t->ckpt_dir, step, t->windows, (int)epoch);
        if (rc) return rc;
        t->saved_step = step;
        pf_info("checkpoint of step %lld in %s/step-%08lld", (long long)step + 1, t->ckpt_dir, (long long)step);
    }
    if (flags & PF_STEP_FINAL) {
        pf_info("trained %lld steps: loss %.6f -> %.6f; checkpoint %s, metrics %s", (long long)t->steps, t->first_loss,
                t->last_loss, t->ckpt_dir[0] ? t->ckpt_dir : "(none)", t->metrics[0] ? t->metrics : "(none)");
        return PF_DONE;
    }
    return PF_OK;
}

/* ---- fused ---- */

static int fused_step(pf_node *n, trainer_t *t)
{
    int F = t->R, TP = t->T / t->tc.patch, rc;
    double sq_h = 0, sq_t = 0, sq_w = 0;
    for (int mi = 0; mi < t->M; mi++) {
        const float *x = t->in.x + (size_t)mi * t->B * t->wc.n_leads * t->T;
        float loss = 0;
        rc = pf_wavelet_forward(t->w, t->wst.p, x, t->B, 1, pf_stage_key(t->seed, t->step, mi, PF_SITE_WAVELET));
        const float *spec = pf_wavelet_output(t->w);
        if (!rc) rc = pf_tstage_forward(t->ts, t->tst.p, spec, t->B, F, TP, NULL, 1, pf_stage_key(t->seed, t->step, mi, PF_SITE_MASK),
                                        pf_stage_key(t->seed, t->step, mi, PF_SITE_ENCODER));
        if (!rc) rc = pf_rhead_forward(t->head, t->hst.p, pf_tstage_encoded(t->ts), spec, pf_tstage_mask(t->ts), t->N, 1,
                                       pf_stage_key(t->seed, t->step, mi, PF_SITE_HEAD), &loss);
        if (!rc) rc = pf_rhead_backward(t->head, t->hst.p, t->dz, t->detach ? NULL : t->dtarget);
        if (!rc) rc = pf_tstage_backward(t->ts, t->tst.p, t->dz, t->detach ? NULL : t->dtarget, t->dspec);
        if (!rc) rc = pf_wavelet_backward(t->w, t->wst.p, t->dspec, NULL);
        if (rc) return pf_err_context(rc, "fused step %lld micro-batch %d", (long long)t->step + 1, mi);
        t->loss_sum += loss;
        t->micro_seen++;
        pf_node_heartbeat(n);
    }
    sq_h = isfinite(t->loss_sum) ? pf_grad_sqnorm(t->hst.p) : NAN;
    sq_t = pf_grad_sqnorm(t->tst.p);
    sq_w = pf_grad_sqnorm(t->wst.p);
    double total = pf_stage_total_sq(sq_h, sq_t, sq_w);
    pf_step_opt o = step_opt(n, t, t->step);
    o.flags = flags_of(t, t->step);
    int applied = pf_stage_update(&t->wst, &o, total);
    pf_stage_update(&t->tst, &o, total);
    pf_stage_update(&t->hst, &o, total);
    return step_done(n, t, total, t->in.epoch, o.flags, applied);
}

/* ---- split ---- */

static int split_micro(pf_node *n, trainer_t *t, const pf_msg *m, const int64_t *meta)
{
    const pf_section *z = pf_tmsg_get(m, "z", PF_DT_F32, 3, NULL);
    if (!z) return PF_EFORMAT;
    uint32_t B = z->dims[0], L = z->dims[1], D = z->dims[2];
    if ((int)D != t->tc.dim)
        return pf_err(PF_EFORMAT, "trainer: encoded tokens of dimension %u, the trainer's preset %s has %d (set the same preset on both)", D, t->tc.name, t->tc.dim);
    int rc;
    if (!t->head) {
        t->B = (int)B;
        t->M = (int)meta[2];
        t->N = (int)(B * L);
        if ((rc = build_head(n, t, t->N))) return rc;
    }
    if ((int)(B * L) != t->N || meta[2] != t->M) return pf_err(PF_EFORMAT, "trainer: micro-batch of %u x %u tokens (accum %lld) after %d (accum %d)", B, L, (long long)meta[2], t->N, t->M);
    if (meta[0] != t->step) return pf_err(PF_EFORMAT, "trainer: micro-batch of step %lld while at step %lld", (long long)meta[0], (long long)t->step);
    uint32_t dt[3] = {B, L, (uint32_t)t->tc.patch}, dm[2] = {B, L};
    const pf_section *tg = pf_tmsg_get(m, "target", PF_DT_F32, 3, dt);
    const pf_section *mk = tg ? pf_tmsg_get(m, "mask", PF_DT_F32, 2, dm) : NULL;
    if (!mk) return PF_EFORMAT;
    float loss = 0;
    rc = pf_rhead_forward(t->head, t->hst.p, z->data, tg->data, mk->data, t->N, 1, pf_stage_key(t->seed, meta[0], (int)meta[1], PF_SITE_HEAD), &loss);
    if (!rc) rc = pf_rhead_backward(t->head, t->hst.p, t->dz, t->detach ? NULL : t->dtarget);
    if (rc) return rc;
    t->loss_sum += loss;
    t->micro_seen++;
    pf_msg *g = pf_msg_create(PF_MSG_TENSOR, "grad");
    uint32_t four = 4, dz[3] = {B, L, D};
    if (!g || pf_tmsg_add(g, "meta", PF_DT_I64, 1, &four, meta) || pf_tmsg_add(g, "dz", PF_DT_F32, 3, dz, t->dz) ||
        (!t->detach && pf_tmsg_add(g, "dtarget", PF_DT_F32, 3, dt, t->dtarget))) {
        pf_msg_destroy(g);
        return PF_ENOMEM;
    }
    if (meta[1] == meta[2] - 1) {
        pf_step_opt o = step_opt(n, t, t->step);
        o.flags = flags_of(t, t->step);
        double ov[PF_STEP_OPT_N], sq = isfinite(t->loss_sum) ? pf_grad_sqnorm(t->hst.p) : NAN;
        pf_step_opt_pack(&o, ov);
        uint32_t no = PF_STEP_OPT_N, one = 1, nc = (uint32_t)strlen(t->ckpt_dir);
        if (pf_tmsg_add(g, "opt", PF_DT_F64, 1, &no, ov) || pf_tmsg_add(g, "sq", PF_DT_F64, 1, &one, &sq) ||
            pf_tmsg_add(g, "ckpt_dir", PF_DT_U8, 1, &nc, t->ckpt_dir)) {
            pf_msg_destroy(g);
            return PF_ENOMEM;
        }
    }
    return pf_node_send(n, "back", g);
}

static int trainer_process(pf_node *n, void *state, const char *port, pf_msg *m)
{
    trainer_t *t = state;
    if (t->fused) {
        if (pf_node_stopping(n)) return PF_DONE; /* Ctrl-C: finish() checkpoints the last step taken */
        int full = 0, rc = pf_batcher_take(n, &t->in, m, &full);
        return rc || !full ? rc : fused_step(n, t);
    }
    uint32_t four = 4;
    const pf_section *meta = pf_tmsg_get(m, "meta", PF_DT_I64, 1, &four);
    if (!meta) return pf_node_reject(n, "protocol", m, "%s", pf_errmsg());
    if (!strcmp(m->id, "enc")) return split_micro(n, t, m, meta->data);
    const pf_section *tot = pf_tmsg_get(m, "total", PF_DT_F64, 1, &four);
    if (!tot) return pf_node_reject(n, "protocol", m, "%s", pf_errmsg());
    const double *tv = tot->data;
    if (!strcmp(m->id, "end")) { /* the stream ended before the step count: checkpoint what was taken */
        if (!t->head || t->saved_step == (int64_t)((const int64_t *)meta->data)[0]) return PF_OK;
        int64_t step = ((const int64_t *)meta->data)[0];
        int rc = pf_stage_save(&t->hst, t->ckpt_dir, step, (int64_t)tv[1]);
        if (!rc) rc = pf_ckpt_manifest_write(t->ckpt_dir, step, (int64_t)tv[1], (int)tv[2]);
        if (!rc) {
            t->saved_step = step;
            pf_info("checkpoint of step %lld in %s/step-%08lld (the stream ended first)", (long long)step + 1, t->ckpt_dir, (long long)step);
        }
        return rc;
    }
    if (strcmp(m->id, "step")) return pf_node_reject(n, "protocol", m, "unknown stage message '%s'", m->id);
    if (((const int64_t *)meta->data)[0] != t->step || !t->head)
        return pf_err(PF_EFORMAT, "trainer: update of step %lld while at step %lld", (long long)((const int64_t *)meta->data)[0], (long long)t->step);
    pf_step_opt o = step_opt(n, t, t->step);
    o.flags = (int)tv[3];
    int applied = pf_stage_update(&t->hst, &o, tv[0]);
    return step_done(n, t, tv[0], (uint32_t)tv[2], o.flags, applied);
}

static int trainer_finish(pf_node *n, void *state, int interrupted)
{
    trainer_t *t = state;
    if (t->fused && t->step > 0 && t->saved_step != t->step - 1 && t->ckpt_dir[0]) {
        /* the stream ended before the step count */
        int64_t step = t->step - 1;
        int rc = pf_stage_save(&t->hst, t->ckpt_dir, step, t->windows);
        if (!rc) rc = pf_stage_save(&t->tst, t->ckpt_dir, step, t->windows);
        if (!rc) rc = pf_stage_save(&t->wst, t->ckpt_dir, step, t->windows);
        if (!rc) rc = pf_ckpt_manifest_write(t->ckpt_dir, step, t->windows, (int)t->in.epoch);
        if (rc) return rc;
        t->saved_step = step;
    }
    if (t->step < t->steps)
        pf_warn("the stream ended after %lld of %lld steps%s", (long long)t->step, (long long)t->steps,
                t->step && t->saved_step == t->step - 1 ? " (checkpointed)" : "");
    return PF_OK;
}

static void trainer_destroy(void *state)
{
    trainer_t *t = state;
    if (!t) return;
    if (t->mf) fclose(t->mf);
    pf_rhead_destroy(t->head);
    pf_tstage_destroy(t->ts);
    pf_wavelet_destroy(t->w);
    pf_batcher_free(&t->in);
    pf_stage_free(&t->hst);
    pf_stage_free(&t->tst);
    pf_stage_free(&t->wst);
    free(t->dz);
    free(t->dtarget);
    free(t->dspec);
    free(t);
}

const pf_kind pf_kind_trainer = {
    .name = "trainer",
    .doc = "model stage 3: reconstruction head + masked MSE, AdamW schedule, metrics, checkpoints (or every stage, fused)",
    .params = trainer_params,
    .ports = trainer_ports,
    .create = trainer_create,
    .process = trainer_process,
    .finish = trainer_finish,
    .destroy = trainer_destroy,
};
