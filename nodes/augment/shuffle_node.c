/* Node kind `shuffle`: PhysioCLR's heartbeat shuffling plus ECG
 * perturbations, producing augmented views of each window (model.md §3).
 * Randomness is keyed by (graph seed, epoch, record id, window index, view),
 * so the output does not depend on which replica processed a window. */
#include "pf_augment.h"
#include "pf_error.h"
#include "pf_winfeat.h"
#include "pf_log.h"
#include "pf_node.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const pf_param_spec shuffle_params[] = {
    {"shuffle", PF_P_BOOL, "true", 0, 0, NULL, "apply heartbeat shuffling (needs R-peaks in the window)"},
    {"prefix", PF_P_STRING, "drop", 0, 0, "drop|keep", "samples before the first R-peak: drop (published: zeros at the end) or keep (appended)"},
    {"views", PF_P_INT, "1", 1, 8, NULL, "augmented views per window"},
    {"output", PF_P_STRING, "views", 0, 0, "views|replace", "views: keep the original and add a VIEWS section; replace: the (single) view replaces the samples"},
    {"mask_p", PF_P_DOUBLE, "0", 0, 1, NULL, "probability of random lead masking per view"},
    {"mask_lead_p", PF_P_DOUBLE, "0.5", 0, 1, NULL, "when masking, probability that each lead is zeroed"},
    {"noise_p", PF_P_DOUBLE, "0", 0, 1, NULL, "probability of adding Gaussian noise"},
    {"noise_std", PF_P_DOUBLE, "0.05", 0, 100, NULL, "noise standard deviation, signal units"},
    {"wander_p", PF_P_DOUBLE, "0", 0, 1, NULL, "probability of adding baseline wander (0.05-0.5 Hz)"},
    {"wander_amp", PF_P_DOUBLE, "0.2", 0, 100, NULL, "maximum baseline wander amplitude, signal units"},
    {"powerline_p", PF_P_DOUBLE, "0", 0, 1, NULL, "probability of adding powerline interference"},
    {"powerline_amp", PF_P_DOUBLE, "0.05", 0, 100, NULL, "powerline amplitude, signal units"},
    {"mains", PF_P_DOUBLE, "50", 40, 70, NULL, "powerline frequency, Hz"},
    {"scale_p", PF_P_DOUBLE, "0", 0, 1, NULL, "probability of amplitude scaling"},
    {"scale_min", PF_P_DOUBLE, "0.8", 0, 100, NULL, "smallest scale factor"},
    {"scale_max", PF_P_DOUBLE, "1.2", 0, 100, NULL, "largest scale factor"},
    {"shift_p", PF_P_DOUBLE, "0", 0, 1, NULL, "probability of a baseline shift (per lead offset)"},
    {"shift_max", PF_P_DOUBLE, "0.1", 0, 100, NULL, "largest baseline shift, signal units"},
    {"features", PF_P_BOOL, "true", 0, 0, NULL, "attach PhysioCLR's 159 physiological features (of the original window)"},
    {"feature_lead", PF_P_STRING, "mean", 0, 0, NULL, "\"mean\" of all leads (published) or a lead index, e.g. \"1\""},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const pf_port_spec shuffle_ports[] = {
    {"in", PF_PORT_IN, PF_MSG_WINDOW, 0, "windows, with R-peaks for shuffling"},
    {"out", PF_PORT_OUT, PF_MSG_WINDOW, 0, "windows with augmented views"},
    {NULL, 0, 0, 0, NULL},
};

typedef struct {
    int shuffle, keep_prefix, views, replace;
    pf_perturb_config pc;
    uint64_t logged;
    int features, feature_lead;
    pf_winfeat *feat;
} shuffle_t;

