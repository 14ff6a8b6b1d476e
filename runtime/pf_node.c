#include "pf_node.h"

#include "pf_error.h"
#include "pf_log.h"

#include <errno.h>
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

struct out_edge {
    void *socks[PF_MAX_PEERS];
    uint64_t sent[PF_MAX_PEERS];
    int cursor;
};

struct pf_node {
    const pf_instance *inst;
    const pf_kind *kind;
    void *state;
    void *ctx;
    void *in_socks[PF_MAX_PORTS];
    int eos_seen[PF_MAX_PORTS];
    uint64_t eos_counted[PF_MAX_PORTS]; /* sum of the counts the EOS messages announced */
    uint64_t got[PF_MAX_PORTS];
    int upstream_interrupted;
    struct out_edge out[PF_MAX_EDGES];
    void *status_sock;
    uint64_t last_status_ns, start_ns;
    uint64_t cnt[PF_CNT_N];
    int n_custom;
    char custom_name[PF_MAX_CUSTOM_COUNTERS][32];
    uint64_t custom[PF_MAX_CUSTOM_COUNTERS];
    uint64_t malformed_logged;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    if (g_stop) _exit(130); /* second signal: the user insists */
    g_stop = 1;
}

uint64_t pf_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const pf_params *pf_node_params(const pf_node *n) { return n->inst->params; }
const char *pf_node_name(const pf_node *n) { return n->inst->node; }
int pf_node_replica(const pf_node *n) { return n->inst->replica; }
int pf_node_replicas(const pf_node *n) { return n->inst->replicas; }
uint64_t pf_node_seed(const pf_node *n) { return n->inst->seed; }
const char *pf_node_graph_name(const pf_node *n) { return n->inst->graph_name; }
int pf_node_stopping(const pf_node *n) { (void)n; return g_stop != 0; }

uint64_t pf_node_dropped(const pf_node *n) { return n->cnt[PF_CNT_DROPPED]; }

void pf_node_count(pf_node *n, const char *counter, uint64_t delta)
{
    for (int i = 0; i < n->n_custom; i++)
        if (!strcmp(n->custom_name[i], counter)) { n->custom[i] += delta; return; }
    if (n->n_custom == PF_MAX_CUSTOM_COUNTERS) return;
    snprintf(n->custom_name[n->n_custom], sizeof n->custom_name[0], "%s", counter);
    n->custom[n->n_custom++] = delta;
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
    if (pf_msg_add(m, PF_SEC_NAME, PF_DT_U8, 1, &dn, names) || pf_msg_add(m, PF_SEC_COUNTERS, PF_DT_U64, 1, &dv, vals)) {
        pf_msg_destroy(m);
        return;
    }
    if (pf_wire_send(n->status_sock, m, ZMQ_DONTWAIT) == PF_EAGAIN) pf_msg_destroy(m);
}

static void status_tick(pf_node *n)
{
    if (n->status_sock && pf_now_ns() - n->last_status_ns >= STATUS_PERIOD_NS) send_status(n, PF_STATE_RUNNING);
}

/* --- sending --------------------------------------------------------------- */

static size_t msg_bytes(const pf_msg *m)
{
    size_t b = pf_wire_header_size(m);
    for (int i = 0; i < m->n_sections; i++) b += m->sec[i].bytes;
    return b;
}

