#include "pf_eval_cls.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pf_error.h"

typedef struct { float s; int t; } st_t;
static int cmp_st(const void *a, const void *b)
{
    float x = ((const st_t *)a)->s, y = ((const st_t *)b)->s;
    return (x > y) - (x < y);
}

double pf_auroc(const float *score, const int *truth, size_t n)
{
    st_t *v = malloc(sizeof *v * (n ? n : 1));
    if (!v) return NAN;
    size_t np = 0;
    for (size_t i = 0; i < n; i++) { v[i].s = score[i]; v[i].t = truth[i] != 0; np += v[i].t; }
    size_t nn = n - np;
    if (!np || !nn) { free(v); return NAN; }
    qsort(v, n, sizeof *v, cmp_st);
    /* rank sum of the positives, tied scores sharing their mean rank */
    double rs = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].s == v[i].s) j++;
        double rank = 0.5 * (double)(i + 1 + j); /* mean of ranks i+1..j */
        for (size_t q = i; q < j; q++) if (v[q].t) rs += rank;
        i = j;
    }
    free(v);
    return (rs - (double)np * (np + 1) / 2.0) / ((double)np * nn);
}

static double ratio(long long a, long long b) { return b ? (double)a / (double)b : NAN; }

int pf_cls_score(pf_cls_metrics *m, const float *probs, const long long *labels, const float *y, size_t n, int k,
                 const char *const *names, int multi)
{
    if (k < 1 || k > PF_CLS_MAX) return pf_err(PF_ERANGE, "metrics: %d classes, at most %d", k, PF_CLS_MAX);
    memset(m, 0, sizeof *m);
    m->k = k;
    m->multi = multi;
    m->n = n;
    for (int c = 0; c < k; c++) snprintf(m->names[c], sizeof m->names[c], "%s", names[c]);
    /* N S V F, with or without Q (EC57 leaves Q out of the S and V statistics anyway) */
    m->aami = (k == 4 || (k == 5 && !strcmp(names[4], "Q"))) && !strcmp(names[0], "N") && !strcmp(names[1], "S") &&
              !strcmp(names[2], "V") && !strcmp(names[3], "F") && !multi;
    float *sc = malloc(sizeof(float) * (n ? n : 1));
    int *tr = malloc(sizeof(int) * (n ? n : 1));
    if (!sc || !tr) { free(sc); free(tr); return pf_err(PF_ENOMEM, "metrics: out of memory"); }
    size_t right = 0;
    for (size_t i = 0; i < n; i++) {
        const float *p = probs + i * (size_t)k;
        if (!multi) {
            int best = 0;
            for (int c = 1; c < k; c++) if (p[c] > p[best]) best = c;
            m->conf[labels[i]][best]++;
            right += best == labels[i];
        } else {
            int all = 1;
            for (int c = 0; c < k; c++) all &= (p[c] >= 0.5f) == (y[i * (size_t)k + c] >= 0.5f);
            right += all;
        }
    }
    m->accuracy = n ? (double)right / (double)n : NAN;
    double f1s = 0, aucs = 0;
    int nf = 0, na = 0;
    for (int c = 0; c < k; c++) {
        for (size_t i = 0; i < n; i++) {
            sc[i] = probs[i * (size_t)k + c];
            int t = multi ? y[i * (size_t)k + c] >= 0.5f : labels[i] == c;
            int pr = multi ? sc[i] >= 0.5f : 0;
            tr[i] = t;
            if (multi) { m->tp[c] += t && pr; m->fp[c] += !t && pr; m->fn[c] += t && !pr; m->tn[c] += !t && !pr; }
        }
        if (!multi) {
            for (int j = 0; j < k; j++) {
                if (j != c) { m->fn[c] += m->conf[c][j]; m->fp[c] += m->conf[j][c]; }
            }
            m->tp[c] = m->conf[c][c];
            m->tn[c] = (long long)n - m->tp[c] - m->fp[c] - m->fn[c];
        }
        m->support[c] = m->tp[c] + m->fn[c];
        m->se[c] = ratio(m->tp[c], m->tp[c] + m->fn[c]);
        m->ppv[c] = ratio(m->tp[c], m->tp[c] + m->fp[c]);
        m->f1[c] = ratio(2 * m->tp[c], 2 * m->tp[c] + m->fp[c] + m->fn[c]);
        m->auroc[c] = pf_auroc(sc, tr, n);
        if (m->support[c]) { f1s += isnan(m->f1[c]) ? 0 : m->f1[c]; nf++; }
        if (!isnan(m->auroc[c])) { aucs += m->auroc[c]; na++; }
    }
    m->macro_f1 = nf ? f1s / nf : NAN;
    m->macro_auroc = na ? aucs / na : NAN;
    if (m->aami) {
        enum { N, S, V, F, Q };
        for (int t = 0; t < k; t++)
            for (int p = 0; p < k; p++) {
                long long c = m->conf[t][p];
                if (t == Q) continue; /* unclassifiable beats are not scored */
                if (t == S && p == S) m->s_tp += c;
                else if (t == S) m->s_fn += c;
                else if (p == S) m->s_fp += c;
                if (t == V && p == V) m->v_tp += c;
                else if (t == V) m->v_fn += c;
                else if (p == V && t != F) m->v_fp += c;
            }
        long long nq = 0, nf_ = 0, ns = 0, nv = 0;
        for (int p = 0; p < k; p++) { nq += k > Q ? m->conf[Q][p] : 0; nf_ += m->conf[F][p]; ns += m->conf[S][p]; nv += m->conf[V][p]; }
        long long scored = (long long)n - nq;
        m->s_se = ratio(m->s_tp, m->s_tp + m->s_fn);
        m->s_ppv = ratio(m->s_tp, m->s_tp + m->s_fp);
        m->s_fpr = ratio(m->s_fp, scored - ns);
        m->v_se = ratio(m->v_tp, m->v_tp + m->v_fn);
        m->v_ppv = ratio(m->v_tp, m->v_tp + m->v_fp);
        m->v_fpr = ratio(m->v_fp, scored - nv - nf_);
    }
    free(sc);
    free(tr);
    return PF_OK;
}

