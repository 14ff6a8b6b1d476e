/* Node kind `wavelet`: the first model stage (model.md 2.1-2.3). It gathers
 * windows into micro-batches, runs the learnable wavelet front-end forward
 * and sends each micro-batch's Spec downstream; once a step's micro-batches
 * are out it takes their gradients back (feedback port `grad`, in order),
 * recomputes a micro-batch's forward when its activations were overwritten
 * (the arena holds one micro-batch: cheaper than storing M), accumulates,
 * adds its squared gradient norm to the ones the later stages sent, updates
 * and tells the stages downstream to update (docs/protocol.md, "Model stages"). */
#include "pf_error.h"
#include "pf_log.h"
#include "pf_node.h"
#include "pf_stage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const pf_param_spec wavelet_params[] = {
    PF_STAGE_BATCH_PARAMS,
    PF_STAGE_WAVELET_PARAMS,
    PF_STAGE_OBJECTIVE_PARAMS,
    PF_STAGE_LABEL_PARAMS,
    PF_STAGE_VAL_PARAMS,
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const pf_port_spec wavelet_ports[] = {
    {"in", PF_PORT_IN, PF_MSG_WINDOW, 0, "windows (leads x window samples)"},
    {"out", PF_PORT_OUT, PF_MSG_TENSOR, 0, "Spec [B, (L+1)C, T] per micro-batch, then the step's update"},
    {"grad", PF_PORT_IN, PF_MSG_TENSOR, 0, "gradients of the Spec from the next stage (feedback edge)"},
    {"val", PF_PORT_IN, PF_MSG_WINDOW, 1, "validation windows (records never in the training branch), evaluated without gradients"},
    {NULL, 0, 0, 0, NULL},
};

typedef struct {
    uint64_t seed;
    pf_wavelet_cfg wc;
    pf_objective obj;
    int B, M, C, T, R, rows;
    pf_batcher val;     /* the validation set (val connected) */
    int has_val, val_ready, val_every;
    pf_stage st;
    pf_wavelet *w;
    pf_batcher in;
    int64_t step;       /* next step */
    int64_t windows;    /* windows in completed steps */
    int64_t saved_step; /* last step checkpointed (-1 none) */
    char ckpt_dir[1024];
    int held;           /* micro-batch whose activations the front-end holds (-1) */
    uint64_t wait_ns;   /* waiting for gradients */
} wstage;

static int wavelet_create(pf_node *n, void **state)
{
    const pf_params *p = pf_node_params(n);
    wstage *s = calloc(1, sizeof *s);
    if (!s) return pf_err(PF_ENOMEM, "wavelet: out of memory");
    *state = s;
    s->seed = pf_node_seed(n);
    s->B = (int)pf_params_int(p, "batch");
    s->M = (int)pf_params_int(p, "accum");
    s->C = (int)pf_params_int(p, "leads");
    s->T = (int)pf_params_int(p, "window");
    s->held = -1;
    s->saved_step = -1;
    int rc = pf_stage_wavelet_cfg(p, &s->wc);
    if (!rc) rc = pf_stage_objective(p, &s->obj);
    if (rc) return rc;
    s->rows = s->obj.rows;
    s->R = (s->wc.levels + 1) * s->C;
    s->w = pf_stage_build_wavelet(&s->st, &s->wc, s->rows * s->B, s->T, s->seed, pf_node_resume_dir(n));
    if (!s->w) return pf_err_context(PF_EINVAL, "wavelet stage");
    if (s->obj.init_from[0] && !pf_node_resume_dir(n) && (rc = pf_stage_load_params(&s->st, s->obj.init_from))) return rc;
    if ((rc = pf_batcher_init(&s->in, s->B, s->M, s->C, s->T, s->rows, s->obj.peak_ms))) return rc;
    s->in.count_missing = s->obj.w_con > 0 || s->obj.w_peak > 0;
    s->has_val = pf_node_input_connected(n, "val");
    s->val_every = (int)pf_params_int(p, "val_every");
    int vw = (int)pf_params_int(p, "val_windows");
    if (s->has_val && (rc = pf_batcher_init(&s->val, s->B, (vw + s->B - 1) / s->B, s->C, s->T, s->rows, s->obj.peak_ms))) return rc;
    if (s->obj.classify && (rc = pf_batcher_labels(&s->in, s->obj.K, s->obj.multi))) return rc;
    if (s->obj.classify && s->has_val && (rc = pf_batcher_labels(&s->val, s->obj.K, s->obj.multi))) return rc;
    if (pf_node_resume_dir(n)) {
        int64_t st, w;
        if ((rc = pf_ckpt_manifest_read(pf_node_resume_dir(n), &st, &w, NULL))) return rc;
        s->step = st + 1;
        s->windows = s->in.skip = w;
        s->saved_step = st;
        pf_info("resuming after step %lld: passing over the %lld windows trained on", (long long)st, (long long)w);
    }
    pf_info("wavelet front-end: %d leads x %d samples, %d levels, %d families (%s init), %zu parameters; "
            "micro-batch %d x %d per step", s->C, s->T, s->wc.levels, s->wc.n_families,
            s->wc.init == PF_WAVELET_INIT_EXACT ? "exact" : "physiowave", pf_wavelet_param_count(&s->wc), s->B, s->M);
    return PF_OK;
}

