#include "pf_node.h"

#include "pf_deliver.h"
#include "pf_error.h"
#include "pf_guard.h"
#include "pf_log.h"
#include "pf_security.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define STATUS_PERIOD_NS 500000000ull
#define POLL_MS 100
/* Duplicate detection on acked ports: keys remembered per sender, and rings
 * of dead senders kept. A duplicate arrives within a replica's credit (hwm)
 * of windows after the original, far inside these. */
#define PF_DEDUPE_RING 4096
#define PF_DEDUPE_RETIRED 16

struct out_edge {
    void *socks[PF_MAX_PEERS];
    uint64_t sent[PF_MAX_PEERS];
    int dead[PF_MAX_PEERS];   /* the launcher said this replica died: send it nothing more */
    int cursor;
    /* acknowledged delivery (pf_deliver.h) */
    int restarting[PF_MAX_PEERS];     /* dead, but the launcher starts it again: wait for it */
    int eos_sent[PF_MAX_PEERS], eos_acked[PF_MAX_PEERS];
    pf_pending_list pend[PF_MAX_PEERS]; /* acked edges: sent to that replica, not yet acknowledged */
    pf_pending_list resend;           /* a dead replica's windows, for the next replica with credit */
    uint64_t seq;                     /* last sequence number sent on this edge */
};

/* What one expected upstream instance sent on an input port. */
struct in_sender {
    uint64_t got;       /* data messages received from it */
    uint64_t announced; /* the count its end-of-stream announced */
    int eos, dead;      /* its end-of-stream arrived / it died (launcher's notice) */
    int restarting;     /* dead, and the launcher restarts it: its end-of-stream will come */
    uint32_t inc;       /* its incarnation we take messages from (pf_deliver.h) */
    int back_seen;      /* the launcher said it restarted; nothing came from the new incarnation yet */
    uint64_t ackq[PF_ACK_BATCH]; /* settled windows not yet acknowledged to it (one message per batch) */
    int nack;
};

struct pf_node {
    const pf_instance *inst;
    const pf_kind *kind;
    void *state;
    void *ctx;
    pf_security *sec;
    void *in_socks[PF_MAX_PORTS];
    int eos_seen[PF_MAX_PORTS];
    uint64_t eos_counted[PF_MAX_PORTS]; /* sum of the counts the EOS messages announced */
    uint64_t got[PF_MAX_PORTS];
    int upstream_interrupted;
    int downstream_lost;      /* a downstream replica died: what it held is gone */
    int phase;                /* PF_STATE_RUNNING, or PF_STATE_ENDING once end-of-stream is sent */
    int deaths_seen;          /* death notices applied so far */
    struct in_sender *snd[PF_MAX_PORTS];
    struct out_edge out[PF_MAX_EDGES];
    pf_dedupe *dd[PF_MAX_PORTS]; /* acked input ports: recently received windows */
    pf_token *cur_token;         /* the acked input process() is working on */
    void *status_sock;
    uint64_t last_status_ns, start_ns;
    uint64_t cnt[PF_CNT_N];
    void *grave[16];          /* sockets of dead peers, closed GRAVE_NS later (peer_died) */
    uint64_t grave_at[16];
    int n_grave;
    int n_custom;
    char custom_name[PF_MAX_CUSTOM_COUNTERS][32];
    uint64_t custom[PF_MAX_CUSTOM_COUNTERS];
    uint64_t malformed_logged;
    uint64_t rejected_logged;
    int input_done;           /* process() returned PF_DONE */
    /* While process() computes for long (a training step), a helper thread
     * keeps the launcher informed with the last status, marked busy, on its
     * own socket: otherwise the node would look stalled. */
    pthread_t busy_thread;
    int busy_started;
    void *busy_sock;
    atomic_ullong busy_since;   /* pf_now_ns() at process() entry, 0 outside */
    atomic_int busy_quit;
    pthread_mutex_t snap_lock;
    uint64_t snap_vals[PF_CNT_N + PF_MAX_CUSTOM_COUNTERS];
    char snap_names[64 + PF_MAX_CUSTOM_COUNTERS * 33];
    uint32_t snap_nv, snap_nn;
};

static volatile sig_atomic_t g_stop;
static pid_t g_parent;
#define GRAVE_NS 200000000ull
/* Death notices (ranks), appended by the signal handler, applied by the loops. */
#define MAX_DEATHS 256
static volatile sig_atomic_t g_dead_rank[MAX_DEATHS];
static volatile sig_atomic_t g_n_dead;
static uint32_t g_incarnation; /* restarts of this instance before it (launcher's PF_INCARNATION) */

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (sig == PF_SIG_DIED) {
        /* only the launcher (our parent) speaks for the graph */
        if (si->si_code == SI_QUEUE && si->si_pid == g_parent) { /* a ring: the loops keep up with it */
            g_dead_rank[g_n_dead % MAX_DEATHS] = si->si_value.sival_int;
            g_n_dead = g_n_dead + 1;
        }
        return;
    }
    /* A second signal means the user insists, unless it comes from our parent:
     * the parent-death signal arrives once per exiting launcher thread, and
     * the launcher itself escalates with SIGKILL, never with a second SIGTERM. */
    if (g_stop && !(g_parent > 1 && si && si->si_pid == g_parent)) _exit(130);
    g_stop = 1;
}

void pf_node_route_id(char *buf, size_t cap, const char *node, int replica, const char *port)
{
    snprintf(buf, cap, "%s.%d/%s", node, replica, port);
}

uint64_t pf_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const pf_params *pf_node_params(const pf_node *n) { return n->inst->params; }
const char *pf_node_name(const pf_node *n) { return n->inst->node; }
const char *pf_node_status_endpoint(const pf_node *n) { return n->inst->status_endpoint; }
int pf_node_replica(const pf_node *n) { return n->inst->replica; }
int pf_node_replicas(const pf_node *n) { return n->inst->replicas; }
uint64_t pf_node_seed(const pf_node *n) { return n->inst->seed; }
const char *pf_node_graph_name(const pf_node *n) { return n->inst->graph_name; }
int pf_node_stopping(const pf_node *n) { (void)n; return g_stop != 0; }
const char *pf_node_resume_dir(const pf_node *n) { return n->inst->resume_dir; }

uint64_t pf_node_dropped(const pf_node *n) { return n->cnt[PF_CNT_DROPPED]; }

void pf_node_count(pf_node *n, const char *counter, uint64_t delta)
{
    for (int i = 0; i < n->n_custom; i++)
        if (!strcmp(n->custom_name[i], counter)) { n->custom[i] += delta; return; }
    if (n->n_custom == PF_MAX_CUSTOM_COUNTERS) return;
    snprintf(n->custom_name[n->n_custom], sizeof n->custom_name[0], "%s", counter);
    n->custom[n->n_custom++] = delta;
}

void pf_node_set_counter(pf_node *n, const char *counter, uint64_t value)
{
    for (int i = 0; i < n->n_custom; i++)
        if (!strcmp(n->custom_name[i], counter)) { n->custom[i] = value; return; }
    pf_node_count(n, counter, value);
}

int pf_node_input_connected(const pf_node *n, const char *port)
{
    for (int i = 0; i < n->inst->n_in; i++)
        if (!strcmp(n->inst->in[i].port, port)) return 1;
    return 0;
}

