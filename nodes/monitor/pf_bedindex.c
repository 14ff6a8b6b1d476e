/* pf_bedindex: bed number -> dense slot (pf_bedindex.h). */
#include "pf_bedindex.h"

#include <stdlib.h>
#include <sys/mman.h>

struct pf_bedindex {
    uint64_t *t;   /* [mask + 1], open addressing, linear probing: bed << 32 | (slot + 1); 0 = empty */
    size_t mask;
    int shift;     /* 64 - log2(size): the hash takes the product's top bits */
    size_t n, max;
};

pf_bedindex *pf_bedindex_create(size_t max)
{
    pf_bedindex *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    size_t cap = 16;
    int lg = 4;
    while (cap < 2 * max) { cap *= 2; lg++; } /* at most half full: short probes */
    x->t = pf_bedindex_records(cap, sizeof *x->t);
    if (!x->t) { free(x); return NULL; }
    x->mask = cap - 1;
    x->shift = 64 - lg;
    x->max = max;
    return x;
}

void pf_bedindex_destroy(pf_bedindex *x)
{
    if (!x) return;
    pf_bedindex_records_free(x->t, x->mask + 1, sizeof *x->t);
    free(x);
}

long pf_bedindex_find(pf_bedindex *x, uint32_t bed, int create)
{
    size_t h = (size_t)(((uint64_t)bed * 0x9E3779B97F4A7C15ull) >> x->shift);
    for (;; h = (h + 1) & x->mask) {
        uint64_t e = x->t[h];
        if (!e) break;
        if ((uint32_t)(e >> 32) == bed) return (long)(uint32_t)e - 1;
    }
    if (!create || x->n >= x->max) return -1;
    x->t[h] = (uint64_t)bed << 32 | (uint64_t)(x->n + 1);
    return (long)x->n++;
}

size_t pf_bedindex_count(const pf_bedindex *x) { return x->n; }

void *pf_bedindex_records(size_t max, size_t size)
{
    void *p = mmap(NULL, max * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void pf_bedindex_records_free(void *p, size_t max, size_t size)
{
    if (p) munmap(p, max * size);
}
