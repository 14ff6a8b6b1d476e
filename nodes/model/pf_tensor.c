#include "pf_tensor.h"

#include <stdlib.h>
#include <string.h>

#include "pf_error.h"

pf_arena *pf_arena_create(size_t cap)
{
    pf_arena *a = calloc(1, sizeof *a);
    if (!a) { pf_err(PF_ENOMEM, "arena: cannot allocate header"); return NULL; }
    cap = (cap + PF_ALIGN - 1) / PF_ALIGN * PF_ALIGN;
    if (cap == 0) cap = PF_ALIGN;
    a->base = aligned_alloc(PF_ALIGN, cap);
    if (!a->base) {
        free(a);
        pf_err(PF_ENOMEM, "arena: cannot allocate %zu bytes", cap);
        return NULL;
    }
    a->cap = cap;
    return a;
}

void *pf_arena_alloc(pf_arena *a, size_t bytes)
{
    size_t sz = (bytes + PF_ALIGN - 1) / PF_ALIGN * PF_ALIGN;
    if (sz > a->cap - a->used) {
        pf_err(PF_ENOMEM, "arena: request of %zu bytes exceeds the %zu of %zu left",
               bytes, a->cap - a->used, a->cap);
        return NULL;
    }
    void *ptr = a->base + a->used;
    a->used += sz;
    if (a->used > a->peak) a->peak = a->used;
    return ptr;
}

float *pf_arena_floats(pf_arena *a, size_t n) { return pf_arena_alloc(a, n * sizeof(float)); }
size_t pf_arena_mark(const pf_arena *a) { return a->used; }
void pf_arena_reset(pf_arena *a, size_t mark) { if (mark <= a->used) a->used = mark; }

void pf_arena_destroy(pf_arena *a)
{
    if (!a) return;
    free(a->base);
    free(a);
}

size_t pf_shape_numel(int ndim, const int *shape)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    return n;
}

pf_pstore *pf_pstore_create(void)
{
    pf_pstore *p = calloc(1, sizeof *p);
    if (!p) pf_err(PF_ENOMEM, "params: cannot allocate header");
    return p;
}

int pf_pstore_add(pf_pstore *p, const char *name, int ndim, const int *shape)
{
    if (p->finalized) return pf_err(PF_ESTATE, "params: add '%s' after finalize", name);
    if (ndim < 1 || ndim > PF_MAX_DIMS)
        return pf_err(PF_EINVAL, "params: '%s' has ndim %d (1..%d)", name, ndim, PF_MAX_DIMS);
    if (strlen(name) >= PF_NAME_MAX)
        return pf_err(PF_EINVAL, "params: name '%s' longer than %d", name, PF_NAME_MAX - 1);
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0)
            return pf_err(PF_EINVAL, "params: '%s' dim %d = %d must be > 0", name, i, shape[i]);
    if (pf_pstore_find(p, name) >= 0)
        return pf_err(PF_EINVAL, "params: duplicate name '%s'", name);
    if (p->count == p->cap) {
        int nc = p->cap ? 2 * p->cap : 64;
        pf_param_info *ni = realloc(p->info, (size_t)nc * sizeof *ni);
        if (!ni) return pf_err(PF_ENOMEM, "params: cannot grow table to %d", nc);
        p->info = ni;
        p->cap = nc;
    }
    pf_param_info *in = &p->info[p->count];
    memset(in, 0, sizeof *in);
    strcpy(in->name, name);
    in->ndim = ndim;
    memcpy(in->shape, shape, (size_t)ndim * sizeof(int));
    in->n = pf_shape_numel(ndim, shape);
    in->offset = p->total;
    in->decay = ndim >= 2;
    p->total += (in->n + 15) / 16 * 16;   /* keep every tensor 64-byte aligned */
    p->n_params += in->n;
    return p->count++;
}

int pf_pstore_finalize(pf_pstore *p)
{
    if (p->finalized) return pf_err(PF_ESTATE, "params: finalize called twice");
    size_t bytes = 4 * (p->total ? p->total : 16) * sizeof(float);
    p->block = aligned_alloc(PF_ALIGN, bytes);
    if (!p->block) return pf_err(PF_ENOMEM, "params: cannot allocate %zu bytes", bytes);
    memset(p->block, 0, bytes);
    p->finalized = 1;
    return PF_OK;
}

int pf_pstore_find(const pf_pstore *p, const char *name)
{
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->info[i].name, name) == 0) return i;
    return pf_err(PF_ENOTFOUND, "params: no tensor named '%s'", name);
}

float *pf_pstore_data(pf_pstore *p, int i) { return p->block + p->info[i].offset; }
float *pf_pstore_grad(pf_pstore *p, int i) { return p->block + p->total + p->info[i].offset; }
float *pf_pstore_m(pf_pstore *p, int i) { return p->block + 2 * p->total + p->info[i].offset; }
float *pf_pstore_v(pf_pstore *p, int i) { return p->block + 3 * p->total + p->info[i].offset; }

void pf_pstore_zero_grad(pf_pstore *p)
{
    memset(p->block + p->total, 0, p->total * sizeof(float));
}

void pf_pstore_destroy(pf_pstore *p)
{
    if (!p) return;
    free(p->info);
    free(p->block);
    free(p);
}

void pf_init_normal(float *x, size_t n, float std, pf_rng *r)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(std * pf_rng_normal(r));
}

void pf_init_uniform(float *x, size_t n, float lo, float hi, pf_rng *r)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * pf_rng_uniform(r));
}

void pf_init_const(float *x, size_t n, float v)
{
    for (size_t i = 0; i < n; i++) x[i] = v;
}
