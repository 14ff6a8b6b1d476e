/* pf_eval_cls: classification metrics of the downstream tasks (model.md
 * section 5, issue 15): accuracy, macro-F1, per-class sensitivity, positive
 * predictivity and F1, per-class and macro AUROC, confusion matrix; for AAMI
 * beat classes, the EC57 gross statistics of S and V. As a table and as JSON. */
#ifndef PF_EVAL_CLS_H
#define PF_EVAL_CLS_H

#include <stdio.h>
#include <stddef.h>

#define PF_CLS_MAX 64

typedef struct {
    int k;                       /* classes */
    char names[PF_CLS_MAX][32];
    int multi;                   /* multi-label: per-class 2x2 at threshold 0.5 */
    size_t n;                    /* rows scored */
    long long conf[PF_CLS_MAX][PF_CLS_MAX]; /* single-label: [truth][predicted] */
    long long tp[PF_CLS_MAX], fp[PF_CLS_MAX], fn[PF_CLS_MAX], tn[PF_CLS_MAX], support[PF_CLS_MAX];
    double se[PF_CLS_MAX], ppv[PF_CLS_MAX], f1[PF_CLS_MAX], auroc[PF_CLS_MAX]; /* NaN when undefined */
    double accuracy;             /* single-label: share right; multi-label: exact-match share */
    double macro_f1, macro_auroc; /* over classes with test support (AUROC: with positives and negatives) */
    int aami;                    /* classes are N S V F Q: the gross statistics below apply */
    /* EC57 gross S and V: Q beats not counted; a fusion beat called V is no V false positive */
    double s_se, s_ppv, s_fpr, v_se, v_ppv, v_fpr;
    long long s_tp, s_fp, s_fn, v_tp, v_fp, v_fn;
} pf_cls_metrics;

/* Binary AUROC of scores against 0/1 truth (Mann-Whitney, ties count a half);
 * NaN when either class is empty. */
double pf_auroc(const float *score, const int *truth, size_t n);
/* probs: [n, k] class probabilities; labels [n] (single) or y [n, k] (multi). */
int pf_cls_score(pf_cls_metrics *m, const float *probs, const long long *labels, const float *y, size_t n, int k,
                 const char *const *names, int multi);
void pf_cls_print(const pf_cls_metrics *m, FILE *f);
int pf_cls_json(const pf_cls_metrics *m, FILE *f);

#endif
