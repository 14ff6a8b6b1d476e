/* pf_h5set: PhysioWave-style HDF5 data sets, read in slices so files larger than
 * memory stream.
 *
 * Layout: dataset `data` (or `input`, the multi-label variant) of shape (N, C, T),
 * floating point (float32 in PhysioWave; float64 is converted); optional `label`
 * (or `labels`): (N,) integer class indices, or (N, K) float/int multi-label matrix.
 * Optional attributes on the root group or the data set: `fs` (Hz, numeric) and
 * `leads` (array of strings, C of them). Non-finite samples are an error.
 */
#ifndef PF_H5SET_H
#define PF_H5SET_H

#include <stddef.h>
#include <stdint.h>

typedef struct pf_h5set pf_h5set;

pf_h5set *pf_h5set_open(const char *path);
void pf_h5set_close(pf_h5set *s);

size_t pf_h5set_count(const pf_h5set *s);    /* N */
size_t pf_h5set_channels(const pf_h5set *s); /* C */
size_t pf_h5set_length(const pf_h5set *s);   /* T */
/* Label columns: 0 no labels; 1 with pf_h5set_label_is_class() for (N,) classes; K for (N,K). */
size_t pf_h5set_label_width(const pf_h5set *s);
int pf_h5set_label_is_class(const pf_h5set *s);
double pf_h5set_rate(const pf_h5set *s);                 /* `fs` attribute, 0 if absent */
const char *pf_h5set_lead_name(const pf_h5set *s, size_t c); /* `leads` attribute or NULL */
const char *pf_h5set_data_name(const pf_h5set *s);       /* "data" or "input" */

/* Items [first, first+count) into out[count][C][T]. */
int pf_h5set_read(pf_h5set *s, size_t first, size_t count, float *out);
/* Channel c of item i, samples [start, start+n), into out[n]. */
int pf_h5set_read_channel(pf_h5set *s, size_t item, size_t c, size_t start, size_t n, float *out);
/* Labels of items [first, first+count) as out[count][K] (class indices as floats). */
int pf_h5set_read_labels(pf_h5set *s, size_t first, size_t count, float *out);
/* Class indices (only for (N,) integer labels). */
int pf_h5set_read_class(pf_h5set *s, size_t first, size_t count, int64_t *out);

#endif
