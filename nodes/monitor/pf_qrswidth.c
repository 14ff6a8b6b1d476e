/* pf_qrswidth: QRS duration per beat (pf_qrswidth.h). */
#include "pf_qrswidth.h"

#include "pf_delin.h"
#include "pf_error.h"
#include "pf_iirdes.h"
#include "pf_sos.h"

#include <math.h>
#include <stdlib.h>

int pf_qrswidth_lead(const float *x, long n, double fs, const long *r, long nr, double *width_ms)
{
    if (!x || (nr && (!r || !width_ms))) return pf_err(PF_EINVAL, "qrs width: NULL argument");
    if (!(fs >= 50) || n < 1 || nr < 0) return pf_err(PF_EINVAL, "qrs width: %ld samples at %g Hz", n, fs);
    if (!nr) return PF_OK;
    pf_iirdes bp;
    double hi = fs * 0.45 < 40 ? fs * 0.45 : 40;
    if (pf_iirdes_butter(&bp, PF_IIRDES_BANDPASS, 2, 0.5, hi, fs)) return PF_EINVAL;
    float *y = malloc(sizeof(float) * (size_t)n);
    long *rr = malloc(sizeof(long) * (size_t)nr), *idx = malloc(sizeof(long) * (size_t)nr);
    pf_delin_beat *b = malloc(sizeof *b * (size_t)nr);
    int rc = y && rr && idx && b ? PF_OK : pf_err(PF_ENOMEM, "qrs width: out of memory (%ld samples)", n);
    /* filtfilt pads by reflection; a window shorter than the pad is measured unfiltered */
    if (!rc && (size_t)n > 3 * pf_sos_filtfilt_padlen(&bp)) rc = pf_sos_filtfilt(&bp, x, y, (size_t)n, 1);
    else for (long k = 0; !rc && k < n; k++) y[k] = x[k];
    const long edge = (long)lround(0.25 * fs);
    long m = 0;
    for (long i = 0; i < nr; i++) {
        width_ms[i] = NAN;
        if (r[i] - edge >= 0 && r[i] + edge < n) { rr[m] = r[i]; idx[m++] = i; }
    }
    pf_delin_cfg c;
    pf_delin_cfg_default(&c, fs);
    if (!rc && m) rc = pf_delin_lead(&c, y, (size_t)n, rr, (size_t)m, b);
    for (long j = 0; !rc && j < m; j++) width_ms[idx[j]] = 1000.0 * (double)(b[j].qrs_off - b[j].qrs_on) / fs;
    free(y); free(rr); free(idx); free(b);
    return rc;
}
