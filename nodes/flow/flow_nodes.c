/* Flow utilities: `passthrough` forwards windows unchanged (zero-copy: the
 * received frames are sent on as they are); `discard` counts windows,
 * checksums them and drops them; `repeat` emits a fixed pattern window as
 * fast as downstream takes it. discard and repeat exist to measure the
 * framework itself (bench/runtime) and to test it. */
#include "pf_error.h"
#include "pf_log.h"
#include "pf_node.h"

#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

static const pf_param_spec no_params[] = {{NULL, 0, NULL, 0, 0, NULL, NULL}};

static const pf_param_spec pass_params[] = {
    {"delay_ms", PF_P_DOUBLE, "0", 0, 60000, NULL, "wait this long per window (simulates a slow stage in tests)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const pf_port_spec pass_ports[] = {
    {"in", PF_PORT_IN, PF_MSG_WINDOW, 0, "windows"},
    {"out", PF_PORT_OUT, PF_MSG_WINDOW, 0, "the same windows"},
    {NULL, 0, 0, 0, NULL},
};

typedef struct { double delay_ms; } pass_t;

static int pass_create(pf_node *n, void **state)
{
    pass_t *p = calloc(1, sizeof *p);
    if (!p) return pf_err(PF_ENOMEM, "passthrough: out of memory");
    p->delay_ms = pf_params_double(pf_node_params(n), "delay_ms");
    *state = p;
    return PF_OK;
}

static int pass_process(pf_node *n, void *state, const char *port, pf_msg *m)
{
    pass_t *p = state;
    if (p->delay_ms > 0) {
        struct timespec ts = {(time_t)(p->delay_ms / 1000), (long)(fmod(p->delay_ms, 1000.0) * 1e6)};
        nanosleep(&ts, NULL);
    }
    /* The runtime lends m; take its frames along, no copy. */
    pf_msg *fwd = pf_msg_take(m);
    return fwd ? pf_node_send(n, "out", fwd) : PF_ENOMEM;
}

const pf_kind pf_kind_passthrough = {
    .name = "passthrough",
    .doc = "forward windows unchanged (tests, benchmarks, fan-out points)",
    .params = pass_params,
    .ports = pass_ports,
    .create = pass_create,
    .process = pass_process,
    .destroy = free,
    .per_window = 1,
};

static const pf_port_spec discard_ports[] = {
    {"in", PF_PORT_IN, PF_MSG_WINDOW, 0, "windows to count and drop"},
    {NULL, 0, 0, 0, NULL},
};

typedef struct { uint64_t count, checksum, t0, bytes; } discard_t;

static int discard_create(pf_node *n, void **state)
{
    discard_t *d = calloc(1, sizeof *d);
    if (!d) return pf_err(PF_ENOMEM, "discard: out of memory");
    *state = d;
    return PF_OK;
}

static int discard_process(pf_node *n, void *state, const char *port, pf_msg *m)
{
    discard_t *d = state;
    if (!d->count) d->t0 = pf_now_ns(); /* rate from the first message: start-up not counted */
    d->count++;
    d->bytes += (uint64_t)m->n_leads * m->n_samples * sizeof(float);
    d->checksum += pf_msg_hash(m);
    return PF_OK;
}

static int discard_finish(pf_node *n, void *state, int interrupted)
{
    discard_t *d = state;
    double secs = d->count ? (double)(pf_now_ns() - d->t0) / 1e9 : 0;
    double rate = d->count > 1 && secs > 0 ? (double)(d->count - 1) / secs : 0;
    pf_info("received %llu windows (checksum %016llx) in %.3f s: %.0f windows/s, %.3f GB/s%s", (unsigned long long)d->count,
            (unsigned long long)d->checksum, secs, rate, d->count > 1 ? rate * (double)d->bytes / (double)d->count / 1e9 : 0,
            interrupted ? ", stream interrupted" : "");
    pf_node_count(n, "received", d->count);
    return PF_OK;
}

const pf_kind pf_kind_discard = {
    .name = "discard",
    .doc = "count and checksum windows, then drop them",
    .params = no_params,
    .ports = discard_ports,
    .create = discard_create,
    .process = discard_process,
    .finish = discard_finish,
    .destroy = free,
};

static const pf_param_spec repeat_params[] = {
    {"count", PF_P_INT, "1000", 1, 1e12, NULL, "windows to emit"},
    {"leads", PF_P_INT, "12", 1, 4096, NULL, "leads per window"},
    {"samples", PF_P_INT, "5000", 1, 1 << 24, NULL, "samples per window"},
    {"fs", PF_P_DOUBLE, "500", 1, 1e6, NULL, "sample rate stamped on the windows, Hz"},
    {"rpeak_every", PF_P_INT, "0", 0, 1 << 24, NULL, "attach R-peaks every this many samples (0 = none), for benchmarks of beat-aware nodes"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const pf_port_spec repeat_ports[] = {
    {"out", PF_PORT_OUT, PF_MSG_WINDOW, 0, "pattern windows"},
    {NULL, 0, 0, 0, NULL},
};

typedef struct { float *tmpl; uint64_t next, count; uint32_t leads, samples; double fs; int64_t every; } repeat_t;

static int repeat_create(pf_node *n, void **state)
{
    const pf_params *p = pf_node_params(n);
    repeat_t *r = calloc(1, sizeof *r);
    if (!r) return pf_err(PF_ENOMEM, "repeat: out of memory");
    *state = r;
    r->leads = (uint32_t)pf_params_int(p, "leads");
    r->samples = (uint32_t)pf_params_int(p, "samples");
    r->count = (uint64_t)pf_params_int(p, "count");
    r->fs = pf_params_double(p, "fs");
    r->every = pf_params_int(p, "rpeak_every");
    r->next = (uint64_t)pf_node_replica(n); /* windows are shared out among replicas */
    size_t total = (size_t)r->leads * r->samples;
    r->tmpl = malloc(total * sizeof(float));
    if (!r->tmpl) return pf_err(PF_ENOMEM, "repeat: out of memory for %zu samples", total);
    for (size_t i = 0; i < total; i++) r->tmpl[i] = (float)(i % 1000) * 1e-3f;
    return PF_OK;
}

static int repeat_produce(pf_node *n, void *state)
{
    repeat_t *r = state;
    if (r->next >= r->count) return 1;
    pf_msg *m = pf_msg_window_create("repeat", r->next, (int64_t)(r->next * r->samples), r->fs, r->leads, r->samples);
    if (!m) return PF_ENOMEM;
    float *x = pf_msg_samples(m);
    memcpy(x, r->tmpl, (size_t)r->leads * r->samples * sizeof(float));
    x[0] = (float)r->next; /* each window distinct */
    if (r->every > 0) {
        uint32_t np = 0;
        int64_t start = m->start_sample, peaks[4096];
        for (int64_t t = r->every / 3; t < r->samples && np < 4096; t += r->every) peaks[np++] = start + t;
        int rc = pf_msg_add(m, PF_SEC_RPEAKS, PF_DT_I64, 1, &np, peaks);
        if (rc) { pf_msg_destroy(m); return rc; }
    }
    r->next += (uint64_t)pf_node_replicas(n);
    return pf_node_send(n, "out", m);
}

static void repeat_destroy(void *state)
{
    repeat_t *r = state;
    if (r) free(r->tmpl);
    free(r);
}

const pf_kind pf_kind_repeat = {
    .name = "repeat",
    .doc = "emit a fixed pattern window COUNT times, as fast as downstream takes it",
    .params = repeat_params,
    .ports = repeat_ports,
    .create = repeat_create,
    .produce = repeat_produce,
    .destroy = repeat_destroy,
};
