/* Node kind `transformer`: the second model stage (model.md 2.4-2.5, 4A).
 * Per micro-batch: Spec -> patch tokens, frequency-guided mask, encoder;
 * the encoded tokens, the target patches and the mask go to the trainer;
 * the trainer's gradients come back (feedback port `grad`), the backward
 * runs, and the Spec's gradient goes up to the wavelet stage (port `back`)
 * with this stage's squared gradient norm added on the step's last one.
 * The wavelet stage's "step" message then carries the whole model's norm:
 * this stage updates with it and passes it on (docs/protocol.md). */
#include "pf_error.h"
#include "pf_log.h"
#include "pf_node.h"
#include "pf_stage.h"
#include "pf_tstage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const pf_param_spec transformer_params[] = {
    PF_STAGE_TRANSFORMER_PARAMS,
    PF_STAGE_LABEL_PARAMS,
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const pf_port_spec transformer_ports[] = {
    {"in", PF_PORT_IN, PF_MSG_TENSOR, 0, "Spec micro-batches and step messages from the wavelet stage"},
    {"out", PF_PORT_OUT, PF_MSG_TENSOR, 0, "encoded tokens, target patches and mask, then the step messages"},
    {"grad", PF_PORT_IN, PF_MSG_TENSOR, 0, "gradients of the encoded tokens (and target) from the trainer (feedback edge)"},
    {"back", PF_PORT_OUT, PF_MSG_TENSOR, 0, "gradients of the Spec to the wavelet stage (feedback edge)"},
    {NULL, 0, 0, 0, NULL},
};

typedef struct {
    uint64_t seed;
    pf_tfm_cfg tc;
    pf_mask_cfg mc;
    pf_stage st;
    pf_tstage *ts;
    int B, R, T;
    float *dspec;
    float *nomask;       /* all zeros: the objective has no masked term */
    pf_step_opt opt;     /* from the last gradient of the current step */
    char ckpt_dir[1024];
    int64_t saved_step;
    int freeze;          /* freeze_encoder: eval mode, no gradient, no update */
    char init_from[1024];
    uint64_t wait_ns;    /* waiting for the trainer's gradients */
} tnode;

static int transformer_create(pf_node *n, void **state)
{
    tnode *s = calloc(1, sizeof *s);
    if (!s) return pf_err(PF_ENOMEM, "transformer: out of memory");
    *state = s;
    s->seed = pf_node_seed(n);
    s->saved_step = -1;
    s->freeze = pf_params_bool(pf_node_params(n), "freeze_encoder");
    snprintf(s->init_from, sizeof s->init_from, "%s", pf_params_string(pf_node_params(n), "init_from"));
    return pf_stage_tfm_cfg(pf_node_params(n), &s->tc, &s->mc);
}

/* The stage is built on the first micro-batch: its shape sizes the arena. */
static int build(pf_node *n, tnode *s, int B, int R, int T)
{
    if (T % s->tc.patch) return pf_err(PF_EFORMAT, "transformer: Spec of %d samples is not a multiple of the patch %d", T, s->tc.patch);
    s->B = B; s->R = R; s->T = T;
    s->ts = pf_stage_build_tfm(&s->st, &s->tc, &s->mc, B, R * (T / s->tc.patch), s->seed, pf_node_resume_dir(n));
    s->dspec = malloc(sizeof(float) * (size_t)B * R * T);
    s->nomask = calloc((size_t)B * R * (T / s->tc.patch), sizeof(float));
    if (!s->ts || !s->dspec || !s->nomask) return pf_err_context(PF_EINVAL, "transformer stage (%s, %d x %d tokens)", s->tc.name, B, R * (T / s->tc.patch));
    int rc;
    if (s->init_from[0] && !pf_node_resume_dir(n) && (rc = pf_stage_init_encoder(s->init_from, &s->tc, NULL, &s->st))) return rc;
    if (s->freeze) memset(s->dspec, 0, sizeof(float) * (size_t)B * R * T); /* what a frozen stage sends back */
    pf_info("transformer stage: preset %s (D %d, %d layers, %d heads), %d tokens per window, %zu parameters%s", s->tc.name,
            s->tc.dim, s->tc.depth, s->tc.heads, R * (T / s->tc.patch), s->st.p->n_params,
            pf_node_resume_dir(n) ? ", resumed" : "");
    return PF_OK;
}

