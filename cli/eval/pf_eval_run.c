#include "pf_eval_run.h"

#include "pf_ann.h"
#include "pf_error.h"
#include "pf_log.h"
#include "pf_record.h"
#include "pf_rpeak.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void pf_eval_run_opts_default(pf_eval_run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->ann_ext = "qrs";
    o->lead = -1;
    o->start_s = -1;
    o->chunk_s = 1;
}

/* Detect on one open record: returns detections (malloc'd) in *det. */
static int detect(pf_record *r, const pf_eval_run_opts *o, long **det, size_t *ndet)
{
    int L = pf_record_nleads(r);
    double fs = pf_record_rate(r);
    int64_t n = pf_record_length(r);
    pf_rpeak_cfg c;
    pf_rpeak_cfg_default(&c, fs, L);
    c.lead = o->lead;
    pf_rpeak *d = pf_rpeak_create(&c);
    if (!d) return pf_err_context(PF_EINVAL, "%s", pf_record_name(r));
    int64_t chunk = (int64_t)(o->chunk_s * fs);
    if (chunk < 1) chunk = 1;
    if (chunk > n && n > 0) chunk = n;
    size_t cap = (size_t)(n / (0.2 * fs)) + 64, nd = 0;
    long *out = malloc(sizeof(long) * cap);
    float *lm = malloc(sizeof(float) * (size_t)chunk * L), *sm = malloc(sizeof(float) * (size_t)chunk * L);
    int rc = (!out || !lm || !sm) ? pf_err(PF_ENOMEM, "%s: out of memory", pf_record_name(r)) : 0;
    for (int64_t t = 0; !rc && t < n; t += chunk) {
        int64_t m = n - t < chunk ? n - t : chunk;
        rc = pf_record_read(r, t, m, NULL, L, lm);
        if (rc) break;
        /* record API is lead-major; the detector takes interleaved samples */
        for (int64_t i = 0; i < m; i++)
            for (int l = 0; l < L; l++) sm[i * L + l] = lm[(size_t)l * m + i];
        size_t k;
        rc = pf_rpeak_process(d, sm, (size_t)m, out + nd, cap - nd, &k);
        nd += k;
    }
    if (!rc) {
        size_t k;
        rc = pf_rpeak_flush(d, out + nd, cap - nd, &k);
        nd += k;
    }
    if (!rc && pf_rpeak_nonfinite(d))
        pf_warn("%s: %zu non-finite samples treated as 0", pf_record_name(r), pf_rpeak_nonfinite(d));
    pf_rpeak_destroy(d);
    free(lm);
    free(sm);
    if (rc) {
        free(out);
        return rc;
    }
    *det = out;
    *ndet = nd;
    return PF_OK;
}

static int write_ann(const pf_eval_run_opts *o, const char *rec, const long *det, size_t nd)
{
    const char *base = strrchr(rec, '/');
    base = base ? base + 1 : rec;
    char name[1024];
    snprintf(name, sizeof name, "%s", base);
    char *dot = strrchr(name, '.');
    if (dot && (!strcmp(dot, ".hea") || !strcmp(dot, ".mat"))) *dot = 0;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s.%s", o->ann_out, name, o->ann_ext ? o->ann_ext : "qrs");
    pf_ann_list l = {0};
    int rc = 0;
    for (size_t i = 0; i < nd && !rc; i++) rc = pf_ann_push(&l, det[i], PF_ANN_NORMAL, 0, 0, 0, NULL, 0);
    if (!rc) rc = pf_ann_write(path, &l);
    pf_ann_list_free(&l);
    return rc;
}

static int detect_cb(void *ctx, size_t i, pf_record *r, long **det, size_t *nd)
{
    (void)i;
    return detect(r, ctx, det, nd);
}

int pf_eval_rpeaks_run(const pf_eval_run_opts *o, const char *const *records, size_t n,
                       pf_eval_counts *per, pf_eval_counts *gross)
{
    return pf_eval_rpeaks_score(o, records, n, detect_cb, (void *)o, per, gross);
}

