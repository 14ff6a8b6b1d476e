/* pf_record: one API over every record source the reader node takes —
 *   WFDB records ("dir/101", "dir/101.hea"), PhysioNet-challenge records (a .hea naming a
 *   MATLAB v4 .mat), CPSC 2019 MATLAB v5 files ("…/data/data_00014.mat", R-peaks from the
 *   sibling "…/ref/R_00014.mat"), and single items of a PhysioWave HDF5 set.
 * Reads return physical units (mV for all shared data sets) as float32, lead-major. */
#ifndef PF_RECORD_H
#define PF_RECORD_H

#include "pf_ann.h"
#include "pf_h5set.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *annotator; /* WFDB annotator (file extension) for reference annotations;
                              NULL: "atr" when that file exists, else none */
    double rate;           /* Hz for sources that carry none (CPSC 2019: 500; HDF5 without `fs`) */
} pf_record_opts;

typedef struct pf_record pf_record;

/* o may be NULL (defaults). */
pf_record *pf_record_open(const char *path, const pf_record_opts *o);
/* Item `item` of an open HDF5 set as a record; the set must outlive the record. */
pf_record *pf_record_open_h5(pf_h5set *set, size_t item, const pf_record_opts *o);
void pf_record_close(pf_record *r);

const char *pf_record_name(const pf_record *r);
int pf_record_nleads(const pf_record *r);
const char *pf_record_lead(const pf_record *r, int i);
double pf_record_rate(const pf_record *r);
int64_t pf_record_length(const pf_record *r);

/* Lead index by name, case-insensitive ("aVR" finds LUDB's "avr"); PF_ENOTFOUND if absent. */
int pf_record_find_lead(const pf_record *r, const char *name);
/* Map names[0..n) to indices idx[0..n); the error names the missing lead and what exists. */
int pf_record_select(const pf_record *r, const char *const *names, int n, int *idx);
/* Samples [start, start+n) of leads[0..nleads) (NULL = all) into out[k*n + i]. */
int pf_record_read(pf_record *r, int64_t start, int64_t n, const int *leads, int nleads, float *out);

/* All reference annotations (empty list when the record has none). */
const pf_ann_list *pf_record_annotations(const pf_record *r);
/* Reference beats (pf_ann_is_beat) with start <= time < start+n: *first points at the
 * first of *count consecutive beats (valid until close). */
int pf_record_beats(const pf_record *r, int64_t start, int64_t n, const pf_ann **first, size_t *count);

#endif
