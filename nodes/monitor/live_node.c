/* `live`: the central station's bedside receiver. Many beds connect (ZeroMQ
 * PUSH) to one PULL endpoint and speak the bedside protocol (pf_bedside.h,
 * docs/bedside.md). Per bed it checks sequence numbers, sample indices and
 * timestamps; gaps, duplicates and late (reordered) chunks are counted and
 * marked on the forwarded window (PF_SEC_LIVE_META), never zero-filled or
 * joined. Beds join, leave (BYE or silence) and reconnect (a new session)
 * while the graph runs; garbage, a changed sample rate / lead count or a
 * flood from one bed is counted and logged for that bed and never touches
 * the others. Each DATA chunk becomes one WINDOW (id "bed-N"). */
#include "pf_bedindex.h"
#include "pf_bedside.h"
#include "pf_live.h"
#include "pf_livebatch.h"

#include "pf_error.h"
#include "pf_log.h"
#include "pf_node.h"

#include <zmq.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const pf_param_spec live_params[] = {
    {"endpoint", PF_P_STRING, "tcp://127.0.0.1:5700", 0, 0, NULL, "where beds connect (ZeroMQ PULL bind: tcp://ADDR:PORT or ipc://PATH)"},
    {"max_beds", PF_P_INT, "20000", 1, 1000000, NULL, "beds tracked at once; more are refused and counted"},
    {"silent_s", PF_P_DOUBLE, "5", 0.1, 3600, NULL, "a bed silent this long (no data, no heartbeat) is marked dropped out"},
    {"max_rate", PF_P_DOUBLE, "4", 0, 1e6, NULL, "per-bed budget in multiples of its real-time sample rate (2 s burst); excess chunks are dropped as a flood; 0 = off"},
    {"exit_idle_s", PF_P_DOUBLE, "0", 0, 3600, NULL, "end the stream once every bed has left (BYE or silent) for this long; 0 = run until stopped"},
    {"hwm", PF_P_INT, "100000", 100, 10000000, NULL, "receive high-water mark of the bed socket, messages"},
    {"batch", PF_P_INT, "1", 1, 4096, NULL, "chunks per message on out: 1 = a window per chunk; more = the chunks of one receive burst, up to this many, in one message (pf_livebatch.h)"},
    {"batch_ms", PF_P_DOUBLE, "0", 0, 100, NULL, "with batch > 1: longest a chunk waits for others to join its message, ms; 0 = never past its receive burst (adds no latency)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const pf_port_spec live_ports[] = {
    {"out", PF_PORT_OUT, PF_MSG_WINDOW, 0, "one window per bedside chunk, with LIVE_META (and LEAD_NAMES once the bed sent INFO)"},
    {NULL, 0, 0, 0, NULL},
};

typedef struct {
    uint32_t bed, session;
    int used, active, joined;
    uint64_t next_seq, next_sample, seen; /* seen: bit k = seq next_seq-1-k arrived */
    int64_t base;                         /* timeline index = base + session sample */
    int64_t t0_us;                        /* acquisition time of session sample 0 */
    int64_t end_t_us, end_timeline;       /* after the last accepted sample */
    float fs;
    int n_leads, have_data;
    double tokens;
    uint64_t last_ns, tok_ns;
    char names[PF_BS_MAX_INFO + 1];
    int64_t c[PF_LM_N];                   /* counters, PF_LM_GAPS.. */
    uint32_t logged;
} bed_t;

typedef struct {
    void *ctx, *sock;
    bed_t *beds;             /* [max_beds], slot pf_bedindex_find */
    pf_bedindex *idx;
    size_t n_beds, max_beds, n_active;
    double silent_s, max_rate, exit_idle_s;
    uint64_t last_scan_ns, idle_since_ns, garbage;
    int16_t *raw;            /* aligned copy of a chunk's samples */
    int batch;               /* chunks per message (1: a window each) */
    uint64_t hold_ns;        /* batch_ms: how long a batch's first chunk may wait */
    int shards;              /* downstream replicas: bed b goes to replica b mod shards */
    struct shard {           /* a batch being gathered for one downstream replica */
        pf_livebatch *lb;
        bed_t **lbeds;       /* the beds of the batch's chunks, for their drop counts */
        uint64_t first_ns;   /* when its first chunk arrived */
    } *sh;
} live_t;

