/* `dashboard`: the central station's live web page. Takes the `monitor`
 * node's per-chunk messages and serves, from an embedded HTTP server
 * (libmicrohttpd), a page with a grid of beds — waveform with R-peak marks,
 * heart rate, active alarms with acknowledge / silence, gaps drawn as gaps,
 * the station's counters — pushed with Server-Sent Events (/events, 4 per
 * second). Bound to 127.0.0.1 by default; bound to any other address it
 * refuses to start without a token, and then every request must carry it in
 * the `pf_token` cookie (set by POSTing the token to /login, so it never
 * appears in a URL or an access log). */
#include "dashboard_page.h"
#include "pf_bedmon.h"
#include "pf_graphstat.h"
#include "pf_live.h"

#include "pf_error.h"
#include "pf_log.h"
#include "pf_node.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const pf_param_spec dash_params[] = {
    {"bind", PF_P_STRING, "127.0.0.1", 0, 0, NULL, "address to listen on; anything but 127.0.0.1 requires a token"},
    {"port", PF_P_INT, "8080", 1, 65535, NULL, "TCP port"},
    {"token", PF_P_STRING, "", 0, 0, NULL, "access token (required unless bound to 127.0.0.1); sent as the pf_token cookie"},
    {"display_hz", PF_P_DOUBLE, "125", 10, 1000, NULL, "waveform rate sent to the browser (min/max-preserving decimation)"},
    {"max_beds", PF_P_INT, "20000", 1, 1000000, NULL, "beds tracked"},
    {"page_beds", PF_P_INT, "64", 1, 1000, NULL, "beds shown on the page (lowest bed numbers first)"},
    {"linger_s", PF_P_DOUBLE, "1.5", 0, 3600, NULL, "after the stream ends, keep serving the page this long, so that the statuses the nodes publish as they finish (a trainer's last losses) reach it"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const pf_port_spec dash_ports[] = {
    {"in", PF_PORT_IN, PF_MSG_WINDOW, 0, "the monitor's display messages (MON_STATE, MON_EVENTS, RPEAKS, LIVE_META)"},
    {NULL, 0, 0, 0, NULL},
};

#define WCAP 2048 /* decimated samples kept per bed (> 12 s at 125 Hz) */
#define RCAP 64
#define ECAP 256

typedef struct {
    uint32_t id;
    int used;
    float w[WCAP];
    int64_t wn;              /* decimated samples written (absolute index) */
    int64_t rp[RCAP]; int64_t rn;
    double acc_max, acc_min; int acc_n, dec;
    int64_t next_sample;     /* bed timeline sample expected next */
    double hr, pr, sqi;
    unsigned alarms, acked;
    uint64_t silence_until_ns, last_ns;
    int64_t c[8];
} dbed_t;

typedef struct { int64_t bed, type, on, emit, lat; } dev_t_;

typedef struct {
    pthread_mutex_t mu;
    struct MHD_Daemon *d;
    dbed_t *beds; size_t cap, n, max;
    int *order; size_t norder;   /* slots of shown beds, by bed number */
    int page;
    double disp_hz;
    char token[128];
    int need_token;
    dev_t_ ev[ECAP]; int64_t evn;
    uint64_t windows;
    pf_graphstat *gs;            /* the graph's node counters and loss curves */
} dash_t;

typedef struct { dash_t *D; int64_t *cur; int64_t evcur; uint64_t next_ns; char *buf; size_t len, off; pf_graphstat_cursor gcur; } conn_t;

static dbed_t *bed_slot(dash_t *D, uint32_t id)
{
    size_t mask = D->cap - 1, h = ((size_t)id * 0x9E3779B1u) & mask;
    for (;;) {
        dbed_t *b = &D->beds[h];
        if (!b->used) {
            if (D->n >= D->max) return NULL;
            b->used = 1; b->id = id; D->n++;
            b->hr = b->pr = NAN; b->sqi = -1;
            /* keep the shown set: the page_beds lowest bed numbers */
            size_t i = D->norder;
            if (D->norder < (size_t)D->page) D->norder++;
            else if (id > D->beds[D->order[D->norder - 1]].id) return b;
            else i = D->norder - 1;
            while (i > 0 && D->beds[D->order[i - 1]].id > id) { D->order[i] = D->order[i - 1]; i--; }
            D->order[i] = (int)h;
            return b;
        }
        if (b->id == id) return b;
        h = (h + 1) & mask;
    }
}

static int authorised(dash_t *D, struct MHD_Connection *c)
{
    if (!D->need_token) return 1;
    const char *t = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "pf_token");
    return t && strlen(t) == strlen(D->token) && !strcmp(t, D->token);
}

