/* pf_record: record-level API over WFDB, challenge .mat, CPSC 2019 and HDF5 (see pf_record.h). */
#include "pf_record.h"

#include "pf_error.h"
#include "pf_mat5.h"
#include "pf_wfdb.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum { SRC_WFDB, SRC_MAT5, SRC_H5 };

struct pf_record {
    int src;
    char name[256];
    double rate;
    int64_t length;
    int nleads;
    char (*leads)[128];
    pf_wfdb_record *wfdb;
    float *mat;      /* CPSC 2019: the whole (short) signal */
    pf_h5set *h5;
    size_t item;
    pf_ann_list ann;   /* every reference annotation */
    pf_ann_list beats; /* the beat annotations among them */
};

static int ends_ci(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

static int alloc_leads(pf_record *r, int n)
{
    r->nleads = n;
    r->leads = calloc((size_t)(n ? n : 1), sizeof *r->leads);
    return r->leads ? PF_OK : pf_err(PF_ENOMEM, "out of memory");
}

static int split_beats(pf_record *r)
{
    for (size_t i = 0; i < r->ann.n; i++) {
        const pf_ann *a = &r->ann.a[i];
        if (i && a->time < r->ann.a[i - 1].time)
            return pf_err(PF_EFORMAT, "%s: annotation %zu at sample %lld comes before the previous one (%lld)", r->name,
                          i, (long long)a->time, (long long)r->ann.a[i - 1].time);
        if (pf_ann_is_beat(a->code)) {
            int rc = pf_ann_push(&r->beats, a->time, a->code, a->sub, a->chan, a->num, a->aux, a->auxlen);
            if (rc) return rc;
        }
    }
    return PF_OK;
}

static int open_wfdb(pf_record *r, const char *path, const pf_record_opts *o)
{
    r->src = SRC_WFDB;
    r->wfdb = pf_wfdb_open(path);
    if (!r->wfdb) return PF_EFORMAT;
    const pf_wfdb_header *h = pf_wfdb_header_of(r->wfdb);
    r->rate = h->fs;
    r->length = pf_wfdb_length(r->wfdb);
    int rc = alloc_leads(r, h->nsig);
    if (rc) return rc;
    for (int i = 0; i < h->nsig; i++) snprintf(r->leads[i], sizeof r->leads[i], "%s", h->sig[i].desc);
    /* annotation file: record path without ".hea" + "." + annotator */
    char base[1024], ann[1100];
    snprintf(base, sizeof base, "%s", path);
    if (ends_ci(base, ".hea")) base[strlen(base) - 4] = 0;
    if (o && o->annotator && !o->annotator[0]) return PF_OK; /* "" = no annotations */
    const char *an = o && o->annotator ? o->annotator : "atr";
    snprintf(ann, sizeof ann, "%s.%s", base, an);
    if (access(ann, R_OK) == 0) {
        if ((rc = pf_ann_read(ann, &r->ann))) return rc;
    } else if (o && o->annotator) {
        return pf_err(PF_ENOTFOUND, "%s: annotation file for annotator '%s' not found", ann, o->annotator);
    }
    return split_beats(r);
}

static int open_mat5(pf_record *r, const char *path, const pf_record_opts *o)
{
    r->src = SRC_MAT5;
    double *x = NULL;
    size_t n = 0;
    int rc = pf_mat5_read_vector(path, "ecg", &x, &n);
    if (rc) return rc;
    r->mat = malloc((n ? n : 1) * sizeof *r->mat);
    if (!r->mat) {
        free(x);
        return pf_err(PF_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) {
            rc = pf_err(PF_ERANGE, "%s: ecg[%zu] = %g: expected finite samples", path, i, x[i]);
            break;
        }
        r->mat[i] = (float)x[i];
    }
    free(x);
    if (rc) return rc;
    r->length = (int64_t)n;
    r->rate = o && o->rate > 0 ? o->rate : 500.0; /* CPSC 2019 is 500 Hz; the file does not say */
    if ((rc = alloc_leads(r, 1))) return rc;
    strcpy(r->leads[0], "ECG"); /* CPSC 2019 does not name its single lead */
    /* reference R peaks: DIR/data/data_NNNNN.mat -> DIR/ref/R_NNNNN.mat (or R_NNNNN.mat beside it) */
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!strncmp(base, "data_", 5)) {
        char ref[1100];
        int dirlen = (int)(base - path); /* including the '/' */
        if (dirlen >= 6 && !strncmp(base - 6, "/data/", 6))
            snprintf(ref, sizeof ref, "%.*sref/R_%s", dirlen - 5, path, base + 5);
        else
            snprintf(ref, sizeof ref, "%.*sR_%s", dirlen, path, base + 5);
        if (access(ref, R_OK) != 0 && dirlen >= 6 && !strncmp(base - 6, "/data/", 6))
            snprintf(ref, sizeof ref, "%.*sR_%s", dirlen, path, base + 5);
        if (access(ref, R_OK) == 0) {
            double *pk = NULL;
            size_t np = 0;
            if ((rc = pf_mat5_read_vector(ref, "R_peak", &pk, &np))) return rc;
            for (size_t i = 0; i < np && !rc; i++) {
                if (!(pk[i] >= 0 && pk[i] < (double)n) || pk[i] != floor(pk[i]))
                    rc = pf_err(PF_ERANGE, "%s: R_peak[%zu] = %g: expected a sample index in [0, %zu)", ref, i, pk[i], n);
                else /* R peaks of unclassified beats: code Q */
                    rc = pf_ann_push(&r->ann, (int64_t)pk[i], PF_ANN_UNKNOWN, 0, 0, 0, NULL, 0);
            }
            free(pk);
            if (rc) return rc;
        }
    }
    return split_beats(r);
}

