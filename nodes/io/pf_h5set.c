/* pf_h5set: PhysioWave HDF5 reader (see pf_h5set.h). */
#include "pf_h5set.h"

#include "pf_error.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pf_h5set {
    char path[1024];
    hid_t file, data, label;
    const char *data_name, *label_name;
    hsize_t n, c, t, k;
    int label_class;
    double fs;
    char **leads; /* [c] or NULL */
};

static int link_exists(hid_t file, const char *name)
{
    htri_t e = 0;
    H5E_BEGIN_TRY { e = H5Lexists(file, name, H5P_DEFAULT); }
    H5E_END_TRY;
    return e > 0;
}

static void read_fs(pf_h5set *s, hid_t obj)
{
    if (s->fs > 0 || H5Aexists(obj, "fs") <= 0) return;
    hid_t a = H5Aopen(obj, "fs", H5P_DEFAULT);
    if (a < 0) return;
    double v = 0;
    hid_t sp = H5Aget_space(a);
    if (H5Sget_simple_extent_npoints(sp) == 1 && H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0 && isfinite(v) && v > 0)
        s->fs = v;
    H5Sclose(sp);
    H5Aclose(a);
}

static int read_leads(pf_h5set *s, hid_t obj)
{
    if (s->leads || H5Aexists(obj, "leads") <= 0) return PF_OK;
    hid_t a = H5Aopen(obj, "leads", H5P_DEFAULT), sp = H5Aget_space(a), ft = H5Aget_type(a);
    int rc = PF_OK;
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    if (H5Tget_class(ft) != H5T_STRING || np != (hssize_t)s->c) {
        rc = pf_err(PF_EFORMAT, "%s: attribute 'leads' must hold %llu strings (one per channel), has %lld %s",
                    s->path, (unsigned long long)s->c, (long long)np,
                    H5Tget_class(ft) == H5T_STRING ? "strings" : "non-string values");
        goto done;
    }
    s->leads = calloc(s->c, sizeof *s->leads);
    if (!s->leads) { rc = pf_err(PF_ENOMEM, "out of memory"); goto done; }
    if (H5Tis_variable_str(ft) > 0) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(ft)); /* h5py writes UTF-8; HDF5 will not convert between csets */
        char **v = calloc(s->c, sizeof *v);
        herr_t e = -1;
        H5E_BEGIN_TRY { e = v ? H5Aread(a, mt, v) : -1; }
        H5E_END_TRY;
        if (e >= 0) {
            for (hsize_t i = 0; i < s->c; i++) s->leads[i] = strdup(v[i] ? v[i] : "");
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v);
        } else {
            rc = pf_err(PF_EFORMAT, "%s: cannot read attribute 'leads'", s->path);
        }
        free(v);
        H5Tclose(mt);
    } else {
        size_t w = H5Tget_size(ft);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, w + 1);
        H5Tset_strpad(mt, H5T_STR_NULLTERM);
        H5Tset_cset(mt, H5Tget_cset(ft));
        char *v = calloc(s->c, w + 1);
        herr_t e = -1;
        H5E_BEGIN_TRY { e = v ? H5Aread(a, mt, v) : -1; }
        H5E_END_TRY;
        if (e >= 0) {
            for (hsize_t i = 0; i < s->c; i++) s->leads[i] = strdup(v + i * (w + 1));
        } else {
            rc = pf_err(PF_EFORMAT, "%s: cannot read attribute 'leads'", s->path);
        }
        free(v);
        H5Tclose(mt);
    }
    for (hsize_t i = 0; !rc && i < s->c; i++)
        if (!s->leads[i]) rc = pf_err(PF_ENOMEM, "out of memory");
done:
    H5Tclose(ft);
    H5Sclose(sp);
    H5Aclose(a);
    return rc;
}

static int shape(hid_t d, int *rank, hsize_t dims[4])
{
    hid_t sp = H5Dget_space(d);
    if (sp < 0) return -1;
    *rank = H5Sget_simple_extent_ndims(sp);
    if (*rank > 4 || *rank < 0) {
        H5Sclose(sp);
        return 0;
    }
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    return 0;
}

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    default: return "non-numeric";
    }
}