int pf_node_reject(pf_node *n, const char *reason, const pf_msg *m, const char *fmt, ...)
{
    pf_node_count(n, reason, 1);
    n->cnt[PF_CNT_DROPPED]++;
    n->rejected_logged++;
    /* first few in full, then one in a thousand: a hostile stream can't flood the log */
    if (n->rejected_logged <= 10 || n->rejected_logged % 1000 == 0) {
        char why[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
        pf_warn("dropped window '%s' #%llu (%s, %llu so far): %s", m ? m->id : "?", m ? (unsigned long long)m->window_index : 0ull,
                reason, (unsigned long long)n->rejected_logged, why);
    }
    return PF_OK;
}

/* --- status to the launcher ---------------------------------------------- */

/* Never blocks: the launcher may be gone; linger flushes the final one. */
static void send_status(pf_node *n, int state)
{
    if (!n->status_sock) return;
    uint64_t now = pf_now_ns();
    n->last_status_ns = now;
    n->cnt[PF_CNT_UPTIME_NS] = now - n->start_ns;
    n->cnt[PF_CNT_STATE] = (uint64_t)state;
    pf_msg *m = pf_msg_create(PF_MSG_CONTROL, "status");
    if (!m) return;
    m->count = (uint64_t)n->inst->replica;
    uint64_t vals[PF_CNT_N + PF_MAX_CUSTOM_COUNTERS];
    memcpy(vals, n->cnt, sizeof n->cnt);
    char names[64 + PF_MAX_CUSTOM_COUNTERS * 33];
    int len = snprintf(names, sizeof names, "%s\n", n->inst->node);
    for (int i = 0; i < n->n_custom; i++) {
        vals[PF_CNT_N + i] = n->custom[i];
        len += snprintf(names + len, sizeof names - (size_t)len, "%s%s", i ? "," : "", n->custom_name[i]);
    }
    uint32_t dn = (uint32_t)len, dv = (uint32_t)(PF_CNT_N + n->n_custom);
    if (n->busy_started) { /* what the busy thread repeats while process() computes */
        pthread_mutex_lock(&n->snap_lock);
        memcpy(n->snap_vals, vals, sizeof(uint64_t) * dv);
        memcpy(n->snap_names, names, (size_t)len);
        n->snap_nv = dv;
        n->snap_nn = dn;
        pthread_mutex_unlock(&n->snap_lock);
    }
    if (pf_msg_add(m, PF_SEC_NAME, PF_DT_U8, 1, &dn, names) || pf_msg_add(m, PF_SEC_COUNTERS, PF_DT_U64, 1, &dv, vals)) {
        pf_msg_destroy(m);
        return;
    }
    if (pf_wire_send(n->status_sock, m, ZMQ_DONTWAIT) == PF_EAGAIN) pf_msg_destroy(m);
}

static void *busy_loop(void *arg)
{
    pf_node *n = arg;
    while (!atomic_load(&n->busy_quit)) {
        struct timespec ts = {0, 250000000};
        nanosleep(&ts, NULL);
        uint64_t since = atomic_load(&n->busy_since), now = pf_now_ns();
        if (!since || now - since < 1000000000ull) continue;
        pthread_mutex_lock(&n->snap_lock);
        pf_msg *m = n->snap_nv ? pf_msg_create(PF_MSG_CONTROL, "status") : NULL;
        if (m) {
            m->count = (uint64_t)n->inst->replica;
            n->snap_vals[PF_CNT_STATE] = PF_STATE_BUSY;
            n->snap_vals[PF_CNT_UPTIME_NS] = now - n->start_ns;
            if (pf_msg_add(m, PF_SEC_NAME, PF_DT_U8, 1, &n->snap_nn, n->snap_names) ||
                pf_msg_add(m, PF_SEC_COUNTERS, PF_DT_U64, 1, &n->snap_nv, n->snap_vals)) {
                pf_msg_destroy(m);
                m = NULL;
            }
        }
        pthread_mutex_unlock(&n->snap_lock);
        if (m && pf_wire_send(n->busy_sock, m, ZMQ_DONTWAIT) == PF_EAGAIN) pf_msg_destroy(m);
    }
    return NULL;
}

static void reap_graves(pf_node *n, int all);

static void status_tick(pf_node *n)
{
    if (n->n_grave) reap_graves(n, 0);
    pf_security_tick(n->sec);
    if (n->status_sock && pf_now_ns() - n->last_status_ns >= STATUS_PERIOD_NS) send_status(n, n->phase);
}

void pf_node_heartbeat(pf_node *n) { status_tick(n); }

/* --- death notices ------------------------------------------------------------ */

static int open_peer(pf_node *n, int e, int p);

/* A replica on an acked edge died: what it held goes to the others (or to
 * its next incarnation), over a fresh socket, so nothing queued for the dead
 * one can reach its successor twice. */
static void reap_graves(pf_node *n, int all)
{
    int k = 0;
    uint64_t now = pf_now_ns();
    for (int i = 0; i < n->n_grave; i++) {
        if (all || now - n->grave_at[i] > GRAVE_NS) zmq_close(n->grave[i]);
        else { n->grave[k] = n->grave[i]; n->grave_at[k++] = n->grave_at[i]; }
    }
    n->n_grave = k;
}

static void peer_died(pf_node *n, int e, int p)
{
    struct out_edge *oe = &n->out[e];
    pf_pending x;
    int moved = 0;
    while (pf_pending_pop_front(&oe->pend[p], &x)) {
        if (pf_pending_push(&oe->resend, x)) { pf_msg_destroy(x.copy); continue; }
        moved++;
    }
    int zero = 0;
    zmq_setsockopt(oe->socks[p], ZMQ_LINGER, &zero, sizeof zero);
    /* closed a moment later (reap_graves): closing it while libzmq's I/O thread still
     * handles the dead peer's connection reset can abort in libzmq 4.3.4
     * (session_base.cpp:260, a half-sent multipart message; seen in the soak). Not
     * read or written meanwhile; its successor binds after the restart back-off (>= 0.5 s). */
    if (n->n_grave == (int)(sizeof n->grave / sizeof *n->grave)) reap_graves(n, 1);
    n->grave[n->n_grave] = oe->socks[p];
    n->grave_at[n->n_grave++] = pf_now_ns();
    oe->socks[p] = NULL;
    if (open_peer(n, e, p)) pf_warn("edge to %s: reconnecting to replica %d: %s", n->inst->out[e].to, p, pf_errmsg());
    pf_warn("edge to %s: replica %d died: %d unacknowledged window(s) go to the other replicas", n->inst->out[e].to, p, moved);
}

static void apply_deaths(pf_node *n)
{
    while (n->deaths_seen < g_n_dead) {
        int v = g_dead_rank[n->deaths_seen++ % MAX_DEATHS];
        int rank = v & 0xffffff, what = (v >> 24) & 0x7f;
        for (int i = 0; i < n->inst->n_in; i++)
            for (int k = 0; k < n->inst->in[i].eos_expected; k++) {
                struct in_sender *sd = &n->snd[i][k];
                const pf_in_plan *ip = &n->inst->in[i];
                if (ip->senders[k].rank != rank || what == PF_DEATH_DONE) continue;
                if (what == PF_DEATH_BACK) {
                    if (!sd->restarting) continue;
                    if (sd->eos) { /* it had ended, then died: its new incarnation ends again */
                        sd->eos = 0;
                        n->eos_seen[i]--;
                        n->eos_counted[i] -= sd->announced;
                        sd->announced = 0;
                    }
                    sd->dead = sd->restarting = 0;
                    sd->back_seen = 1; /* what still comes from its previous incarnation is dropped */
                    sd->got = 0; /* a new connection: its end-of-stream counts from here */
                    pf_info("port '%s': upstream %s restarted", ip->port, ip->senders[k].id);
                    continue;
                }
                if (sd->eos) { sd->restarting = what == PF_DEATH_RESTARTING; continue; }
                if (sd->dead && !(sd->restarting && what == PF_DEATH_FINAL)) continue;
                if (!sd->dead) {
                    pf_dedupe_retire(n->dd[i], k);
                    pf_warn("port '%s': upstream %s died%s (%llu messages arrived from it)", ip->port, ip->senders[k].id,
                            what == PF_DEATH_RESTARTING ? ", restarting: waiting for its new incarnation"
                                                        : ": not waiting for its end-of-stream",
                            (unsigned long long)sd->got);
                }
                sd->dead = 1;
                sd->nack = 0; /* acks for a dead incarnation: its windows come again anyway */
                sd->restarting = what == PF_DEATH_RESTARTING;
                if (sd->restarting) continue;
                n->eos_seen[i]++; /* its end-of-stream will never come */
                /* on an acked port a protected node's unacknowledged windows come again through another replica */
                if (!ip->acked || !ip->senders[k].redeliverable) n->upstream_interrupted = 1;
            }
        for (int e = 0; e < n->inst->n_out; e++)
            for (int p = 0; p < n->inst->out[e].n_peers; p++) {
                struct out_edge *oe = &n->out[e];
                if (n->inst->out[e].peer_rank[p] != rank) continue;
                if (what == PF_DEATH_DONE) { /* it ended after our end-of-stream: it acknowledges nothing more */
                    if (oe->pend[p].n && n->inst->out[e].acked) peer_died(n, e, p);
                    oe->dead[p] = 1;
                    oe->restarting[p] = 0;
                    continue;
                }
                if (what == PF_DEATH_BACK) {
                    if (!oe->dead[p] || !oe->restarting[p]) continue;
                    oe->dead[p] = oe->restarting[p] = 0;
                    oe->sent[p] = 0;
                    oe->eos_sent[p] = oe->eos_acked[p] = 0;
                    pf_info("edge to %s: replica %d restarted", n->inst->out[e].to, p);
                    continue;
                }
                if (oe->dead[p] && !(oe->restarting[p] && what == PF_DEATH_FINAL)) continue;
                if (!oe->dead[p]) {
                    if (n->inst->out[e].acked) peer_died(n, e, p);
                    if (n->inst->out[e].acked && !n->inst->out[e].redeliverable) n->downstream_lost = 1;
                    if (!n->inst->out[e].acked) {
                        n->downstream_lost = 1;
                        pf_warn("edge to %s: replica %d died: sending it nothing more", n->inst->out[e].to, p);
                    }
                }
                oe->dead[p] = 1;
                oe->restarting[p] = what == PF_DEATH_RESTARTING;
            }
    }
}

/* --- acknowledged delivery ----------------------------------------------------- */

/* An input is acknowledged upstream once process() returned and everything
 * it caused downstream was acknowledged: processed and forwarded. */
static void flush_sender_acks(pf_node *n, int port, int k)
{
    struct in_sender *sd = &n->snd[port][k];
    if (sd->nack && !sd->dead) pf_deliver_acks(n->in_socks[port], n->inst->in[port].senders[k].id, sd->ackq, sd->nack);
    sd->nack = 0;
}

static void queue_ack(pf_node *n, int port, int k, uint64_t seq)
{
    struct in_sender *sd = &n->snd[port][k];
    if (sd->dead) return;
    sd->ackq[sd->nack++] = seq;
    if (sd->nack == PF_ACK_BATCH) flush_sender_acks(n, port, k);
}

/* Before every wait: what was settled goes upstream now (credit). */
static void flush_acks(pf_node *n)
{
    for (int i = 0; i < n->inst->n_in; i++)
        if (n->inst->in[i].acked && n->snd[i]) /* NULL: setup failed before this port */
            for (int k = 0; k < n->inst->in[i].eos_expected; k++)
                if (n->snd[i][k].nack) flush_sender_acks(n, i, k);
}

static void token_settle(pf_node *n, pf_token *t)
{
    if (!t->done || t->pending > 0) return;
    queue_ack(n, t->port, t->sender, t->seq);
    free(t);
}

static void release(pf_node *n, pf_pending *x)
{
    pf_msg_destroy(x->copy);
    if (x->parent) {
        x->parent->pending--;
        token_settle(n, x->parent);
    }
}

static size_t msg_bytes(const pf_msg *m);

/* Non-blocking: send m (stamped) to the next live replica of acked edge e with
 * credit, keeping `copy` until it is acknowledged. 1 sent, 0 nobody can take
 * it (m untouched), -1 error in *err (m consumed, copy still the caller's). */
static int try_send_acked(pf_node *n, int e, pf_msg *m, pf_msg *copy, pf_token *parent, int *err)
{
    const pf_out_plan *op = &n->inst->out[e];
    struct out_edge *oe = &n->out[e];
    int credit = op->hwm > 0 ? op->hwm : 32;
    size_t bytes = msg_bytes(m);
    *err = PF_OK;
    for (int k = 0; k < op->n_peers; k++) {
        int p = (oe->cursor + k) % op->n_peers;
        if (oe->dead[p] || oe->pend[p].n >= credit) continue;
        uint64_t seq = oe->seq + 1;
        if ((*err = pf_deliver_stamp(m, seq))) { pf_msg_destroy(m); return -1; }
        int rc = pf_wire_send(oe->socks[p], m, ZMQ_DONTWAIT);
        if (rc == PF_EAGAIN) { pf_msg_remove(m, PF_SEC_DELIVERY); continue; }
        if (rc) { *err = rc; return -1; }
        oe->seq = seq;
        if ((*err = pf_pending_push(&oe->pend[p], (pf_pending){seq, copy, parent}))) return -1;
        if (parent) parent->pending++;
        oe->sent[p]++;
        oe->cursor = p + 1;
        n->cnt[PF_CNT_MSGS_OUT]++;
        n->cnt[PF_CNT_BYTES_OUT] += bytes;
        return 1;
    }
    return 0;
}

/* Redeliver what dead replicas held, as far as credit allows. */
static int flush_resend(pf_node *n, int e)
{
    struct out_edge *oe = &n->out[e];
    while (oe->resend.n) {
        pf_pending *x = &oe->resend.v[0];
        pf_msg *m = pf_msg_clone(x->copy);
        if (!m) return pf_err(PF_ENOMEM, "redelivering a window: out of memory");
        int err, sent = try_send_acked(n, e, m, x->copy, x->parent, &err);
        if (sent < 0) return err;
        if (!sent) { pf_msg_destroy(m); return PF_OK; }
        pf_pending gone;
        pf_pending_pop_front(&oe->resend, &gone); /* its copy lives on in the new replica's list */
        n->cnt[PF_CNT_REDELIVERED]++;
    }
    return PF_OK;
}

/* Read acknowledgements (and end-of-stream acks) from every data edge's
 * replicas, never blocking; then redeliver what can be. */
static int pump_acks(pf_node *n)
{
    for (int e = 0; e < n->inst->n_out; e++) {
        const pf_out_plan *op = &n->inst->out[e];
        struct out_edge *oe = &n->out[e];
        if (op->feedback) continue;
        for (int p = 0; p < op->n_peers; p++) {
            pf_msg *m = NULL;
            int rc;
            while (oe->socks[p] && (rc = pf_wire_recv(oe->socks[p], &m, ZMQ_DONTWAIT, NULL)) != PF_EAGAIN) {
                if (rc != PF_OK && rc != PF_EFORMAT) break; /* interrupted, or the socket is closing */
                if (m && m->kind == PF_MSG_CONTROL && !strcmp(m->id, "eos-ack")) oe->eos_acked[p] = 1;
                else if (m && m->kind == PF_MSG_CONTROL && !strcmp(m->id, "ack") && op->acked) {
                    pf_pending x;
                    if (pf_pending_take(&oe->pend[p], m->count, &x)) release(n, &x);
                }
                else if (m && m->kind == PF_MSG_CONTROL && !strcmp(m->id, "acks") && op->acked) {
                    const pf_section *a = pf_msg_find_const(m, PF_SEC_ACKS);
                    pf_pending x;
                    if (a && a->dtype == PF_DT_U64 && a->ndim == 1)
                        for (size_t i = 0; i < a->bytes / sizeof(uint64_t); i++) {
                            uint64_t seq;
                            memcpy(&seq, (const char *)a->data + i * sizeof seq, sizeof seq);
                            if (pf_pending_take(&oe->pend[p], seq, &x)) release(n, &x);
                        }
                }
                pf_msg_destroy(m);
                m = NULL;
            }
        }
        if (op->acked && oe->resend.n) {
            int rc = flush_resend(n, e);
            if (rc) return rc;
        }
    }
    return PF_OK;
}

/* Poll items for every data edge's replica sockets (acks arrive there). */
static int ack_items(pf_node *n, zmq_pollitem_t *items, int cap)
{
    int ni = 0;
    for (int e = 0; e < n->inst->n_out; e++)
        for (int p = 0; p < n->inst->out[e].n_peers && ni < cap; p++)
            if (!n->inst->out[e].feedback && n->inst->out[e].acked && n->out[e].socks[p])
                items[ni++] = (zmq_pollitem_t){n->out[e].socks[p], 0, ZMQ_POLLIN, 0};
    return ni;
}

static int any_restarting(const pf_node *n, int e)
{
    for (int p = 0; p < n->inst->out[e].n_peers; p++)
        if (n->out[e].dead[p] && n->out[e].restarting[p]) return 1;
    return 0;
}

/* A live replica of acked edge e has room for a window now. */
static int has_credit(const pf_node *n, int e)
{
    const pf_out_plan *op = &n->inst->out[e];
    int credit = op->hwm > 0 ? op->hwm : 32;
    for (int p = 0; p < op->n_peers; p++)
        if (!n->out[e].dead[p] && n->out[e].pend[p].n < credit) return 1;
    return 0;
}

/* Send on an acked edge: blocks while no replica has credit (backpressure). */
static int send_acked(pf_node *n, int e, pf_msg *m)
{
    const pf_out_plan *op = &n->inst->out[e];
    struct out_edge *oe = &n->out[e];
    pf_token *parent = n->cur_token;
    pf_msg *copy = pf_msg_clone(m);
    if (!copy) { pf_msg_destroy(m); return pf_err(PF_ENOMEM, "keeping a window until acknowledged: out of memory"); }
    uint64_t t0 = pf_now_ns(), stop_seen = 0;
    for (int round = 0;; round++) {
        apply_deaths(n);
        /* acks are read when a replica is short of credit (not per window: each read is a
         * trip through ZeroMQ's command queue); whoever waits reads them before it sleeps */
        int rc = round || oe->resend.n || !has_credit(n, e) ? pump_acks(n) : PF_OK;
        if (rc) { pf_msg_destroy(m); pf_msg_destroy(copy); return rc; }
        int err = PF_OK, sent = oe->resend.n ? 0 : try_send_acked(n, e, m, copy, parent, &err); /* redeliveries go first */
        if (sent < 0) { pf_msg_destroy(copy); return err; }
        if (sent) {
            n->cnt[PF_CNT_BLOCKED_NS] += pf_now_ns() - t0;
            return PF_OK;
        }
        int alive = 0;
        for (int p = 0; p < op->n_peers; p++) alive += !oe->dead[p];
        if (!alive && !any_restarting(n, e)) { /* every replica of the edge died for good: the graph is being stopped */
            pf_msg_destroy(m);
            pf_msg_destroy(copy);
            n->cnt[PF_CNT_DROPPED]++;
            return PF_OK;
        }
        zmq_pollitem_t items[PF_MAX_EDGES * 4];
        int ni = ack_items(n, items, (int)(sizeof items / sizeof *items));
        flush_acks(n);
        if (zmq_poll(items, ni, POLL_MS) < 0 && zmq_errno() != EINTR)
            return pf_err(PF_EIO, "poll on edge to %s: %s", op->to, zmq_strerror(zmq_errno()));
        uint64_t now = pf_now_ns();
        n->cnt[PF_CNT_BLOCKED_NS] += now - t0;
        t0 = now;
        status_tick(n);
        if (g_stop && !stop_seen) stop_seen = now;
        if (stop_seen && now - stop_seen > (uint64_t)(n->inst->drain_timeout * 1e9)) {
            pf_msg_destroy(m);
            pf_msg_destroy(copy);
            return pf_err(PF_EINTR, "edge to %s: downstream acknowledged nothing for %.1f s after the stop request", op->to, n->inst->drain_timeout);
        }
    }
}

/* --- sending --------------------------------------------------------------- */

static size_t msg_bytes(const pf_msg *m)
{
    size_t b = pf_wire_header_size(m);
    for (int i = 0; i < m->n_sections; i++) b += m->sec[i].bytes;
    return b;
}

/* key < 0: to the next replica that takes it (load balanced); key >= 0: to replica
 * key mod replicas (the next live one if that one died), so a key's messages all
 * meet the same replica and its state (pf_node_send_keyed). */
static int send_edge(pf_node *n, int e, pf_msg *m, int force_block, int64_t key)
{
    const pf_out_plan *op = &n->inst->out[e];
    struct out_edge *oe = &n->out[e];
    if (op->acked) return send_acked(n, e, m); /* balanced by credit, key or not: a dead replica's windows move on */
    size_t bytes = msg_bytes(m);
    int np = op->n_peers;
    apply_deaths(n);
    int kp = -1; /* the keyed replica, or -1 */
    for (int k = 0; key >= 0 && k < np && kp < 0; k++)
        if (!oe->dead[(key % np + k) % np]) kp = (int)((key % np + k) % np);
    for (int k = 0; k < np; k++) {
        int p = kp >= 0 ? kp : (oe->cursor + k) % np;
        if (kp >= 0 && k) break;
        if (oe->dead[p]) continue;
        int rc = pf_wire_send(oe->socks[p], m, ZMQ_DONTWAIT);
        if (rc == PF_OK) {
            oe->sent[p]++;
            oe->cursor = p + 1;
            n->cnt[PF_CNT_MSGS_OUT]++;
            n->cnt[PF_CNT_BYTES_OUT] += bytes;
            return PF_OK;
        }
        if (rc != PF_EAGAIN) return rc;
    }
    if (op->policy == PF_POLICY_DROP && !force_block) {
        pf_msg_destroy(m);
        n->cnt[PF_CNT_DROPPED]++;
        return PF_OK;
    }
    /* Every peer is at its high-water mark: wait until one can take it. */
    uint64_t t0 = pf_now_ns(), stop_seen = 0;
    zmq_pollitem_t items[PF_MAX_PEERS];
    for (;;) {
        apply_deaths(n);
        int alive = 0;
        for (int p = 0; p < np; p++) {
            int want = !oe->dead[p] && (kp < 0 || p == kp || oe->dead[kp]);
            items[p] = (zmq_pollitem_t){oe->socks[p], 0, want ? ZMQ_POLLOUT : 0, 0};
            alive += !oe->dead[p];
        }
        if (!alive) { /* every replica of the edge died: the graph is being stopped */
            pf_msg_destroy(m);
            n->cnt[PF_CNT_DROPPED]++;
            return PF_OK;
        }
        flush_acks(n);
        int r = zmq_poll(items, np, POLL_MS);
        if (r < 0 && zmq_errno() != EINTR) return pf_err(PF_EIO, "poll on edge to %s: %s", op->to, zmq_strerror(zmq_errno()));
        for (int p = 0; r > 0 && p < np; p++) {
            if (!(items[p].revents & ZMQ_POLLOUT) || !items[p].events) continue;
            int rc = pf_wire_send(oe->socks[p], m, ZMQ_DONTWAIT);
            if (rc == PF_OK) {
                oe->sent[p]++;
                oe->cursor = p + 1;
                n->cnt[PF_CNT_MSGS_OUT]++;
                n->cnt[PF_CNT_BYTES_OUT] += bytes;
                n->cnt[PF_CNT_BLOCKED_NS] += pf_now_ns() - t0;
                return PF_OK;
            }
            if (rc != PF_EAGAIN) return rc;
        }
        uint64_t now = pf_now_ns();
        n->cnt[PF_CNT_BLOCKED_NS] += now - t0;
        t0 = now;
        status_tick(n);
        /* Stopping and downstream takes nothing: it is gone or stuck. */
        if (g_stop && !stop_seen) stop_seen = now;
        if (stop_seen && now - stop_seen > (uint64_t)(n->inst->drain_timeout * 1e9)) {
            pf_msg_destroy(m);
            return pf_err(PF_EINTR, "edge to %s: downstream took nothing for %.1f s after the stop request", op->to, n->inst->drain_timeout);
        }
    }
}

static int send_port(pf_node *n, const char *port, pf_msg *m, int64_t key)
{
    int edges[PF_MAX_EDGES], ne = 0;
    for (int e = 0; e < n->inst->n_out; e++)
        if (!strcmp(n->inst->out[e].port, port)) edges[ne++] = e;
    if (ne == 0) {
        int known = 0;
        for (const pf_port_spec *ps = n->kind->ports; ps && ps->name; ps++)
            if (ps->dir == PF_PORT_OUT && !strcmp(ps->name, port)) known = 1;
        pf_msg_destroy(m);
        /* An optional port left unconnected: nobody asked for these messages. */
        return known ? PF_OK : pf_err(PF_EINVAL, "node kind %s has no output port '%s'", n->kind->name, port);
    }
    for (int i = 0; i < ne; i++) {
        pf_msg *c = (i + 1 < ne) ? pf_msg_clone(m) : m;
        if (!c) { pf_msg_destroy(m); return pf_err(PF_ENOMEM, "copying a message for edge %s", n->inst->out[edges[i]].to); }
        int rc = send_edge(n, edges[i], c, 0, key);
        if (rc) { if (c != m) pf_msg_destroy(m); return rc; }
    }
    return PF_OK;
}

int pf_node_send(pf_node *n, const char *port, pf_msg *m) { return send_port(n, port, m, -1); }

int pf_node_send_keyed(pf_node *n, const char *port, pf_msg *m, uint64_t key)
{
    return send_port(n, port, m, (int64_t)(key & INT64_MAX));
}

int pf_node_out_replicas(const pf_node *n, const char *port)
{
    int r = 0;
    for (int e = 0; e < n->inst->n_out; e++)
        if (!strcmp(n->inst->out[e].port, port) && n->inst->out[e].n_peers > r) r = n->inst->out[e].n_peers;
    return r;
}

/* ZeroMQ's linger does not guarantee delivery when the receiver is at its
 * high-water mark (unsent data is dropped when the socket's pipe closes), so
 * an instance exits only once every downstream instance has acknowledged its
 * end-of-stream: then nothing it sent can still be in flight. On an acked
 * edge the end-of-stream waits until every window was acknowledged (what a
 * replica dying now held is redelivered first), and a replica being
 * restarted gets it when its new incarnation is up. */
static int send_eos(pf_node *n, int interrupted)
{
    char id[PF_WIRE_MAX_ID];
    snprintf(id, sizeof id, "%s.%d", n->inst->node, n->inst->replica);
    n->phase = PF_STATE_ENDING;
    uint64_t stop_seen = 0, t0 = pf_now_ns(), next_warn = t0 + 30000000000ull;
    for (;;) {
        apply_deaths(n);
        int rc = pump_acks(n);
        if (rc) return rc;
        int waiting = 0, ni = 0;
        zmq_pollitem_t items[PF_MAX_EDGES * 4];
        int owner_e[PF_MAX_EDGES * 4], owner_p[PF_MAX_EDGES * 4];
        for (int e = 0; e < n->inst->n_out; e++) {
            const pf_out_plan *op = &n->inst->out[e];
            struct out_edge *oe = &n->out[e];
            if (op->feedback) continue; /* the stage protocol is request/response: nothing to end */
            int drained = !op->acked || !oe->resend.n;
            for (int p = 0; p < op->n_peers && drained; p++) drained = !oe->pend[p].n;
            for (int p = 0; p < op->n_peers; p++) {
                if (oe->dead[p]) { waiting += oe->restarting[p]; continue; }
                if (!drained) { waiting++; continue; }
                if (!oe->eos_sent[p]) {
                    pf_msg *m = pf_msg_create(PF_MSG_EOS, id);
                    if (!m) return PF_ENOMEM;
                    m->count = oe->sent[p]; /* lets the receiver prove nothing was lost */
                    m->epoch = g_incarnation; /* tells it from an end-of-stream of our previous life */
                    m->flags = interrupted ? PF_FLAG_INTERRUPTED : 0;
                    rc = pf_wire_send(oe->socks[p], m, ZMQ_DONTWAIT); /* never dropped: retried until it goes */
                    if (rc == PF_EAGAIN) pf_msg_destroy(m);
                    else if (rc) return pf_err_context(rc, "sending end-of-stream to %s", op->to);
                    else oe->eos_sent[p] = 1;
                }
                if (oe->eos_acked[p]) continue;
                waiting++;
                if (ni < (int)(sizeof items / sizeof *items)) {
                    items[ni] = (zmq_pollitem_t){oe->socks[p], 0, (short)(ZMQ_POLLIN | (oe->eos_sent[p] ? 0 : ZMQ_POLLOUT)), 0};
                    owner_e[ni] = e;
                    owner_p[ni++] = p;
                }
            }
        }
        if (!waiting) return PF_OK;
        if (ni) {
            flush_acks(n);
            if (zmq_poll(items, ni, POLL_MS) < 0 && zmq_errno() != EINTR)
                return pf_err(PF_EIO, "poll for end-of-stream acks: %s", zmq_strerror(zmq_errno()));
        } else {
            flush_acks(n);
            struct timespec ts = {0, POLL_MS * 1000000L}; /* waiting for a restart */
            nanosleep(&ts, NULL);
        }
        status_tick(n);
        uint64_t now = pf_now_ns();
        if (now >= next_warn) {
            /* a downstream that is still draining a backlog is fine; one that died is not:
             * say which edge we are waiting on (under the launcher a dead node stops the graph) */
            for (int i = 0; i < ni; i++)
                pf_warn("still waiting, %.0f s after end-of-stream, for %s (replica %d) to acknowledge it",
                        (double)(now - t0) / 1e9, n->inst->out[owner_e[i]].to, owner_p[i]);
            if (!ni) pf_warn("still waiting, %.0f s after end-of-stream, for a replica being restarted", (double)(now - t0) / 1e9);
            next_warn = now + 30000000000ull;
        }
        if (g_stop && !stop_seen) stop_seen = now;
        if (stop_seen && now - stop_seen > (uint64_t)(n->inst->drain_timeout * 1e9)) {
            pf_warn("%d downstream instance(s) did not acknowledge end-of-stream within %.1f s of the stop request", waiting, n->inst->drain_timeout);
            return PF_OK;
        }
    }
}

/* --- setup ----------------------------------------------------------------- */

static void mkdirs_for_ipc(const char *ep)
{
    if (strncmp(ep, "ipc://", 6)) return;
    char path[512];
    snprintf(path, sizeof path, "%s", ep + 6);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(path, 0700);
        *p = '/';
    }
}