int pf_eval_rpeaks_score(const pf_eval_run_opts *o, const char *const *records, size_t n, pf_eval_detect_fn detect_fn,
                         void *ctx, pf_eval_counts *per, pf_eval_counts *gross)
{
    if (!o || !records || !gross || !detect_fn) return pf_err(PF_EINVAL, "pf_eval_rpeaks_score: NULL argument");
    FILE *out = o->out ? o->out : stdout;
    pf_eval_counts *cs = calloc(n + 1, sizeof *cs);
    const char **names = calloc(n + 1, sizeof *names);
    char **why = calloc(n + 1, sizeof *why); /* records that could not be scored, and why */
    if (!cs || !names || !why) {
        free(cs);
        free(names);
        free(why);
        return pf_err(PF_ENOMEM, "eval: out of memory");
    }
    int rc = PF_OK;
    size_t bad = 0;
    for (size_t i = 0; i < n && rc != PF_ENOMEM; i++) {
        if (rc) { /* one unreadable record does not stop the others: it gets its own row */
            why[i - 1] = strdup(pf_errmsg());
            bad++;
            rc = PF_OK;
        }
        char path[2048];
        if (o->data_dir) snprintf(path, sizeof path, "%s/%s", o->data_dir, records[i]);
        else snprintf(path, sizeof path, "%s", records[i]);
        pf_record *r = pf_record_open(path, NULL);
        if (!r) {
            rc = pf_err_context(PF_ENOTFOUND, "eval rpeaks");
            continue;
        }
        names[i] = records[i];
        long *det = NULL;
        size_t nd = 0;
        rc = detect_fn(ctx, i, r, &det, &nd);
        if (!rc) {
            const pf_ann_list *al = pf_record_annotations(r);
            long *at = malloc(sizeof(long) * (al->n + 1));
            int *ac = malloc(sizeof(int) * (al->n + 1));
            if (!at || !ac) rc = pf_err(PF_ENOMEM, "eval: out of memory");
            for (size_t k = 0; !rc && k < al->n; k++) {
                at[k] = (long)al->a[k].time;
                ac[k] = al->a[k].code;
            }
            double fs = pf_record_rate(r);
            int64_t len = pf_record_length(r);
            pf_eval_opts eo;
            pf_eval_opts_default(&eo, fs);
            eo.start_s = o->start_s >= 0 ? o->start_s : (len >= (int64_t)(600 * fs) ? 300 : 0);
            if (!rc) rc = pf_eval_rpeaks_record(at, ac, al->n, det, nd, (long)len, &eo, &cs[i]);
            if (!rc && o->ann_out) rc = write_ann(o, records[i], det, nd);
            free(at);
            free(ac);
        }
        free(det);
        pf_record_close(r);
    }
    if (rc && rc != PF_ENOMEM) {
        why[n - 1] = strdup(pf_errmsg());
        bad++;
        rc = PF_OK;
    }
    if (!rc) {
        /* the scored records in the table; the others below it, each with its reason */
        const char **okn = calloc(n + 1, sizeof *okn);
        pf_eval_counts *okc = calloc(n + 1, sizeof *okc);
        size_t k = 0;
        for (size_t i = 0; okn && okc && i < n; i++)
            if (!why[i]) { okn[k] = records[i]; okc[k++] = cs[i]; }
        if (okn && okc) *gross = pf_eval_print_table(out, okn, okc, k);
        else rc = pf_err(PF_ENOMEM, "eval: out of memory");
        for (size_t i = 0; i < n; i++)
            if (why[i]) fprintf(out, "%-10s not scored: %s\n", records[i], why[i]);
        free(okn);
        free(okc);
        if (per) memcpy(per, cs, sizeof *cs * n);
        if (!rc && bad) rc = pf_err(PF_EFORMAT, "%zu of %zu record(s) could not be scored (listed under the table); the gross figures leave them out", bad, n);
    }
    for (size_t i = 0; i < n; i++) free(why[i]);
    free(why);
    free(cs);
    free(names);
    return rc;
}

/* ---- delineation -------------------------------------------------------- */

