/* pf_winfeat: PhysioCLR's feature vector of one window message (the
 * shuffle node's `features = true`). It keeps a pf_features extractor for the
 * window's sample rate (re-made when the rate changes), uses the P / QRS / T
 * boundaries of a BEATS section when an upstream `delineate` node attached
 * one (no second delineation), and otherwise delineates around the R-peaks
 * it is given. */
#ifndef PF_WINFEAT_H
#define PF_WINFEAT_H

#include "pf_features.h"
#include "pf_wire.h"

typedef struct pf_winfeat pf_winfeat;

/* lead: -1 = mean of all leads (published), else the lead index used. */
pf_winfeat *pf_winfeat_create(int lead);
void pf_winfeat_destroy(pf_winfeat **w); /* sets *w to NULL */

/* Features of window m's samples into out[PF_FEAT_DIM]. peaks: np
 * window-relative R-peak indices, ascending (used when m has no BEATS).
 * *from_beats (may be NULL) is set when BEATS were used.
 * Returns PF_OK; PF_ENOMEM or the extractor's set-up error (fatal); or
 * PF_EAGAIN when this window has no features (too short, bad lead): out is
 * then all zeros, so the stream keeps its layout, and pf_errmsg() says why. */
int pf_winfeat_compute(pf_winfeat *w, const pf_msg *m, const int64_t *peaks, int np, float *out, int *from_beats);

#endif
