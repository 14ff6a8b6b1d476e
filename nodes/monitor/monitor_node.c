/* `monitor`: per-bed arrhythmia monitoring of live bedside chunks (from the
 * `live` node). Each bed gets its own pf_bedmon (causal filter + streaming
 * R-peak detector + alarm rules), created when the bed first appears and
 * re-created when it reconnects with a different format. Alarm onsets and
 * clearances are events with bed, type, trigger sample and latency (trigger
 * sample's acquisition time -> emission), written to a JSON-lines file as
 * they happen and to an HDF5 log at the end; the optional `out` port carries
 * a display lead with R-peaks, the bed's state and its events (for the
 * dashboard). */
#include "pf_bedindex.h"
#include "pf_bedmon.h"
#include "pf_live.h"
#include "pf_livebatch.h"

#include "pf_error.h"
#include "pf_log.h"
#include "pf_node.h"

#include <hdf5.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const pf_param_spec mon_params[] = {
    {"events", PF_P_STRING, "out/events.jsonl", 0, 0, NULL, "JSON-lines file of alarm events, appended as they happen (\"\" = none)"},
    {"log", PF_P_STRING, "", 0, 0, NULL, "HDF5 event log written at the end (\"\" = none)"},
    {"max_beds", PF_P_INT, "20000", 1, 1000000, NULL, "beds monitored at once"},
    {"detect_leads", PF_P_INT, "3", 1, 3, NULL, "ECG leads given to the R-peak detector (II first, then V/V1/V5, ...)"},
    {"use_pulse", PF_P_BOOL, "true", 0, 0, NULL, "use PLETH/ABP pulses to reject ECG alarms the pulses contradict"},
    {"display_ms", PF_P_DOUBLE, "0", 0, 10000, NULL, "gather a bed's display samples for up to this long before sending them on out (fewer messages for many beds); an alarm event or a gap sends at once; 0 = a message per chunk"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const pf_port_spec mon_ports[] = {
    {"in", PF_PORT_IN, PF_MSG_WINDOW, 0, "bedside chunks with LIVE_META (from `live`)"},
    {"out", PF_PORT_OUT, PF_MSG_WINDOW, 1, "per chunk: a display lead, RPEAKS, MON_STATE, MON_EVENTS, LIVE_META"},
    {NULL, 0, 0, 0, NULL},
};

typedef struct {
    uint32_t bed;
    int used;
    pf_bedmon *m;
    double fs;
    int n_leads;
    char names[512];
    int64_t drops;
    uint32_t logged;  /* problems reported for this bed (first 5 in full, then 1 in 1000) */
    /* display_ms: the display samples and beats gathered since the last display message */
    float *dx; int dn, dcap;
    int64_t *dpk; int dpn, dpcap;
    int64_t dstart, dseq, dmeta[PF_LM_N];
} mbed_t;

static void bed_warn(mbed_t *b, const char *what)
{
    if (++b->logged <= 5 || b->logged % 1000 == 0) pf_warn("bed %u: %s; chunk dropped (bed's report #%u)", b->bed, what, b->logged);
}

typedef struct {
    mbed_t *beds;                     /* [max_beds], slot pf_bedindex_find */
    pf_bedindex *idx;
    size_t n_beds, max_beds;
    int detect_leads, use_pulse;
    FILE *jf;
    char log_path[1024];
    int64_t *ev; size_t nev, evcap;   /* [nev][PF_EV_N] for the HDF5 log */
    double *lat; size_t nlat, latcap; /* onset latencies, ms */
    pf_bedmon_event buf[256];
    int64_t pk[512];
    size_t bytes;
    pf_livechunk *chunks; int ncap; /* the chunks of the message in hand */
    int display;                    /* `out` is connected: build the display messages */
    double display_ms;
} mon_t;

/* With replicas (beds sharded by number, `live` sends bed b to replica b mod
 * replicas), each replica writes its own files: PATH with ".rN" before the
 * extension (events.jsonl -> events.r1.jsonl). */
static void replica_path(char *dst, size_t cap, const char *path, int replica, int replicas)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (replicas <= 1 || !path[0]) { snprintf(dst, cap, "%s", path); return; }
    if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : path)) snprintf(dst, cap, "%s.r%d", path, replica);
    else snprintf(dst, cap, "%.*s.r%d%s", (int)(dot - path), path, replica, dot);
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int mkparents(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') { *p = 0; if (mkdir(tmp, 0777) && errno != EEXIST) return -1; *p = '/'; }
    return 0;
}