#define ANN_WFON 39  /* '(' */
#define ANN_WFOFF 40 /* ')' */
#define ANN_PWAVE 24 /* 'p' */
#define ANN_TWAVE 27 /* 't' */

typedef struct {
    long on, peak, off; /* -1: not annotated */
} wave3;

static const char *const db_names[PF_DB_N] = {"P on", "P peak", "P off", "QRS on", "QRS peak",
                                              "QRS off", "T on", "T peak", "T off"};

/* waves with peak code `kind` (QRS: any beat code) of one lead's annotations */
static size_t ann_waves(const pf_ann_list *al, int kind, wave3 *w, size_t max)
{
    size_t n = 0;
    for (size_t k = 0; k < al->n && n < max; k++) {
        int c = al->a[k].code;
        if (kind == 1 ? !pf_ann_is_beat(c) : c != kind) continue;
        w[n].peak = (long)al->a[k].time;
        w[n].on = k > 0 && al->a[k - 1].code == ANN_WFON ? (long)al->a[k - 1].time : -1;
        w[n].off = k + 1 < al->n && al->a[k + 1].code == ANN_WFOFF ? (long)al->a[k + 1].time : -1;
        n++;
    }
    return n;
}

typedef struct {
    pf_delin_stats *st;
    FILE *errors; /* NULL or the per-boundary CSV */
    const char *record, *lead;
} scorer;

static void score_boundary(scorer *sc, int k, long ann, long det, double fs, long tol)
{
    pf_delin_stats *st = sc->st;
    if (ann < 0 && det < 0) return;
    if (sc->errors)
        fprintf(sc->errors, "%s,%s,%s,%ld,%ld\n", sc->record, sc->lead, db_names[k], ann, det);
    if (ann < 0) { st->fp[k]++; return; }
    if (det < 0) { st->fn[k]++; return; }
    long e = det - ann;
    if (labs(e) > tol) {
        st->fn[k]++;
        st->fp[k]++;
        return;
    }
    double ms = 1000.0 * e / fs;
    st->tp[k]++;
    st->sum[k] += ms;
    st->sum2[k] += ms * ms;
    st->cn[k]++;
    st->cs[k] += ms;
    st->cs2[k] += ms * ms;
}

/* the signal being scored is complete: fold its SD into the average */
static void signal_end(pf_delin_stats *st)
{
    for (int k = 0; k < PF_DB_N; k++) {
        long n = st->cn[k];
        if (n > 1) {
            double m = st->cs[k] / n;
            st->gsd[k] += sqrt(fmax(0, (st->cs2[k] - n * m * m) / (n - 1)));
            st->gn[k]++;
        }
        st->cn[k] = 0;
        st->cs[k] = st->cs2[k] = 0;
    }
}

static void score_wave(scorer *st, int k0, const wave3 *a, long don, long dpk, long doff,
                       double fs, long tol)
{
    wave3 none = {-1, -1, -1};
    if (!a) a = &none;
    if (dpk < 0) don = doff = -1;
    /* an annotated wave without its boundaries scores only its peak */
    score_boundary(st, k0 + 1, a->peak, dpk, fs, tol);
    if (a->peak < 0 || a->on >= 0) score_boundary(st, k0, a->on, don, fs, tol);
    if (a->peak < 0 || a->off >= 0) score_boundary(st, k0 + 2, a->off, doff, fs, tol);
}

/* One lead's annotations matched to the detected beats. */
typedef struct {
    wave3 q, p, t;
    signed char has;            /* an annotated QRS of this lead matched the beat */
    signed char score_p, score_t; /* its P / T is scored (not cut off by the annotated span) */
    signed char in_span;        /* the beat lies inside the lead's annotated span */
} lead_beat;

typedef struct {
    wave3 q, p, t;
    int lead;
} missed;

/* Match lead's annotated QRS complexes to detected beats (closest R within
 * 150 ms, each detection used once). Fills lb[0..nb) and appends annotated
 * beats with no detection to miss. */
