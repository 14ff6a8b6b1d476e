/* pf_mat5: numeric vectors from MATLAB v5 .mat files through libmatio (Debian's
 * libmatio), used for the CPSC 2019 signals (data_NNNNN.mat: `ecg`, 5000x1 double)
 * and reference R-peaks (R_NNNNN.mat: `R_peak`, Nx1 uint16). */
#ifndef PF_MAT5_H
#define PF_MAT5_H

#include <stddef.h>

/* Read variable var (NULL: the first variable in the file) as doubles into a malloc'd
 * *out of *n values. It must be real, numeric and a vector (1xN, Nx1) or empty. */
int pf_mat5_read_vector(const char *path, const char *var, double **out, size_t *n);

#endif