pf_record *pf_record_open(const char *path, const pf_record_opts *o)
{
    pf_record *r = calloc(1, sizeof *r);
    if (!r) {
        pf_err(PF_ENOMEM, "out of memory");
        return NULL;
    }
    const char *slash = strrchr(path, '/');
    snprintf(r->name, sizeof r->name, "%s", slash ? slash + 1 : path);
    int rc;
    if (ends_ci(path, ".h5") || ends_ci(path, ".hdf5")) {
        pf_err(PF_EINVAL, "%s: an HDF5 set holds many records; open it with pf_h5set_open + pf_record_open_h5", path);
        free(r);
        return NULL;
    }
    if (ends_ci(path, ".mat")) {
        /* a challenge record's .mat has a .hea beside it; a CPSC 2019 file does not */
        char hea[1100];
        snprintf(hea, sizeof hea, "%.*s.hea", (int)strlen(path) - 4, path);
        if (access(hea, R_OK) == 0) {
            r->name[strlen(r->name) - 4] = 0;
            rc = open_wfdb(r, hea, o);
        } else {
            rc = open_mat5(r, path, o);
        }
    } else {
        if (ends_ci(r->name, ".hea")) r->name[strlen(r->name) - 4] = 0;
        rc = open_wfdb(r, path, o);
    }
    if (rc) {
        pf_record_close(r);
        return NULL;
    }
    return r;
}

pf_record *pf_record_open_h5(pf_h5set *set, size_t item, const pf_record_opts *o)
{
    if (item >= pf_h5set_count(set)) {
        pf_err(PF_ERANGE, "HDF5 item %zu outside [0, %zu)", item, pf_h5set_count(set));
        return NULL;
    }
    pf_record *r = calloc(1, sizeof *r);
    if (!r || alloc_leads(r, (int)pf_h5set_channels(set))) {
        free(r);
        pf_err(PF_ENOMEM, "out of memory");
        return NULL;
    }
    r->src = SRC_H5;
    r->h5 = set;
    r->item = item;
    snprintf(r->name, sizeof r->name, "%s[%zu]", pf_h5set_data_name(set), item);
    r->length = (int64_t)pf_h5set_length(set);
    r->rate = pf_h5set_rate(set) > 0 ? pf_h5set_rate(set) : o ? o->rate : 0;
    for (int c = 0; c < r->nleads; c++) {
        const char *ln = pf_h5set_lead_name(set, (size_t)c);
        if (ln) snprintf(r->leads[c], sizeof r->leads[c], "%s", ln);
        else snprintf(r->leads[c], sizeof r->leads[c], "ch%d", c);
    }
    return r;
}

