#include "pf_rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t pf_rng_key(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    uint64_t x = a;
    uint64_t h = splitmix64(&x);
    x = h ^ b; h = splitmix64(&x);
    x = h ^ c; h = splitmix64(&x);
    x = h ^ d; h = splitmix64(&x);
    return h;
}

uint64_t pf_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; s && *s; s++) { h ^= (unsigned char)*s; h *= 0x100000001b3ull; }
    return h;
}

void pf_rng_seed(pf_rng *r, uint64_t key)
{
    uint64_t x = key;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t pf_rng_u64(pf_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 45);
    return out;
}

double pf_rng_uniform(pf_rng *r) { return (double)(pf_rng_u64(r) >> 11) * 0x1.0p-53; }

uint64_t pf_rng_below(pf_rng *r, uint64_t n)
{
    if (n <= 1) return 0;
    uint64_t limit = -n % n;   /* reject the low values that would bias the modulo */
    for (;;) {
        uint64_t x = pf_rng_u64(r);
        if (x >= limit) return x % n;
    }
}

double pf_rng_normal(pf_rng *r)
{
    /* Box-Muller; both uniforms drawn every call so the stream stays stateless. */
    double u1 = pf_rng_uniform(r), u2 = pf_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void pf_rng_normal2(pf_rng *r, double *a, double *b)
{
    double u1 = pf_rng_uniform(r), u2 = pf_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
    *a = rad * cos(th);
    *b = rad * sin(th);
}
