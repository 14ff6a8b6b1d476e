#include "pf_ops.h"

#include <cblas.h>
#include <pthread.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "pf_error.h"
#include "pf_parallel.h"

/* Hot elementwise loops are compiled for several ISAs and picked at load time
 * (GCC ifunc), so the default x86-64 build still uses AVX2/AVX-512 when present. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define PF_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define PF_CLONES
#endif

/* ============================ GEMM (one thread pool) ====================== */

/* OpenBLAS's pthread workers spin in sched_yield between calls and fight the
 * OpenMP workers that run everything else (a profile showed ~30% of a 2-thread
 * step in sched_yield). So the model core runs OpenBLAS single-threaded and
 * splits each large product over its own workers: C rows (or columns) in
 * blocks, each block one single-threaded sgemm. Same sums in the same order
 * for every element, so results do not depend on the thread count. */
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single(void) { openblas_set_num_threads(1); }

typedef struct {
    int ta, tb, M, N, K, lda, ldb, ldc, split_m, chunks;
    float alpha, beta;
    const float *A, *B;
    float *C;
} gemm_ctx;

static void gemm_block(const gemm_ctx *g, int c)
{
    int total = g->split_m ? g->M : g->N;
    /* block edges on multiples of 16 keep the kernels' full-width paths */
    int lo = (int)((long)total * c / g->chunks) / 16 * 16, hi = (int)((long)total * (c + 1) / g->chunks) / 16 * 16;
    if (c == g->chunks - 1) hi = total;
    if (hi <= lo) return;
    if (g->split_m) {
        const float *A = g->ta ? g->A + lo : g->A + (size_t)lo * g->lda;
        cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans,
                    hi - lo, g->N, g->K, g->alpha, A, g->lda, g->B, g->ldb, g->beta, g->C + (size_t)lo * g->ldc, g->ldc);
    } else {
        const float *B = g->tb ? g->B + (size_t)lo * g->ldb : g->B + lo;
        cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans,
                    g->M, hi - lo, g->K, g->alpha, g->A, g->lda, B, g->ldb, g->beta, g->C + lo, g->ldc);
    }
}

void pf_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc)
{
    pthread_once(&blas_once, blas_single);
    int nt = pf_threads();
    double work = (double)M * N * K;
    gemm_ctx g = {ta, tb, M, N, K, lda, ldb, ldc, M >= N, 1, alpha, beta, A, B, C};
    int span = g.split_m ? M : N;
    if (nt > 1 && work >= 4e6 && span >= 32 * nt) g.chunks = nt;
    if (g.chunks == 1) {
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K,
                    alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(g.chunks)
#endif
    for (int c = 0; c < g.chunks; c++) gemm_block(&g, c);
}

/* ============================ linear ====================================== */

void pf_linear_forward(float *y, const float *x, const float *w, const float *b,
                       int N, int IN, int OUT)
{
    // y[N, OUT] = x[N, IN] @ w[OUT, IN]^T (+ b broadcast)
    float beta = 0.0f;
    if (b) {
        for (int n = 0; n < N; n++) memcpy(y + (size_t)n * OUT, b, (size_t)OUT * sizeof(float));
        beta = 1.0f;
    }
    pf_gemm(0, 1, N, OUT, IN, 1.0f, x, IN, w, IN, beta,
                y, OUT);
}

void pf_linear_backward(float *dx, float *dw, float *db, const float *dy,
                        const float *x, const float *w, int N, int IN, int OUT)
{
    // dx[N, IN] += dy[N, OUT] @ w[OUT, IN]
    if (dx)
        pf_gemm(0, 0, N, IN, OUT, 1.0f, dy, OUT, w, IN,
                    1.0f, dx, IN);
    // dw[OUT, IN] += dy^T[OUT, N] @ x[N, IN]
    if (dw)
        pf_gemm(1, 0, OUT, IN, N, 1.0f, dy, OUT, x, IN,
                    1.0f, dw, IN);
    if (db)
        for (int n = 0; n < N; n++) {
            const float *r = dy + (size_t)n * OUT;
            for (int o = 0; o < OUT; o++) db[o] += r[o];
        }
}

void pf_linear_forward_naive(float *y, const float *x, const float *w, const float *b,
                             int N, int IN, int OUT)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OUT; o++) {
            double s = b ? b[o] : 0.0;
            for (int i = 0; i < IN; i++) s += (double)x[(size_t)n * IN + i] * w[(size_t)o * IN + i];
            y[(size_t)n * OUT + o] = (float)s;
        }
}

void pf_linear_backward_naive(float *dx, float *dw, float *db, const float *dy,
                              const float *x, const float *w, int N, int IN, int OUT)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OUT; o++) {
            float g = dy[(size_t)n * OUT + o];
            if (db) db[o] += g;
            for (int i = 0; i < IN; i++) {
                if (dx) dx[(size_t)n * IN + i] += g * w[(size_t)o * IN + i];
                if (dw) dw[(size_t)o * IN + i] += g * x[(size_t)n * IN + i];
            }
        }
}

/* ============================ batched matmul ============================== */

void pf_bmm_forward(float *c, const float *a, const float *bm, int BATCH, int M, int K, int N)
{
    for (int b = 0; b < BATCH; b++)
        pf_gemm(0, 0, M, N, K, 1.0f,
                    a + (size_t)b * M * K, K, bm + (size_t)b * K * N, N, 0.0f,
                    c + (size_t)b * M * N, N);
}

void pf_bmm_backward(float *da, float *dbm, const float *dc, const float *a, const float *bm,
                     int BATCH, int M, int K, int N)
{
    for (int b = 0; b < BATCH; b++) {
        const float *dcb = dc + (size_t)b * M * N;
        // da[M, K] += dc[M, N] @ bm^T[N, K]
        if (da)
            pf_gemm(0, 1, M, K, N, 1.0f, dcb, N,
                        bm + (size_t)b * K * N, N, 1.0f, da + (size_t)b * M * K, K);
        // dbm[K, N] += a^T[K, M] @ dc[M, N]
        if (dbm)
            pf_gemm(1, 0, K, N, M, 1.0f,
                        a + (size_t)b * M * K, K, dcb, N, 1.0f, dbm + (size_t)b * K * N, N);
    }
}

void pf_bmm_forward_naive(float *c, const float *a, const float *bm, int BATCH, int M, int K, int N)
{
    for (int b = 0; b < BATCH; b++)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double s = 0;
                for (int k = 0; k < K; k++)
                    s += (double)a[((size_t)b * M + i) * K + k] * bm[((size_t)b * K + k) * N + j];
                c[((size_t)b * M + i) * N + j] = (float)s;
            }
}

void pf_bmm_backward_naive(float *da, float *dbm, const float *dc, const float *a,
                           const float *bm, int BATCH, int M, int K, int N)
{
    for (int b = 0; b < BATCH; b++)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float g = dc[((size_t)b * M + i) * N + j];
                for (int k = 0; k < K; k++) {
                    if (da) da[((size_t)b * M + i) * K + k] += g * bm[((size_t)b * K + k) * N + j];
                    if (dbm) dbm[((size_t)b * K + k) * N + j] += g * a[((size_t)b * M + i) * K + k];
                }
            }
}