pf_h5set *pf_h5set_open(const char *path)
{
    pf_h5set *s = calloc(1, sizeof *s);
    if (!s) {
        pf_err(PF_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    s->file = s->data = s->label = -1;
    H5E_BEGIN_TRY { s->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); }
    H5E_END_TRY;
    if (s->file < 0) {
        FILE *f = fopen(path, "rb");
        if (f) fclose(f);
        pf_err(f ? PF_EFORMAT : PF_ENOTFOUND, "%s: %s", path, f ? "not an HDF5 file" : "cannot open (no such file?)");
        goto fail;
    }
    s->data_name = link_exists(s->file, "data") ? "data" : link_exists(s->file, "input") ? "input" : NULL;
    if (!s->data_name) {
        pf_err(PF_EFORMAT, "%s: no dataset 'data' or 'input' (PhysioWave layout: data (N, C, T) float32)", path);
        goto fail;
    }
    H5E_BEGIN_TRY { s->data = H5Dopen2(s->file, s->data_name, H5P_DEFAULT); }
    H5E_END_TRY;
    if (s->data < 0) {
        pf_err(PF_EFORMAT, "%s: '%s' is not a dataset", path, s->data_name);
        goto fail;
    }
    int rank = 0;
    hsize_t dims[4] = {0};
    hid_t ty = H5Dget_type(s->data);
    H5T_class_t cls = H5Tget_class(ty);
    size_t sz = H5Tget_size(ty);
    H5Tclose(ty);
    if (cls != H5T_FLOAT) {
        pf_err(PF_EFORMAT, "%s: dataset '%s' has %s elements (%zu bytes): expected float32 (or float64)", path,
               s->data_name, class_name(cls), sz);
        goto fail;
    }
    shape(s->data, &rank, dims);
    if (rank != 3) {
        pf_err(PF_EFORMAT, "%s: dataset '%s' has rank %d: expected shape (N, C, T)", path, s->data_name, rank);
        goto fail;
    }
    s->n = dims[0], s->c = dims[1], s->t = dims[2];
    if (s->c == 0 || s->t == 0) {
        pf_err(PF_EFORMAT, "%s: dataset '%s' has shape (%llu, %llu, %llu): channels and length must be > 0", path,
               s->data_name, (unsigned long long)s->n, (unsigned long long)s->c, (unsigned long long)s->t);
        goto fail;
    }
    s->label_name = link_exists(s->file, "label") ? "label" : link_exists(s->file, "labels") ? "labels" : NULL;
    if (s->label_name) {
        H5E_BEGIN_TRY { s->label = H5Dopen2(s->file, s->label_name, H5P_DEFAULT); }
        H5E_END_TRY;
        if (s->label < 0) {
            pf_err(PF_EFORMAT, "%s: '%s' is not a dataset", path, s->label_name);
            goto fail;
        }
        ty = H5Dget_type(s->label);
        cls = H5Tget_class(ty);
        H5Tclose(ty);
        shape(s->label, &rank, dims);
        if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
            pf_err(PF_EFORMAT, "%s: dataset '%s' has %s elements: expected integer classes or a float/int8 label matrix",
                   path, s->label_name, class_name(cls));
            goto fail;
        }
        if ((rank != 1 && rank != 2) || dims[0] != s->n) {
            pf_err(PF_EFORMAT, "%s: dataset '%s' has rank %d, first dimension %llu: expected (%llu,) or (%llu, K) to match '%s'",
                   path, s->label_name, rank, rank > 0 ? (unsigned long long)dims[0] : 0ULL, (unsigned long long)s->n,
                   (unsigned long long)s->n, s->data_name);
            goto fail;
        }
        s->k = rank == 1 ? 1 : dims[1];
        s->label_class = rank == 1 && cls == H5T_INTEGER;
        if (rank == 1 && cls == H5T_FLOAT) s->label_class = 0;
    }
    hid_t root = H5Gopen2(s->file, "/", H5P_DEFAULT);
    read_fs(s, s->data);
    read_fs(s, root);
    int rc = read_leads(s, s->data);
    if (!rc) rc = read_leads(s, root);
    H5Gclose(root);
    if (rc) goto fail;
    return s;
fail:
    pf_h5set_close(s);
    return NULL;
}

void pf_h5set_close(pf_h5set *s)
{
    if (!s) return;
    if (s->label >= 0) H5Dclose(s->label);
    if (s->data >= 0) H5Dclose(s->data);
    if (s->file >= 0) H5Fclose(s->file);
    if (s->leads)
        for (hsize_t i = 0; i < s->c; i++) free(s->leads[i]);
    free(s->leads);
    free(s);
}

size_t pf_h5set_count(const pf_h5set *s) { return (size_t)s->n; }
size_t pf_h5set_channels(const pf_h5set *s) { return (size_t)s->c; }
size_t pf_h5set_length(const pf_h5set *s) { return (size_t)s->t; }
size_t pf_h5set_label_width(const pf_h5set *s) { return (size_t)s->k; }
int pf_h5set_label_is_class(const pf_h5set *s) { return s->label_class; }
double pf_h5set_rate(const pf_h5set *s) { return s->fs; }
const char *pf_h5set_data_name(const pf_h5set *s) { return s->data_name; }
const char *pf_h5set_lead_name(const pf_h5set *s, size_t c) { return s->leads && c < s->c ? s->leads[c] : NULL; }

