#include "pf_iirdes.h"

#include "pf_error.h"

#include <liquid/liquid.h>
#include <math.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* liquid's float prototype poles are exact to ~6e-8; Butterworth poles are
 * exp(j pi (2k+n+1) / 2n), so snap each to its exact double value. */
static int butter_proto(int n, double complex *pa)
{
    liquid_float_complex za[PF_IIRDES_MAX_ORDER], paf[PF_IIRDES_MAX_ORDER], ka;
    if (butter_azpkf((unsigned)n, za, paf, &ka) != 0)
        return pf_err(PF_EINVAL, "liquid butter_azpkf failed for order %d", n);
    for (int i = 0; i < n; i++) {
        double th = atan2((double)cimagf(paf[i]), (double)crealf(paf[i]));
        double k = round((th * 2.0 * n / M_PI - n - 1.0) / 2.0);
        double snapped = M_PI * (2.0 * k + n + 1.0) / (2.0 * n);
        if (fabs(remainder(snapped - th, 2.0 * M_PI)) > 1e-4)
            return pf_err(PF_EINVAL, "liquid Butterworth pole %d (%g) is not on the expected grid", i,
                          th);
        pa[i] = cexp(I * snapped);
    }
    return PF_OK;
}

/* bilinear z-transform with liquid's pre-warping factor m: s -> (z-1)/(m (z+1)) */
static void bilinear(const double complex *pa, int n, double m, double complex *zd,
                     double complex *pd)
{
    for (int i = 0; i < n; i++) {
        zd[i] = -1.0;
        pd[i] = (1.0 + pa[i] * m) / (1.0 - pa[i] * m);
    }
}

/* liquid's iirdes_dzpk_lp2bp in double: each root r maps to the two roots of
 * x^2 - c0 (1 + r) x + r = 0. */
static void lp2bp(const double complex *in, int n, double c0, double complex *out)
{
    for (int i = 0; i < n; i++) {
        double complex t0 = 1.0 + in[i];
        double complex d = csqrt(c0 * c0 * t0 * t0 - 4.0 * in[i]);
        out[2 * i + 0] = 0.5 * (c0 * t0 + d);
        out[2 * i + 1] = 0.5 * (c0 * t0 - d);
    }
}

static double complex eval_zpk(const double complex *z, const double complex *p, int n, double k,
                               double w)
{
    double complex e = cexp(I * w), h = k;
    for (int i = 0; i < n; i++) h *= (e - z[i]) / (e - p[i]);
    return h;
}

/* Group zeros/poles into sections: poles farthest from the unit circle first
 * (scipy's order, keeps the high-Q section last), each with its nearest zeros. */
static int zpk_to_sos(pf_iirdes *d)
{
    int n = d->nzp;
    int pused[2 * PF_IIRDES_MAX_SECTIONS] = {0}, zused[2 * PF_IIRDES_MAX_SECTIONS] = {0};
    const double tol = 1e-9;
    d->nsec = 0;
    for (;;) {
        /* next pole: smallest |p| among unused with Im >= 0 */
        int bi = -1;
        for (int i = 0; i < n; i++)
            if (!pused[i] && cimag(d->p[i]) >= -tol &&
                (bi < 0 || cabs(d->p[i]) < cabs(d->p[bi])))
                bi = i;
        if (bi < 0) break;
        if (d->nsec >= PF_IIRDES_MAX_SECTIONS)
            return pf_err(PF_ERANGE, "design needs more than %d sections", PF_IIRDES_MAX_SECTIONS);
        double complex p0 = d->p[bi], p1;
        pused[bi] = 1;
        int second = 1;
        if (fabs(cimag(p0)) > tol) {
            /* its conjugate */
            int ci = -1;
            for (int i = 0; i < n; i++)
                if (!pused[i] && cabs(d->p[i] - conj(p0)) < 1e-7 * (1 + cabs(p0))) { ci = i; break; }
            if (ci < 0) return pf_err(PF_EINVAL, "pole %g%+gj has no conjugate", creal(p0), cimag(p0));
            pused[ci] = 1;
            p1 = conj(p0);
        } else {
            /* pair with the next real pole if there is one */
            int ri = -1;
            for (int i = 0; i < n; i++)
                if (!pused[i] && fabs(cimag(d->p[i])) <= tol &&
                    (ri < 0 || cabs(d->p[i]) < cabs(d->p[ri])))
                    ri = i;
            if (ri >= 0) { pused[ri] = 1; p1 = creal(d->p[ri]); }
            else { p1 = 0; second = 0; }
            p0 = creal(p0);
        }
        /* zeros: nearest unused to p0 */
        double complex z0 = 0, z1 = 0;
        int zi = -1;
        for (int i = 0; i < n; i++)
            if (!zused[i] && (zi < 0 || cabs(d->z[i] - p0) < cabs(d->z[zi] - p0))) zi = i;
        if (zi >= 0) {
            zused[zi] = 1;
            z0 = d->z[zi];
            if (fabs(cimag(z0)) > tol) {
                int ci = -1;
                for (int i = 0; i < n; i++)
                    if (!zused[i] && cabs(d->z[i] - conj(z0)) < 1e-7 * (1 + cabs(z0))) { ci = i; break; }
                if (ci < 0) return pf_err(PF_EINVAL, "zero %g%+gj has no conjugate", creal(z0), cimag(z0));
                zused[ci] = 1;
                z1 = conj(z0);
            } else if (second) {
                int ri = -1;
                for (int i = 0; i < n; i++)
                    if (!zused[i] && fabs(cimag(d->z[i])) <= tol &&
                        (ri < 0 || cabs(d->z[i] - p1) < cabs(d->z[ri] - p1)))
                        ri = i;
                if (ri >= 0) { zused[ri] = 1; z1 = creal(d->z[ri]); }
            }
        }
        double *s = d->sos[d->nsec++];
        if (second) {
            s[0] = 1; s[1] = -creal(z0 + z1); s[2] = creal(z0 * z1);
            s[3] = 1; s[4] = -creal(p0 + p1); s[5] = creal(p0 * p1);
        } else {
            s[0] = 1; s[1] = -creal(z0); s[2] = 0;
            s[3] = 1; s[4] = -creal(p0); s[5] = 0;
        }
    }
    for (int i = 0; i < 3; i++) d->sos[0][i] *= d->k;
    return PF_OK;
}

