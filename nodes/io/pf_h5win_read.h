/* pf_h5win_read: reading what a `sink` node wrote (docs/formats.md,
 * "physioflow.windows"), without knowing the sink's file naming or HDF5.
 *
 * Naming: a sink with path PATH writes PATH; with R > 1 replicas, replica i
 * writes PATH with ".rI" before the extension (out.h5 -> out.r0.h5, out.r1.h5;
 * out -> out.r0). Each file is PATH.partial until the sink completes.
 *
 *   int n;
 *   char **files = pf_h5win_read_files("out.h5", 2, &n);
 *   pf_h5win_read *r = pf_h5win_read_open(files[0], 0);
 *   const int64_t *peaks, *off;
 *   pf_h5win_read_rpeaks(r, &peaks, &off);   // window i: peaks[off[i] .. off[i+1])
 *   pf_h5win_read_close(&r);
 *   pf_h5win_read_free_files(files, n);
 *
 * Arrays returned by the accessors belong to the reader (loaded on first use)
 * and stay valid until pf_h5win_read_close. Every error names the file and
 * the dataset (pf_errmsg()). */
#ifndef PF_H5WIN_READ_H
#define PF_H5WIN_READ_H

#include <stddef.h>
#include <stdint.h>

typedef struct pf_h5win_read pf_h5win_read;

/* The file replica `replica` of a sink with path `path` and `replicas`
 * replicas writes (the sink uses this too). PF_ERANGE if it does not fit. */
int pf_h5win_read_path(const char *path, int replica, int replicas, char *out, size_t cap);
/* All files a sink node wrote: *n paths (strdup'ed; pf_h5win_read_free_files). */
char **pf_h5win_read_files(const char *path, int replicas, int *n);
void pf_h5win_read_free_files(char **files, int n);

/* flags for pf_h5win_read_open */
enum { PF_H5WIN_READ_PARTIAL = 1 /* open PATH.partial when PATH is absent (an interrupted run) */ };
/* Open a window file. A missing PATH whose PATH.partial exists is an error
 * saying the sink did not complete, unless PF_H5WIN_READ_PARTIAL. */
pf_h5win_read *pf_h5win_read_open(const char *path, int flags);
void pf_h5win_read_close(pf_h5win_read **r); /* sets *r to NULL */
const char *pf_h5win_read_filename(const pf_h5win_read *r); /* the file actually opened */
/* The root attribute complete (1 once the sink closed the file complete). */
int pf_h5win_read_complete(pf_h5win_read *r);

/* Windows in the file; < 0 (an error code) when /window_index is unreadable. */
int64_t pf_h5win_read_count(pf_h5win_read *r);
/* Record ids (*n of them), each window's index into them ([count]) and its
 * window index within its record ([count]). NULL on error. */
const char *const *pf_h5win_read_record_ids(pf_h5win_read *r, size_t *n);
const int32_t *pf_h5win_read_record(pf_h5win_read *r);
const uint64_t *pf_h5win_read_window_index(pf_h5win_read *r);
/* First sample of each window in its record ([count]). */
const int64_t *pf_h5win_read_start_sample(pf_h5win_read *r);
/* R-peaks, ragged: absolute sample indices, window i's are
 * peaks[offset[i] .. offset[i + 1]) (offset has count + 1 entries). */
int pf_h5win_read_rpeaks(pf_h5win_read *r, const int64_t **peaks, const int64_t **offset);
/* The feature matrix x [n, dim] (float32, row-major); PF_ENOTFOUND when the
 * windows carry no features (no shuffle node with features = true). */
int pf_h5win_read_features(pf_h5win_read *r, const float **x, size_t *n, int *dim);
/* Window shape (leads x samples) and one window's samples [leads, samples]
 * into out (lead-major). */
int pf_h5win_read_shape(pf_h5win_read *r, int *leads, int *samples);
int pf_h5win_read_window(pf_h5win_read *r, int64_t i, float *out);

#endif
