#include "pf_h5win_read.h"

#include "pf_error.h"
#include "pf_h5.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pf_h5win_read {
    char path[1100];
    hid_t file;
    int64_t n;                    /* windows; -1 until read */
    char **ids;
    size_t n_ids;
    int32_t *record;
    uint64_t *window_index;
    int64_t *start_sample;
    int64_t *rpeaks, *rpeaks_off;
    float *features;
    size_t n_feat;
    int feat_dim;
};

int pf_h5win_read_path(const char *path, int replica, int replicas, char *out, size_t cap)
{
    int len;
    if (replicas <= 1) {
        len = snprintf(out, cap, "%s", path);
    } else {
        /* ".rI" goes before the extension of the last path component */
        const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
        if (dot && (!slash || dot > slash))
            len = snprintf(out, cap, "%.*s.r%d%s", (int)(dot - path), path, replica, dot);
        else
            len = snprintf(out, cap, "%s.r%d", path, replica);
    }
    if (len < 0 || (size_t)len >= cap) return pf_err(PF_ERANGE, "sink path '%s' (replica %d): too long (%d bytes)", path, replica, len);
    return PF_OK;
}

char **pf_h5win_read_files(const char *path, int replicas, int *n)
{
    int k = replicas > 1 ? replicas : 1;
    char **f = calloc((size_t)k + 1, sizeof *f);
    if (!f) { pf_err(PF_ENOMEM, "out of memory"); return NULL; }
    for (int i = 0; i < k; i++) {
        char buf[1100];
        int rc = pf_h5win_read_path(path, i, replicas, buf, sizeof buf);
        if (!rc && !(f[i] = strdup(buf))) rc = pf_err(PF_ENOMEM, "out of memory");
        if (rc) {
            pf_h5win_read_free_files(f, i);
            return NULL;
        }
    }
    *n = k;
    return f;
}

void pf_h5win_read_free_files(char **files, int n)
{
    if (!files) return;
    for (int i = 0; i < n; i++) free(files[i]);
    free(files);
}

pf_h5win_read *pf_h5win_read_open(const char *path, int flags)
{
    char partial[1100];
    snprintf(partial, sizeof partial, "%s.partial", path);
    const char *use = path;
    if (access(path, F_OK) != 0 && access(partial, F_OK) == 0) {
        if (!(flags & PF_H5WIN_READ_PARTIAL)) {
            pf_err(PF_ESTATE, "%s: not written completely: only %s exists (the sink was interrupted or rejected windows)", path, partial);
            return NULL;
        }
        use = partial;
    }
    pf_h5win_read *r = calloc(1, sizeof *r);
    if (!r) { pf_err(PF_ENOMEM, "%s: out of memory", path); return NULL; }
    snprintf(r->path, sizeof r->path, "%s", use);
    r->n = -1;
    r->file = pf_h5_open_read(use);
    if (r->file < 0) { free(r); return NULL; }
    return r;
}

void pf_h5win_read_close(pf_h5win_read **rp)
{
    if (!rp || !*rp) return;
    pf_h5win_read *r = *rp;
    H5Fclose(r->file);
    pf_h5_free_strs(r->ids, r->n_ids);
    free(r->record); free(r->window_index); free(r->start_sample);
    free(r->rpeaks); free(r->rpeaks_off); free(r->features);
    free(r);
    *rp = NULL;
}

const char *pf_h5win_read_filename(const pf_h5win_read *r) { return r->path; }

int pf_h5win_read_complete(pf_h5win_read *r)
{
    uint32_t c = 0;
    if (H5Aexists(r->file, "complete") <= 0 || pf_h5_attr_read(r->file, "complete", H5T_NATIVE_UINT32, &c, 0)) return 0;
    return c == 1;
}

/* one per-window array of count elements, loaded once */
static void *load(pf_h5win_read *r, void **slot, const char *name, hid_t type, size_t want)
{
    if (*slot) return *slot;
    size_t n = 0;
    void *p = pf_h5_read_alloc(r->file, name, type, &n);
    if (!p) { pf_err_context(PF_EFORMAT, "%s", r->path); return NULL; }
    if (n != want) {
        free(p);
        pf_err(PF_EFORMAT, "%s: /%s has %zu entries, expected %zu (one per window)", r->path, name, n, want);
        return NULL;
    }
    return *slot = p;
}

int64_t pf_h5win_read_count(pf_h5win_read *r)
{
    if (r->n < 0) {
        size_t n = 0;
        r->window_index = pf_h5_read_alloc(r->file, "window_index", H5T_NATIVE_UINT64, &n);
        if (!r->window_index) return pf_err_context(PF_EFORMAT, "%s", r->path);
        r->n = (int64_t)n;
    }
    return r->n;
}

const char *const *pf_h5win_read_record_ids(pf_h5win_read *r, size_t *n)
{
    if (!r->ids && !(r->ids = pf_h5_read_strs(r->file, "record_ids", &r->n_ids))) {
        pf_err_context(PF_EFORMAT, "%s", r->path);
        return NULL;
    }
    if (n) *n = r->n_ids;
    return (const char *const *)r->ids;
}

