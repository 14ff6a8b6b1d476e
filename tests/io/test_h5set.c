/* PhysioWave HDF5 sets written by h5py (make_h5.py) and read back: values, class and
 * multi-label labels, attributes, streaming a chunked compressed file in slices, and
 * wrong shapes / types / NaN / Inf giving clear errors. */
#include "pf_h5set.h"
#include "../pf_test.h"
#include "pf_record.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static pf_h5set *open_f(const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return pf_h5set_open(p);
}

static int data_ok(const float *x, size_t first, size_t count, size_t C, size_t T)
{
    int bad = 0;
    for (size_t n = 0; n < count; n++)
        for (size_t c = 0; c < C; c++)
            for (size_t t = 0; t < T; t++)
                bad += x[(n * C + c) * T + t] != (float)((first + n) * 1000 + c * 100 + t * 0.5);
    return bad == 0;
}

static void bad_file(const char *name, int code, const char *n1, const char *n2)
{
    pf_h5set *s = open_f(name);
    int rc = PF_OK;
    if (s) {
        float *x = malloc(sizeof(float) * pf_h5set_count(s) * pf_h5set_channels(s) * pf_h5set_length(s));
        rc = pf_h5set_read(s, 0, pf_h5set_count(s), x);
        free(x);
        pf_h5set_close(s);
    } else {
        rc = PF_EFORMAT;
        if (!strstr(pf_errmsg(), "not an HDF5")) rc = code;
    }
    const char *m = pf_errmsg();
    CHECK(rc == code && strstr(m, name) && strstr(m, n1) && (!n2 || strstr(m, n2)), "%s: rc %d '%s' (want %d '%s')",
          name, rc, m, code, n1);
}

