#include "pf_presence.h"

#include "pf_error.h"
#include "pf_graph_security.h"
#include "pf_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct pf_presence {
    const pf_graph *g;
    const char *host;
    pf_security *sec;
    pf_sec_plan *plan;
    void *router;
    int n_peers;
    /* heard: when its launcher last spoke (hello, here, beat); gone: 1 it said bye, 2 declared dead */
    struct { int host; char ep[300]; void *dealer; int up, gone; uint64_t heard; } peer[64];
    uint64_t last_hello, last_beat, last_poll;
    int notice[256], n_notice; /* death notices from other hosts, not yet taken */
};

int pf_presence_port(const pf_graph *g, int host_index)
{
    int slots = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (const pf_port_spec *p = g->nodes[i].kind->ports; p && p->name; p++) slots += (p->dir == PF_PORT_IN) * g->nodes[i].replicas;
    return g->base_port + slots + host_index;
}

static int host_index(const pf_graph *g, const char *h)
{
    for (int i = 0; i < g->n_hosts; i++)
        if (!strcmp(g->hosts[i].name, h)) return i;
    return -1;
}

/* Hosts that share an edge with `host`: their launchers must be up for ours to finish. */
static int neighbours(const pf_graph *g, const char *host, int *out)
{
    int n = 0;
    for (int j = 0; j < g->n_edges; j++) {
        const pf_gedge *e = &g->edges[j];
        for (int a = 0; a < g->nodes[e->from].replicas; a++)
            for (int b = 0; b < g->nodes[e->to].replicas; b++) {
                const char *ha = pf_graph_instance_host(g, e->from, a), *hb = pf_graph_instance_host(g, e->to, b);
                const char *other = !strcmp(ha, host) ? hb : !strcmp(hb, host) ? ha : NULL;
                int k = other && strcmp(other, host) ? host_index(g, other) : -1;
                int dup = k < 0;
                for (int i = 0; i < n && !dup; i++) dup = out[i] == k;
                if (!dup && n < 64) out[n++] = k;
            }
    }
    return n;
}

pf_presence *pf_presence_create(const pf_graph *g, const char *host)
{
    int me = host_index(g, host);
    if (me < 0) { pf_err(PF_ENOTFOUND, "host '%s' is not declared in %s", host, g->path); return NULL; }
    pf_presence *p = calloc(1, sizeof *p);
    p->g = g;
    p->host = host;
    int idx[64];
    p->n_peers = neighbours(g, host, idx);
    const char *eps[64], *hosts[64];
    for (int i = 0; i < p->n_peers; i++) {
        p->peer[i].host = idx[i];
        snprintf(p->peer[i].ep, sizeof p->peer[i].ep, "tcp://%s:%d", g->hosts[idx[i]].addr, pf_presence_port(g, idx[i]));
        eps[i] = p->peer[i].ep;
        hosts[i] = g->hosts[idx[i]].name;
    }
    if (pf_gsec_plan_make(g, host, p->n_peers > 0, p->n_peers, eps, hosts, &p->plan) || !(p->sec = pf_security_create(p->plan))) {
        pf_presence_destroy(p);
        return NULL;
    }
    if (!p->n_peers) return p;
    void *ctx = pf_security_ctx(p->sec);
    int zero = 0;
    p->router = zmq_socket(ctx, ZMQ_ROUTER);
    zmq_setsockopt(p->router, ZMQ_LINGER, &zero, sizeof zero);
    char ep[300];
    snprintf(ep, sizeof ep, "tcp://%s:%d", g->hosts[me].addr, pf_presence_port(g, me));
    const char *bind[1] = {ep};
    if (pf_security_bind(p->sec, p->router, 1, bind)) {
        pf_err_context(PF_EIO, "host '%s': presence socket (host_timeout check)", host);
        pf_presence_destroy(p);
        return NULL;
    }
    for (int i = 0; i < p->n_peers; i++) {
        p->peer[i].dealer = zmq_socket(ctx, ZMQ_DEALER);
        zmq_setsockopt(p->peer[i].dealer, ZMQ_LINGER, &zero, sizeof zero);
        if (pf_security_connect(p->sec, p->peer[i].dealer, p->peer[i].ep)) { pf_presence_destroy(p); return NULL; }
    }
    return p;
}

int pf_presence_peers(const pf_presence *p) { return p->n_peers; }

