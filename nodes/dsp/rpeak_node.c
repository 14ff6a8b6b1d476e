/* Node kind `rpeak` over the streaming detector (pf_rpeak).
 *
 * State is kept per stream (window id = record id): a record's windows must
 * arrive in order at one instance, so run it with replicas = 1 per stream.
 * A window that does not continue its stream (gap or overlap) restarts that
 * stream's detector and is counted ("restarts"). Windows are held until the
 * detector has decided every beat inside them, then sent with an RPEAKS
 * section (absolute sample indices). */
#include "pf_error.h"
#include "pf_log.h"
#include "pf_node.h"
#include "pf_rpeak.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STREAMS 64

static const pf_param_spec rpeak_params[] = {
    {"lead", PF_P_INT, "-1", -1, 4095, NULL, "lead to detect on (-1 = all leads combined)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const pf_port_spec rpeak_ports[] = {
    {"in", PF_PORT_IN, PF_MSG_WINDOW, 0, "ECG windows (raw or filtered)"},
    {"out", PF_PORT_OUT, PF_MSG_WINDOW, 0, "the same windows with detected R-peaks (absolute sample indices)"},
    {NULL, 0, 0, 0, NULL},
};

typedef struct {
    char id[PF_WIRE_MAX_ID + 1];
    double fs;
    uint32_t L;
    pf_rpeak *det;
    int64_t base;      /* absolute index of the detector's sample 0 */
    int64_t consumed;  /* absolute index of the next sample to feed */
    int64_t *peaks;    /* detected, absolute, not yet attached to every window */
    size_t np, pcap;
    pf_msg **held;     /* windows waiting until their peaks are decided */
    size_t nh, hcap;
    uint64_t used;
} rstream;

typedef struct {
    int lead;
    rstream st[MAX_STREAMS];
    int nst;
    uint64_t clock;
    float *buf;
    long *out;
    size_t cap, ocap;
} rpeak_t;

static int rpeak_create(pf_node *n, void **state)
{
    rpeak_t *r = calloc(1, sizeof *r);
    if (!r) return pf_err(PF_ENOMEM, "rpeak: out of memory");
    r->lead = (int)pf_params_int(pf_node_params(n), "lead");
    *state = r;
    return PF_OK;
}

static int add_peaks(rstream *s, const long *p, size_t k)
{
    if (s->np + k > s->pcap) {
        size_t cap = (s->np + k) * 2 + 16;
        int64_t *v = realloc(s->peaks, sizeof(int64_t) * cap);
        if (!v) return pf_err(PF_ENOMEM, "rpeak: out of memory");
        s->peaks = v;
        s->pcap = cap;
    }
    for (size_t i = 0; i < k; i++) s->peaks[s->np++] = s->base + p[i];
    return PF_OK;
}

/* Send held windows whose last sample is at or before `decided` (absolute),
 * each with the detected peaks inside it; forget peaks no window needs. */
static int release(pf_node *n, rstream *s, int64_t decided)
{
    size_t k = 0;
    int rc = PF_OK;
    for (; k < s->nh && !rc; k++) {
        pf_msg *m = s->held[k];
        int64_t a = m->start_sample, b = a + m->n_samples;
        if (b > decided) break;
        int64_t *v = malloc(sizeof(int64_t) * (s->np + 1));
        uint32_t cnt = 0;
        if (!v) { rc = pf_err(PF_ENOMEM, "rpeak: out of memory"); break; }
        for (size_t i = 0; i < s->np; i++)
            if (s->peaks[i] >= a && s->peaks[i] < b) v[cnt++] = s->peaks[i];
        /* the held window goes on with its frames, R-peaks replaced */
        rc = pf_msg_replace_adopt(m, PF_SEC_RPEAKS, PF_DT_I64, 1, &cnt, v);
        if (!rc) {
            pf_node_count(n, "beats", cnt);
            rc = pf_node_send(n, "out", m);
        } else {
            pf_msg_destroy(m);
        }
    }
    if (s->held) memmove(s->held, s->held + k, sizeof *s->held * (s->nh - k)); /* NULL + 0 is UB */
    s->nh -= k;
    /* peaks before the oldest held window are no longer needed */
    int64_t keep = s->nh ? s->held[0]->start_sample : decided;
    size_t j = 0;
    while (j < s->np && s->peaks[j] < keep) j++;
    if (s->peaks) memmove(s->peaks, s->peaks + j, sizeof(int64_t) * (s->np - j));
    s->np -= j;
    return rc;
}

static int rpeak_end_segment(pf_node *n, rpeak_t *r, rstream *s)
{
    int rc = PF_OK;
    if (s->det) {
        size_t cap = (size_t)(20 * s->fs) + 64, k = 0;
        long *tmp = malloc(sizeof(long) * cap);
        if (!tmp) return pf_err(PF_ENOMEM, "rpeak: out of memory");
        rc = pf_rpeak_flush(s->det, tmp, cap, &k);
        if (!rc) rc = add_peaks(s, tmp, k);
        free(tmp);
        if (pf_rpeak_nonfinite(s->det)) pf_node_count(n, "nonfinite", pf_rpeak_nonfinite(s->det));
        pf_rpeak_destroy(s->det);
        s->det = NULL;
    }
    if (!rc) rc = release(n, s, INT64_MAX);
    return rc;
}

static void rstream_free(rstream *s)
{
    pf_rpeak_destroy(s->det);
    for (size_t i = 0; i < s->nh; i++) pf_msg_destroy(s->held[i]);
    free(s->held);
    free(s->peaks);
    memset(s, 0, sizeof *s);
}

static int rpeak_process(pf_node *n, void *state, const char *port, pf_msg *m)
{
    rpeak_t *r = state;
    const int L = (int)m->n_leads;
    rstream *s = NULL;
    int rc = PF_OK;
    for (int i = 0; i < r->nst; i++)
        if (!strcmp(r->st[i].id, m->id)) s = &r->st[i];
    int64_t a = m->start_sample, b = a + m->n_samples;
    if (s && (s->fs != m->sample_rate || s->L != m->n_leads || a > s->consumed)) {
        if (a > s->consumed) pf_node_count(n, "restarts", 1); /* gap: a new segment */
        rc = rpeak_end_segment(n, r, s);
        if (rc) return rc;
        rstream_free(s);
        s = NULL;
    }
    if (!s) {
        int slot = 0;
        if (r->nst < MAX_STREAMS) slot = r->nst++;
        else /* evict the least recently used (its segment ends here) */
            for (int i = 1; i < MAX_STREAMS; i++)
                if (r->st[i].used < r->st[slot].used) slot = i;
        s = &r->st[slot];
        if (s->det || s->nh) {
            rc = rpeak_end_segment(n, r, s);
            if (rc) return rc;
        }
        rstream_free(s);
        snprintf(s->id, sizeof s->id, "%s", m->id);
        s->fs = m->sample_rate;
        s->L = m->n_leads;
        s->base = s->consumed = a;
        pf_rpeak_cfg c;
        pf_rpeak_cfg_default(&c, m->sample_rate, L);
        c.lead = r->lead >= L ? L - 1 : r->lead;
        s->det = pf_rpeak_create(&c);
        if (!s->det) { /* a rate or lead count the detector cannot take: this window only */
            s->id[0] = 0;
            s->fs = 0;
            return pf_node_reject(n, "bad_rate", m, "%s", pf_errmsg());
        }
    }
    s->used = ++r->clock;
    /* feed only samples not seen yet: overlapping windows are fine */
    if (b > s->consumed) {
        size_t off = (size_t)(s->consumed - a), k = (size_t)(b - s->consumed);
        if ((size_t)m->n_samples * L > r->cap) {
            free(r->buf);
            r->cap = (size_t)m->n_samples * L;
            r->buf = malloc(sizeof(float) * r->cap);
            if (!r->buf) { r->cap = 0; return pf_err(PF_ENOMEM, "rpeak: out of memory"); }
        }
        size_t ocap = k / (size_t)(0.2 * s->fs + 1) + 8;
        if (ocap > r->ocap) {
            free(r->out);
            r->out = malloc(sizeof(long) * ocap);
            r->ocap = r->out ? ocap : 0;
            if (!r->out) return pf_err(PF_ENOMEM, "rpeak: out of memory");
        }
        const float *lm = pf_msg_samples(m);
        for (int l = 0; l < L; l++)
            for (size_t t = 0; t < k; t++) r->buf[t * L + l] = lm[(size_t)l * m->n_samples + off + t];
        size_t got = 0;
        rc = pf_rpeak_process(s->det, r->buf, k, r->out, r->ocap, &got);
        if (!rc) rc = add_peaks(s, r->out, got);
        if (rc) return rc;
        s->consumed = b;
    }
    if (s->nh == s->hcap) {
        size_t cap = s->hcap * 2 + 4;
        pf_msg **h = realloc(s->held, sizeof *h * cap);
        if (!h) return pf_err(PF_ENOMEM, "rpeak: out of memory");
        s->held = h;
        s->hcap = cap;
    }
    pf_msg *c = pf_msg_take(m); /* keep the received frames, no copy */
    if (!c) return pf_err(PF_ENOMEM, "rpeak: out of memory");
    s->held[s->nh++] = c;
    /* every beat up to consumed - latency has been reported by the detector */
    return release(n, s, s->consumed - pf_rpeak_latency(s->det));
}

static int rpeak_finish(pf_node *n, void *state, int interrupted)
{
    rpeak_t *r = state;
    int rc = PF_OK;
    for (int i = 0; i < r->nst && !rc; i++) rc = rpeak_end_segment(n, r, &r->st[i]);
    return rc;
}

static void rpeak_destroy(void *state)
{
    rpeak_t *r = state;
    if (!r) return;
    for (int i = 0; i < r->nst; i++) rstream_free(&r->st[i]);
    free(r->buf);
    free(r->out);
    free(r);
}

const pf_kind pf_kind_rpeak = {
    .name = "rpeak",
    .doc = "streaming multi-lead R-peak detector: attaches absolute R-peak indices to each window",
    .params = rpeak_params,
    .ports = rpeak_ports,
    .create = rpeak_create,
    .process = rpeak_process,
    .finish = rpeak_finish,
    .destroy = rpeak_destroy,
};