static int match_lead(const pf_ann_list *al, const pf_delin_beat *b, size_t nb, double fs, int lead,
                      lead_beat *lb, missed **miss, size_t *nmiss)
{
    enum { MAXW = 512 };
    wave3 q[MAXW], p[MAXW], t[MAXW];
    memset(lb, 0, sizeof *lb * nb);
    if (!al->n) return PF_OK;
    size_t nq = ann_waves(al, 1, q, MAXW), np = ann_waves(al, ANN_PWAVE, p, MAXW),
           nt = ann_waves(al, ANN_TWAVE, t, MAXW);
    long span0 = (long)al->a[0].time, span1 = (long)al->a[al->n - 1].time;
    long tol = (long)lround(0.150 * fs);
    for (size_t i = 0; i < nb; i++) lb[i].in_span = b[i].r > span0 && b[i].r < span1;
    for (size_t j = 0; j < nq; j++) {
        long best = -1;
        for (size_t i = 0; i < nb; i++)
            if (!lb[i].has && labs(b[i].r - q[j].peak) <= tol &&
                (best < 0 || labs(b[i].r - q[j].peak) < labs(b[best].r - q[j].peak)))
                best = (long)i;
        wave3 none = {-1, -1, -1}, ap = none, at = none;
        long prev = j > 0 ? q[j - 1].peak : -1, next = j + 1 < nq ? q[j + 1].peak : LONG_MAX;
        for (size_t k = 0; k < np; k++)
            if (p[k].peak > prev && p[k].peak < q[j].peak) ap = p[k];
        for (size_t k = 0; k < nt; k++)
            if (t[k].peak > q[j].peak && t[k].peak < next) { at = t[k]; break; }
        /* P of the first annotated beat / T of the last may lie outside the annotated span */
        signed char sp = ap.peak >= 0 || j > 0, stt = at.peak >= 0 || j + 1 < nq;
        if (best < 0) {
            missed *m = realloc(*miss, sizeof **miss * (*nmiss + 1));
            if (!m) return pf_err(PF_ENOMEM, "eval: out of memory");
            *miss = m;
            m[(*nmiss)++] = (missed){q[j], ap, at, lead};
            continue;
        }
        lead_beat *d = &lb[best];
        d->has = 1;
        d->q = q[j];
        d->p = ap;
        d->t = at;
        d->score_p = sp;
        d->score_t = stt;
    }
    return PF_OK;
}

static void score_beat(scorer *sc, const wave3 *q, const wave3 *p, const wave3 *t, int sp, int st,
                       const pf_delin_beat *d, double fs)
{
    long tol = (long)lround(0.150 * fs);
    pf_delin_beat none = {-1, -1, -1, -1, -1, -1, -1, -1, -1, 0};
    if (!d) d = &none;
    score_wave(sc, PF_DB_QRS_ON, q, d->qrs_on, d->r, d->qrs_off, fs, tol);
    if (sp) score_wave(sc, PF_DB_P_ON, p && p->peak >= 0 ? p : NULL, d->p_on, d->p_peak, d->p_off, fs, tol);
    if (st) score_wave(sc, PF_DB_T_ON, t && t->peak >= 0 ? t : NULL, d->t_on, d->t_peak, d->t_off, fs, tol);
}

/* Against each lead's own annotation. */
static void score_lead(scorer *sc, const lead_beat *lb, const pf_delin_beat *b, size_t nb, const missed *miss,
                       size_t nmiss, int lead, double fs)
{
    for (size_t i = 0; i < nb; i++) {
        if (lb[i].has) score_beat(sc, &lb[i].q, &lb[i].p, &lb[i].t, lb[i].score_p, lb[i].score_t, &b[i], fs);
        else if (lb[i].in_span) score_beat(sc, NULL, NULL, NULL, 1, 1, &b[i], fs);
    }
    for (size_t k = 0; k < nmiss; k++)
        if (miss[k].lead == lead) score_beat(sc, &miss[k].q, &miss[k].p, &miss[k].t, 1, 1, NULL, fs);
    signal_end(sc->st);
}

/* The consensus of waves w[0..n): present when at least half of them are
 * annotated; each boundary the median over the leads that have it. */
