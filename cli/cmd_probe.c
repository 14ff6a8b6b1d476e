/* physioflow probe TRAIN.h5 TEST.h5: fits a probe (pf_probe: multinomial
 * logistic regression, or model.md's MLP head) on one embedding file and scores
 * it on another (pf_eval_cls): accuracy, macro-F1, per-class Se / +P / F1 /
 * AUROC, confusion matrix, EC57 gross S and V statistics for AAMI beats. */
#include "pf_cli.h"
#include "pf_embfile.h"
#include "pf_error.h"
#include "pf_eval_cls.h"
#include "pf_probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: physioflow probe TRAIN.h5 TEST.h5 [--head linear|mlp] [--json OUT] [--epochs N] [--lr X]\n"
                    "                        [--batch N] [--weight-decay X] [--smoothing X] [--balance none|weights|sampling] [--seed N]\n"
                    "                        [--ignore-class NAME]...\n"
                    "  TRAIN and TEST are embedding files (physioflow embed) with the same classes and dimension;\n"
                    "  rows of an ignored class and unlabelled rows (-1) are left out of both. Defaults: linear = logistic\n"
                    "  regression with class weights, no smoothing; mlp = model.md's head, smoothing 0.1, balanced sampling.\n");
    return 2;
}

/* Rows kept: labelled, not of an ignored class; labels remapped to the kept classes. */
static size_t select_rows(const pf_embset *s, const int *keep_cls, const int *newid, float **x, long long **lab, float **y,
                          int k2, size_t *unlabelled, size_t *ignored)
{
    size_t m = 0;
    *x = malloc(sizeof(float) * (s->n ? s->n : 1) * s->dim);
    *lab = malloc(sizeof(long long) * (s->n ? s->n : 1));
    *y = malloc(sizeof(float) * (s->n ? s->n : 1) * (size_t)(k2 ? k2 : 1));
    if (!*x || !*lab || !*y) return (size_t)-1;
    for (size_t i = 0; i < s->n; i++) {
        if (!s->multi) {
            if (s->label[i] < 0) { (*unlabelled)++; continue; }
            if (!keep_cls[s->label[i]]) { (*ignored)++; continue; }
            (*lab)[m] = newid[s->label[i]];
        } else {
            for (int c = 0, q = 0; c < s->k; c++)
                if (keep_cls[c]) (*y)[m * k2 + q++] = s->y[i * s->k + c];
        }
        memcpy(*x + m * s->dim, s->x + i * s->dim, sizeof(float) * s->dim);
        m++;
    }
    return m;
}

/* A JSON string (paths and sources may hold quotes or backslashes). */
static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", (unsigned char)*s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