int pf_presence_poll(pf_presence *p)
{
    if (!p->n_peers) return 0;
    char buf[128];
    /* we were not scheduled for a while (a loaded machine): what the neighbours sent
     * meanwhile may still sit in the kernel; silence measured across our own stall
     * is no evidence of their death */
    uint64_t t = pf_now_ns();
    if (p->last_poll && t - p->last_poll > p->g->heartbeat_timeout * 1e9 / 4)
        for (int i = 0; i < p->n_peers; i++) p->peer[i].heard = t;
    p->last_poll = t;
    pf_security_tick(p->sec);
    /* hellos from others: answer with our name */
    for (;;) {
        zmq_msg_t id;
        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, p->router, ZMQ_DONTWAIT) < 0) { zmq_msg_close(&id); break; }
        int n = zmq_recv(p->router, buf, sizeof buf - 1, ZMQ_DONTWAIT);
        if (n > 7 && n < (int)sizeof buf - 1 && !strncmp(buf, "notice ", 7)) {
            /* only peers admitted by ZAP reach this socket (CURVE keys of the graph's hosts) */
            buf[n] = 0;
            char *end;
            long v = strtol(buf + 7, &end, 10);
            if (*end == 0 && v >= 0 && v <= 0x7fffffff && p->n_notice < (int)(sizeof p->notice / sizeof *p->notice))
                p->notice[p->n_notice++] = (int)v;
        }
        else if (n > 5 && n < (int)sizeof buf - 1 && (!strncmp(buf, "beat ", 5) || !strncmp(buf, "bye ", 4))) {
            /* the heartbeat of a neighbouring launcher, or its farewell after a clean exit */
            buf[n] = 0;
            const char *who = buf + (buf[1] == 'e' ? 5 : 4);
            for (int i = 0; i < p->n_peers; i++)
                if (!strcmp(p->g->hosts[p->peer[i].host].name, who)) {
                    p->peer[i].heard = pf_now_ns();
                    p->peer[i].up = 1; /* its launcher runs, even if our hello was not answered yet */
                    if (buf[1] == 'y' && !p->peer[i].gone) p->peer[i].gone = 1;
                }
        }
        else if (n > 6 && !strncmp(buf, "hello ", 6)) {
            buf[n < (int)sizeof buf - 1 ? n : (int)sizeof buf - 1] = 0;
            for (int i = 0; i < p->n_peers; i++)
                if (!strcmp(p->g->hosts[p->peer[i].host].name, buf + 6)) { /* its launcher runs: heard from */
                    p->peer[i].heard = pf_now_ns();
                    p->peer[i].up = 1;
                }
            int len = snprintf(buf, sizeof buf, "here %s", p->host);
            zmq_msg_send(&id, p->router, ZMQ_SNDMORE | ZMQ_DONTWAIT);
            zmq_send(p->router, buf, (size_t)len, ZMQ_DONTWAIT);
        }
        zmq_msg_close(&id);
    }
    int missing = 0;
    uint64_t now = pf_now_ns();
    int resend = now - p->last_hello > 1000000000ull;
    for (int i = 0; i < p->n_peers; i++) {
        int n;
        while ((n = zmq_recv(p->peer[i].dealer, buf, sizeof buf - 1, ZMQ_DONTWAIT)) >= 0) {
            buf[n < (int)sizeof buf - 1 ? n : (int)sizeof buf - 1] = 0;
            if (!strncmp(buf, "here ", 5) && !strcmp(buf + 5, p->g->hosts[p->peer[i].host].name) && !p->peer[i].up) {
                p->peer[i].up = 1;
                p->peer[i].heard = pf_now_ns();
                pf_debug("host '%s' is up", buf + 5);
            }
        }
        if (p->peer[i].up) continue;
        missing++;
        if (resend) {
            int len = snprintf(buf, sizeof buf, "hello %s", p->host);
            zmq_send(p->peer[i].dealer, buf, (size_t)len, ZMQ_DONTWAIT);
        }
    }
    if (resend) p->last_hello = now;
    /* our heartbeat, to every neighbour (pf_presence_dead): a few per timeout */
    if (p->g->heartbeat_timeout > 0 && now - p->last_beat > p->g->heartbeat_timeout * 1e9 / 6) {
        int len = snprintf(buf, sizeof buf, "beat %s", p->host);
        for (int i = 0; i < p->n_peers; i++) zmq_send(p->peer[i].dealer, buf, (size_t)len, ZMQ_DONTWAIT);
        p->last_beat = now;
    }
    return missing;
}

void pf_presence_missing(const pf_presence *p, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < p->n_peers && len < cap; i++)
        if (!p->peer[i].up)
            len += (size_t)snprintf(buf + len, cap - len, "%s'%s' (%s)", len ? ", " : "", p->g->hosts[p->peer[i].host].name, p->peer[i].ep);
}

int pf_presence_dead(pf_presence *p)
{
    if (!p || p->g->heartbeat_timeout <= 0) return -1;
    pf_presence_poll(p); /* judge on what has arrived by now */
    uint64_t now = pf_now_ns();
    for (int i = 0; i < p->n_peers; i++)
        if (p->peer[i].up && !p->peer[i].gone && now - p->peer[i].heard > (uint64_t)(p->g->heartbeat_timeout * 1e9)) {
            p->peer[i].gone = 2;
            return p->peer[i].host;
        }
    return -1;
}

void pf_presence_destroy(pf_presence *p)
{
    if (!p) return;
    char buf[128];
    int len = snprintf(buf, sizeof buf, "bye %s", p->host);
    /* a clean exit is no death: say so, and let the last notices (DONE) go out */
    int linger = 1000;
    for (int i = 0; i < p->n_peers; i++) {
        if (!p->peer[i].dealer) continue;
        if (p->router) zmq_send(p->peer[i].dealer, buf, (size_t)len, ZMQ_DONTWAIT);
        zmq_setsockopt(p->peer[i].dealer, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(p->peer[i].dealer);
    }
    if (p->router) zmq_close(p->router);
    pf_security_destroy(p->sec);
    pf_gsec_plan_free(p->plan);
    free(p);
}

void pf_presence_announce(pf_presence *p, int notice)
{
    if (!p) return;
    char buf[64];
    int len = snprintf(buf, sizeof buf, "notice %d", notice);
    for (int i = 0; i < p->n_peers; i++) /* not to a host taken as dead: queued, it would arrive after a partition healed */
        if (!p->peer[i].gone) zmq_send(p->peer[i].dealer, buf, (size_t)len, ZMQ_DONTWAIT);
}

int pf_presence_take_notice(pf_presence *p, int *notice)
{
    if (!p || !p->n_notice) return 0;
    *notice = p->notice[0];
    memmove(p->notice, p->notice + 1, (size_t)(p->n_notice - 1) * sizeof *p->notice);
    p->n_notice--;
    return 1;
}
