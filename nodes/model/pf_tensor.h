/* pf_tensor: arenas, tensors and the parameter store of the model core.
 *
 * Memory model (why): a training step must not call malloc. Activations come
 * from a pf_arena sized once when a model is built for a given batch shape;
 * parameters, gradients and the two AdamW moments live in ONE float block of
 * 4 x n_params owned by a pf_pstore, so a whole model saves, loads, zeroes and
 * clips as a unit, and each tensor is addressed by (offset, shape, name).
 *
 *   pf_pstore *p = pf_pstore_create();
 *   int w = pf_pstore_add(p, "blocks.0.attn.qkv.weight", 2, (int[]){3*D, D});
 *   ... register every tensor ...
 *   pf_pstore_finalize(p);              // allocates the block, zeroed
 *   float *W = pf_pstore_data(p, w), *dW = pf_pstore_grad(p, w);
 */
#ifndef PF_TENSOR_H
#define PF_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "pf_rng.h"

#define PF_MAX_DIMS 4
#define PF_NAME_MAX 96
#define PF_ALIGN 64
/* Plan-then-carve activation layouts: inside a layout function with `size_t total`
 * and `pf_arena *a` in scope, count (a == NULL) or carve (a != NULL) one buffer. */
#define PF_ARENA_TAKE(ptr, type, count)                                         \
    do {                                                                        \
        size_t bytes_ = (count) * sizeof(type);                                 \
        total += (bytes_ + PF_ALIGN - 1) / PF_ALIGN * PF_ALIGN;                 \
        if (a) (ptr) = (type *)pf_arena_alloc(a, bytes_);                       \
    } while (0)

/* ---- arena: bump allocator, 64-byte aligned, reset to a mark ---------------- */
typedef struct pf_arena {
    char *base;
    size_t cap, used, peak;
} pf_arena;

pf_arena *pf_arena_create(size_t cap_bytes);
/* NULL (and pf_err PF_ENOMEM naming the request) when the arena is full. */
void *pf_arena_alloc(pf_arena *a, size_t bytes);
float *pf_arena_floats(pf_arena *a, size_t n);
size_t pf_arena_mark(const pf_arena *a);
void pf_arena_reset(pf_arena *a, size_t mark);
void pf_arena_destroy(pf_arena *a);

/* ---- tensor: a view (no ownership) ------------------------------------------ */
typedef struct pf_tensor {
    float *data;
    int ndim;
    int shape[PF_MAX_DIMS];
    size_t n;               /* number of elements */
} pf_tensor;

size_t pf_shape_numel(int ndim, const int *shape);

/* ---- parameter store --------------------------------------------------------- */
typedef struct pf_param_info {
    char name[PF_NAME_MAX];    /* module path, e.g. "blocks.3.mlp.fc1.weight" */
    int ndim;
    int shape[PF_MAX_DIMS];
    size_t offset, n;          /* in floats, offset aligned to 16 floats */
    int decay;                 /* 1: weight decay applies (matrices); 0: biases, norms */
} pf_param_info;

typedef struct pf_pstore {
    pf_param_info *info;
    int count, cap;
    size_t total;              /* floats per section (params / grads / m / v), padded */
    size_t n_params;           /* true parameter count (no padding) */
    float *block;              /* 4 * total floats: [params | grads | m | v] */
    int finalized;
} pf_pstore;

pf_pstore *pf_pstore_create(void);
/* Register a tensor; returns its index (>= 0) or a negative PF_E* code.
 * decay defaults to 1 for ndim >= 2 and 0 otherwise. */
int pf_pstore_add(pf_pstore *p, const char *name, int ndim, const int *shape);
int pf_pstore_finalize(pf_pstore *p);
int pf_pstore_find(const pf_pstore *p, const char *name);   /* index or PF_ENOTFOUND */
float *pf_pstore_data(pf_pstore *p, int idx);
float *pf_pstore_grad(pf_pstore *p, int idx);
float *pf_pstore_m(pf_pstore *p, int idx);
float *pf_pstore_v(pf_pstore *p, int idx);
void pf_pstore_zero_grad(pf_pstore *p);
void pf_pstore_destroy(pf_pstore *p);

/* Initialisers (randomness from pf_rng only). */
void pf_init_normal(float *x, size_t n, float std, pf_rng *r);
void pf_init_uniform(float *x, size_t n, float lo, float hi, pf_rng *r);
void pf_init_const(float *x, size_t n, float v);

#endif