/* Bounded receive: ZeroMQ drops a connection that sends a frame larger than
 * this before buffering it whole. */
static void set_max_frame(void *s, const pf_instance *in)
{
    int64_t max = in->max_frame_mb > 0 ? (int64_t)in->max_frame_mb << 20 : -1;
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
}

/* The DEALER socket to replica p of output edge e (again, after that replica died). */
static int open_peer(pf_node *n, int e, int p)
{
    const pf_instance *in = n->inst;
    const pf_out_plan *op = &in->out[e];
    /* DEALER, not PUSH: one peer each, and it hears the end-of-stream ack */
    void *s = zmq_socket(n->ctx, ZMQ_DEALER);
    n->out[e].socks[p] = s;
    if (!s) return pf_err(PF_EIO, "edge to %s: socket: %s", op->to, zmq_strerror(zmq_errno()));
    int hwm = op->hwm > 0 ? op->hwm : 32;
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    set_max_frame(s, in);
    /* who we are, as the receiver's plan knows us: only these ids may send there */
    char rid[PF_WIRE_MAX_ID];
    pf_node_route_id(rid, sizeof rid, in->node, in->replica, op->port);
    zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, strlen(rid));
    if (pf_security_connect(n->sec, s, op->connect[p]))
        return pf_err_context(PF_EIO, "edge to %s", op->to);
    return PF_OK;
}