static int shuffle_create(pf_node *n, void **state)
{
    const pf_params *p = pf_node_params(n);
    shuffle_t *s = calloc(1, sizeof *s);
    if (!s) return pf_err(PF_ENOMEM, "shuffle: out of memory");
    *state = s;
    s->shuffle = pf_params_bool(p, "shuffle");
    s->keep_prefix = !strcmp(pf_params_string(p, "prefix"), "keep");
    s->views = (int)pf_params_int(p, "views");
    s->replace = !strcmp(pf_params_string(p, "output"), "replace");
    if (s->replace && s->views != 1)
        return pf_err(PF_EINVAL, "node '%s': output = \"replace\" needs views = 1 (got %d)", pf_node_name(n), s->views);
    pf_perturb_config *c = &s->pc;
    c->mask_p = pf_params_double(p, "mask_p");
    c->mask_lead_p = pf_params_double(p, "mask_lead_p");
    c->noise_p = pf_params_double(p, "noise_p");
    c->noise_std = pf_params_double(p, "noise_std");
    c->wander_p = pf_params_double(p, "wander_p");
    c->wander_amp = pf_params_double(p, "wander_amp");
    c->powerline_p = pf_params_double(p, "powerline_p");
    c->powerline_amp = pf_params_double(p, "powerline_amp");
    c->mains_hz = pf_params_double(p, "mains");
    c->scale_p = pf_params_double(p, "scale_p");
    c->scale_min = pf_params_double(p, "scale_min");
    c->scale_max = pf_params_double(p, "scale_max");
    c->shift_p = pf_params_double(p, "shift_p");
    c->shift_max = pf_params_double(p, "shift_max");
    if (c->scale_min > c->scale_max)
        return pf_err(PF_EINVAL, "node '%s': scale_min %g > scale_max %g", pf_node_name(n), c->scale_min, c->scale_max);
    s->features = pf_params_bool(p, "features");
    const char *fl = pf_params_string(p, "feature_lead");
    char *end;
    long li = strtol(fl, &end, 10);
    if (!strcmp(fl, "mean")) s->feature_lead = -1;
    else if (*fl && !*end && li >= 0 && li < 4096) s->feature_lead = (int)li;
    else return pf_err(PF_EINVAL, "node '%s': feature_lead \"%s\" must be \"mean\" or a lead index", pf_node_name(n), fl);
    if (s->features && !(s->feat = pf_winfeat_create(s->feature_lead))) return PF_ENOMEM;
    return PF_OK;
}

