/* Node kind `trainer`: the last model stage (model.md 4): the objective
 * (masked reconstruction, feature-guided contrastive, global and peak-aware
 * reconstruction, any weighted mix: pf_objective), the learning-rate
 * schedule, per-step and validation metrics per term (CSV, the launcher's
 * status line, a PNG of the curves at the end), checkpoints and the end of
 * the run.
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
#include "pf_embed.h"
#include "pf_error.h"
#include "pf_finetune.h"
#include "pf_log.h"
#include "pf_node.h"
#include "pf_objective.h"
#include "pf_plot.h"
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
    PF_STAGE_OBJECTIVE_PARAMS,
    PF_STAGE_LABEL_PARAMS,
    PF_STAGE_CLASSIFY_PARAMS,
    PF_STAGE_VAL_PARAMS,
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const pf_port_spec trainer_ports[] = {
    {"in", PF_PORT_IN, PF_MSG_TENSOR, 1, "split: encoded tokens, targets and masks from the transformer stage"},
    {"windows", PF_PORT_IN, PF_MSG_WINDOW, 1, "fused: windows; this node then runs the wavelet and transformer stages itself"},
    {"val", PF_PORT_IN, PF_MSG_WINDOW, 1, "fused: validation windows (records never in the training branch)"},
    {"back", PF_PORT_OUT, PF_MSG_TENSOR, 1, "split: gradients to the transformer stage (feedback edge)"},
    {NULL, 0, 0, 0, NULL},
};

/* Per-term sums over a step's (or a validation pass's) micro-batches. */
enum { TERM_TOTAL, TERM_MASKED, TERM_CON, TERM_GLOBAL, TERM_PEAK, N_TERMS };
typedef struct {
    double sum[N_TERMS];
    int n[N_TERMS];
    int rank_ok, rank_n, no_feat, no_peaks, no_neg;
} term_acc;

static void acc_add(term_acc *a, const pf_obj_terms *t)
{
    double v[N_TERMS] = {t->total, t->masked, t->con, t->global, t->peak};
    for (int k = 0; k < N_TERMS; k++)
        if (!isnan(v[k]) || k == TERM_TOTAL) { a->sum[k] += v[k]; a->n[k]++; }
    a->rank_ok += t->rank_ok; a->rank_n += t->rank_n;
    a->no_feat += t->no_feat; a->no_peaks += t->no_peaks; a->no_neg += t->con_skipped;
}
static double acc_mean(const term_acc *a, int k) { return a->n[k] ? a->sum[k] / a->n[k] : NAN; }

typedef struct {
    uint64_t seed;
    int fused;
    pf_objective obj;
    pf_contrast_cfg cc;
    pf_featstats *fs;
    pf_objective_run *run;
    pf_rhead *sig;
    pf_finetune *ft;        /* objective classify: the head, labels, validation scores */
    int stop_next;          /* early stopping: the next step is the last */
    int evaluate;           /* classify: score the windows with init_from's model, no training */
    double train_acc, val_acc, val_f1;
    double lr, beta2, eps, wd;
    char plot[1024];
    term_acc acc, vacc;
    int pending_done;       /* the final step is taken; its validation pass is still to come */
    pf_batcher val;         /* fused: the validation set */
    int has_val, val_ready, val_every;
    int64_t val_step;
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
    int B, M, N, R, T, D, P, C, rows;
    float *dz, *dtarget, *dspec, *zeros;
    int64_t step;           /* next step (0-based) */
    int64_t windows;
    int64_t saved_step;
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
    else fprintf(t->mf, "step,epoch,split,lr,loss,loss_masked,loss_contrastive,loss_global,loss_peak,rank_acc,grad_norm,"
                        "windows_per_s,skipped_steps,no_features,no_peaks,no_negative,accuracy,macro_f1\n");
    free(kept);
    fflush(t->mf);
    return PF_OK;
}

/* The heads and the objective, for B windows of C leads x T samples, R Spec rows. */
static int build_objective(pf_node *n, trainer_t *t, int B, int C, int T, int R, int rows)
{
    int TP = T / t->tc.patch, N = R * TP;
    t->B = B; t->C = C; t->T = T; t->R = R; t->rows = rows; t->N = B * N;
    if (t->obj.classify) {
        t->ft = pf_finetune_create(pf_node_params(n), &t->obj, t->tc.dim, B, N, &t->hst, t->seed, pf_node_resume_dir(n));
        t->dz = malloc(sizeof(float) * (size_t)B * N * t->tc.dim);
        if (!t->ft) return pf_err_context(PF_EINVAL, "trainer");
        return t->dz ? PF_OK : pf_err(PF_ENOMEM, "trainer: out of memory");
    }
    int rc = pf_stage_build_head(&t->hst, &t->tc, t->obj.w_masked > 0 ? B * N : 0,
                                 t->obj.w_global > 0 || t->obj.w_peak > 0 ? B * C * TP : 0, &t->head, &t->sig, t->seed,
                                 pf_node_resume_dir(n));
    if (rc) return pf_err_context(rc, "trainer heads");
    t->run = pf_objective_create(&t->obj, &t->cc, t->fs, t->head, t->sig, B, C, R, TP, t->tc.patch, t->tc.dim);
    t->dz = malloc(sizeof(float) * (size_t)rows * B * N * t->tc.dim);
    t->dtarget = malloc(sizeof(float) * (size_t)rows * B * N * t->tc.patch);
    return t->run && t->dz && t->dtarget ? PF_OK : pf_err(PF_ENOMEM, "trainer: out of memory");
}


