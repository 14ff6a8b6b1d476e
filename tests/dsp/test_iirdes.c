/* Designs vs scipy.signal (butter / iirnotch, float64): poles and zeros within
 * 1e-5, gain within 1e-9 relative; liquid_iirdes with the documented band-pass
 * parameters gives the same poles (float precision), and the arithmetic centre
 * does not. */
#include "../pf_test.h"
#include "pf_error.h"
#include "pf_iirdes.h"
#include "pyref.h"

#include <complex.h>
#include <liquid/liquid.h>
#include <math.h>


/* max over a of distance to the nearest unused b (greedy one-to-one) */
static double set_dist(const double complex *a, const double complex *b, int n)
{
    int used[64] = {0};
    double worst = 0;
    for (int i = 0; i < n; i++) {
        int bj = -1;
        for (int j = 0; j < n; j++)
            if (!used[j] && (bj < 0 || cabs(a[i] - b[j]) < cabs(a[i] - b[bj]))) bj = j;
        used[bj] = 1;
        double dd = cabs(a[i] - b[bj]);
        if (dd > worst) worst = dd;
    }
    return worst;
}

/* zeros/poles of the SOS rows (recomputed from coefficients) */
static int sos_roots(const double (*sos)[6], int nsec, double complex *z, double complex *p)
{
    int n = 0;
    for (int s = 0; s < nsec; s++) {
        if (sos[s][2] == 0 && sos[s][5] == 0) { /* first-order section */
            z[n] = -sos[s][1] / sos[s][0];
            p[n] = -sos[s][4];
            n += 1;
            continue;
        }
        for (int half = 0; half < 2; half++) {
            const double *c = sos[s] + 3 * half;
            double complex *r = half ? p : z;
            double A = c[0], B = c[1], C = c[2];
            double complex d = csqrt(B * B - 4 * A * C);
            r[n + 0] = (-B + d) / (2 * A);
            r[n + 1] = (-B - d) / (2 * A);
        }
        n += 2;
    }
    return n;
}

static void compare(const char *kind, int order, double f1, double f2, double fs)
{
    pf_iirdes d;
    int rc;
    if (strcmp(kind, "notch") == 0) rc = pf_iirdes_notch(&d, f1, f2, fs);
    else {
        pf_iirdes_band b = strcmp(kind, "lowpass") == 0    ? PF_IIRDES_LOWPASS
                           : strcmp(kind, "highpass") == 0 ? PF_IIRDES_HIGHPASS
                                                           : PF_IIRDES_BANDPASS;
        rc = pf_iirdes_butter(&d, b, order, f1, f2, fs);
    }
    CHECK(rc == PF_OK, "%s design failed: %s", kind, pf_errmsg());
    if (rc) return;
    char out[300], args[512];
    snprintf(out, sizeof out, "%s/zpk.bin", pyref_tmpdir());
    snprintf(args, sizeof args, "%s %s %d %.17g %.17g %.17g", out, kind, order, f1, f2, fs);
    if (pyref_run("ref_iirdes.py", args) != 0) { pf_test_fail++; return; }
    double v[512];
    long nv = pyref_read(out, v, 512);
    CHECK(nv > 3, "reference output short");
    if (nv <= 3) return;
    int nz = (int)v[0], np = (int)v[1];
    double complex z[64], p[64];
    for (int i = 0; i < nz; i++) z[i] = v[2 + 2 * i] + I * v[3 + 2 * i];
    for (int i = 0; i < np; i++) p[i] = v[2 + 2 * nz + 2 * i] + I * v[3 + 2 * nz + 2 * i];
    double k = v[2 + 2 * (nz + np)];
    /* scipy's Butterworth LP/BP have fewer finite zeros than poles (the rest
     * at z=-1 for LP, none dropped for our transforms): pad with -1 as liquid. */
    for (int i = nz; i < np; i++) z[i] = -1;
    CHECK(np == d.nzp, "%s order %d: %d poles vs scipy %d", kind, order, d.nzp, np);
    double dp = set_dist(d.p, p, np), dz = set_dist(d.z, z, np);
    /* poles recomputed from our float64 SOS coefficients too (what is executed) */
    double complex zs[64], ps[64];
    sos_roots((const double(*)[6])d.sos, d.nsec, zs, ps);
    double dps = set_dist(ps, p, np), dzs = set_dist(zs, z, np);
    printf("%-8s N=%d f=%g,%g fs=%g: |dp|=%.2e |dz|=%.2e sos |dp|=%.2e |dz|=%.2e dk/k=%.2e\n",
           kind, order, f1, f2, fs, dp, dz, dps, dzs, fabs(d.k - k) / fabs(k));
    CHECK(dp < 1e-5 && dz < 1e-5, "%s: pole/zero mismatch %.3e %.3e", kind, dp, dz);
    CHECK(dps < 1e-5 && dzs < 1e-5, "%s: SOS pole/zero mismatch %.3e %.3e", kind, dps, dzs);
    CHECK(fabs(d.k - k) <= 1e-9 * fabs(k), "%s: gain %.17g vs scipy %.17g", kind, d.k, k);
}

