/* The C test harness (every C test under tests/ includes it).
 *   CHECK(cond, fmt, ...)  records a failure with file:line and goes on
 *   CHECK_OK(rc)           rc must be PF_OK; prints pf_errmsg() otherwise
 *   SKIP_TEST(fmt, ...)    exits 77 (ctest SKIP) with the reason
 *   data_dir(sub)          the shared data folder, or SKIP naming what is missing
 *   pf_test_done()         prints "N passed, N failed", returns the exit code
 * and, for the numeric tests (model), tracked allocations, random fills,
 * relative errors and a central finite-difference gradient checker. */
#ifndef PF_TEST_H
#define PF_TEST_H

#include "pf_error.h"
#include "pf_rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int pf_test_pass, pf_test_fail;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (cond) pf_test_pass++;                                             \
        else {                                                                \
            pf_test_fail++;                                                   \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                     \
            fprintf(stderr, "\n");                                            \
        }                                                                     \
    } while (0)

#define CHECK_OK(rc) CHECK((rc) == PF_OK, "rc %d: %s", (rc), pf_errmsg())

#define SKIP_TEST(...)                                                        \
    do {                                                                      \
        fprintf(stderr, "SKIP: ");                                            \
        fprintf(stderr, __VA_ARGS__);                                         \
        fprintf(stderr, "\n");                                                \
        exit(77);                                                             \
    } while (0)

/* $PF_SHARED_DATA (../shared/data in CI) when it holds sub, or exit 77 (ctest
 * SKIP) with a message naming what is missing. */
static inline const char *data_dir(const char *sub)
{
    static char p[1024];
    const char *d = getenv("PF_SHARED_DATA");
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", d ? d : "", sub);
    if (!d || stat(p, &st) != 0) {
        printf("SKIP: shared data '%s' not found (PF_SHARED_DATA=%s)\n", p, d ? d : "(unset)");
        exit(77);
    }
    snprintf(p, sizeof p, "%s", d);
    return p;
}

static inline int pf_test_done(void)
{
    printf("%d passed, %d failed\n", pf_test_pass, pf_test_fail);
    return pf_test_fail ? 1 : 0;
}

/* --- numeric helpers (model tests) ---------------------------------------- */

static int fd_quiet = 0; /* set while checking that the checker rejects a wrong gradient */

/* Test allocations are tracked and released at exit (keeps LeakSanitizer quiet
 * without a free() per buffer); t_free releases one early. */
static void *t_live[4096];
static int t_nlive = 0;
static inline void t_free_all(void)
{
    for (int i = 0; i < t_nlive; i++) free(t_live[i]);
    t_nlive = 0;
}
static inline float *t_alloc(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p || t_nlive == 4096) { fprintf(stderr, "out of memory\n"); exit(2); }
    if (t_nlive == 0) atexit(t_free_all);
    t_live[t_nlive++] = p;
    return p;
}
static inline void t_free(void *p)
{
    for (int i = 0; i < t_nlive; i++)
        if (t_live[i] == p) { free(p); t_live[i] = t_live[--t_nlive]; return; }
}

static inline void t_randn(float *x, size_t n, float std, pf_rng *r)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(std * pf_rng_normal(r));
}

/* max |a-b| / max(max|b|, floor): relative to the tensor's scale */
static inline double t_relerr(const float *a, const float *b, size_t n, double floor_)
{
    double md = 0, mb = floor_;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > md || isnan(d)) md = isnan(d) ? INFINITY : d;
        if (fabs(b[i]) > mb) mb = fabs(b[i]);
    }
    return md / mb;
}

/* Finite-difference checker. loss() runs the forward and returns a scalar
 * (accumulated in double); grad() zeroes and fills the analytic gradients. */
typedef double (*fd_loss_fn)(void *ctx);
typedef void (*fd_grad_fn)(void *ctx);
typedef struct { const char *name; float *x; const float *dx; size_t n; } fd_input;

/* Checks up to max_checks elements per input (random subset). Per element:
 * |num - ana| <= rtol * max(|num|, |ana|) + atol * max|ana over tensor|. */
static inline int fd_check(const char *op, void *ctx, fd_loss_fn loss, fd_grad_fn grad,
                    fd_input *in, int nin, float eps, double rtol, double atol, int verbose)
{
    pf_rng r;
    pf_rng_seed(&r, pf_hash_str(op));
    grad(ctx);
    int bad = 0;
    for (int k = 0; k < nin; k++) {
        double gmax = 1e-6;
        for (size_t i = 0; i < in[k].n; i++) gmax = fmax(gmax, fabs(in[k].dx[i]));
        size_t checks = in[k].n < 48 ? in[k].n : 48;
        double worst = 0;
        for (size_t c = 0; c < checks; c++) {
            size_t i = in[k].n <= 48 ? c : (size_t)pf_rng_below(&r, in[k].n);
            float keep = in[k].x[i];
            in[k].x[i] = keep + eps;
            double lp = loss(ctx);
            in[k].x[i] = keep - eps;
            double lm = loss(ctx);
            in[k].x[i] = keep;
            double num = (lp - lm) / (2.0 * eps), ana = in[k].dx[i];
            double err = fabs(num - ana), lim = rtol * fmax(fabs(num), fabs(ana)) + atol * gmax;
            if (err / lim > worst) worst = err / lim;
            if (!(err <= lim)) {
                if (bad < 5 && !fd_quiet)
                    fprintf(stderr, "  %s d/d%s[%zu]: numeric %.6g analytic %.6g\n", op,
                            in[k].name, i, num, ana);
                bad++;
            }
        }
        if (verbose) printf("  %-22s d/d%-6s worst err/limit %.3f\n", op, in[k].name, worst);
    }
    return bad;
}

#endif