static pf_msg *tensor_msg(const char *id, int64_t step, int micro, int M, int B, uint32_t epoch)
{
    pf_msg *m = pf_msg_create(PF_MSG_TENSOR, id);
    if (!m) return NULL;
    m->count = (uint64_t)step;
    m->window_index = (uint64_t)step * (uint64_t)M + (uint64_t)micro;
    m->epoch = epoch;
    int64_t meta[4] = {step, micro, M, B};
    uint32_t four = 4;
    if (pf_tmsg_add(m, "meta", PF_DT_I64, 1, &four, meta)) { pf_msg_destroy(m); return NULL; }
    return m;
}

static int forward(wstage *s, int micro)
{
    int rc = pf_wavelet_forward(s->w, s->st.p, pf_batcher_micro(&s->in, micro), s->rows * s->B, !s->obj.freeze,
                                pf_stage_key(s->seed, s->step, micro, PF_SITE_WAVELET));
    s->held = rc ? -1 : micro;
    return rc;
}

/* The validation pass after step `step`: the whole validation set (waiting
 * for its branch to end the first time), forward only, in fixed order. */
static int validate(pf_node *n, wstage *s, int64_t step)
{
    int rc;
    if (!s->val_ready) {
        if ((rc = pf_node_drain(n, "val"))) return pf_err_context(rc, "reading the validation branch");
        pf_batcher_sort(&s->val);
        s->val_ready = 1;
        pf_info("validation set: %d windows (%d evaluated, in micro-batches of %d)", s->val.n, s->val.n / s->B * s->B, s->B);
    }
    int nb = s->val.n / s->B;
    uint32_t dims[3] = {(uint32_t)(s->rows * s->B), (uint32_t)s->R, (uint32_t)s->T};
    for (int mi = 0; mi < nb; mi++) {
        s->held = -1;
        rc = pf_wavelet_forward(s->w, s->st.p, pf_batcher_micro(&s->val, mi), s->rows * s->B, 0, 0);
        pf_msg *m = rc ? NULL : tensor_msg("vact", step, mi, nb, s->B, s->in.epoch);
        if (!rc && (!m || pf_tmsg_add(m, "spec", PF_DT_F32, 3, dims, pf_wavelet_output(s->w)) ||
                    pf_batcher_add_aux(m, &s->val, mi, s->obj.w_masked > 0)))
            rc = PF_ENOMEM;
        if (!rc) { rc = pf_node_send(n, "out", m); m = NULL; }
        pf_msg_destroy(m);
        if (rc) return pf_err_context(rc, "validation micro-batch %d", mi);
        pf_node_heartbeat(n);
    }
    pf_node_count(n, "validations", 1);
    return PF_OK;
}

