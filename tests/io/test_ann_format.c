/* MIT annotation format at the byte level (annot(5)) and write/read round trips of every
 * code kind: all codes 0..58, SKIP forwards and backwards, NUM, SUB, CHN, AUX of odd and
 * even length, and file writing through pf_ann_write. */
#include "pf_ann.h"
#include "../pf_test.h"

#include <string.h>
#include <unistd.h>

static void expect_bytes(const pf_ann_list *l, const uint8_t *want, size_t n, const char *what)
{
    uint8_t *b = NULL;
    size_t len = 0;
    CHECK_OK(pf_ann_encode(l, &b, &len));
    int same = len == n && b && !memcmp(b, want, n);
    CHECK(same, "%s: encoding differs (%zu vs %zu bytes)", what, len, n);
    if (!same && b)
        for (size_t i = 0; i < len; i++) fprintf(stderr, "%02x%s", b[i], i + 1 == len ? "\n" : " ");
    free(b);
}

int main(void)
{
    /* Hand-assembled from annot(5): word = code << 10 | interval, little-endian. */
    pf_ann_list l = {0};
    pf_ann_push(&l, 18, PF_ANN_RHYTHM, 0, 0, 0, "(N", 3);   /* aux "(N\0": 3 bytes + pad */
    pf_ann_push(&l, 77, PF_ANN_NORMAL, 0, 0, 0, NULL, 0);
    pf_ann_push(&l, 2000, PF_ANN_PVC, 0, 0, 0, NULL, 0);     /* interval 1923 > 1023: SKIP */
    pf_ann_push(&l, 2001, PF_ANN_NOISE, 2, 0, 0, NULL, 0);   /* SUB 2 */
    pf_ann_push(&l, 2002, PF_ANN_NORMAL, 0, 1, 5, NULL, 0);  /* CHN 1, NUM 5 */
    pf_ann_push(&l, 2002, PF_ANN_NORMAL, 0, 1, 5, "AB", 2);  /* same chan/num: not repeated */
    pf_ann_push(&l, 1990, PF_ANN_APC, -1, 0, 0, NULL, 0);    /* backwards: negative SKIP; SUB -1 */
    const uint8_t want[] = {
        18, 28 << 2,                  /* + at 18 */
        3, 63 << 2, '(', 'N', 0, 0,   /* AUX len 3, "(N\0", pad */
        59, 1 << 2,                   /* N: interval 59 -> word 0x043B */
        0, 59 << 2, 0, 0, 1923 & 0xFF, 1923 >> 8, /* SKIP, high half 0, low half 1923 */
        0, 5 << 2,                    /* V, interval 0 */
        1, 14 << 2, 2, 61 << 2,       /* ~ interval 1, SUB 2 */
        1, 1 << 2, 1, 62 << 2, 5, 60 << 2, /* N interval 1, CHN 1, NUM 5 */
        0, 1 << 2, 2, 63 << 2, 'A', 'B',   /* N interval 0, AUX "AB" */
        0, 59 << 2, 0xFF, 0xFF, 0xF4, 0xFF, /* SKIP -12 = 0xFFFFFFF4: high 0xFFFF, low 0xFFF4 */
        0, 8 << 2, 0xFF, (61 << 2) | 3,     /* A, SUB -1 as 10-bit 0x3FF */
        0, 62 << 2, 0, 60 << 2,             /* CHN 0, NUM 0: back from 1 and 5 */
        0, 0};                              /* end of file */
    /* 59 = 0x3B: the N word is 0x04 << 8 | 0x3B */
    expect_bytes(&l, want, sizeof want, "hand-assembled");
    pf_ann_list back = {0};
    CHECK_OK(pf_ann_parse(want, sizeof want, "want", &back));
    CHECK(back.n == l.n, "parsed %zu of %zu", back.n, l.n);
    for (size_t i = 0; i < back.n && i < l.n; i++) {
        const pf_ann *a = &l.a[i], *b = &back.a[i];
        CHECK(a->time == b->time && a->code == b->code && a->sub == b->sub && a->chan == b->chan && a->num == b->num &&
                  a->auxlen == b->auxlen && (!a->auxlen || !memcmp(a->aux, b->aux, (size_t)a->auxlen)),
              "annotation %zu: %lld %d %d %d %d vs %lld %d %d %d %d", i, (long long)a->time, a->code, a->sub, a->chan,
              a->num, (long long)b->time, b->code, b->sub, b->chan, b->num);
    }
    pf_ann_list_free(&back);
    pf_ann_list_free(&l);

    /* every storable code, large and negative field values, long aux, far times */
    char aux[256];
    for (int i = 0; i < 255; i++) aux[i] = (char)(i + 1);
    int64_t t = 0;
    for (int code = 0; code <= PF_ANN_MAXCODE; code++) {
        t += code == 0 ? 5 : (code * 7919) % 3000 + (code % 4 == 0 ? 100000 : 0);
        pf_ann_push(&l, t, code, (code % 5) - 2, code % 3 == 0 ? 1023 - code : code, -512 + code * 17,
                    code % 2 ? aux : NULL, code % 2 ? code * 4 + 3 : 0);
    }
    pf_ann_push(&l, 3000000000LL, PF_ANN_NORMAL, 0, 0, 0, aux, 255); /* SKIP beyond 2^31 total time */
    pf_ann_push(&l, 3000000000LL - 5000, PF_ANN_NORMAL, 0, 0, 0, NULL, 0);
    char path[256];
    snprintf(path, sizeof path, "/tmp/pf_ann_test_%ld.atr", (long)getpid());
    CHECK_OK(pf_ann_write(path, &l));
    CHECK_OK(pf_ann_read(path, &back));
    CHECK(back.n == l.n, "round trip %zu of %zu", back.n, l.n);
    int diff = 0;
    for (size_t i = 0; i < back.n && i < l.n; i++) {
        const pf_ann *a = &l.a[i], *b = &back.a[i];
        diff += !(a->time == b->time && a->code == b->code && a->sub == b->sub && a->chan == b->chan &&
                  a->num == b->num && a->auxlen == b->auxlen && (!a->auxlen || !memcmp(a->aux, b->aux, (size_t)a->auxlen)));
    }
    CHECK(diff == 0, "%d annotations differ after write/read", diff);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    CHECK(access(tmp, F_OK) != 0, "temporary file left behind");
    unlink(path);
    pf_ann_list_free(&back);
    pf_ann_list_free(&l);

    /* invalid values are refused, and a refused write leaves no file */
    pf_ann_list bad = {0};
    pf_ann_push(&bad, 10, 59, 0, 0, 0, NULL, 0);
    CHECK(pf_ann_write(path, &bad) == PF_ERANGE && access(path, F_OK) != 0, "code 59 must be refused: %s", pf_errmsg());
    bad.a[0].code = 1;
    bad.a[0].sub = 600;
    CHECK(pf_ann_write(path, &bad) == PF_ERANGE, "sub 600 must be refused");
    pf_ann_list_free(&bad);
    /* code 0 (NOTQRS) as putann writes it: SKIP to the sample before, then interval 1 */
    pf_ann_push(&bad, 0, 0, 0, 0, 0, NULL, 0);
    pf_ann_push(&bad, 7, 0, 0, 0, 0, NULL, 0);
    const uint8_t want0[] = {0, 59 << 2, 0xFF, 0xFF, 0xFF, 0xFF, 1, 0, /* SKIP -1, code 0 interval 1 -> 0 */
                             0, 59 << 2, 0, 0, 6, 0, 1, 0,             /* SKIP 6, code 0 interval 1 -> 7 */
                             0, 0};
    expect_bytes(&bad, want0, sizeof want0, "code 0");
    CHECK_OK(pf_ann_parse(want0, sizeof want0, "want0", &back));
    CHECK(back.n == 2 && back.a[0].time == 0 && back.a[0].code == 0 && back.a[1].time == 7 && back.a[1].code == 0,
          "code 0 read back");
    pf_ann_list_free(&back);
    pf_ann_list_free(&bad);

    /* code table */
    CHECK(!strcmp(pf_ann_mnemonic(PF_ANN_NORMAL), "N") && !strcmp(pf_ann_mnemonic(PF_ANN_PACE), "/") &&
              !strcmp(pf_ann_mnemonic(PF_ANN_WFON), "(") && !strcmp(pf_ann_mnemonic(PF_ANN_WFOFF), ")") &&
              !strcmp(pf_ann_mnemonic(PF_ANN_PWAVE), "p") && !strcmp(pf_ann_mnemonic(PF_ANN_TWAVE), "t") &&
              !strcmp(pf_ann_mnemonic(PF_ANN_UNKNOWN), "Q") && !strcmp(pf_ann_mnemonic(PF_ANN_FUSION), "F"),
          "mnemonics");
    CHECK(pf_ann_code("V") == PF_ANN_PVC && pf_ann_code("A") == PF_ANN_APC && pf_ann_code("+") == PF_ANN_RHYTHM &&
              pf_ann_code("zz") == -1,
          "codes from mnemonics");
    CHECK(pf_ann_is_beat(PF_ANN_NORMAL) && pf_ann_is_beat(PF_ANN_PACE) && pf_ann_is_beat(PF_ANN_PFUS) &&
              !pf_ann_is_beat(PF_ANN_RHYTHM) && !pf_ann_is_beat(PF_ANN_NOISE) && !pf_ann_is_beat(PF_ANN_NAPC) &&
              !pf_ann_is_beat(PF_ANN_FLWAV) && !pf_ann_is_beat(PF_ANN_PWAVE),
          "beat table");
    return pf_test_done();
}