static void shuffle_destroy(void *state)
{
    shuffle_t *s = state;
    if (s) pf_winfeat_destroy(&s->feat);
    free(s);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int shuffle_process(pf_node *n, void *state, const char *port, pf_msg *m)
{
    shuffle_t *s = state;
    int C = (int)m->n_leads, T = (int)m->n_samples, V = s->views;
    const float *x = pf_msg_samples(m);
    /* R-peaks: window-relative, inside the window, strictly increasing */
    const pf_section *rs = pf_msg_find_const(m, PF_SEC_RPEAKS);
    int np = rs ? (int)pf_section_count(rs) : 0, mpk = 0;
    int64_t *peaks = malloc(sizeof(int64_t) * (size_t)(np + 1));
    if (!peaks) return PF_ENOMEM;
    for (int i = 0; i < np; i++) {
        int64_t r = ((const int64_t *)rs->data)[i] - m->start_sample;
        if (r >= 0 && r < T) peaks[mpk++] = r;
    }
    qsort(peaks, (size_t)mpk, sizeof *peaks, cmp_i64);
    int uniq = 0;
    for (int i = 0; i < mpk; i++)
        if (!uniq || peaks[i] != peaks[uniq - 1]) peaks[uniq++] = peaks[i];
    if (uniq != np) pf_node_count(n, "rpeaks_discarded", (uint64_t)(np - uniq));
    mpk = uniq;
    int finite = 1;
    for (size_t i = 0; i < (size_t)C * T && finite; i++) finite = isfinite(x[i]);
    if (!finite) {
        pf_node_count(n, "nonfinite", 1);
        if (s->logged++ < 10) pf_warn("window '%s' #%llu has NaN or Inf samples; augmented as it is", m->id, (unsigned long long)m->window_index);
    }
    /* features of the original window, before any augmentation */
    float *feat = NULL;
    if (s->features) {
        feat = malloc(sizeof(float) * PF_FEAT_DIM);
        if (!feat) { free(peaks); return PF_ENOMEM; }
        int from_beats = 0, frc = pf_winfeat_compute(s->feat, m, peaks, mpk, feat, &from_beats);
        if (frc == PF_ERANGE) { free(peaks); free(feat); return pf_node_reject(n, "bad_rate", m, "%s", pf_errmsg()); }
        if (frc && frc != PF_EAGAIN) { free(peaks); free(feat); return frc; }
        if (from_beats) pf_node_count(n, "features_from_beats", 1);
        if (frc) {
            /* an odd window (too short, bad lead) keeps the stream's layout, marked: NaN, counted */
            pf_node_count(n, "features_failed", 1);
            if (s->logged++ < 10) pf_warn("window '%s' #%llu: no features: %s", m->id, (unsigned long long)m->window_index, pf_errmsg());
        }
        if (mpk < 2) pf_node_count(n, "features_without_beats", 1);
        /* without two beats there are no intervals to describe: marked as missing, never zeros
         * (the trainer leaves such windows out of the contrastive term; features fit skips them) */
        if (frc || mpk < 2)
            for (int i = 0; i < PF_FEAT_DIM; i++) feat[i] = NAN;
    }
    int can_shuffle = s->shuffle && mpk >= 2;
    if (s->shuffle && !can_shuffle) pf_node_count(n, "unshuffled", 1); /* fewer than two R-peaks */

    float *views = malloc(sizeof(float) * (size_t)V * C * T);
    int64_t *vpeaks = malloc(sizeof(int64_t) * (size_t)(V * mpk + 1));
    int *perm = malloc(sizeof(int) * (size_t)(mpk + 1));
    if (!views || !vpeaks || !perm) { free(peaks); free(views); free(vpeaks); free(perm); free(feat); return PF_ENOMEM; }
    uint64_t wkey = pf_rng_key(pf_node_seed(n), m->epoch, pf_hash_str(m->id), m->window_index);
    for (int v = 0; v < V; v++) {
        float *out = views + (size_t)v * C * T;
        int64_t *op = vpeaks + (size_t)v * mpk;
        if (can_shuffle) {
            pf_rng r;
            pf_rng_seed(&r, pf_rng_key(wkey, (uint64_t)v, 0x5ull, 0));
            pf_random_permutation(&r, perm, mpk);
            pf_shuffle_beats(x, C, T, peaks, mpk, perm, s->keep_prefix, out, op);
        } else {
            memcpy(out, x, sizeof(float) * (size_t)C * T);
            memcpy(op, peaks, sizeof(int64_t) * (size_t)mpk);
        }
        for (int k = 0; k < mpk; k++) op[k] += m->start_sample;
        int done = pf_perturb(out, C, T, m->sample_rate, &s->pc, pf_rng_key(wkey, (uint64_t)v, 0x9e47u, 0));
        if (done & PF_AUG_MASK) pf_node_count(n, "masked", 1);
    }
    free(peaks);
    free(perm);
    if (can_shuffle) pf_node_count(n, "shuffled", 1);

    pf_msg *o = pf_msg_take(m); /* forward the input's frames, no copy */
    if (!o) { free(views); free(vpeaks); free(feat); return PF_ENOMEM; }
    uint32_t dpk[2] = {(uint32_t)V, (uint32_t)mpk};
    int rc;
    if (s->replace) {
        pf_section *sam = pf_msg_find(o, PF_SEC_SAMPLES);
        int idx = (int)(sam - o->sec);
        if (o->owned[idx]) free(sam->data);
        sam->data = views; /* sent zero-copy as a new frame */
        o->owned[idx] = 1;
        rc = PF_OK;
    } else {
        uint32_t dv[3] = {(uint32_t)V, (uint32_t)C, (uint32_t)T};
        rc = pf_msg_adopt(o, PF_SEC_VIEWS, PF_DT_F32, 3, dv, views);
        if (rc) free(views);
    }
    if (!rc) rc = pf_msg_adopt(o, PF_SEC_RPEAKS_AUG, PF_DT_I64, 2, dpk, vpeaks);
    else free(vpeaks);
    if (!rc && feat) {
        pf_section *old = pf_msg_find(o, PF_SEC_FEATURES);
        if (old) old->type = 0; /* superseded: an unknown type, skipped downstream */
        uint32_t df = PF_FEAT_DIM;
        rc = pf_msg_adopt(o, PF_SEC_FEATURES, PF_DT_F32, 1, &df, feat);
        if (rc) free(feat);
    } else {
        free(feat);
    }
    if (rc) { pf_msg_destroy(o); return rc; }
    return pf_node_send(n, "out", o);
}

const pf_kind pf_kind_shuffle = {
    .name = "shuffle",
    .doc = "heartbeat shuffling and ECG perturbations: augmented views, deterministic per window",
    .params = shuffle_params,
    .ports = shuffle_ports,
    .create = shuffle_create,
    .process = shuffle_process,
    .destroy = shuffle_destroy,
    .per_window = 1,
};