int main(void)
{
    const char *py = getenv("PF_PYTHON");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s -c 'import h5py' 2>/dev/null", py ? py : "/usr/bin/python3");
    if (!py || system(cmd) != 0) {
        printf("SKIP: PF_PYTHON with h5py not available (PF_PYTHON=%s)\n", py ? py : "(unset)");
        return 77;
    }
    snprintf(dir, sizeof dir, "/tmp/pf_h5set_%ld", (long)getpid());
    CHECK(mkdir(dir, 0700) == 0, "mkdir");
    const char *src = getenv("PF_SOURCE_DIR");
    snprintf(cmd, sizeof cmd, "%s %s/tests/io/make_h5.py %s", py, src ? src : ".", dir);
    FILE *p = popen(cmd, "r");
    double pysum = 0;
    CHECK(p && fscanf(p, "%lf", &pysum) == 1, "make_h5.py output");
    CHECK(p && pclose(p) == 0, "make_h5.py failed");

    pf_h5set *s = open_f("single.h5");
    CHECK(s, "single: %s", pf_errmsg());
    if (s) {
        CHECK(pf_h5set_count(s) == 7 && pf_h5set_channels(s) == 3 && pf_h5set_length(s) == 50, "shape");
        CHECK(pf_h5set_label_width(s) == 1 && pf_h5set_label_is_class(s) && pf_h5set_rate(s) == 250, "labels/fs");
        CHECK(pf_h5set_lead_name(s, 2) && !strcmp(pf_h5set_lead_name(s, 2), "V1"), "leads attribute");
        float x[7 * 3 * 50];
        CHECK_OK(pf_h5set_read(s, 0, 7, x));
        CHECK(data_ok(x, 0, 7, 3, 50), "single values");
        CHECK_OK(pf_h5set_read(s, 4, 2, x));
        CHECK(data_ok(x, 4, 2, 3, 50), "single slice values");
        int64_t cls[7];
        CHECK_OK(pf_h5set_read_class(s, 0, 7, cls));
        CHECK(cls[0] == -4 && cls[6] == 14, "classes %lld %lld", (long long)cls[0], (long long)cls[6]);
        CHECK(pf_h5set_read(s, 6, 2, x) == PF_ERANGE, "read past N must fail");
        /* one item as a record: lead selection by name, sample range */
        pf_record *r = pf_record_open_h5(s, 3, NULL);
        CHECK(r, "record: %s", pf_errmsg());
        if (r) {
            const char *want[2] = {"v1", "I"};
            int idx[2];
            CHECK_OK(pf_record_select(r, want, 2, idx));
            float y[2 * 10];
            CHECK_OK(pf_record_read(r, 5, 10, idx, 2, y));
            CHECK(y[0] == 3000 + 200 + 2.5f && y[10] == 3000 + 2.5f && y[19] == 3000 + 7, "record read %g %g", y[0], y[10]);
            CHECK(pf_record_rate(r) == 250 && pf_record_length(r) == 50, "record rate/length");
            pf_record_close(r);
        }
        pf_h5set_close(s);
    }
    const char *mv[] = {"multi_f32.h5", "multi_i8.h5"};
    for (int v = 0; v < 2; v++) {
        s = open_f(mv[v]);
        CHECK(s, "%s: %s", mv[v], pf_errmsg());
        if (!s) continue;
        CHECK(!strcmp(pf_h5set_data_name(s), "input") && pf_h5set_label_width(s) == 4 && !pf_h5set_label_is_class(s),
              "%s: multi-label layout", mv[v]);
        float lab[5 * 4], x[5 * 2 * 40];
        CHECK_OK(pf_h5set_read_labels(s, 0, 5, lab));
        CHECK(lab[0] == 1 && lab[1] == 0 && lab[2] == 1 && lab[11] == 1 && lab[12] == 1 && lab[19] == 0, "%s labels", mv[v]);
        CHECK_OK(pf_h5set_read_labels(s, 3, 1, lab));
        CHECK(lab[0] == 1 && lab[3] == 1, "%s label slice", mv[v]);
        CHECK_OK(pf_h5set_read(s, 0, 5, x));
        CHECK(data_ok(x, 0, 5, 2, 40), "%s values", mv[v]);
        int64_t c;
        CHECK(pf_h5set_read_class(s, 0, 1, &c) == PF_ESTATE, "multi-label has no class vector");
        pf_h5set_close(s);
    }
    /* stream the chunked file 16 items at a time; sum matches h5py's */
    s = open_f("big.h5");
    CHECK(s, "big: %s", pf_errmsg());
    if (s) {
        size_t per = pf_h5set_channels(s) * pf_h5set_length(s), N = pf_h5set_count(s);
        float *x = malloc(sizeof(float) * 16 * per);
        double sum = 0;
        int ok = 1;
        for (size_t i = 0; i < N; i += 16) {
            size_t c = N - i < 16 ? N - i : 16;
            CHECK_OK(pf_h5set_read(s, i, c, x));
            ok &= data_ok(x, i, c, 12, 500);
            for (size_t j = 0; j < c * per; j++) sum += x[j];
        }
        CHECK(ok && fabs(sum - pysum) < 1e-6 * pysum, "streamed sum %.1f vs h5py %.1f", sum, pysum);
        free(x);
        pf_h5set_close(s);
    }
    bad_file("rank2.h5", PF_EFORMAT, "dataset 'data' has rank 2: expected shape (N, C, T)", NULL);
    bad_file("int16.h5", PF_EFORMAT, "'data' has integer elements (2 bytes): expected float32", NULL);
    bad_file("nolabelmatch.h5", PF_EFORMAT, "'label' has rank 1, first dimension 3: expected (4,)", NULL);
    bad_file("strlabel.h5", PF_EFORMAT, "'label' has string elements", NULL);
    bad_file("nodata.h5", PF_EFORMAT, "no dataset 'data' or 'input'", NULL);
    bad_file("nan.h5", PF_ERANGE, "data[2, 1, 7] = nan: expected finite", NULL);
    bad_file("inf.h5", PF_ERANGE, "data[1, 0, 3] = -inf: expected finite", NULL);
    bad_file("text.h5", PF_EFORMAT, "not an HDF5 file", NULL);
    bad_file("missing.h5", PF_ENOTFOUND, "cannot open", NULL);

    /* big.h5 cut at several lengths: opening or reading fails with the file named; no crash */
    char big[512], cut[512];
    snprintf(big, sizeof big, "%s/big.h5", dir);
    FILE *f = fopen(big, "rb");
    static unsigned char whole[1 << 24];
    size_t len = f ? fread(whole, 1, sizeof whole, f) : 0;
    if (f) fclose(f);
    int wrong = 0;
    for (int k = 1; k < 10 && len; k++) {
        snprintf(cut, sizeof cut, "%s/cut%d.h5", dir, k);
        f = fopen(cut, "wb");
        fwrite(whole, 1, len * (size_t)k / 10, f);
        fclose(f);
        pf_h5set *t = pf_h5set_open(cut);
        int rc = PF_EFORMAT;
        if (t) {
            float *x = malloc(sizeof(float) * 12 * 500 * 16);
            for (size_t i = 0; i < pf_h5set_count(t); i += 16) {
                rc = pf_h5set_read(t, i, pf_h5set_count(t) - i < 16 ? pf_h5set_count(t) - i : 16, x);
                if (rc) break;
            }
            free(x);
            pf_h5set_close(t);
        }
        wrong += rc == PF_OK || !strstr(pf_errmsg(), cut);
    }
    CHECK(wrong == 0, "truncated HDF5 files: %d read without a clear error", wrong);

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return pf_test_done();
}
