/* pf_norm: per-lead normalisation of a window x: [n, nleads] (sample-major), in place.
 * Statistics use float64 and skip non-finite samples, which are set to 0 and
 * counted (*nonfinite, may be NULL). A constant lead (or one with no finite
 * sample) becomes all zeros rather than dividing by zero. */
#ifndef PF_NORM_H
#define PF_NORM_H

#include <stddef.h>

typedef enum { PF_NORM_NONE = 0, PF_NORM_ZSCORE, PF_NORM_MINMAX } pf_norm_kind;

/* (x - mean) / sd per lead (population sd, as numpy's std). */
int pf_norm_zscore(float *x, size_t n, int nleads, size_t *nonfinite);
/* 2 (x - min) / (max - min) - 1 per lead: range [-1, 1]. */
int pf_norm_minmax(float *x, size_t n, int nleads, size_t *nonfinite);
int pf_norm_apply(pf_norm_kind kind, float *x, size_t n, int nleads, size_t *nonfinite);
int pf_norm_parse(const char *name, pf_norm_kind *out);

#endif