static wave3 consensus(const wave3 *w, int n)
{
    long on[64], pk[64], off[64];
    int have = 0;
    for (int i = 0; i < n; i++) {
        on[i] = w[i].peak >= 0 ? w[i].on : -1;
        pk[i] = w[i].peak;
        off[i] = w[i].peak >= 0 ? w[i].off : -1;
        have += w[i].peak >= 0;
    }
    wave3 c = {-1, -1, -1};
    if (!n || 2 * have < n) return c;
    c.on = pf_delin_median(on, n, 1);
    c.peak = pf_delin_median(pk, n, 1);
    c.off = pf_delin_median(off, n, 1);
    return c;
}

/* how far the leads' own annotations w[0..n) lie from their consensus c */
static void spread(pf_delin_stats *st, int k0, const wave3 *w, int n, const wave3 *c, double fs)
{
    for (int i = 0; i < n; i++) {
        long a[3] = {w[i].on, w[i].peak, w[i].off}, m[3] = {c->on, c->peak, c->off};
        for (int k = 0; k < 3; k++)
            if (w[i].peak >= 0 && c->peak >= 0 && a[k] >= 0 && m[k] >= 0) {
                double ms = 1000.0 * (a[k] - m[k]) / fs;
                st->sn[k0 + k]++;
                st->ssum2[k0 + k] += ms * ms;
            }
    }
}

static int cmp_missed(const void *a, const void *b)
{
    long x = ((const missed *)a)->q.peak, y = ((const missed *)b)->q.peak;
    return x < y ? -1 : x > y;
}

/* Against the beat's consensus over the leads: per boundary the median of
 * the leads' annotations (a wave counts when at least half of the leads that
 * annotate the beat mark it). One boundary per beat, as pf_delin_window
 * gives, is scored once per beat instead of once per lead. */
static void score_consensus(scorer *sc, lead_beat *const *lb, int L, const pf_delin_beat *b, size_t nb,
                            missed *miss, size_t nmiss, double fs)
{
    wave3 q[64], p[64], t[64];
    for (size_t i = 0; i < nb; i++) {
        int nm = 0, np = 0, nt = 0, span = 0;
        for (int l = 0; l < L; l++) {
            const lead_beat *x = &lb[l][i];
            span += x->in_span;
            if (!x->has) continue;
            q[nm++] = x->q;
            if (x->score_p) p[np++] = x->p;
            if (x->score_t) t[nt++] = x->t;
        }
        if (!nm) {
            if (2 * span >= L) score_beat(sc, NULL, NULL, NULL, 1, 1, &b[i], fs);
            continue;
        }
        wave3 cq = consensus(q, nm), cp = consensus(p, np), ct = consensus(t, nt);
        score_beat(sc, &cq, &cp, &ct, np > 0, nt > 0, &b[i], fs);
        spread(sc->st, PF_DB_QRS_ON, q, nm, &cq, fs);
        spread(sc->st, PF_DB_P_ON, p, np, &cp, fs);
        spread(sc->st, PF_DB_T_ON, t, nt, &ct, fs);
    }
    /* annotated beats no detection matched: one miss per beat the majority of leads annotate */
    if (nmiss) qsort(miss, nmiss, sizeof *miss, cmp_missed);
    long tol = (long)lround(0.150 * fs);
    for (size_t k = 0; k < nmiss;) {
        size_t e = k + 1;
        while (e < nmiss && e - k < 64 && miss[e].q.peak - miss[e - 1].q.peak <= tol) e++;
        int n = (int)(e - k);
        if (2 * n >= L) {
            for (int j = 0; j < n; j++) {
                q[j] = miss[k + j].q;
                p[j] = miss[k + j].p;
                t[j] = miss[k + j].t;
            }
            wave3 cq = consensus(q, n), cp = consensus(p, n), ct = consensus(t, n);
            score_beat(sc, &cq, &cp, &ct, 1, 1, NULL, fs);
        }
        k = e;
    }
    signal_end(sc->st);
}