static void pct(FILE *f, double v)
{
    if (isnan(v)) fprintf(f, "      -");
    else fprintf(f, " %6.2f", 100 * v);
}

void pf_cls_print(const pf_cls_metrics *m, FILE *f)
{
    fprintf(f, "%zu rows; accuracy %.2f %%, macro-F1 %.3f, macro AUROC %.3f\n", m->n, 100 * m->accuracy, m->macro_f1,
            m->macro_auroc);
    fprintf(f, "%-8s %8s %7s %7s %7s %7s\n", "class", "support", "Se %", "+P %", "F1 %", "AUROC");
    for (int c = 0; c < m->k; c++) {
        fprintf(f, "%-8s %8lld", m->names[c], m->support[c]);
        pct(f, m->se[c]);
        pct(f, m->ppv[c]);
        pct(f, m->f1[c]);
        if (isnan(m->auroc[c])) fprintf(f, "       -\n");
        else fprintf(f, "   %.3f\n", m->auroc[c]);
    }
    if (!m->multi) {
        fprintf(f, "confusion (rows: truth, columns: predicted)\n%-8s", "");
        for (int c = 0; c < m->k; c++) fprintf(f, " %8s", m->names[c]);
        fprintf(f, "\n");
        for (int t = 0; t < m->k; t++) {
            fprintf(f, "%-8s", m->names[t]);
            for (int p = 0; p < m->k; p++) fprintf(f, " %8lld", m->conf[t][p]);
            fprintf(f, "\n");
        }
    }
    if (m->aami) {
        fprintf(f, "EC57 gross: SVEB Se %.2f %% +P %.2f %% FPR %.2f %%; VEB Se %.2f %% +P %.2f %% FPR %.2f %%\n", 100 * m->s_se,
                100 * m->s_ppv, 100 * m->s_fpr, 100 * m->v_se, 100 * m->v_ppv, 100 * m->v_fpr);
    }
}

static void jnum(FILE *f, double v)
{
    if (isnan(v)) fprintf(f, "null");
    else fprintf(f, "%.6g", v);
}

int pf_cls_json(const pf_cls_metrics *m, FILE *f)
{
    fprintf(f, "{\"rows\": %zu, \"multi_label\": %s, \"accuracy\": ", m->n, m->multi ? "true" : "false");
    jnum(f, m->accuracy);
    fprintf(f, ", \"macro_f1\": ");
    jnum(f, m->macro_f1);
    fprintf(f, ", \"macro_auroc\": ");
    jnum(f, m->macro_auroc);
    fprintf(f, ",\n \"classes\": [");
    for (int c = 0; c < m->k; c++) {
        fprintf(f, "%s\n  {\"name\": \"%s\", \"support\": %lld, \"tp\": %lld, \"fp\": %lld, \"fn\": %lld, \"se\": ", c ? "," : "",
                m->names[c], m->support[c], m->tp[c], m->fp[c], m->fn[c]);
        jnum(f, m->se[c]);
        fprintf(f, ", \"ppv\": ");
        jnum(f, m->ppv[c]);
        fprintf(f, ", \"f1\": ");
        jnum(f, m->f1[c]);
        fprintf(f, ", \"auroc\": ");
        jnum(f, m->auroc[c]);
        fprintf(f, "}");
    }
    fprintf(f, "]");
    if (!m->multi) {
        fprintf(f, ",\n \"confusion\": [");
        for (int t = 0; t < m->k; t++) {
            fprintf(f, "%s[", t ? ", " : "");
            for (int p = 0; p < m->k; p++) fprintf(f, "%s%lld", p ? ", " : "", m->conf[t][p]);
            fprintf(f, "]");
        }
        fprintf(f, "]");
    }
    if (m->aami) {
        double v[6] = {m->s_se, m->s_ppv, m->s_fpr, m->v_se, m->v_ppv, m->v_fpr};
        const char *nm[6] = {"sveb_se", "sveb_ppv", "sveb_fpr", "veb_se", "veb_ppv", "veb_fpr"};
        fprintf(f, ",\n \"ec57_gross\": {");
        for (int i = 0; i < 6; i++) { fprintf(f, "%s\"%s\": ", i ? ", " : "", nm[i]); jnum(f, v[i]); }
        fprintf(f, "}");
    }
    fprintf(f, "}\n");
    return ferror(f) ? pf_err(PF_EIO, "metrics: writing JSON failed") : PF_OK;
}