static enum MHD_Result reply(struct MHD_Connection *c, int code, const char *type, const char *body, const char *cookie)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (cookie) MHD_add_response_header(r, "Set-Cookie", cookie);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)code, r);
    MHD_destroy_response(r);
    return rc;
}

static uint64_t now_ns(void) { return pf_now_ns(); }

/* One SSE frame: what changed since this connection's cursors. */
static void build_frame(conn_t *k)
{
    dash_t *D = k->D;
    size_t cap = 1 << 16, len = 0;
    char *s = malloc(cap);
#define PUT(...) do { int w_ = snprintf(s + len, cap - len, __VA_ARGS__); if (w_ < 0) w_ = 0; \
        if ((size_t)w_ >= cap - len) { cap = 2 * cap + (size_t)w_; s = realloc(s, cap); snprintf(s + len, cap - len, __VA_ARGS__); } len += (size_t)w_; } while (0)
    pthread_mutex_lock(&D->mu);
    int64_t tot[8] = {0};
    for (size_t i = 0; i < D->cap; i++) if (D->beds[i].used) for (int j = 0; j < 8; j++) tot[j] += D->beds[i].c[j];
    PUT("data: {\"fs\":%g,\"nbeds\":%zu,\"windows\":%llu,\"total\":[%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld],\"beds\":[", D->disp_hz, D->n,
        (unsigned long long)D->windows, (long long)tot[0], (long long)tot[1], (long long)tot[2], (long long)tot[3], (long long)tot[4], (long long)tot[5],
        (long long)tot[6], (long long)tot[7]);
    uint64_t now = now_ns();
    for (size_t o = 0; o < D->norder; o++) {
        dbed_t *b = &D->beds[D->order[o]];
        int64_t from = k->cur[D->order[o]];
        if (from < b->wn - WCAP + 1) from = b->wn - WCAP + 1;
        if (from < 0) from = 0;
        long sil = b->silence_until_ns > now ? (long)((b->silence_until_ns - now) / 1000000000ull) : 0;
        PUT("%s{\"id\":%u,\"hr\":%.1f,\"pr\":%.1f,\"sqi\":%.2f,\"al\":%u,\"ack\":%u,\"sil\":%ld,\"age\":%llu,\"c\":[%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld],\"x\":%lld,\"w\":[",
            o ? "," : "", b->id, isfinite(b->hr) ? b->hr : -1, isfinite(b->pr) ? b->pr : -1, b->sqi, b->alarms, b->acked, sil,
            (unsigned long long)((now - b->last_ns) / 1000000), (long long)b->c[0], (long long)b->c[1], (long long)b->c[2], (long long)b->c[3],
            (long long)b->c[4], (long long)b->c[5], (long long)b->c[6], (long long)b->c[7], (long long)from);
        for (int64_t i = from; i < b->wn; i++) {
            float v = b->w[i % WCAP];
            if (isfinite(v)) PUT("%s%.3f", i > from ? "," : "", v); else PUT("%snull", i > from ? "," : "");
        }
        PUT("],\"r\":[");
        int first = 1;
        for (int64_t i = b->rn > RCAP ? b->rn - RCAP : 0; i < b->rn; i++)
            if (b->rp[i % RCAP] >= from - (int64_t)(2 * D->disp_hz)) { /* beats are reported up to the detector's look-ahead late */ PUT("%s%lld", first ? "" : ",", (long long)b->rp[i % RCAP]); first = 0; }
        PUT("]}");
        k->cur[D->order[o]] = b->wn;
    }
    PUT("],\"ev\":[");
    int64_t e0 = k->evcur < D->evn - ECAP ? D->evn - ECAP : k->evcur;
    for (int64_t i = e0; i < D->evn; i++) {
        dev_t_ *e = &D->ev[i % ECAP];
        PUT("%s{\"bed\":%lld,\"type\":%lld,\"on\":%lld,\"emit\":%lld,\"lat\":%.0f}", i > e0 ? "," : "", (long long)e->bed, (long long)e->type, (long long)e->on,
            (long long)e->emit, (double)e->lat / 1e3);
    }
    k->evcur = D->evn;
    pthread_mutex_unlock(&D->mu);
    char *gj = D->gs ? pf_graphstat_json(D->gs, &k->gcur) : NULL;
    PUT("]%s%s}\n\n", gj ? "," : "", gj ? gj : "");
    free(gj);