static int mon_create(pf_node *n, void **state)
{
    const pf_params *p = pf_node_params(n);
    mon_t *M = calloc(1, sizeof *M);
    if (!M) return pf_err(PF_ENOMEM, "monitor: out of memory");
    *state = M;
    M->max_beds = (size_t)pf_params_int(p, "max_beds");
    M->detect_leads = (int)pf_params_int(p, "detect_leads");
    M->use_pulse = pf_params_bool(p, "use_pulse");
    M->idx = pf_bedindex_create(M->max_beds);
    M->beds = pf_bedindex_records(M->max_beds, sizeof *M->beds); /* dense, in joining order */
    if (!M->idx || !M->beds) return pf_err(PF_ENOMEM, "monitor: out of memory for %zu beds", M->max_beds);
    char ev[1024];
    int rep = pf_node_replica(n), reps = pf_node_replicas(n);
    replica_path(ev, sizeof ev, pf_params_string(p, "events"), rep, reps);
    M->display = pf_node_out_replicas(n, "out") > 0;
    M->display_ms = pf_params_double(p, "display_ms");
    if (ev[0]) {
        mkparents(ev);
        M->jf = fopen(ev, "w");
        if (!M->jf) return pf_err(PF_EIO, "monitor: events file '%s': %s", ev, strerror(errno));
        setvbuf(M->jf, NULL, _IOLBF, 0); /* a line per event, visible at once */
    }
    if (pf_params_string(p, "log")[0]) replica_path(M->log_path, sizeof M->log_path, pf_params_string(p, "log"), rep, reps);
    return PF_OK;
}

static mbed_t *find(mon_t *M, uint32_t bed)
{
    long i = pf_bedindex_find(M->idx, bed, 1);
    if (i < 0) return NULL;
    mbed_t *b = &M->beds[i];
    if (!b->used) { /* a new bed: its record is zero (pf_bedindex_records) */
        b->used = 1;
        b->bed = bed;
        M->n_beds++;
    }
    return b;
}

static void json_event(mon_t *M, const int64_t *e, double fs)
{
    if (!M->jf) return;
    fprintf(M->jf, "{\"bed\":%lld,\"type\":\"%s\",\"state\":\"%s\",\"sample\":%lld,\"t_s\":%.3f,\"latency_ms\":%.1f,\"pipeline_ms\":%.1f,\"emit_us\":%lld",
            (long long)e[PF_EV_BED], pf_alarm_name((int)e[PF_EV_TYPE]), e[PF_EV_ONSET] ? "onset" : "cleared", (long long)e[PF_EV_SAMPLE],
            (double)e[PF_EV_SAMPLE] / fs, (double)e[PF_EV_LATENCY_US] / 1e3, (double)e[PF_EV_PIPE_US] / 1e3, (long long)e[PF_EV_EMIT_US]);
    if (e[PF_EV_VALUE] != INT64_MIN) fprintf(M->jf, ",\"value\":%.1f", (double)e[PF_EV_VALUE] / 10.0);
    fprintf(M->jf, "}\n");
}

/* One display message on `out`: the first detection lead's samples x[nx] from start,
 * beats pk[np], the bed's state now, meta (LIVE_META) and the events (adopted). */
