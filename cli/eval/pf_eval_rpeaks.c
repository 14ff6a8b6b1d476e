#include "pf_eval_rpeaks.h"

#include "pf_error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* WFDB codes of ventricular flutter/fibrillation onset '[' and offset ']' */
#define ANN_VFON 32
#define ANN_VFOFF 33

void pf_eval_opts_default(pf_eval_opts *o, double fs)
{
    o->fs = fs;
    o->start_s = 300;
    o->window_s = 0.150;
}

int pf_eval_is_beat(int code)
{
    /* WFDB isqrs(): NORMAL LBBB RBBB ABERR PVC FUSION NPC APC SVPB VESC NESC
     * PACE UNKNOWN BBB LEARN AESC SVESC PFUS RONT; not NAPC (37, a blocked
     * P wave without QRS) */
    switch (code) {
    case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 8: case 9: case 10: case 11:
    case 12: case 13: case 25: case 30: case 34: case 35: case 38: case 41:
        return 1;
    }
    return 0;
}

typedef struct {
    long d;
    size_t r, k;
} pair;

static int pair_cmp(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    if (x->r != y->r) return x->r < y->r ? -1 : 1;
    return x->k < y->k ? -1 : x->k > y->k;
}

static int excluded(long t, const long (*ex)[2], size_t nex)
{
    for (size_t i = 0; i < nex; i++)
        if (t >= ex[i][0] && t <= ex[i][1]) return 1;
    return 0;
}

int pf_eval_rpeaks_record(const long *ann_t, const int *ann_code, size_t nann, const long *det,
                          size_t ndet, long nsamples, const pf_eval_opts *o, pf_eval_counts *out)
{
    if (!o || !out || (nann && (!ann_t || !ann_code)) || (ndet && !det))
        return pf_err(PF_EINVAL, "pf_eval_rpeaks_record: NULL argument");
    if (!(o->fs > 0)) return pf_err(PF_ERANGE, "eval: fs = %g must be > 0", o->fs);
    for (size_t i = 1; i < ndet; i++)
        if (det[i] < det[i - 1])
            return pf_err(PF_EINVAL, "eval: detections not increasing at %zu (%ld < %ld)", i,
                          det[i], det[i - 1]);
    long start = (long)llround(o->start_s * o->fs), w = (long)llround(o->window_s * o->fs);
    /* VF episodes */
    size_t nex = 0;
    long (*ex)[2] = calloc(nann / 2 + 1, sizeof *ex);
    long *ref = malloc(sizeof(long) * (nann + 1));
    if (!ex || !ref) {
        free(ex);
        free(ref);
        return pf_err(PF_ENOMEM, "eval: out of memory");
    }
    long von = -1;
    for (size_t i = 0; i < nann; i++) {
        if (ann_code[i] == ANN_VFON && von < 0) von = ann_t[i];
        else if (ann_code[i] == ANN_VFOFF && von >= 0) {
            ex[nex][0] = von;
            ex[nex][1] = ann_t[i];
            nex++;
            von = -1;
        }
    }
    if (von >= 0) { /* open episode runs to the end */
        ex[nex][0] = von;
        ex[nex][1] = nsamples;
        nex++;
    }
    size_t nref = 0;
    for (size_t i = 0; i < nann; i++)
        if (pf_eval_is_beat(ann_code[i]) && !excluded(ann_t[i], (const long(*)[2])ex, nex))
            ref[nref++] = ann_t[i];
    /* candidate pairs within the window, matched closest first (one-to-one) */
    size_t cap = 16, np = 0;
    pair *pp = malloc(sizeof(pair) * cap);
    unsigned char *rm = calloc(nref + 1, 1), *dm = calloc(ndet + 1, 1);
    int rc = PF_OK;
    if (!pp || !rm || !dm) { rc = pf_err(PF_ENOMEM, "eval: out of memory"); goto done; }
    for (size_t r = 0, k0 = 0; r < nref; r++) {
        while (k0 < ndet && det[k0] < ref[r] - w) k0++;
        for (size_t k = k0; k < ndet && det[k] <= ref[r] + w; k++) {
            if (np == cap) {
                pair *n2 = realloc(pp, sizeof(pair) * cap * 2);
                if (!n2) { rc = pf_err(PF_ENOMEM, "eval: out of memory"); goto done; }
                pp = n2;
                cap *= 2;
            }
            pp[np++] = (pair){labs(det[k] - ref[r]), r, k};
        }
    }
    qsort(pp, np, sizeof(pair), pair_cmp);
    for (size_t i = 0; i < np; i++)
        if (!rm[pp[i].r] && !dm[pp[i].k]) rm[pp[i].r] = dm[pp[i].k] = 1;
    pf_eval_counts c = {0, 0, 0};
    for (size_t r = 0; r < nref; r++) {
        if (ref[r] < start) continue;
        if (rm[r]) c.tp++;
        else c.fn++;
    }
    for (size_t k = 0; k < ndet; k++)
        if (det[k] >= start && !dm[k] && !excluded(det[k], (const long(*)[2])ex, nex)) c.fp++;
    out->tp += c.tp;
    out->fn += c.fn;
    out->fp += c.fp;
done:
    free(pp);
    free(rm);
    free(dm);
    free(ex);
    free(ref);
    return rc;
}

void pf_eval_rates(const pf_eval_counts *c, double *se, double *ppv, double *f1)
{
    double s = c->tp + c->fn ? 100.0 * c->tp / (c->tp + c->fn) : 0;
    double p = c->tp + c->fp ? 100.0 * c->tp / (c->tp + c->fp) : 0;
    if (se) *se = s;
    if (ppv) *ppv = p;
    if (f1) *f1 = s + p > 0 ? 2 * s * p / (s + p) : 0;
}

pf_eval_counts pf_eval_print_table(FILE *f, const char *const *names, const pf_eval_counts *c,
                                   size_t n)
{
    pf_eval_counts g = {0, 0, 0};
    fprintf(f, "%-10s %7s %5s %5s %8s %8s %8s\n", "record", "TP", "FN", "FP", "Se%", "+P%", "F1%");
    for (size_t i = 0; i < n; i++) {
        double se, p, f1;
        pf_eval_rates(&c[i], &se, &p, &f1);
        fprintf(f, "%-10s %7ld %5ld %5ld %8.3f %8.3f %8.3f\n", names[i], c[i].tp, c[i].fn, c[i].fp,
                se, p, f1);
        g.tp += c[i].tp;
        g.fn += c[i].fn;
        g.fp += c[i].fp;
    }
    double se, p, f1;
    pf_eval_rates(&g, &se, &p, &f1);
    fprintf(f, "%-10s %7ld %5ld %5ld %8.3f %8.3f %8.3f\n", "gross", g.tp, g.fn, g.fp, se, p, f1);
    return g;
}
