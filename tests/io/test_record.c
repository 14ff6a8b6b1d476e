/* Record-level API on the real data: every set opens through pf_record_open, lead
 * selection by name and order, physical values, reference beats in ranges, CPSC 2019
 * MATLAB v5 signals and R-peaks (values from scipy.io.loadmat), and bad MATLAB input. */
#include "../pf_test.h"
#include "pf_mat5.h"
#include "pf_record.h"
#include "pf_wfdb.h"

#include <dirent.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

static pf_record *open_rec(const char *root, const char *rel, const char *annotator)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    pf_record_opts o = {annotator, 0};
    pf_record *r = pf_record_open(p, &o);
    CHECK(r, "%s: %s", rel, pf_errmsg());
    return r;
}

int main(void)
{
    const char *root = data_dir("mitdb");
    /* MIT-BIH 101: leads in reverse order by name, values equal the WFDB reader's */
    pf_record *r = open_rec(root, "mitdb/101", NULL);
    if (r) {
        CHECK(pf_record_nleads(r) == 2 && pf_record_rate(r) == 360 && pf_record_length(r) == 650000 &&
                  !strcmp(pf_record_name(r), "101"),
              "101 basics");
        const char *names[2] = {"V1", "mlii"};
        int idx[2];
        CHECK_OK(pf_record_select(r, names, 2, idx));
        CHECK(idx[0] == 1 && idx[1] == 0, "select order");
        float x[2 * 4];
        CHECK_OK(pf_record_read(r, 0, 4, idx, 2, x));
        CHECK(x[0] == (992 - 1024) / 200.0f && x[4] == (955 - 1024) / 200.0f, "101 physical %g %g", x[0], x[4]);
        const char *no[1] = {"V5"};
        CHECK(pf_record_select(r, no, 1, idx) == PF_ENOTFOUND && strstr(pf_errmsg(), "no lead 'V5' (leads: MLII V1)"),
              "missing lead message: %s", pf_errmsg());
        const pf_ann *b;
        size_t nb;
        CHECK_OK(pf_record_beats(r, 0, pf_record_length(r), &b, &nb));
        CHECK(nb == 1865, "101: %zu beats, expected 1865", nb);
        CHECK_OK(pf_record_beats(r, 0, 396, &b, &nb));
        CHECK(nb == 1 && b[0].time == 83 && b[0].code == PF_ANN_NORMAL, "beats in [0,396): %zu", nb);
        CHECK_OK(pf_record_beats(r, 83, 314, &b, &nb));
        CHECK(nb == 2 && b[1].time == 396, "beats in [83,397): %zu", nb);
        CHECK(pf_record_annotations(r)->n == 1874, "all annotations");
        CHECK(pf_record_read(r, 649999, 2, NULL, 0, x) == PF_ERANGE, "read past end must fail");
        pf_record_close(r);
    }
    /* LUDB: 12 lowercase leads found by standard names; per-lead annotator */
    r = open_rec(root, "ludb/data/1", "ii");
    if (r) {
        const char *std[12] = {"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"};
        int idx[12], ok = 1;
        CHECK_OK(pf_record_select(r, std, 12, idx));
        for (int i = 0; i < 12; i++) ok &= idx[i] == i;
        CHECK(ok, "ludb lead order");
        const pf_ann *b;
        size_t nb;
        CHECK_OK(pf_record_beats(r, 0, 5000, &b, &nb));
        CHECK(nb == 6 && pf_record_annotations(r)->n == 48, "ludb 1.ii beats %zu", nb);
        float x[12];
        CHECK_OK(pf_record_read(r, 0, 1, NULL, 0, x));
        CHECK(fabsf(x[0] - (-120 - 6) / 1716.0f) < 1e-7f, "ludb physical %g", x[0]);
        pf_record_close(r);
    }
    char p[1024];
    snprintf(p, sizeof p, "%s/ludb/data/1", root);
    pf_record_opts o = {"xyz", 0};
    r = pf_record_open(p, &o);
    CHECK(!r && strstr(pf_errmsg(), "1.xyz") && strstr(pf_errmsg(), "annotator 'xyz' not found"), "missing annotator: %s",
          pf_errmsg());
    /* challenge record opened by its .mat */
    r = open_rec(root, "cinc2021/HR06003.mat", NULL);
    if (r) {
        CHECK(!strcmp(pf_record_name(r), "HR06003") && pf_record_nleads(r) == 12 && pf_record_find_lead(r, "avf") == 5,
              "cinc basics");
        float x[1];
        int v6 = pf_record_find_lead(r, "V6");
        CHECK_OK(pf_record_read(r, 4999, 1, &v6, 1, x));
        CHECK(x[0] == 0.135f, "HR06003 V6[4999] = %g mV, expected 0.135", x[0]);
        pf_record_close(r);
    }
    /* CPSC 2021 */
    r = open_rec(root, "cpsc2021/data_101_6.hea", NULL);
    if (r) {
        const pf_ann *b;
        size_t nb;
        CHECK_OK(pf_record_beats(r, 0, pf_record_length(r), &b, &nb));
        CHECK(nb == 196 && pf_record_rate(r) == 200, "cpsc2021 beats %zu", nb);
        pf_record_close(r);
    }
    /* CPSC 2019: MATLAB v5 (compressed) through libmatio */
    r = open_rec(root, "cpsc2019/data/data_00014.mat", NULL);
    if (r) {
        CHECK(pf_record_length(r) == 5000 && pf_record_rate(r) == 500 && pf_record_nleads(r) == 1, "cpsc2019 basics");
        float x[5000];
        CHECK_OK(pf_record_read(r, 0, 5000, NULL, 0, x));
        CHECK(x[0] == 0.0572086f && x[1] == 0.0552086f && x[2500] == -0.0517914f && x[4999] == -0.0157914f,
              "cpsc2019 values %.7g %.7g %.7g %.7g", x[0], x[1], x[2500], x[4999]);
        const pf_ann *b;
        size_t nb;
        CHECK_OK(pf_record_beats(r, 0, 5000, &b, &nb));
        CHECK(nb == 13 && b[0].time == 282 && b[1].time == 656 && b[12].time == 4810, "cpsc2019 R peaks %zu", nb);
        pf_record_close(r);
    }
    /* every CPSC 2019 file: 389 reference R peaks in all (scipy.io count) */
    snprintf(p, sizeof p, "%s/cpsc2019/data", root);
    DIR *d = opendir(p);
    size_t peaks = 0;
    int files = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, "data_", 5)) continue;
        char rel[512];
        snprintf(rel, sizeof rel, "cpsc2019/data/%s", e->d_name);
        r = open_rec(root, rel, NULL);
        if (!r) continue;
        const pf_ann *b;
        size_t nb;
        pf_record_beats(r, 0, pf_record_length(r), &b, &nb);
        peaks += nb;
        files++;
        pf_record_close(r);
    }
    if (d) closedir(d);
    CHECK(files == 25 && peaks == 389, "cpsc2019: %d files, %zu R peaks", files, peaks);
    /* every record of every WFDB set opens through the record API */
    static const char *const sets[] = {"mitdb", "ludb/data", "cinc2021", "cpsc2021"};
    int total = 0;
    for (int s = 0; s < 4; s++) {
        snprintf(p, sizeof p, "%s/%s", root, sets[s]);
        d = opendir(p);
        while (d && (e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l < 5 || strcmp(e->d_name + l - 4, ".hea")) continue;
            char rel[512];
            snprintf(rel, sizeof rel, "%s/%s", sets[s], e->d_name);
            r = open_rec(root, rel, NULL);
            total += r != NULL;
            pf_record_close(r);
        }
        if (d) closedir(d);
    }
    CHECK(total == 165, "%d WFDB records opened, expected 165", total);

    /* bad MATLAB v5 input */
    double *v;
    size_t n;
    snprintf(p, sizeof p, "%s/cpsc2019/data/data_00014.mat", root);
    CHECK(pf_mat5_read_vector(p, "nosuch", &v, &n) == PF_ENOTFOUND && strstr(pf_errmsg(), "variable 'nosuch' not found"),
          "missing variable: %s", pf_errmsg());
    char tmp[256];
    snprintf(tmp, sizeof tmp, "/tmp/pf_mat5_bad_%ld.mat", (long)getpid());
    FILE *src = fopen(p, "rb"), *dst = fopen(tmp, "wb");
    char buf[4096];
    size_t got = src ? fread(buf, 1, 300, src) : 0; /* header + part of the compressed variable */
    if (dst) fwrite(buf, 1, got, dst);
    if (src) fclose(src);
    if (dst) fclose(dst);
    int rc = pf_mat5_read_vector(tmp, "ecg", &v, &n);
    CHECK(rc != PF_OK && strstr(pf_errmsg(), tmp), "truncated .mat: rc %d %s", rc, pf_errmsg());
    dst = fopen(tmp, "wb");
    fputs("this is not a MATLAB file at all, just text that is long enough to fill a header......................"
          "......................................................................................................",
          dst);
    fclose(dst);
    rc = pf_mat5_read_vector(tmp, NULL, &v, &n);
    CHECK(rc != PF_OK && strstr(pf_errmsg(), tmp), "text as .mat: rc %d %s", rc, pf_errmsg());
    /* truncated at 60 lengths and with random bytes overwritten: libmatio must fail cleanly
     * (a truncated compressed variable used to come back zero-filled) or read real data */
    src = fopen(p, "rb");
    static unsigned char whole[1 << 16];
    size_t len = src ? fread(whole, 1, sizeof whole, src) : 0;
    if (src) fclose(src);
    int wrong = 0, crashes_would_abort_here = 0;
    uint32_t x = 7;
    for (int k = 0; k < 120 && len; k++) {
        size_t cut = k < 60 ? len * (size_t)k / 60 : len;
        static unsigned char b[1 << 16];
        memcpy(b, whole, len);
        if (k >= 60)
            for (int j = 0; j < 3; j++) {
                x = x * 1103515245u + 12345u;
                b[x % len] = (unsigned char)(x >> 16);
            }
        dst = fopen(tmp, "wb");
        fwrite(b, 1, cut, dst);
        fclose(dst);
        rc = pf_mat5_read_vector(tmp, "ecg", &v, &n);
        if (rc == PF_OK) {
            /* accepted: must be the real signal (a flip in the text header or padding) */
            double *ref;
            size_t rn;
            CHECK_OK(pf_mat5_read_vector(p, "ecg", &ref, &rn));
            if (rn != n || memcmp(ref, v, n * sizeof *v)) {
                wrong++;
                fprintf(stderr, "case %d (cut %zu of %zu): accepted with different values\n", k, cut, len);
            }
            free(ref);
            free(v);
        } else {
            wrong += !strstr(pf_errmsg(), tmp);
        }
        crashes_would_abort_here++;
    }
    CHECK(wrong == 0 && crashes_would_abort_here == 120, "damaged CPSC 2019 files: %d wrong results", wrong);
    unlink(tmp);

    /* the R-peak file is found from the data file's own name, whatever the folders are called */
    char base[256], cmd[1400];
    snprintf(base, sizeof base, "/tmp/pf_rec_%ld/my_data_set", (long)getpid());
    snprintf(cmd, sizeof cmd, "mkdir -p %s/data %s/ref && cp %s %s/data/ && cp %s/cpsc2019/ref/R_00014.mat %s/ref/", base,
             base, p, base, root, base);
    CHECK(system(cmd) == 0, "copy to %s", base);
    snprintf(tmp, sizeof tmp, "%s/data/data_00014.mat", base);
    r = pf_record_open(tmp, NULL);
    CHECK(r && pf_record_annotations(r)->n == 13, "R peaks beside a folder named *data_*: %s", r ? "" : pf_errmsg());
    pf_record_close(r);
    snprintf(cmd, sizeof cmd, "rm -rf /tmp/pf_rec_%ld", (long)getpid());
    CHECK(system(cmd) == 0, "cleanup");
    return pf_test_done();
}