static int send_display(pf_node *n, mon_t *M, mbed_t *b, uint64_t seq, int64_t start, double fs, const float *x, int nx,
                        const int64_t *pk, int np, const int64_t *meta, int64_t *evrows, int nev)
{
    (void)M;
    char id[32];
    snprintf(id, sizeof id, "bed-%u", (unsigned)b->bed);
    double st[PF_ST_N];
    pf_bedmon_state(b->m, st);
    st[PF_ST_OUT_DROPS] = (double)b->drops;
    pf_msg *o = pf_msg_window_create(id, seq, start, fs, 1, (uint32_t)nx);
    if (!o) { free(evrows); return pf_err(PF_ENOMEM, "monitor: out of memory"); }
    memcpy(pf_msg_samples(o), x, sizeof(float) * (size_t)nx);
    uint32_t d1[1] = {(uint32_t)np}, d2[2] = {(uint32_t)nev, PF_EV_N}, d3[1] = {PF_ST_N}, d4[1] = {PF_LM_N};
    int rc = pf_msg_add(o, PF_SEC_MON_STATE, PF_DT_F64, 1, d3, st);
    if (!rc) rc = pf_msg_add(o, PF_SEC_LIVE_META, PF_DT_I64, 1, d4, (void *)meta);
    if (!rc && np) rc = pf_msg_add(o, PF_SEC_RPEAKS, PF_DT_I64, 1, d1, (void *)pk);
    if (!rc && nev) { rc = pf_msg_adopt(o, PF_SEC_MON_EVENTS, PF_DT_I64, 2, d2, evrows); evrows = NULL; }
    free(evrows);
    if (rc) { pf_msg_destroy(o); return rc; }
    uint64_t before = pf_node_dropped(n);
    rc = pf_node_send(n, "out", o);
    if (pf_node_dropped(n) > before) b->drops++;
    return rc;
}

/* Send what a bed gathered for display (display_ms), if anything. */
static int flush_display(pf_node *n, mon_t *M, mbed_t *b)
{
    if (!b->dn || !b->m) return PF_OK;
    int rc = send_display(n, M, b, (uint64_t)b->dseq, b->dstart, b->fs, b->dx, b->dn, b->dpk, b->dpn, b->dmeta, NULL, 0);
    b->dn = b->dpn = 0;
    return rc;
}

