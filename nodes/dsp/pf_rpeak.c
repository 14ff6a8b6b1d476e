#include "pf_rpeak.h"

#include "pf_error.h"
#include "pf_iirdes.h"
#include "pf_log.h"

#include <math.h>
#ifdef PF_RPEAK_TRACE
#include <stdio.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define NMED 8     /* Hamilton: medians of the last 8 QRS / noise peaks */
#define NCAND 64   /* candidates kept since the last QRS (search-back) */
#define MAXLEADS 64

typedef struct {
    long t;        /* sample index of the feature peak */
    double h;      /* combined feature height */
    double slope;  /* max combined slope in the preceding integration window */
} cand;

struct pf_rpeak {
    pf_rpeak_cfg c;
    int L, l0, l1;          /* leads used: [l0, l1) */
    /* per-lead front end */
    pf_iirdes bp;
    double (*z)[2 * PF_IIRDES_MAX_SECTIONS]; /* [L] TDF2 state */
    int kd;                 /* derivative span, samples */
    int M;                  /* integration window, samples */
    int R;                  /* candidate half window, samples */
    double *msum;           /* [L] running sums of |slope| */
    double lvl[MAXLEADS];   /* per-lead QRS feature level (median of last NMED) */
    double lbuf[MAXLEADS][NMED];
    int lcount;
    double nbl[MAXLEADS][NMED]; /* per-lead feature/level at recent noise candidates */
    double w[MAXLEADS];         /* lead weights: inverse of their noise ratio */
    double scale[MAXLEADS];     /* w[l] / (lvl[l] * sum of w): per-sample multiplier */
    double invM;
    /* The history: two rings of per-sample records (powers of 2). What a re-learn may
     * revisit, seconds back, is in the long one (lrec_at: raw input for R-peak
     * localisation, integrated slope at candidates; float [L] each); what the detection
     * itself looks back at, under a second, in the short one (srec_at: combined feature F
     * and slope S as double, band-passed signal and |slope| as float [L]). A sample's
     * writes share cache lines, where six full-length rings made a bed's chunk touch six
     * pages (a TLB miss each with thousands of beds) and took twice the memory. */
    long rn, rmask;         /* long ring */
    long sn, smask;         /* short ring */
    size_t lrec, srec;      /* record sizes, bytes: 8 L; 16 + 8 L */
    char *hist, *shist;     /* one mapping: the long ring, then the short one */
    size_t hist_bytes;
    int hs, B;              /* localisation smoothing / baseline half-widths */
    double zi[2 * PF_IIRDES_MAX_SECTIONS];
    /* sliding maximum of F over 2R+1 (monotonic deque of indices) */
    long *dq;
    long dqh, dqt;          /* head/tail counters, index mod (2R+2) */
    long dqn;
    long t;                 /* next sample index */
    size_t nonfinite;
    float lastx[MAXLEADS];  /* last input frame, held by flush */
    /* detection state */
    int learned;
    long learn_n, start_n;
    double qbuf[NMED], nbuf[NMED];
    double qmed, nmed, thr;
    cand cands[NCAND];
    int ncand;              /* candidates since the last QRS, oldest first */
    long last_qrs;          /* feature time of the last QRS (-1 none) */
    double last_slope;
    long rrbuf[NMED];
    int nrr;
    double rr;              /* mean RR, samples */
    long last_emit;
    long ref;               /* refractory period, samples */
    cand pend;              /* QRS waiting out its refractory period */
    int pend_valid, pend_best, pend_rr;
    long relearned;         /* times the QRS level was re-learned */
    long prev_qrs;
    /* output being filled by the current call */
    long *out;
    size_t outn, outmax;
    int overflow;
};