/* ============================ LayerNorm =================================== */

typedef struct {
    float *y, *mean, *rstd, *dx, *dw, *db;
    const float *x, *w, *b, *dy, *cmean, *crstd;
    int N, C;
    float eps;
} ln_ctx;

PF_CLONES
static void ln_fwd_rows(void *vc, size_t lo, size_t hi)
{
    ln_ctx *k = vc;
    int C = k->C;
    for (size_t n = lo; n < hi; n++) {
        const float *xr = k->x + n * C;
        float *yr = k->y + n * C;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int c = 0; c < C; c++) s += xr[c];
        float m = s / C;
        float v = 0.0f;
#pragma omp simd reduction(+ : v)
        for (int c = 0; c < C; c++) { float d = xr[c] - m; v += d * d; }
        float r = 1.0f / sqrtf(v / C + k->eps);
        for (int c = 0; c < C; c++) yr[c] = (xr[c] - m) * r * k->w[c] + k->b[c];
        if (k->mean) k->mean[n] = m;
        if (k->rstd) k->rstd[n] = r;
    }
}

void pf_layernorm_forward(float *y, float *mean, float *rstd, const float *x,
                          const float *w, const float *b, int N, int C, float eps)
{
    ln_ctx k = {.y = y, .mean = mean, .rstd = rstd, .x = x, .w = w, .b = b, .N = N, .C = C, .eps = eps};
    pf_parallel_for((size_t)N, 64, ln_fwd_rows, &k);
}

PF_CLONES
static void ln_bwd_rows(void *vc, size_t lo, size_t hi)
{
    ln_ctx *k = vc;
    int C = k->C;
    for (size_t n = lo; n < hi; n++) {
        const float *dyr = k->dy + n * C, *xr = k->x + n * C;
        float m = k->cmean[n], r = k->crstd[n];
        // two reductions: mean(dnorm) and mean(dnorm * norm), dnorm = dy * w
        float s1 = 0.0f, s2 = 0.0f;
#pragma omp simd reduction(+ : s1, s2)
        for (int c = 0; c < C; c++) {
            float nrm = (xr[c] - m) * r, dn = dyr[c] * k->w[c];
            s1 += dn;
            s2 += dn * nrm;
        }
        s1 /= C;
        s2 /= C;
        float *dxr = k->dx + n * C;
        for (int c = 0; c < C; c++) {
            float nrm = (xr[c] - m) * r;
            dxr[c] += (dyr[c] * k->w[c] - s1 - nrm * s2) * r;
        }
    }
}

/* dw, db: each worker owns a block of columns, so no two write the same sum */
PF_CLONES
static void ln_bwd_cols(void *vc, size_t lo, size_t hi)
{
    ln_ctx *k = vc;
    int C = k->C;
    for (int n = 0; n < k->N; n++) {
        const float *dyr = k->dy + (size_t)n * C, *xr = k->x + (size_t)n * C;
        float m = k->cmean[n], r = k->crstd[n];
        for (size_t c = lo; c < hi; c++) {
            if (k->db) k->db[c] += dyr[c];
            if (k->dw) k->dw[c] += dyr[c] * (xr[c] - m) * r;
        }
    }
}

void pf_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                           const float *mean, const float *rstd, const float *w, int N, int C)
{
    ln_ctx k = {.dx = dx, .dw = dw, .db = db, .dy = dy, .x = x, .cmean = mean, .crstd = rstd,
                .w = w, .N = N, .C = C};
    if (dx) pf_parallel_for((size_t)N, 64, ln_bwd_rows, &k);
    if (dw || db) pf_parallel_for((size_t)C, 64, ln_bwd_cols, &k);
}

/* ============================ GELU (erf) =================================== */

/* exp(x) for float, branch-free so loops vectorise: 2^n * p(r), |r| <= ln2/2,
 * degree-6 polynomial; relative error ~2e-7 on [-87, 88]. */
static inline float fast_expf(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float shifter = 12582912.0f;   /* 1.5 * 2^23: rounds to nearest integer */
    float t = x * 1.44269504089f + shifter;
    float n = t - shifter;
    float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union { float f; int32_t i; } u;
    u.i = ((int32_t)n + 127) << 23;
    return p * u.f;
}

/* erfc(z) for z >= 0 with fractional error < 1.2e-7 everywhere (Numerical
 * Recipes' Chebyshev fit), so GELU keeps its relative accuracy in the tails. */
static inline float fast_erfc_pos(float z)
{
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    return t * fast_expf(-z * z + p);
}

/* 1 + erf(x / sqrt 2) = 2 Phi(x), from erfc so both tails stay accurate */
static inline float two_phi(float x)
{
    float c = fast_erfc_pos(fabsf(x) * 0.70710678118654752f);
    float s = x < 0.0f ? 0.0f : 2.0f;            /* branch-free select */
    float sg = x < 0.0f ? 1.0f : -1.0f;
    return s + sg * c;
}

#define PF_INV_SQRT2 0.70710678118654752f
#define PF_INV_SQRT_2PI 0.39894228040143268f

typedef struct { float *y; const float *x, *dy; } ew_ctx;

PF_CLONES
static void gelu_fwd_chunk(void *vc, size_t lo, size_t hi)
{
    ew_ctx *k = vc;
    float *y = k->y;
    const float *x = k->x;
    for (size_t i = lo; i < hi; i++) y[i] = 0.5f * x[i] * two_phi(x[i]);
}

void pf_gelu_forward(float *y, const float *x, size_t n)
{
    ew_ctx k = {y, x, NULL};
    pf_parallel_for(n, 1 << 15, gelu_fwd_chunk, &k);
}

PF_CLONES
static void gelu_bwd_chunk(void *vc, size_t lo, size_t hi)
{
    ew_ctx *k = vc;
    float *dx = k->y;
    const float *x = k->x, *dy = k->dy;
    for (size_t i = lo; i < hi; i++) {
        float v = x[i];
        float cdf = 0.5f * two_phi(v);
        float pdf = PF_INV_SQRT_2PI * fast_expf(-0.5f * v * v);
        dx[i] += dy[i] * (cdf + v * pdf);
    }
}

void pf_gelu_backward(float *dx, const float *dy, const float *x, size_t n)
{
    ew_ctx k = {dx, x, dy};
    pf_parallel_for(n, 1 << 15, gelu_bwd_chunk, &k);
}

void pf_gelu_forward_naive(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * PF_INV_SQRT2));
}

void pf_gelu_backward_naive(float *dx, const float *dy, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        double g = 0.5 * (1.0 + erf(v / sqrt(2.0))) + v * exp(-0.5 * v * v) / sqrt(2.0 * M_PI);
        dx[i] += (float)(dy[i] * g);
    }
}

/* ============================ sigmoid / softmax ============================ */

void pf_sigmoid_forward(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] >= 0 ? 1.0f / (1.0f + expf(-x[i])) : expf(x[i]) / (1.0f + expf(x[i]));
}

void pf_sigmoid_backward(float *dx, const float *dy, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}