/* Read a hyperslab [start, start+count) of dataset d (rank r) converted to mem type mt. */
static int slab(const pf_h5set *s, hid_t d, const char *name, int r, const hsize_t *start, const hsize_t *count,
                hid_t mt, void *out)
{
    hid_t fs = H5Dget_space(d);
    hid_t ms = H5Screate_simple(r, count, NULL);
    herr_t e = -1;
    H5E_BEGIN_TRY
    {
        if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0)
            e = H5Dread(d, mt, ms, fs, H5P_DEFAULT, out);
    }
    H5E_END_TRY;
    H5Sclose(ms);
    H5Sclose(fs);
    if (e < 0) return pf_err(PF_EIO, "%s: reading dataset '%s' failed (HDF5 error; file truncated or corrupt?)", s->path, name);
    return PF_OK;
}

static int check_finite(const pf_h5set *s, size_t first, const float *x, size_t count)
{
    size_t per = (size_t)(s->c * s->t);
    for (size_t i = 0; i < count * per; i++)
        if (!isfinite(x[i])) {
            size_t item = first + i / per, c = i % per / s->t, t = i % s->t;
            return pf_err(PF_ERANGE, "%s: %s[%zu, %zu, %zu] = %g: expected finite samples", s->path, s->data_name,
                          item, c, t, (double)x[i]);
        }
    return PF_OK;
}

static int check_items(const pf_h5set *s, size_t first, size_t count)
{
    if (first > s->n || count > s->n - first)
        return pf_err(PF_ERANGE, "%s: items [%zu, %zu) outside [0, %llu)", s->path, first, first + count,
                      (unsigned long long)s->n);
    return PF_OK;
}

int pf_h5set_read(pf_h5set *s, size_t first, size_t count, float *out)
{
    int rc = check_items(s, first, count);
    if (rc || count == 0) return rc;
    hsize_t st[3] = {first, 0, 0}, cn[3] = {count, s->c, s->t};
    if ((rc = slab(s, s->data, s->data_name, 3, st, cn, H5T_NATIVE_FLOAT, out))) return rc;
    return check_finite(s, first, out, count);
}

int pf_h5set_read_channel(pf_h5set *s, size_t item, size_t c, size_t start, size_t n, float *out)
{
    int rc = check_items(s, item, 1);
    if (rc) return rc;
    if (c >= s->c || start > s->t || n > s->t - start)
        return pf_err(PF_ERANGE, "%s: channel %zu samples [%zu, %zu) outside %llu channels x %llu samples", s->path, c,
                      start, start + n, (unsigned long long)s->c, (unsigned long long)s->t);
    if (n == 0) return PF_OK;
    hsize_t st[3] = {item, c, start}, cn[3] = {1, 1, n};
    if ((rc = slab(s, s->data, s->data_name, 3, st, cn, H5T_NATIVE_FLOAT, out))) return rc;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(out[i]))
            return pf_err(PF_ERANGE, "%s: %s[%zu, %zu, %zu] = %g: expected finite samples", s->path, s->data_name, item,
                          c, start + i, (double)out[i]);
    return PF_OK;
}

int pf_h5set_read_labels(pf_h5set *s, size_t first, size_t count, float *out)
{
    if (s->label < 0) return pf_err(PF_ENOTFOUND, "%s: no 'label' dataset", s->path);
    int rc = check_items(s, first, count);
    if (rc || count == 0) return rc;
    hsize_t st[2] = {first, 0}, cn[2] = {count, s->k};
    hid_t sp = H5Dget_space(s->label); /* (N,) or (N, K) */
    int r = H5Sget_simple_extent_ndims(sp);
    H5Sclose(sp);
    return slab(s, s->label, s->label_name, r, st, cn, H5T_NATIVE_FLOAT, out);
}

int pf_h5set_read_class(pf_h5set *s, size_t first, size_t count, int64_t *out)
{
    if (!s->label_class)
        return pf_err(PF_ESTATE, "%s: '%s' is not a (N,) integer class vector", s->path,
                      s->label_name ? s->label_name : "label");
    int rc = check_items(s, first, count);
    if (rc || count == 0) return rc;
    hsize_t st[1] = {first}, cn[1] = {count};
    return slab(s, s->label, s->label_name, 1, st, cn, H5T_NATIVE_INT64, out);
}
