/* Helpers shared by the benchmarks: a monotonic clock, medians, and running
 * a graph through `physioflow run` to read the rate its discard node logs
 * (first message to last, start-up excluded). Header-only: benches are
 * single-file programs. */
#ifndef PF_BENCH_COMMON_H
#define PF_BENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v; the mean of the middle two when n is even). */
static inline double bench_median(double *v, int n)
{
    if (n < 1) return 0;
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Write graph_text to a temporary config, run it, and return the windows/s
 * the discard node reports (0 if the run printed none). */
static inline double bench_graph_rate(const char *exe, const char *graph_text)
{
    char cfg[128], cmd[512], line[1024];
    snprintf(cfg, sizeof cfg, "/tmp/pf-bench-%d.cfg", (int)getpid());
    FILE *f = fopen(cfg, "w");
    if (!f) return 0;
    fputs(graph_text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s run %s --quiet 2>&1", exe, cfg);
    FILE *p = popen(cmd, "r");
    double rate = 0;
    while (p && fgets(line, sizeof line, p)) {
        char *w = strstr(line, " windows/s");
        if (w && strstr(line, "received")) {
            char *s = w;
            while (s > line && s[-1] != ' ') s--;
            rate = atof(s);
        }
    }
    if (p) pclose(p);
    unlink(cfg);
    return rate;
}

#endif