/* One optimiser step over the batch now held in s->in.x. */
static int run_step(pf_node *n, wstage *s)
{
    /* a baseline before the first step (row "step 0"): what training improves on */
    if (s->step == 0 && s->has_val && s->val_every > 0) {
        int rc = validate(n, s, -1);
        if (rc) return rc;
    }
    uint32_t dspec_dims[3] = {(uint32_t)(s->rows * s->B), (uint32_t)s->R, (uint32_t)s->T};
    for (int mi = 0; mi < s->M; mi++) {
        int rc = forward(s, mi);
        if (rc) return pf_err_context(rc, "wavelet forward, step %lld micro-batch %d", (long long)s->step, mi);
        pf_msg *m = tensor_msg("act", s->step, mi, s->M, s->B, s->in.epoch);
        if (!m || pf_tmsg_add(m, "spec", PF_DT_F32, 3, dspec_dims, pf_wavelet_output(s->w)) ||
            pf_batcher_add_aux(m, &s->in, mi, s->obj.w_masked > 0)) {
            pf_msg_destroy(m);
            return pf_err(PF_ENOMEM, "wavelet: out of memory");
        }
        if ((rc = pf_node_send(n, "out", m))) return rc;
        pf_node_heartbeat(n);
    }
    pf_step_opt opt = {0};
    double sq_later[2] = {0, 0};
    for (int mi = 0; mi < s->M; mi++) {
        pf_msg *g = NULL;
        uint64_t w0 = pf_now_ns();
        int rc = pf_node_recv(n, "grad", &g);
        s->wait_ns += pf_now_ns() - w0; /* the pipeline bubble seen from here */
        pf_node_set_counter(n, "grad_wait_ms", s->wait_ns / 1000000);
        if (rc) return pf_err_context(rc, "waiting for the gradient of step %lld micro-batch %d", (long long)s->step, mi);
        const pf_section *meta = pf_tmsg_get(g, "meta", PF_DT_I64, 1, (uint32_t[]){4});
        const pf_section *ds = meta ? pf_tmsg_get(g, "dspec", PF_DT_F32, 3, dspec_dims) : NULL;
        const int64_t *mv = meta ? meta->data : NULL;
        if (!ds || mv[0] != s->step || mv[1] != mi) {
            if (ds) pf_err(PF_EFORMAT, "gradient for step %lld micro-batch %lld arrived, expected step %lld micro-batch %d",
                           (long long)mv[0], (long long)mv[1], (long long)s->step, mi);
            pf_msg_destroy(g);
            return pf_err_context(PF_EFORMAT, "stage protocol");
        }
        /* a frozen front-end (freeze_encoder) takes no gradient */
        if (!s->obj.freeze && s->held != mi && (rc = forward(s, mi))) { pf_msg_destroy(g); return rc; }
        if (!s->obj.freeze) rc = pf_wavelet_backward(s->w, s->st.p, ds->data, NULL);
        if (!rc && mi == s->M - 1) {
            const pf_section *o = pf_tmsg_get(g, "opt", PF_DT_F64, 1, (uint32_t[]){PF_STEP_OPT_N});
            const pf_section *sq = o ? pf_tmsg_get(g, "sq", PF_DT_F64, 1, (uint32_t[]){2}) : NULL;
            rc = !sq ? PF_EFORMAT : pf_step_opt_unpack(o->data, &opt);
            if (!rc) memcpy(sq_later, sq->data, sizeof sq_later);
            const pf_section *cd = !rc ? pf_tmsg_get(g, "ckpt_dir", PF_DT_U8, 1, NULL) : NULL;
            if (cd) snprintf(s->ckpt_dir, sizeof s->ckpt_dir, "%.*s", (int)cd->bytes, (const char *)cd->data);
            if (!rc && !cd) rc = PF_EFORMAT;
            if (!rc && (opt.flags & PF_STEP_CKPT) && !s->ckpt_dir[0]) rc = pf_err(PF_EFORMAT, "checkpoint asked for, no directory");
        }
        pf_msg_destroy(g);
        if (rc) return pf_err_context(rc, "wavelet backward, step %lld micro-batch %d", (long long)s->step, mi);
    }
    double total = pf_stage_total_sq(sq_later[0], sq_later[1], s->obj.freeze ? 0 : pf_grad_sqnorm(s->st.p));
    if (!s->obj.freeze && !pf_stage_update(&s->st, &opt, total)) pf_node_count(n, "skipped_steps", 1);
    s->windows += (int64_t)s->M * s->B;
    if (opt.flags & PF_STEP_CKPT) {
        int rc = pf_stage_save(&s->st, s->ckpt_dir, s->step, s->windows);
        if (rc) return rc;
        s->saved_step = s->step;
    }
    /* the later stages update with the same total, in stream order before the next step */
    int val = s->has_val && ((opt.flags & PF_STEP_FINAL) || (s->val_every > 0 && (s->step + 1) % s->val_every == 0));
    pf_msg *m = tensor_msg("step", s->step, s->M - 1, s->M, s->B, s->in.epoch);
    double tv[4] = {total, (double)s->windows, (double)s->in.epoch, (double)(opt.flags | (val ? PF_STEP_VAL : 0))};
    uint32_t four = 4;
    if (!m || pf_tmsg_add(m, "total", PF_DT_F64, 1, &four, tv)) { pf_msg_destroy(m); return PF_ENOMEM; }
    int rc = pf_node_send(n, "out", m);
    if (!rc && val) rc = validate(n, s, s->step);
    if (rc) return rc;
    pf_node_count(n, "steps", 1);
    s->step++;
    return (opt.flags & PF_STEP_FINAL) ? PF_DONE : PF_OK;
}

