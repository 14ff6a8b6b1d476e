/* pf_eval_run: the `physioflow eval rpeaks` evaluation as a library call.
 * Opens each record with io's record API (WFDB, CPSC 2019 .mat, ...), streams
 * it through pf_rpeak in chunks, scores the detections against the record's
 * reference beats with pf_eval_rpeaks (EC57) and prints the per-record table
 * and gross Se / +P / F1. Optionally writes the detections as WFDB annotation
 * files OUTDIR/RECORD.EXT (MIT format, code N) for PhysioNet's bxb.
 * Lives in its own library (pf_dsp_eval) so pf_dsp does not depend on pf_io. */
#ifndef PF_EVAL_RUN_H
#define PF_EVAL_RUN_H

#include "pf_eval_rpeaks.h"

#include <stdio.h>

typedef struct {
    const char *data_dir; /* records are data_dir/RECORD */
    const char *ann_out;  /* NULL: no annotation output */
    const char *ann_ext;  /* default "qrs" */
    int lead;             /* -1: all leads */
    double start_s;       /* < 0: EC57 default, 300 s for records of 10 min or more, else 0 */
    double chunk_s;       /* seconds per pf_rpeak_process call (default 1) */
    FILE *out;            /* table (default stdout) */
} pf_eval_run_opts;

void pf_eval_run_opts_default(pf_eval_run_opts *o);
/* Evaluate records[0..n); per-record counts go to per (may be NULL), the
 * gross totals to *gross. Prints the table to o->out. */
int pf_eval_rpeaks_run(const pf_eval_run_opts *o, const char *const *records, size_t n,
                       pf_eval_counts *per, pf_eval_counts *gross);

#endif