PF_CLONES
static void softmax_rows(float *y, const float *x, int N, int C)
{
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C;
        float *yr = y + (size_t)n * C;
        /* omp simd reductions: vectorised sums (fixed lane order, so still deterministic) */
        float mx = -FLT_MAX;
#pragma omp simd reduction(max : mx)
        for (int c = 0; c < C; c++) mx = xr[c] > mx ? xr[c] : mx;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int c = 0; c < C; c++) { yr[c] = fast_expf(xr[c] - mx); s += yr[c]; }
        float inv = 1.0f / s;
        for (int c = 0; c < C; c++) yr[c] *= inv;
    }
}

typedef struct { float *y; const float *x; int C; } sm_ctx;
static void softmax_chunk(void *vc, size_t lo, size_t hi)
{
    sm_ctx *k = vc;
    softmax_rows(k->y + lo * k->C, k->x + lo * k->C, (int)(hi - lo), k->C);
}

void pf_softmax_forward(float *y, const float *x, int N, int C)
{
    sm_ctx k = {y, x, C};
    pf_parallel_for((size_t)N, (size_t)(1 << 14) / (size_t)(C > 0 ? C : 1) + 1, softmax_chunk, &k);
}

PF_CLONES
void pf_softmax_backward(float *dx, const float *dy, const float *y, int N, int C)
{
    for (int n = 0; n < N; n++) {
        const float *dyr = dy + (size_t)n * C, *yr = y + (size_t)n * C;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int c = 0; c < C; c++) s += dyr[c] * yr[c];
        float *dxr = dx + (size_t)n * C;
        for (int c = 0; c < C; c++) dxr[c] += yr[c] * (dyr[c] - s);
    }
}

/* ============================ add / dropout ================================ */

typedef struct { float *y; const float *a, *b; } add_ctx;
static void add_chunk(void *vc, size_t lo, size_t hi)
{
    add_ctx *k = vc;
    for (size_t i = lo; i < hi; i++) k->y[i] = k->a[i] + k->b[i];
}

void pf_add_forward(float *y, const float *a, const float *b, size_t n)
{
    add_ctx k = {y, a, b};
    pf_parallel_for(n, 1 << 16, add_chunk, &k);
}

void pf_add_backward(float *da, float *db, const float *dy, size_t n)
{
    if (da) for (size_t i = 0; i < n; i++) da[i] += dy[i];
    if (db) for (size_t i = 0; i < n; i++) db[i] += dy[i];
}

/* Masks are a counter-based hash: the 16-bit draws for elements 4g..4g+3 are
 * the four quarters of splitmix64(base + g * golden), base drawn once from r. So
 * the mask is a pure function of (r's state, index): independent of the thread
 * count and of chunking, and the loop vectorises. Keep iff u >= round(p * 2^16),
 * i.e. p is quantised to 1/65536. */
#define PF_DROP_CHUNK 16384

typedef struct { float *y; uint8_t *mask; const float *x; uint64_t base; uint32_t thr; float scale; size_t n; } drop_ctx;

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

PF_CLONES
static void drop_chunk(void *vc, size_t clo, size_t chi)
{
    drop_ctx *k = vc;
    size_t lo = clo * PF_DROP_CHUNK, hi = chi * PF_DROP_CHUNK < k->n ? chi * PF_DROP_CHUNK : k->n;
    size_t g0 = lo / 4, g1 = hi / 4;   /* lo is a multiple of 4 */
    uint8_t *mask = k->mask;
    uint32_t thr = k->thr;
    uint64_t base = k->base;
    for (size_t g = g0; g < g1; g++) {
        uint64_t bits = mix64(base + (uint64_t)g * 0x9E3779B97F4A7C15ull);
        mask[4 * g] = (uint32_t)(bits & 0xFFFFu) >= thr;
        mask[4 * g + 1] = (uint32_t)((bits >> 16) & 0xFFFFu) >= thr;
        mask[4 * g + 2] = (uint32_t)((bits >> 32) & 0xFFFFu) >= thr;
        mask[4 * g + 3] = (uint32_t)(bits >> 48) >= thr;
    }
    if (g1 * 4 < hi) {   /* tail of the last chunk */
        uint64_t bits = mix64(base + (uint64_t)g1 * 0x9E3779B97F4A7C15ull);
        for (size_t i = g1 * 4; i < hi; i++, bits >>= 16) mask[i] = (uint32_t)(bits & 0xFFFFu) >= thr;
    }
    if (k->y)
        for (size_t i = lo; i < hi; i++) k->y[i] = k->x[i] * ((float)mask[i] * k->scale);
}

void pf_dropout_mask(uint8_t *mask, size_t n, float p, pf_rng *r)
{
    if (p <= 0.0f) { memset(mask, 1, n); return; }
    drop_ctx k = {NULL, mask, NULL, pf_rng_u64(r), (uint32_t)((double)p * 65536.0 + 0.5), 1.0f, n};
    pf_parallel_for((n + PF_DROP_CHUNK - 1) / PF_DROP_CHUNK, 2, drop_chunk, &k);
}

void pf_dropout_forward(float *y, uint8_t *mask, const float *x, size_t n, float p, pf_rng *r)
{
    if (p <= 0.0f) {
        if (y != x) memmove(y, x, n * sizeof(float));
        if (mask) memset(mask, 1, n);
        return;
    }
    drop_ctx k = {y, mask, x, pf_rng_u64(r), (uint32_t)((double)p * 65536.0 + 0.5), 1.0f / (1.0f - p), n};
    pf_parallel_for((n + PF_DROP_CHUNK - 1) / PF_DROP_CHUNK, 2, drop_chunk, &k);
}

void pf_dropout_backward(float *dx, const float *dy, const uint8_t *mask, size_t n, float p)
{
    float scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * ((float)mask[i] * scale);
}

/* ============================ fused encoder kernels ======================== */

typedef struct {
    float *h, *g, *y;
    const float *b, *dg, *res, *t, *x;
    const uint8_t *m1, *m2;
    float scale;
    int C;
} fuse_ctx;

PF_CLONES
static void bgd_rows(void *vc, size_t lo, size_t hi)
{
    fuse_ctx *k = vc;
    int C = k->C;
    for (size_t n = lo; n < hi; n++) {
        float *h = k->h + n * C, *g = k->g + n * C;
        const uint8_t *m = k->m1 ? k->m1 + n * C : NULL;
        for (int c = 0; c < C; c++) {
            float v = h[c] + k->b[c];
            float tp = two_phi(v);
            g[c] = 0.5f * v * tp;
            h[c] = 0.5f * tp + v * PF_INV_SQRT_2PI * fast_expf(-0.5f * v * v);   /* GELU'(v) */
        }
        if (m)
            for (int c = 0; c < C; c++) g[c] *= (float)m[c] * k->scale;
    }
}

void pf_bias_gelu_dropout_forward(float *h, float *g, const float *b, const uint8_t *mask,
                                  float scale, int N, int C)
{
    fuse_ctx k = {.h = h, .g = g, .b = b, .m1 = mask, .scale = scale, .C = C};
    pf_parallel_for((size_t)N, (size_t)(1 << 15) / (size_t)C + 1, bgd_rows, &k);
}

