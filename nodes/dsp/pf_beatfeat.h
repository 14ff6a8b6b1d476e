/* pf_beatfeat: hand-crafted features of every beat of a record, the feature
 * families of de Chazal, O'Dwyer & Reilly 2004 ("Automatic classification of
 * heartbeats using ECG morphology and heartbeat interval features", IEEE TBME
 * 51(7)), computed with the project's own delineator (pf_delin_window):
 *   RR intervals (s): pre-RR, post-RR, average RR (beats within +-150 s), local
 *     RR (the 10 intervals around the beat); pre / local and post / local ratios
 *   intervals (s): QRS duration, P present (0/1), P duration, T duration, R to T offset
 *   morphology per lead (after a zero-phase 0.5-40 Hz band-pass, in mV): 10 QRS
 *     samples from R-50 ms to R+100 ms, 8 T samples from R+150 ms to R+500 ms
 * Dimension 11 + 18 L. Beat positions are the given R peaks (the reference
 * annotations for MIT-BIH, as de Chazal used them). */
#ifndef PF_BEATFEAT_H
#define PF_BEATFEAT_H

#include <stddef.h>

int pf_beatfeat_dim(int nleads);
/* Name of feature i ("pre_rr", "qrs_l0_3", ...) into buf. */
const char *pf_beatfeat_name(int i, int nleads, char *buf, size_t cap);
// x: [L, n] lead-major record at fs; r: nb R peaks, increasing -> f: [nb, dim]
int pf_beatfeat_record(const float *x, int L, size_t n, double fs, const long *r, size_t nb, float *f);

#endif
