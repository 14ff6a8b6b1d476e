/* Annotation files of the real data sets: per-record counts for MIT-BIH (beat totals as
 * published in the MIT-BIH Arrhythmia Database Directory, and the all-annotation totals
 * and per-code counts decoded independently by tests/io/wfdb_ref.py), LUDB and CPSC 2021;
 * and every real annotation file re-written by pf_ann_encode reproduces its bytes. */
#include "pf_ann.h"
#include "../pf_test.h"

#include <dirent.h>
#include <string.h>

typedef struct {
    const char *rec;
    int total, beats;
    const char *codes; /* "code:count,..." */
} mit_t;

static const mit_t mit[] = {
    {"101", 1874, 1865, "1:1860,8:3,13:2,14:4,16:4,28:1"},
    {"102", 2192, 2187, "1:99,5:4,12:2028,28:5,38:56"},
    {"104", 2311, 2229, "1:163,5:2,12:1380,13:18,14:37,28:45,38:666"},
    {"106", 2098, 2027, "1:1507,5:520,14:30,28:41"},
    {"107", 2140, 2137, "5:59,12:2078,14:2,28:1"},
    {"108", 1824, 1763, "1:1739,5:17,6:2,8:4,11:1,14:41,16:8,28:1,37:11"},
    {"109", 2535, 2532, "2:2492,5:38,6:2,14:2,28:1"},
    {"112", 2550, 2539, "1:2537,8:2,14:10,28:1"},
    {"114", 1890, 1879, "1:1820,5:43,6:4,7:2,8:10,14:7,16:1,28:3"},
    {"115", 1962, 1953, "1:1953,14:2,16:6,28:1"},
    {"116", 2421, 2412, "1:2302,5:109,8:1,14:8,28:1"},
    {"118", 2301, 2278, "3:2166,5:16,8:96,14:12,28:1,37:10"},
    {"119", 2094, 1987, "1:1543,5:444,14:4,28:103"},
    {"122", 2479, 2476, "1:2476,16:2,28:1"},
    {"124", 1634, 1619, "3:1531,5:47,6:5,7:29,8:2,11:5,14:2,28:13"},
    {"201", 2039, 1963, "1:1625,4:97,5:198,6:2,7:1,8:30,11:10,14:4,28:35,37:37"},
    {"203", 3108, 2980, "1:2529,4:2,5:444,6:1,13:4,14:57,16:26,28:45"},
    {"205", 2672, 2656, "1:2571,5:71,6:11,8:3,14:2,16:1,28:13"},
    {"207", 2385, 1860, "2:1457,3:86,5:105,8:107,10:105,14:15,16:2,28:24,31:472,32:6,33:6"},
    {"208", 3040, 2955, "1:1586,5:992,6:373,9:2,13:2,14:24,16:8,28:53"},
    {"209", 3052, 3005, "1:2621,5:1,8:383,14:19,16:7,28:21"},
    {"215", 3400, 3363, "1:3195,5:164,6:1,8:3,14:30,22:2,28:5"},
    {"217", 2280, 2208, "1:244,5:162,12:1542,14:4,16:1,28:67,38:260"},
    {"220", 2069, 2048, "1:1954,8:94,14:4,28:17"},
    {"223", 2643, 2605, "1:2029,4:1,5:473,6:14,8:72,14:10,28:28,34:16"},
    {"230", 2466, 2256, "1:2255,5:1,14:2,16:1,28:207"},
};

static void code_string(const pf_ann_list *l, char *out, size_t cap)
{
    int cnt[64] = {0};
    for (size_t i = 0; i < l->n; i++) cnt[l->a[i].code & 63]++;
    size_t len = 0;
    out[0] = 0;
    for (int c = 0; c < 64 && len < cap - 16; c++)
        if (cnt[c]) len += (size_t)snprintf(out + len, cap - len, "%s%d:%d", len ? "," : "", c, cnt[c]);
}

static int beats(const pf_ann_list *l)
{
    int n = 0;
    for (size_t i = 0; i < l->n; i++) n += pf_ann_is_beat(l->a[i].code);
    return n;
}

/* Re-encode a file read from disk and compare bytes. */
static void check_rewrite(const char *path)
{
    FILE *f = fopen(path, "rb");
    CHECK(f, "open %s", path);
    if (!f) return;
    static uint8_t orig[1 << 20];
    size_t n = fread(orig, 1, sizeof orig, f);
    fclose(f);
    pf_ann_list l = {0};
    CHECK_OK(pf_ann_parse(orig, n, path, &l));
    uint8_t *enc = NULL;
    size_t len = 0;
    CHECK_OK(pf_ann_encode(&l, &enc, &len));
    CHECK(len == n && enc && !memcmp(enc, orig, n), "%s: re-encoded %zu bytes differ from the %zu on disk", path, len, n);
    free(enc);
    pf_ann_list_free(&l);
}

