#include "pf_embfile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_error.h"
#include "pf_h5.h"

pf_embset *pf_embset_create(int dim, int k, const char *const *names, int multi, const char *source)
{
    pf_embset *s = calloc(1, sizeof *s);
    if (!s || dim <= 0 || k <= 0) {
        free(s);
        pf_err(s ? PF_EINVAL : PF_ENOMEM, "embedding set: dim %d, %d classes", dim, k);
        return NULL;
    }
    s->dim = dim;
    s->k = k;
    s->multi = multi;
    snprintf(s->source, sizeof s->source, "%s", source ? source : "");
    s->classes = calloc((size_t)k, sizeof *s->classes);
    for (int i = 0; s->classes && i < k; i++) s->classes[i] = strdup(names[i]);
    if (!s->classes) { pf_embset_destroy(s); pf_err(PF_ENOMEM, "embedding set: out of memory"); return NULL; }
    return s;
}

static int grow(pf_embset *s)
{
    if (s->n < s->cap) return PF_OK;
    size_t nc = s->cap ? s->cap * 2 : 1024;
#define RE(p, cnt) do { void *q_ = realloc(p, sizeof *(p) * (cnt)); if (!q_) return pf_err(PF_ENOMEM, "embedding set: out of memory"); p = q_; } while (0)
    RE(s->x, nc * (size_t)s->dim);
    if (s->multi) RE(s->y, nc * (size_t)s->k);
    else RE(s->label, nc);
    RE(s->record, nc);
    RE(s->sample, nc);
    RE(s->window_index, nc);
#undef RE
    s->cap = nc;
    return PF_OK;
}

int pf_embset_add(pf_embset *s, const float *v, int64_t label, const float *y, const char *record, int64_t sample,
                  int64_t window_index)
{
    if (!s->multi && (label < -1 || label >= s->k))
        return pf_err(PF_ERANGE, "embedding set: label %lld of row %zu outside the %d classes", (long long)label, s->n, s->k);
    int rc = grow(s);
    if (rc) return rc;
    memcpy(s->x + s->n * (size_t)s->dim, v, sizeof(float) * (size_t)s->dim);
    if (s->multi) memcpy(s->y + s->n * (size_t)s->k, y, sizeof(float) * (size_t)s->k);
    else s->label[s->n] = label;
    if (!(s->record[s->n] = strdup(record))) return pf_err(PF_ENOMEM, "embedding set: out of memory");
    s->sample[s->n] = sample;
    s->window_index[s->n] = window_index;
    s->n++;
    return PF_OK;
}

int pf_embset_write(const pf_embset *s, const char *path)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.partial", path);
    pf_h5_quiet();
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return pf_err(PF_EIO, "%s: cannot create HDF5 file", tmp);
    hsize_t d2[2] = {s->n, (hsize_t)s->dim}, dy[2] = {s->n, (hsize_t)s->k}, d1 = s->n;
    int rc = pf_h5_write(f, "embeddings", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d2, s->x);
    if (!rc) rc = s->multi ? pf_h5_write(f, "labels", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dy, s->y)
                           : pf_h5_write(f, "labels", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &d1, s->label);
    if (!rc) rc = pf_h5_write(f, "sample", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &d1, s->sample);
    if (!rc) rc = pf_h5_write(f, "window_index", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &d1, s->window_index);
    if (!rc) rc = pf_h5_write_strs(f, "record", s->record, s->n);
    if (!rc) rc = pf_h5_write_strs(f, "classes", s->classes, (size_t)s->k);
    char *src[1] = {(char *)s->source};
    if (!rc) rc = pf_h5_write_strs(f, "source", src, 1);
    int64_t ver = 1, dim = s->dim;
    if (!rc) rc = pf_h5_attr_str(f, "format", "physioflow.embeddings", 0);
    if (!rc) rc = pf_h5_attr_write(f, "version", H5T_STD_I64LE, H5T_NATIVE_INT64, &ver, 0);
    if (!rc) rc = pf_h5_attr_write(f, "dim", H5T_STD_I64LE, H5T_NATIVE_INT64, &dim, 0);
    if (H5Fclose(f) < 0 && !rc) rc = pf_err(PF_EIO, "%s: closing failed", tmp);
    if (rc) { remove(tmp); return pf_err_context(rc, "writing %s", path); }
    if (rename(tmp, path)) return pf_err(PF_EIO, "cannot rename %s to %s", tmp, path);
    return PF_OK;
}

