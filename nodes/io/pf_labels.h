/* pf_labels: the label tables of the downstream tasks, declared once here
 * (docs/formats.md, "Labels"), and the beat lists of beat-centred windows.
 *
 * AAMI EC57 beat classes from MIT-BIH beat codes (ANSI/AAMI EC57:2012; de Chazal
 * et al. 2004, table I):
 *   N (0)  normal and bundle-branch-block beats, escape beats:  N L R e j B n
 *   S (1)  supraventricular ectopic beats:                      A a J S
 *   V (2)  ventricular ectopic beats:                           V E r
 *   F (3)  fusion of ventricular and normal:                    F
 *   Q (4)  paced, fusion of paced and normal, unclassifiable:   / f Q ?
 * Every other code is not a beat (rhythm, noise, wave annotations) and has no class.
 * The four paced MIT-BIH records (102, 104, 107, 217) are excluded from AAMI beat
 * evaluation, as EC57 and de Chazal's inter-patient protocol do.
 *
 * CinC 2021 diagnoses: the `# Dx:` SNOMED-CT codes of a challenge header map to
 * the challenge's 26 scored classes (four pairs of codes are one class, as the
 * challenge scores them); codes outside the scored set are counted, not labels.
 */
#ifndef PF_LABELS_H
#define PF_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include "pf_record.h"

enum { PF_AAMI_N = 0, PF_AAMI_S, PF_AAMI_V, PF_AAMI_F, PF_AAMI_Q, PF_AAMI_CLASSES };

/* AAMI class of an MIT-BIH annotation code, or -1 when the code is not a beat. */
int pf_aami_class(int code);
/* "N", "S", "V", "F", "Q" */
const char *pf_aami_name(int cls);
/* The MIT-BIH codes of a class, as mnemonics ("N L R e j B n"). */
const char *pf_aami_codes(int cls);
/* 1 for a paced MIT-BIH record (by record name, e.g. "102" or "mitdb/102"). */
int pf_aami_paced(const char *record);

/* CinC 2021 scored classes. */
#define PF_DX_CLASSES 26
const char *pf_dx_name(int cls);        /* abbreviation, e.g. "AF" */
/* Class of a SNOMED-CT code, or -1 when it is not one of the scored codes. */
int pf_dx_class(int64_t snomed);
/* The `# Dx:` line of the header hea_path into a multi-hot row y[PF_DX_CLASSES];
 * *unscored (may be NULL) counts codes outside the table. PF_ENOTFOUND when the
 * header has no Dx line; PF_EFORMAT naming file, line and token for a code that
 * is not a number. */
int pf_dx_read(const char *hea_path, float *y, int *unscored);

/* One beat of a beat-centred window list. */
typedef struct {
    int64_t sample;  /* R-peak sample (reference annotation or detection) */
    int code;        /* MIT-BIH code; -1 for a detected beat (no reference) */
    int cls;         /* AAMI class; -1 for a detected beat */
} pf_beat;

/* The beats of a record: every reference beat annotation (pf_ann_is_beat) when it
 * has any, else R-peaks detected over all leads (pf_rpeak). *out is malloc'd;
 * *detected (may be NULL) says which. */
int pf_beats_list(pf_record *r, pf_beat **out, size_t *n, int *detected);
/* Thinning a record's beats in place, spread over the record: every stride-th beat of
 * each class so that at most about `cap` per class remain (0 = no cap), and of class N
 * at least every keep_n-th. Returns the beats kept. */
size_t pf_beats_thin(pf_beat *b, size_t n, int keep_n, int cap);

#endif
