/* WFDB signals of the real shared data sets: known sample values (decoded independently
 * by tests/io/wfdb_ref.py and scipy.io), physical units, checksums and initial values of
 * every record, header comments, and reads at unaligned offsets equal whole-record reads. */
#include "../pf_test.h"
#include "pf_wfdb.h"

#include <dirent.h>
#include <math.h>
#include <string.h>

typedef struct {
    const char *rec;      /* relative to PF_SHARED_DATA */
    int64_t nsamp;
    int lead_a, lead_b;   /* signal indices checked */
    const char *name_a, *name_b;
    int a[7], b[7];       /* raw values at idx[] */
} known_t;

/* indices: 0 1 2 3 4 nsamp/3 nsamp-1 */
static const known_t known[] = {
    {"mitdb/101", 650000, 0, 1, "MLII", "V1", {955, 955, 955, 955, 955, 951, 1024}, {992, 992, 992, 992, 992, 1011, 1024}},
    {"mitdb/207", 650000, 0, 1, "MLII", "V1", {981, 981, 981, 981, 981, 970, 768}, {1043, 1043, 1043, 1043, 1043, 1045, 1024}},
    {"ludb/data/1", 5000, 0, 11, "i", "v6", {-120, -43, 35, 102, 208, -42, -66}, {-25, 67, 152, 270, 357, -27, -65}},
    {"ludb/data/100", 5000, 0, 11, "i", "v6", {180, 180, 180, 180, 180, -159, 1}, {-120, -119, -119, -119, -119, 185, -12}},
    {"cinc2021/E07500", 5000, 0, 11, "I", "V6", {-68, -68, -68, -68, -53, -29, -131}, {-156, -156, -156, -156, -151, -14, 39}},
    {"cinc2021/HR06003", 5000, 0, 11, "I", "V6", {-90, -90, -89, -92, -87, -30, 95}, {570, 570, 571, 567, 576, -35, 135}},
    {"cinc2021/JS20011", 5000, 0, 11, "I", "V6", {-5, -5, -5, -5, -5, -10, 15}, {-68, -68, -68, -68, -68, 283, 20}},
    {"cpsc2021/data_101_6", 22355, 0, 1, "I", "II", {-10581, -10732, -11273, -11874, -11633, -9770, -11633},
     {-1992, -2129, -2761, -3173, -3173, 535, -4272}},
    {"cpsc2021/data_35_10", 34160, 0, 1, "I", "II", {21425, 23749, 22877, 23764, 22831, -5472, 3972},
     {8848, 11553, 11087, 9999, 8914, -2758, 9743}},
};

static void check_known(const char *root, const known_t *k)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, k->rec);
    pf_wfdb_record *r = pf_wfdb_open(path);
    CHECK(r, "%s: %s", k->rec, pf_errmsg());
    if (!r) return;
    const pf_wfdb_header *h = pf_wfdb_header_of(r);
    CHECK(pf_wfdb_length(r) == k->nsamp, "%s length %lld", k->rec, (long long)pf_wfdb_length(r));
    CHECK(!strcmp(h->sig[k->lead_a].desc, k->name_a) && !strcmp(h->sig[k->lead_b].desc, k->name_b), "%s leads %s %s",
          k->rec, h->sig[k->lead_a].desc, h->sig[k->lead_b].desc);
    int64_t idx[7] = {0, 1, 2, 3, 4, k->nsamp / 3, k->nsamp - 1};
    int32_t *raw = malloc(sizeof(int32_t) * (size_t)h->nsig);
    float *phys = malloc(sizeof(float) * 2);
    int sel[2] = {k->lead_a, k->lead_b};
    for (int i = 0; i < 7; i++) {
        CHECK_OK(pf_wfdb_read_raw(r, idx[i], 1, raw));
        CHECK(raw[k->lead_a] == k->a[i], "%s %s[%lld] = %d, expected %d", k->rec, k->name_a, (long long)idx[i],
              raw[k->lead_a], k->a[i]);
        CHECK(raw[k->lead_b] == k->b[i], "%s %s[%lld] = %d, expected %d", k->rec, k->name_b, (long long)idx[i],
              raw[k->lead_b], k->b[i]);
        CHECK_OK(pf_wfdb_read(r, idx[i], 1, sel, 2, phys));
        const pf_wfdb_signal *sa = &h->sig[k->lead_a];
        double want = (k->a[i] - sa->baseline) / sa->gain;
        CHECK(fabs(phys[0] - want) <= 1e-6 * fmax(1, fabs(want)), "%s physical %g vs %g", k->rec, phys[0], want);
    }
    free(raw);
    free(phys);
    pf_wfdb_close(r);
}

/* Reading a record in odd-sized pieces at odd offsets gives the same samples as one read:
 * exercises format 212's two-samples-in-three-bytes alignment. */