static int rewrite_dir(const char *dir, const char *const *exts)
{
    DIR *d = opendir(dir);
    CHECK(d, "cannot list %s", dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    char path[1200];
    while ((e = readdir(d))) {
        const char *dot = strrchr(e->d_name, '.');
        if (!dot) continue;
        for (int k = 0; exts[k]; k++)
            if (!strcmp(dot + 1, exts[k])) {
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                check_rewrite(path);
                n++;
            }
    }
    closedir(d);
    return n;
}

int main(void)
{
    const char *root = data_dir("mitdb");
    char path[1024], codes[512];
    for (size_t i = 0; i < sizeof mit / sizeof *mit; i++) {
        snprintf(path, sizeof path, "%s/mitdb/%s.atr", root, mit[i].rec);
        pf_ann_list l = {0};
        CHECK_OK(pf_ann_read(path, &l));
        code_string(&l, codes, sizeof codes);
        CHECK((int)l.n == mit[i].total, "%s: %zu annotations, expected %d", mit[i].rec, l.n, mit[i].total);
        CHECK(beats(&l) == mit[i].beats, "%s: %d beats, expected %d (published)", mit[i].rec, beats(&l), mit[i].beats);
        CHECK(!strcmp(codes, mit[i].codes), "%s: codes %s, expected %s", mit[i].rec, codes, mit[i].codes);
        for (size_t k = 1; k < l.n; k++) CHECK(l.a[k].time >= l.a[k - 1].time, "%s: times not sorted at %zu", mit[i].rec, k);
        pf_ann_list_free(&l);
    }
    /* 101 (times from wfdb_ref.py): the record opens with the rhythm annotation '+' "(N" and has SUB-coded noise */
    snprintf(path, sizeof path, "%s/mitdb/101.atr", root);
    pf_ann_list l = {0};
    CHECK_OK(pf_ann_read(path, &l));
    CHECK(l.n && l.a[0].code == PF_ANN_RHYTHM && l.a[0].auxlen == 3 && !memcmp(l.a[0].aux, "(N\0", 3) &&
              !strcmp(pf_ann_mnemonic(l.a[0].code), "+"),
          "101 first annotation: code %d aux '%s'", l.n ? l.a[0].code : -1, l.n && l.a[0].aux ? l.a[0].aux : "");
    CHECK(l.a[0].time == 7 && l.a[1].time == 83 && l.a[2].time == 396 && l.a[1].code == PF_ANN_NORMAL, "101 first times %lld %lld",
          (long long)l.a[0].time, (long long)l.a[1].time);
    int sub = 0;
    for (size_t k = 0; k < l.n; k++) sub += l.a[k].sub != 0;
    CHECK(sub > 0, "101: expected SUB-coded annotations (noise '~' subtypes)");
    pf_ann_list_free(&l);
    /* 203: AFL/AFIB rhythm strings */
    snprintf(path, sizeof path, "%s/mitdb/203.atr", root);
    CHECK_OK(pf_ann_read(path, &l));
    int afib = 0, afl = 0;
    for (size_t k = 0; k < l.n; k++) {
        afib += l.a[k].aux && !strcmp(l.a[k].aux, "(AFIB");
        afl += l.a[k].aux && !strcmp(l.a[k].aux, "(AFL");
    }
    CHECK(afib > 0 && afl > 0, "203: (AFIB x%d, (AFL x%d", afib, afl);
    pf_ann_list_free(&l);

    /* LUDB: per-lead wave annotations ( p ) ( N ) ( t ) */
    snprintf(path, sizeof path, "%s/ludb/data/1.ii", root);
    CHECK_OK(pf_ann_read(path, &l));
    code_string(&l, codes, sizeof codes);
    CHECK(l.n == 48 && !strcmp(codes, "1:6,24:5,27:5,39:16,40:16") && l.a[0].time == 644 && l.a[0].code == PF_ANN_WFON,
          "ludb 1.ii: %zu %s", l.n, codes);
    pf_ann_list_free(&l);
    snprintf(path, sizeof path, "%s/ludb/data/100.v6", root);
    CHECK_OK(pf_ann_read(path, &l));
    CHECK(l.n == 75 && beats(&l) == 9 && l.a[l.n - 1].time == 4205, "ludb 100.v6: %zu", l.n);
    pf_ann_list_free(&l);

    /* CPSC 2021: beats and AF episodes */
    static const struct { const char *rec; int total, beats; } cp[] = {
        {"data_101_6", 204, 196}, {"data_101_8", 247, 243}, {"data_101_9", 320, 318},
        {"data_21_7", 275, 275},  {"data_21_8", 605, 605},  {"data_21_9", 457, 457},
        {"data_35_10", 114, 114}, {"data_35_4", 144, 144},  {"data_35_6", 108, 108}};
    for (size_t i = 0; i < sizeof cp / sizeof *cp; i++) {
        snprintf(path, sizeof path, "%s/cpsc2021/%s.atr", root, cp[i].rec);
        CHECK_OK(pf_ann_read(path, &l));
        CHECK((int)l.n == cp[i].total && beats(&l) == cp[i].beats, "%s: %zu/%d", cp[i].rec, l.n, beats(&l));
        pf_ann_list_free(&l);
    }

    /* byte-exact rewrite of every real annotation file */
    static const char *const atr[] = {"atr", NULL};
    static const char *const lud[] = {"i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6", NULL};
    snprintf(path, sizeof path, "%s/mitdb", root);
    int n = rewrite_dir(path, atr);
    CHECK(n == 26, "mitdb: %d files rewritten", n);
    snprintf(path, sizeof path, "%s/cpsc2021", root);
    n = rewrite_dir(path, atr);
    CHECK(n == 9, "cpsc2021: %d files rewritten", n);
    snprintf(path, sizeof path, "%s/ludb/data", root);
    n = rewrite_dir(path, lud);
    CHECK(n == 1200, "ludb: %d files rewritten", n);
    return pf_test_done();
}