static int micro_batch(pf_node *n, tnode *s, const pf_msg *m, const int64_t *meta)
{
    const pf_section *sp = pf_tmsg_get(m, "spec", PF_DT_F32, 3, NULL);
    if (!sp) return PF_EFORMAT;
    int B = (int)sp->dims[0], R = (int)sp->dims[1], T = (int)sp->dims[2], rc;
    if (!s->ts && (rc = build(n, s, B, R, T))) return rc;
    if (B != s->B || R != s->R || T != s->T)
        return pf_err(PF_EFORMAT, "transformer: Spec [%d, %d, %d] after [%d, %d, %d]", B, R, T, s->B, s->R, s->T);
    int64_t step = meta[0], micro = meta[1];
    int F = R, TP = T / s->tc.patch, D = s->tc.dim, P = s->tc.patch;
    const pf_section *lay = pf_tmsg_get(m, "layout", PF_DT_I64, 1, (uint32_t[]){4});
    if (!lay) return PF_EFORMAT;
    int masked = ((const int64_t *)lay->data)[2] != 0, val = !strcmp(m->id, "vact");
    /* masks on the anchors only: their views and neighbours are the clean targets of the contrast */
    pf_tstage_set_mask_rows(s->ts, (int)((const int64_t *)lay->data)[0]);
    /* validation: no dropout, and the same masks at every evaluation */
    rc = pf_tstage_forward(s->ts, s->st.p, sp->data, B, F, TP, masked ? NULL : s->nomask, !val && !s->freeze,
                           val ? pf_stage_key(s->seed, 0, (int)micro, PF_SITE_VAL) : pf_stage_key(s->seed, step, (int)micro, PF_SITE_MASK),
                           pf_stage_key(s->seed, step, (int)micro, PF_SITE_ENCODER));
    if (rc) return rc;
    pf_msg *o = pf_msg_create(PF_MSG_TENSOR, val ? "venc" : "enc");
    if (!o) return PF_ENOMEM;
    o->count = m->count;
    o->window_index = m->window_index;
    o->epoch = m->epoch;
    uint32_t four = 4, dz[3] = {(uint32_t)B, (uint32_t)(F * TP), (uint32_t)D}, dt[3] = {(uint32_t)B, (uint32_t)(F * TP), (uint32_t)P},
             dm[2] = {(uint32_t)B, (uint32_t)(F * TP)};
    if (pf_tmsg_add(o, "meta", PF_DT_I64, 1, &four, meta) || pf_tmsg_add(o, "z", PF_DT_F32, 3, dz, pf_tstage_encoded(s->ts)) ||
        pf_tmsg_add(o, "target", PF_DT_F32, 3, dt, sp->data) ||
        pf_tmsg_add(o, "mask", PF_DT_F32, 2, dm, masked ? pf_tstage_mask(s->ts) : s->nomask) || pf_aux_forward(o, m)) {
        pf_msg_destroy(o);
        return PF_ENOMEM;
    }
    if ((rc = pf_node_send(n, "out", o))) return rc;
    pf_node_heartbeat(n);
    if (val) return PF_OK; /* no gradient comes back */
    /* the trainer answers with the gradient of exactly this micro-batch */
    pf_msg *g = NULL;
    uint64_t w0 = pf_now_ns();
    rc = pf_node_recv(n, "grad", &g);
    s->wait_ns += pf_now_ns() - w0;
    pf_node_set_counter(n, "grad_wait_ms", s->wait_ns / 1000000);
    if (rc) return pf_err_context(rc, "waiting for the gradient of step %lld micro-batch %lld", (long long)step, (long long)micro);
    const pf_section *gm = pf_tmsg_get(g, "meta", PF_DT_I64, 1, &four);
    const pf_section *gz = gm ? pf_tmsg_get(g, "dz", PF_DT_F32, 3, dz) : NULL;
    if (!gz || ((const int64_t *)gm->data)[0] != step || ((const int64_t *)gm->data)[1] != micro) {
        if (gz) pf_err(PF_EFORMAT, "gradient of step %lld micro-batch %lld arrived for step %lld micro-batch %lld",
                       (long long)((const int64_t *)gm->data)[0], (long long)((const int64_t *)gm->data)[1], (long long)step, (long long)micro);
        pf_msg_destroy(g);
        return pf_err_context(PF_EFORMAT, "stage protocol");
    }
    const pf_section *gt = NULL;
    for (int i = 0; i + 1 < g->n_sections; i++) /* the target's gradient is there unless detached */
        if (g->sec[i].type == PF_SEC_NAME && g->sec[i].bytes == 7 && !memcmp(g->sec[i].data, "dtarget", 7)) gt = pf_tmsg_get(g, "dtarget", PF_DT_F32, 3, dt);
    rc = s->freeze ? PF_OK : pf_tstage_backward(s->ts, s->st.p, gz->data, gt ? gt->data : NULL, s->dspec);
    pf_msg *b = rc ? NULL : pf_msg_create(PF_MSG_TENSOR, "grad");
    uint32_t ds[3] = {(uint32_t)B, (uint32_t)R, (uint32_t)T};
    if (!rc && (!b || pf_tmsg_add(b, "meta", PF_DT_I64, 1, &four, meta) || pf_tmsg_add(b, "dspec", PF_DT_F32, 3, ds, s->dspec)))
        rc = PF_ENOMEM;
    if (!rc && micro == meta[2] - 1) {
        /* the step's last: pass on the optimiser settings, add this stage's norm */
        const pf_section *o8 = pf_tmsg_get(g, "opt", PF_DT_F64, 1, (uint32_t[]){PF_STEP_OPT_N});
        const pf_section *sq = o8 ? pf_tmsg_get(g, "sq", PF_DT_F64, 1, (uint32_t[]){1}) : NULL;
        const pf_section *cd = sq ? pf_tmsg_get(g, "ckpt_dir", PF_DT_U8, 1, NULL) : NULL;
        rc = !cd ? PF_EFORMAT : pf_step_opt_unpack(o8->data, &s->opt);
        if (!rc) {
            snprintf(s->ckpt_dir, sizeof s->ckpt_dir, "%.*s", (int)cd->bytes, (const char *)cd->data);
            double v[2] = {((const double *)sq->data)[0], s->freeze ? 0 : pf_grad_sqnorm(s->st.p)};
            uint32_t two = 2, nc = (uint32_t)cd->bytes;
            if (pf_tmsg_add(b, "opt", PF_DT_F64, 1, (uint32_t[]){PF_STEP_OPT_N}, o8->data) ||
                pf_tmsg_add(b, "sq", PF_DT_F64, 1, &two, v) || pf_tmsg_add(b, "ckpt_dir", PF_DT_U8, 1, &nc, cd->data))
                rc = PF_ENOMEM;
        }
    }
    pf_msg_destroy(g);
    if (rc) { pf_msg_destroy(b); return pf_err_context(rc, "transformer backward, step %lld micro-batch %lld", (long long)step, (long long)micro); }
    return pf_node_send(n, "back", b);
}

