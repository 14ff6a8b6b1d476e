#include "pf_featstats.h"

#include "pf_error.h"
#include "pf_h5.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (OpenBLAS ships it): symmetric eigen-decomposition */
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                   double *work, const int *lwork, int *info);

void pf_featstats_destroy(pf_featstats *s)
{
    if (!s) return;
    free(s->mean); free(s->std); free(s->components); free(s->variance);
    free(s);
}

static pf_featstats *alloc_stats(int dim, int k)
{
    pf_featstats *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->dim = dim;
    s->k = k;
    s->mean = calloc((size_t)dim, sizeof(double));
    s->std = calloc((size_t)dim, sizeof(double));
    s->components = calloc((size_t)(k ? k : 1) * (size_t)dim, sizeof(double));
    s->variance = calloc((size_t)(k ? k : 1), sizeof(double));
    if (!s->mean || !s->std || !s->components || !s->variance) { pf_featstats_destroy(s); return NULL; }
    return s;
}

pf_featstats *pf_featstats_fit(const float *x, uint64_t n, int dim, int k)
{
    if (n < 2 || dim < 1 || k < 0 || k > dim) {
        pf_err(PF_ERANGE, "feature fit: %llu vectors of %d values, %d components: need n >= 2 and 0 <= k <= dim", (unsigned long long)n, dim, k);
        return NULL;
    }
    pf_featstats *s = alloc_stats(dim, k);
    double *cov = calloc((size_t)dim * dim, sizeof(double)), *z = malloc(sizeof(double) * (size_t)dim);
    if (!s || !cov || !z) { pf_featstats_destroy(s); free(cov); free(z); pf_err(PF_ENOMEM, "feature fit: out of memory"); return NULL; }
    s->n = n;
    /* two passes in double: mean, then variance and covariance of standardised values */
    for (uint64_t i = 0; i < n; i++)
        for (int d = 0; d < dim; d++) s->mean[d] += x[i * dim + d];
    for (int d = 0; d < dim; d++) s->mean[d] /= (double)n;
    for (uint64_t i = 0; i < n; i++)
        for (int d = 0; d < dim; d++) { double v = x[i * dim + d] - s->mean[d]; s->std[d] += v * v; }
    for (int d = 0; d < dim; d++) {
        s->std[d] = sqrt(s->std[d] / (double)n);
        if (!(s->std[d] > 1e-12)) s->std[d] = 1; /* a constant dimension standardises to 0 */
    }
    if (k > 0) {
        for (uint64_t i = 0; i < n; i++) {
            for (int d = 0; d < dim; d++) z[d] = (x[i * dim + d] - s->mean[d]) / s->std[d];
            for (int a = 0; a < dim; a++)
                for (int b = a; b < dim; b++) cov[a * dim + b] += z[a] * z[b];
        }
        for (int a = 0; a < dim; a++)
            for (int b = a; b < dim; b++) cov[b * dim + a] = cov[a * dim + b] /= (double)(n - 1);
        double *w = malloc(sizeof(double) * (size_t)dim), q;
        int lwork = -1, info = 0;
        dsyev_("V", "U", &dim, cov, &dim, w, &q, &lwork, &info);
        lwork = (int)q;
        double *work = malloc(sizeof(double) * (size_t)lwork);
        dsyev_("V", "U", &dim, cov, &dim, w, work, &lwork, &info);
        free(work);
        if (info) {
            free(w); free(cov); free(z); pf_featstats_destroy(s);
            pf_err(PF_EINVAL, "feature fit: eigen-decomposition failed (LAPACK info %d)", info);
            return NULL;
        }
        /* eigenvalues ascending; eigenvector j is column j (column-major) */
        for (int c = 0; c < k; c++) {
            int j = dim - 1 - c;
            s->variance[c] = w[j];
            /* fix the sign so the largest entry is positive: a deterministic basis */
            int big = 0;
            for (int d = 0; d < dim; d++) if (fabs(cov[j * dim + d]) > fabs(cov[j * dim + big])) big = d;
            double sg = cov[j * dim + big] < 0 ? -1 : 1;
            for (int d = 0; d < dim; d++) s->components[c * dim + d] = sg * cov[j * dim + d];
        }
        free(w);
    }
    free(cov);
    free(z);
    return s;
}