/* One bed's chunk (a whole message, or a row of a live batch). */
static int mon_chunk(pf_node *n, mon_t *M, const pf_livechunk *c, const char *id)
{
    int64_t meta[PF_LM_N];
    memcpy(meta, c->meta, sizeof meta);
    mbed_t *b = find(M, (uint32_t)meta[PF_LM_BED]);
    if (!b) { pf_node_count(n, "rejected", 1); return PF_OK; }
    char names[512] = "";
    if (c->names && (size_t)c->names_len < sizeof names) { memcpy(names, c->names, (size_t)c->names_len); names[c->names_len] = 0; }
    int fresh = !b->m || b->fs != c->fs || b->n_leads != c->n_leads || strcmp(b->names, names);
    if (fresh) {
        int frc = flush_display(n, M, b); /* what the old format gathered */
        if (frc) return frc;
        pf_bedmon_destroy(b->m);
        pf_bedmon_cfg bc;
        pf_bedmon_cfg_default(&bc, c->fs, c->n_leads);
        bc.lead_names = names[0] ? names : NULL;
        bc.max_detect_leads = M->detect_leads;
        bc.use_pulse = M->use_pulse;
        b->m = pf_bedmon_create(&bc);
        if (!b->m) {
            pf_node_count(n, "rejected", 1);
            bed_warn(b, pf_errmsg());
            return PF_OK;
        }
        b->fs = c->fs;
        b->n_leads = c->n_leads;
        snprintf(b->names, sizeof b->names, "%s", names);
        if (!M->bytes) M->bytes = pf_bedmon_bytes(b->m);
    }
    int nev = 0, np = 0;
    int rc = pf_bedmon_process(b->m, c->x, c->n, c->start, (uint32_t)meta[PF_LM_LEAD_OFF], M->buf, 256, &nev, M->pk, 512, &np);
    if (rc) {
        pf_node_count(n, "rejected", 1);
        bed_warn(b, pf_errmsg());
        return PF_OK;
    }
    int64_t now = wall_us();
    int64_t *evrows = nev ? malloc(sizeof(int64_t) * PF_EV_N * (size_t)nev) : NULL;
    for (int i = 0; i < nev; i++) {
        const pf_bedmon_event *e = &M->buf[i];
        int64_t acq = meta[PF_LM_T_US] + (int64_t)llround((double)(e->sample - c->start) * 1e6 / c->fs);
        int64_t *r = evrows ? evrows + (size_t)i * PF_EV_N : NULL, row[PF_EV_N];
        row[PF_EV_BED] = b->bed;
        row[PF_EV_TYPE] = e->type;
        row[PF_EV_ONSET] = e->onset;
        row[PF_EV_SAMPLE] = e->sample;
        row[PF_EV_LATENCY_US] = now - acq;
        row[PF_EV_VALUE] = isfinite(e->value) ? (int64_t)llround(e->value * 10) : INT64_MIN;
        row[PF_EV_EMIT_US] = now;
        row[PF_EV_PIPE_US] = now - meta[PF_LM_RECV_US];
        if (r) memcpy(r, row, sizeof row);
        json_event(M, row, c->fs);
        pf_node_count(n, e->onset ? "alarms" : "cleared", 1);
        if (M->nev == M->evcap) {
            size_t c = M->evcap ? 2 * M->evcap : 256;
            int64_t *ne = realloc(M->ev, sizeof(int64_t) * PF_EV_N * c);
            if (!ne) { free(evrows); return pf_err(PF_ENOMEM, "monitor: out of memory for the event log"); }
            M->ev = ne; M->evcap = c;
        }
        memcpy(M->ev + M->nev++ * PF_EV_N, row, sizeof row);
        if (e->onset) {
            if (M->nlat == M->latcap) { size_t c = M->latcap ? 2 * M->latcap : 256; double *nl = realloc(M->lat, sizeof(double) * c); if (nl) { M->lat = nl; M->latcap = c; } }
            if (M->nlat < M->latcap) M->lat[M->nlat++] = (double)row[PF_EV_LATENCY_US] / 1e3;
        }
    }
    if (!M->display) { free(evrows); return PF_OK; } /* nobody draws it */
    if (M->display_ms <= 0) return send_display(n, M, b, c->seq, c->start, c->fs, c->x, c->n, M->pk, np, meta, evrows, nev);
    /* gather: a gap (or a new timeline) sends what came before it; an event, or
     * display_ms of samples, sends what has gathered, this chunk included */
    if (b->dn && c->start != b->dstart + b->dn && (rc = flush_display(n, M, b))) { free(evrows); return rc; }
    if (b->dn + c->n > b->dcap || b->dpn + np > b->dpcap) {
        int nc = 2 * (b->dn + c->n), npc = 2 * (b->dpn + np) + 8;
        float *nx = realloc(b->dx, sizeof(float) * (size_t)nc);
        if (nx) b->dx = nx;
        int64_t *npk = nx ? realloc(b->dpk, sizeof(int64_t) * (size_t)npc) : NULL;
        if (npk) b->dpk = npk;
        if (!nx || !npk) { free(evrows); return pf_err(PF_ENOMEM, "monitor: out of memory for bed %u's display", b->bed); }
        b->dcap = nc; b->dpcap = npc;
    }
    if (!b->dn) b->dstart = c->start;
    memcpy(b->dx + b->dn, c->x, sizeof(float) * (size_t)c->n); /* lead 0 */
    b->dn += c->n;
    memcpy(b->dpk + b->dpn, M->pk, sizeof(int64_t) * (size_t)np);
    b->dpn += np;
    b->dseq = (int64_t)c->seq;
    memcpy(b->dmeta, meta, sizeof meta);
    if (!nev && b->dn < M->display_ms * 1e-3 * c->fs) return PF_OK;
    rc = send_display(n, M, b, (uint64_t)b->dseq, b->dstart, b->fs, b->dx, b->dn, b->dpk, b->dpn, b->dmeta, evrows, nev);
    b->dn = b->dpn = 0;
    return rc;
}

static int mon_process(pf_node *n, void *state, const char *port, pf_msg *msg)
{
    mon_t *M = state;
    int k = 0;
    if (M->ncap < 1) { M->ncap = 4096; M->chunks = malloc(sizeof *M->chunks * (size_t)M->ncap); if (!M->chunks) return pf_err(PF_ENOMEM, "monitor: out of memory"); }
    if (pf_livebatch_read(msg, M->chunks, M->ncap, &k)) {
        pf_node_count(n, "rejected", 1);
        pf_warn("%s; dropped", pf_errmsg());
        return PF_OK;
    }
    if (!k) {
        pf_node_count(n, "rejected", 1);
        pf_warn("window '%s': no LIVE_META or LIVE_BATCH section (monitor takes chunks from a `live` node); dropped", msg->id);
        return PF_OK;
    }
    int batch = pf_msg_find_const(msg, PF_SEC_LIVE_BATCH) != NULL;
    for (int i = 0; i < k; i++) {
        char id[32];
        if (batch) snprintf(id, sizeof id, "bed-%u", (unsigned)M->chunks[i].meta[PF_LM_BED]);
        int rc = mon_chunk(n, M, &M->chunks[i], batch ? id : msg->id);
        if (rc) return rc;
    }
    return PF_OK;
}