/* sample u's records in the history rings, and their fields */
static inline char *lrec_at(const pf_rpeak *d, long u) { return d->hist + (size_t)(u & d->rmask) * d->lrec; }
static inline char *srec_at(const pf_rpeak *d, long u) { return d->shist + (size_t)(u & d->smask) * d->srec; }
#define REC_X(d, p) ((float *)(void *)(p))                        /* long: raw input [L] */
#define REC_FV(d, p) ((float *)(void *)(p) + (d)->L)              /* long: integrated slope [L] */
#define REC_F(p) (((double *)(void *)(p))[0])                     /* short: combined feature */
#define REC_S(p) (((double *)(void *)(p))[1])                     /* short: combined slope */
#define REC_BP(d, p) ((float *)(void *)((p) + 16))                /* short: band-passed [L] */
#define REC_DV(d, p) ((float *)(void *)((p) + 16) + (d)->L)       /* short: |slope| [L] */

static void update_scale(pf_rpeak *d);

void pf_rpeak_cfg_default(pf_rpeak_cfg *c, double fs, int nleads)
{
    memset(c, 0, sizeof *c);
    c->fs = fs;
    c->nleads = nleads;
    c->lead = -1;
    c->f_lo = 8;
    c->f_hi = 20;
    c->mwi_ms = 100;
    c->peak_ms = 200;
    c->refractory_ms = 200;
    c->th = 0.3125;
    c->sb_factor = 1.4;
    c->sb_th = 0.5;
    c->twave_ms = 360;
    c->learn_s = 2;
    c->relearn_factor = 3;
    c->relearn_snr = 2;
    c->wfloor = 0.02;
    c->wpow = 2;
}

static double median8(const double *v)
{
    double s[NMED];
    memcpy(s, v, sizeof s);
    for (int i = 1; i < NMED; i++)
        for (int j = i; j > 0 && s[j - 1] > s[j]; j--) {
            double tmp = s[j];
            s[j] = s[j - 1];
            s[j - 1] = tmp;
        }
    return 0.5 * (s[NMED / 2 - 1] + s[NMED / 2]);
}

