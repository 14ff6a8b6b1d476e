#include "pf_eval_run.h"

#include "pf_ann.h"
#include "pf_error.h"
#include "pf_log.h"
#include "pf_record.h"
#include "pf_rpeak.h"

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

int pf_eval_rpeaks_run(const pf_eval_run_opts *o, const char *const *records, size_t n,
                       pf_eval_counts *per, pf_eval_counts *gross)
{
    if (!o || !records || !gross) return pf_err(PF_EINVAL, "pf_eval_rpeaks_run: NULL argument");
    FILE *out = o->out ? o->out : stdout;
    pf_eval_counts *cs = calloc(n + 1, sizeof *cs);
    const char **names = calloc(n + 1, sizeof *names);
    if (!cs || !names) {
        free(cs);
        free(names);
        return pf_err(PF_ENOMEM, "eval: out of memory");
    }
    int rc = PF_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        char path[2048];
        if (o->data_dir) snprintf(path, sizeof path, "%s/%s", o->data_dir, records[i]);
        else snprintf(path, sizeof path, "%s", records[i]);
        pf_record *r = pf_record_open(path, NULL);
        if (!r) {
            rc = pf_err_context(PF_ENOTFOUND, "eval rpeaks");
            break;
        }
        names[i] = records[i];
        long *det = NULL;
        size_t nd = 0;
        rc = detect(r, o, &det, &nd);
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
    if (!rc) {
        *gross = pf_eval_print_table(out, names, cs, n);
        if (per) memcpy(per, cs, sizeof *cs * n);
    }
    free(cs);
    free(names);
    return rc;
}
