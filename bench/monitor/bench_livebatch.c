/* bench_livebatch: what batching saves on the live -> monitor edge, in one process.
 * 500 beds x 12 leads x 20 samples (40 ms at 500 Hz) per chunk, 100 000 chunks, sent by
 * one thread over a ZeroMQ ipc PUSH/PULL pair with the runtime's codec (pf_wire) and read
 * back by another (pf_livebatch_read, every sample touched), as `live` and `monitor` do:
 * (a) one message per chunk (batch = 1) vs (b) 64 chunks per message. Prints chunks/s and
 * CPU us per chunk of both, their ratio; medians of 5 alternating runs. The peer runs in
 * the same minute, so a loaded machine slows both alike. */
#include "../bench_common.h"
#include "pf_livebatch.h"
#include "pf_transport.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zmq.h>

#define BEDS 500
#define LEADS 12
#define NS 20
#define CHUNKS 100000

typedef struct { void *sock; int batch; } sender_t;

static float xs[LEADS * NS];

static void *send_loop(void *arg)
{
    sender_t *S = arg;
    pf_livebatch *lb = pf_livebatch_create();
    int64_t meta[PF_LM_N] = {0};
    for (int c = 0; c < CHUNKS; c++) {
        int bed = c % BEDS;
        meta[PF_LM_BED] = bed;
        meta[PF_LM_SEQ] = c / BEDS;
        if (S->batch == 1) {
            char id[32];
            snprintf(id, sizeof id, "bed-%d", bed);
            pf_msg *w = pf_msg_window_create(id, (uint64_t)(c / BEDS), (int64_t)(c / BEDS) * NS, 500, LEADS, NS);
            memcpy(pf_msg_samples(w), xs, sizeof xs);
            uint32_t d[1] = {PF_LM_N}, dn[1] = {27};
            pf_msg_add(w, PF_SEC_LIVE_META, PF_DT_I64, 1, d, meta);
            pf_msg_add(w, PF_SEC_LEAD_NAMES, PF_DT_U8, 1, dn, "I,II,III,aVR,aVL,aVF,V1,V2");
            pf_wire_send(S->sock, w, 0);
        } else {
            float *x = pf_livebatch_add(lb, meta, (int64_t)(c / BEDS) * NS, (uint64_t)(c / BEDS), 500, LEADS, NS, "I,II,III,aVR,aVL,aVF,V1,V2");
            memcpy(x, xs, sizeof xs);
            if (pf_livebatch_count(lb) == S->batch || c == CHUNKS - 1) pf_wire_send(S->sock, pf_livebatch_take(lb), 0);
        }
    }
    pf_livebatch_destroy(lb);
    return NULL;
}

static double cpu_s(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + (double)u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}

/* chunks/s; *cpu_us gets CPU microseconds per chunk (both threads) */
static double run(void *ctx, int batch, int rep, double *cpu_us)
{
    char ep[128];
    snprintf(ep, sizeof ep, "ipc:///tmp/pf-bench-livebatch-%d-%d-%d", (int)getpid(), batch, rep);
    void *pull = zmq_socket(ctx, ZMQ_PULL), *push = zmq_socket(ctx, ZMQ_PUSH);
    int hwm = 10000;
    zmq_setsockopt(pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(push, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_bind(pull, ep);
    zmq_connect(push, ep);
    sender_t S = {push, batch};
    static pf_livechunk ch[4096];
    double t0 = bench_now(), c0 = cpu_s(), sum = 0;
    pthread_t th;
    pthread_create(&th, NULL, send_loop, &S);
    for (int got = 0; got < CHUNKS;) {
        pf_msg *m = NULL;
        if (pf_wire_recv(pull, &m, 0, NULL)) break;
        int k = 0;
        pf_livebatch_read(m, ch, 4096, &k);
        for (int i = 0; i < k; i++) for (int j = 0; j < ch[i].n * ch[i].n_leads; j++) sum += ch[i].x[j];
        got += k;
        pf_msg_destroy(m);
    }
    pthread_join(th, NULL);
    double dt = bench_now() - t0;
    *cpu_us = (cpu_s() - c0) / CHUNKS * 1e6;
    int z = 0;
    zmq_setsockopt(push, ZMQ_LINGER, &z, sizeof z);
    zmq_close(push); zmq_close(pull);
    if (sum == 42) printf(" ");
    return CHUNKS / dt;
}

int main(void)
{
    for (int i = 0; i < LEADS * NS; i++) xs[i] = (float)(i % 17) * 0.01f;
    void *ctx = zmq_ctx_new();
    double r1[5], r64[5], c1[5], c64[5];
    for (int rep = 0; rep < 5; rep++) {
        r1[rep] = run(ctx, 1, rep, &c1[rep]);
        r64[rep] = run(ctx, 64, rep, &c64[rep]);
    }
    double a = bench_median(r1, 5), b = bench_median(r64, 5), ca = bench_median(c1, 5), cb = bench_median(c64, 5);
    printf("live -> monitor edge, %d beds x %d leads x %d samples per chunk, %d chunks over ipc, median of 5:\n", BEDS, LEADS, NS, CHUNKS);
    printf("  one message per chunk (batch = 1)   %9.0f chunks/s  %6.2f us CPU per chunk\n", a, ca);
    printf("  64 chunks per message (batch = 64)  %9.0f chunks/s  %6.2f us CPU per chunk\n", b, cb);
    double load = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) { if (fscanf(f, "%lf", &load) != 1) load = 0; fclose(f); }
    printf("  ratio batch 64 / batch 1: %.2fx chunks/s, %.2fx CPU per chunk (machine load %.1f)\n", b / a, cb / ca, load);
    zmq_ctx_term(ctx);
    return 0;
}