static int write_delin(const char *path, const pf_delin_beat *b, size_t nb)
{
    pf_ann_list l = {0};
    int rc = 0;
    for (size_t i = 0; i < nb && !rc; i++) {
        long w[3][3] = {{b[i].p_on, b[i].p_peak, b[i].p_off},
                        {b[i].qrs_on, b[i].r, b[i].qrs_off},
                        {b[i].t_on, b[i].t_peak, b[i].t_off}};
        int code[3] = {ANN_PWAVE, PF_ANN_NORMAL, ANN_TWAVE};
        long last = l.n ? (long)l.a[l.n - 1].time : -1;
        for (int k = 0; k < 3 && !rc; k++) {
            if (w[k][1] < 0 || w[k][0] <= last || !(w[k][0] <= w[k][1] && w[k][1] <= w[k][2]))
                continue; /* keep the file in time order */
            rc = pf_ann_push(&l, w[k][0], ANN_WFON, 0, 0, 0, NULL, 0);
            if (!rc) rc = pf_ann_push(&l, w[k][1], code[k], 0, 0, 0, NULL, 0);
            if (!rc) rc = pf_ann_push(&l, w[k][2], ANN_WFOFF, 0, 0, 0, NULL, 0);
            last = w[k][2];
        }
    }
    if (!rc) rc = pf_ann_write(path, &l);
    pf_ann_list_free(&l);
    return rc;
}

void pf_delin_stats_get(const pf_delin_stats *st, int k, double *se, double *ppv, double *mean, double *sd)
{
    long tp = st->tp[k];
    *se = tp + st->fn[k] ? 100.0 * tp / (tp + st->fn[k]) : 0;
    *ppv = tp + st->fp[k] ? 100.0 * tp / (tp + st->fp[k]) : 0;
    *mean = tp ? st->sum[k] / tp : 0;
    *sd = tp > 1 ? sqrt(fmax(0, (st->sum2[k] - tp * *mean * *mean) / (tp - 1))) : 0;
}

double pf_delin_stats_sd_in(const pf_delin_stats *st, int k)
{
    return st->gn[k] ? st->gsd[k] / st->gn[k] : 0;
}

static void print_table(FILE *out, const pf_delin_stats *st, int with_spread)
{
    fprintf(out, "%-9s %7s %6s %6s %8s %8s %9s %8s %9s%s\n", "boundary", "annot", "TP", "FP", "Se%", "PPV%",
            "mean ms", "SD ms", "SD in rec", with_spread ? "  leads SD" : "");
    for (int k = 0; k < PF_DB_N; k++) {
        double se, ppv, mean, sd;
        pf_delin_stats_get(st, k, &se, &ppv, &mean, &sd);
        fprintf(out, "%-9s %7ld %6ld %6ld %8.2f %8.2f %9.2f %8.2f %9.2f", db_names[k], st->tp[k] + st->fn[k], st->tp[k],
                st->fp[k], se, ppv, mean, sd, pf_delin_stats_sd_in(st, k));
        if (with_spread) fprintf(out, " %10.2f", st->sn[k] ? sqrt(st->ssum2[k] / st->sn[k]) : 0.0);
        fputc('\n', out);
    }
}

