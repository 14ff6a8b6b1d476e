/* Node kind `sink`: writes every window it receives to an HDF5 file
 * (pf_h5win.h) and reports the count and content checksum at end-of-stream.
 * With replicas, replica i writes PATH with ".rI" before the extension. */
#include "pf_h5win.h"
#include "pf_h5win_read.h"
#include "pf_error.h"
#include "pf_log.h"
#include "pf_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const pf_param_spec sink_params[] = {
    {"path", PF_P_STRING, NULL, 0, 0, NULL, "output HDF5 file (written as PATH.partial until complete)"},
    {"compression", PF_P_INT, "0", 0, 9, NULL, "gzip level for the sample data (0 = none)"},
    {"units", PF_P_STRING, "mV", 0, 0, NULL, "units of the samples, stored as an attribute of /data (\"1\" after z-scoring)"},
    {"flush_every", PF_P_INT, "64", 1, 1e9, NULL, "flush the file after this many windows (a killed sink leaves a readable .partial)"},
    {"flush_seconds", PF_P_DOUBLE, "1.0", 0.01, 3600, NULL, "... or after this many seconds, or when no window came for 0.1 s"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const pf_port_spec sink_ports[] = {
    {"in", PF_PORT_IN, PF_MSG_WINDOW, 0, "windows to store"},
    {NULL, 0, 0, 0, NULL},
};

typedef struct {
    pf_h5win *w;
    uint64_t rejected;
    uint64_t t0, last_flush_ns;
    int64_t flush_every;
    double flush_seconds;
} sink_t;

/* Flushing bounds what a kill -9 of the sink can lose: the file on disk is
 * always a readable .partial holding every window up to the last flush. */
static int sink_flush(sink_t *s)
{
    s->last_flush_ns = pf_now_ns();
    return pf_h5win_flush(s->w);
}

static int sink_idle(pf_node *n, void *state)
{
    (void)n;
    sink_t *s = state;
    return s->w && pf_h5win_unflushed(s->w) ? sink_flush(s) : PF_OK;
}

static int sink_create(pf_node *n, void **state)
{
    const pf_params *p = pf_node_params(n);
    char path[1024];
    const char *base = pf_params_string(p, "path");
    int prc = pf_h5win_read_path(base, pf_node_replica(n), pf_node_replicas(n), path, sizeof path); /* the readers' naming */
    if (prc) return prc;
    char producer[256];
    snprintf(producer, sizeof producer, "physioflow graph %s node %s.%d", pf_node_graph_name(n), pf_node_name(n), pf_node_replica(n));
    pf_h5win_opts o = {.compression = (int)pf_params_int(p, "compression"), .producer = producer,
                       .units = pf_params_string(p, "units")};
    sink_t *s = calloc(1, sizeof *s);
    if (!s) return pf_err(PF_ENOMEM, "sink: out of memory");
    *state = s;
    s->w = pf_h5win_create(path, &o);
    if (!s->w) return PF_EIO;
    s->t0 = s->last_flush_ns = pf_now_ns();
    s->flush_every = pf_params_int(p, "flush_every");
    s->flush_seconds = pf_params_double(p, "flush_seconds");
    return sink_flush(s);
}

static int sink_process(pf_node *n, void *state, const char *port, pf_msg *m)
{
    sink_t *s = state;
    int rc = pf_h5win_append(s->w, m);
    if (rc == PF_EFORMAT) {
        /* one odd window must not lose the rest: log, count, and mark the file incomplete */
        s->rejected++;
        pf_node_count(n, "rejected", 1);
        pf_warn("rejected: %s", pf_errmsg());
        return PF_OK;
    }
    if (rc) return rc;
    if ((int64_t)pf_h5win_unflushed(s->w) >= s->flush_every || (double)(pf_now_ns() - s->last_flush_ns) / 1e9 >= s->flush_seconds)
        return sink_flush(s);
    return PF_OK;
}

static int sink_finish(pf_node *n, void *state, int interrupted)
{
    sink_t *s = state;
    uint64_t count = pf_h5win_count(s->w), sum = pf_h5win_checksum(s->w);
    char path[1100];
    snprintf(path, sizeof path, "%s", pf_h5win_path(s->w));
    int complete = !interrupted && !s->rejected;
    double secs = (double)(pf_now_ns() - s->t0) / 1e9;
    int rc = pf_h5win_close(s->w, complete);
    s->w = NULL;
    if (rc) return rc;
    if (complete)
        pf_info("wrote %llu windows to %s (checksum %016llx, %.2f s)", (unsigned long long)count, path, (unsigned long long)sum, secs);
    else
        pf_warn("stream %s: %llu windows kept in %s.partial, marked incomplete (checksum %016llx, %llu rejected)",
                interrupted ? "interrupted" : "had rejected windows", (unsigned long long)count, path, (unsigned long long)sum,
                (unsigned long long)s->rejected);
    pf_node_count(n, "written", count);
    return PF_OK;
}

static void sink_destroy(void *state)
{
    sink_t *s = state;
    if (!s) return;
    if (s->w) pf_h5win_close(s->w, 0); /* failed before finish: leave it marked incomplete */
    free(s);
}

/* Before anything starts (`check`, `run`): the output folder exists and is writable. */
static int sink_check(const pf_params *p)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", pf_params_string(p, "path"));
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) return pf_err(PF_ENOTFOUND, "output folder '%s' does not exist", dir);
    if (access(dir, W_OK)) return pf_err(PF_EIO, "output folder '%s' is not writable", dir);
    return PF_OK;
}

const pf_kind pf_kind_sink = {
    .name = "sink",
    .check = sink_check,
    .doc = "write windows with all metadata to an HDF5 file",
    .params = sink_params,
    .ports = sink_ports,
    .create = sink_create,
    .process = sink_process,
    .finish = sink_finish,
    .destroy = sink_destroy,
    .idle = sink_idle,
};
