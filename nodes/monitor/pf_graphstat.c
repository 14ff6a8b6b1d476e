/* pf_graphstat: node counters and training curves from the launcher's statuses (pf_graphstat.h). */
#include "pf_graphstat.h"

#include "pf_error.h"
#include "pf_log.h"
#include "pf_node.h"
#include "pf_transport.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef struct {
    char name[48];      /* "trainer.0" */
    uint64_t cnt[PF_CNT_N];
    int ncustom;
    char cname[PF_MAX_CUSTOM_COUNTERS][33];
    uint64_t cval[PF_MAX_CUSTOM_COUNTERS];
    int64_t last_step;  /* step of the last curve point, -1 none */
} gnode;

typedef struct {
    char name[80];      /* "trainer.0 loss" */
    int node;
    uint32_t n, gen;
    double step[PF_GRAPHSTAT_POINTS], v[PF_GRAPHSTAT_POINTS];
} gcurve;

struct pf_graphstat {
    pthread_mutex_t mu;
    gnode nodes[PF_GRAPHSTAT_NODES]; int nn;
    gcurve *curves[PF_GRAPHSTAT_CURVES]; int nc;
    uint64_t taken;
    void *ctx, *sub;
    pthread_t th; int th_up;
    atomic_int quit;
};

static void *sub_loop(void *arg)
{
    pf_graphstat *g = arg;
    while (!atomic_load(&g->quit)) {
        pf_msg *m = NULL;
        int rc = pf_wire_recv(g->sub, &m, 0, NULL); /* RCVTIMEO: wakes up to see quit */
        if (rc == PF_OK) { pf_graphstat_take(g, m); pf_msg_destroy(m); }
    }
    return NULL;
}

pf_graphstat *pf_graphstat_create(const char *endpoint)
{
    pf_graphstat *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    pthread_mutex_init(&g->mu, NULL);
    if (!endpoint || !*endpoint) return g;
    g->ctx = zmq_ctx_new();
    g->sub = g->ctx ? zmq_socket(g->ctx, ZMQ_SUB) : NULL;
    int tmo = 200;
    int64_t maxmsg = 1 << 20; /* a status is a few hundred bytes */
    if (!g->sub || zmq_setsockopt(g->sub, ZMQ_SUBSCRIBE, "", 0) || zmq_setsockopt(g->sub, ZMQ_RCVTIMEO, &tmo, sizeof tmo) ||
        zmq_setsockopt(g->sub, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) || zmq_connect(g->sub, endpoint)) {
        pf_warn("dashboard: cannot subscribe to the graph's statuses at %s (%s): no node counters or loss curves", endpoint, zmq_strerror(zmq_errno()));
        if (g->sub) zmq_close(g->sub);
        g->sub = NULL;
        return g;
    }
    if (pthread_create(&g->th, NULL, sub_loop, g) == 0) g->th_up = 1;
    return g;
}

