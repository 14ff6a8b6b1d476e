/* Node kind `synth`: the embedded default data source. Emits windows of a
 * synthetic multi-lead ECG (ecgsyn.h) with the true R-peak sample indices.
 * Records are shared out among replicas (record r goes to replica r % N). */
#include "ecgsyn.h"
#include "pf_error.h"
#include "pf_log.h"
#include "pf_node.h"
#include "pf_rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const pf_param_spec synth_params[] = {
    {"records", PF_P_INT, "1", 1, 1000000, NULL, "number of independent synthetic records"},
    {"duration", PF_P_DOUBLE, "60", 1, 604800, NULL, "length of each record, seconds"},
    {"fs", PF_P_DOUBLE, "500", 50, 10000, NULL, "sample rate, Hz"},
    {"window", PF_P_INT, "5000", 16, 1 << 24, NULL, "window length, samples"},
    {"hop", PF_P_INT, "0", 0, 1 << 24, NULL, "hop between window starts, samples (0 = window: no overlap)"},
    {"tail", PF_P_STRING, "drop", 0, 0, "drop|pad", "last window that does not fit: drop it, or pad it with zeros"},
    {"leads", PF_P_INT, "12", 1, 12, NULL, "12 = I II III aVR aVL aVF V1-V6; fewer = first of II V1 I III ..."},
    {"hr", PF_P_DOUBLE, "70", 20, 250, NULL, "mean heart rate, beats per minute"},
    {"hr_std", PF_P_DOUBLE, "3", 0, 50, NULL, "heart-rate variability (standard deviation), bpm"},
    {"lf_hf", PF_P_DOUBLE, "0.5", 0.01, 100, NULL, "LF/HF ratio of the RR spectrum"},
    {"noise", PF_P_DOUBLE, "0.02", 0, 10, NULL, "white noise standard deviation, mV"},
    {"baseline", PF_P_DOUBLE, "0.1", 0, 10, NULL, "baseline wander amplitude, mV"},
    {"powerline", PF_P_DOUBLE, "0", 0, 10, NULL, "powerline interference amplitude, mV"},
    {"mains", PF_P_DOUBLE, "50", 40, 70, NULL, "powerline frequency, Hz"},
    {"pairs", PF_P_BOOL, "false", 0, 0, NULL, "carry window k+1 of the record inside window k (ADJ_SAMPLES, ADJ_RPEAKS, ADJ_START), as the reader's pairs"},
    {"realtime", PF_P_BOOL, "false", 0, 0, NULL, "emit windows at the record's own pace (live-monitoring simulation)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const pf_port_spec synth_ports[] = {
    {"out", PF_PORT_OUT, PF_MSG_WINDOW, 0, "windows with R-peaks and lead names"},
    {NULL, 0, 0, 0, NULL},
};

typedef struct {
    pf_ecgsyn_config cfg;
    pf_ecgsyn *gen;
    int64_t record, n_records;   /* next record this replica generates */
    int64_t next_start, window_index, window, hop;
    int pairs;
    int pad, realtime;
    uint64_t t0_ns;
    char id[64], lead_names[128];
    int64_t *peaks;
} synth_t;

static int next_record(pf_node *n, synth_t *s)
{
    pf_ecgsyn_destroy(s->gen);
    s->gen = NULL;
    if (s->record >= s->n_records) return 1;
    pf_ecgsyn_config c = s->cfg;
    c.seed = pf_rng_key(pf_node_seed(n), (uint64_t)s->record, 0x5e17, 0);
    s->gen = pf_ecgsyn_create(&c);
    if (!s->gen) return pf_err_context(PF_EINVAL, "synth record %lld", (long long)s->record);
    snprintf(s->id, sizeof s->id, "synth-%04lld", (long long)s->record);
    int len = 0;
    for (int l = 0; l < c.n_leads; l++)
        len += snprintf(s->lead_names + len, sizeof s->lead_names - (size_t)len, "%s%s", l ? "," : "", pf_ecgsyn_lead_name(s->gen, l));
    s->next_start = 0;
    s->window_index = 0;
    s->t0_ns = pf_now_ns();
    s->record += pf_node_replicas(n);
    return 0;
}