#undef PUT
    free(k->buf);
    k->buf = s; k->len = len; k->off = 0;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
    conn_t *k = cls;
    if (k->off == k->len) {
        uint64_t now = now_ns();
        if (k->next_ns > now) { struct timespec ts = {0, (long)(k->next_ns - now)}; nanosleep(&ts, NULL); }
        k->next_ns = now_ns() + 250000000ull;
        build_frame(k);
    }
    size_t n = k->len - k->off < max ? k->len - k->off : max;
    memcpy(out, k->buf + k->off, n);
    k->off += n;
    return (ssize_t)n;
}

static void sse_free(void *cls)
{
    conn_t *k = cls;
    free(k->cur); free(k->buf); free(k);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    dash_t *D = cls;
    if (!strcmp(method, "POST") && !strcmp(url, "/login")) {
        /* body: the token; answered with the cookie (the token is never in a URL) */
        if (!*con_cls) { *con_cls = calloc(1, 256); return MHD_YES; }
        char *body = *con_cls;
        if (*upload_size) { size_t l = strlen(body), n = *upload_size; if (l + n < 255) memcpy(body + l, upload, n); *upload_size = 0; return MHD_YES; }
        int ok = !D->need_token || !strcmp(body, D->token);
        free(body); *con_cls = NULL;
        if (!ok) return reply(c, 403, "text/plain", "wrong token\n", NULL);
        char ck[200];
        snprintf(ck, sizeof ck, "pf_token=%s; HttpOnly; SameSite=Strict; Path=/", D->token);
        return reply(c, 200, "text/plain", "ok\n", ck);
    }
    if (!authorised(D, c))
        return reply(c, 401, "text/html", "<!doctype html><form onsubmit=\"fetch('/login',{method:'POST',body:this.t.value}).then(()=>location.reload());return false\">"
                                          "token <input name=t type=password><button>enter</button></form>\n", NULL);
    if (!strcmp(method, "POST") && (!strcmp(url, "/ack") || !strcmp(url, "/silence"))) {
        if (!*con_cls) { *con_cls = (void *)1; return MHD_YES; } /* wait for the (empty) body */
        *upload_size = 0;
        const char *bs = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "bed");
        if (!bs) return reply(c, 400, "text/plain", "missing ?bed=N\n", NULL);
        pthread_mutex_lock(&D->mu);
        dbed_t *b = bed_slot(D, (uint32_t)strtoul(bs, NULL, 10));
        if (b && url[1] == 'a') b->acked |= b->alarms;
        if (b && url[1] == 's') b->silence_until_ns = now_ns() + 120000000000ull;
        pthread_mutex_unlock(&D->mu);
        pf_info("dashboard: %s bed %s", url + 1, bs);
        return reply(c, 200, "text/plain", "ok\n", NULL);
    }
    if (strcmp(method, "GET")) return reply(c, 405, "text/plain", "method not allowed\n", NULL);
    if (!strcmp(url, "/")) return reply(c, 200, "text/html; charset=utf-8", dashboard_page, NULL);
    if (!strcmp(url, "/events")) {
        conn_t *k = calloc(1, sizeof *k);
        k->D = D;
        k->cur = calloc(D->cap, sizeof *k->cur);
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1 << 16, sse_read, k, sse_free);
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        MHD_add_response_header(r, "Cache-Control", "no-store");
        enum MHD_Result rc = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return rc;
    }
    return reply(c, 404, "text/plain", "not found\n", NULL);
}