PF_CLONES
static void gd_bwd_chunk(void *vc, size_t lo, size_t hi)
{
    fuse_ctx *k = vc;
    const float *d = k->x, *dg = k->dg;
    float *dh = k->y;
    if (k->m1)
        for (size_t i = lo; i < hi; i++) dh[i] = dg[i] * d[i] * ((float)k->m1[i] * k->scale);
    else
        for (size_t i = lo; i < hi; i++) dh[i] = dg[i] * d[i];
}

void pf_gelu_dropout_backward(float *dh, const float *dg, const float *dgelu, const uint8_t *mask,
                              float scale, size_t n)
{
    fuse_ctx k = {.y = dh, .dg = dg, .x = dgelu, .m1 = mask, .scale = scale};
    pf_parallel_for(n, 1 << 15, gd_bwd_chunk, &k);
}

PF_CLONES
static void bdr_rows(void *vc, size_t lo, size_t hi)
{
    fuse_ctx *k = vc;
    int C = k->C;
    for (size_t n = lo; n < hi; n++) {
        float *y = k->y + n * C;
        const float *r = k->res + n * C, *t = k->t + n * C;
        const uint8_t *m1 = k->m1 ? k->m1 + n * C : NULL, *m2 = k->m2 ? k->m2 + n * C : NULL;
        if (m1 && m2)
            for (int c = 0; c < C; c++)
                y[c] = r[c] + (t[c] + (k->b ? k->b[c] : 0.0f)) * ((float)(m1[c] & m2[c]) * k->scale);
        else if (m1)
            for (int c = 0; c < C; c++)
                y[c] = r[c] + (t[c] + (k->b ? k->b[c] : 0.0f)) * ((float)m1[c] * k->scale);
        else
            for (int c = 0; c < C; c++) y[c] = r[c] + (t[c] + (k->b ? k->b[c] : 0.0f)) * k->scale;
    }
}

void pf_bias_dropout_residual_forward(float *y, const float *res, const float *t, const float *b,
                                      const uint8_t *m1, const uint8_t *m2, float scale, int N,
                                      int C)
{
    fuse_ctx k = {.y = y, .res = res, .t = t, .b = b, .m1 = m1 ? m1 : m2, .m2 = m1 ? m2 : NULL,
                  .scale = scale, .C = C};
    pf_parallel_for((size_t)N, (size_t)(1 << 15) / (size_t)C + 1, bdr_rows, &k);
}

PF_CLONES
static void ms_chunk(void *vc, size_t lo, size_t hi)
{
    fuse_ctx *k = vc;
    if (k->m1 && k->m2)
        for (size_t i = lo; i < hi; i++) k->y[i] = k->x[i] * ((float)(k->m1[i] & k->m2[i]) * k->scale);
    else if (k->m1)
        for (size_t i = lo; i < hi; i++) k->y[i] = k->x[i] * ((float)k->m1[i] * k->scale);
    else
        for (size_t i = lo; i < hi; i++) k->y[i] = k->x[i] * k->scale;
}

void pf_mask_scale(float *y, const float *x, const uint8_t *m1, const uint8_t *m2, float scale,
                   size_t n)
{
    fuse_ctx k = {.y = y, .x = x, .m1 = m1 ? m1 : m2, .m2 = m1 ? m2 : NULL, .scale = scale};
    pf_parallel_for(n, 1 << 16, ms_chunk, &k);
}

/* ============================ RoPE ========================================= */

void pf_rope_table(float *table, int T, int rope_dim, float base)
{
    for (int t = 0; t < T; t++)
        for (int i = 0; i < rope_dim / 2; i++) {
            double theta = pow((double)base, -2.0 * i / rope_dim);
            double ang = t * theta;
            table[(size_t)t * rope_dim + 2 * i] = (float)cos(ang);
            table[(size_t)t * rope_dim + 2 * i + 1] = (float)sin(ang);
        }
}

void pf_rope_apply(float *x, const float *table, int BH, int T, int hd, int rope_dim,
                   int inverse)
{
    float sgn = inverse ? -1.0f : 1.0f;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (BH * T * hd > (1 << 15))
#endif
    for (int bh = 0; bh < BH; bh++)
        for (int t = 0; t < T; t++) {
            float *r = x + ((size_t)bh * T + t) * hd;
            const float *cs = table + (size_t)t * rope_dim;
            for (int i = 0; i < rope_dim; i += 2) {
                float c = cs[i], s = sgn * cs[i + 1];
                float a = r[i], b = r[i + 1];
                r[i] = a * c - b * s;
                r[i + 1] = a * s + b * c;
            }
        }
}

/* ============================ attention ==================================== */

/* one (batch, head): att [Tq, Tk] = softmax(scale q k^T); o = att v (o may be NULL) */
static void sdpa_fwd_one(float *o, float *ab, const float *qb, const float *kb, const float *vb, int Tq,
                         int Tk, int hd, float scale)
{
    // s[Tq, Tk] = scale * q[Tq, hd] @ k^T[hd, Tk]
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tq, Tk, hd, scale, qb, hd, kb, hd, 0.0f, ab, Tk);
    softmax_rows(ab, ab, Tq, Tk);
    // o[Tq, hd] = att[Tq, Tk] @ v[Tk, hd]
    if (o) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, hd, Tk, 1.0f, ab, Tk, vb, hd, 0.0f, o, hd);
}

/* one (batch, head) backward; datt: [Tq, Tk] scratch */
static void sdpa_bwd_one(float *dqb, float *dkb, float *dvb, float *datt, const float *dob, const float *qb,
                         const float *kb, const float *vb, const float *ab, int Tq, int Tk, int hd, float scale,
                         float beta)
{
    // dv[Tk, hd] += att^T[Tk, Tq] @ do[Tq, hd]
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, hd, Tq, 1.0f, ab, Tk, dob, hd, beta, dvb, hd);
    // datt[Tq, Tk] = do[Tq, hd] @ v^T[hd, Tk]
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tq, Tk, hd, 1.0f, dob, hd, vb, hd, 0.0f, datt, Tk);
    // ds = att * (datt - rowsum(datt * att)), in place
    for (int i = 0; i < Tq; i++) {
        float *dr = datt + (size_t)i * Tk;
        const float *ar = ab + (size_t)i * Tk;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int j = 0; j < Tk; j++) s += dr[j] * ar[j];
        for (int j = 0; j < Tk; j++) dr[j] = ar[j] * (dr[j] - s);
    }
    // dq[Tq, hd] += scale * ds[Tq, Tk] @ k[Tk, hd]
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, hd, Tk, scale, datt, Tk, kb, hd, beta, dqb, hd);
    // dk[Tk, hd] += scale * ds^T[Tk, Tq] @ q[Tq, hd]
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, hd, Tq, scale, datt, Tk, qb, hd, beta, dkb, hd);
}

#define SDPA_PAR _Pragma("omp parallel for schedule(static) if (BH > 1 && (size_t)BH * Tq * Tk > 4096)")