double pf_iirdes_liquid_f0(double f1, double f2)
{
    return acos(cos(M_PI * (f1 + f2)) / cos(M_PI * (f2 - f1))) / (2.0 * M_PI);
}

int pf_iirdes_butter(pf_iirdes *d, pf_iirdes_band band, int order, double f1, double f2,
                     double fs)
{
    if (!d) return pf_err(PF_EINVAL, "pf_iirdes_butter: NULL design");
    if (order < 1 || order > PF_IIRDES_MAX_ORDER)
        return pf_err(PF_ERANGE, "butter: order = %d must be in 1..%d", order, PF_IIRDES_MAX_ORDER);
    if (!(fs > 0)) return pf_err(PF_ERANGE, "butter: fs = %g must be > 0", fs);
    if (!(f1 > 0 && f1 < fs / 2))
        return pf_err(PF_ERANGE, "butter: f1 = %g Hz must be in (0, fs/2 = %g)", f1, fs / 2);
    if (band == PF_IIRDES_BANDPASS && !(f2 > f1 && f2 < fs / 2))
        return pf_err(PF_ERANGE, "butter: f2 = %g Hz must be in (f1 = %g, fs/2 = %g)", f2, f1,
                      fs / 2);
    memset(d, 0, sizeof *d);
    d->fs = fs;
    double complex pa[PF_IIRDES_MAX_ORDER], zd[PF_IIRDES_MAX_ORDER], pd[PF_IIRDES_MAX_ORDER];
    int rc = butter_proto(order, pa);
    if (rc) return rc;
    double u1 = f1 / fs, u2 = f2 / fs; /* cycles/sample */
    double wref;
    switch (band) {
    case PF_IIRDES_LOWPASS:
        bilinear(pa, order, tan(M_PI * u1), zd, pd);
        d->nzp = order;
        memcpy(d->z, zd, sizeof(double complex) * order);
        memcpy(d->p, pd, sizeof(double complex) * order);
        wref = 0;
        d->f_ref = f1 / 2;
        break;
    case PF_IIRDES_HIGHPASS:
        /* liquid: m = cot(pi fc), then z -> -z */
        bilinear(pa, order, 1.0 / tan(M_PI * u1), zd, pd);
        d->nzp = order;
        for (int i = 0; i < order; i++) { d->z[i] = -zd[i]; d->p[i] = -pd[i]; }
        wref = M_PI;
        d->f_ref = fmin(2 * f1, fs / 4);
        break;
    case PF_IIRDES_BANDPASS: {
        double c0 = cos(2.0 * M_PI * pf_iirdes_liquid_f0(u1, u2));
        bilinear(pa, order, tan(M_PI * (u2 - u1)), zd, pd);
        lp2bp(zd, order, c0, d->z);
        lp2bp(pd, order, c0, d->p);
        d->nzp = 2 * order;
        wref = acos(c0);
        d->f_ref = wref / (2 * M_PI) * fs;
        break;
    }
    default:
        return pf_err(PF_EINVAL, "butter: unknown band type %d", (int)band);
    }
    /* Butterworth: unity gain at DC / Nyquist / band centre */
    d->k = 1.0 / cabs(eval_zpk(d->z, d->p, d->nzp, 1.0, wref));
    return zpk_to_sos(d);
}

