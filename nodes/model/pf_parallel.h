/* pf_parallel: data-parallel loops for the model core (OpenMP underneath).
 *
 * Matrix products use OpenBLAS's own threads; the loops around them
 * (attention heads, GELU, LayerNorm rows, dropout, AdamW) use these helpers.
 * Results never depend on the thread count: work is split into fixed chunks
 * and every chunk's randomness is keyed by its chunk index, not its thread.
 * Thread count: OMP_NUM_THREADS (run idle threads with OMP_WAIT_POLICY=PASSIVE
 * so they do not spin against OpenBLAS's threads).
 */
#ifndef PF_PARALLEL_H
#define PF_PARALLEL_H

#include <stddef.h>

/* Number of worker threads a parallel loop may use. */
int pf_threads(void);
/* Index of the calling worker inside a parallel loop (0 outside). */
int pf_thread_id(void);
/* Calls fn(ctx, lo, hi) over [0, n) split into chunks of at least min_chunk,
 * in parallel when there is more than one chunk. */
void pf_parallel_for(size_t n, size_t min_chunk, void (*fn)(void *ctx, size_t lo, size_t hi),
                     void *ctx);

#endif