static int wavelet_process(pf_node *n, void *state, const char *port, pf_msg *m)
{
    wstage *s = state;
    if (!strcmp(port, "val")) {
        if (!s->val_ready && pf_batcher_append(n, &s->val, m) == 0) pf_node_count(n, "val_over_cap", 1);
        return PF_OK;
    }
    /* Ctrl-C: no new step; finish() checkpoints the last one taken */
    if (pf_node_stopping(n)) return PF_DONE;
    int full = 0;
    int rc = pf_batcher_take(n, &s->in, m, &full);
    if (rc || !full) return rc;
    return run_step(n, s);
}

static int wavelet_finish(pf_node *n, void *state, int interrupted)
{
    wstage *s = state;
    if (s->in.n) pf_warn("the stream ended with %d windows short of a whole step: not trained on", s->in.n);
    /* the stream ended before the trainer's step count: checkpoint the last step taken */
    if (s->step == 0 || s->saved_step == s->step - 1 || !s->ckpt_dir[0]) return PF_OK;
    int rc = pf_stage_save(&s->st, s->ckpt_dir, s->step - 1, s->windows);
    if (rc) return rc;
    s->saved_step = s->step - 1;
    pf_msg *m = tensor_msg("end", s->step - 1, s->M - 1, s->M, s->B, s->in.epoch);
    double tv[4] = {0, (double)s->windows, (double)s->in.epoch, (double)PF_STEP_CKPT};
    uint32_t four = 4;
    if (!m || pf_tmsg_add(m, "total", PF_DT_F64, 1, &four, tv)) { pf_msg_destroy(m); return PF_ENOMEM; }
    return pf_node_send(n, "out", m);
}

static void wavelet_destroy(void *state)
{
    wstage *s = state;
    if (!s) return;
    pf_wavelet_destroy(s->w);
    pf_batcher_free(&s->in);
    pf_batcher_free(&s->val);
    pf_stage_free(&s->st);
    free(s);
}

const pf_kind pf_kind_wavelet = {
    .name = "wavelet",
    .doc = "model stage 1: learnable multi-scale wavelet front-end (PhysioWave), micro-batches, its own optimiser",
    .params = wavelet_params,
    .ports = wavelet_ports,
    .create = wavelet_create,
    .process = wavelet_process,
    .finish = wavelet_finish,
    .destroy = wavelet_destroy,
};