int pf_eval_delineation_run(const pf_eval_run_opts *o, const pf_delin_cfg *cfg,
                            const char *const *records, size_t n, pf_delin_stats *st, pf_delin_stats *cons)
{
    if (!o || !records || !st) return pf_err(PF_EINVAL, "pf_eval_delineation_run: NULL argument");
    memset(st, 0, sizeof *st);
    if (cons) memset(cons, 0, sizeof *cons);
    int rc = PF_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        char path[2048];
        if (o->data_dir) snprintf(path, sizeof path, "%s/%s", o->data_dir, records[i]);
        else snprintf(path, sizeof path, "%s", records[i]);
        pf_record *r = pf_record_open(path, NULL);
        if (!r) return pf_err_context(PF_ENOTFOUND, "eval delineation");
        int L = pf_record_nleads(r);
        int64_t len = pf_record_length(r);
        double fs = pf_record_rate(r);
        long *det = NULL;
        size_t nd = 0;
        float *lm = malloc(sizeof(float) * (size_t)len * L);
        pf_delin_beat *beats = NULL;
        rc = lm ? detect(r, o, &det, &nd) : pf_err(PF_ENOMEM, "eval: out of memory");
        if (!rc) rc = pf_record_read(r, 0, len, NULL, L, lm);
        if (!rc && !(beats = calloc(nd + 1, sizeof *beats))) rc = pf_err(PF_ENOMEM, "eval: out of memory");
        pf_delin_cfg c;
        if (cfg) c = *cfg;
        else pf_delin_cfg_default(&c, fs);
        c.fs = fs;
        /* every lead, the multi-lead fusion and the QRS bounds from all
         * leads' joint wavelet energy (pf_delin_multi, as pf_delin_window) */
        pf_delin_beat **per = calloc((size_t)L, sizeof *per);
        if (!rc && !per) rc = pf_err(PF_ENOMEM, "eval: out of memory");
        for (int l = 0; l < L && !rc; l++)
            if (!(per[l] = calloc(nd + 1, sizeof **per))) rc = pf_err(PF_ENOMEM, "eval: out of memory");
        if (!rc) rc = pf_delin_multi(&c, lm, L, (size_t)len, det, nd, per, beats, NULL);
        pf_delin_beat *merged = calloc(nd + 1, sizeof *merged);
        lead_beat **lb = calloc((size_t)L, sizeof *lb);
        missed *miss = NULL;
        size_t nmiss = 0;
        if (!rc && (!merged || !lb)) rc = pf_err(PF_ENOMEM, "eval: out of memory");
        for (int l = 0; l < L && !rc; l++) {
            pf_delin_merge(&c, per[l], beats, nd, merged);
            const pf_delin_beat *use = o->per_lead ? per[l] : merged;
            pf_record_opts ro = {.annotator = pf_record_lead(r, l)};
            pf_record *ra = pf_record_open(path, &ro);
            if (!ra) { rc = pf_err_context(PF_ENOTFOUND, "%s lead %s annotations", path, ro.annotator); break; }
            if (!(lb[l] = calloc(nd + 1, sizeof **lb))) rc = pf_err(PF_ENOMEM, "eval: out of memory");
            if (!rc) rc = match_lead(pf_record_annotations(ra), use, nd, fs, l, lb[l], &miss, &nmiss);
            pf_record_close(ra);
            scorer sc = {st, o->errors, records[i], ro.annotator};
            if (!rc) score_lead(&sc, lb[l], use, nd, miss, nmiss, l, fs);
            if (!rc && o->ann_out) {
                char ap[2300];
                const char *base = strrchr(records[i], '/');
                snprintf(ap, sizeof ap, "%s/%s.%s", o->ann_out, base ? base + 1 : records[i], ro.annotator);
                rc = write_delin(ap, use, nd);
            }
        }
        if (!rc && cons && L <= 64) {
            scorer sc = {cons, o->errors, records[i], "consensus"};
            score_consensus(&sc, lb, L, beats, nd, miss, nmiss, fs);
        }
        for (int l = 0; lb && l < L; l++) free(lb[l]);
        free(lb);
        free(miss);
        free(merged);
        if (per)
            for (int l = 0; l < L; l++) free(per[l]);
        free(per);
        free(beats);
        free(det);
        free(lm);
        pf_record_close(r);
    }
    if (rc) return rc;
    FILE *out = o->out ? o->out : stdout;
    fprintf(out, "Against each lead's own annotation (%zu records; 'SD ms' over all errors pooled,\n"
                 "'SD in rec' within each lead of a record, averaged over them as Martinez et al. 2004):\n", n);
    print_table(out, st, 0);
    if (cons) {
        fprintf(out, "\nAgainst the beat's consensus over the leads (median of the leads' annotations;\n"
                     "'SD in rec' within each record, averaged; 'leads SD': spread of the leads' own\n"
                     "annotations around the consensus):\n");
        print_table(out, cons, 1);
    }
    return PF_OK;
}