/* Send a shard's gathered chunks as one message; a drop counts against every bed in it. */
static int flush_shard(live_t *L, pf_node *n, int s)
{
    struct shard *h = &L->sh[s];
    int k = pf_livebatch_count(h->lb);
    if (!k) return PF_OK;
    pf_msg *w = pf_livebatch_take(h->lb);
    if (!w) return PF_ENOMEM;
    uint64_t before = pf_node_dropped(n);
    int rc = pf_node_send_keyed(n, "out", w, (uint64_t)s);
    if (pf_node_dropped(n) > before)
        for (int i = 0; i < k; i++) h->lbeds[i]->c[PF_LM_DROPS]++;
    return rc;
}

/* Send every shard's batch that is full, or (all) held long enough (all = 1: every one). */
static int flush_batches(live_t *L, pf_node *n, int all)
{
    uint64_t t = pf_now_ns();
    for (int s = 0; L->sh && s < L->shards; s++) {
        struct shard *h = &L->sh[s];
        if (!pf_livebatch_count(h->lb) || !(all || !L->hold_ns || t - h->first_ns >= L->hold_ns)) continue;
        int rc = flush_shard(L, n, s);
        if (rc) return rc;
    }
    return PF_OK;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* First few per bed in full, then one in a thousand, so a misbehaving bed can't flood the log. */
static void bed_log(bed_t *b, const char *what)
{
    b->logged++;
    if (b->logged <= 5 || b->logged % 1000 == 0) pf_warn("bed %u: %s (bed's report #%u)", b->bed, what, b->logged);
}

static bed_t *bed_find(live_t *L, uint32_t bed, int create)
{
    long i = pf_bedindex_find(L->idx, bed, create);
    if (i < 0) return NULL;
    bed_t *b = &L->beds[i];
    if (!b->used) { /* a new bed: its record is zero (pf_bedindex_records) */
        b->used = 1;
        b->bed = bed;
        L->n_beds++;
    }
    return b;
}

static int live_create(pf_node *n, void **state)
{
    const pf_params *p = pf_node_params(n);
    live_t *L = calloc(1, sizeof *L);
    if (!L) return pf_err(PF_ENOMEM, "live: out of memory");
    *state = L;
    L->max_beds = (size_t)pf_params_int(p, "max_beds");
    L->silent_s = pf_params_double(p, "silent_s");
    L->max_rate = pf_params_double(p, "max_rate");
    L->exit_idle_s = pf_params_double(p, "exit_idle_s");
    L->batch = (int)pf_params_int(p, "batch");
    L->hold_ns = (uint64_t)(pf_params_double(p, "batch_ms") * 1e6);
    /* beds are sharded over the monitor replicas by number, each replica keeping its beds' state */
    L->shards = pf_node_out_replicas(n, "out");
    if (L->shards < 1) L->shards = 1;
    if (L->batch > 1) {
        if (!(L->sh = calloc((size_t)L->shards, sizeof *L->sh))) return pf_err(PF_ENOMEM, "live: out of memory");
        for (int s = 0; s < L->shards; s++)
            if (!(L->sh[s].lb = pf_livebatch_create()) || !(L->sh[s].lbeds = calloc((size_t)L->batch, sizeof *L->sh[s].lbeds)))
                return pf_err(PF_ENOMEM, "live: out of memory for batches of %d", L->batch);
    }
    L->idx = pf_bedindex_create(L->max_beds);
    L->beds = pf_bedindex_records(L->max_beds, sizeof *L->beds); /* dense, in joining order */
    L->raw = malloc(sizeof(int16_t) * PF_BS_MAX_LEADS * PF_BS_MAX_SAMPLES);
    if (!L->idx || !L->beds || !L->raw) return pf_err(PF_ENOMEM, "live: out of memory for %zu beds", L->max_beds);
    const char *ep = pf_params_string(p, "endpoint");
    L->ctx = zmq_ctx_new();
    L->sock = L->ctx ? zmq_socket(L->ctx, ZMQ_PULL) : NULL;
    if (!L->sock) return pf_err(PF_EIO, "live: cannot create the bed socket: %s", zmq_strerror(zmq_errno()));
    int hwm = (int)pf_params_int(p, "hwm"), zero = 0;
    zmq_setsockopt(L->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(L->sock, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(L->sock, ep)) return pf_err(PF_EIO, "live: endpoint '%s': cannot bind: %s", ep, zmq_strerror(zmq_errno()));
    pf_info("listening for beds on %s", ep);
    L->idle_since_ns = pf_now_ns();
    return PF_OK;
}

/* Sequence bookkeeping shared by every message type. Returns 1 to accept,
 * 0 when it is a duplicate or arrived after its place was passed. */
static int bed_seq(live_t *L, pf_node *n, bed_t *b, const pf_bs_msg *m)
{
    if (m->seq >= b->next_seq) {
        uint64_t shift = m->seq + 1 - b->next_seq;
        b->seen = shift >= 64 ? 0 : b->seen << shift;
        b->seen |= 1;
        b->next_seq = m->seq + 1;
        return 1;
    }
    uint64_t back = b->next_seq - 1 - m->seq;
    char why[160];
    if (back < 64 && (b->seen >> back & 1)) {
        b->c[PF_LM_DUPS]++;
        pf_node_count(n, "duplicates", 1);
        snprintf(why, sizeof why, "duplicate seq %llu dropped", (unsigned long long)m->seq);
    } else {
        if (back < 64) b->seen |= 1ull << back;
        b->c[PF_LM_REORDERED]++;
        pf_node_count(n, "reordered", 1);
        snprintf(why, sizeof why, "seq %llu arrived after seq %llu: late, its span is already marked as a gap; dropped",
                 (unsigned long long)m->seq, (unsigned long long)(b->next_seq - 1));
    }
    bed_log(b, why);
    return 0;
}

static void new_session(live_t *L, pf_node *n, bed_t *b, const pf_bs_msg *m, uint64_t now)
{
    if (b->session) {
        b->c[PF_LM_RECONNECTS]++;
        pf_node_count(n, "reconnects", 1);
        pf_info("bed %u reconnected (session %u -> %u)", b->bed, b->session, m->session);
    } else {
        pf_info("bed %u joined (session %u)", b->bed, m->session);
    }
    b->session = m->session;
    b->next_seq = m->seq; /* the first message we see opens the session's window */
    b->seen = 0;
    b->have_data = 0;
    b->tokens = 0;
    b->tok_ns = now;
}

static int handle_data(live_t *L, pf_node *n, bed_t *b, const pf_bs_msg *m, uint64_t now, int64_t recv_us)
{
    char why[200];
    int64_t flags = 0, gap = 0;
    if (b->have_data && (m->fs != b->fs || m->n_leads != b->n_leads)) {
        b->c[PF_LM_BAD]++;
        pf_node_count(n, "bad", 1);
        snprintf(why, sizeof why, "seq %llu: %u leads at %g Hz mid-session (session started with %d at %g Hz); dropped",
                 (unsigned long long)m->seq, m->n_leads, (double)m->fs, b->n_leads, (double)b->fs);
        bed_log(b, why);
        return PF_OK;
    }
    if (L->max_rate > 0) {
        double cap = 2.0 * m->fs * L->max_rate;
        b->tokens += (double)(now - b->tok_ns) * 1e-9 * m->fs * L->max_rate;
        if (b->tokens > cap || !b->have_data) b->tokens = cap;
        b->tok_ns = now;
        if (b->tokens < m->n_samples) {
            b->c[PF_LM_FLOOD]++;
            pf_node_count(n, "flood", 1);
            bed_log(b, "sending faster than its rate budget: chunk dropped");
            return PF_OK;
        }
        b->tokens -= m->n_samples;
    }
    if (!b->have_data) {
        /* First chunk of a session: place it on the bed's timeline from its timestamp. */
        if (!b->joined) {
            b->base = -(int64_t)m->sample;
            flags |= PF_LMF_JOINED;
            b->joined = 1;
        } else {
            int64_t expect = b->end_timeline + (int64_t)llround((double)(m->t_us - b->end_t_us) * m->fs / 1e6);
            gap = expect > b->end_timeline ? expect - b->end_timeline : 0;
            b->base = b->end_timeline + gap - (int64_t)m->sample;
        }
        flags |= PF_LMF_NEW_SESSION;
        b->fs = m->fs;
        b->n_leads = m->n_leads;
        b->t0_us = m->t_us - (int64_t)llround((double)m->sample * 1e6 / m->fs);
        b->have_data = 1;
    } else {
        if (m->sample < b->next_sample) {
            b->c[PF_LM_BAD]++;
            pf_node_count(n, "bad", 1);
            snprintf(why, sizeof why, "seq %llu: samples %llu.. overlap what was received (next expected %llu); dropped",
                     (unsigned long long)m->seq, (unsigned long long)m->sample, (unsigned long long)b->next_sample);
            bed_log(b, why);
            return PF_OK;
        }
        gap = (int64_t)(m->sample - b->next_sample);
        /* Timestamps must follow the sample clock; a step is counted (the sample index stays the timeline). */
        int64_t expect_us = b->t0_us + (int64_t)llround((double)m->sample * 1e6 / m->fs);
        int64_t tol = 50000 + (int64_t)(2e6 / m->fs);
        if (llabs(m->t_us - expect_us) > tol) {
            b->c[PF_LM_TS]++;
            pf_node_count(n, "ts_anomalies", 1);
            snprintf(why, sizeof why, "seq %llu: timestamp %+.3f s off the sample clock; re-anchored",
                     (unsigned long long)m->seq, (double)(m->t_us - expect_us) / 1e6);
            bed_log(b, why);
            b->t0_us = m->t_us - (int64_t)llround((double)m->sample * 1e6 / m->fs);
        }
    }
    if (gap > 0) {
        flags |= PF_LMF_GAP;
        b->c[PF_LM_GAPS]++;
        pf_node_count(n, "gaps", 1);
        snprintf(why, sizeof why, "gap of %lld samples before seq %llu (marked, not filled)", (long long)gap, (unsigned long long)m->seq);
        bed_log(b, why);
    }
    b->next_sample = m->sample + m->n_samples;
    b->end_timeline = b->base + (int64_t)b->next_sample;
    b->end_t_us = m->t_us + (int64_t)llround((double)m->n_samples * 1e6 / m->fs);

    b->c[PF_LM_BED] = b->bed;
    b->c[PF_LM_SESSION] = b->session;
    b->c[PF_LM_SEQ] = (int64_t)m->seq;
    b->c[PF_LM_T_US] = m->t_us;
    b->c[PF_LM_RECV_US] = recv_us;
    b->c[PF_LM_FLAGS] = flags;
    b->c[PF_LM_GAP] = gap;
    b->c[PF_LM_LEAD_OFF] = m->lead_off;
    int nl = m->n_leads, ns = m->n_samples;
    pf_msg *w = NULL;
    float *x;
    struct shard *h = NULL;
    if (L->batch > 1) {
        h = &L->sh[b->bed % (uint32_t)L->shards];
        if (!pf_livebatch_count(h->lb)) h->first_ns = now;
        x = pf_livebatch_add(h->lb, b->c, b->base + (int64_t)m->sample, m->seq, m->fs, nl, ns, b->names);
        if (!x) return PF_ENOMEM;
        h->lbeds[pf_livebatch_count(h->lb) - 1] = b;
    } else {
        char id[32];
        snprintf(id, sizeof id, "bed-%u", b->bed);
        w = pf_msg_window_create(id, m->seq, b->base + (int64_t)m->sample, m->fs, (uint32_t)nl, (uint32_t)ns);
        if (!w) return pf_err(PF_ENOMEM, "live: out of memory");
        x = pf_msg_samples(w);
    }
    float inv = 1.0f / m->gain;
    /* ZeroMQ may hand over the frame at any address: copy to aligned memory before reading int16 */
    int16_t *raw = L->raw;
    memcpy(raw, m->samples, sizeof(int16_t) * (size_t)nl * ns);
    for (int l = 0; l < nl; l++) { /* [samples][leads] -> [leads][samples], written in order */
        float *xl = x + (size_t)l * ns;
        for (int t = 0; t < ns; t++) {
            int16_t v = raw[t * nl + l];
            xl[t] = v == PF_BS_INVALID ? NAN : (float)v * inv;
        }
    }
    if (!w) return pf_livebatch_count(h->lb) >= L->batch ? flush_shard(L, n, (int)(h - L->sh)) : PF_OK;
    uint32_t dims[1] = {PF_LM_N};
    int rc = pf_msg_add(w, PF_SEC_LIVE_META, PF_DT_I64, 1, dims, b->c);
    if (!rc && b->names[0]) {
        uint32_t nd[1] = {(uint32_t)strlen(b->names)};
        rc = pf_msg_add(w, PF_SEC_LEAD_NAMES, PF_DT_U8, 1, nd, b->names);
    }
    if (rc) { pf_msg_destroy(w); return rc; }
    uint64_t before = pf_node_dropped(n);
    rc = pf_node_send_keyed(n, "out", w, b->bed);
    if (pf_node_dropped(n) > before) b->c[PF_LM_DROPS]++;
    return rc;
}

static int handle(live_t *L, pf_node *n, const unsigned char *buf, size_t len, uint64_t now)
{
    pf_bs_msg m;
    int64_t recv_us = wall_us();
    int rc = pf_bs_decode(buf, len, &m);
    if (rc) {
        /* Attribute it to a bed when the header names one we know. */
        bed_t *b = NULL;
        if (len >= 16 && buf[0] == 'P' && buf[1] == 'F' && buf[2] == 'B' && buf[3] == 'S') {
            uint32_t bed = (uint32_t)(buf[8] | buf[9] << 8 | buf[10] << 16 | (uint32_t)buf[11] << 24);
            b = bed_find(L, bed, 0);
        }
        pf_node_count(n, "bad", 1);
        if (b) { b->c[PF_LM_BAD]++; bed_log(b, pf_errmsg()); }
        else if (++L->garbage <= 10 || L->garbage % 1000 == 0)
            pf_warn("dropped undecodable message #%llu on the bed port: %s", (unsigned long long)L->garbage, pf_errmsg());
        return PF_OK;
    }
    bed_t *b = bed_find(L, m.bed, 1);
    if (!b) {
        if (++L->garbage <= 10 || L->garbage % 1000 == 0)
            pf_warn("bed %u refused: already tracking max_beds = %zu beds", m.bed, L->max_beds);
        pf_node_count(n, "bad", 1);
        return PF_OK;
    }
    if (!b->joined && !b->session) pf_node_count(n, "beds", 1);
    if (m.session != b->session) new_session(L, n, b, &m, now);
    if (!b->active) { b->active = 1; L->n_active++; }
    b->last_ns = now;
    if (!bed_seq(L, n, b, &m)) return PF_OK;
    switch (m.type) {
    case PF_BS_DATA: return handle_data(L, n, b, &m, now, recv_us);
    case PF_BS_INFO:
        memcpy(b->names, m.info, m.info_len);
        b->names[m.info_len] = 0;
        return PF_OK;
    case PF_BS_BYE:
        pf_info("bed %u left (session %u)", b->bed, b->session);
        b->active = 0;
        L->n_active--;
        return PF_OK;
    default: return PF_OK; /* heartbeat: liveness and sequence only */
    }
}

static void scan_silent(live_t *L, pf_node *n, uint64_t now)
{
    for (size_t i = 0; i < L->n_beds; i++) {
        bed_t *b = &L->beds[i];
        if (!b->used || !b->active || now - b->last_ns < (uint64_t)(L->silent_s * 1e9)) continue;
        b->active = 0;
        L->n_active--;
        pf_node_count(n, "silent", 1);
        pf_warn("bed %u: silent for %.1f s (no data or heartbeat): marked dropped out", b->bed, (double)(now - b->last_ns) / 1e9);
    }
}

static int live_produce(pf_node *n, void *state)
{
    live_t *L = state;
    zmq_pollitem_t it = {L->sock, 0, ZMQ_POLLIN, 0};
    long wait_ms = 20;
    for (int s = 0; L->sh && s < L->shards; s++) { /* wake in time to send a held batch */
        if (!pf_livebatch_count(L->sh[s].lb)) continue;
        uint64_t t = pf_now_ns(), due = L->sh[s].first_ns + L->hold_ns;
        long w = due > t ? (long)((due - t + 999999) / 1000000) : 0;
        if (w < wait_ms) wait_ms = w;
    }
    int r = zmq_poll(&it, 1, wait_ms);
    if (r < 0 && zmq_errno() != EINTR) return pf_err(PF_EIO, "live: poll: %s", zmq_strerror(zmq_errno()));
    uint64_t now = pf_now_ns();
    /* Drain a bounded burst of frames, then let the runtime tick its status. A message
     * may carry several frames (a gateway's beds, docs/bedside.md): each frame is one
     * bedside message, and a started message is read to its end. */
    int more = 0;
    for (int k = 0; r > 0 && (k < 4096 || more); k++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, L->sock, more ? 0 : ZMQ_DONTWAIT) < 0) { zmq_msg_close(&msg); break; }
        more = zmq_msg_more(&msg);
        int rc = handle(L, n, zmq_msg_data(&msg), zmq_msg_size(&msg), now);
        zmq_msg_close(&msg);
        if (rc) return rc;
    }
    /* a burst's chunks leave together, held at most batch_ms for later ones to join them */
    int frc = flush_batches(L, n, 0);
    if (frc) return frc;
    if (now - L->last_scan_ns > 500000000ull) { scan_silent(L, n, now); L->last_scan_ns = now; }
    if (L->n_active > 0 || !L->n_beds) L->idle_since_ns = now;
    if (L->exit_idle_s > 0 && L->n_beds && now - L->idle_since_ns > (uint64_t)(L->exit_idle_s * 1e9)) {
        pf_info("every bed has left for %.1f s: ending the stream (%zu beds seen)", L->exit_idle_s, L->n_beds);
        return 1; /* live_finish sends a held batch */
    }
    return 0;
}

/* The stream ends (every bed left, or the node is stopped): a held batch still leaves. */
static int live_finish(pf_node *n, void *state, int interrupted)
{
    (void)interrupted;
    return flush_batches(state, n, 1);
}

static void live_destroy(void *state)
{
    live_t *L = state;
    if (!L) return;
    if (L->sock) zmq_close(L->sock);
    if (L->ctx) zmq_ctx_term(L->ctx);
    pf_bedindex_records_free(L->beds, L->max_beds, sizeof *L->beds);
    pf_bedindex_destroy(L->idx);
    free(L->raw);
    for (int s = 0; L->sh && s < L->shards; s++) { pf_livebatch_destroy(L->sh[s].lb); free(L->sh[s].lbeds); }
    free(L->sh);
    free(L);
}

const pf_kind pf_kind_live = {
    .name = "live",
    .doc = "receive many beds on one endpoint (bedside protocol), mark gaps/duplicates/reordering, forward chunks",
    .params = live_params,
    .ports = live_ports,
    .create = live_create,
    .produce = live_produce,
    .finish = live_finish,
    .destroy = live_destroy,
};
