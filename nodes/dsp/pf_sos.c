#include "pf_sos.h"

#include "pf_error.h"

#include <liquid/liquid.h>
#include <stdlib.h>
#include <string.h>

#define LANES 4   /* leads per vector group: one AVX2 register of doubles */
#define BLOCK 256 /* samples per block: 8 KiB of double lanes, stays in L1 */

struct pf_sos {
    pf_iirdes d;
    pf_sos_engine engine;
    int nleads, ngroups;
    double *st;          /* F64: [ngroups][nsec][2][LANES]; REF: [nleads][nsec][2] */
    iirfilt_rrrf *lq;    /* LIQUID: one per lead */
    double *buf;         /* [BLOCK][4 * LANES] */
    int avx2;            /* run the AVX2+FMA build of the kernel */
};

static int cpu_has_avx2_fma(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

const char *pf_sos_engine_name(pf_sos_engine e)
{
    switch (e) {
    case PF_SOS_ENGINE_F64: return "f64";
    case PF_SOS_ENGINE_REF: return "ref";
    case PF_SOS_ENGINE_LIQUID: return "liquid";
    }
    return "?";
}

int pf_sos_engine_parse(const char *name, pf_sos_engine *out)
{
    for (int e = PF_SOS_ENGINE_F64; e <= PF_SOS_ENGINE_LIQUID; e++)
        if (name && strcmp(name, pf_sos_engine_name((pf_sos_engine)e)) == 0) {
            *out = (pf_sos_engine)e;
            return PF_OK;
        }
    return pf_err(PF_EINVAL, "filter engine '%s' unknown (f64, ref, liquid)", name ? name : "(null)");
}

pf_sos *pf_sos_create(const pf_iirdes *d, int nleads, pf_sos_engine engine)
{
    if (!d || d->nsec < 1) {
        pf_err(PF_EINVAL, "pf_sos_create: design has no sections");
        return NULL;
    }
    if (nleads < 1 || nleads > 4096) {
        pf_err(PF_ERANGE, "pf_sos_create: nleads = %d must be in 1..4096", nleads);
        return NULL;
    }
    for (int s = 0; s < d->nsec; s++)
        if (d->sos[s][3] != 1.0) {
            pf_err(PF_EINVAL, "pf_sos_create: section %d has a0 = %g, expected 1", s, d->sos[s][3]);
            return NULL;
        }
    pf_sos *f = calloc(1, sizeof *f);
    if (!f) {
        pf_err(PF_ENOMEM, "pf_sos_create: out of memory");
        return NULL;
    }
    f->d = *d;
    f->engine = engine;
    f->nleads = nleads;
    f->ngroups = (nleads + LANES - 1) / LANES;
    f->avx2 = cpu_has_avx2_fma();
    switch (engine) {
    case PF_SOS_ENGINE_F64:
        f->st = calloc((size_t)f->ngroups * d->nsec * 2 * LANES, sizeof(double));
        f->buf = aligned_alloc(64, sizeof(double) * BLOCK * 4 * LANES);
        if (!f->st || !f->buf) goto nomem;
        break;
    case PF_SOS_ENGINE_REF:
        f->st = calloc((size_t)nleads * d->nsec * 2, sizeof(double));
        if (!f->st) goto nomem;
        break;
    case PF_SOS_ENGINE_LIQUID: {
        float b[3 * PF_IIRDES_MAX_SECTIONS], a[3 * PF_IIRDES_MAX_SECTIONS];
        for (int s = 0; s < d->nsec; s++)
            for (int k = 0; k < 3; k++) {
                b[3 * s + k] = (float)d->sos[s][k];
                a[3 * s + k] = (float)d->sos[s][3 + k];
            }
        f->lq = calloc((size_t)nleads, sizeof *f->lq);
        if (!f->lq) goto nomem;
        for (int l = 0; l < nleads; l++) {
            f->lq[l] = iirfilt_rrrf_create_sos(b, a, (unsigned)d->nsec);
            if (!f->lq[l]) {
                pf_err(PF_EINVAL, "liquid iirfilt_rrrf_create_sos failed (%d sections)", d->nsec);
                pf_sos_destroy(f);
                return NULL;
            }
        }
        break;
    }
    default:
        pf_err(PF_EINVAL, "pf_sos_create: engine %d unknown", (int)engine);
        free(f);
        return NULL;
    }
    return f;
nomem:
    pf_sos_destroy(f);
    pf_err(PF_ENOMEM, "pf_sos_create: out of memory for %d leads", nleads);
    return NULL;
}

pf_sos *pf_sos_copy(const pf_sos *f)
{
    if (f->engine == PF_SOS_ENGINE_LIQUID) {
        pf_err(PF_EINVAL, "the liquid engine's filter state cannot be copied (liquid-dsp 1.5 has no "
                          "iirfilt copy): use engine \"f64\" or \"ref\"");
        return NULL;
    }
    pf_sos *c = pf_sos_create(&f->d, f->nleads, f->engine);
    if (!c) return NULL;
    size_t n = f->engine == PF_SOS_ENGINE_F64 ? (size_t)f->ngroups * f->d.nsec * 2 * LANES
                                              : (size_t)f->nleads * f->d.nsec * 2;
    memcpy(c->st, f->st, n * sizeof(double));
    return c;
}

void pf_sos_destroy(pf_sos *f)
{
    if (!f) return;
    if (f->lq)
        for (int l = 0; l < f->nleads; l++)
            if (f->lq[l]) iirfilt_rrrf_destroy(f->lq[l]);
    free(f->lq);
    free(f->st);
    free(f->buf);
    free(f);
}

void pf_sos_reset(pf_sos *f)
{
    if (!f) return;
    if (f->engine == PF_SOS_ENGINE_F64)
        memset(f->st, 0, sizeof(double) * f->ngroups * f->d.nsec * 2 * LANES);
    else if (f->engine == PF_SOS_ENGINE_REF)
        memset(f->st, 0, sizeof(double) * f->nleads * f->d.nsec * 2);
    else
        for (int l = 0; l < f->nleads; l++) iirfilt_rrrf_reset(f->lq[l]);
}

double pf_sos_group_delay(const pf_sos *f) { return pf_iirdes_group_delay(&f->d, f->d.f_ref); }

/* Optimised kernel. A vector of LANES doubles carries one lead group; G
 * groups (up to 4 = 16 leads) advance together so their independent
 * recursions hide each other's latency (the recursion through y is serial in
 * time). z1/z2 live in registers for a whole block, section by section.
 * buf: [nb][G * LANES] (32-byte aligned), st: [G][nsec][2][LANES]. */
typedef double v4d __attribute__((vector_size(LANES * sizeof(double))));

typedef float v4f __attribute__((vector_size(LANES * sizeof(float))));

/* The first section reads float32 input rows (x, stride L, from lead l0) and
 * the last writes float32 output rows directly when xf/yf are given (whole
 * groups, no padding): the block buffer then only carries intermediate
 * sections, saving two conversion passes. */
static inline __attribute__((always_inline)) void
sos_block_g(const double (*sos)[6], int nsec, double *restrict st, double *restrict buf, int nb,
            const int G, const float *xf, float *yf, size_t L)
{
    for (int s = 0; s < nsec; s++) {
        const v4d b0 = {sos[s][0], sos[s][0], sos[s][0], sos[s][0]};
        const v4d b1 = {sos[s][1], sos[s][1], sos[s][1], sos[s][1]};
        const v4d b2 = {sos[s][2], sos[s][2], sos[s][2], sos[s][2]};
        const v4d a1 = {sos[s][4], sos[s][4], sos[s][4], sos[s][4]};
        const v4d a2 = {sos[s][5], sos[s][5], sos[s][5], sos[s][5]};
        const int from_x = xf && s == 0, to_y = yf && s == nsec - 1;
        v4d z1[4], z2[4];
        for (int g = 0; g < G; g++) {
            memcpy(&z1[g], st + ((size_t)(g * nsec + s) * 2) * LANES, sizeof(v4d));
            memcpy(&z2[g], st + ((size_t)(g * nsec + s) * 2 + 1) * LANES, sizeof(v4d));
        }
        for (int t = 0; t < nb; t++) {
            v4d *v = (v4d *)(buf + (size_t)t * G * LANES);
            for (int g = 0; g < G; g++) {
                v4d x;
                if (from_x) {
                    v4f xs;
                    memcpy(&xs, xf + (size_t)t * L + (size_t)g * LANES, sizeof xs);
                    x = __builtin_convertvector(xs, v4d);
                } else {
                    x = v[g];
                }
                v4d y = b0 * x + z1[g];
                /* b1 x + z2 does not wait for y: the loop-carried chain is
                 * y -> a1 y -> z1 -> y (two fused multiply-adds with FMA) */
                z1[g] = (b1 * x + z2[g]) - a1 * y;
                z2[g] = b2 * x - a2 * y;
                if (to_y) {
                    v4f ys = __builtin_convertvector(y, v4f);
                    memcpy(yf + (size_t)t * L + (size_t)g * LANES, &ys, sizeof ys);
                } else {
                    v[g] = y;
                }
            }
        }
        for (int g = 0; g < G; g++) {
            memcpy(st + ((size_t)(g * nsec + s) * 2) * LANES, &z1[g], sizeof(v4d));
            memcpy(st + ((size_t)(g * nsec + s) * 2 + 1) * LANES, &z2[g], sizeof(v4d));
        }
    }
}

#define SOS_BLOCK_BODY                                                                             \
    switch (G) {                                                                                   \
    case 1: sos_block_g(sos, nsec, st, buf, nb, 1, xf, yf, L); break;                              \
    case 2: sos_block_g(sos, nsec, st, buf, nb, 2, xf, yf, L); break;                              \
    case 3: sos_block_g(sos, nsec, st, buf, nb, 3, xf, yf, L); break;                              \
    default: sos_block_g(sos, nsec, st, buf, nb, 4, xf, yf, L); break;                             \
    }

/* Built twice: AVX2+FMA (one instruction per 4 leads, fused multiply-adds)
 * and the baseline; chosen once at run time. target_clones("arch=haswell")
 * would not do: its resolver checks the CPU model, which virtual machines
 * report as generic even when they have AVX2 and FMA. */
__attribute__((target("avx2,fma"))) static void
sos_block_avx2(const double (*sos)[6], int nsec, double *restrict st, double *restrict buf, int nb,
               int G, const float *xf, float *yf, size_t L)
{
    SOS_BLOCK_BODY
}

static void sos_block_base(const double (*sos)[6], int nsec, double *restrict st,
                           double *restrict buf, int nb, int G, const float *xf, float *yf,
                           size_t L)
{
    SOS_BLOCK_BODY
}


/* Naive reference: lead by lead, sample by sample, section by section. */
static void sos_ref_lead(const double (*sos)[6], int nsec, double *st /* [nsec][2] */, double *x,
                         size_t n, size_t stride)
{
    for (size_t t = 0; t < n; t++) {
        double v = x[t * stride];
        for (int s = 0; s < nsec; s++) {
            double y = sos[s][0] * v + st[2 * s];
            st[2 * s] = sos[s][1] * v - sos[s][4] * y + st[2 * s + 1];
            st[2 * s + 1] = sos[s][2] * v - sos[s][5] * y;
            v = y;
        }
        x[t * stride] = v;
    }
}

/* x/y are float or double according to dbl; runs the configured engine. */
static int sos_run(pf_sos *f, const void *xv, void *yv, size_t n, int dbl)
{
    if (!f) return pf_err(PF_EINVAL, "pf_sos_process: NULL filter");
    if (n == 0) return PF_OK;
    if (!xv || !yv) return pf_err(PF_EINVAL, "pf_sos_process: NULL buffer for %zu samples", n);
    const int L = f->nleads, nsec = f->d.nsec;
    const float *xf = xv;
    const double *xd = xv;
    float *yf = yv;
    double *yd = yv;
    if (f->engine == PF_SOS_ENGINE_F64) {
        const int W = 4 * LANES; /* leads per pass: up to 4 vector groups */
        for (size_t t0 = 0; t0 < n; t0 += BLOCK) {
            int nb = (int)(n - t0 < BLOCK ? n - t0 : BLOCK);
            for (int g0 = 0; g0 < f->ngroups; g0 += 4) {
                int G = f->ngroups - g0 < 4 ? f->ngroups - g0 : 4;
                int l0 = g0 * LANES, nl = L - l0 < W ? L - l0 : W, gw = G * LANES;
                double *buf = f->buf;
                int direct = !dbl && nl == gw; /* whole float groups: convert in the kernel */
                if (!direct)
                    for (int t = 0; t < nb; t++) {
                        size_t base = (t0 + t) * (size_t)L + l0;
                        double *row = buf + (size_t)t * gw;
                        int l = 0;
                        if (dbl)
                            for (; l < nl; l++) row[l] = xd[base + l];
                        else
                            for (; l < nl; l++) row[l] = xf[base + l];
                        for (; l < gw; l++) row[l] = 0;
                    }
                const float *kx = direct ? xf + t0 * (size_t)L + l0 : NULL;
                float *ky = direct ? yf + t0 * (size_t)L + l0 : NULL;
                (f->avx2 ? sos_block_avx2 : sos_block_base)((const double(*)[6])f->d.sos, nsec,
                                                             f->st + (size_t)g0 * nsec * 2 * LANES,
                                                             buf, nb, G, kx, ky, (size_t)L);
                if (!direct)
                    for (int t = 0; t < nb; t++) {
                        size_t base = (t0 + t) * (size_t)L + l0;
                        const double *row = buf + (size_t)t * gw;
                        if (dbl)
                            for (int l = 0; l < nl; l++) yd[base + l] = row[l];
                        else
                            for (int l = 0; l < nl; l++) yf[base + l] = (float)row[l];
                    }
            }
        }
    } else if (f->engine == PF_SOS_ENGINE_REF) {
        double tmp[BLOCK];
        for (int l = 0; l < L; l++)
            for (size_t t0 = 0; t0 < n; t0 += BLOCK) {
                size_t nb = n - t0 < BLOCK ? n - t0 : BLOCK;
                for (size_t t = 0; t < nb; t++)
                    tmp[t] = dbl ? xd[(t0 + t) * L + l] : xf[(t0 + t) * L + l];
                sos_ref_lead((const double(*)[6])f->d.sos, nsec, f->st + (size_t)l * nsec * 2, tmp,
                             nb, 1);
                for (size_t t = 0; t < nb; t++) {
                    if (dbl) yd[(t0 + t) * L + l] = tmp[t];
                    else yf[(t0 + t) * L + l] = (float)tmp[t];
                }
            }
    } else {
        for (int l = 0; l < L; l++)
            for (size_t t = 0; t < n; t++) {
                float in = dbl ? (float)xd[t * L + l] : xf[t * L + l], out;
                iirfilt_rrrf_execute(f->lq[l], in, &out);
                if (dbl) yd[t * L + l] = out;
                else yf[t * L + l] = out;
            }
    }
    return PF_OK;
}

int pf_sos_process(pf_sos *f, const float *x, float *y, size_t n) { return sos_run(f, x, y, n, 0); }

int pf_sos_process_f64(pf_sos *f, const double *x, double *y, size_t n)
{
    return sos_run(f, x, y, n, 1);
}

/* ---- zero-phase (scipy.signal.sosfiltfilt conventions) ------------------ */

size_t pf_sos_filtfilt_padlen(const pf_iirdes *d)
{
    int nb2 = 0, na2 = 0;
    for (int s = 0; s < d->nsec; s++) {
        nb2 += d->sos[s][2] == 0;
        na2 += d->sos[s][5] == 0;
    }
    int ntaps = 2 * d->nsec + 1 - (nb2 < na2 ? nb2 : na2);
    return (size_t)(3 * ntaps);
}

static int filtfilt_run(const pf_iirdes *d, const void *xv, void *yv, size_t n, int nleads, int dbl)
{
    if (!d || !xv || !yv) return pf_err(PF_EINVAL, "pf_sos_filtfilt: NULL argument");
    if (nleads < 1) return pf_err(PF_ERANGE, "pf_sos_filtfilt: nleads = %d must be >= 1", nleads);
    size_t pad = pf_sos_filtfilt_padlen(d);
    if (n <= pad)
        return pf_err(PF_ERANGE, "pf_sos_filtfilt: window of %zu samples must be longer than padlen %zu",
                      n, pad);
    size_t ne = n + 2 * pad;
    double *e = malloc(sizeof(double) * ne);
    if (!e) return pf_err(PF_ENOMEM, "pf_sos_filtfilt: out of memory (%zu samples)", ne);
    double zi[2 * PF_IIRDES_MAX_SECTIONS], st[2 * PF_IIRDES_MAX_SECTIONS];
    pf_iirdes_zi(d, zi);
    const float *xf = xv;
    const double *xd = xv;
    for (int l = 0; l < nleads; l++) {
#define X(t) (dbl ? xd[(size_t)(t) * nleads + l] : (double)xf[(size_t)(t) * nleads + l])
        double x0 = X(0), xn = X(n - 1);
        /* odd extension: 2 x[0] - x[pad..1], x, 2 x[n-1] - x[n-2..n-1-pad] */
        for (size_t i = 0; i < pad; i++) e[i] = 2 * x0 - X(pad - i);
        for (size_t t = 0; t < n; t++) e[pad + t] = X(t);
        for (size_t i = 0; i < pad; i++) e[pad + n + i] = 2 * xn - X(n - 2 - i);
#undef X
        for (int k = 0; k < 2 * d->nsec; k++) st[k] = zi[k] * e[0];
        sos_ref_lead((const double(*)[6])d->sos, d->nsec, st, e, ne, 1);
        /* backward pass over the reversed output, started from its last value */
        double y0 = e[ne - 1];
        for (int k = 0; k < 2 * d->nsec; k++) st[k] = zi[k] * y0;
        for (size_t i = 0; i < ne / 2; i++) {
            double tmp = e[i];
            e[i] = e[ne - 1 - i];
            e[ne - 1 - i] = tmp;
        }
        sos_ref_lead((const double(*)[6])d->sos, d->nsec, st, e, ne, 1);
        /* reversed again: y[t] = e[ne - 1 - (pad + t)] */
        for (size_t t = 0; t < n; t++) {
            double v = e[ne - 1 - pad - t];
            if (dbl) ((double *)yv)[t * nleads + l] = v;
            else ((float *)yv)[t * nleads + l] = (float)v;
        }
    }
    free(e);
    return PF_OK;
}

int pf_sos_filtfilt(const pf_iirdes *d, const float *x, float *y, size_t n, int nleads)
{
    return filtfilt_run(d, x, y, n, nleads, 0);
}

int pf_sos_filtfilt_f64(const pf_iirdes *d, const double *x, double *y, size_t n, int nleads)
{
    return filtfilt_run(d, x, y, n, nleads, 1);
}