static int send_edge(pf_node *n, int e, pf_msg *m, int force_block)
{
    const pf_out_plan *op = &n->inst->out[e];
    struct out_edge *oe = &n->out[e];
    size_t bytes = msg_bytes(m);
    int np = op->n_peers;
    for (int k = 0; k < np; k++) {
        int p = (oe->cursor + k) % np;
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
    for (int p = 0; p < np; p++) items[p] = (zmq_pollitem_t){oe->socks[p], 0, ZMQ_POLLOUT, 0};
    for (;;) {
        int r = zmq_poll(items, np, POLL_MS);
        if (r < 0 && zmq_errno() != EINTR) return pf_err(PF_EIO, "poll on edge to %s: %s", op->to, zmq_strerror(zmq_errno()));
        for (int p = 0; r > 0 && p < np; p++) {
            if (!(items[p].revents & ZMQ_POLLOUT)) continue;
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

int pf_node_send(pf_node *n, const char *port, pf_msg *m)
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
        int rc = send_edge(n, edges[i], c, 0);
        if (rc) { if (c != m) pf_msg_destroy(m); return rc; }
    }
    return PF_OK;
}

/* ZeroMQ's linger does not guarantee delivery when the receiver is at its
 * high-water mark (unsent data is dropped when the socket's pipe closes), so
 * an instance exits only once every downstream instance has acknowledged its
 * end-of-stream: then nothing it sent can still be in flight. */
static int wait_eos_acks(pf_node *n)
{
    zmq_pollitem_t items[PF_MAX_EDGES * 4];
    int owner_e[PF_MAX_EDGES * 4], owner_p[PF_MAX_EDGES * 4], ni = 0, pending = 0;
    int acked[PF_MAX_EDGES][PF_MAX_PEERS];
    memset(acked, 0, sizeof acked);
    for (int e = 0; e < n->inst->n_out; e++) pending += n->inst->out[e].n_peers;
    uint64_t stop_seen = 0, t0 = pf_now_ns(), next_warn = t0 + 30000000000ull;
    while (pending > 0) {
        ni = 0;
        for (int e = 0; e < n->inst->n_out; e++)
            for (int p = 0; p < n->inst->out[e].n_peers && ni < (int)(sizeof items / sizeof *items); p++) {
                if (acked[e][p]) continue;
                items[ni] = (zmq_pollitem_t){n->out[e].socks[p], 0, ZMQ_POLLIN, 0};
                owner_e[ni] = e;
                owner_p[ni++] = p;
            }
        int r = zmq_poll(items, ni, POLL_MS);
        if (r < 0 && zmq_errno() != EINTR) return pf_err(PF_EIO, "poll for end-of-stream acks: %s", zmq_strerror(zmq_errno()));
        for (int i = 0; r > 0 && i < ni; i++) {
            if (!(items[i].revents & ZMQ_POLLIN)) continue;
            pf_msg *m = NULL;
            while (pf_wire_recv(items[i].socket, &m, ZMQ_DONTWAIT, NULL) != PF_EAGAIN) {
                if (m && m->kind == PF_MSG_CONTROL && !strcmp(m->id, "eos-ack") && !acked[owner_e[i]][owner_p[i]]) {
                    acked[owner_e[i]][owner_p[i]] = 1;
                    pending--;
                }
                pf_msg_destroy(m);
                m = NULL;
            }
        }
        status_tick(n);
        uint64_t now = pf_now_ns();
        if (now >= next_warn) {
            /* a downstream that is still draining a backlog is fine; one that died is not:
             * say which edge we are waiting on (under the launcher a dead node stops the graph) */
            for (int i = 0; i < ni; i++)
                pf_warn("still waiting, %.0f s after end-of-stream, for %s (replica %d) to acknowledge it",
                        (double)(now - t0) / 1e9, n->inst->out[owner_e[i]].to, owner_p[i]);
            next_warn = now + 30000000000ull;
        }
        if (g_stop && !stop_seen) stop_seen = now;
        if (stop_seen && now - stop_seen > (uint64_t)(n->inst->drain_timeout * 1e9)) {
            pf_warn("%d downstream instance(s) did not acknowledge end-of-stream within %.1f s of the stop request", pending, n->inst->drain_timeout);
            return PF_OK;
        }
    }
    return PF_OK;
}

/* Send to one particular peer (end-of-stream). Blocks under backpressure,
 * but once a stop was requested only for drain_timeout: a peer that takes
 * nothing by then is gone. */
static int send_to_peer(pf_node *n, void *sock, pf_msg *m, const char *to)
{
    uint64_t stop_seen = 0;
    for (;;) {
        int rc = pf_wire_send(sock, m, ZMQ_DONTWAIT);
        if (rc != PF_EAGAIN) return rc;
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLOUT, 0};
        zmq_poll(&it, 1, POLL_MS);
        status_tick(n);
        uint64_t now = pf_now_ns();
        if (g_stop && !stop_seen) stop_seen = now;
        if (stop_seen && now - stop_seen > (uint64_t)(n->inst->drain_timeout * 1e9)) {
            pf_msg_destroy(m);
            pf_warn("edge to %s: could not deliver end-of-stream within %.1f s of the stop request", to, n->inst->drain_timeout);
            return PF_OK;
        }
    }
}

static int send_eos(pf_node *n, int interrupted)
{
    char id[PF_WIRE_MAX_ID];
    snprintf(id, sizeof id, "%s.%d", n->inst->node, n->inst->replica);
    for (int e = 0; e < n->inst->n_out; e++) {
        for (int p = 0; p < n->inst->out[e].n_peers; p++) {
            pf_msg *m = pf_msg_create(PF_MSG_EOS, id);
            if (!m) return PF_ENOMEM;
            m->count = n->out[e].sent[p]; /* lets the receiver prove nothing was lost */
            m->flags = interrupted ? PF_FLAG_INTERRUPTED : 0;
            int rc = send_to_peer(n, n->out[e].socks[p], m, n->inst->out[e].to); /* never dropped */
            if (rc) return pf_err_context(rc, "sending end-of-stream to %s", n->inst->out[e].to);
        }
    }
    return wait_eos_acks(n);
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

static int setup(pf_node *n)
{
    const pf_instance *in = n->inst;
    n->ctx = zmq_ctx_new();
    if (!n->ctx) return pf_err(PF_EIO, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
    for (int i = 0; i < in->n_in; i++) {
        /* ROUTER, not PULL: it can acknowledge each upstream's end-of-stream */
        void *s = zmq_socket(n->ctx, ZMQ_ROUTER);
        n->in_socks[i] = s; /* recorded first: teardown must close it even if binding fails */
        int hwm = in->in[i].hwm > 0 ? in->in[i].hwm : 32;
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
        for (int b = 0; b < in->in[i].n_bind; b++) {
            mkdirs_for_ipc(in->in[i].bind[b]);
            if (zmq_bind(s, in->in[i].bind[b]))
                return pf_err(PF_EIO, "input port '%s': cannot bind %s: %s", in->in[i].port, in->in[i].bind[b], zmq_strerror(zmq_errno()));
        }
    }
    for (int e = 0; e < in->n_out; e++) {
        const pf_out_plan *op = &in->out[e];
        for (int p = 0; p < op->n_peers; p++) {
            /* DEALER, not PUSH: one peer each, and it hears the end-of-stream ack */
            void *s = zmq_socket(n->ctx, ZMQ_DEALER);
            n->out[e].socks[p] = s;
            int hwm = op->hwm > 0 ? op->hwm : 32;
            zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
            if (zmq_connect(s, op->connect[p]))
                return pf_err(PF_EIO, "edge to %s: cannot connect %s: %s", op->to, op->connect[p], zmq_strerror(zmq_errno()));
        }
    }
    if (in->status_endpoint && *in->status_endpoint) {
        n->status_sock = zmq_socket(n->ctx, ZMQ_PUSH);
        int hwm = 64, linger = 500;
        zmq_setsockopt(n->status_sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(n->status_sock, ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_connect(n->status_sock, in->status_endpoint))
            return pf_err(PF_EIO, "status endpoint %s: %s", in->status_endpoint, zmq_strerror(zmq_errno()));
    }
    return PF_OK;
}

static void teardown(pf_node *n, int failed)
{
    /* Outputs: the acknowledged end-of-stream proved everything arrived, so
     * nothing is left to flush; an unbounded linger would only hang on a
     * peer that is gone. Inputs: a short linger lets the last ack leave. */
    int zero = 0, ack_linger = 2000;
    (void)failed;
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
    if (n->status_sock) zmq_close(n->status_sock);
    if (n->ctx) zmq_ctx_term(n->ctx);
}

/* --- the loops --------------------------------------------------------------- */

static int run_source(pf_node *n, void *state)
{
    while (!g_stop) {
        int rc = n->kind->produce(n, state);
        if (rc < 0) return rc;
        if (rc == 1) break;
        status_tick(n);
    }
    return PF_OK;
}

static int handle_message(pf_node *n, int port, pf_msg *m, size_t bytes)
{
    const pf_in_plan *ip = &n->inst->in[port];
    if (m->kind == PF_MSG_EOS) {
        /* Everything that sender sent us arrived before this (one ordered
         * connection), so tell it it may exit. */
        pf_wire_ack_eos(n->in_socks[port], m);
        n->eos_seen[port]++;
        n->eos_counted[port] += m->count;
        if (m->flags & PF_FLAG_INTERRUPTED) n->upstream_interrupted = 1;
        pf_debug("end-of-stream %d/%d on '%s' from %s", n->eos_seen[port], ip->eos_expected, ip->port, m->id);
        if (n->eos_seen[port] > ip->eos_expected)
            pf_warn("port '%s': unexpected extra end-of-stream from %s (%d, expected %d)", ip->port, m->id, n->eos_seen[port], ip->eos_expected);
        return PF_OK;
    }
    if (m->kind == PF_MSG_CONTROL) return PF_OK;
    n->cnt[PF_CNT_MSGS_IN]++;
    n->cnt[PF_CNT_BYTES_IN] += bytes;
    n->got[port]++;
    int want = PF_MSG_WINDOW;
    for (const pf_port_spec *ps = n->kind->ports; ps && ps->name; ps++)
        if (ps->dir == PF_PORT_IN && !strcmp(ps->name, ip->port)) want = ps->msg;
    if (m->kind != want) {
        n->cnt[PF_CNT_MALFORMED]++;
        pf_warn("port '%s': dropped a message of kind %u, this port takes kind %d", ip->port, m->kind, want);
        return PF_OK;
    }
    return n->kind->process(n, n->state, ip->port, m);
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

static int all_ended(const pf_node *n)
{
    for (int i = 0; i < n->inst->n_in; i++)
        if (n->eos_seen[i] < n->inst->in[i].eos_expected) return 0;
    return 1;
}

/* Returns PF_OK when every input ended, PF_EINTR on drain timeout. */
static int run_inputs(pf_node *n)
{
    const pf_instance *in = n->inst;
    zmq_pollitem_t items[PF_MAX_PORTS];
    for (int i = 0; i < in->n_in; i++) items[i] = (zmq_pollitem_t){n->in_socks[i], 0, ZMQ_POLLIN, 0};
    uint64_t stop_at = 0;
    while (!all_ended(n)) {
        if (g_stop && !stop_at) {
            stop_at = pf_now_ns();
            pf_info("stop requested: draining until upstream ends (at most %.1f s)", in->drain_timeout);
        }
        if (stop_at && pf_now_ns() - stop_at > (uint64_t)(in->drain_timeout * 1e9)) {
            pf_warn("drain timed out after %.1f s; stopping without end-of-stream from every upstream", in->drain_timeout);
            return PF_EINTR;
        }
        int r = zmq_poll(items, in->n_in, POLL_MS);
        if (r < 0) {
            if (zmq_errno() == EINTR) continue;
            return pf_err(PF_EIO, "poll: %s", zmq_strerror(zmq_errno()));
        }
        for (int i = 0; r > 0 && i < in->n_in; i++) {
            if (!(items[i].revents & ZMQ_POLLIN)) continue;
            /* Drain a burst per port so one busy input can't starve the status tick. */
            for (int burst = 0; burst < 64; burst++) {
                pf_msg *m = NULL;
                size_t bytes = 0;
                int rc = pf_wire_recv_routed(n->in_socks[i], &m, ZMQ_DONTWAIT, &bytes);
                if (rc == PF_EAGAIN || rc == PF_EINTR) break;
                if (rc == PF_EFORMAT) { log_malformed(n, in->in[i].port); continue; }
                if (rc) return rc;
                rc = handle_message(n, i, m, bytes);
                pf_msg_destroy(m);
                if (rc) return rc;
            }
        }
        status_tick(n);
    }
    for (int i = 0; i < in->n_in; i++) {
        if (n->got[i] < n->eos_counted[i]) {
            uint64_t lost = n->eos_counted[i] - n->got[i];
            n->cnt[PF_CNT_LOST] += lost;
            pf_error("port '%s': upstream sent %llu messages, %llu arrived: %llu lost", in->in[i].port,
                     (unsigned long long)n->eos_counted[i], (unsigned long long)n->got[i], (unsigned long long)lost);
        }
    }
    return PF_OK;
}

int pf_node_run(const pf_instance *inst)
{
    char ident[160];
    snprintf(ident, sizeof ident, "%s.%d", inst->node, inst->replica);
    pf_log_set_identity(ident);
    pf_node *n = calloc(1, sizeof *n);
    if (!n) { pf_error("out of memory"); return 1; }
    n->inst = inst;
    n->kind = inst->kind;
    n->start_ns = pf_now_ns();

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

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
            interrupted = g_stop != 0;
        } else {
            rc = run_inputs(n);
            if (rc == PF_EINTR) { interrupted = 1; rc = PF_OK; }
            interrupted |= n->upstream_interrupted;
        }
    }
    if (rc == PF_OK && n->kind->finish) rc = n->kind->finish(n, n->state, interrupted);
    if (rc == PF_OK) rc = send_eos(n, interrupted);
    if ((created || n->state) && n->kind->destroy) n->kind->destroy(n->state);

    int state = rc ? PF_STATE_FAILED : interrupted ? PF_STATE_INTERRUPTED : PF_STATE_DONE;
    if (rc) pf_error("failed: %s", pf_errmsg()[0] ? pf_errmsg() : pf_strerror(rc));
    else pf_debug("finished: in %llu msgs, out %llu msgs%s", (unsigned long long)n->cnt[PF_CNT_MSGS_IN],
                  (unsigned long long)n->cnt[PF_CNT_MSGS_OUT], interrupted ? " (interrupted)" : "");
    send_status(n, state);
    teardown(n, rc != PF_OK);
    int lost = n->cnt[PF_CNT_LOST] != 0;
    free(n);
    return rc ? 1 : lost ? 1 : 0;
}
