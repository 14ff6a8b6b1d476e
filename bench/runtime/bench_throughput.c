/* Source -> sink throughput over ipc: physioflow (repeat -> discard, two
 * node processes started by `physioflow run`) beside a raw ZeroMQ PUSH/PULL
 * between two processes moving the same bytes, in the same run. Both sides
 * time from the first message received to the last. Prints the median of
 * several alternating runs and the ratio.
 *   bench_throughput PHYSIOFLOW_EXE [windows] [runs]
 */
#include "../bench_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define LEADS 12
#define SAMPLES 5000 /* 10 s at 500 Hz */


/* windows/s of a raw PUSH/PULL pair in two processes */
static double raw_run(long n)
{
    size_t bytes = (size_t)LEADS * SAMPLES * sizeof(float);
    char ep[128];
    snprintf(ep, sizeof ep, "ipc:///tmp/pf-bench-raw-%d", (int)getpid());
    int fd[2];
    if (pipe(fd)) return 0;
    pid_t pid = fork();
    if (pid == 0) {
        void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PULL);
        zmq_bind(s, ep);
        char *buf = malloc(bytes);
        double t0 = 0;
        for (long i = 0; i < n; i++) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            zmq_msg_recv(&m, s, 0);
            memcpy(buf, zmq_msg_data(&m), 4); /* touch it, as a consumer would */
            zmq_msg_close(&m);
            if (i == 0) t0 = bench_now();
        }
        double rate = (double)(n - 1) / (bench_now() - t0);
        if (write(fd[1], &rate, sizeof rate) != sizeof rate) _exit(1);
        zmq_close(s);
        zmq_ctx_term(ctx);
        _exit(0);
    }
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PUSH);
    zmq_connect(s, ep);
    float *x = malloc(bytes);
    for (size_t i = 0; i < bytes / sizeof(float); i++) x[i] = (float)(i % 1000) * 1e-3f;
    for (long i = 0; i < n; i++) {
        x[0] = (float)i;
        zmq_send(s, x, bytes, 0);
    }
    double rate = 0;
    if (read(fd[0], &rate, sizeof rate) != sizeof rate) rate = 0;
    waitpid(pid, NULL, 0);
    zmq_close(s);
    zmq_ctx_term(ctx);
    free(x);
    close(fd[0]);
    close(fd[1]);
    return rate;
}

static double framework_run(const char *exe, long n, int hwm)
{
    char g[1024];
    snprintf(g, sizeof g, "name = \"bench%d\";\nnodes = (\n { name = \"src\"; kind = \"repeat\"; count = %ld; leads = %d; samples = %d; },\n"
                          " { name = \"sink\"; kind = \"discard\"; }\n);\nedges = ( { from = \"src\"; to = \"sink\"; hwm = %d; } );\n",
             (int)getpid(), n, LEADS, SAMPLES, hwm);
    return bench_graph_rate(exe, g);
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: %s PHYSIOFLOW_EXE [windows] [runs]\n", argv[0]); return 2; }
    long n = argc > 2 ? atol(argv[2]) : 20000;
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    double mb = (double)LEADS * SAMPLES * sizeof(float) / 1e6;
    printf("source -> sink over ipc, %ld windows of %d x %d float32 (%.2f MB), %d runs each, medians\n", n, LEADS, SAMPLES, mb, runs);
    int hwms[] = {16, 32, 64};
    double raw[32], fw[3][32];
    for (int r = 0; r < runs && r < 32; r++) {
        raw[r] = raw_run(n);
        for (int h = 0; h < 3; h++) fw[h][r] = framework_run(argv[1], n, hwms[h]);
        printf("  run %d: raw %.0f/s, physioflow hwm 16/32/64: %.0f %.0f %.0f /s\n", r + 1, raw[r], fw[0][r], fw[1][r], fw[2][r]);
        fflush(stdout);
    }
    double rm = bench_median(raw, runs);
    printf("%-28s %12s %10s %8s\n", "", "windows/s", "GB/s", "vs raw");
    printf("%-28s %12.0f %10.2f %8.2f\n", "raw ZeroMQ PUSH/PULL", rm, rm * mb / 1e3, 1.0);
    for (int h = 0; h < 3; h++) {
        double m = bench_median(fw[h], runs);
        char label[64];
        snprintf(label, sizeof label, "physioflow (edge hwm %d%s)", hwms[h], hwms[h] == 32 ? ", default" : "");
        printf("%-28s %12.0f %10.2f %8.2f\n", label, m, m * mb / 1e3, m / rm);
    }
    printf("target: physioflow >= 0.90 x raw\n");
    return 0;
}
