#include "pf_norm.h"

#include "pf_error.h"

#include <math.h>
#include <string.h>

static int check(const float *x, size_t n, int nleads)
{
    if (!x && n) return pf_err(PF_EINVAL, "pf_norm: NULL window of %zu samples", n);
    if (nleads < 1) return pf_err(PF_ERANGE, "pf_norm: nleads = %d must be >= 1", nleads);
    return PF_OK;
}

int pf_norm_zscore(float *x, size_t n, int L, size_t *nonfinite)
{
    int rc = check(x, n, L);
    if (rc) return rc;
    size_t bad = 0;
    for (int l = 0; l < L; l++) {
        size_t m = 0;
        double s = 0, v = 0;
        for (size_t t = 0; t < n; t++)
            if (isfinite(x[t * L + l])) { s += x[t * L + l]; m++; }
        double mean = m ? s / m : 0;
        /* second pass: better conditioned than E[x^2] - mean^2 with a DC offset */
        for (size_t t = 0; t < n; t++)
            if (isfinite(x[t * L + l])) {
                double d = x[t * L + l] - mean;
                v += d * d;
            }
        double sd = m ? sqrt(v / m) : 0;
        /* constant lead: sd is 0 up to rounding of the mean (below float resolution) */
        int flat = !(sd > 1e-9 * fabs(mean));
        for (size_t t = 0; t < n; t++) {
            float *p = &x[t * L + l];
            if (!isfinite(*p)) { *p = 0; bad++; }
            else *p = flat ? 0.0f : (float)((*p - mean) / sd);
        }
    }
    if (nonfinite) *nonfinite = bad;
    return PF_OK;
}

int pf_norm_minmax(float *x, size_t n, int L, size_t *nonfinite)
{
    int rc = check(x, n, L);
    if (rc) return rc;
    size_t bad = 0;
    for (int l = 0; l < L; l++) {
        /* non-finite samples are excluded from min/max, then output 0 */
        double lo = INFINITY, hi = -INFINITY;
        for (size_t t = 0; t < n; t++) {
            double v = x[t * L + l];
            if (!isfinite(v)) continue;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        int flat = !(hi > lo);
        for (size_t t = 0; t < n; t++) {
            float *p = &x[t * L + l];
            if (!isfinite(*p)) {
                bad++;
                *p = 0;
            } else {
                *p = flat ? 0.0f : (float)(2.0 * (*p - lo) / (hi - lo) - 1.0);
            }
        }
    }
    if (nonfinite) *nonfinite = bad;
    return PF_OK;
}

int pf_norm_apply(pf_norm_kind kind, float *x, size_t n, int nleads, size_t *nonfinite)
{
    switch (kind) {
    case PF_NORM_NONE:
        if (nonfinite) *nonfinite = 0;
        return check(x, n, nleads);
    case PF_NORM_ZSCORE: return pf_norm_zscore(x, n, nleads, nonfinite);
    case PF_NORM_MINMAX: return pf_norm_minmax(x, n, nleads, nonfinite);
    }
    return pf_err(PF_EINVAL, "pf_norm: kind %d unknown", (int)kind);
}

int pf_norm_parse(const char *name, pf_norm_kind *out)
{
    static const char *names[] = {"none", "zscore", "minmax"};
    for (int k = 0; k < 3; k++)
        if (name && strcmp(name, names[k]) == 0) {
            *out = (pf_norm_kind)k;
            return PF_OK;
        }
    return pf_err(PF_EINVAL, "normalisation '%s' unknown (none, zscore, minmax)",
                  name ? name : "(null)");
}