static void check_pieces(const char *root, const char *rec, int64_t span)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rec);
    pf_wfdb_record *r = pf_wfdb_open(path);
    CHECK(r, "%s", pf_errmsg());
    if (!r) return;
    int ns = pf_wfdb_header_of(r)->nsig;
    int32_t *all = malloc(sizeof(int32_t) * (size_t)(span * ns)), *part = malloc(sizeof(int32_t) * (size_t)(13 * ns));
    CHECK_OK(pf_wfdb_read_raw(r, 1001, span, all));
    int bad = 0;
    for (int64_t s = 1001; s + 13 <= 1001 + span; s += 7) {
        CHECK_OK(pf_wfdb_read_raw(r, s, 13, part));
        for (int j = 0; j < ns; j++)
            for (int i = 0; i < 13; i++) bad += part[j * 13 + i] != all[j * span + (s - 1001) + i];
    }
    CHECK(bad == 0, "%s: %d samples differ between piecewise and whole reads", rec, bad);
    CHECK(pf_wfdb_read_raw(r, pf_wfdb_length(r) - 2, 3, part) == PF_ERANGE, "read past the end must fail");
    free(all);
    free(part);
    pf_wfdb_close(r);
}

static int verify_dir(const char *root, const char *sub)
{
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/%s", root, sub);
    DIR *d = opendir(dir);
    CHECK(d, "cannot list %s", dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".hea")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        pf_wfdb_record *r = pf_wfdb_open(path);
        CHECK(r, "%s", pf_errmsg());
        if (!r) continue;
        const pf_wfdb_header *h = pf_wfdb_header_of(r);
        int cks = 1;
        for (int s = 0; s < h->nsig; s++) cks &= h->sig[s].has_checksum;
        CHECK(cks, "%s: a signal line has no checksum", path);
        CHECK_OK(pf_wfdb_verify(r));
        pf_wfdb_close(r);
        n++;
    }
    closedir(d);
    return n;
}

int main(void)
{
    const char *root = data_dir("mitdb");
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) check_known(root, &known[i]);
    check_pieces(root, "mitdb/101", 20000);
    check_pieces(root, "ludb/data/7", 3000);
    check_pieces(root, "cinc2021/JS20004", 3000);
    /* every record of every WFDB set: header checksums and initial values match the data */
    int n = verify_dir(root, "mitdb") ;
    CHECK(n == 26, "mitdb: %d records verified, expected 26", n);
    n = verify_dir(root, "ludb/data");
    CHECK(n == 100, "ludb: %d records verified, expected 100", n);
    n = verify_dir(root, "cinc2021");
    CHECK(n == 30, "cinc2021: %d records verified, expected 30", n);
    n = verify_dir(root, "cpsc2021");
    CHECK(n == 9, "cpsc2021: %d records verified, expected 9", n);

    /* header details */
    char path[1024];
    pf_wfdb_header h;
    snprintf(path, sizeof path, "%s/cinc2021/E07500.hea", root);
    CHECK_OK(pf_wfdb_header_read(path, &h));
    CHECK(h.nsig == 12 && h.fs == 500 && h.nsamp == 5000, "E07500 record line");
    CHECK(h.sig[0].offset == 24 && h.sig[0].spf == 1 && h.sig[0].fmt == 16 && h.sig[0].gain == 1000 &&
              h.sig[0].adc_res == 16 && !strcmp(h.sig[0].units, "mV"),
          "E07500 signal 0 fields");
    const char *dx = pf_wfdb_header_info(&h, "Dx"), *age = pf_wfdb_header_info(&h, "age"),
               *sex = pf_wfdb_header_info(&h, "Sex");
    CHECK(dx && !strcmp(dx, "67741000119109,426177001"), "Dx '%s'", dx ? dx : "(null)");
    CHECK(age && !strcmp(age, "78") && sex && !strcmp(sex, "Male"), "Age/Sex");
    pf_wfdb_header_free(&h);
    snprintf(path, sizeof path, "%s/ludb/data/1.hea", root);
    CHECK_OK(pf_wfdb_header_read(path, &h));
    CHECK(h.sig[0].gain == 1716 && h.sig[0].baseline == 6 && h.sig[0].adc_zero == 0 && !strcmp(h.sig[5].desc, "avf"),
          "ludb 1 gains/baselines");
    age = pf_wfdb_header_info(&h, "age");
    CHECK(age && !strcmp(age, "51"), "LUDB #<age>: '%s'", age ? age : "(null)");
    pf_wfdb_header_free(&h);
    snprintf(path, sizeof path, "%s/cpsc2021/data_101_6.hea", root);
    CHECK_OK(pf_wfdb_header_read(path, &h));
    CHECK(fabs(h.sig[0].gain - 30061.276794035417) < 1e-9 && h.sig[0].baseline == -161790 && h.sig[0].checksum == 64292,
          "cpsc2021 header gain/baseline/checksum");
    CHECK(h.ninfo == 1 && !strcmp(h.info[0].value, "paroxysmal atrial fibrillation"), "cpsc2021 class comment");
    pf_wfdb_header_free(&h);
    snprintf(path, sizeof path, "%s/mitdb/102.hea", root);
    CHECK_OK(pf_wfdb_header_read(path, &h));
    CHECK(h.sig[0].checksum == -28574 && h.sig[0].adc_zero == 1024 && h.sig[0].baseline == 1024 &&
              h.sig[0].gain == 200 && h.sig[0].init == 984 && h.sig[0].block_size == 0 && !strcmp(h.sig[1].desc, "V2"),
          "mitdb 102 fields");
    CHECK(h.ninfo == 3 && !strcmp(h.info[0].value, "84 F 1525 167 x1"), "mitdb 102 comments");
    pf_wfdb_header_free(&h);
    return pf_test_done();
}
