/* The sink's reader API (pf_h5win_read) on files written by the sink's own
 * writer (pf_h5win): per-replica naming, record ids and indices, ragged
 * R-peaks, features, samples, and the errors for an incomplete or foreign file. */
#include "../pf_test.h"
#include "pf_error.h"
#include "pf_h5win.h"
#include "pf_h5win_read.h"
#include "pf_wire.h"

#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { C = 2, T = 50, NW = 5, DIM = 3 };

static void test_naming(void)
{
    char b[64];
    CHECK(pf_h5win_read_path("out/w.h5", 0, 1, b, sizeof b) == 0 && !strcmp(b, "out/w.h5"), "%s", b);
    CHECK(pf_h5win_read_path("out/w.h5", 1, 3, b, sizeof b) == 0 && !strcmp(b, "out/w.r1.h5"), "%s", b);
    CHECK(pf_h5win_read_path("out.d/w", 2, 3, b, sizeof b) == 0 && !strcmp(b, "out.d/w.r2"), "dot in a folder name: %s", b);
    CHECK(pf_h5win_read_path("w", 0, 2, b, sizeof b) == 0 && !strcmp(b, "w.r0"), "%s", b);
    CHECK(pf_h5win_read_path("a-very-long-name-that-does-not-fit.h5", 0, 2, b, 16) == PF_ERANGE, "too long not reported");
    int n = 0;
    char **f = pf_h5win_read_files("x.h5", 3, &n);
    CHECK(f && n == 3 && !strcmp(f[0], "x.r0.h5") && !strcmp(f[2], "x.r2.h5"), "files of 3 replicas");
    pf_h5win_read_free_files(f, n);
}

/* Window w of record "rec-(w % 2)": R-peaks at start + 10 * k for k < w. */
static int write_file(const char *path, int complete)
{
    pf_h5win *w = pf_h5win_create(path, NULL);
    if (!w) return -1;
    for (int i = 0; i < NW; i++) {
        char id[16];
        snprintf(id, sizeof id, "rec-%d", i % 2);
        pf_msg *m = pf_msg_window_create(id, (uint64_t)(i / 2), (int64_t)(i / 2) * T, 250, C, T);
        float *x = pf_msg_samples(m);
        for (int k = 0; k < C * T; k++) x[k] = (float)(i * 1000 + k);
        int64_t pk[NW];
        for (int k = 0; k < i; k++) pk[k] = m->start_sample + 10 * k;
        uint32_t np = (uint32_t)i, df = DIM;
        float feat[DIM] = {(float)i, (float)(2 * i), -1};
        pf_msg_add(m, PF_SEC_RPEAKS, PF_DT_I64, 1, &np, pk);
        pf_msg_add(m, PF_SEC_FEATURES, PF_DT_F32, 1, &df, feat);
        int rc = pf_h5win_append(w, m);
        pf_msg_destroy(m);
        if (rc) return rc;
    }
    return pf_h5win_close(w, complete);
}

