/* pf_featstats: per-dimension standardisation and an optional PCA basis of
 * the physiological feature vectors, fitted on training data (model.md §3:
 * "a fitting pass stores mean, std and optionally a 50-dimension PCA basis").
 * Saved in HDF5 (docs/nodes/shuffle.md, "Feature statistics"); the trainer
 * applies it before computing feature similarities. */
#ifndef PF_FEATSTATS_H
#define PF_FEATSTATS_H

#include <stdint.h>

typedef struct {
    int dim, k;          /* input dimension, PCA components (0 = none) */
    double *mean, *std;  /* [dim]; std of a constant dimension is stored as 1 */
    double *components;  /* [k, dim], rows orthonormal, by decreasing variance */
    double *variance;    /* [k] explained variance of each component */
    uint64_t n;          /* vectors fitted */
} pf_featstats;

/* Fit on x [n, dim] (float32, row-major). k = 0: no PCA. */
pf_featstats *pf_featstats_fit(const float *x, uint64_t n, int dim, int k);
/* Standardise (and project when k > 0): out has k values, or dim without PCA. */
void pf_featstats_apply(const pf_featstats *s, const float *in, float *out);
int pf_featstats_save(const pf_featstats *s, const char *path, const char *provenance);
pf_featstats *pf_featstats_load(const char *path);
void pf_featstats_destroy(pf_featstats *s);

#endif
