#include "pf_prep.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pf_error.h"
#include "pf_iirdes.h"
#include "pf_resamp.h"
#include "pf_sos.h"

pf_prep_cfg pf_prep_pretrain(void) { return (pf_prep_cfg){0.5, 40.0, 2, 500, PF_NORM_ZSCORE}; }

static int resampling(const pf_prep_cfg *c, double fs) { return c->resample && (int)lround(fs) != c->resample; }

size_t pf_prep_out_len(const pf_prep_cfg *c, double fs, size_t n)
{
    return resampling(c, fs) ? (size_t)llround((double)n * c->resample / fs) : n;
}

int pf_prep_window(const pf_prep_cfg *c, double fs, const float *x, int L, size_t n, float *y, size_t ymax, size_t *ny)
{
    float *a = malloc(sizeof(float) * n * (size_t)L), *b = NULL;
    if (!a) return pf_err(PF_ENOMEM, "preprocessing: out of memory");
    for (int l = 0; l < L; l++) /* the kernels take sample-major [n, L] */
        for (size_t t = 0; t < n; t++) a[t * L + l] = x[(size_t)l * n + t];
    int rc = PF_OK;
    if (c->f_lo > 0) {
        pf_iirdes d;
        rc = pf_iirdes_butter(&d, PF_IIRDES_BANDPASS, c->order, c->f_lo, c->f_hi, fs);
        pf_sos *s = rc ? NULL : pf_sos_create(&d, L, PF_SOS_ENGINE_F64);
        if (!rc && !s) rc = PF_EINVAL;
        if (!rc) rc = pf_sos_process(s, a, a, n);
        pf_sos_destroy(s);
    }
    size_t no = n;
    float *out = a;
    if (!rc && resampling(c, fs)) {
        if (fs != floor(fs)) rc = pf_err(PF_EINVAL, "preprocessing: resampling needs an integer rate, got %g Hz", fs);
        pf_resamp *r = rc ? NULL : pf_resamp_create((int)fs, c->resample, L);
        if (!rc && !r) rc = PF_EINVAL;
        size_t cap = r ? pf_resamp_max_out(r, n) : 0;
        if (!rc && !(b = malloc(sizeof(float) * (cap ? cap : 1) * (size_t)L))) rc = pf_err(PF_ENOMEM, "preprocessing: out of memory");
        if (!rc) rc = pf_resamp_process(r, a, n, b, cap, &no);
        pf_resamp_destroy(r);
        out = b;
    }
    if (!rc && no > ymax) rc = pf_err(PF_ERANGE, "preprocessing: %zu output samples, room for %zu", no, ymax);
    if (!rc) rc = pf_norm_apply(c->norm, out, no, L, NULL);
    for (int l = 0; !rc && l < L; l++)
        for (size_t t = 0; t < no; t++) y[(size_t)l * no + t] = out[t * L + l];
    if (!rc) *ny = no;
    free(a);
    free(b);
    return rc ? pf_err_context(rc, "preprocessing a window of %zu samples at %g Hz", n, fs) : PF_OK;
}
