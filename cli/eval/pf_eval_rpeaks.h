/* pf_eval_rpeaks: beat-by-beat scoring of R-peak detections against reference
 * annotations, following ANSI/AAMI EC57 as PhysioNet's bxb applies it:
 *   - reference beats are the annotations whose WFDB code is a beat
 *     (N L R a V F J A S E j / Q e n f B r ?; a non-conducted P wave x is not);
 *   - a detection matches a reference beat within +-150 ms (one-to-one,
 *     closest pairs first);
 *   - scoring runs from start_s (300 s = 5:00 for MIT-BIH) to the end;
 *   - ventricular flutter/fibrillation episodes (VFON '[' .. VFOFF ']') are
 *     excluded: neither reference beats nor detections inside them count.
 * The per-record table and gross Se / +P / F1 are what `physioflow eval
 * rpeaks` prints. */
#ifndef PF_EVAL_RPEAKS_H
#define PF_EVAL_RPEAKS_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    long tp, fn, fp;
} pf_eval_counts;

typedef struct {
    double fs;        /* Hz */
    double start_s;   /* scoring starts here (EC57 MIT-BIH: 300) */
    double window_s;  /* match window (EC57: 0.150) */
} pf_eval_opts;

void pf_eval_opts_default(pf_eval_opts *o, double fs);
/* 1 if the WFDB annotation code is a beat (a reference beat for EC57). */
int pf_eval_is_beat(int code);
/* Score one record. ann_t/ann_code: the reference annotation stream (sample
 * indices, WFDB codes, increasing); det: detections (increasing); nsamples:
 * record length. Adds nothing to out on error. */
int pf_eval_rpeaks_record(const long *ann_t, const int *ann_code, size_t nann, const long *det,
                          size_t ndet, long nsamples, const pf_eval_opts *o, pf_eval_counts *out);
/* Se, +P, F1 in percent (0 when undefined). */
void pf_eval_rates(const pf_eval_counts *c, double *se, double *ppv, double *f1);
/* Table: one row per record, then the gross totals. Returns the gross counts. */
pf_eval_counts pf_eval_print_table(FILE *f, const char *const *names, const pf_eval_counts *c,
                                   size_t n);
#endif