const int32_t *pf_h5win_read_record(pf_h5win_read *r)
{
    int64_t n = pf_h5win_read_count(r);
    if (n < 0) return NULL;
    int32_t *rec = load(r, (void **)&r->record, "record", H5T_NATIVE_INT32, (size_t)n);
    size_t nid = 0;
    if (!rec || !pf_h5win_read_record_ids(r, &nid)) return NULL;
    for (int64_t i = 0; i < n; i++)
        if (rec[i] < 0 || (size_t)rec[i] >= nid) {
            pf_err(PF_EFORMAT, "%s: /record[%lld] = %d, but there are %zu record ids", r->path, (long long)i, rec[i], nid);
            return NULL;
        }
    return rec;
}

const uint64_t *pf_h5win_read_window_index(pf_h5win_read *r)
{
    return pf_h5win_read_count(r) < 0 ? NULL : r->window_index;
}

const int64_t *pf_h5win_read_start_sample(pf_h5win_read *r)
{
    int64_t n = pf_h5win_read_count(r);
    return n < 0 ? NULL : load(r, (void **)&r->start_sample, "start_sample", H5T_NATIVE_INT64, (size_t)n);
}

int pf_h5win_read_rpeaks(pf_h5win_read *r, const int64_t **peaks, const int64_t **offset)
{
    int64_t n = pf_h5win_read_count(r);
    if (n < 0) return PF_EFORMAT;
    if (!r->rpeaks) {
        int64_t *off = load(r, (void **)&r->rpeaks_off, "rpeaks_offset", H5T_NATIVE_INT64, (size_t)n + 1);
        if (!off) return PF_EFORMAT;
        size_t np = 0;
        int64_t *p = pf_h5_read_alloc(r->file, "rpeaks", H5T_NATIVE_INT64, &np);
        if (!p) return pf_err_context(PF_EFORMAT, "%s", r->path);
        /* offsets must be a non-decreasing walk from 0 to the number of peaks */
        int ok = off[0] == 0 && off[n] == (int64_t)np;
        for (int64_t i = 0; ok && i < n; i++) ok = off[i] <= off[i + 1];
        if (!ok) {
            free(p);
            return pf_err(PF_EFORMAT, "%s: /rpeaks_offset does not partition the %zu R-peaks (first %lld, last %lld)", r->path, np,
                          (long long)off[0], (long long)off[n]);
        }
        r->rpeaks = p;
    }
    if (peaks) *peaks = r->rpeaks;
    if (offset) *offset = r->rpeaks_off;
    return PF_OK;
}

int pf_h5win_read_features(pf_h5win_read *r, const float **x, size_t *n, int *dim)
{
    if (!r->features) {
        if (H5Lexists(r->file, "features", H5P_DEFAULT) <= 0)
            return pf_err(PF_ENOTFOUND, "%s: no /features dataset (run the windows through a shuffle node with features = true)", r->path);
        int rank = 0;
        hsize_t d[PF_H5_MAX_RANK];
        int rc = pf_h5_shape(r->file, "features", &rank, d, NULL);
        if (rc) return pf_err_context(rc, "%s", r->path);
        if (rank != 2 || d[1] == 0) return pf_err(PF_EFORMAT, "%s: /features is not [N, dim] (rank %d)", r->path, rank);
        size_t k = 0;
        float *f = pf_h5_read_alloc(r->file, "features", H5T_NATIVE_FLOAT, &k);
        if (!f) return pf_err_context(PF_EFORMAT, "%s", r->path);
        r->features = f;
        r->n_feat = (size_t)d[0];
        r->feat_dim = (int)d[1];
    }
    if (x) *x = r->features;
    if (n) *n = r->n_feat;
    if (dim) *dim = r->feat_dim;
    return PF_OK;
}

int pf_h5win_read_shape(pf_h5win_read *r, int *leads, int *samples)
{
    int rank = 0;
    hsize_t d[PF_H5_MAX_RANK];
    int rc = pf_h5_shape(r->file, "data", &rank, d, NULL);
    if (rc) return pf_err_context(rc, "%s", r->path);
    if (rank != 3) return pf_err(PF_EFORMAT, "%s: /data is not [N, leads, samples] (rank %d)", r->path, rank);
    if (leads) *leads = (int)d[1];
    if (samples) *samples = (int)d[2];
    return PF_OK;
}

int pf_h5win_read_window(pf_h5win_read *r, int64_t i, float *out)
{
    int64_t n = pf_h5win_read_count(r);
    int C = 0, T = 0;
    if (n < 0) return PF_EFORMAT;
    int rc = pf_h5win_read_shape(r, &C, &T);
    if (rc) return rc;
    if (i < 0 || i >= n) return pf_err(PF_ERANGE, "%s: window %lld out of range (the file holds %lld)", r->path, (long long)i, (long long)n);
    hid_t ds = H5Dopen2(r->file, "data", H5P_DEFAULT);
    hid_t fs = ds < 0 ? -1 : H5Dget_space(ds);
    hsize_t start[3] = {(hsize_t)i, 0, 0}, count[3] = {1, (hsize_t)C, (hsize_t)T};
    hid_t ms = H5Screate_simple(3, count, NULL);
    herr_t e = fs < 0 ? -1 : H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    if (e >= 0) e = H5Dread(ds, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, out);
    H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    if (ds >= 0) H5Dclose(ds);
    return e < 0 ? pf_err(PF_EIO, "%s: reading window %lld of /data failed", r->path, (long long)i) : PF_OK;
}
