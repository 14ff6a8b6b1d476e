/* libFuzzer harness: hostile but well-formed windows into each node kind's
 * process(), through the same validation and content guard the runtime runs
 * on a received message (pf_node_local_feed). The fuzzed bytes choose the node
 * kind and a parameter variant, the sample rate, shape, start sample, R-peaks,
 * beat boundaries and the samples (NaN and Inf included).
 *
 * Oracle: process() never fails on a window (a window a node cannot take is
 * dropped and counted with pf_node_reject, the node carries on), and nothing
 * crashes or touches memory it must not (ASan + UBSan in the libFuzzer build). */
#include "pf_error.h"
#include "pf_log.h"
#include "pf_node.h"
#include "pf_params.h"
#include "pf_wire.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const pf_kind pf_kind_filter, pf_kind_rpeak, pf_kind_shuffle, pf_kind_delineate, pf_kind_passthrough, pf_kind_sink;

/* kind, then "name=value" overrides of its defaults (one variant per row) */
static const struct { const pf_kind *kind; const char *set[6]; } variants[] = {
    {&pf_kind_filter, {NULL}},
    {&pf_kind_filter, {"mode=zerophase", "normalize=zscore", "notch=50", "baseline=0.5", NULL}},
    {&pf_kind_filter, {"resample=250", "engine=liquid", "normalize=minmax", NULL}},
    {&pf_kind_filter, {"resample=500", "band=highpass", NULL}},
    {&pf_kind_rpeak, {NULL}},
    {&pf_kind_shuffle, {NULL}},
    {&pf_kind_shuffle, {"views=2", "mask_p=0.5", "noise_p=0.5", "wander_p=0.5", "powerline_p=0.5", "scale_p=0.5"}},
    {&pf_kind_shuffle, {"prefix=keep", "output=replace", "feature_lead=1", "shift_p=1", NULL}},
    {&pf_kind_delineate, {NULL}},
    {&pf_kind_passthrough, {NULL}},
    {&pf_kind_sink, {NULL}},
};
#define N_VARIANTS (int)(sizeof variants / sizeof *variants)

static char sink_path[64];

static void remove_sink_file(void)
{
    char p[80];
    snprintf(p, sizeof p, "%s.partial", sink_path);
    unlink(p);
    unlink(sink_path);
}

static pf_params *params_for(int v)
{
    pf_params *p = pf_params_create();
    for (const pf_param_spec *s = variants[v].kind->params; s && s->name; s++) {
        const char *val = s->def;
        char buf[128];
        for (int k = 0; k < 6 && variants[v].set[k]; k++) {
            size_t l = strlen(s->name);
            if (!strncmp(variants[v].set[k], s->name, l) && variants[v].set[k][l] == '=') val = variants[v].set[k] + l + 1;
        }
        if (!strcmp(s->name, "path")) val = sink_path;
        if (!val) continue;
        snprintf(buf, sizeof buf, "%s", val);
        if (buf[0] == '"') { memmove(buf, buf + 1, strlen(buf)); buf[strcspn(buf, "\"")] = 0; }
        switch (s->type) {
        case PF_P_INT: pf_params_set_int(p, s->name, strtoll(buf, NULL, 10)); break;
        case PF_P_DOUBLE: pf_params_set_double(p, s->name, strtod(buf, NULL)); break;
        case PF_P_BOOL: pf_params_set_bool(p, s->name, !strcmp(buf, "true")); break;
        case PF_P_STRING: pf_params_set_string(p, s->name, buf); break;
        default: break;
        }
    }
    return p;
}

/* A little reader over the fuzzed bytes; zeros once they run out. */
typedef struct { const uint8_t *d; size_t n, at; } rd;
static uint64_t take(rd *r, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)(r->at < r->n ? r->d[r->at++] : 0) << (8 * i);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        init = 1;
        snprintf(sink_path, sizeof sink_path, "/tmp/pf-fuzz-sink-%d.h5", (int)getpid());
        atexit(remove_sink_file);
        pf_log_set_level(PF_LOG_ERROR); /* drop logs would flood the fuzzer's output */
    }
    rd r = {data, size, 0};
    int v = (int)(take(&r, 1) % N_VARIANTS);
    static const double rates[] = {1, 10, 50, 128, 250, 360, 500, 1000, 0};
    double fs = rates[take(&r, 1) % 9];
    if (fs == 0) {
        uint64_t bits = take(&r, 8);
        memcpy(&fs, &bits, sizeof fs);
    }
    uint32_t L = 1 + (uint32_t)(take(&r, 1) % 4), T = 1 + (uint32_t)(take(&r, 2) % 3000);
    int mode = (int)take(&r, 1);
    int64_t start = (mode & 1) ? (int64_t)take(&r, 8) : (int64_t)take(&r, 2);
    int np = (int)(take(&r, 1) % 24), nb = (int)(take(&r, 1) % 6);
    int64_t peaks[24], beats[6 * 9];
    for (int i = 0; i < np; i++) peaks[i] = (mode & 2) ? (int64_t)take(&r, 8) : start + (int16_t)take(&r, 2);
    for (int i = 0; i < nb * 9; i++) {
        int16_t o = (int16_t)take(&r, 2);
        beats[i] = o < 0 ? -1 : start + o % (int64_t)T; /* inside the window: what the guard lets through */
        if (mode & 4) beats[i] = (int64_t)take(&r, 8);  /* anything: the guard must stop it */
    }
    pf_msg *m = pf_msg_window_create("fuzz", take(&r, 1), start, fs, L, T);
    if (!m) return 0;
    float *x = pf_msg_samples(m);
    size_t left = r.n - r.at;
    for (size_t i = 0; i < (size_t)L * T; i++) {
        if (!left) { x[i] = (float)sin((double)i * 0.05); continue; }
        if (mode & 8) { uint32_t b = (uint32_t)take(&r, 4); memcpy(&x[i], &b, 4); }           /* raw floats: NaN, Inf, huge */
        else x[i] = (float)(int8_t)r.d[r.at + i % left] / 32.0f;                            /* bounded, repeating */
    }
    uint32_t dp = (uint32_t)np, db[2] = {(uint32_t)nb, 9};
    if (np) pf_msg_add(m, PF_SEC_RPEAKS, PF_DT_I64, 1, &dp, peaks);
    if (nb && (mode & 16)) pf_msg_add(m, PF_SEC_BEATS, PF_DT_I64, 2, db, beats);

    pf_params *params = params_for(v);
    pf_instance inst = {.graph_name = "fuzz", .node = "n", .kind = variants[v].kind, .replica = 0, .replicas = 1,
                        .seed = 1, .params = params, .drain_timeout = 1};
    pf_node *n = pf_node_local_create(&inst);
    if (!n) { fprintf(stderr, "cannot create %s: %s\n", variants[v].kind->name, pf_errmsg()); abort(); }
    int rc = pf_node_local_feed(n, "in", m);
    if (rc) { fprintf(stderr, "%s failed on a window (fs %g, %u x %u): %s\n", variants[v].kind->name, fs, L, T, pf_errmsg()); abort(); }
    rc = pf_node_local_finish(n, 0);
    if (rc) { fprintf(stderr, "%s failed at end of stream: %s\n", variants[v].kind->name, pf_errmsg()); abort(); }
    pf_node_local_destroy(n);
    pf_msg_destroy(m);
    pf_params_destroy(params);
    return 0;
}