pf_embset *pf_embset_read(const char *path)
{
    hid_t f = pf_h5_open_read(path);
    if (f < 0) return NULL;
    pf_embset *s = calloc(1, sizeof *s);
    int rc = s ? PF_OK : pf_err(PF_ENOMEM, "out of memory");
    int rank = 0;
    hsize_t d[PF_H5_MAX_RANK];
    size_t n = 0, cnt = 0, k = 0;
    if (!rc) snprintf(s->path, sizeof s->path, "%s", path);
    if (!rc) rc = pf_h5_shape(f, "embeddings", &rank, d, NULL);
    if (!rc && rank != 2) rc = pf_err(PF_EFORMAT, "embeddings has rank %d, expected [N, D]", rank);
    if (!rc) { s->n = s->cap = n = (size_t)d[0]; s->dim = (int)d[1]; }
    if (!rc && !(s->classes = pf_h5_read_strs(f, "classes", &k))) rc = PF_EFORMAT;
    if (!rc) s->k = (int)k;
    if (!rc) rc = pf_h5_shape(f, "labels", &rank, d, NULL);
    if (!rc) {
        s->multi = rank == 2;
        if (d[0] != n || (rank == 2 && d[1] != k) || rank > 2)
            rc = pf_err(PF_EFORMAT, "labels is [%llu%s%llu] but there are %zu embeddings and %zu classes", (unsigned long long)d[0],
                        rank == 2 ? ", " : "", rank == 2 ? (unsigned long long)d[1] : 0ULL, n, k);
    }
    if (!rc && !(s->x = pf_h5_read_alloc(f, "embeddings", H5T_NATIVE_FLOAT, &cnt))) rc = PF_EFORMAT;
    if (!rc && s->multi && !(s->y = pf_h5_read_alloc(f, "labels", H5T_NATIVE_FLOAT, &cnt))) rc = PF_EFORMAT;
    if (!rc && !s->multi && !(s->label = pf_h5_read_alloc(f, "labels", H5T_NATIVE_INT64, &cnt))) rc = PF_EFORMAT;
    const char *ds[2] = {"sample", "window_index"};
    int64_t **dst[2] = {&s->sample, &s->window_index};
    for (int i = 0; i < 2 && !rc; i++) {
        if (!(*dst[i] = pf_h5_read_alloc(f, ds[i], H5T_NATIVE_INT64, &cnt))) rc = PF_EFORMAT;
        else if (cnt != n) rc = pf_err(PF_EFORMAT, "%s has %zu rows, embeddings %zu", ds[i], cnt, n);
    }
    if (!rc && !(s->record = pf_h5_read_strs(f, "record", &cnt))) rc = PF_EFORMAT;
    if (!rc && cnt != n) rc = pf_err(PF_EFORMAT, "record has %zu rows, embeddings %zu", cnt, n);
    size_t ns = 0;
    char **src = rc ? NULL : pf_h5_read_strs(f, "source", &ns);
    if (src && ns) snprintf(s->source, sizeof s->source, "%s", src[0]);
    if (src) pf_h5_free_strs(src, ns);
    for (size_t r = 0; !rc && r < n; r++) {
        for (int j = 0; j < s->dim; j++)
            if (!isfinite(s->x[r * (size_t)s->dim + j])) {
                rc = pf_err(PF_EFORMAT, "row %zu (record %s): embedding value %d is %g", r, s->record[r], j, s->x[r * (size_t)s->dim + j]);
                break;
            }
        if (!rc && !s->multi && (s->label[r] < -1 || s->label[r] >= (int64_t)k))
            rc = pf_err(PF_EFORMAT, "row %zu (record %s): label %lld is not one of the %zu classes", r, s->record[r],
                        (long long)s->label[r], k);
        for (size_t j = 0; !rc && s->multi && j < k; j++) {
            float v = s->y[r * k + j];
            if (v != 0.0f && v != 1.0f) rc = pf_err(PF_EFORMAT, "row %zu (record %s): multi-label target %zu is %g, not 0 or 1", r, s->record[r], j, v);
        }
    }
    H5Fclose(f);
    if (rc) {
        pf_err_context(rc, "embedding file %s", path);
        pf_embset_destroy(s);
        return NULL;
    }
    return s;
}

void pf_embset_destroy(pf_embset *s)
{
    if (!s) return;
    if (s->record) for (size_t i = 0; i < s->n; i++) free(s->record[i]);
    if (s->classes) for (int i = 0; i < s->k; i++) free(s->classes[i]);
    free(s->record);
    free(s->classes);
    free(s->x);
    free(s->label);
    free(s->y);
    free(s->sample);
    free(s->window_index);
    free(s);
}