static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

static int write_log(mon_t *M)
{
    mkparents(M->log_path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fcreate(M->log_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return pf_err(PF_EIO, "monitor: cannot create the event log '%s'", M->log_path);
    hsize_t d[2] = {M->nev, PF_EV_N};
    hid_t sp = H5Screate_simple(2, d, NULL), ds = H5Dcreate2(f, "events", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = M->nev ? H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, M->ev) : 0;
    const char *cols = "bed,type,onset,sample,latency_us,value_x10,emit_us,pipeline_us";
    char types[256] = "";
    for (int t = 1; t < PF_ALARM_N; t++) { char s[32]; snprintf(s, sizeof s, "%s%d=%s", t > 1 ? "," : "", t, pf_alarm_name(t)); strcat(types, s); }
    const char *an[2] = {"columns", "types"}, *av[2] = {cols, types};
    for (int i = 0; i < 2; i++) {
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, strlen(av[i]) + 1);
        hid_t as = H5Screate(H5S_SCALAR), a = H5Acreate2(ds, an[i], st, as, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, st, av[i]);
        H5Aclose(a); H5Sclose(as); H5Tclose(st);
    }
    H5Dclose(ds); H5Sclose(sp);
    if (H5Fclose(f) < 0 || e < 0) return pf_err(PF_EIO, "monitor: writing the event log '%s' failed", M->log_path);
    return PF_OK;
}

static int mon_finish(pf_node *n, void *state, int interrupted)
{
    mon_t *M = state;
    for (size_t i = 0; i < M->n_beds; i++) { /* the display gathered when the stream ended */
        int rc = flush_display(n, M, &M->beds[i]);
        if (rc) return rc;
    }
    double restarts = 0;
    for (size_t i = 0; i < M->n_beds; i++)
        if (M->beds[i].m) { double st[PF_ST_N]; pf_bedmon_state(M->beds[i].m, st); restarts += st[PF_ST_RESTARTS]; }
    pf_node_count(n, "restarts", (uint64_t)restarts);
    if (M->nlat) {
        qsort(M->lat, M->nlat, sizeof *M->lat, cmp_d);
        double p50 = M->lat[M->nlat / 2], p99 = M->lat[(size_t)((double)(M->nlat - 1) * 0.99)];
        pf_info("%zu beds, %zu alarm onsets; latency trigger sample -> emission p50 %.1f ms, p99 %.1f ms; ~%.0f KB of state per bed", M->n_beds,
                M->nlat, p50, p99, (double)M->bytes / 1024);
    } else {
        pf_info("%zu beds, no alarms; ~%.0f KB of state per bed", M->n_beds, (double)M->bytes / 1024);
    }
    if (M->log_path[0]) {
        int rc = write_log(M);
        if (rc) return rc;
        pf_info("wrote %zu events to %s", M->nev, M->log_path);
    }
    return PF_OK;
}

static void mon_destroy(void *state)
{
    mon_t *M = state;
    if (!M) return;
    for (size_t i = 0; i < M->n_beds && M->beds; i++) { pf_bedmon_destroy(M->beds[i].m); free(M->beds[i].dx); free(M->beds[i].dpk); }
    if (M->jf) fclose(M->jf);
    pf_bedindex_records_free(M->beds, M->max_beds, sizeof *M->beds); pf_bedindex_destroy(M->idx); free(M->ev); free(M->lat); free(M->chunks);
    free(M);
}

const pf_kind pf_kind_monitor = {
    .name = "monitor",
    .doc = "per-bed heart rate, rhythm, signal quality and alarms (onset/clearance events with latency) on live chunks",
    .params = mon_params,
    .ports = mon_ports,
    .create = mon_create,
    .process = mon_process,
    .finish = mon_finish,
    .destroy = mon_destroy,
};