void pf_sdpa_forward(float *o, float *att, const float *q, const float *k, const float *v,
                     int BH, int Tq, int Tk, int hd, float scale)
{
    pthread_once(&blas_once, blas_single);
    SDPA_PAR
    for (int bh = 0; bh < BH; bh++)
        sdpa_fwd_one(o + (size_t)bh * Tq * hd, att + (size_t)bh * Tq * Tk, q + (size_t)bh * Tq * hd,
                     k + (size_t)bh * Tk * hd, v + (size_t)bh * Tk * hd, Tq, Tk, hd, scale);
}

size_t pf_sdpa_scratch(int Tq, int Tk) { return (size_t)pf_threads() * Tq * Tk; }

void pf_sdpa_backward(float *dq, float *dk, float *dv, float *scratch, const float *do_,
                      const float *q, const float *k, const float *v, const float *att,
                      int BH, int Tq, int Tk, int hd, float scale)
{
    pthread_once(&blas_once, blas_single);
    SDPA_PAR
    for (int bh = 0; bh < BH; bh++)
        sdpa_bwd_one(dq + (size_t)bh * Tq * hd, dk + (size_t)bh * Tk * hd, dv + (size_t)bh * Tk * hd,
                     scratch + (size_t)pf_thread_id() * Tq * Tk, do_ + (size_t)bh * Tq * hd,
                     q + (size_t)bh * Tq * hd, k + (size_t)bh * Tk * hd, v + (size_t)bh * Tk * hd,
                     att + (size_t)bh * Tq * Tk, Tq, Tk, hd, scale, 1.0f);
}

void pf_sdpa_forward_lean(float *o, float *scratch, const float *q, const float *k, const float *v,
                          int BH, int Tq, int Tk, int hd, float scale)
{
    pthread_once(&blas_once, blas_single);
    SDPA_PAR
    for (int bh = 0; bh < BH; bh++)
        sdpa_fwd_one(o + (size_t)bh * Tq * hd, scratch + (size_t)pf_thread_id() * Tq * Tk,
                     q + (size_t)bh * Tq * hd, k + (size_t)bh * Tk * hd, v + (size_t)bh * Tk * hd, Tq, Tk,
                     hd, scale);
}

void pf_sdpa_backward_into(float *dq, float *dk, float *dv, float *scratch, const float *do_,
                           const float *q, const float *k, const float *v, const float *att, int BH,
                           int Tq, int Tk, int hd, float scale, int accumulate)
{
    pthread_once(&blas_once, blas_single);
    size_t blk = (size_t)Tq * Tk;
    float beta = accumulate ? 1.0f : 0.0f;
    SDPA_PAR
    for (int bh = 0; bh < BH; bh++) {
        const float *qb = q + (size_t)bh * Tq * hd, *kb = k + (size_t)bh * Tk * hd, *vb = v + (size_t)bh * Tk * hd;
        float *datt;
        const float *ab;
        if (att) {
            datt = scratch + (size_t)pf_thread_id() * blk;
            ab = att + (size_t)bh * blk;
        } else {
            float *rec = scratch + 2 * (size_t)pf_thread_id() * blk;
            datt = rec + blk;
            sdpa_fwd_one(NULL, rec, qb, kb, vb, Tq, Tk, hd, scale);   /* recompute the probabilities */
            ab = rec;
        }
        sdpa_bwd_one(dq + (size_t)bh * Tq * hd, dk + (size_t)bh * Tk * hd, dv + (size_t)bh * Tk * hd, datt,
                     do_ + (size_t)bh * Tq * hd, qb, kb, vb, ab, Tq, Tk, hd, scale, beta);
    }
}

void pf_sdpa_backward_lean(float *dq, float *dk, float *dv, float *scratch, const float *do_,
                           const float *q, const float *k, const float *v, int BH, int Tq, int Tk,
                           int hd, float scale)
{
    pf_sdpa_backward_into(dq, dk, dv, scratch, do_, q, k, v, NULL, BH, Tq, Tk, hd, scale, 1);
}

void pf_sdpa_forward_naive(float *o, float *att, const float *q, const float *k, const float *v,
                           int BH, int Tq, int Tk, int hd, float scale)
{
    for (int bh = 0; bh < BH; bh++)
        for (int i = 0; i < Tq; i++) {
            const float *qi = q + ((size_t)bh * Tq + i) * hd;
            float *ar = att + ((size_t)bh * Tq + i) * Tk;
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j < Tk; j++) {
                double s = 0;
                for (int d = 0; d < hd; d++) s += (double)qi[d] * k[((size_t)bh * Tk + j) * hd + d];
                ar[j] = (float)(s * scale);
                if (ar[j] > mx) mx = ar[j];
            }
            for (int j = 0; j < Tk; j++) sum += exp(ar[j] - mx);
            for (int j = 0; j < Tk; j++) ar[j] = (float)(exp(ar[j] - mx) / sum);
            for (int d = 0; d < hd; d++) {
                double s = 0;
                for (int j = 0; j < Tk; j++) s += (double)ar[j] * v[((size_t)bh * Tk + j) * hd + d];
                o[((size_t)bh * Tq + i) * hd + d] = (float)s;
            }
        }
}

void pf_sdpa_backward_naive(float *dq, float *dk, float *dv, const float *do_, const float *q,
                            const float *k, const float *v, const float *att, int BH, int Tq,
                            int Tk, int hd, float scale)
{
    for (int bh = 0; bh < BH; bh++)
        for (int i = 0; i < Tq; i++) {
            const float *ar = att + ((size_t)bh * Tq + i) * Tk;
            const float *doi = do_ + ((size_t)bh * Tq + i) * hd;
            double dsum = 0;
            for (int j = 0; j < Tk; j++) {
                double da = 0;
                for (int d = 0; d < hd; d++) da += (double)doi[d] * v[((size_t)bh * Tk + j) * hd + d];
                dsum += da * ar[j];
            }
            for (int j = 0; j < Tk; j++) {
                double da = 0;
                for (int d = 0; d < hd; d++) {
                    da += (double)doi[d] * v[((size_t)bh * Tk + j) * hd + d];
                    dv[((size_t)bh * Tk + j) * hd + d] += ar[j] * doi[d];
                }
                double ds = ar[j] * (da - dsum) * scale;
                for (int d = 0; d < hd; d++) {
                    dq[((size_t)bh * Tq + i) * hd + d] += (float)(ds * k[((size_t)bh * Tk + j) * hd + d]);
                    dk[((size_t)bh * Tk + j) * hd + d] += (float)(ds * q[((size_t)bh * Tq + i) * hd + d]);
                }
            }
        }
}

void pf_heads_split(float *y, const float *x, int B, int T, int H, int hd, int ld, int col)
{
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((size_t)B * T * H * hd > (1 << 15))
#endif
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *xr = x + ((size_t)b * T + t) * ld + col;
            for (int h = 0; h < H; h++)
                memcpy(y + (((size_t)b * H + h) * T + t) * hd, xr + (size_t)h * hd,
                       (size_t)hd * sizeof(float));
        }
}

