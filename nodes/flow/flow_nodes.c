/* Flow utilities: `passthrough` forwards windows unchanged (zero-copy: the
 * received frames are sent on as they are); `discard` counts windows,
 * checksums them and drops them (a sink for benchmarks and tests). */
#include "pf_error.h"
#include "pf_log.h"
#include "pf_node.h"

#include <stdlib.h>

static const pf_param_spec no_params[] = {{NULL, 0, NULL, 0, 0, NULL, NULL}};

static const pf_port_spec pass_ports[] = {
    {"in", PF_PORT_IN, PF_MSG_WINDOW, 0, "windows"},
    {"out", PF_PORT_OUT, PF_MSG_WINDOW, 0, "the same windows"},
    {NULL, 0, 0, 0, NULL},
};

static int pass_create(pf_node *n, void **state) { *state = NULL; return PF_OK; }

static int pass_process(pf_node *n, void *state, const char *port, pf_msg *m)
{
    /* The runtime owns m; forward a shell that shares its frames. */
    pf_msg *fwd = pf_msg_create(m->kind, m->id);
    if (!fwd) return PF_ENOMEM;
    *fwd = *m;
    m->frames = NULL;   /* frames now belong to fwd */
    m->n_frames = 0;
    for (int i = 0; i < m->n_sections; i++) m->owned[i] = 0;
    return pf_node_send(n, "out", fwd);
}

const pf_kind pf_kind_passthrough = {
    .name = "passthrough",
    .doc = "forward windows unchanged (tests, benchmarks, fan-out points)",
    .params = no_params,
    .ports = pass_ports,
    .create = pass_create,
    .process = pass_process,
};

static const pf_port_spec discard_ports[] = {
    {"in", PF_PORT_IN, PF_MSG_WINDOW, 0, "windows to count and drop"},
    {NULL, 0, 0, 0, NULL},
};

typedef struct { uint64_t count, checksum, t0; } discard_t;

static int discard_create(pf_node *n, void **state)
{
    discard_t *d = calloc(1, sizeof *d);
    if (!d) return pf_err(PF_ENOMEM, "discard: out of memory");
    d->t0 = pf_now_ns();
    *state = d;
    return PF_OK;
}

static int discard_process(pf_node *n, void *state, const char *port, pf_msg *m)
{
    discard_t *d = state;
    d->count++;
    d->checksum += pf_msg_hash(m);
    return PF_OK;
}

static int discard_finish(pf_node *n, void *state, int interrupted)
{
    discard_t *d = state;
    double secs = (double)(pf_now_ns() - d->t0) / 1e9;
    pf_info("received %llu windows (checksum %016llx) in %.2f s%s", (unsigned long long)d->count,
            (unsigned long long)d->checksum, secs, interrupted ? ", stream interrupted" : "");
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
