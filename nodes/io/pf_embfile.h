/* pf_embfile: embedding files (docs/formats.md, "Embedding files"): one vector
 * per window or beat with its label, record and position, written by
 * `physioflow embed` (encoder embeddings or hand-crafted beat features) and read
 * by `physioflow probe`.
 *
 *   embeddings   f32 [N, D]
 *   labels       i64 [N] class index into `classes` (-1 = unlabelled), or
 *                f32 [N, K] multi-label targets (0 / 1)
 *   classes      strings [K] class names (e.g. N S V F Q)
 *   record       strings [N] record name of every row
 *   sample       i64 [N] beat sample (R peak) in the record, -1 for plain windows
 *   window_index i64 [N] window number within its record (beat number for beats)
 *   source       strings [1] what produced the vectors (encoder, checkpoint, features)
 *   attribute format = "physioflow.embeddings", version 1
 */
#ifndef PF_EMBFILE_H
#define PF_EMBFILE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t n, cap;
    int dim;
    int k;           /* classes */
    int multi;       /* 1: labels are f32 [N, K] */
    float *x;        /* [n, dim] */
    int64_t *label;  /* [n] (single-label) */
    float *y;        /* [n, k] (multi-label) */
    char **record;   /* [n] */
    int64_t *sample, *window_index;
    char **classes;  /* [k] */
    char source[1024];
    char path[1024]; /* file it was read from ("" when built in memory) */
} pf_embset;

/* An empty set of dim-vectors with K named classes (names: K strings). */
pf_embset *pf_embset_create(int dim, int k, const char *const *names, int multi, const char *source);
/* Append one row; label: class (single-label, -1 = none) ; y: [K] (multi-label) */
int pf_embset_add(pf_embset *s, const float *v, int64_t label, const float *y, const char *record, int64_t sample,
                  int64_t window_index);
int pf_embset_write(const pf_embset *s, const char *path);
/* Read and check a file: every dataset of N rows, labels inside the classes, finite
 * vectors; errors name the file, dataset and row. */
pf_embset *pf_embset_read(const char *path);
void pf_embset_destroy(pf_embset *s);

#endif