static int transformer_process(pf_node *n, void *state, const char *port, pf_msg *m)
{
    tnode *s = state;
    uint32_t four = 4;
    const pf_section *meta = pf_tmsg_get(m, "meta", PF_DT_I64, 1, &four);
    if (!meta) return pf_node_reject(n, "protocol", m, "%s", pf_errmsg());
    if (!strcmp(m->id, "act") || !strcmp(m->id, "vact")) return micro_batch(n, s, m, meta->data);
    if (strcmp(m->id, "step") && strcmp(m->id, "end")) return pf_node_reject(n, "protocol", m, "unknown stage message '%s'", m->id);
    const pf_section *tot = pf_tmsg_get(m, "total", PF_DT_F64, 1, &four);
    if (!tot) return pf_node_reject(n, "protocol", m, "%s", pf_errmsg());
    const double *tv = tot->data;
    int64_t step = ((const int64_t *)meta->data)[0];
    if (!strcmp(m->id, "step") && s->ts && !s->freeze && !pf_stage_update(&s->st, &s->opt, tv[0])) pf_node_count(n, "skipped_steps", 1);
    if (((int)tv[3] & PF_STEP_CKPT) && s->ts && s->ckpt_dir[0] && s->saved_step != step) {
        int rc = pf_stage_save(&s->st, s->ckpt_dir, step, (int64_t)tv[1]);
        if (rc) return rc;
        s->saved_step = step;
    }
    pf_msg *f = pf_msg_take(m); /* on to the trainer, unchanged */
    return f ? pf_node_send(n, "out", f) : PF_ENOMEM;
}

static void transformer_destroy(void *state)
{
    tnode *s = state;
    if (!s) return;
    pf_tstage_destroy(s->ts);
    free(s->dspec);
    free(s->nomask);
    pf_stage_free(&s->st);
    free(s);
}

const pf_kind pf_kind_transformer = {
    .name = "transformer",
    .doc = "model stage 2: patch tokens, frequency-guided masking, RoPE transformer encoder (PhysioWave), its own optimiser",
    .params = transformer_params,
    .ports = transformer_ports,
    .create = transformer_create,
    .process = transformer_process,
    .destroy = transformer_destroy,
};