int pf_iirdes_notch(pf_iirdes *d, double f0, double q, double fs)
{
    if (!d) return pf_err(PF_EINVAL, "pf_iirdes_notch: NULL design");
    if (!(fs > 0)) return pf_err(PF_ERANGE, "notch: fs = %g must be > 0", fs);
    if (!(f0 > 0 && f0 < fs / 2))
        return pf_err(PF_ERANGE, "notch: f0 = %g Hz must be in (0, fs/2 = %g)", f0, fs / 2);
    if (!(q > 0)) return pf_err(PF_ERANGE, "notch: q = %g must be > 0", q);
    memset(d, 0, sizeof *d);
    d->fs = fs;
    double complex pa[1], zd[1], pd[1];
    int rc = butter_proto(1, pa);
    if (rc) return rc;
    double bw = f0 / q / fs; /* cycles/sample */
    /* band-stop = high-pass prototype (z -> -z) through the band-pass transform;
     * the HP stop band [0, bw] lands on [f0 - ., f0 + .] with width bw. */
    bilinear(pa, 1, 1.0 / tan(M_PI * bw), zd, pd);
    zd[0] = -zd[0];
    pd[0] = -pd[0];
    double c0 = cos(2.0 * M_PI * f0 / fs);
    lp2bp(zd, 1, c0, d->z);
    lp2bp(pd, 1, c0, d->p);
    d->nzp = 2;
    d->k = 1.0 / cabs(eval_zpk(d->z, d->p, 2, 1.0, 0.0)); /* unity at DC */
    d->f_ref = f0 / 2;
    return zpk_to_sos(d);
}

int pf_iirdes_cascade(pf_iirdes *a, const pf_iirdes *b)
{
    if (!a || !b) return pf_err(PF_EINVAL, "pf_iirdes_cascade: NULL design");
    if (a->fs != b->fs)
        return pf_err(PF_EINVAL, "cascade: sample rates differ (%g vs %g Hz)", a->fs, b->fs);
    if (a->nsec + b->nsec > PF_IIRDES_MAX_SECTIONS)
        return pf_err(PF_ERANGE, "cascade: %d + %d sections exceed %d", a->nsec, b->nsec,
                      PF_IIRDES_MAX_SECTIONS);
    if (a->nzp + b->nzp > 2 * PF_IIRDES_MAX_SECTIONS)
        return pf_err(PF_ERANGE, "cascade: too many zeros/poles");
    memcpy(a->sos[a->nsec], b->sos, sizeof(double[6]) * b->nsec);
    memcpy(a->z + a->nzp, b->z, sizeof(double complex) * b->nzp);
    memcpy(a->p + a->nzp, b->p, sizeof(double complex) * b->nzp);
    a->nsec += b->nsec;
    a->nzp += b->nzp;
    a->k *= b->k;
    return PF_OK;
}

/* group delay of polynomial c0 + c1 e^{-jw} + c2 e^{-2jw}: Re(sum k c_k e^{-jwk} / sum c_k e^{-jwk}) */
static double poly_gd(const double *c, double w)
{
    double complex num = 0, den = 0;
    for (int k = 0; k < 3; k++) {
        double complex e = cexp(-I * w * k);
        num += k * c[k] * e;
        den += c[k] * e;
    }
    return creal(num / den);
}

double pf_iirdes_group_delay(const pf_iirdes *d, double f)
{
    double w = 2.0 * M_PI * f / d->fs, gd = 0;
    for (int s = 0; s < d->nsec; s++) gd += poly_gd(d->sos[s], w) - poly_gd(d->sos[s] + 3, w);
    return gd;
}

double pf_iirdes_magnitude(const pf_iirdes *d, double f)
{
    double w = 2.0 * M_PI * f / d->fs;
    double complex h = 1;
    for (int s = 0; s < d->nsec; s++) {
        double complex e1 = cexp(-I * w), e2 = cexp(-2.0 * I * w);
        const double *c = d->sos[s];
        h *= (c[0] + c[1] * e1 + c[2] * e2) / (c[3] + c[4] * e1 + c[5] * e2);
    }
    return cabs(h);
}

/* scipy.signal.sosfilt_zi: steady-state TDF2 state for a unit step, per
 * section, each scaled by the DC gain of the sections before it. */
void pf_iirdes_zi(const pf_iirdes *d, double *zi)
{
    double scale = 1.0;
    for (int s = 0; s < d->nsec; s++) {
        const double *c = d->sos[s];
        double g = (c[0] + c[1] + c[2]) / (1.0 + c[4] + c[5]);
        zi[2 * s + 1] = scale * (c[2] - c[5] * g);
        zi[2 * s] = scale * (c[1] + c[2] - (c[4] + c[5]) * g);
        scale *= g;
    }
}