static int dash_create(pf_node *n, void **state)
{
    const pf_params *p = pf_node_params(n);
    dash_t *D = calloc(1, sizeof *D);
    if (!D) return pf_err(PF_ENOMEM, "dashboard: out of memory");
    *state = D;
    pthread_mutex_init(&D->mu, NULL);
    D->max = (size_t)pf_params_int(p, "max_beds");
    D->page = (int)pf_params_int(p, "page_beds");
    D->disp_hz = pf_params_double(p, "display_hz");
    for (D->cap = 16; D->cap < 2 * D->max; D->cap *= 2) {}
    D->beds = calloc(D->cap, sizeof *D->beds);
    D->order = calloc((size_t)D->page, sizeof *D->order);
    if (!D->beds || !D->order) return pf_err(PF_ENOMEM, "dashboard: out of memory for %zu beds", D->max);
    const char *addr = pf_params_string(p, "bind"), *tok = pf_params_string(p, "token");
    int port = (int)pf_params_int(p, "port");
    D->need_token = strcmp(addr, "127.0.0.1") != 0;
    if (D->need_token && strlen(tok) < 16)
        return pf_err(PF_EINVAL, "dashboard: bind = \"%s\" is reachable from other machines: set token (at least 16 characters)", addr);
    if (strlen(tok) >= sizeof D->token) return pf_err(PF_EINVAL, "dashboard: token longer than %zu characters", sizeof D->token - 1);
    for (const char *q = tok; *q; q++)
        if (!((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-' || *q == '_'))
            return pf_err(PF_EINVAL, "dashboard: token may hold letters, digits, '-' and '_' only (it goes into a cookie)");
    snprintf(D->token, sizeof D->token, "%s", tok);
    /* the launcher re-publishes every node's status next to its status socket */
    const char *se = pf_node_status_endpoint(n);
    char pub[640];
    snprintf(pub, sizeof pub, "%s.pub", se ? se : "");
    D->gs = pf_graphstat_create(se && *se ? pub : NULL);
    if (!D->gs) return pf_err(PF_ENOMEM, "dashboard: out of memory");
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) return pf_err(PF_EINVAL, "dashboard: bind = \"%s\" is not an IPv4 address", addr);
    D->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL, on_request, D,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT, 0u, MHD_OPTION_END);
    if (!D->d) return pf_err(PF_EIO, "dashboard: cannot listen on %s:%d (port in use?)", addr, port);
    pf_info("dashboard on http://%s:%d/%s", addr, port, D->need_token ? " (token required)" : "");
    return PF_OK;
}

static int dash_process(pf_node *n, void *state, const char *port, pf_msg *m)
{
    dash_t *D = state;
    const pf_section *ms = pf_msg_find_const(m, PF_SEC_LIVE_META), *st = pf_msg_find_const(m, PF_SEC_MON_STATE);
    if (!ms || !st || ms->dtype != PF_DT_I64 || st->dtype != PF_DT_F64 || pf_section_count(ms) < PF_LM_N || pf_section_count(st) < PF_ST_N) {
        pf_node_count(n, "rejected", 1);
        return PF_OK;
    }
    const int64_t *meta = ms->data;
    const double *s = st->data;
    const float *x = pf_msg_find_const(m, PF_SEC_SAMPLES)->data;
    pthread_mutex_lock(&D->mu);
    D->windows++;
    dbed_t *b = bed_slot(D, (uint32_t)meta[PF_LM_BED]);
    if (!b) { pthread_mutex_unlock(&D->mu); return PF_OK; }
    b->dec = (int)lround(m->sample_rate / D->disp_hz);
    if (b->dec < 1) b->dec = 1;
    if (b->wn && m->start_sample > b->next_sample) {
        /* a gap stays a gap, as wide as the missing time (up to the history kept) */
        int64_t miss = (m->start_sample - b->next_sample) / b->dec + 1;
        if (miss > WCAP) miss = WCAP;
        for (int64_t i = 0; i < miss; i++) { b->w[b->wn % WCAP] = NAN; b->wn++; }
        b->acc_n = 0;
    }
    b->next_sample = m->start_sample + m->n_samples;
    /* keep each bucket's extreme so QRS spikes survive decimation */
    const pf_section *rp = pf_msg_find_const(m, PF_SEC_RPEAKS);
    for (uint32_t t = 0; t < m->n_samples; t++) {
        double v = x[t];
        if (!b->acc_n) { b->acc_max = -INFINITY; b->acc_min = INFINITY; }
        if (isfinite(v)) { if (v > b->acc_max) b->acc_max = v; if (v < b->acc_min) b->acc_min = v; }
        if (++b->acc_n == b->dec) {
            double a = b->acc_max, z = b->acc_min;
            b->w[b->wn % WCAP] = !isfinite(a) ? NAN : fabs(a) >= fabs(z) ? (float)a : (float)z;
            b->wn++;
            b->acc_n = 0;
        }
    }
    if (rp && rp->dtype == PF_DT_I64)
        for (size_t i = 0; i < pf_section_count(rp); i++) {
            int64_t r = ((const int64_t *)rp->data)[i];
            b->rp[b->rn++ % RCAP] = b->wn - (b->next_sample - r) / b->dec; /* in decimated indices */
        }
    b->hr = s[PF_ST_HR]; b->pr = s[PF_ST_PULSE_RATE]; b->sqi = isfinite(s[PF_ST_SQI]) ? s[PF_ST_SQI] : -1;
    unsigned al = (unsigned)s[PF_ST_ALARMS];
    b->acked &= al; /* an acknowledgement ends with its alarm */
    b->alarms = al;
    b->last_ns = now_ns();
    b->c[0] = meta[PF_LM_GAPS]; b->c[1] = meta[PF_LM_DUPS]; b->c[2] = meta[PF_LM_REORDERED]; b->c[3] = meta[PF_LM_BAD];
    b->c[4] = meta[PF_LM_RECONNECTS]; b->c[5] = meta[PF_LM_DROPS]; b->c[6] = (int64_t)s[PF_ST_OUT_DROPS]; b->c[7] = meta[PF_LM_FLOOD];
    const pf_section *ev = pf_msg_find_const(m, PF_SEC_MON_EVENTS);
    if (ev && ev->dtype == PF_DT_I64 && ev->ndim == 2 && ev->dims[1] == PF_EV_N)
        for (uint32_t i = 0; i < ev->dims[0]; i++) {
            const int64_t *e = (const int64_t *)ev->data + (size_t)i * PF_EV_N;
            D->ev[D->evn++ % ECAP] = (dev_t_){e[PF_EV_BED], e[PF_EV_TYPE], e[PF_EV_ONSET], e[PF_EV_EMIT_US], e[PF_EV_LATENCY_US]};
        }
    pthread_mutex_unlock(&D->mu);
    return PF_OK;
}

static int dash_finish(pf_node *n, void *state, int interrupted)
{
    (void)interrupted;
    dash_t *D = state;
    double s = pf_params_double(pf_node_params(n), "linger_s");
    /* a graph stops as soon as its trainer is done: the nodes' last statuses are published
     * while the stream ends, and without a pause the page would lose the last points */
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    if (s > 0 && D->d) nanosleep(&ts, NULL);
    return PF_OK;
}

static void dash_destroy(void *state)
{
    dash_t *D = state;
    if (!D) return;
    if (D->d) MHD_stop_daemon(D->d);
    pf_graphstat_destroy(D->gs);
    pthread_mutex_destroy(&D->mu);
    free(D->beds); free(D->order);
    free(D);
}

const pf_kind pf_kind_dashboard = {
    .name = "dashboard",
    .doc = "live web page of every bed (waveforms, R-peaks, HR, alarms with ack/silence, gaps, counters), the graph's node counters and loss curves, over Server-Sent Events",
    .params = dash_params,
    .ports = dash_ports,
    .create = dash_create,
    .process = dash_process,
    .finish = dash_finish,
    .destroy = dash_destroy,
};