static int trainer_create(pf_node *n, void **state)
{
    const pf_params *p = pf_node_params(n);
    trainer_t *t = calloc(1, sizeof *t);
    if (!t) return pf_err(PF_ENOMEM, "trainer: out of memory");
    *state = t;
    t->seed = pf_node_seed(n);
    t->saved_step = -1;
    t->val_step = -1; /* the baseline pass before the first step */
    t->steps = pf_params_int(p, "steps");
    t->every = pf_params_int(p, "checkpoint_every");
    t->max_bad = (int)pf_params_int(p, "max_bad_steps");
    t->detach = pf_params_bool(p, "detach_target");
    snprintf(t->metrics, sizeof t->metrics, "%s", pf_params_string(p, "metrics"));
    snprintf(t->ckpt_dir, sizeof t->ckpt_dir, "%s", pf_params_string(p, "checkpoint_dir"));
    int rc = pf_stage_tfm_cfg(p, &t->tc, &t->mc);
    if (!rc) rc = pf_stage_objective(p, &t->obj);
    if (rc) return rc;
    /* each paper's optimiser unless set (model.md 4, Optimiser); the hybrid keeps PhysioWave's */
    /* classify: PhysioWave's fine-tuning (lr 2e-4 of its ECG script, AdamW's default betas, wd 1e-3) */
    static const double opt_preset[4][4] = {{2e-5, 0.95, 1e-8, 1e-3}, {5e-5, 0.98, 1e-6, 0.01}, {2e-5, 0.95, 1e-8, 1e-3},
                                            {2e-4, 0.999, 1e-8, 1e-3}};
    const double *op = opt_preset[t->obj.preset];
    double v;
    t->lr = (v = pf_params_double(p, "lr")) >= 0 ? v : op[0];
    t->beta2 = (v = pf_params_double(p, "beta2")) >= 0 ? v : op[1];
    t->eps = (v = pf_params_double(p, "eps")) >= 0 ? v : op[2];
    t->wd = (v = pf_params_double(p, "weight_decay")) >= 0 ? v : op[3];
    const char *sch = pf_params_string(p, "schedule");
    int constant = !strcmp(sch, "constant") || (!strcmp(sch, "auto") && t->obj.preset == PF_OBJ_PHYSIOCLR);
    t->sched = pf_adamw_defaults();
    t->sched.lr = (float)t->lr;
    t->sched.min_lr = (float)pf_params_double(p, "min_lr");
    t->sched.warmup_steps = pf_params_int(p, "warmup_steps");
    t->sched.total_steps = constant ? 0 : pf_params_int(p, "total_steps") ? pf_params_int(p, "total_steps") : t->steps;
    t->cc = (pf_contrast_cfg){(float)pf_params_double(p, "tau"), (float)pf_params_double(p, "delta"),
                              strcmp(pf_params_string(p, "contrastive"), "supcon") ? PF_CONTRAST_PHYSIOCLR : PF_CONTRAST_SUPCON};
    const char *fsp = pf_params_string(p, "feature_stats");
    if (t->obj.w_con > 0) {
        if (!fsp[0])
            return pf_err(PF_EINVAL, "trainer: the contrastive term (objective '%s') needs feature statistics: set feature_stats = "
                          "\"FILE.h5\" from `physioflow features fit`", pf_params_string(p, "objective"));
        if (!(t->fs = pf_featstats_load(fsp)))
            return pf_err_context(PF_ENOTFOUND, "trainer: feature_stats '%s' (make it with `physioflow features fit`)", fsp);
    }
    snprintf(t->plot, sizeof t->plot, "%s", pf_params_string(p, "plot"));
    if (!t->plot[0] && t->metrics[0]) {
        snprintf(t->plot, sizeof t->plot, "%s", t->metrics);
        char *dot = strrchr(t->plot, '.'), *sl = strrchr(t->plot, '/');
        if (dot && (!sl || dot > sl)) *dot = 0;
        strncat(t->plot, ".png", sizeof t->plot - strlen(t->plot) - 1);
    }
    /* fused when windows come in: this process runs every stage */
    t->val_every = (int)pf_params_int(p, "val_every");
    t->fused = pf_node_input_connected(n, "windows");
    if (pf_params_bool(p, "evaluate") && (!t->obj.classify || !t->fused))
        return pf_err(PF_EINVAL, "trainer: evaluate = true needs objective = \"classify\" and the windows on port 'windows' (fused)");
    if (t->fused == pf_node_input_connected(n, "in"))
        return pf_err(PF_EINVAL, "trainer: connect exactly one of 'in' (split stages) and 'windows' (fused)");
    if (t->fused) {
        if ((rc = pf_stage_wavelet_cfg(p, &t->wc))) return rc;
        t->B = (int)pf_params_int(p, "batch");
        t->M = (int)pf_params_int(p, "accum");
        t->T = (int)pf_params_int(p, "window");
        t->R = (t->wc.levels + 1) * t->wc.n_leads;
        if (t->T % t->tc.patch) return pf_err(PF_EINVAL, "trainer: window %d is not a multiple of the patch %d", t->T, t->tc.patch);
        int rows = t->obj.rows, C = t->wc.n_leads;
        const char *rd = pf_node_resume_dir(n);
        t->w = pf_stage_build_wavelet(&t->wst, &t->wc, rows * t->B, t->T, t->seed, rd);
        t->ts = t->w ? pf_stage_build_tfm(&t->tst, &t->tc, &t->mc, rows * t->B, t->R * (t->T / t->tc.patch), t->seed, rd) : NULL;
        if (!t->ts) return pf_err_context(PF_EINVAL, "trainer (fused) stages");
        if (t->obj.init_from[0] && !rd && (rc = pf_stage_init_encoder(t->obj.init_from, &t->tc, &t->wst, &t->tst))) return rc;
        if ((rc = build_objective(n, t, t->B, C, t->T, t->R, rows))) return rc;
        t->dspec = malloc(sizeof(float) * (size_t)rows * t->B * t->R * t->T);
        t->zeros = calloc((size_t)rows * t->B * t->R * (t->T / t->tc.patch), sizeof(float));
        if (!t->dspec || !t->zeros || (rc = pf_batcher_init(&t->in, t->B, t->M, C, t->T, rows, t->obj.peak_ms))) return rc ? rc : PF_ENOMEM;
        t->in.count_missing = t->obj.w_con > 0 || t->obj.w_peak > 0;
        t->has_val = pf_node_input_connected(n, "val");
        int vw = (int)pf_params_int(p, "val_windows");
        if (t->has_val && (rc = pf_batcher_init(&t->val, t->B, (vw + t->B - 1) / t->B, C, t->T, rows, t->obj.peak_ms))) return rc;
        if (t->obj.classify && (rc = pf_batcher_labels(&t->in, t->obj.K, t->obj.multi))) return rc;
        if ((t->evaluate = t->obj.classify && pf_params_bool(p, "evaluate"))) {
            if (!t->obj.init_from[0]) return pf_err(PF_EINVAL, "trainer: evaluate = true scores a fine-tuned model: set init_from to its checkpoint directory");
            if ((rc = pf_stage_load_params(&t->hst, t->obj.init_from))) return rc;
            pf_finetune_after_load(t->ft, t->hst.p);
            pf_finetune_val_begin(t->ft);
        }
        if (t->obj.classify && t->has_val && (rc = pf_batcher_labels(&t->val, t->obj.K, t->obj.multi))) return rc;
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
    if (!t->evaluate) pf_node_set_counter(n, "steps_total", (uint64_t)t->steps); /* evaluate counts "evaluated" */
    pf_node_set_counter(n, "step", (uint64_t)t->step);
    t->t_step = pf_now_ns();
    return PF_OK;
}

/* The optimiser settings every stage updates with at this step. */
static pf_step_opt step_opt(pf_node *n, const trainer_t *t, int64_t step)
{
    const pf_params *p = pf_node_params(n);
    pf_step_opt o = {pf_lr_at(&t->sched, step), pf_params_double(p, "beta1"), t->beta2, t->eps, t->wd,
                     pf_params_double(p, "clip"), step, t->M, 0};
    return o;
}

static int flags_of(const trainer_t *t, int64_t step)
{
    int f = 0;
    if (step + 1 >= t->steps || t->stop_next) f |= PF_STEP_FINAL;
    if (t->ckpt_dir[0] && ((f & PF_STEP_FINAL) || (t->every > 0 && (step + 1) % t->every == 0))) f |= PF_STEP_CKPT;
    /* classify: every validated step is checkpointed, so that the best one can be named (DIR/best) */
    if (t->ckpt_dir[0] && t->obj.classify && t->val_every > 0 && (step + 1) % t->val_every == 0) f |= PF_STEP_CKPT;
    return f;
}

static void put_num(FILE *f, double v) { if (isfinite(v)) fprintf(f, ",%.9g", v); else fputc(',', f); }

/* One metrics row: a step's training terms or a validation pass. */
static void write_row(trainer_t *t, int64_t step, uint32_t epoch, const char *split, const term_acc *a, double norm, double wps)
{
    if (!t->mf) return;
    fprintf(t->mf, "%lld,%u,%s", (long long)step + 1, epoch, split);
    put_num(t->mf, pf_lr_at(&t->sched, step < 0 ? 0 : step));
    for (int k = 0; k < N_TERMS; k++) put_num(t->mf, acc_mean(a, k));
    put_num(t->mf, a->rank_n ? (double)a->rank_ok / a->rank_n : NAN);
    put_num(t->mf, norm);
    put_num(t->mf, wps);
    fprintf(t->mf, ",%d,%d,%d,%d", t->bad_run, a->no_feat, a->no_peaks, a->no_neg);
    int val = !strcmp(split, "val");
    put_num(t->mf, val ? t->val_acc : t->train_acc);
    put_num(t->mf, val ? t->val_f1 : NAN);
    fputc('\n', t->mf);
    fflush(t->mf);
}

/* A gauge in signed millionths (the contrastive term can be negative); INT64_MIN = not computed. */
static void gauge(pf_node *n, const char *name, double v)
{
    int64_t e = isfinite(v) && fabs(v) < 9e12 ? (int64_t)llround(v * 1e6) : INT64_MIN;
    pf_node_set_counter(n, name, (uint64_t)e);
}

/* After every stage has updated (or skipped) step t->step: metrics, checkpoint, end. */
static int step_done(pf_node *n, trainer_t *t, double total, uint32_t epoch, int flags, int applied)
{
    int64_t step = t->step;
    double loss = acc_mean(&t->acc, TERM_TOTAL);
    uint64_t now = pf_now_ns();
    double wps = (double)t->B * t->M / ((double)(now - t->t_step) / 1e9);
    t->t_step = now;
    double norm = sqrt(total) / t->M;
    t->train_acc = t->ft ? pf_finetune_train_acc(t->ft) : NAN;
    if (applied) t->bad_run = 0;
    else {
        t->bad_run++;
        pf_node_count(n, "skipped_steps", 1);
        pf_warn("step %lld: non-finite loss or gradient (loss %g, norm %g): skipped, parameters unchanged", (long long)step + 1, loss, norm);
    }
    write_row(t, step, epoch, "train", &t->acc, norm, wps);
    if (t->ft && (step == 0 || (step + 1) % 10 == 0 || (flags & PF_STEP_FINAL)))
        pf_info("step %lld/%lld epoch %u: loss %.6f, accuracy %.3f, grad norm %.4f, lr %.3g, %.1f windows/s", (long long)step + 1,
                (long long)t->steps, epoch, loss, t->train_acc, norm, (double)pf_lr_at(&t->sched, step), wps);
    else if (step == 0 || (step + 1) % 10 == 0 || (flags & PF_STEP_FINAL))
        pf_info("step %lld/%lld epoch %u: loss %.6f (masked %.4g, contrastive %.4g, global %.4g, peak %.4g), grad norm %.4f, lr %.3g, %.1f windows/s",
                (long long)step + 1, (long long)t->steps, epoch, loss, acc_mean(&t->acc, TERM_MASKED), acc_mean(&t->acc, TERM_CON),
                acc_mean(&t->acc, TERM_GLOBAL), acc_mean(&t->acc, TERM_PEAK), norm, (double)pf_lr_at(&t->sched, step), wps);
    if (step == 0 || t->step == t->saved_step + 1) t->first_loss = t->first_loss ? t->first_loss : (float)loss;
    t->last_loss = (float)loss;
    pf_node_set_counter(n, "step", (uint64_t)step + 1);
    pf_node_set_counter(n, "epoch", epoch);
    gauge(n, "loss_e6", loss);
    gauge(n, "masked_e6", acc_mean(&t->acc, TERM_MASKED));
    gauge(n, "contrastive_e6", acc_mean(&t->acc, TERM_CON));
    gauge(n, "global_e6", acc_mean(&t->acc, TERM_GLOBAL));
    gauge(n, "peak_e6", acc_mean(&t->acc, TERM_PEAK));
    pf_node_set_counter(n, "win_s_e3", (uint64_t)llround(wps * 1e3));
    if (t->bad_run >= t->max_bad)
        return pf_err(PF_ERANGE, "trainer: %d consecutive steps with a non-finite loss or gradient (last: step %lld): stopping",
                      t->bad_run, (long long)step + 1);
    t->windows += (int64_t)t->B * t->M;
    memset(&t->acc, 0, sizeof t->acc);
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
    if (flags & PF_STEP_VAL) { /* its validation pass follows: the end waits for it */
        t->val_step = step;
        memset(&t->vacc, 0, sizeof t->vacc);
        if (t->ft) pf_finetune_val_begin(t->ft);
        if (flags & PF_STEP_FINAL) { t->pending_done = 1; return PF_OK; }
    }
    if (flags & PF_STEP_FINAL) {
        pf_info("trained %lld steps: loss %.6f -> %.6f; checkpoint %s, metrics %s", (long long)t->step, t->first_loss,
                t->last_loss, t->ckpt_dir[0] ? t->ckpt_dir : "(none)", t->metrics[0] ? t->metrics : "(none)");
        return PF_DONE;
    }
    return PF_OK;
}

/* One validation micro-batch's terms; after the last, the row. */
/* classify: score the pass; name the best checkpoint; early stopping. */
static int val_scored(pf_node *n, trainer_t *t)
{
    pf_cls_metrics m;
    int improved = 0, rc = pf_finetune_val_end(t->ft, &m, &improved);
    if (rc) return rc;
    t->val_acc = m.accuracy;
    t->val_f1 = m.macro_f1;
    gauge(n, "val_f1_e6", m.macro_f1);
    pf_info("validation after step %lld: loss %.6f, accuracy %.4f, macro-F1 %.4f, macro AUROC %.4f (%zu windows)%s", (long long)t->val_step + 1,
            acc_mean(&t->vacc, TERM_TOTAL), m.accuracy, m.macro_f1, m.macro_auroc, m.n, improved ? ": the best so far" : "");
    if (improved && t->val_step >= 0 && t->ckpt_dir[0] && t->saved_step == t->val_step &&
        (rc = pf_ckpt_mark_best(t->ckpt_dir, t->val_step, t->windows, (int)t->in.epoch)))
        return rc;
    int pat = pf_finetune_patience(t->ft);
    if (!improved && pat > 0 && pf_finetune_since_best(t->ft) >= pat && !t->stop_next && !t->pending_done) {
        t->stop_next = 1;
        pf_info("early stopping: %d validation passes without a better macro-F1 than %.4f; the next step is the last", pat,
                pf_finetune_best_f1(t->ft));
    }
    return PF_OK;
}

static int val_micro(pf_node *n, trainer_t *t, const pf_obj_terms *o, int last)
{
    acc_add(&t->vacc, o);
    if (!last) return PF_OK;
    int rc = t->ft ? val_scored(n, t) : PF_OK;
    if (rc) return rc;
    write_row(t, t->val_step, t->in.epoch, "val", &t->vacc, NAN, NAN);
    if (!t->ft) pf_info("validation after step %lld: loss %.6f (masked %.4g, contrastive %.4g, global %.4g, peak %.4g), ranking accuracy %.3f (%d anchor-positive pairs)",
            (long long)t->val_step + 1, acc_mean(&t->vacc, TERM_TOTAL), acc_mean(&t->vacc, TERM_MASKED), acc_mean(&t->vacc, TERM_CON),
            acc_mean(&t->vacc, TERM_GLOBAL), acc_mean(&t->vacc, TERM_PEAK),
            t->vacc.rank_n ? (double)t->vacc.rank_ok / t->vacc.rank_n : NAN, t->vacc.rank_n);
    gauge(n, "val_loss_e6", acc_mean(&t->vacc, TERM_TOTAL));
    if (t->pending_done) {
        t->pending_done = 0;
        pf_info("trained %lld steps: loss %.6f -> %.6f; checkpoint %s, metrics %s", (long long)t->step, t->first_loss,
                t->last_loss, t->ckpt_dir[0] ? t->ckpt_dir : "(none)", t->metrics[0] ? t->metrics : "(none)");
        return PF_DONE;
    }
    return PF_OK;
}

/* ---- fused ---- */

/* classify: one micro-batch through the stages and the head; a frozen encoder
 * runs in eval mode and is not differentiated. */
static int fused_classify(trainer_t *t, const pf_batcher *bt, int mi, int B, int64_t step, int train, pf_obj_terms *o)
{
    int F = t->R, TP = t->T / t->tc.patch, enc = train && !t->obj.freeze;
    memset(o, 0, sizeof *o);
    o->masked = o->con = o->global = o->peak = NAN;
    const float *lab = bt->lab + (size_t)mi * t->B * (bt->multi ? bt->K : 1);
    int rc = pf_wavelet_forward(t->w, t->wst.p, pf_batcher_micro(bt, mi), B, enc, pf_stage_key(t->seed, step, mi, PF_SITE_WAVELET));
    if (!rc) rc = pf_tstage_forward(t->ts, t->tst.p, pf_wavelet_output(t->w), B, F, TP, t->zeros, enc, 0,
                                    pf_stage_key(t->seed, step, mi, PF_SITE_ENCODER));
    float loss = NAN;
    if (!rc) rc = pf_finetune_micro(t->ft, t->hst.p, pf_tstage_encoded(t->ts), B, F * TP, lab, train,
                                    pf_stage_key(t->seed, step, mi, PF_SITE_HEAD), &loss, enc ? t->dz : NULL);
    o->total = loss;
    if (!rc && enc) rc = pf_tstage_backward(t->ts, t->tst.p, t->dz, NULL, t->dspec);
    if (!rc && enc) rc = pf_wavelet_backward(t->w, t->wst.p, t->dspec, NULL);
    return rc;
}

/* Forward (and, training, backward) of one micro-batch through every stage in this process. */
static int fused_micro(trainer_t *t, const pf_batcher *bt, int mi, int64_t step, int train, pf_obj_terms *o)
{
    int F = t->R, TP = t->T / t->tc.patch, RB = t->rows * t->B;
    pf_aux a = {t->B, t->rows, t->obj.w_masked > 0, bt->F, NULL, NULL, NULL, NULL, NULL, 0};
    size_t s0 = (size_t)mi * t->B;
    float *feat = malloc(sizeof(float) * t->B * (bt->F ? bt->F : 1));
    if (!feat) return PF_ENOMEM;
    for (int i = 0; i < t->B; i++) memcpy(feat + (size_t)i * bt->F, bt->feat + (s0 + i) * PF_FEAT_MAX, sizeof(float) * bt->F);
    a.x = pf_batcher_micro(bt, mi);
    a.feat = feat;
    a.peaks = bt->peaks + s0 * t->T;
    a.flags = bt->flags + s0;
    if (t->ft) {
        free(feat);
        return fused_classify(t, bt, mi, t->B, step, train, o);
    }
    uint64_t mkey = train ? pf_stage_key(t->seed, step, mi, PF_SITE_MASK) : pf_stage_key(t->seed, 0, mi, PF_SITE_VAL);
    pf_tstage_set_mask_rows(t->ts, t->B); /* the anchors only, as the transformer node */
    int rc = pf_wavelet_forward(t->w, t->wst.p, a.x, RB, train, pf_stage_key(t->seed, step, mi, PF_SITE_WAVELET));
    const float *spec = pf_wavelet_output(t->w);
    if (!rc) rc = pf_tstage_forward(t->ts, t->tst.p, spec, RB, F, TP, a.masked ? NULL : t->zeros, train, mkey,
                                    pf_stage_key(t->seed, step, mi, PF_SITE_ENCODER));
    const float *mask = a.masked ? pf_tstage_mask(t->ts) : t->zeros;
    if (!rc) rc = pf_objective_step(t->run, t->hst.p, pf_tstage_encoded(t->ts), spec, mask, &a, train,
                                    pf_stage_key(t->seed, step, mi, PF_SITE_HEAD), pf_stage_key(t->seed, step, mi, PF_SITE_SIGNAL),
                                    o, t->dz, t->detach ? NULL : t->dtarget);
    if (!rc && train) rc = pf_tstage_backward(t->ts, t->tst.p, t->dz, t->detach ? NULL : t->dtarget, t->dspec);
    if (!rc && train) rc = pf_wavelet_backward(t->w, t->wst.p, t->dspec, NULL);
    free(feat);
    return rc;
}

static int fused_validate(pf_node *n, trainer_t *t)
{
    int rc;
    if (!t->val_ready) {
        if ((rc = pf_node_drain(n, "val"))) return pf_err_context(rc, "reading the validation branch");
        pf_batcher_sort(&t->val);
        t->val_ready = 1;
        pf_info("validation set: %d windows (%d evaluated, in micro-batches of %d)", t->val.n, t->val.n / t->B * t->B, t->B);
    }
    int nb = t->val.n / t->B;
    if (!nb) return pf_err(PF_EINVAL, "trainer: the validation branch brought %d windows, fewer than one micro-batch (%d)", t->val.n, t->B);
    for (int mi = 0; mi < nb; mi++) {
        pf_obj_terms o;
        if ((rc = fused_micro(t, &t->val, mi, t->val_step, 0, &o))) return pf_err_context(rc, "validation micro-batch %d", mi);
        if ((rc = val_micro(n, t, &o, mi == nb - 1))) return rc;
        pf_node_heartbeat(n);
    }
    return PF_OK;
}

static int fused_step(pf_node *n, trainer_t *t)
{
    int rc;
    if (t->step == 0 && t->has_val && t->val_every > 0 && (rc = fused_validate(n, t))) return rc; /* the baseline, "step 0" */
    double sq_h = 0, sq_t = 0, sq_w = 0;
    for (int mi = 0; mi < t->M; mi++) {
        pf_obj_terms o;
        if ((rc = fused_micro(t, &t->in, mi, t->step, 1, &o)))
            return pf_err_context(rc, "fused step %lld micro-batch %d", (long long)t->step + 1, mi);
        acc_add(&t->acc, &o);
        pf_node_heartbeat(n);
    }
    sq_h = isfinite(t->acc.sum[TERM_TOTAL]) ? pf_grad_sqnorm(t->hst.p) : NAN;
    int frozen = t->obj.freeze; /* no gradient, no update (AdamW's decay would still move them) */
    sq_t = frozen ? 0 : pf_grad_sqnorm(t->tst.p);
    sq_w = frozen ? 0 : pf_grad_sqnorm(t->wst.p);
    double total = pf_stage_total_sq(sq_h, sq_t, sq_w);
    pf_step_opt o = step_opt(n, t, t->step);
    o.flags = flags_of(t, t->step);
    int applied = pf_stage_update(&t->hst, &o, total);
    if (t->ft) pf_finetune_after_update(t->ft, t->hst.p);
    if (!frozen) {
        pf_stage_update(&t->wst, &o, total);
        pf_stage_update(&t->tst, &o, total);
    }
    int val = t->has_val && ((o.flags & PF_STEP_FINAL) || (t->val_every > 0 && (t->step + 1) % t->val_every == 0));
    rc = step_done(n, t, total, t->in.epoch, o.flags | (val ? PF_STEP_VAL : 0), applied);
    if (rc < 0 || !val) return rc;
    return fused_validate(n, t);
}

/* ---- split ---- */

static int split_micro(pf_node *n, trainer_t *t, const pf_msg *m, const int64_t *meta, int train)
{
    const pf_section *z = pf_tmsg_get(m, "z", PF_DT_F32, 3, NULL);
    if (!z) return PF_EFORMAT;
    uint32_t RB = z->dims[0], L = z->dims[1], D = z->dims[2];
    if ((int)D != t->tc.dim)
        return pf_err(PF_EFORMAT, "trainer: encoded tokens of dimension %u, the trainer's preset %s has %d (set the same preset on both)", D, t->tc.name, t->tc.dim);
    const pf_section *xs = pf_tmsg_get(m, "x", PF_DT_F32, 3, NULL);
    if (!xs) return PF_EFORMAT;
    int C = (int)xs->dims[1], T = (int)xs->dims[2], rc;
    if (T % t->tc.patch || L % (T / t->tc.patch))
        return pf_err(PF_EFORMAT, "trainer: %u tokens per row do not fit windows of %d samples in patches of %d", L, T, t->tc.patch);
    pf_aux a;
    if ((rc = pf_aux_get(m, C, T, &a))) return rc;
    if ((uint32_t)(a.rows * a.B) != RB) return pf_err(PF_EFORMAT, "trainer: %u encoded rows, layout says %d x %d", RB, a.rows, a.B);
    int lw = t->obj.multi ? t->obj.K : 1;
    if (t->obj.classify && (!a.lab || a.lab_w != lw))
        return pf_err(PF_EFORMAT, "trainer: the first stage sends %s, objective classify takes %d per window: set objective = \"classify\", "
                      "classes and loss on the wavelet node as here", a.lab ? "labels of another width" : "no labels", lw);
    if (a.rows != t->obj.rows)
        return pf_err(PF_EFORMAT, "trainer: the first stage sends %d row(s) per window, objective '%s' needs %d: set the same "
                      "objective on the wavelet node", a.rows, t->obj.preset == PF_OBJ_PHYSIOWAVE ? "physiowave" : t->obj.preset == PF_OBJ_PHYSIOCLR ? "physioclr" : "hybrid", t->obj.rows);
    if (a.masked != (t->obj.w_masked > 0))
        return pf_err(PF_EFORMAT, "trainer: the first stage %s the tokens, the objective's masked weight is %g: set the same objective on the wavelet node",
                      a.masked ? "masks" : "does not mask", t->obj.w_masked);
    if (train && !t->M) t->M = (int)meta[2];
    if (!t->run && !t->ft) {
        if ((rc = build_objective(n, t, a.B, C, T, (int)L / (T / t->tc.patch), a.rows))) return rc;
    }
    if (a.B != t->B || (int)(RB * L) != t->rows * t->N / 1 || (train && meta[2] != t->M))
        return pf_err(PF_EFORMAT, "trainer: micro-batch of %u x %u tokens (accum %lld) after %d x %d (accum %d)", RB, L,
                      (long long)meta[2], t->rows * t->B, t->N / t->B, t->M);
    uint32_t dt[3] = {RB, L, (uint32_t)t->tc.patch}, dm[2] = {RB, L};
    const pf_section *tg = pf_tmsg_get(m, "target", PF_DT_F32, 3, dt);
    const pf_section *mk = tg ? pf_tmsg_get(m, "mask", PF_DT_F32, 2, dm) : NULL;
    if (!mk) return PF_EFORMAT;
    pf_obj_terms o;
    float closs = NAN;
    if (t->ft) {
        memset(&o, 0, sizeof o);
        o.masked = o.con = o.global = o.peak = NAN;
    }
    if (!train) { /* a validation micro-batch: forward only */
        if (meta[0] != t->val_step) return pf_err(PF_EFORMAT, "trainer: validation of step %lld while expecting step %lld", (long long)meta[0], (long long)t->val_step);
        if (t->ft) {
            rc = pf_finetune_micro(t->ft, t->hst.p, z->data, a.B, (int)L, a.lab, 0, 0, &closs, NULL);
            o.total = closs;
        } else rc = pf_objective_step(t->run, t->hst.p, z->data, tg->data, mk->data, &a, 0, 0, 0, &o, NULL, NULL);
        return rc ? rc : val_micro(n, t, &o, meta[1] == meta[2] - 1);
    }
    if (meta[0] != t->step) return pf_err(PF_EFORMAT, "trainer: micro-batch of step %lld while at step %lld", (long long)meta[0], (long long)t->step);
    if (t->ft) { /* a frozen encoder gets zeros back (its stages neither differentiate nor update) */
        rc = pf_finetune_micro(t->ft, t->hst.p, z->data, a.B, (int)L, a.lab, 1, pf_stage_key(t->seed, meta[0], (int)meta[1], PF_SITE_HEAD),
                               &closs, t->obj.freeze ? NULL : t->dz);
        if (t->obj.freeze) memset(t->dz, 0, sizeof(float) * RB * L * D);
        o.total = closs;
    } else
        rc = pf_objective_step(t->run, t->hst.p, z->data, tg->data, mk->data, &a, 1, pf_stage_key(t->seed, meta[0], (int)meta[1], PF_SITE_HEAD),
                               pf_stage_key(t->seed, meta[0], (int)meta[1], PF_SITE_SIGNAL), &o, t->dz, t->detach ? NULL : t->dtarget);
    if (rc) return rc;
    acc_add(&t->acc, &o);
    pf_msg *g = pf_msg_create(PF_MSG_TENSOR, "grad");
    uint32_t four = 4, dz[3] = {RB, L, D};
    if (!g || pf_tmsg_add(g, "meta", PF_DT_I64, 1, &four, meta) || pf_tmsg_add(g, "dz", PF_DT_F32, 3, dz, t->dz) ||
        (!t->detach && !t->ft && pf_tmsg_add(g, "dtarget", PF_DT_F32, 3, dt, t->dtarget))) {
        pf_msg_destroy(g);
        return PF_ENOMEM;
    }
    if (meta[1] == meta[2] - 1) {
        pf_step_opt op = step_opt(n, t, t->step);
        op.flags = flags_of(t, t->step);
        double ov[PF_STEP_OPT_N], sq = isfinite(t->acc.sum[TERM_TOTAL]) ? pf_grad_sqnorm(t->hst.p) : NAN;
        pf_step_opt_pack(&op, ov);
        uint32_t no = PF_STEP_OPT_N, one = 1, nc = (uint32_t)strlen(t->ckpt_dir);
        if (pf_tmsg_add(g, "opt", PF_DT_F64, 1, &no, ov) || pf_tmsg_add(g, "sq", PF_DT_F64, 1, &one, &sq) ||
            pf_tmsg_add(g, "ckpt_dir", PF_DT_U8, 1, &nc, t->ckpt_dir)) {
            pf_msg_destroy(g);
            return PF_ENOMEM;
        }
    }
    return pf_node_send(n, "back", g);
}

/* evaluate: the first `count` windows held, forward only, into the pass's scores. */
static int evaluate_held(pf_node *n, trainer_t *t, int count)
{
    for (int mi = 0; mi * t->B < count; mi++) {
        int B = count - mi * t->B < t->B ? count - mi * t->B : t->B, rc;
        pf_obj_terms o;
        if ((rc = fused_classify(t, &t->in, mi, B, 0, 0, &o))) return pf_err_context(rc, "evaluating micro-batch %d", mi);
        acc_add(&t->vacc, &o);
        pf_node_count(n, "evaluated", (uint64_t)B);
        pf_node_heartbeat(n);
    }
    return PF_OK;
}

/* evaluate: the metrics of every window, as a table in the log and as JSON. */
static int evaluate_end(pf_node *n, trainer_t *t)
{
    int rc = evaluate_held(n, t, t->in.n);
    pf_cls_metrics m;
    int improved;
    if (!rc) rc = pf_finetune_val_end(t->ft, &m, &improved);
    if (rc) return rc;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return pf_err(PF_ENOMEM, "trainer: out of memory");
    pf_cls_print(&m, f);
    fclose(f);
    pf_info("evaluated %zu windows with %s (loss %.6f):", m.n, t->obj.init_from, acc_mean(&t->vacc, TERM_TOTAL));
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) pf_info("%s", line);
    free(buf);
    gauge(n, "val_f1_e6", m.macro_f1);
    return PF_OK;
}