/* liquid_iirdes itself (float) with fc = upper edge and f0 from
 * pf_iirdes_liquid_f0 matches; with the arithmetic centre it does not. */
static void liquid_convention(double f1, double f2, double fs, int order)
{
    pf_iirdes d;
    CHECK(pf_iirdes_butter(&d, PF_IIRDES_BANDPASS, order, f1, f2, fs) == 0, "design: %s",
          pf_errmsg());
    float b[3 * 16], a[3 * 16];
    double sos[16][6];
    double complex z[64], p[64];
    double f0s[2] = {pf_iirdes_liquid_f0(f1 / fs, f2 / fs), (f1 + f2) / 2 / fs};
    for (int which = 0; which < 2; which++) {
        liquid_iirdes(LIQUID_IIRDES_BUTTER, LIQUID_IIRDES_BANDPASS, LIQUID_IIRDES_SOS,
                      (unsigned)order, (float)(f2 / fs), (float)f0s[which], 1, 60, b, a);
        for (int s = 0; s < order; s++)
            for (int j = 0; j < 3; j++) { sos[s][j] = b[3 * s + j]; sos[s][3 + j] = a[3 * s + j]; }
        int n = sos_roots((const double(*)[6])sos, order, z, p);
        double dp = set_dist(p, d.p, n);
        printf("liquid_iirdes bandpass %g-%g Hz fs=%g f0=%.4f Hz (%s): |dp|=%.2e\n", f1, f2, fs,
               f0s[which] * fs, which ? "arithmetic centre" : "pf_iirdes_liquid_f0", dp);
        if (which == 0)
            CHECK(dp < 2e-4, "liquid with derived f0 differs by %.3e (float design)", dp);
        else
            CHECK(dp > 1e-2, "arithmetic centre unexpectedly matches (%.3e)", dp);
    }
}

static void bad_args(void)
{
    pf_iirdes d;
    CHECK(pf_iirdes_butter(&d, PF_IIRDES_BANDPASS, 2, 40, 0.5, 360) == PF_ERANGE, "f2<f1 accepted");
    CHECK(strstr(pf_errmsg(), "f2") != NULL, "message names f2: %s", pf_errmsg());
    CHECK(pf_iirdes_butter(&d, PF_IIRDES_LOWPASS, 0, 40, 0, 360) == PF_ERANGE, "order 0 accepted");
    CHECK(pf_iirdes_butter(&d, PF_IIRDES_LOWPASS, 2, 200, 0, 360) == PF_ERANGE, "f>nyq accepted");
    CHECK(pf_iirdes_notch(&d, 50, 0, 360) == PF_ERANGE, "q=0 accepted");
}

int main(void)
{
    double rates[] = {250, 360, 500, 1000};
    for (int r = 0; r < 4; r++)
        for (int n = 1; n <= 4; n++) compare("bandpass", n, 0.5, 40, rates[r]);
    compare("bandpass", 6, 5, 15, 360);
    compare("highpass", 2, 0.5, 0, 360);
    compare("highpass", 3, 0.67, 0, 500);
    compare("lowpass", 4, 40, 0, 360);
    compare("lowpass", 5, 100, 0, 500);
    compare("notch", 2, 50, 30, 500);
    compare("notch", 2, 60, 30, 360);
    liquid_convention(0.5, 40, 360, 2);
    liquid_convention(0.5, 40, 500, 4);
    /* group delay: order-2 band-pass at its centre is finite, positive */
    pf_iirdes d;
    pf_iirdes_butter(&d, PF_IIRDES_BANDPASS, 2, 0.5, 40, 500);
    double gd = pf_iirdes_group_delay(&d, d.f_ref);
    printf("group delay at f_ref=%.2f Hz: %.3f samples\n", d.f_ref, gd);
    CHECK(gd > 0 && gd < 500, "group delay %g", gd);
    CHECK(fabs(pf_iirdes_magnitude(&d, d.f_ref) - 1) < 1e-9, "gain at centre %g",
          pf_iirdes_magnitude(&d, d.f_ref));
    bad_args();
    pyref_cleanup();
    return pf_test_done();
}