void pf_record_close(pf_record *r)
{
    if (!r) return;
    pf_wfdb_close(r->wfdb);
    free(r->mat);
    free(r->leads);
    pf_ann_list_free(&r->ann);
    pf_ann_list_free(&r->beats);
    free(r);
}

const char *pf_record_name(const pf_record *r) { return r->name; }
int pf_record_nleads(const pf_record *r) { return r->nleads; }
const char *pf_record_lead(const pf_record *r, int i) { return i >= 0 && i < r->nleads ? r->leads[i] : NULL; }
double pf_record_rate(const pf_record *r) { return r->rate; }
int64_t pf_record_length(const pf_record *r) { return r->length; }
const pf_ann_list *pf_record_annotations(const pf_record *r) { return &r->ann; }

int pf_record_find_lead(const pf_record *r, const char *name)
{
    for (int i = 0; i < r->nleads; i++)
        if (!strcasecmp(r->leads[i], name)) return i;
    return PF_ENOTFOUND;
}

int pf_record_select(const pf_record *r, const char *const *names, int n, int *idx)
{
    for (int k = 0; k < n; k++) {
        int i = pf_record_find_lead(r, names[k]);
        if (i < 0) {
            char have[512] = "";
            size_t len = 0;
            for (int j = 0; j < r->nleads && len < sizeof have - 70; j++)
                len += (size_t)snprintf(have + len, sizeof have - len, "%s%s", j ? " " : "", r->leads[j]);
            return pf_err(PF_ENOTFOUND, "%s: no lead '%s' (leads: %s)", r->name, names[k], have);
        }
        idx[k] = i;
    }
    return PF_OK;
}

int pf_record_read(pf_record *r, int64_t start, int64_t n, const int *leads, int nleads, float *out)
{
    if (!leads) nleads = r->nleads;
    if (start < 0 || n < 0 || start > r->length || n > r->length - start)
        return pf_err(PF_ERANGE, "%s: samples [%lld, %lld) outside [0, %lld)", r->name, (long long)start,
                      (long long)(start + n), (long long)r->length);
    for (int k = 0; k < nleads; k++)
        if (leads && (leads[k] < 0 || leads[k] >= r->nleads))
            return pf_err(PF_ERANGE, "%s: lead index %d outside 0..%d", r->name, leads[k], r->nleads - 1);
    switch (r->src) {
    case SRC_WFDB: return pf_wfdb_read(r->wfdb, start, n, leads, nleads, out);
    case SRC_MAT5:
        for (int k = 0; k < nleads; k++) memcpy(out + (size_t)k * (size_t)n, r->mat + start, (size_t)n * sizeof *out);
        return PF_OK;
    default:
        for (int k = 0; k < nleads; k++) {
            int rc = pf_h5set_read_channel(r->h5, r->item, (size_t)(leads ? leads[k] : k), (size_t)start, (size_t)n,
                                           out + (size_t)k * (size_t)n);
            if (rc) return rc;
        }
        return PF_OK;
    }
}

int pf_record_beats(const pf_record *r, int64_t start, int64_t n, const pf_ann **first, size_t *count)
{
    size_t a = pf_ann_lower(&r->beats, start), b = pf_ann_lower(&r->beats, start + n);
    *first = r->beats.n ? &r->beats.a[a] : NULL;
    *count = b - a;
    return PF_OK;
}
