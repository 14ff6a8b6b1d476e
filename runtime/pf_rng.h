/* pf_rng: deterministic random numbers. Seeds derive from (seed, epoch,
 * window id) only, never from time or scheduling, so a window's random draws
 * are the same whichever replica handles it.
 *   pf_rng r; pf_rng_seed(&r, pf_rng_key(seed, epoch, window_id, stream_tag));
 */
#ifndef PF_RNG_H
#define PF_RNG_H

#include <stdint.h>

typedef struct { uint64_t s[4]; } pf_rng;   /* xoshiro256** state */

/* Mix up to four 64-bit values into one well-distributed key (splitmix64 chain). */
uint64_t pf_rng_key(uint64_t a, uint64_t b, uint64_t c, uint64_t d);
/* 64-bit FNV-1a of a string: turns names (record ids, node names) into keys. */
uint64_t pf_hash_str(const char *s);
void pf_rng_seed(pf_rng *r, uint64_t key);
uint64_t pf_rng_u64(pf_rng *r);
double pf_rng_uniform(pf_rng *r);                  /* [0, 1) with 53 random bits */
uint64_t pf_rng_below(pf_rng *r, uint64_t n);      /* uniform in [0, n), unbiased */
double pf_rng_normal(pf_rng *r);                   /* standard normal */
void pf_rng_normal2(pf_rng *r, double *a, double *b); /* two independent standard normals */

#endif
