#include "pf_h5.h"

#include "pf_error.h"

#include <stdlib.h>
#include <string.h>

void pf_h5_quiet(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

hid_t pf_h5_open_read(const char *path)
{
    pf_h5_quiet();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) pf_err(PF_EIO, "%s: cannot open as HDF5", path);
    return f;
}

int pf_h5_shape(hid_t loc, const char *name, int *rank, hsize_t *dims, size_t *n)
{
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return pf_err(PF_ENOTFOUND, "hdf5: no dataset '%s'", name);
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return pf_err(PF_EIO, "hdf5: cannot open dataset '%s'", name);
    hid_t s = H5Dget_space(d);
    int nd = s < 0 ? -1 : H5Sget_simple_extent_ndims(s);
    hsize_t dd[PF_H5_MAX_RANK];
    if (nd >= 0 && nd <= PF_H5_MAX_RANK) H5Sget_simple_extent_dims(s, dd, NULL);
    if (s >= 0) H5Sclose(s);
    H5Dclose(d);
    if (nd < 0 || nd > PF_H5_MAX_RANK) return pf_err(PF_EFORMAT, "hdf5: dataset '%s' has rank %d (at most %d)", name, nd, PF_H5_MAX_RANK);
    size_t k = 1;
    for (int i = 0; i < nd; i++) {
        k *= (size_t)dd[i];
        if (dims) dims[i] = dd[i];
    }
    if (rank) *rank = nd;
    if (n) *n = k;
    return PF_OK;
}

int pf_h5_read(hid_t loc, const char *name, hid_t memtype, void *dst, size_t n)
{
    size_t have = 0;
    int rc = pf_h5_shape(loc, name, NULL, NULL, &have);
    if (rc) return rc;
    if (have != n) return pf_err(PF_EFORMAT, "hdf5: dataset '%s' has %zu elements, expected %zu", name, have, n);
    if (!n) return PF_OK;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst);
    if (d >= 0) H5Dclose(d);
    return e < 0 ? pf_err(PF_EIO, "hdf5: reading '%s' failed", name) : PF_OK;
}

int pf_h5_read_f32(hid_t loc, const char *name, float *dst, size_t n)
{
    return pf_h5_read(loc, name, H5T_NATIVE_FLOAT, dst, n);
}

int pf_h5_read_i32(hid_t loc, const char *name, int *dst, size_t n)
{
    return pf_h5_read(loc, name, H5T_NATIVE_INT, dst, n);
}

void *pf_h5_read_alloc(hid_t loc, const char *name, hid_t memtype, size_t *n)
{
    size_t k = 0;
    if (pf_h5_shape(loc, name, NULL, NULL, &k)) return NULL;
    size_t es = H5Tget_size(memtype);
    void *p = malloc(es * (k + 1));
    if (!p) { pf_err(PF_ENOMEM, "hdf5: out of memory reading '%s' (%zu elements)", name, k); return NULL; }
    if (pf_h5_read(loc, name, memtype, p, k)) { free(p); return NULL; }
    *n = k;
    return p;
}

int pf_h5_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims, const void *data)
{
    size_t k = 1;
    for (int i = 0; i < rank; i++) k *= (size_t)dims[i];
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t ds = sp < 0 ? -1 : H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = ds < 0 ? -1 : (k ? H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0);
    if (ds >= 0) H5Dclose(ds);
    if (sp >= 0) H5Sclose(sp);
    return e < 0 ? pf_err(PF_EIO, "hdf5: writing dataset '%s' failed", name) : PF_OK;
}

int pf_h5_write_f32(hid_t loc, const char *name, const float *src, int ndim, const int *shape)
{
    hsize_t dims[PF_H5_MAX_RANK];
    if (ndim < 0 || ndim > PF_H5_MAX_RANK) return pf_err(PF_EINVAL, "hdf5: dataset '%s': rank %d (at most %d)", name, ndim, PF_H5_MAX_RANK);
    for (int i = 0; i < ndim; i++) dims[i] = (hsize_t)shape[i];
    return pf_h5_write(loc, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, ndim, dims, src);
}

