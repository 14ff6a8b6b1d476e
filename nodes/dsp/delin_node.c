/* Node kind `delineate`: P, QRS and T onset / peak / offset of every beat of
 * a window, from its R-peaks, with the multi-lead delineation validated on
 * LUDB (pf_delin_window). Attaches a BEATS section (absolute sample indices,
 * -1 where a wave is absent). */
#include "pf_delin.h"
#include "pf_error.h"
#include "pf_log.h"
#include "pf_node.h"

#include <stdlib.h>
#include <string.h>

static const pf_param_spec delin_params[] = {
    {"lead", PF_P_INT, "-1", -1, 4095, NULL, "-1: the multi-lead fusion; else the fusion moved towards that lead's own boundaries"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const pf_port_spec delin_ports[] = {
    {"in", PF_PORT_IN, PF_MSG_WINDOW, 0, "windows with R-peaks"},
    {"out", PF_PORT_OUT, PF_MSG_WINDOW, 0, "the same windows with a BEATS section"},
    {NULL, 0, 0, 0, NULL},
};

typedef struct {
    int lead;
    pf_delin_cfg cfg;
    double fs;
    uint64_t logged;
} delin_t;

static int delin_create(pf_node *n, void **state)
{
    delin_t *d = calloc(1, sizeof *d);
    if (!d) return pf_err(PF_ENOMEM, "delineate: out of memory");
    d->lead = (int)pf_params_int(pf_node_params(n), "lead");
    *state = d;
    return PF_OK;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static int delin_process(pf_node *n, void *state, const char *port, pf_msg *m)
{
    delin_t *d = state;
    if (d->fs != m->sample_rate) { pf_delin_cfg_default(&d->cfg, m->sample_rate); d->fs = m->sample_rate; }
    int T = (int)m->n_samples, C = (int)m->n_leads;
    const pf_section *rs = pf_msg_find_const(m, PF_SEC_RPEAKS);
    size_t np = rs ? pf_section_count(rs) : 0, nr = 0;
    long *r = malloc(sizeof(long) * (np + 1));
    pf_delin_beat *b = malloc(sizeof(pf_delin_beat) * (np + 1));
    int64_t *out = malloc(sizeof(int64_t) * 9 * (np + 1));
    if (!r || !b || !out) { free(r); free(b); free(out); return PF_ENOMEM; }
    for (size_t i = 0; i < np; i++) {
        int64_t t = ((const int64_t *)rs->data)[i] - m->start_sample;
        if (t >= 0 && t < T) r[nr++] = (long)t;
    }
    qsort(r, nr, sizeof *r, cmp_long);
    size_t u = 0;
    for (size_t i = 0; i < nr; i++)
        if (!u || r[i] != r[u - 1]) r[u++] = r[i];
    nr = u;
    if (!rs) pf_node_count(n, "without_rpeaks", 1);
    int lead = d->lead < C ? d->lead : -1;
    if (d->lead >= C && d->logged++ < 10) pf_warn("lead %d but window '%s' has %d leads: using the fusion", d->lead, m->id, C);
    size_t spikes = 0;
    if (pf_delin_window(&d->cfg, pf_msg_samples(m), C, (size_t)T, r, nr, lead, b, &spikes)) {
        /* keep the stream going: this window gets no beats, and it is counted */
        pf_node_count(n, "failed", 1);
        if (d->logged++ < 10) pf_warn("window '%s' #%llu: %s", m->id, (unsigned long long)m->window_index, pf_errmsg());
        nr = 0;
    }
    for (size_t i = 0; i < nr; i++) {
        const long v[9] = {b[i].p_on, b[i].p_peak, b[i].p_off, b[i].qrs_on, b[i].r, b[i].qrs_off, b[i].t_on, b[i].t_peak, b[i].t_off};
        for (int k = 0; k < 9; k++) out[i * 9 + k] = v[k] < 0 ? -1 : (int64_t)v[k] + m->start_sample;
    }
    pf_node_count(n, "beats", nr);
    if (spikes) pf_node_count(n, "pacing_spikes", spikes); /* bridged before delineating */
    free(r);
    free(b);
    pf_msg *o = pf_msg_take(m);
    if (!o) { free(out); return PF_ENOMEM; }
    pf_section *old = pf_msg_find(o, PF_SEC_BEATS);
    if (old) old->type = 0; /* superseded */
    uint32_t dims[2] = {(uint32_t)nr, 9};
    int rc = pf_msg_adopt(o, PF_SEC_BEATS, PF_DT_I64, 2, dims, out);
    if (rc) { free(out); pf_msg_destroy(o); return rc; }
    return pf_node_send(n, "out", o);
}

const pf_kind pf_kind_delineate = {
    .name = "delineate",
    .doc = "P, QRS and T onset / peak / offset of every beat (multi-lead wavelet delineation)",
    .params = delin_params,
    .ports = delin_ports,
    .create = delin_create,
    .process = delin_process,
    .destroy = free,
};