void pf_graphstat_destroy(pf_graphstat *g)
{
    if (!g) return;
    atomic_store(&g->quit, 1);
    if (g->th_up) pthread_join(g->th, NULL);
    if (g->sub) { int l = 0; zmq_setsockopt(g->sub, ZMQ_LINGER, &l, sizeof l); zmq_close(g->sub); }
    if (g->ctx) zmq_ctx_term(g->ctx);
    for (int i = 0; i < g->nc; i++) free(g->curves[i]);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

uint64_t pf_graphstat_count(const pf_graphstat *g) { return g->taken; }

static void add_point(gcurve *c, double step, double v)
{
    if (c->n == PF_GRAPHSTAT_POINTS) { /* full: keep every other point, and say so (gen) */
        uint32_t k = 0;
        for (uint32_t i = 0; i < c->n; i += 2, k++) { c->step[k] = c->step[i]; c->v[k] = c->v[i]; }
        c->n = k;
        c->gen++;
    }
    c->step[c->n] = step; c->v[c->n] = v; c->n++;
}

int pf_graphstat_take(pf_graphstat *g, const pf_msg *m)
{
    const pf_section *names = pf_msg_find_const(m, PF_SEC_NAME), *vals = pf_msg_find_const(m, PF_SEC_COUNTERS);
    if (m->kind != PF_MSG_CONTROL || strcmp(m->id, "status") || !names || names->dtype != PF_DT_U8 || !vals || vals->dtype != PF_DT_U64) return 0;
    size_t nv = pf_section_count(vals);
    if (nv < PF_CNT_N || nv > PF_CNT_N + PF_MAX_CUSTOM_COUNTERS) return 0;
    char buf[64 + PF_MAX_CUSTOM_COUNTERS * 33];
    size_t len = names->bytes < sizeof buf - 1 ? names->bytes : sizeof buf - 1;
    memcpy(buf, names->data, len);
    buf[len] = 0;
    char *nl = strchr(buf, '\n');
    if (!nl || nl == buf) return 0;
    *nl = 0;
    char id[48];
    snprintf(id, sizeof id, "%.40s.%llu", buf, (unsigned long long)m->count);
    const uint64_t *v = vals->data;
    pthread_mutex_lock(&g->mu);
    int k = 0;
    while (k < g->nn && strcmp(g->nodes[k].name, id)) k++;
    if (k == g->nn) {
        if (g->nn == PF_GRAPHSTAT_NODES) { pthread_mutex_unlock(&g->mu); return 0; }
        memset(&g->nodes[k], 0, sizeof g->nodes[k]);
        snprintf(g->nodes[k].name, sizeof g->nodes[k].name, "%s", id);
        g->nodes[k].last_step = -1;
        g->nn++;
    }
    gnode *d = &g->nodes[k];
    memcpy(d->cnt, v, sizeof d->cnt);
    d->ncustom = 0;
    char *save = NULL;
    for (char *t = strtok_r(nl + 1, ",", &save); t && d->ncustom < (int)(nv - PF_CNT_N); t = strtok_r(NULL, ",", &save)) {
        snprintf(d->cname[d->ncustom], sizeof d->cname[0], "%s", t);
        d->cval[d->ncustom] = v[PF_CNT_N + d->ncustom];
        d->ncustom++;
    }
    /* curves: every *_e6 gauge of an instance that counts steps, a point per new step */
    int64_t step = -1;
    for (int i = 0; i < d->ncustom; i++) if (!strcmp(d->cname[i], "step")) step = (int64_t)d->cval[i];
    if (step > d->last_step) {
        d->last_step = step;
        for (int i = 0; i < d->ncustom; i++) {
            size_t L = strlen(d->cname[i]);
            int64_t e = (int64_t)d->cval[i];
            if (L < 4 || strcmp(d->cname[i] + L - 3, "_e6") || e == INT64_MIN) continue; /* INT64_MIN: not a number */
            char cn[80];
            snprintf(cn, sizeof cn, "%s %.*s", d->name, (int)(L - 3), d->cname[i]);
            int c = 0;
            while (c < g->nc && strcmp(g->curves[c]->name, cn)) c++;
            if (c == g->nc) {
                if (g->nc == PF_GRAPHSTAT_CURVES || !(g->curves[c] = calloc(1, sizeof(gcurve)))) continue;
                snprintf(g->curves[c]->name, sizeof g->curves[c]->name, "%s", cn);
                g->curves[c]->node = k;
                g->nc++;
            }
            gcurve *cv = g->curves[c];
            double x = (double)e / 1e6;
            /* a gauge set only on some steps (validation) gives a point when it changes */
            if (cv->n && cv->v[cv->n - 1] == x) continue;
            add_point(cv, (double)step, x);
        }
    }
    g->taken++;
    pthread_mutex_unlock(&g->mu);
    return 1;
}

static const char *state_name(uint64_t s)
{
    static const char *const n[] = {"running", "done", "failed", "interrupted", "ending", "input done", "busy"};
    return s < sizeof n / sizeof *n ? n[s] : "?";
}

char *pf_graphstat_json(pf_graphstat *g, pf_graphstat_cursor *cur)
{
    size_t cap = 1 << 14, len = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
#define PUT(...) do { int w_ = snprintf(s + len, cap - len, __VA_ARGS__); if (w_ < 0) w_ = 0; \
        if ((size_t)w_ >= cap - len) { char *t_ = realloc(s, cap = 2 * cap + (size_t)w_); if (!t_) { free(s); return NULL; } s = t_; \
            snprintf(s + len, cap - len, __VA_ARGS__); } len += (size_t)w_; } while (0)
    pthread_mutex_lock(&g->mu);
    PUT("\"nodes\":[");
    for (int k = 0; k < g->nn; k++) {
        const gnode *d = &g->nodes[k];
        PUT("%s{\"n\":\"%s\",\"st\":\"%s\",\"in\":%llu,\"out\":%llu,\"drop\":%llu,\"c\":{", k ? "," : "", d->name, state_name(d->cnt[PF_CNT_STATE]),
            (unsigned long long)d->cnt[PF_CNT_MSGS_IN], (unsigned long long)d->cnt[PF_CNT_MSGS_OUT], (unsigned long long)d->cnt[PF_CNT_DROPPED]);
        for (int i = 0; i < d->ncustom; i++) {
            size_t L = strlen(d->cname[i]);
            int e6 = L > 3 && !strcmp(d->cname[i] + L - 3, "_e6");
            int64_t e = (int64_t)d->cval[i];
            if (e6 && e == INT64_MIN) PUT("%s\"%.*s\":null", i ? "," : "", (int)(L - 3), d->cname[i]);
            else if (e6) PUT("%s\"%.*s\":%.6g", i ? "," : "", (int)(L - 3), d->cname[i], (double)e / 1e6);
            else PUT("%s\"%s\":%llu", i ? "," : "", d->cname[i], (unsigned long long)d->cval[i]);
        }
        PUT("}}");
    }
    PUT("],\"curves\":[");
    int first = 1;
    for (int c = 0; c < g->nc; c++) {
        const gcurve *cv = g->curves[c];
        int reset = cur->gen[c] != cv->gen;
        uint32_t from = reset ? 0 : cur->sent[c];
        if (from >= cv->n && !reset) continue;
        PUT("%s{\"name\":\"%s\",\"reset\":%d,\"p\":[", first ? "" : ",", cv->name, reset);
        for (uint32_t i = from; i < cv->n; i++) PUT("%s[%.0f,%.6g]", i > from ? "," : "", cv->step[i], cv->v[i]);
        PUT("]}");
        first = 0;
        cur->sent[c] = cv->n;
        cur->gen[c] = cv->gen;
    }
    PUT("]");
    pthread_mutex_unlock(&g->mu);
#undef PUT
    return s;
}