static int trainer_process(pf_node *n, void *state, const char *port, pf_msg *m)
{
    trainer_t *t = state;
    if (t->fused) {
        if (!strcmp(port, "val")) {
            if (!t->val_ready && pf_batcher_append(n, &t->val, m) == 0) pf_node_count(n, "val_over_cap", 1);
            return PF_OK;
        }
        if (pf_node_stopping(n)) return PF_DONE; /* Ctrl-C: finish() checkpoints the last step taken */
        int full = 0, rc = pf_batcher_take(n, &t->in, m, &full);
        if (t->evaluate) return rc || !full ? rc : evaluate_held(n, t, t->M * t->B);
        return rc || !full ? rc : fused_step(n, t);
    }
    uint32_t four = 4;
    const pf_section *meta = pf_tmsg_get(m, "meta", PF_DT_I64, 1, &four);
    if (!meta) return pf_node_reject(n, "protocol", m, "%s", pf_errmsg());
    if (!strcmp(m->id, "enc") || !strcmp(m->id, "venc")) return split_micro(n, t, m, meta->data, m->id[0] == 'e');
    const pf_section *tot = pf_tmsg_get(m, "total", PF_DT_F64, 1, &four);
    if (!tot) return pf_node_reject(n, "protocol", m, "%s", pf_errmsg());
    const double *tv = tot->data;
    if (!strcmp(m->id, "end")) { /* the stream ended before the step count: checkpoint what was taken */
        if ((!t->run && !t->ft) || t->saved_step == (int64_t)((const int64_t *)meta->data)[0]) return PF_OK;
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
    if (((const int64_t *)meta->data)[0] != t->step || (!t->run && !t->ft))
        return pf_err(PF_EFORMAT, "trainer: update of step %lld while at step %lld", (long long)((const int64_t *)meta->data)[0], (long long)t->step);
    pf_step_opt o = step_opt(n, t, t->step);
    o.flags = (int)tv[3];
    t->in.epoch = (uint32_t)tv[2];
    int applied = pf_stage_update(&t->hst, &o, tv[0]);
    if (t->ft) pf_finetune_after_update(t->ft, t->hst.p);
    return step_done(n, t, tv[0], (uint32_t)tv[2], o.flags, applied);
}

static int trainer_finish(pf_node *n, void *state, int interrupted)
{
    trainer_t *t = state;
    if (t->evaluate) return interrupted ? PF_OK : evaluate_end(n, t);
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
    if (t->mf && t->plot[0] && t->step > 0) {
        fflush(t->mf);
        if (pf_plot_metrics(t->metrics, t->plot, NULL)) pf_warn("no plot of the curves: %s", pf_errmsg());
        else pf_info("curves in %s", t->plot);
    }
    return PF_OK;
}

static void trainer_destroy(void *state)
{
    trainer_t *t = state;
    if (!t) return;
    if (t->mf) fclose(t->mf);
    pf_rhead_destroy(t->head);
    pf_rhead_destroy(t->sig);
    pf_finetune_destroy(t->ft);
    pf_objective_destroy(t->run);
    pf_featstats_destroy(t->fs);
    pf_batcher_free(&t->val);
    free(t->zeros);
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
    .doc = "model stage 3: the objective (masked / contrastive / global / peak-aware, any mix, or classify: fine-tuning), AdamW schedule, metrics, validation, checkpoints (or every stage, fused)",
    .params = trainer_params,
    .ports = trainer_ports,
    .create = trainer_create,
    .process = trainer_process,
    .finish = trainer_finish,
    .destroy = trainer_destroy,
};
