/* pf_iirdes: IIR filter designs as second-order sections (SOS), in float64.
 *
 * The analogue Butterworth prototype comes from liquid-dsp (butter_azpkf) and
 * the digital transforms follow liquid's iirdes steps (bilinear z-transform
 * with pre-warping factor m, digital low-pass -> high-pass by z -> -z,
 * Constantinides low-pass -> band-pass), but are evaluated in double: liquid's
 * own float coefficients move a 0.5 Hz high-pass edge enough to miss scipy's
 * float64 output by ~1e-4 relative.
 *
 * Band-pass parameters, in liquid's convention: liquid's f0 is NOT the
 * arithmetic centre (f1+f2)/2 but the frequency where the Constantinides
 * transform puts the prototype's DC:
 *     cos(2 pi f0) = cos(pi (f1+f2)) / cos(pi (f2-f1))      (f in cycles/sample)
 * and the low-pass prototype cut-off is the bandwidth f2-f1 (m = tan(pi (f2-f1))).
 * With those, liquid_iirdes(BUTTER, BANDPASS, n, fc=f2, f0) and
 * scipy.signal.butter(n, [f1, f2], 'bandpass', fs=...) are the same filter
 * (tests/dsp/test_iirdes checks poles and zeros against scipy within 1e-5).
 *
 * SOS layout is scipy's: row s = {b0, b1, b2, a0 = 1, a1, a2}.
 */
#ifndef PF_IIRDES_H
#define PF_IIRDES_H

#include <complex.h>

#define PF_IIRDES_MAX_SECTIONS 24
#define PF_IIRDES_MAX_ORDER 12 /* per Butterworth design (band-pass doubles it) */

typedef enum {
    PF_IIRDES_LOWPASS = 0,
    PF_IIRDES_HIGHPASS,
    PF_IIRDES_BANDPASS,
} pf_iirdes_band;

typedef struct {
    int nsec;                                  /* number of sections */
    double sos[PF_IIRDES_MAX_SECTIONS][6];     /* scipy layout, see above */
    int nzp;                                   /* zeros = poles = nzp (padded with z=0 poles/zeros) */
    double complex z[2 * PF_IIRDES_MAX_SECTIONS];
    double complex p[2 * PF_IIRDES_MAX_SECTIONS];
    double k;                                  /* overall gain */
    double fs;                                 /* sample rate, Hz */
    double f_ref;                              /* Hz: where the group delay is reported */
} pf_iirdes;

/* Butterworth of the given order (scipy's N; a band-pass has 2N poles).
 * f1: cut-off (LP/HP) or lower edge (BP); f2: upper edge (BP only), Hz. */
int pf_iirdes_butter(pf_iirdes *d, pf_iirdes_band band, int order, double f1, double f2,
                     double fs);

/* Second-order notch at f0 Hz with quality factor q (-3 dB width f0/q), identical
 * to scipy.signal.iirnotch(f0, q, fs). Built as a first-order Butterworth
 * band-stop: liquid's low-pass -> high-pass -> band-pass chain with m = cot(pi bw). */
int pf_iirdes_notch(pf_iirdes *d, double f0, double q, double fs);

/* Append the sections (and zeros/poles/gain) of b to a: the cascade a * b.
 * Both must have the same fs; f_ref stays a's. */
int pf_iirdes_cascade(pf_iirdes *a, const pf_iirdes *b);

/* Group delay in samples at frequency f Hz (sum over sections). */
double pf_iirdes_group_delay(const pf_iirdes *d, double f);

/* scipy.signal.sosfilt_zi: transposed-direct-form-II state [nsec][2] of the
 * cascade at rest after a unit step (scale by the first sample to start a
 * filter without its step transient). */
void pf_iirdes_zi(const pf_iirdes *d, double *zi);

/* |H(e^{j 2 pi f / fs})| */
double pf_iirdes_magnitude(const pf_iirdes *d, double f);

/* The centre frequency, cycles/sample, that liquid_iirdes expects for a
 * band-pass with edges f1, f2 (cycles/sample); see the header comment. */
double pf_iirdes_liquid_f0(double f1, double f2);

#endif