void pf_heads_split_backward(float *dx, const float *dy, int B, int T, int H, int hd, int ld,
                             int col)
{
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((size_t)B * T * H * hd > (1 << 15))
#endif
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *xr = dx + ((size_t)b * T + t) * ld + col;
            for (int h = 0; h < H; h++) {
                const float *yr = dy + (((size_t)b * H + h) * T + t) * hd;
                for (int d = 0; d < hd; d++) xr[(size_t)h * hd + d] += yr[d];
            }
        }
}

void pf_heads_merge(float *x, const float *y, int B, int T, int H, int hd)
{
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((size_t)B * T * H * hd > (1 << 15))
#endif
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++)
                memcpy(x + ((size_t)b * T + t) * H * hd + (size_t)h * hd,
                       y + (((size_t)b * H + h) * T + t) * hd, (size_t)hd * sizeof(float));
}

void pf_heads_merge_backward(float *dy, const float *dx, int B, int T, int H, int hd)
{
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((size_t)B * T * H * hd > (1 << 15))
#endif
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++) {
                float *yr = dy + (((size_t)b * H + h) * T + t) * hd;
                const float *xr = dx + ((size_t)b * T + t) * H * hd + (size_t)h * hd;
                for (int d = 0; d < hd; d++) yr[d] += xr[d];
            }
}

/* ============================ grouped conv1d =============================== */

int pf_conv1d_out_len(int T, int K, int pad) { return T + 2 * pad - K + 1; }

void pf_conv1d_forward(float *y, const float *x, const float *w, const float *b, int B,
                       int CIN, int COUT, int T, int K, int pad, int G)
{
    int TO = pf_conv1d_out_len(T, K, pad), cig = CIN / G, cog = COUT / G;
    for (int bb = 0; bb < B; bb++)
        for (int co = 0; co < COUT; co++) {
            int g = co / cog;
            float *yr = y + ((size_t)bb * COUT + co) * TO;
            for (int t = 0; t < TO; t++) yr[t] = b ? b[co] : 0.0f;
            for (int ci = 0; ci < cig; ci++) {
                const float *xr = x + ((size_t)bb * CIN + g * cig + ci) * T;
                const float *wr = w + ((size_t)co * cig + ci) * K;
                for (int k = 0; k < K; k++) {
                    // y[t] += w[k] x[t + k - pad] for the t that read inside [0, T)
                    int lo = pad - k > 0 ? pad - k : 0;
                    int hi = T + pad - k < TO ? T + pad - k : TO;
                    float wk = wr[k];
                    for (int t = lo; t < hi; t++) yr[t] += wk * xr[t + k - pad];
                }
            }
        }
}

void pf_conv1d_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                        const float *w, int B, int CIN, int COUT, int T, int K, int pad, int G)
{
    int TO = pf_conv1d_out_len(T, K, pad), cig = CIN / G, cog = COUT / G;
    for (int bb = 0; bb < B; bb++)
        for (int co = 0; co < COUT; co++) {
            int g = co / cog;
            const float *dyr = dy + ((size_t)bb * COUT + co) * TO;
            if (db) for (int t = 0; t < TO; t++) db[co] += dyr[t];
            for (int ci = 0; ci < cig; ci++) {
                const float *xr = x + ((size_t)bb * CIN + g * cig + ci) * T;
                float *dxr = dx ? dx + ((size_t)bb * CIN + g * cig + ci) * T : NULL;
                const float *wr = w + ((size_t)co * cig + ci) * K;
                for (int k = 0; k < K; k++) {
                    int lo = pad - k > 0 ? pad - k : 0;
                    int hi = T + pad - k < TO ? T + pad - k : TO;
                    float acc = 0.0f, wk = wr[k];
                    for (int t = lo; t < hi; t++) {
                        acc += dyr[t] * xr[t + k - pad];
                        if (dxr) dxr[t + k - pad] += wk * dyr[t];
                    }
                    if (dw) dw[((size_t)co * cig + ci) * K + k] += acc;
                }
            }
        }
}

/* ============================ decimate / upsample ========================== */

int pf_decimate_out_len(int T, int f) { return (T + f - 1) / f; }

void pf_decimate_forward(float *y, const float *x, int R, int T, int f)
{
    int TO = pf_decimate_out_len(T, f);
    for (int r = 0; r < R; r++)
        for (int n = 0; n < TO; n++) y[(size_t)r * TO + n] = x[(size_t)r * T + (size_t)n * f];
}

void pf_decimate_backward(float *dx, const float *dy, int R, int T, int f)
{
    int TO = pf_decimate_out_len(T, f);
    for (int r = 0; r < R; r++)
        for (int n = 0; n < TO; n++) dx[(size_t)r * T + (size_t)n * f] += dy[(size_t)r * TO + n];
}

static inline int nearest_src(int t, int TIN, int TOUT)
{
    int s = (int)((int64_t)t * TIN / TOUT);
    return s < TIN - 1 ? s : TIN - 1;
}

void pf_upsample_nearest_forward(float *y, const float *x, int R, int TIN, int TOUT)
{
    for (int r = 0; r < R; r++)
        for (int t = 0; t < TOUT; t++)
            y[(size_t)r * TOUT + t] = x[(size_t)r * TIN + nearest_src(t, TIN, TOUT)];
}

void pf_upsample_nearest_backward(float *dx, const float *dy, int R, int TIN, int TOUT)
{
    for (int r = 0; r < R; r++)
        for (int t = 0; t < TOUT; t++)
            dx[(size_t)r * TIN + nearest_src(t, TIN, TOUT)] += dy[(size_t)r * TOUT + t];
}

/* ============================ pooling ====================================== */

void pf_meanpool_forward(float *y, const float *x, int B, int T, int D)
{
    for (int b = 0; b < B; b++) {
        float *yr = y + (size_t)b * D;
        for (int d = 0; d < D; d++) yr[d] = 0.0f;
        for (int t = 0; t < T; t++) {
            const float *xr = x + ((size_t)b * T + t) * D;
            for (int d = 0; d < D; d++) yr[d] += xr[d];
        }
        for (int d = 0; d < D; d++) yr[d] /= T;
    }
}

void pf_meanpool_backward(float *dx, const float *dy, int B, int T, int D)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *xr = dx + ((size_t)b * T + t) * D;
            for (int d = 0; d < D; d++) xr[d] += dy[(size_t)b * D + d] / T;
        }
}

void pf_maxpool_forward(float *y, int *argmax, const float *x, int B, int T, int D)
{
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D; d++) {
            int best = 0;
            float m = x[(size_t)b * T * D + d];
            for (int t = 1; t < T; t++) {
                float v = x[((size_t)b * T + t) * D + d];
                if (v > m) { m = v; best = t; }
            }
            y[(size_t)b * D + d] = m;
            argmax[(size_t)b * D + d] = best;
        }
}

void pf_maxpool_backward(float *dx, const float *dy, const int *argmax, int B, int T, int D)
{
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D; d++)
            dx[((size_t)b * T + argmax[(size_t)b * D + d]) * D + d] += dy[(size_t)b * D + d];
}

/* ============================ 2-D sin-cos position ========================= */