int pf_cmd_probe(int argc, char **argv)
{
    const char *files[2] = {NULL, NULL}, *json = NULL, *ign[64];
    int nf = 0, ni = 0;
    pf_chead_kind head = PF_CHEAD_LINEAR;
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--head") && i + 1 < argc) {
            int h = pf_chead_kind_parse(argv[++i]);
            if (h < 0) { fprintf(stderr, "physioflow probe: %s\n", pf_errmsg()); return 2; }
            head = (pf_chead_kind)h;
        }
    pf_probe_cfg c = pf_probe_defaults(head);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--head") && more) i++;
        else if (!strcmp(a, "--json") && more) json = argv[++i];
        else if (!strcmp(a, "--epochs") && more) c.epochs = atoi(argv[++i]);
        else if (!strcmp(a, "--lr") && more) c.lr = (float)atof(argv[++i]);
        else if (!strcmp(a, "--batch") && more) c.batch = atoi(argv[++i]);
        else if (!strcmp(a, "--weight-decay") && more) c.weight_decay = (float)atof(argv[++i]);
        else if (!strcmp(a, "--smoothing") && more) c.smoothing = (float)atof(argv[++i]);
        else if (!strcmp(a, "--seed") && more) c.seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--balance") && more) {
            const char *b = argv[++i];
            c.balanced = !strcmp(b, "none") ? 0 : !strcmp(b, "weights") ? 1 : !strcmp(b, "sampling") ? 2 : -1;
            if (c.balanced < 0) { fprintf(stderr, "physioflow probe: --balance %s: expected none, weights or sampling\n", b); return 2; }
        }
        else if (!strcmp(a, "--ignore-class") && more && ni < 64) ign[ni++] = argv[++i];
        else if (a[0] == '-') { fprintf(stderr, "physioflow probe: unknown option '%s'\n", a); return usage(); }
        else if (nf < 2) files[nf++] = a;
        else return usage();
    }
    if (nf != 2 || c.epochs < 1 || c.batch < 1 || !(c.lr > 0)) return usage();
    pf_embset *tr = pf_embset_read(files[0]), *te = tr ? pf_embset_read(files[1]) : NULL;
    int rc = tr && te ? PF_OK : PF_EFORMAT;
    if (!rc && tr->dim != te->dim)
        rc = pf_err(PF_EFORMAT, "%s holds %d-value vectors, %s %d-value vectors", files[0], tr->dim, files[1], te->dim);
    if (!rc && (tr->k != te->k || tr->multi != te->multi))
        rc = pf_err(PF_EFORMAT, "%s has %d %s classes, %s has %d %s classes", files[0], tr->k, tr->multi ? "multi-label" : "single-label",
                    files[1], te->k, te->multi ? "multi-label" : "single-label");
    for (int q = 0; !rc && q < tr->k; q++)
        if (strcmp(tr->classes[q], te->classes[q]))
            rc = pf_err(PF_EFORMAT, "class %d is '%s' in %s but '%s' in %s", q, tr->classes[q], files[0], te->classes[q], files[1]);
    int keep[PF_CLS_MAX], newid[PF_CLS_MAX], k2 = 0;
    if (!rc && tr->k > PF_CLS_MAX) rc = pf_err(PF_ERANGE, "%s: %d classes, at most %d", files[0], tr->k, PF_CLS_MAX);
    for (int i = 0; !rc && i < ni; i++) {
        int found = 0;
        for (int q = 0; q < tr->k; q++) found |= !strcmp(tr->classes[q], ign[i]);
        if (!found) rc = pf_err(PF_ENOTFOUND, "--ignore-class %s: %s has no such class", ign[i], files[0]);
    }
    const char *names[PF_CLS_MAX];
    for (int q = 0; !rc && q < tr->k; q++) {
        keep[q] = 1;
        for (int i = 0; i < ni; i++) if (!strcmp(tr->classes[q], ign[i])) keep[q] = 0;
        newid[q] = keep[q] ? k2 : -1;
        if (keep[q]) names[k2++] = tr->classes[q];
    }
    float *xtr = NULL, *xte = NULL, *ytr = NULL, *yte = NULL, *probs = NULL;
    long long *ltr = NULL, *lte = NULL;
    size_t ntr = 0, nte = 0, un[2] = {0, 0}, ig[2] = {0, 0};
    if (!rc) {
        ntr = select_rows(tr, keep, newid, &xtr, &ltr, &ytr, k2, &un[0], &ig[0]);
        nte = select_rows(te, keep, newid, &xte, &lte, &yte, k2, &un[1], &ig[1]);
        if (ntr == (size_t)-1 || nte == (size_t)-1) rc = pf_err(PF_ENOMEM, "probe: out of memory");
    }
    if (!rc && (!ntr || !nte)) rc = pf_err(PF_ENOTFOUND, "%s has no labelled rows to %s", !ntr ? files[0] : files[1], !ntr ? "fit" : "score");
    /* every class must be learnable: a class with no training rows is an error naming it */
    for (int q = 0; !rc && q < k2; q++) {
        long long ct = 0, cs = 0;
        for (size_t i = 0; i < ntr; i++) ct += tr->multi ? ytr[i * k2 + q] >= 0.5f : ltr[i] == q;
        for (size_t i = 0; i < nte; i++) cs += te->multi ? yte[i * k2 + q] >= 0.5f : lte[i] == q;
        if (!ct && !tr->multi)
            rc = pf_err(PF_ENOTFOUND, "class %s has no training rows in %s (%lld in %s); leave it out with --ignore-class %s", names[q],
                        files[0], cs, files[1], names[q]);
        else if (!ct)
            fprintf(stderr, "physioflow probe: note: class %s has no positive training rows in %s (%lld in %s)\n", names[q], files[0],
                    cs, files[1]);
    }
    pf_probe *p = NULL;
    if (!rc) {
        fprintf(stderr, "physioflow probe: %s head on %zu training rows of %d values (%s), %zu test rows; %zu / %zu unlabelled, "
                        "%zu / %zu of ignored classes left out\n",
                head == PF_CHEAD_LINEAR ? "linear" : "mlp", ntr, tr->dim, tr->source, nte, un[0], un[1], ig[0], ig[1]);
        p = pf_probe_fit(&c, xtr, ntr, tr->dim, k2, tr->multi, ltr, ytr);
        if (!p) rc = PF_EINVAL;
    }
    if (!rc && !(probs = malloc(sizeof(float) * nte * k2))) rc = pf_err(PF_ENOMEM, "probe: out of memory");
    if (!rc) rc = pf_probe_predict(p, xte, nte, probs);
    pf_cls_metrics m;
    if (!rc) rc = pf_cls_score(&m, probs, lte, yte, nte, k2, names, tr->multi);
    if (!rc) {
        printf("probe %s -> %s (%s head, final training loss %.4f)\n", files[0], files[1], head == PF_CHEAD_LINEAR ? "linear" : "mlp",
               pf_probe_last_loss(p));
        pf_cls_print(&m, stdout);
    }
    if (!rc && json) {
        FILE *f = fopen(json, "w");
        if (!f) rc = pf_err(PF_EIO, "cannot write %s", json);
        else {
            fprintf(f, "{\"train\": ");
            jstr(f, files[0]);
            fprintf(f, ", \"test\": ");
            jstr(f, files[1]);
            fprintf(f, ", \"head\": \"%s\", \"source\": ", head == PF_CHEAD_LINEAR ? "linear" : "mlp");
            jstr(f, tr->source);
            fprintf(f, ", \"train_rows\": %zu,\n \"metrics\": ", ntr);
            rc = pf_cls_json(&m, f);
            fprintf(f, "}\n");
            if (fclose(f)) rc = pf_err(PF_EIO, "cannot write %s", json);
        }
    }
    if (rc) fprintf(stderr, "physioflow probe: %s\n", pf_errmsg());
    pf_probe_destroy(p);
    pf_embset_destroy(tr);
    pf_embset_destroy(te);
    free(xtr); free(xte); free(ytr); free(yte); free(ltr); free(lte); free(probs);
    return rc ? 1 : 0;
}