void pf_featstats_apply(const pf_featstats *s, const float *in, float *out)
{
    if (!s->k) {
        for (int d = 0; d < s->dim; d++) out[d] = (float)((in[d] - s->mean[d]) / s->std[d]);
        return;
    }
    for (int c = 0; c < s->k; c++) {
        double acc = 0;
        for (int d = 0; d < s->dim; d++) acc += s->components[c * s->dim + d] * (in[d] - s->mean[d]) / s->std[d];
        out[c] = (float)acc;
    }
}

static int write_ds(hid_t f, const char *name, int rank, const hsize_t *dims, const double *v)
{
    return pf_h5_write(f, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, rank, dims, v) ? -1 : 0;
}

int pf_featstats_save(const pf_featstats *s, const char *path, const char *provenance)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.partial", path);
    pf_h5_quiet();
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return pf_err(PF_EIO, "%s: cannot create HDF5 file", tmp);
    hsize_t d1 = (hsize_t)s->dim, d2[2] = {(hsize_t)s->k, (hsize_t)s->dim}, dk = (hsize_t)s->k;
    int bad = write_ds(f, "mean", 1, &d1, s->mean) | write_ds(f, "std", 1, &d1, s->std);
    if (s->k) bad |= write_ds(f, "pca_components", 2, d2, s->components) | write_ds(f, "pca_variance", 1, &dk, s->variance);
    bad |= pf_h5_attr_write(f, "n_vectors", H5T_NATIVE_UINT64, H5T_NATIVE_UINT64, &s->n, 0) != 0;
    const char *fmt = "physioflow.featstats";
    const char *strs[2][2] = {{"format", fmt}, {"provenance", provenance ? provenance : ""}};
    for (int i = 0; i < 2; i++) /* NUL-terminated, as format 1 has always been written */
        bad |= pf_h5_attr_str(f, strs[i][0], strs[i][1], strlen(strs[i][1]) + 1) != 0;
    if (H5Fclose(f) < 0) bad = 1;
    if (bad) return pf_err(PF_EIO, "%s: writing feature statistics failed", tmp);
    if (rename(tmp, path)) return pf_err(PF_EIO, "cannot rename %s to %s", tmp, path);
    return PF_OK;
}

static int read_ds(hid_t f, const char *name, double *v, hsize_t want)
{
    return pf_h5_read(f, name, H5T_NATIVE_DOUBLE, v, (size_t)want) ? -1 : 0;
}

pf_featstats *pf_featstats_load(const char *path)
{
    hid_t f = pf_h5_open_read(path);
    if (f < 0) return NULL;
    size_t nmean = 0, nvar = 0;
    pf_h5_shape(f, "mean", NULL, NULL, &nmean);
    if (H5Lexists(f, "pca_variance", H5P_DEFAULT) > 0) pf_h5_shape(f, "pca_variance", NULL, NULL, &nvar);
    int dim = (int)nmean, k = (int)nvar;
    pf_featstats *s = dim > 0 ? alloc_stats(dim, k) : NULL;
    int bad = !s || read_ds(f, "mean", s->mean, (hsize_t)dim) || read_ds(f, "std", s->std, (hsize_t)dim);
    if (!bad && k) bad = read_ds(f, "pca_components", s->components, (hsize_t)k * dim) || read_ds(f, "pca_variance", s->variance, (hsize_t)k);
    if (!bad && H5Aexists(f, "n_vectors") > 0) pf_h5_attr_read(f, "n_vectors", H5T_NATIVE_UINT64, &s->n, 0);
    H5Fclose(f);
    if (bad) {
        pf_featstats_destroy(s);
        pf_err(PF_EFORMAT, "%s: not a feature-statistics file (need datasets mean, std [dim] and optionally pca_components [k, dim], pca_variance [k])", path);
        return NULL;
    }
    return s;
}
