/* pf_h5: the few HDF5 verbs the window sink, model checkpoints and feature
 * statistics share (reading and writing whole datasets, attributes, string
 * arrays), so each file format is written in one way and every failure names
 * the dataset or attribute. The error stack is quiet: callers report errors
 * through pf_err() with the file's path (pf_err_context). */
#ifndef PF_H5_H
#define PF_H5_H

#include <hdf5.h>
#include <stddef.h>

#define PF_H5_MAX_RANK 8

/* Silence HDF5's own error printing (we report errors ourselves). */
void pf_h5_quiet(void);
/* Open an existing file read-only (quietly); < 0 with an error naming path. */
hid_t pf_h5_open_read(const char *path);

/* Shape of dataset name: rank, dims (may be NULL) and element count n (may
 * be NULL). PF_ENOTFOUND when absent. */
int pf_h5_shape(hid_t loc, const char *name, int *rank, hsize_t *dims, size_t *n);
/* Read the whole dataset into dst, converted to memtype; it must hold exactly
 * n elements (a mismatch is an error naming the dataset and both counts). */
int pf_h5_read(hid_t loc, const char *name, hid_t memtype, void *dst, size_t n);
int pf_h5_read_f32(hid_t loc, const char *name, float *dst, size_t n);
int pf_h5_read_i32(hid_t loc, const char *name, int *dst, size_t n);
/* Read the whole dataset into a new buffer (free() it) of *n elements of
 * memtype; one spare element, so an empty dataset gives a valid pointer.
 * NULL on error. */
void *pf_h5_read_alloc(hid_t loc, const char *name, hid_t memtype, size_t *n);

/* Create dataset name (file type ftype, contiguous) of shape dims and write
 * data (memory type mtype) into it; nothing is written when it is empty. */
int pf_h5_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims, const void *data);
/* float32 little-endian dataset of an int shape (tensors). */
int pf_h5_write_f32(hid_t loc, const char *name, const float *src, int ndim, const int *shape);

/* Numeric attribute of n values (n = 0: one value in a scalar dataspace);
 * an existing attribute of that name is replaced. */
int pf_h5_attr_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, const void *v, hsize_t n);
/* Read a numeric attribute of exactly n values (n = 0 or 1: one value). */
int pf_h5_attr_read(hid_t loc, const char *name, hid_t mtype, void *v, hsize_t n);
/* Fixed-length string attribute in a scalar dataspace, replacing any old
 * one. width = 0: exactly strlen(value) bytes (an empty string is stored as
 * " "); else width bytes, NUL-padded (width > strlen(value) keeps the NUL). */
int pf_h5_attr_str(hid_t loc, const char *name, const char *value, size_t width);

/* One-dimensional dataset of n variable-length strings. */
int pf_h5_write_strs(hid_t loc, const char *name, char *const *s, size_t n);
/* Read such a dataset (any string cset): a NULL-terminated array of *n
 * strdup'ed strings; free with pf_h5_free_strs. NULL on error. */
char **pf_h5_read_strs(hid_t loc, const char *name, size_t *n);
void pf_h5_free_strs(char **s, size_t n);

#endif
