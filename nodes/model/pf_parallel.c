#include "pf_parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

int pf_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int pf_thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

void pf_parallel_for(size_t n, size_t min_chunk, void (*fn)(void *ctx, size_t lo, size_t hi),
                     void *ctx)
{
    if (n == 0) return;
    int nt = pf_threads();
    if (min_chunk == 0) min_chunk = 1;
    size_t chunks = n / min_chunk;
    if (chunks > (size_t)nt) chunks = (size_t)nt;
    if (chunks <= 1) { fn(ctx, 0, n); return; }
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads((int)chunks)
#endif
    for (size_t c = 0; c < chunks; c++) fn(ctx, n * c / chunks, n * (c + 1) / chunks);
}