int pf_posembed_2d_sincos(float *pe, int F, int TP, int D)
{
    if (D % 4 != 0) return pf_err(PF_EINVAL, "posembed: D = %d must be a multiple of 4", D);
    int q = D / 4;
    for (int f = 0; f < F; f++)
        for (int t = 0; t < TP; t++) {
            float *r = pe + ((size_t)f * TP + t) * D;
            for (int i = 0; i < q; i++) {
                double w = pow(10000.0, -(double)i / q);
                r[i] = (float)sin(f * w);
                r[q + i] = (float)cos(f * w);
                r[2 * q + i] = (float)sin(t * w);
                r[3 * q + i] = (float)cos(t * w);
            }
        }
    return PF_OK;
}

/* ============================ losses ======================================= */

float pf_mse_masked_forward(const float *pred, const float *target, const float *mask,
                            int N, int P)
{
    double s = 0;
    int cnt = 0;
    for (int n = 0; n < N; n++) {
        if (mask && mask[n] == 0.0f) continue;
        cnt++;
        for (int p = 0; p < P; p++) {
            double d = (double)pred[(size_t)n * P + p] - target[(size_t)n * P + p];
            s += d * d;
        }
    }
    return cnt ? (float)(s / ((double)cnt * P)) : 0.0f;
}

void pf_mse_masked_backward(float *dpred, const float *pred, const float *target,
                            const float *mask, int N, int P, float dloss)
{
    int cnt = 0;
    for (int n = 0; n < N; n++) cnt += !mask || mask[n] != 0.0f;
    for (int n = 0; n < N; n++) {
        int on = cnt && (!mask || mask[n] != 0.0f);
        float g = on ? 2.0f * dloss / ((float)cnt * P) : 0.0f;
        for (int p = 0; p < P; p++) {
            size_t i = (size_t)n * P + p;
            dpred[i] = g * (pred[i] - target[i]);
        }
    }
}

float pf_cross_entropy_forward(float *probs, const float *logits, const int *labels, int N,
                               int K, float eps)
{
    double loss = 0;
    for (int n = 0; n < N; n++) {
        const float *l = logits + (size_t)n * K;
        double mx = -INFINITY, s = 0;
        for (int k = 0; k < K; k++) if (l[k] > mx) mx = l[k];
        for (int k = 0; k < K; k++) s += exp(l[k] - mx);
        double lse = mx + log(s), sum_nll = 0;
        for (int k = 0; k < K; k++) {
            probs[(size_t)n * K + k] = (float)exp(l[k] - lse);
            sum_nll += lse - l[k];
        }
        loss += (1.0 - eps) * (lse - l[labels[n]]) + eps * sum_nll / K;
    }
    return (float)(loss / N);
}

void pf_cross_entropy_backward(float *dlogits, const float *probs, const int *labels, int N,
                               int K, float eps, float dloss)
{
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            float target = eps / K + (k == labels[n] ? 1.0f - eps : 0.0f);
            dlogits[(size_t)n * K + k] = dloss * (probs[(size_t)n * K + k] - target) / N;
        }
}

float pf_bce_logits_forward(const float *logits, const float *targets, const float *pos_weight,
                            int N, int K)
{
    double s = 0;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            double x = logits[(size_t)n * K + k], y = targets[(size_t)n * K + k];
            double pw = pos_weight ? pos_weight[k] : 1.0;
            // -[pw y log sig(x) + (1-y) log(1 - sig(x))], log sig(x) = -softplus(-x)
            double sp_neg = fmax(-x, 0.0) + log1p(exp(-fabs(x)));   /* softplus(-x) */
            s += (1.0 - y) * x + (1.0 + (pw - 1.0) * y) * sp_neg;
        }
    return (float)(s / ((double)N * K));
}

void pf_bce_logits_backward(float *dlogits, const float *logits, const float *targets,
                            const float *pos_weight, int N, int K, float dloss)
{
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            size_t i = (size_t)n * K + k;
            double x = logits[i], y = targets[i], pw = pos_weight ? pos_weight[k] : 1.0;
            double sg = x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
            dlogits[i] = (float)(dloss * (-pw * y * (1.0 - sg) + (1.0 - y) * sg) / ((double)N * K));
        }
}

/* ============================ contrastive (4B) ============================= */

/* scratch layout: units u[3][B][D], du[3][B][D], norms[3][B], fsim[B][B],
 * logits[B][B+2], dlogits[B][B+2], roles[B+2] (ints). Candidate j of anchor i: 0 = shuffled view, 1 = adjacent,
 * 2 + k = anchor k (k != i). */
size_t pf_contrastive_scratch(int B, int D)
{
    return 6 * (size_t)B * D + 3 * (size_t)B + (size_t)B * B + 2 * (size_t)B * (B + 2) + B + 2;
}

typedef struct {
    float *u[3], *du[3], *nrm[3], *fsim, *logit;
} contrast_ws;

static void contrast_prepare(contrast_ws *w, const pf_contrast_cfg *cfg, const float *h,
                             const float *hs, const float *ha, const float *f, int B, int D,
                             int F, float *scratch)
{
    const float *src[3] = {h, hs, ha};
    float *p = scratch;
    for (int s = 0; s < 3; s++) { w->u[s] = p; p += (size_t)B * D; }
    for (int s = 0; s < 3; s++) { w->du[s] = p; p += (size_t)B * D; }
    for (int s = 0; s < 3; s++) { w->nrm[s] = p; p += B; }
    w->fsim = p; p += (size_t)B * B;
    w->logit = p;
    for (int s = 0; s < 3; s++) {
        if (!src[s]) continue;
        for (int b = 0; b < B; b++) {
            double n2 = 0;
            for (int d = 0; d < D; d++) n2 += (double)src[s][(size_t)b * D + d] * src[s][(size_t)b * D + d];
            float nr = fmaxf((float)sqrt(n2), 1e-8f);
            w->nrm[s][b] = nr;
            for (int d = 0; d < D; d++) w->u[s][(size_t)b * D + d] = src[s][(size_t)b * D + d] / nr;
        }
    }
    for (int i = 0; i < B; i++)
        for (int k = 0; k < B; k++) {
            double ik = 0, ii = 0, kk = 0;
            for (int e = 0; e < F; e++) {
                double a = f[(size_t)i * F + e], c = f[(size_t)k * F + e];
                ik += a * c; ii += a * a; kk += c * c;
            }
            w->fsim[(size_t)i * B + k] = (float)(ik / fmax(sqrt(ii * kk), 1e-8));
        }
    for (int i = 0; i < B; i++) {
        float *lg = w->logit + (size_t)i * (B + 2);
        const float *ui = w->u[0] + (size_t)i * D;
        for (int j = 0; j < B + 2; j++) {
            const float *c = j == 0 ? w->u[1] + (size_t)i * D
                           : j == 1 ? (ha ? w->u[2] + (size_t)i * D : NULL)
                           : w->u[0] + (size_t)(j - 2) * D;
            if (!c || j - 2 == i) { lg[j] = 0.0f; continue; }
            double s = 0;
            for (int d = 0; d < D; d++) s += (double)ui[d] * c[d];
            lg[j] = (float)(s / cfg->tau);
        }
    }
}