static int synth_create(pf_node *n, void **state)
{
    const pf_params *p = pf_node_params(n);
    synth_t *s = calloc(1, sizeof *s);
    if (!s) return pf_err(PF_ENOMEM, "synth: out of memory");
    pf_ecgsyn_defaults(&s->cfg);
    s->cfg.fs = pf_params_double(p, "fs");
    s->cfg.duration = pf_params_double(p, "duration");
    s->cfg.n_leads = (int)pf_params_int(p, "leads");
    s->cfg.hr_mean = pf_params_double(p, "hr");
    s->cfg.hr_std = pf_params_double(p, "hr_std");
    s->cfg.lf_hf = pf_params_double(p, "lf_hf");
    s->cfg.noise_mv = pf_params_double(p, "noise");
    s->cfg.baseline_mv = pf_params_double(p, "baseline");
    s->cfg.powerline_mv = pf_params_double(p, "powerline");
    s->cfg.mains_hz = pf_params_double(p, "mains");
    s->n_records = pf_params_int(p, "records");
    s->window = pf_params_int(p, "window");
    s->hop = pf_params_int(p, "hop");
    if (s->hop == 0) s->hop = s->window;
    s->pairs = pf_params_bool(p, "pairs");
    s->pad = !strcmp(pf_params_string(p, "tail"), "pad");
    if (s->pairs && s->pad) return pf_err(PF_EINVAL, "node '%s': pairs needs tail = \"drop\" (a padded last window has no next one)", pf_node_name(n));
    s->realtime = pf_params_bool(p, "realtime");
    s->record = pf_node_replica(n);
    int64_t max_peaks = (int64_t)(s->window / s->cfg.fs * 250.0 / 60.0) + 8;
    s->peaks = malloc((size_t)max_peaks * sizeof(int64_t));
    *state = s;
    if (!s->peaks) return pf_err(PF_ENOMEM, "synth: out of memory");
    int rc = next_record(n, s);
    return rc < 0 ? rc : PF_OK;
}

static int synth_produce(pf_node *n, void *state)
{
    synth_t *s = state;
    if (!s->gen) return 1; /* this replica has no records left */
    int64_t len = pf_ecgsyn_length(s->gen);
    /* with pairs, anchors are the windows that have a next one after them */
    int fits = s->next_start + s->window + (s->pairs ? s->hop : 0) <= len;
    if (!fits && !(s->pad && s->next_start < len)) {
        int rc = next_record(n, s);
        return rc < 0 ? rc : rc == 1 ? 1 : 0;
    }
    if (s->realtime) {
        /* a live stream delivers a window once its last sample exists */
        uint64_t due = s->t0_ns + (uint64_t)((double)(s->next_start + s->window) / s->cfg.fs * 1e9);
        while (!pf_node_stopping(n)) {
            uint64_t now = pf_now_ns();
            if (now >= due) break;
            uint64_t wait = due - now > 50000000 ? 50000000 : due - now;
            struct timespec ts = {0, (long)wait};
            nanosleep(&ts, NULL);
        }
        if (pf_node_stopping(n)) return 1;
    }
    int L = s->cfg.n_leads;
    pf_msg *m = pf_msg_window_create(s->id, (uint64_t)s->window_index, s->next_start, s->cfg.fs, (uint32_t)L, (uint32_t)s->window);
    if (!m) return PF_ENOMEM;
    pf_ecgsyn_render(s->gen, s->next_start, (int)s->window, pf_msg_samples(m));
    int64_t cap = (int64_t)(s->window / s->cfg.fs * 250.0 / 60.0) + 8;
    int np = pf_ecgsyn_rpeaks(s->gen, s->next_start, s->window, s->peaks, (int)cap);
    uint32_t dn = (uint32_t)np, dl = (uint32_t)strlen(s->lead_names);
    int rc = pf_msg_add(m, PF_SEC_RPEAKS, PF_DT_I64, 1, &dn, s->peaks);
    if (!rc) rc = pf_msg_add(m, PF_SEC_LEAD_NAMES, PF_DT_U8, 1, &dl, s->lead_names);
    if (!rc && s->pairs) {
        int64_t a0 = s->next_start + s->hop;
        uint32_t d2[2] = {(uint32_t)L, (uint32_t)s->window}, one = 1;
        float *adj = malloc(sizeof(float) * (size_t)L * (size_t)s->window);
        if (!adj) rc = PF_ENOMEM;
        if (!rc) pf_ecgsyn_render(s->gen, a0, (int)s->window, adj);
        if (!rc && (rc = pf_msg_adopt(m, PF_SEC_ADJ_SAMPLES, PF_DT_F32, 2, d2, adj))) free(adj);
        int na = rc ? 0 : pf_ecgsyn_rpeaks(s->gen, a0, s->window, s->peaks, (int)cap);
        uint32_t da = (uint32_t)na;
        if (!rc) rc = pf_msg_add(m, PF_SEC_ADJ_RPEAKS, PF_DT_I64, 1, &da, s->peaks);
        if (!rc) rc = pf_msg_add(m, PF_SEC_ADJ_START, PF_DT_I64, 1, &one, &a0);
    }
    if (rc) { pf_msg_destroy(m); return rc; }
    s->next_start += s->hop;
    s->window_index++;
    return pf_node_send(n, "out", m);
}

static void synth_destroy(void *state)
{
    synth_t *s = state;
    if (!s) return;
    pf_ecgsyn_destroy(s->gen);
    free(s->peaks);
    free(s);
}

const pf_kind pf_kind_synth = {
    .name = "synth",
    .doc = "synthetic multi-lead ECG (ECGSYN dynamical model) with true R-peaks",
    .params = synth_params,
    .ports = synth_ports,
    .create = synth_create,
    .produce = synth_produce,
    .destroy = synth_destroy,
};