pf_rpeak *pf_rpeak_create(const pf_rpeak_cfg *c)
{
    if (!c) {
        pf_err(PF_EINVAL, "pf_rpeak_create: NULL config");
        return NULL;
    }
    if (!(c->fs >= 50 && c->fs <= 20000)) {
        pf_err(PF_ERANGE, "rpeak: fs = %g Hz must be in 50..20000", c->fs);
        return NULL;
    }
    if (c->nleads < 1 || c->nleads > MAXLEADS) {
        pf_err(PF_ERANGE, "rpeak: nleads = %d must be in 1..%d", c->nleads, MAXLEADS);
        return NULL;
    }
    if (c->lead < -1 || c->lead >= c->nleads) {
        pf_err(PF_ERANGE, "rpeak: lead = %d must be -1 (all) or < nleads = %d", c->lead, c->nleads);
        return NULL;
    }
    if (!(c->th > 0 && c->th < 1) || !(c->sb_factor > 1) || !(c->relearn_factor > c->sb_factor) || !(c->sb_th > 0 && c->sb_th <= 1) ||
        !(c->mwi_ms > 0) || !(c->peak_ms >= 50) || !(c->refractory_ms >= 100) || !(c->learn_s >= 0.5)) {
        pf_err(PF_ERANGE, "rpeak: parameter out of range (th %g, sb_factor %g, sb_th %g, mwi_ms %g, "
               "peak_ms %g, learn_s %g)", c->th, c->sb_factor, c->sb_th, c->mwi_ms, c->peak_ms,
               c->learn_s);
        return NULL;
    }
    pf_rpeak *d = calloc(1, sizeof *d);
    if (!d) goto nomem;
    d->c = *c;
    d->L = c->nleads;
    d->l0 = c->lead < 0 ? 0 : c->lead;
    d->l1 = c->lead < 0 ? c->nleads : c->lead + 1;
    double fhi = c->f_hi < 0.45 * c->fs ? c->f_hi : 0.45 * c->fs;
    if (pf_iirdes_butter(&d->bp, PF_IIRDES_BANDPASS, 2, c->f_lo, fhi, c->fs)) {
        pf_err_context(PF_EINVAL, "rpeak band-pass");
        free(d);
        return NULL;
    }
    pf_iirdes_zi(&d->bp, d->zi);
    d->hs = (int)lround(0.008 * c->fs);
    d->B = (int)lround(0.150 * c->fs);
    d->kd = (int)lround(0.010 * c->fs);
    if (d->kd < 1) d->kd = 1;
    d->M = (int)lround(c->mwi_ms * 1e-3 * c->fs);
    if (d->M < 1) d->M = 1;
    d->R = (int)lround(c->peak_ms * 1e-3 * c->fs);
    d->ref = (long)lround(c->refractory_ms * 1e-3 * c->fs);
    /* history back to the oldest candidate a re-learn may revisit (RR <= 3 s) */
    long need = (long)(c->fs * (c->learn_s + 3.0 * c->relearn_factor + 2.0)) + 2 * d->R + d->M;
    d->rn = 1;
    while (d->rn < need) d->rn <<= 1;
    d->rmask = d->rn - 1;
    /* the learning period is rescanned whole (learn_rescan); candidates look back 2R + M */
    long sneed = (long)(c->fs * c->learn_s) + 2 * d->R + d->M + d->kd + 2;
    d->sn = 1;
    while (d->sn < sneed) d->sn <<= 1;
    d->smask = d->sn - 1;
    d->z = calloc((size_t)d->L, sizeof *d->z);
    d->msum = calloc((size_t)d->L, sizeof(double));
    /* The history (~0.28 MB for 3 leads at 500 Hz) as one anonymous mapping, populated at
     * once: a page fault costs ~30 us on the virtual machines we measure on, populating
     * ~1.5 us a page, so a station taking 5 000 beds at once spent ~20 s of CPU faulting
     * these pages in one by one (calloc, and first touch, alike; bench/monitor/README.md). */
    d->lrec = 2 * sizeof(float) * (size_t)d->L;
    d->srec = 2 * sizeof(double) + 2 * sizeof(float) * (size_t)d->L;
    d->hist_bytes = (size_t)d->rn * d->lrec + (size_t)d->sn * d->srec;
    d->hist = mmap(NULL, d->hist_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (d->hist == MAP_FAILED) { d->hist = NULL; goto nomem; }
    d->shist = d->hist + (size_t)d->rn * d->lrec; /* 8 L x 2^k bytes: doubles stay aligned */
    d->dqn = 1;
    while (d->dqn < 2 * d->R + 2) d->dqn <<= 1; /* power of two: index by mask */
    d->dq = calloc((size_t)d->dqn, sizeof(long));
    if (!d->z || !d->msum || !d->dq) goto nomem;
    d->learn_n = (long)(c->learn_s * c->fs);
    d->start_n = (long)(0.05 * c->fs); /* what is left of the start-up transient */
    d->last_qrs = -1;
    d->last_emit = -1;
    for (int l = 0; l < MAXLEADS; l++) d->w[l] = 1;
    d->invM = 1.0 / d->M;
    update_scale(d);
    return d;
nomem:
    pf_rpeak_destroy(d);
    pf_err(PF_ENOMEM, "pf_rpeak_create: out of memory");
    return NULL;
}

void pf_rpeak_destroy(pf_rpeak *d)
{
    if (!d) return;
    free(d->z);
    free(d->msum);
    if (d->hist) munmap(d->hist, d->hist_bytes);
    free(d->dq);
    free(d);
}

long pf_rpeak_latency(const pf_rpeak *d)
{
    /* a candidate is confirmed R samples after its peak and held for the
     * refractory period; the latest decision about a beat is a re-learn
     * relearn_factor x RR after the previous beat (RR <= 3 s in the mean) */
    return d->R + d->ref + d->M + (long)(d->c.relearn_factor * 3.0 * d->c.fs) + 1;
}

size_t pf_rpeak_nonfinite(const pf_rpeak *d) { return d->nonfinite; }

size_t pf_rpeak_bytes(const pf_rpeak *d)
{
    return sizeof *d + d->hist_bytes + (size_t)d->dqn * sizeof(long) + (size_t)d->L * (sizeof *d->z + sizeof(double));
}

/* The combined feature is sum_l f_l w_l / lvl_l / sum_l w_l; its per-lead
 * multipliers change only when a level or weight does. */
static void update_scale(pf_rpeak *d)
{
    double ws = 0;
    for (int l = d->l0; l < d->l1; l++) ws += d->w[l];
    for (int l = d->l0; l < d->l1; l++)
        d->scale[l] = d->w[l] / ((d->lvl[l] > 0 ? d->lvl[l] : 1) * ws);
}

static void emit(pf_rpeak *d, long t0, int best)
{
    /* R peak: the largest deviation of the best lead's raw signal (smoothed
     * over +-8 ms) from its centred +-150 ms mean, in the integration window
     * ending at the feature peak. Both averages are symmetric, so nothing is
     * shifted; any band-pass would move wide (ventricular) complexes' peaks
     * toward their flanks. */
    const long B = d->B, h = d->hs;
    long a = t0 - d->M - (long)(0.05 * d->c.fs), loc = t0;
    if (a - B - h < 0) a = B + h;
    if (a - B - h <= d->t - d->rn) a = d->t - d->rn + B + h + 1;
    if (a > t0) return;
    /* running sums over [t-h, t+h] and [t-B, t+B] */
    double sh = 0, sb = 0, bestv = -1;
    for (long u = a - h; u <= a + h; u++) sh += REC_X(d, lrec_at(d, u))[best];
    for (long u = a - B; u <= a + B; u++) sb += REC_X(d, lrec_at(d, u))[best];
    for (long t = a;; t++) {
        double v = fabs(sh / (2 * h + 1) - sb / (2 * B + 1));
        if (v > bestv) { bestv = v; loc = t; }
        if (t == t0) break;
        sh += REC_X(d, lrec_at(d, t + h + 1))[best] - REC_X(d, lrec_at(d, t - h))[best];
        sb += REC_X(d, lrec_at(d, t + B + 1))[best] - REC_X(d, lrec_at(d, t - B))[best];
    }
    if (loc <= d->last_emit) return; /* keep the output strictly increasing */
    d->last_emit = loc;
    if (d->outn < d->outmax) d->out[d->outn++] = loc;
    else d->overflow = 1;
}

static void push_med(double *buf, double v)
{
    memmove(buf, buf + 1, sizeof(double) * (NMED - 1));
    buf[NMED - 1] = v;
}

static void update_thr(pf_rpeak *d)
{
    d->qmed = median8(d->qbuf);
    d->nmed = median8(d->nbuf);
    d->thr = d->nmed + d->c.th * (d->qmed - d->nmed);
}

static void lead_levels(pf_rpeak *d, const cand *k, int replace, int *best)
{
    double bv = -1;
    *best = d->l0;
    for (int l = d->l0; l < d->l1; l++) {
        double fl = REC_FV(d, lrec_at(d, k->t))[l];
        if (!replace) memmove(d->lbuf[l], d->lbuf[l] + 1, sizeof(double) * (NMED - 1));
        d->lbuf[l][NMED - 1] = fl;
        double nv = fl / (d->lvl[l] > 0 ? d->lvl[l] : 1);
        if (nv > bv) { bv = nv; *best = l; }
    }
    for (int l = d->l0; l < d->l1; l++) {
        double m = median8(d->lbuf[l]);
        if (m > 0) d->lvl[l] = m;
    }
    update_scale(d);
}

static void rr_mean(pf_rpeak *d)
{
    double s = 0;
    for (int i = NMED - d->nrr; i < NMED; i++) s += d->rrbuf[i];
    d->rr = d->nrr ? s / d->nrr : 0;
}

static void emit_pending(pf_rpeak *d)
{
    if (!d->pend_valid) return;
    emit(d, d->pend.t, d->pend_best);
    d->pend_valid = 0;
}

/* A QRS is held back for the refractory period: a larger QRS-like peak inside
 * it (the main complex after a notch or a close ectopic shoulder) replaces it
 * instead of becoming a second beat. */
static void accept_qrs(pf_rpeak *d, const cand *k)
{
    int best;
    if (d->pend_valid && k->t - d->pend.t < d->ref) {
        d->qbuf[NMED - 1] = k->h;
        update_thr(d);
        lead_levels(d, k, 1, &best);
        if (d->pend_rr) {
            d->rrbuf[NMED - 1] = k->t - d->prev_qrs;
            rr_mean(d);
        }
        d->pend = *k;
        d->pend_best = best;
        d->last_qrs = k->t;
        d->last_slope = k->slope;
        d->ncand = 0;
        return;
    }
    emit_pending(d);
    push_med(d->qbuf, k->h);
    update_thr(d);
    lead_levels(d, k, 0, &best);
    d->pend_rr = 0;
    if (d->last_qrs >= 0) {
        long rr = k->t - d->last_qrs;
        if (rr < (long)(3.0 * d->c.fs)) { /* pauses do not define the rhythm */
            memmove(d->rrbuf, d->rrbuf + 1, sizeof(long) * (NMED - 1));
            d->rrbuf[NMED - 1] = rr;
            if (d->nrr < NMED) d->nrr++;
            rr_mean(d);
            d->pend_rr = 1;
        }
    }
    d->prev_qrs = d->last_qrs;
    d->last_qrs = k->t;
    d->last_slope = k->slope;
    d->ncand = 0;
    d->pend = *k;
    d->pend_best = best;
    d->pend_valid = 1;
}

/* A lead whose feature is high at non-beat peaks (noise, tall T waves relative
 * to its QRS) gets less weight: w_l = 1 / (wfloor + median noise ratio). */
static void lead_noise(pf_rpeak *d, long t)
{
    for (int l = d->l0; l < d->l1; l++) {
        double lv = d->lvl[l] > 0 ? d->lvl[l] : 1;
        push_med(d->nbl[l], REC_FV(d, lrec_at(d, t))[l] / lv);
        d->w[l] = pow(d->c.wfloor + median8(d->nbl[l]), -d->c.wpow);
    }
    update_scale(d);
}

static void classify(pf_rpeak *d, const cand *k)
{
    int qrs = k->h >= d->thr;
#ifdef PF_RPEAK_TRACE
    fprintf(stderr, "cand t=%ld (%.2fs) h=%.3f thr=%.3f q=%.3f n=%.3f slope=%.3f last=%ld rr=%.0f w=%.2f,%.2f\n",
            k->t, k->t / d->c.fs, k->h, d->thr, d->qmed, d->nmed, k->slope, d->last_qrs, d->rr, d->w[0], d->w[1]);
#endif
    if (d->pend_valid && k->t - d->pend.t < d->ref) {
        /* inside the refractory period: only a larger QRS counts (replaces) */
        if (qrs && k->h > d->pend.h) accept_qrs(d, k);
        return;
    }
    if (qrs && d->last_qrs >= 0 && k->t - d->last_qrs < (long)(d->c.twave_ms * 1e-3 * d->c.fs) &&
        k->slope < 0.5 * d->last_slope)
        qrs = 0; /* T wave: as tall but not as steep as the beat before */
    if (qrs) {
        accept_qrs(d, k);
    } else {
        push_med(d->nbuf, k->h);
        update_thr(d);
        lead_noise(d, k->t);
        if (d->ncand == NCAND) {
            memmove(d->cands, d->cands + 1, sizeof(cand) * (NCAND - 1));
            d->ncand--;
        }
        d->cands[d->ncand++] = *k;
    }
}

static void classify(pf_rpeak *d, const cand *k);

/* No beat for relearn_factor x RR even at the search-back threshold: the
 * QRS amplitude dropped (lead fell off, gain change). Re-learn the QRS level
 * from the largest candidate since the last beat and re-classify them all. */
static void relearn(pf_rpeak *d)
{
    int bi = -1;
    for (int i = 0; i < d->ncand; i++)
        if (bi < 0 || d->cands[i].h > d->cands[bi].h) bi = i;
    if (bi < 0 || !(d->cands[bi].h > 0)) return;
    double h = d->cands[bi].h;
    if (h <= d->c.relearn_snr * d->nmed) return; /* nothing stands out of the noise */
    for (int i = 0; i < NMED; i++) d->qbuf[i] = h;
    update_thr(d);
    d->last_slope = 0; /* the old beat's slope says nothing about the new level */
    d->relearned++;
    cand pend[NCAND];
    int np = d->ncand;
    memcpy(pend, d->cands, sizeof(cand) * np);
    d->ncand = 0;
    for (int i = 0; i < np; i++) classify(d, &pend[i]);
}

/* Pan-Tompkins search-back: no beat for sb_factor x RR -> take the largest
 * candidate since the last QRS (outside the T-wave zone) above sb_th x threshold. */
static void search_back(pf_rpeak *d, long horizon)
{
    /* before two RR intervals are known (a learning period spoilt by an
     * artefact, a very short record) assume 1 s, counted from the start */
    double rr = d->nrr >= 2 ? d->rr : d->c.fs;
    long last = d->last_qrs >= 0 ? d->last_qrs : d->start_n;
    if (horizon - last <= (long)(d->c.sb_factor * rr)) return;
    int bi = -1;
    long tz = (long)(d->c.twave_ms * 1e-3 * d->c.fs);
    for (int i = 0; i < d->ncand; i++) {
        const cand *k = &d->cands[i];
        if (d->last_qrs >= 0 && k->t - last < tz && k->slope < 0.5 * d->last_slope) continue;
        if (k->t - last < (long)(0.2 * d->c.fs)) continue;
        if (k->h >= d->c.sb_th * d->thr && (bi < 0 || k->h > d->cands[bi].h)) bi = i;
    }
    if (bi < 0) {
        if (horizon - last > (long)(d->c.relearn_factor * rr)) relearn(d);
        return;
    }
    cand k = d->cands[bi];
    int rest = d->ncand - bi - 1;
    cand later[NCAND];
    memcpy(later, d->cands + bi + 1, sizeof(cand) * rest);
    /* a search-back beat updates thresholds and RR like any other beat */
    accept_qrs(d, &k);
    /* candidates after it stay eligible for the next search-back */
    memcpy(d->cands, later, sizeof(cand) * rest);
    d->ncand = rest;
}

static void learn_init(pf_rpeak *d)
{
    /* thresholds from the candidates of the learning period, which are then
     * classified in order like any later candidate */
    double hmax = 0;
    for (int i = 0; i < d->ncand; i++)
        if (d->cands[i].h > hmax) hmax = d->cands[i].h;
    if (hmax <= 0) hmax = 1e-12;
    for (int i = 0; i < NMED; i++) {
        d->qbuf[i] = hmax;
        d->nbuf[i] = 0.1 * hmax;
    }
    update_thr(d);
    d->learned = 1;
    cand pend[NCAND];
    int np = d->ncand;
    memcpy(pend, d->cands, sizeof(cand) * np);
    d->ncand = 0;
    for (int i = 0; i < np; i++) classify(d, &pend[i]);
}

/* End of the learning period: lead levels are the maxima of each lead's
 * feature so far; the combined feature and its candidates are recomputed
 * over the buffered history with them (during learning F used level 1). */
static void learn_rescan(pf_rpeak *d)
{
    const long t = d->t;
    long u0 = t - d->sn + 1 > 0 ? t - d->sn + 1 : 0; /* the learning period: in both rings */
    for (int l = d->l0; l < d->l1; l++) {
        d->lvl[l] = 0;
        for (long u = u0 > d->start_n ? u0 : d->start_n; u <= t; u++)
            if (REC_FV(d, lrec_at(d, u))[l] > d->lvl[l]) d->lvl[l] = REC_FV(d, lrec_at(d, u))[l];
    }
    update_scale(d);
    for (long u = u0; u <= t; u++) {
        double F = 0, S = 0;
        for (int l = d->l0; l < d->l1; l++) {
            double lv = d->lvl[l] > 0 ? d->lvl[l] : 1;
            F += REC_FV(d, lrec_at(d, u))[l] / lv;
            S += REC_DV(d, srec_at(d, u))[l] / lv;
        }
        int nl = d->l1 - d->l0;
        REC_F(srec_at(d, u)) = u < d->start_n ? 0 : F / nl;
        REC_S(srec_at(d, u)) = u < d->start_n ? 0 : S / nl;
    }
    d->ncand = 0;
    for (long c0 = d->start_n; c0 <= t - d->R; c0++) {
        double h = REC_F(srec_at(d, c0));
        int ismax = h > 0;
        for (long u = c0 - d->R > 0 ? c0 - d->R : 0; ismax && u <= c0 + d->R; u++) {
            double v = REC_F(srec_at(d, u));
            if (v > h || (v == h && u < c0)) ismax = 0;
        }
        if (!ismax) continue;
        cand k = {.t = c0, .h = h, .slope = 0};
        for (long u = c0 - d->M; u <= c0; u++)
            if (u >= 0 && REC_S(srec_at(d, u)) > k.slope) k.slope = REC_S(srec_at(d, u));
        if (d->ncand < NCAND) d->cands[d->ncand++] = k;
    }
    /* the sliding-maximum deque over the last 2R samples, rebuilt */
    d->dqh = d->dqt = 0;
    for (long u = t - 2 * d->R > 0 ? t - 2 * d->R : 0; u <= t; u++) {
        while (d->dqt > d->dqh && REC_F(srec_at(d, d->dq[(d->dqt - 1) & (d->dqn - 1)])) < REC_F(srec_at(d, u)))
            d->dqt--;
        d->dq[d->dqt & (d->dqn - 1)] = u;
        d->dqt++;
    }
}

static void step(pf_rpeak *d, const float *x)
{
    const long t = d->t;
    char *pl = lrec_at(d, t), *pr = srec_at(d, t), *pd = srec_at(d, t - d->kd), *pm = srec_at(d, t - d->M);
    float *xr = REC_X(d, pl), *fr = REC_FV(d, pl), *bp = REC_BP(d, pr), *dr = REC_DV(d, pr);
    double F = 0, S = 0;
    for (int l = d->l0; l < d->l1; l++) {
        double v = x[l];
        d->lastx[l] = x[l];
        if (!isfinite(v)) {
            v = 0;
            d->nonfinite++;
        }
        double *z = d->z[l];
        if (t == 0) /* start at rest on the first sample: no step transient */
            for (int k = 0; k < 2 * PF_IIRDES_MAX_SECTIONS; k++) z[k] = d->zi[k] * v;
        xr[l] = (float)v;
        for (int s = 0; s < d->bp.nsec; s++) {
            const double *c = d->bp.sos[s];
            double y = c[0] * v + z[2 * s];
            z[2 * s] = c[1] * v - c[4] * y + z[2 * s + 1];
            z[2 * s + 1] = c[2] * v - c[5] * y;
            v = y;
        }
        bp[l] = (float)v;
        v = bp[l];
        /* the sum adds and later removes the same float value: no drift */
        float dvf = t >= d->kd ? fabsf((float)v - REC_BP(d, pd)[l]) : 0;
        double dv = dvf;
        dr[l] = dvf;
        double out = t >= d->M ? REC_DV(d, pm)[l] : 0;
        d->msum[l] += dv - out;
        if (d->msum[l] < 0) d->msum[l] = 0; /* rounding */
        double f = d->msum[l] * d->invM;
        fr[l] = (float)f;
        F += f * d->scale[l];
        S += dv * d->scale[l];
    }
    if (t < d->start_n) F = S = 0;
    REC_F(pr) = F;
    REC_S(pr) = S;
    /* sliding max over [t-2R, t]: candidate t0 = t-R if it is the window's first maximum */
    while (d->dqt > d->dqh && REC_F(srec_at(d, d->dq[(d->dqt - 1) & (d->dqn - 1)])) < F) d->dqt--;
    d->dq[d->dqt & (d->dqn - 1)] = t;
    d->dqt++;
    while (d->dq[d->dqh & (d->dqn - 1)] < t - 2 * d->R) d->dqh++;
    long t0 = t - d->R;
    if (t0 >= d->start_n + d->R && d->dq[d->dqh & (d->dqn - 1)] == t0 && REC_F(srec_at(d, t0)) > 0) {
        cand k = {.t = t0, .h = REC_F(srec_at(d, t0)), .slope = 0};
        for (long u = t0 - d->M; u <= t0; u++)
            if (u >= 0 && REC_S(srec_at(d, u)) > k.slope) k.slope = REC_S(srec_at(d, u));
        if (d->learned) classify(d, &k);
    }
    if (!d->learned && t >= d->learn_n) {
        learn_rescan(d);
        learn_init(d);
        d->lcount = 1; /* lead levels now follow detected beats */
        for (int l = d->l0; l < d->l1; l++)
            for (int i = 0; i < NMED; i++) d->lbuf[l][i] = d->lvl[l];
    }
    if (d->learned) search_back(d, t - d->R);
    if (d->pend_valid && t - d->R - d->pend.t >= d->ref) emit_pending(d);
    d->t++;
}

int pf_rpeak_process(pf_rpeak *d, const float *x, size_t n, long *peaks, size_t max, size_t *np)
{
    if (!d || (!x && n) || !np) return pf_err(PF_EINVAL, "pf_rpeak_process: NULL argument");
    *np = 0;
    d->out = peaks;
    d->outn = 0;
    d->outmax = peaks ? max : 0;
    d->overflow = 0;
    for (size_t i = 0; i < n; i++) step(d, x + i * d->L);
    *np = d->outn;
    if (d->overflow)
        return pf_err(PF_ERANGE, "pf_rpeak_process: more than %zu peaks in %zu samples", max, n);
    return PF_OK;
}

int pf_rpeak_flush(pf_rpeak *d, long *peaks, size_t max, size_t *np)
{
    /* hold the last sample for R + 1 samples so the last candidates are
     * confirmed (a constant adds no slope); a short record that never
     * finished learning is decided now */
    if (!d || !np) return pf_err(PF_EINVAL, "pf_rpeak_flush: NULL argument");
    float hold[MAXLEADS];
    memcpy(hold, d->lastx, sizeof hold);
    *np = 0;
    d->out = peaks;
    d->outn = 0;
    d->outmax = peaks ? max : 0;
    d->overflow = 0;
    for (long i = 0; i <= d->R; i++) step(d, hold);
    if (!d->learned) learn_init(d);
    emit_pending(d);
    *np = d->outn;
    if (d->overflow) return pf_err(PF_ERANGE, "pf_rpeak_flush: more than %zu peaks", max);
    return PF_OK;
}