int pf_h5_attr_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, const void *v, hsize_t n)
{
    hid_t s = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
    hid_t a = H5Acreate2(loc, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, mtype, v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    return rc < 0 ? pf_err(PF_EIO, "hdf5: writing attribute '%s' failed", name) : PF_OK;
}

int pf_h5_attr_read(hid_t loc, const char *name, hid_t mtype, void *v, hsize_t n)
{
    if (H5Aexists(loc, name) <= 0) return pf_err(PF_ENOTFOUND, "hdf5: attribute '%s' missing", name);
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t s = a < 0 ? -1 : H5Aget_space(a);
    hssize_t have = s < 0 ? -1 : H5Sget_simple_extent_npoints(s);
    if (s >= 0) H5Sclose(s);
    herr_t rc = have == (hssize_t)(n ? n : 1) ? H5Aread(a, mtype, v) : -1;
    if (a >= 0) H5Aclose(a);
    return rc < 0 ? pf_err(PF_EFORMAT, "hdf5: attribute '%s' unreadable or wrong size (%lld values, expected %llu)", name,
                           (long long)have, (unsigned long long)(n ? n : 1))
                  : PF_OK;
}

int pf_h5_attr_str(hid_t loc, const char *name, const char *value, size_t width)
{
    size_t len = strlen(value);
    const char *v = value;
    char *pad = NULL;
    if (!width) {
        width = len ? len : 1;
        if (!len) v = " ";
    } else if (width > len) {
        /* H5Awrite reads width bytes: give it a NUL-padded copy */
        pad = calloc(1, width);
        if (!pad) return pf_err(PF_ENOMEM, "hdf5: out of memory for attribute '%s'", name);
        memcpy(pad, value, len);
        v = pad;
    }
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, width);
    hid_t sp = H5Screate(H5S_SCALAR);
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, t, v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    free(pad);
    return e < 0 ? pf_err(PF_EIO, "hdf5: writing attribute '%s' failed", name) : PF_OK;
}

int pf_h5_write_strs(hid_t loc, const char *name, char *const *s, size_t n)
{
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, H5T_VARIABLE);
    hsize_t d = (hsize_t)n;
    int rc = pf_h5_write(loc, name, st, st, 1, &d, s);
    H5Tclose(st);
    return rc;
}

char **pf_h5_read_strs(hid_t loc, const char *name, size_t *n)
{
    int rank = 0;
    size_t k = 0;
    if (pf_h5_shape(loc, name, &rank, NULL, &k)) return NULL;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    hid_t ft = d < 0 ? -1 : H5Dget_type(d);
    if (ft < 0 || H5Tget_class(ft) != H5T_STRING || H5Tis_variable_str(ft) <= 0) {
        if (ft >= 0) H5Tclose(ft);
        if (d >= 0) H5Dclose(d);
        pf_err(PF_EFORMAT, "hdf5: dataset '%s' is not an array of variable-length strings", name);
        return NULL;
    }
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5Tget_cset(ft)); /* h5py writes UTF-8; HDF5 does not convert between csets */
    char **raw = calloc(k + 1, sizeof *raw), **out = calloc(k + 1, sizeof *out);
    herr_t e = raw && out ? (k ? H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) : 0) : -1;
    int bad = e < 0;
    for (size_t i = 0; !bad && i < k; i++) bad = !(out[i] = strdup(raw[i] ? raw[i] : ""));
    if (e >= 0 && k) {
        hid_t sp = H5Dget_space(d);
        H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, raw);
        H5Sclose(sp);
    }
    free(raw);
    H5Tclose(mt);
    H5Tclose(ft);
    H5Dclose(d);
    if (bad) {
        pf_h5_free_strs(out, k);
        pf_err(e < 0 ? PF_EIO : PF_ENOMEM, "hdf5: reading strings '%s' failed", name);
        return NULL;
    }
    *n = k;
    return out;
}

void pf_h5_free_strs(char **s, size_t n)
{
    if (!s) return;
    for (size_t i = 0; i < n; i++) free(s[i]);
    free(s);
}