static void test_read(const char *path)
{
    CHECK(write_file(path, 1) == 0, "write: %s", pf_errmsg());
    pf_h5win_read *r = pf_h5win_read_open(path, 0);
    CHECK(r != NULL, "open: %s", pf_errmsg());
    if (!r) return;
    CHECK(pf_h5win_read_complete(r) == 1, "complete attribute");
    CHECK(pf_h5win_read_count(r) == NW, "count %lld", (long long)pf_h5win_read_count(r));
    size_t nid = 0;
    const char *const *ids = pf_h5win_read_record_ids(r, &nid);
    const int32_t *rec = pf_h5win_read_record(r);
    const uint64_t *wi = pf_h5win_read_window_index(r);
    const int64_t *ss = pf_h5win_read_start_sample(r);
    CHECK(ids && nid == 2 && !strcmp(ids[0], "rec-0") && !strcmp(ids[1], "rec-1"), "record ids (%zu)", nid);
    for (int i = 0; rec && wi && ss && ids && i < NW; i++) {
        CHECK(!strcmp(ids[rec[i]], i % 2 ? "rec-1" : "rec-0"), "window %d record %s", i, ids[rec[i]]);
        CHECK(wi[i] == (uint64_t)(i / 2) && ss[i] == (int64_t)(i / 2) * T, "window %d index %llu start %lld", i,
              (unsigned long long)wi[i], (long long)ss[i]);
    }
    const int64_t *pk = NULL, *off = NULL;
    CHECK(pf_h5win_read_rpeaks(r, &pk, &off) == 0, "rpeaks: %s", pf_errmsg());
    for (int i = 0; pk && ss && i < NW; i++) {
        CHECK(off[i + 1] - off[i] == i, "window %d has %lld R-peaks", i, (long long)(off[i + 1] - off[i]));
        for (int k = 0; k < i; k++) CHECK(pk[off[i] + k] == ss[i] + 10 * k, "window %d peak %d", i, k);
    }
    const float *f = NULL;
    size_t nf = 0;
    int dim = 0;
    CHECK(pf_h5win_read_features(r, &f, &nf, &dim) == 0 && nf == NW && dim == DIM, "features %zu x %d: %s", nf, dim, pf_errmsg());
    for (int i = 0; f && i < NW; i++) CHECK(f[i * DIM] == i && f[i * DIM + 1] == 2 * i && f[i * DIM + 2] == -1, "feature row %d", i);
    int leads = 0, samples = 0;
    float x[C * T];
    CHECK(pf_h5win_read_shape(r, &leads, &samples) == 0 && leads == C && samples == T, "shape %d x %d", leads, samples);
    CHECK(pf_h5win_read_window(r, 3, x) == 0 && x[0] == 3000 && x[C * T - 1] == 3000 + C * T - 1, "window 3 samples");
    CHECK(pf_h5win_read_window(r, NW, x) == PF_ERANGE && strstr(pf_errmsg(), "out of range"), "window past the end: %s", pf_errmsg());
    pf_h5win_read_close(&r);
    CHECK(r == NULL, "close sets the pointer to NULL");
    unlink(path);
}

static void test_errors(const char *path)
{
    /* an incomplete file is refused unless asked for */
    CHECK(write_file(path, 0) == 0, "write partial: %s", pf_errmsg());
    pf_h5win_read *r = pf_h5win_read_open(path, 0);
    CHECK(!r && strstr(pf_errmsg(), ".partial") && strstr(pf_errmsg(), "not written completely"), "partial refused: %s", pf_errmsg());
    r = pf_h5win_read_open(path, PF_H5WIN_READ_PARTIAL);
    CHECK(r && pf_h5win_read_complete(r) == 0 && pf_h5win_read_count(r) == NW, "partial opened on request: %s", pf_errmsg());
    pf_h5win_read_close(&r);
    char partial[256];
    snprintf(partial, sizeof partial, "%s.partial", path);
    unlink(partial);
    r = pf_h5win_read_open(path, 0);
    CHECK(!r && strstr(pf_errmsg(), path) && strstr(pf_errmsg(), "cannot open"), "missing file named: %s", pf_errmsg());
    /* a foreign HDF5 file: each accessor names the file and what is missing */
    hid_t h = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t d = 2;
    int64_t v[2] = {0, 5};
    hid_t sp = H5Screate_simple(1, &d, NULL), ds = H5Dcreate2(h, "window_index", H5T_NATIVE_INT64, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(h);
    r = pf_h5win_read_open(path, 0);
    CHECK(r && pf_h5win_read_count(r) == 2, "foreign file opens: %s", pf_errmsg());
    CHECK(pf_h5win_read_features(r, NULL, NULL, NULL) == PF_ENOTFOUND && strstr(pf_errmsg(), "no /features dataset"), "%s", pf_errmsg());
    CHECK(pf_h5win_read_rpeaks(r, NULL, NULL) < 0 && strstr(pf_errmsg(), path) && strstr(pf_errmsg(), "rpeaks_offset"), "%s", pf_errmsg());
    CHECK(pf_h5win_read_record(r) == NULL && strstr(pf_errmsg(), "'record'"), "%s", pf_errmsg());
    pf_h5win_read_close(&r);
    unlink(path);
}

int main(void)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/pf-test-h5win-read-%d.h5", (int)getpid());
    test_naming();
    test_read(path);
    test_errors(path);
    return pf_test_done();
}
