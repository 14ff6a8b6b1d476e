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
    int per_lead;         /* delineation: score each lead's own boundaries, not the fusion */
    FILE *errors;         /* delineation: NULL, or CSV record,lead,boundary,annotation,detection
                           * (samples, -1 = none) for every scored boundary */
} pf_eval_run_opts;

void pf_eval_run_opts_default(pf_eval_run_opts *o);
/* Evaluate records[0..n); per-record counts go to per (may be NULL), the
 * gross totals to *gross. Prints the table to o->out. */
int pf_eval_rpeaks_run(const pf_eval_run_opts *o, const char *const *records, size_t n,
                       pf_eval_counts *per, pf_eval_counts *gross);
/* The same scoring with detections from elsewhere (e.g. what a graph of node
 * processes wrote): detect_fn gives record i's detections (sample indices,
 * malloc'd, ascending) for the open record r. */
struct pf_record;
typedef int (*pf_eval_detect_fn)(void *ctx, size_t i, struct pf_record *r, long **det, size_t *nd);
int pf_eval_rpeaks_score(const pf_eval_run_opts *o, const char *const *records, size_t n, pf_eval_detect_fn detect_fn,
                         void *ctx, pf_eval_counts *per, pf_eval_counts *gross);



/* ---- delineation (`physioflow eval delineation`) ------------------------ */
#include "pf_delin.h"

enum { PF_DB_P_ON, PF_DB_P_PEAK, PF_DB_P_OFF, PF_DB_QRS_ON, PF_DB_QRS_PEAK, PF_DB_QRS_OFF,
       PF_DB_T_ON, PF_DB_T_PEAK, PF_DB_T_OFF, PF_DB_N };

typedef struct {
    long tp[PF_DB_N], fn[PF_DB_N], fp[PF_DB_N];
    double sum[PF_DB_N], sum2[PF_DB_N]; /* detection - annotation, ms, over TP */
    long sn[PF_DB_N];                   /* consensus only: leads' annotations around the consensus */
    double ssum2[PF_DB_N];              /* (sum of squared ms over sn) */
    /* per annotated signal (one lead of a record; for the consensus, a
     * record): the SD of its errors, summed over the gn signals with at least
     * two; cn / cs / cs2 accumulate the signal being scored */
    long gn[PF_DB_N], cn[PF_DB_N];
    double gsd[PF_DB_N], cs[PF_DB_N], cs2[PF_DB_N];
} pf_delin_stats;

/* Se and PPV (%), mean and SD (ms) of boundary k, the SD over all its
 * errors pooled */
void pf_delin_stats_get(const pf_delin_stats *st, int k, double *se, double *ppv, double *mean, double *sd);
/* The SD within each annotated signal, averaged over signals (the QT
 * database protocol of Martinez et al. 2004: systematic differences between
 * signals do not count); 0 when no signal has two errors. */
double pf_delin_stats_sd_in(const pf_delin_stats *st, int k);

/* Delineate every lead of each record (R peaks from pf_rpeak on all leads)
 * and score against the per-lead annotation files (LUDB convention: file
 * RECORD.LEAD with '(' onset, p / N / t peak, ')' offset). A boundary is
 * found (TP) when the matched beat has it within 150 ms of the annotation.
 * Detected beats count only inside each lead's annotated span. Prints per
 * boundary Se, PPV, mean and SD of the error (ms). With ann_out, writes
 * OUTDIR/RECORD.LEAD annotation files in the same convention. cfg may be NULL. */
int pf_eval_delineation_run(const pf_eval_run_opts *o, const pf_delin_cfg *cfg,
                            const char *const *records, size_t n, pf_delin_stats *st, pf_delin_stats *cons);
#endif