/* role of candidate j for anchor i: 1 positive, -1 negative, 0 not a candidate */
static int contrast_role(const pf_contrast_cfg *cfg, const contrast_ws *w, int i, int j, int B,
                         int has_adj)
{
    if (j == 0) return 1;
    if (j == 1) return has_adj ? 1 : 0;
    int k = j - 2;
    if (k == i) return 0;
    return w->fsim[(size_t)i * B + k] >= cfg->delta ? 1 : -1;
}

static double lse_set(const float *lg, const int *role, int n, int which, int *count)
{
    double mx = -INFINITY, s = 0;
    int c = 0;
    for (int j = 0; j < n; j++)
        if (role[j] == which || (which == 2 && role[j] != 0)) { if (lg[j] > mx) mx = lg[j]; c++; }
    if (count) *count = c;
    if (!c) return -INFINITY;
    for (int j = 0; j < n; j++)
        if (role[j] == which || (which == 2 && role[j] != 0)) s += exp(lg[j] - mx);
    return mx + log(s);
}

/* Computes the loss and, when dloss != 0, the per-logit gradients into g[B][B+2]. */
static float contrast_core(const pf_contrast_cfg *cfg, contrast_ws *w, int B, int has_adj,
                           float *g, float dloss, pf_contrast_stats *stats)
{
    int *role = (int *)(w->logit + 2 * (size_t)B * (B + 2));   /* [B+2] roles, in scratch */
    double total = 0;
    int used = 0, skipped = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < B; i++) {
            const float *lg = w->logit + (size_t)i * (B + 2);
            int np = 0, nn = 0;
            for (int j = 0; j < B + 2; j++) {
                role[j] = contrast_role(cfg, w, i, j, B, has_adj);
                np += role[j] == 1;
                nn += role[j] == -1;
            }
            int use = cfg->mode == PF_CONTRAST_SUPCON ? 1 : nn > 0;
            if (pass == 0) {
                if (!use) { skipped++; continue; }
                used++;
                if (cfg->mode == PF_CONTRAST_SUPCON) {
                    double lall = lse_set(lg, role, B + 2, 2, NULL), s = 0;
                    for (int j = 0; j < B + 2; j++) if (role[j] == 1) s += lg[j] - lall;
                    total += -s / np;
                } else {
                    total += -lse_set(lg, role, B + 2, 1, NULL) + lse_set(lg, role, B + 2, -1, NULL);
                }
            } else if (g) {
                float *gi = g + (size_t)i * (B + 2);
                for (int j = 0; j < B + 2; j++) gi[j] = 0.0f;
                if (!use || used == 0) continue;
                double sc = dloss / used;
                if (cfg->mode == PF_CONTRAST_SUPCON) {
                    double lall = lse_set(lg, role, B + 2, 2, NULL);
                    for (int j = 0; j < B + 2; j++) {
                        if (!role[j]) continue;
                        double pj = exp(lg[j] - lall);
                        gi[j] = (float)(sc * (pj - (role[j] == 1 ? 1.0 / np : 0.0)));
                    }
                } else {
                    double lp = lse_set(lg, role, B + 2, 1, NULL), ln = lse_set(lg, role, B + 2, -1, NULL);
                    for (int j = 0; j < B + 2; j++) {
                        if (role[j] == 1) gi[j] = (float)(-sc * exp(lg[j] - lp));
                        else if (role[j] == -1) gi[j] = (float)(sc * exp(lg[j] - ln));
                    }
                }
            }
        }
        if (!g) break;
    }
    if (stats) { stats->used = used; stats->skipped = skipped; }
    return used ? (float)(total / used) : 0.0f;
}

float pf_contrastive_forward(const pf_contrast_cfg *cfg, const float *h, const float *hs,
                             const float *ha, const float *f, int B, int D, int F,
                             float *scratch, pf_contrast_stats *stats)
{
    contrast_ws w;
    contrast_prepare(&w, cfg, h, hs, ha, f, B, D, F, scratch);
    return contrast_core(cfg, &w, B, ha != NULL, NULL, 0.0f, stats);
}

void pf_contrastive_backward(const pf_contrast_cfg *cfg, float *dh, float *dhs, float *dha,
                             const float *h, const float *hs, const float *ha, const float *f,
                             int B, int D, int F, float *scratch, float dloss)
{
    contrast_ws w;
    contrast_prepare(&w, cfg, h, hs, ha, f, B, D, F, scratch);
    float *g_small = w.logit + (size_t)B * (B + 2);   /* d loss / d logit [B, B+2] */
    contrast_core(cfg, &w, B, ha != NULL, g_small, dloss, NULL);
    for (int s = 0; s < 3; s++) memset(w.du[s], 0, (size_t)B * D * sizeof(float));
    for (int i = 0; i < B; i++) {
        const float *ui = w.u[0] + (size_t)i * D;
        float *dui = w.du[0] + (size_t)i * D;
        for (int j = 0; j < B + 2; j++) {
            float gj = g_small[(size_t)i * (B + 2) + j] / cfg->tau;
            if (gj == 0.0f) continue;
            int s = j == 0 ? 1 : j == 1 ? 2 : 0;
            size_t row = j < 2 ? (size_t)i : (size_t)(j - 2);
            const float *uc = w.u[s] + row * D;
            float *duc = w.du[s] + row * D;
            for (int d = 0; d < D; d++) { dui[d] += gj * uc[d]; duc[d] += gj * ui[d]; }
        }
    }
    // through the normalisation: dh = (du - (du . u) u) / |h|
    float *dst[3] = {dh, dhs, dha};
    for (int s = 0; s < 3; s++) {
        if (!dst[s] || (s == 2 && !ha)) continue;
        for (int b = 0; b < B; b++) {
            const float *u = w.u[s] + (size_t)b * D, *du = w.du[s] + (size_t)b * D;
            double dot = 0;
            for (int d = 0; d < D; d++) dot += (double)du[d] * u[d];
            for (int d = 0; d < D; d++)
                dst[s][(size_t)b * D + d] += (float)((du[d] - dot * u[d]) / w.nrm[s][b]);
        }
    }
}

int pf_contrastive_rank(const pf_contrast_cfg *cfg, const float *h, const float *hs, const float *ha,
                        const float *f, int B, int D, int F, float *scratch, int *ranked)
{
    contrast_ws w;
    contrast_prepare(&w, cfg, h, hs, ha, f, B, D, F, scratch);
    int pairs = 0, ok = 0;
    for (int i = 0; i < B; i++) {
        const float *lg = w.logit + (size_t)i * (B + 2);
        float nmax = -INFINITY;
        for (int j = 0; j < B + 2; j++)
            if (contrast_role(cfg, &w, i, j, B, ha != NULL) == -1 && lg[j] > nmax) nmax = lg[j];
        if (nmax == -INFINITY) continue; /* no negative: nothing to rank against */
        for (int j = 0; j < B + 2; j++)
            if (contrast_role(cfg, &w, i, j, B, ha != NULL) == 1) { pairs++; ok += lg[j] > nmax; }
    }
    if (ranked) *ranked = ok;
    return pairs;
}