static int setup(pf_node *n)
{
    const pf_instance *in = n->inst;
    n->sec = pf_security_create(in->security); /* ZAP handler up before anything binds */
    if (!n->sec) return PF_EIO;
    n->ctx = pf_security_ctx(n->sec);
    for (int i = 0; i < in->n_in; i++) {
        /* ROUTER, not PULL: it can acknowledge each upstream's end-of-stream */
        void *s = zmq_socket(n->ctx, ZMQ_ROUTER);
        n->in_socks[i] = s; /* recorded first: teardown must close it even if binding fails */
        int hwm = in->in[i].hwm > 0 ? in->in[i].hwm : 32, unlimited = 0;
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
        /* acks back are bounded by the senders' credit: never drop one at a high-water mark */
        if (in->in[i].acked) zmq_setsockopt(s, ZMQ_SNDHWM, &unlimited, sizeof unlimited);
        if (in->in[i].acked && !(n->dd[i] = pf_dedupe_create(in->in[i].eos_expected, PF_DEDUPE_RING, PF_DEDUPE_RETIRED)))
            return pf_err(PF_ENOMEM, "input port '%s': out of memory", in->in[i].port);
        set_max_frame(s, in);
        n->snd[i] = calloc((size_t)(in->in[i].eos_expected > 0 ? in->in[i].eos_expected : 1), sizeof *n->snd[i]);
        if (!n->snd[i]) return pf_err(PF_ENOMEM, "input port '%s': out of memory", in->in[i].port);
        for (int b = 0; b < in->in[i].n_bind; b++) mkdirs_for_ipc(in->in[i].bind[b]);
        if (pf_security_bind(n->sec, s, in->in[i].n_bind, in->in[i].bind))
            return pf_err_context(PF_EIO, "input port '%s'", in->in[i].port);
    }
    for (int e = 0; e < in->n_out; e++) {
        const pf_out_plan *op = &in->out[e];
        n->out[e].seq = (uint64_t)g_incarnation << PF_DELIVER_INC_SHIFT;
        for (int p = 0; p < op->n_peers; p++)
            if (open_peer(n, e, p)) return PF_EIO;
    }
    if (in->status_endpoint && *in->status_endpoint) {
        n->status_sock = zmq_socket(n->ctx, ZMQ_PUSH);
        int hwm = 64, linger = 500;
        zmq_setsockopt(n->status_sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(n->status_sock, ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_connect(n->status_sock, in->status_endpoint))
            return pf_err(PF_EIO, "status endpoint %s: %s", in->status_endpoint, zmq_strerror(zmq_errno()));
        n->busy_sock = zmq_socket(n->ctx, ZMQ_PUSH);
        zmq_setsockopt(n->busy_sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(n->busy_sock, ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_connect(n->busy_sock, in->status_endpoint))
            return pf_err(PF_EIO, "status endpoint %s: %s", in->status_endpoint, zmq_strerror(zmq_errno()));
        pthread_mutex_init(&n->snap_lock, NULL);
        /* the socket is the thread's from here on (ZeroMQ sockets are not shared) */
        n->busy_started = pthread_create(&n->busy_thread, NULL, busy_loop, n) == 0;
    }
    return PF_OK;
}

static void stop_busy(pf_node *n)
{
    if (!n->busy_started) return;
    atomic_store(&n->busy_quit, 1);
    pthread_join(n->busy_thread, NULL);
    n->busy_started = 0;
    int zero = 0;
    zmq_setsockopt(n->busy_sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(n->busy_sock);
    n->busy_sock = NULL;
    pthread_mutex_destroy(&n->snap_lock);
}

static void teardown(pf_node *n, int failed)
{
    stop_busy(n);
    /* Outputs: the acknowledged end-of-stream proved everything arrived, so
     * nothing is left to flush; an unbounded linger would only hang on a
     * peer that is gone. Inputs: a short linger lets the last ack leave. */
    int zero = 0, ack_linger = 2000;
    (void)failed;
    flush_acks(n);
    for (int i = 0; i < n->inst->n_in; i++) {
        if (!n->in_socks[i]) continue;
        zmq_setsockopt(n->in_socks[i], ZMQ_LINGER, &ack_linger, sizeof ack_linger);
        zmq_close(n->in_socks[i]);
    }
    for (int e = 0; e < n->inst->n_out; e++)
        for (int p = 0; p < n->inst->out[e].n_peers; p++) {
            if (!n->out[e].socks[p]) continue;
            zmq_setsockopt(n->out[e].socks[p], ZMQ_LINGER, &zero, sizeof zero);
            zmq_close(n->out[e].socks[p]);
        }
    reap_graves(n, 1);
    if (n->status_sock) zmq_close(n->status_sock);
    pf_security_destroy(n->sec); /* terminates the context */
    for (int i = 0; i < n->inst->n_in; i++) { free(n->snd[i]); pf_dedupe_destroy(n->dd[i]); }
    for (int e = 0; e < n->inst->n_out; e++) {
        for (int p = 0; p < n->inst->out[e].n_peers; p++) pf_pending_free(&n->out[e].pend[p]);
        pf_pending_free(&n->out[e].resend);
    }
}

/* --- the loops --------------------------------------------------------------- */

static int run_source(pf_node *n, void *state)
{
    while (!g_stop) {
        int rc = n->kind->produce(n, state);
        if (rc < 0) return rc;
        if (rc == 1) break;
        apply_deaths(n);
        if ((rc = pump_acks(n))) return rc;
        status_tick(n);
    }
    return PF_OK;
}

static void log_malformed(pf_node *n, const char *port)
{
    n->cnt[PF_CNT_MALFORMED]++;
    n->malformed_logged++;
    /* Log the first few in full, then one in a thousand so a flood can't drown the log. */
    if (n->malformed_logged <= 10 || n->malformed_logged % 1000 == 0)
        pf_warn("port '%s': dropped malformed message #%llu: %s", port,
                (unsigned long long)n->cnt[PF_CNT_MALFORMED], pf_errmsg());
}

/* The routing id as printable text (a peer without one gets 5 binary bytes). */
static const char *peer_text(const pf_msg *m, char *buf, size_t cap)
{
    size_t o = 0;
    for (int i = 0; i < m->peer_len && o + 5 < cap; i++) {
        unsigned char c = m->peer[i];
        o += (size_t)snprintf(buf + o, cap - o, (c >= 0x20 && c < 0x7f) ? "%c" : "\\x%02x", c);
    }
    buf[o < cap ? o : cap - 1] = 0;
    return buf;
}

/* Index of the expected upstream instance that sent m (by routing id), or -1. */
static int find_sender(const pf_in_plan *ip, const pf_msg *m)
{
    for (int k = 0; k < ip->eos_expected; k++) {
        const char *id = ip->senders[k].id;
        if ((int)strlen(id) == m->peer_len && !memcmp(id, m->peer, (size_t)m->peer_len)) return k;
    }
    return -1;
}

static int consume(pf_node *n, const pf_in_plan *ip, const char *sid, pf_msg *m);

/* On an acked port: 1 if m comes from a previous incarnation of its sender
 * (dropped: never acknowledged, so what it held is redelivered). A message
 * from a newer incarnation means that sender restarted, even if the
 * launcher's notices (relayed across hosts) have not arrived yet: without
 * this its end-of-stream would be refused as late and both sides would wait. */
static int incarnation_check(pf_node *n, int port, int k, const pf_msg *m)
{
    const pf_in_plan *ip = &n->inst->in[port];
    struct in_sender *sd = &n->snd[port][k];
    uint64_t seq;
    uint32_t tag;
    if (m->kind == PF_MSG_EOS) tag = m->epoch;
    else if (pf_deliver_peek(m, &seq)) tag = PF_DELIVER_INCARNATION(seq);
    else return 0; /* refused later as malformed */
    if (tag < sd->inc || (sd->back_seen && tag == sd->inc)) {
        pf_debug("port '%s': dropped a message from %s's incarnation %u (it restarted)", ip->port, ip->senders[k].id, tag);
        return 1;
    }
    if (tag == sd->inc) return sd->dead; /* still queued from the life that died (its end-of-stream too) */
    if (!sd->dead) { /* the launcher said it is back, or we started after its restart */
        sd->inc = tag;
        sd->back_seen = 0;
        return 0;
    }
    if (!sd->restarting) return 1; /* gone for good: the launcher ended its stream */
    if (sd->eos) {
        sd->eos = 0;
        n->eos_seen[port]--;
        n->eos_counted[port] -= sd->announced;
        sd->announced = 0;
    }
    sd->dead = sd->restarting = 0;
    sd->got = 0;
    sd->inc = tag;
    sd->back_seen = 0;
    pf_info("port '%s': upstream %s restarted (incarnation %u: its data came before the launcher's notice)", ip->port,
            ip->senders[k].id, tag);
    return 0;
}

static int handle_message(pf_node *n, int port, pf_msg *m, size_t bytes)
{
    const pf_in_plan *ip = &n->inst->in[port];
    char who[160];
    int k = find_sender(ip, m);
    if (k < 0) {
        /* not an upstream instance of this port: a stray or forged message changes nothing but a counter */
        pf_err(PF_EFORMAT, "%s from '%s', which is not an upstream instance of this port",
               m->kind == PF_MSG_EOS ? "end-of-stream" : "message", peer_text(m, who, sizeof who));
        log_malformed(n, ip->port);
        return PF_OK;
    }
    struct in_sender *sd = &n->snd[port][k];
    const char *sid = ip->senders[k].id;
    if (ip->acked && incarnation_check(n, port, k, m)) return PF_OK;
    if (m->kind == PF_MSG_EOS) {
        size_t inst_len = strcspn(sid, "/");
        if (sd->eos || sd->dead || strlen(m->id) != inst_len || memcmp(m->id, sid, inst_len)) {
            pf_err(PF_EFORMAT, "%s end-of-stream from %s (it names itself '%s')", sd->eos ? "second" : sd->dead ? "late" : "mislabelled",
                   sid, m->id);
            log_malformed(n, ip->port);
            return PF_OK;
        }
        /* Everything that sender sent us arrived before this (one ordered
         * connection), so tell it it may exit. */
        pf_wire_ack_eos(n->in_socks[port], m);
        sd->eos = 1;
        sd->announced = m->count;
        n->eos_seen[port]++;
        n->eos_counted[port] += m->count;
        if (m->flags & PF_FLAG_INTERRUPTED) n->upstream_interrupted = 1;
        pf_debug("end-of-stream %d/%d on '%s' from %s", n->eos_seen[port], ip->eos_expected, ip->port, m->id);
        return PF_OK;
    }
    if (m->kind != PF_MSG_WINDOW && m->kind != PF_MSG_TENSOR) {
        pf_err(PF_EFORMAT, "control message '%s' from %s on a data port", m->id, sid);
        log_malformed(n, ip->port);
        return PF_OK;
    }
    if (sd->dead && !sd->eos && ip->acked) {
        /* still queued from a replica that died: never acknowledged, so its sender redelivers it */
        pf_debug("port '%s': dropped a window still queued from %s, which died", ip->port, sid);
        return PF_OK;
    }
    if (sd->eos || sd->dead) {
        pf_err(PF_EFORMAT, "data message from %s after its end-of-stream", sid);
        log_malformed(n, ip->port);
        return PF_OK;
    }
    n->cnt[PF_CNT_MSGS_IN]++;
    n->cnt[PF_CNT_BYTES_IN] += bytes;
    n->got[port]++;
    sd->got++; /* the sender counted it, whatever its kind */
    if (!ip->acked) return consume(n, ip, sid, m);
    uint64_t seq;
    if (!pf_deliver_strip(m, &seq)) {
        pf_err(PF_EFORMAT, "message from %s on an acknowledged edge without a delivery number", sid);
        log_malformed(n, ip->port);
        return PF_OK;
    }
    if (pf_dedupe_check(n->dd[port], k, pf_deliver_key(m))) {
        /* a redelivered window that arrived before: acknowledged, not processed again */
        n->cnt[PF_CNT_DUPLICATES]++;
        pf_debug("port '%s': duplicate of window '%s' #%llu (epoch %u) from %s dropped", ip->port, m->id,
                 (unsigned long long)m->window_index, m->epoch, sid);
        queue_ack(n, port, k, seq);
        return PF_OK;
    }
    pf_token *t = calloc(1, sizeof *t);
    if (!t) return pf_err(PF_ENOMEM, "port '%s': out of memory", ip->port);
    *t = (pf_token){.port = port, .sender = k, .seq = seq};
    n->cur_token = t; /* what process() sends is acknowledged before this input is */
    int rc = consume(n, ip, sid, m);
    n->cur_token = NULL;
    t->done = 1;
    token_settle(n, t);
    return rc;
}

/* A data message from an expected sender: checked, then process(). */
static int consume(pf_node *n, const pf_in_plan *ip, const char *sid, pf_msg *m)
{
    int want = PF_MSG_WINDOW;
    for (const pf_port_spec *ps = n->kind->ports; ps && ps->name; ps++)
        if (ps->dir == PF_PORT_IN && !strcmp(ps->name, ip->port)) want = ps->msg;
    if (m->kind != want) {
        pf_err(PF_EFORMAT, "a message of kind %u from %s, this port takes kind %d", m->kind, sid, want);
        log_malformed(n, ip->port);
        return PF_OK;
    }
    if (n->input_done) {
        pf_node_count(n, "after_done", 1);
        return PF_OK;
    }
    const char *reason;
    if (pf_guard_window(m, &reason)) return pf_node_reject(n, reason, m, "%s", pf_errmsg());
    atomic_store(&n->busy_since, pf_now_ns());
    int rc = n->kind->process(n, n->state, ip->port, m);
    atomic_store(&n->busy_since, 0);
    if (rc == PF_DONE) {
        n->input_done = 1;
        n->phase = PF_STATE_INPUT_DONE;
        send_status(n, n->phase); /* the launcher stops the sources */
        pf_info("needs no more input: discarding what still arrives until upstream ends");
        rc = PF_OK;
    }
    return rc;
}

int pf_node_recv(pf_node *n, const char *port, pf_msg **out)
{
    *out = NULL;
    int i = -1;
    for (int k = 0; k < n->inst->n_in; k++)
        if (!strcmp(n->inst->in[k].port, port)) i = k;
    if (i < 0) return pf_err(PF_EINVAL, "input port '%s' is not connected", port);
    const pf_in_plan *ip = &n->inst->in[i];
    uint64_t stop_at = 0;
    for (;;) {
        apply_deaths(n);
        int alive = 0;
        for (int k = 0; k < ip->eos_expected; k++) alive += !n->snd[i][k].dead;
        if (!alive) return pf_err(PF_EIO, "port '%s': every sender died (%s)", port, ip->senders[0].id);
        if (g_stop && !stop_at) stop_at = pf_now_ns();
        if (stop_at && pf_now_ns() - stop_at > (uint64_t)(n->inst->drain_timeout * 1e9))
            return pf_err(PF_EINTR, "port '%s': nothing arrived within %.1f s of the stop request", port, n->inst->drain_timeout);
        pf_msg *m = NULL;
        size_t bytes = 0;
        int rc = pf_wire_recv_routed(n->in_socks[i], &m, ZMQ_DONTWAIT, &bytes);
        if (rc == PF_EAGAIN || rc == PF_EINTR) {
            zmq_pollitem_t it = {n->in_socks[i], 0, ZMQ_POLLIN, 0};
            flush_acks(n);
            zmq_poll(&it, 1, POLL_MS);
            status_tick(n);
            continue;
        }
        if (rc == PF_EFORMAT) { log_malformed(n, port); continue; }
        if (rc) return rc;
        char who[160];
        int k = find_sender(ip, m);
        const char *bad = k < 0 ? "not an upstream instance of this port"
                        : (m->kind != PF_MSG_TENSOR && m->kind != PF_MSG_WINDOW) ? "not a data message" : NULL;
        if (bad) {
            pf_err(PF_EFORMAT, "message from '%s' on feedback port: %s", peer_text(m, who, sizeof who), bad);
            log_malformed(n, port);
            pf_msg_destroy(m);
            continue;
        }
        n->snd[i][k].got++;
        n->got[i]++;
        n->cnt[PF_CNT_MSGS_IN]++;
        n->cnt[PF_CNT_BYTES_IN] += bytes;
        *out = m;
        return PF_OK;
    }
}

int pf_node_drain(pf_node *n, const char *port)
{
    int i = -1;
    for (int k = 0; k < n->inst->n_in; k++)
        if (!strcmp(n->inst->in[k].port, port) && !n->inst->in[k].feedback) i = k;
    if (i < 0) return pf_err(PF_EINVAL, "input port '%s' is not connected (or is a feedback port)", port);
    const pf_in_plan *ip = &n->inst->in[i];
    uint64_t stop_at = 0;
    while (n->eos_seen[i] < ip->eos_expected) {
        apply_deaths(n);
        if (g_stop && !stop_at) stop_at = pf_now_ns();
        if (stop_at && pf_now_ns() - stop_at > (uint64_t)(n->inst->drain_timeout * 1e9))
            return pf_err(PF_EINTR, "port '%s': not ended within %.1f s of the stop request", port, n->inst->drain_timeout);
        pf_msg *m = NULL;
        size_t bytes = 0;
        int rc = pf_wire_recv_routed(n->in_socks[i], &m, ZMQ_DONTWAIT, &bytes);
        if (rc == PF_EAGAIN || rc == PF_EINTR) {
            zmq_pollitem_t it = {n->in_socks[i], 0, ZMQ_POLLIN, 0};
            flush_acks(n);
            zmq_poll(&it, 1, POLL_MS);
            status_tick(n);
            continue;
        }
        if (rc == PF_EFORMAT) { log_malformed(n, port); continue; }
        if (rc) return rc;
        uint64_t busy = atomic_load(&n->busy_since);
        rc = handle_message(n, i, m, bytes);
        atomic_store(&n->busy_since, busy); /* still inside the caller's process() */
        pf_msg_destroy(m);
        if (rc) return rc;
    }
    return PF_OK;
}

static int all_ended(const pf_node *n)
{
    for (int i = 0; i < n->inst->n_in; i++)
        if (!n->inst->in[i].feedback && n->eos_seen[i] < n->inst->in[i].eos_expected) return 0;
    return 1;
}

/* Returns PF_OK when every input ended, PF_EINTR on drain timeout. */
static int run_inputs(pf_node *n)
{
    const pf_instance *in = n->inst;
    /* feedback ports are read by the node itself (pf_node_recv): not polled here */
    zmq_pollitem_t items[PF_MAX_PORTS + PF_MAX_EDGES * 4];
    int port_of[PF_MAX_PORTS], np = 0;
    for (int i = 0; i < in->n_in; i++)
        if (!in->in[i].feedback) {
            port_of[np] = i;
            items[np++] = (zmq_pollitem_t){n->in_socks[i], 0, ZMQ_POLLIN, 0};
        }
    uint64_t stop_at = 0;
    int rc0;
    while (!all_ended(n)) {
        if (g_stop && !stop_at) {
            stop_at = pf_now_ns();
            pf_info("stop requested: draining until upstream ends (at most %.1f s)", in->drain_timeout);
        }
        if (stop_at && pf_now_ns() - stop_at > (uint64_t)(in->drain_timeout * 1e9)) {
            pf_warn("drain timed out after %.1f s; stopping without end-of-stream from every upstream", in->drain_timeout);
            return PF_EINTR;
        }
        apply_deaths(n);
        if (all_ended(n)) break;
        /* acks from downstream wake us too (the sockets change when a replica dies) */
        int na = ack_items(n, items + np, PF_MAX_EDGES * 4);
        flush_acks(n);
        int r = zmq_poll(items, np + na, POLL_MS), perr = r < 0 ? zmq_errno() : 0;
        if ((rc0 = pump_acks(n))) return rc0;
        if (r < 0) {
            if (perr == EINTR) continue;
            return pf_err(PF_EIO, "poll: %s", zmq_strerror(perr));
        }
        if (r == 0 && n->kind->idle) {
            int rc = n->kind->idle(n, n->state);
            if (rc) return rc;
        }
        for (int j = 0; r > 0 && j < np; j++) {
            if (!(items[j].revents & ZMQ_POLLIN)) continue;
            int i = port_of[j];
            /* Drain a burst per port so one busy input can't starve the status tick. */
            for (int burst = 0; burst < 64; burst++) {
                pf_msg *m = NULL;
                size_t bytes = 0;
                int rc = pf_wire_recv_routed(n->in_socks[i], &m, ZMQ_DONTWAIT, &bytes);
                if (rc == PF_EAGAIN || rc == PF_EINTR) break;
                if (rc == PF_EFORMAT) { log_malformed(n, in->in[i].port); continue; }
                if (rc) return rc;
                apply_deaths(n); /* a window from a replica known dead is not taken */
                rc = handle_message(n, i, m, bytes);
                pf_msg_destroy(m);
                if (rc) return rc;
            }
        }
        status_tick(n);
    }
    /* On an acked port a dead replica's windows come through another replica of
     * its node; when no replica of that node ended properly, they are lost. */
    for (int i = 0; i < in->n_in; i++) {
        if (!in->in[i].acked) continue;
        for (int k = 0; k < in->in[i].eos_expected; k++) {
            const char *id = in->in[i].senders[k].id;
            if (!in->in[i].senders[k].redeliverable) continue; /* its death interrupted the stream already */
            size_t nl = strcspn(id, ".");
            int ended = 0;
            for (int j = 0; j < in->in[i].eos_expected; j++)
                if (!strncmp(in->in[i].senders[j].id, id, nl) && in->in[i].senders[j].id[nl] == '.') ended |= n->snd[i][j].eos;
            if (ended || n->upstream_interrupted) continue;
            n->upstream_interrupted = 1;
            pf_warn("port '%s': every replica of %.*s died: what they held is lost", in->in[i].port, (int)nl, id);
        }
    }
    /* Per sender: what its end-of-stream announced against what arrived from it. */
    for (int i = 0; i < in->n_in; i++) {
        uint64_t announced = 0, got = 0;
        for (int k = 0; k < in->in[i].eos_expected; k++)
            if (n->snd[i][k].eos && n->snd[i][k].got < n->snd[i][k].announced) {
                announced += n->snd[i][k].announced;
                got += n->snd[i][k].got;
            }
        if (got < announced) {
            uint64_t lost = announced - got;
            n->cnt[PF_CNT_LOST] += lost;
            pf_error("port '%s': upstream sent %llu messages, %llu arrived: %llu lost", in->in[i].port,
                     (unsigned long long)announced, (unsigned long long)got, (unsigned long long)lost);
        }
    }
    return PF_OK;
}

int pf_node_run(const pf_instance *inst)
{
    char ident[160];
    snprintf(ident, sizeof ident, "%s.%d", inst->node, inst->replica);
    pf_log_set_identity(ident);
    /* Message buffers come and go at the stream's rate. glibc's defaults give large ones back
     * to the kernel (mmap threshold, heap trimming) and fault them in again for the next
     * message: ~30 us a page on the virtual machines we measure, 8 ms for a 1 MB batch, and
     * a node that falls behind faults more as its backlog grows. Freed memory is kept for
     * reuse instead (bench/monitor/README.md). */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    pf_node *n = calloc(1, sizeof *n);
    if (!n) { pf_error("out of memory"); return 1; }
    n->inst = inst;
    n->kind = inst->kind;
    n->start_ns = pf_now_ns();

    g_parent = getppid();
    const char *inc = getenv("PF_INCARNATION");
    g_incarnation = inc ? (uint32_t)strtoul(inc, NULL, 10) & 0xffff : 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(PF_SIG_DIED, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* the launcher blocks death notices until here (a restarted instance gets them at once) */
    sigset_t usr;
    sigemptyset(&usr);
    sigaddset(&usr, PF_SIG_DIED);
    sigprocmask(SIG_UNBLOCK, &usr, NULL);

    int rc = setup(n), created = 0, interrupted = 0;
    if (rc == PF_OK) {
        rc = n->kind->create(n, &n->state);
        created = (rc == PF_OK);
        if (rc) pf_err_context(rc, "creating node of kind %s", n->kind->name);
    }
    if (rc == PF_OK) {
        send_status(n, PF_STATE_RUNNING);
        if (inst->n_in == 0) {
            rc = run_source(n, n->state);
            interrupted = g_stop != 0 || n->downstream_lost;
        } else {
            rc = run_inputs(n);
            if (rc == PF_EINTR) { interrupted = 1; rc = PF_OK; }
            interrupted |= n->upstream_interrupted | n->downstream_lost;
        }
    }
    if (rc == PF_OK && n->kind->finish) rc = n->kind->finish(n, n->state, interrupted);
    if (rc == PF_OK) rc = send_eos(n, interrupted | n->downstream_lost);
    if ((created || n->state) && n->kind->destroy) n->kind->destroy(n->state);

    int state = rc ? PF_STATE_FAILED : interrupted ? PF_STATE_INTERRUPTED : PF_STATE_DONE;
    if (rc) pf_error("failed: %s", pf_errmsg()[0] ? pf_errmsg() : pf_strerror(rc));
    else pf_debug("finished: in %llu msgs, out %llu msgs%s", (unsigned long long)n->cnt[PF_CNT_MSGS_IN],
                  (unsigned long long)n->cnt[PF_CNT_MSGS_OUT], interrupted ? " (interrupted)" : "");
    stop_busy(n); /* its last busy status must not follow the final one */
    send_status(n, state);
    teardown(n, rc != PF_OK);
    int lost = n->cnt[PF_CNT_LOST] != 0;
    free(n);
    return rc ? 1 : lost ? 1 : 0;
}

/* --- in-process nodes (fuzzing, tests) -------------------------------------- */

pf_node *pf_node_local_create(const pf_instance *inst)
{
    pf_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->inst = inst;
    n->kind = inst->kind;
    n->start_ns = pf_now_ns();
    if (n->kind->create(n, &n->state)) {
        if (n->kind->destroy) n->kind->destroy(n->state);
        free(n);
        return NULL;
    }
    return n;
}

int pf_node_local_feed(pf_node *n, const char *port, pf_msg *m)
{
    if (pf_wire_validate(m)) { n->cnt[PF_CNT_MALFORMED]++; return PF_OK; } /* the runtime drops it before any node */
    const char *reason;
    if (pf_guard_window(m, &reason)) return pf_node_reject(n, reason, m, "%s", pf_errmsg());
    n->cnt[PF_CNT_MSGS_IN]++;
    return n->kind->process(n, n->state, port, m);
}

int pf_node_local_finish(pf_node *n, int interrupted)
{
    return n->kind->finish ? n->kind->finish(n, n->state, interrupted) : PF_OK;
}

void pf_node_local_destroy(pf_node *n)
{
    if (!n) return;
    if (n->kind->destroy) n->kind->destroy(n->state);
    free(n);
}

uint64_t pf_node_counter(const pf_node *n, const char *counter)
{
    for (int i = 0; i < n->n_custom; i++)
        if (!strcmp(n->custom_name[i], counter)) return n->custom[i];
    return 0;
}
