/* Signal formats from hand-made bytes (signal(5)), and bad input: corrupt or truncated
 * headers, short signal files, wrong checksums, unknown formats, MATLAB v4 mismatches —
 * each must fail with a message naming the file, the field and what was expected. */
#include "../pf_test.h"
#include "pf_wfdb.h"

#include <string.h>
#include <unistd.h>

static char dir[256];

static void put(const char *name, const void *data, size_t n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

static void puts_file(const char *name, const char *text) { put(name, text, strlen(text)); }

/* Header text must fail to parse with a message containing each of the needles. */
static void bad_header(const char *text, int code, const char *n1, const char *n2)
{
    pf_wfdb_header h;
    int rc = pf_wfdb_header_parse(text, strlen(text), "x/r.hea", &h);
    const char *m = pf_errmsg();
    CHECK(rc == code && strstr(m, n1) && (!n2 || strstr(m, n2)), "header <<%s>>: rc %d msg '%s' (want %d, '%s' '%s')",
          text, rc, m, code, n1, n2 ? n2 : "");
}

/* Record must fail to open (or verify) with a message containing the needles. */
static void bad_record(const char *hea, int verify, const char *n1, const char *n2)
{
    puts_file("r.hea", hea);
    char p[512];
    snprintf(p, sizeof p, "%s/r", dir);
    pf_wfdb_record *r = pf_wfdb_open(p);
    int rc = r ? (verify ? pf_wfdb_verify(r) : PF_OK) : PF_EFORMAT;
    const char *m = pf_errmsg();
    CHECK(rc != PF_OK && strstr(m, n1) && (!n2 || strstr(m, n2)), "record <<%s>>: rc %d msg '%s' (want '%s' '%s')", hea,
          rc, m, n1, n2 ? n2 : "");
    pf_wfdb_close(r);
}

static void formats(void)
{
    int32_t o[8];
    /* 212: samples 0x123=291, -1 (0xFFF), then 2047, -2048 */
    const uint8_t b212[] = {0x23, 0xF1, 0xFF, 0xFF, 0x87, 0x00};
    CHECK_OK(pf_wfdb_decode(212, b212, 6, 0, 4, o));
    CHECK(o[0] == 291 && o[1] == -1 && o[2] == 2047 && o[3] == -2048, "212: %d %d %d %d", o[0], o[1], o[2], o[3]);
    CHECK_OK(pf_wfdb_decode(212, b212, 6, 1, 3, o)); /* start on the odd sample */
    CHECK(o[0] == -1 && o[1] == 2047 && o[2] == -2048, "212 skip 1");
    CHECK_OK(pf_wfdb_decode(212, b212, 5, 0, 3, o)); /* odd count needs only 2 bytes of the last group */
    CHECK(pf_wfdb_decode(212, b212, 4, 0, 3, o) == PF_EFORMAT, "212 short buffer must fail");
    const uint8_t b16[] = {0x34, 0x12, 0x00, 0x80, 0xFF, 0x7F};
    CHECK_OK(pf_wfdb_decode(16, b16, 6, 0, 3, o));
    CHECK(o[0] == 0x1234 && o[1] == -32768 && o[2] == 32767, "16");
    CHECK_OK(pf_wfdb_decode(61, b16, 6, 0, 3, o));
    CHECK(o[0] == 0x3412 && o[1] == 0x0080 && o[2] == -129, "61: %d %d %d", o[0], o[1], o[2]);
    const uint8_t b80[] = {0, 128, 255};
    CHECK_OK(pf_wfdb_decode(80, b80, 3, 0, 3, o));
    CHECK(o[0] == -128 && o[1] == 0 && o[2] == 127, "80");
    /* 311: 32-bit LE word, samples in bits 0-9, 10-19, 20-29: 5, -2, 511 */
    uint32_t w = 5u | (0x3FEu << 10) | (511u << 20);
    const uint8_t b311[] = {w & 0xFF, w >> 8 & 0xFF, w >> 16 & 0xFF, w >> 24};
    CHECK_OK(pf_wfdb_decode(311, b311, 4, 0, 3, o));
    CHECK(o[0] == 5 && o[1] == -2 && o[2] == 511, "311: %d %d %d", o[0], o[1], o[2]);
    /* 310: two LE words; s0 = w0 bits 1-10, s1 = w1 bits 1-10, s2 = w0 bits 11-15 | w1 bits 11-15 << 5 */
    int s0 = -3 & 0x3FF, s1 = 100, s2 = -300 & 0x3FF;
    uint16_t w0 = (uint16_t)(s0 << 1 | (s2 & 31) << 11), w1 = (uint16_t)(s1 << 1 | (s2 >> 5) << 11);
    const uint8_t b310[] = {w0 & 0xFF, w0 >> 8, w1 & 0xFF, w1 >> 8};
    CHECK_OK(pf_wfdb_decode(310, b310, 4, 0, 3, o));
    CHECK(o[0] == -3 && o[1] == 100 && o[2] == -300, "310: %d %d %d", o[0], o[1], o[2]);
    CHECK(pf_wfdb_decode(8, b80, 3, 0, 1, o) == PF_EFORMAT && strstr(pf_errmsg(), "format 8"), "format 8 unsupported");
    /* optimised decoder == naive reference, every format, skip and length, random bytes */
    static const int fmts[] = {16, 61, 80, 212, 310, 311};
    uint8_t rnd[2048];
    int32_t fa[520], fb[520];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
    int mism = 0;
    for (int f = 0; f < 6; f++)
        for (int skip = 0; skip < 3; skip++)
            for (size_t n = 0; n < 500; n += 1 + n / 7) {
                int g, b;
                pf_wfdb_format_geometry(fmts[f], &g, &b);
                if (skip >= g) continue;
                size_t nb = (size_t)pf_wfdb_format_bytes(fmts[f], (int64_t)n + skip);
                int ra = pf_wfdb_decode(fmts[f], rnd, nb, skip, n, fa), rb = pf_wfdb_decode_ref(fmts[f], rnd, nb, skip, n, fb);
                mism += ra != PF_OK || rb != PF_OK || memcmp(fa, fb, n * sizeof *fa);
                mism += nb > 0 && pf_wfdb_decode(fmts[f], rnd, nb - 1, skip, n, fa) != PF_EFORMAT;
            }
    CHECK(mism == 0, "optimised vs reference decoder: %d mismatches", mism);
    CHECK(pf_wfdb_format_bytes(212, 3) == 5 && pf_wfdb_format_bytes(311, 4) == 6 && pf_wfdb_format_bytes(310, 5) == 8,
          "partial-group sizes");
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/pf_wfdb_bad_%ld", (long)getpid());
    CHECK(mkdir(dir, 0700) == 0, "mkdir %s", dir);
    formats();

    /* headers */
    bad_header("", PF_EFORMAT, "x/r.hea", "no record line");
    bad_header("# only a comment\n", PF_EFORMAT, "no record line", NULL);
    bad_header("r 2 360 650000\nr.dat 212 200 11 1024 995 -22131 0 MLII\n", PF_EFORMAT, "says 2 signals", "truncated");
    bad_header("r 2 360 650000\nr.dat 212 0 11 1024 995 0 0 MLII\nr.dat 212 200\n", PF_ERANGE, "line 2: gain '0' must be a nonzero number", NULL);
    {
        /* a negative gain is an inverted signal (PhysioNet 2014 challenge records have them): read as WFDB does */
        const int16_t adc[3] = {400, -200, 10};
        put("neg.dat", adc, sizeof adc);
        puts_file("neg.hea", "neg 1 360 3\nneg.dat 16 -200(10)/mV 16 0 400 0 0 ECG\n");
        char p[512];
        snprintf(p, sizeof p, "%s/neg", dir);
        pf_wfdb_record *r = pf_wfdb_open(p);
        float x[3] = {0};
        int sig = 0;
        CHECK(r && pf_wfdb_read(r, 0, 3, &sig, 1, x) == PF_OK, "negative gain: record opens and reads (%s)", pf_errmsg());
        CHECK(x[0] == -1.95f && x[1] == 1.05f && x[2] == 0.0f, "negative gain: (adc - 10) / -200 = %g %g %g", x[0], x[1], x[2]);
        pf_wfdb_close(r);
    }
    bad_header("r 1 360\nr.dat 212 2x0/mV\n", PF_EFORMAT, "line 2: gain '2x0' is not a number", NULL);
    bad_header("r 1 360\nr.dat 212 200(1.5)/mV\n", PF_EFORMAT, "baseline", NULL);
    bad_header("r 1 360\nr.dat 212 200(15/mV\n", PF_EFORMAT, "baseline", NULL);
    bad_header("r x 360\n", PF_EFORMAT, "line 1: number of signals 'x'", NULL);
    bad_header("r 1 -360\nr.dat 16\n", PF_EFORMAT, "sampling frequency '-360'", NULL);
    bad_header("r 1 nan\nr.dat 16\n", PF_EFORMAT, "sampling frequency 'nan'", NULL);
    bad_header("r 1 360 12x\nr.dat 16\n", PF_EFORMAT, "number of samples '12x'", NULL);
    bad_header("r/2 1 360\n", PF_EFORMAT, "multi-segment", NULL);
    bad_header("r 1 360\nr.dat x16\n", PF_EFORMAT, "format 'x16'", NULL);
    bad_header("r 1 360\nr.dat 16+-3\n", PF_EFORMAT, "format field '16+-3' is malformed", NULL);
    bad_header("r 1 360\nr.dat 16 200 99\n", PF_EFORMAT, "ADC resolution '99'", NULL);
    bad_header("r 1 360\nr.dat 16 200 16 0 0 99999\n", PF_EFORMAT, "checksum '99999'", NULL);
    bad_header("r 1 360\nr.dat 16 200 16 0 z\n", PF_EFORMAT, "initial value 'z'", NULL);
    bad_header("r 1 360\nr.dat 16\nextra line\n", PF_EFORMAT, "line 3: unexpected line", NULL);
    bad_header("r 2 360\na.dat 16\nb.dat 16\na.dat 16\n", PF_EFORMAT, "line 4: unexpected line 'a.dat 16'", NULL);
    bad_header("r 3 360\na.dat 16\nb.dat 16\na.dat 16\n", PF_EFORMAT, "line 4: signals of file 'a.dat' are not on consecutive", NULL);
    bad_header("r 2 360\na.dat 16\na.dat 212\n", PF_EFORMAT, "line 3: file 'a.dat' has format 212", NULL);

    /* a good header with every field, comments and CRLF line ends */
    const char *good = "# leading comment\r\nrec 2 360/1000(5) 10 12:00:00 01/02/2003\r\n"
                       "rec.dat 212x1:0+0 200(1000)/uV 12 1024 995 -1 0 MLII lead\r\n"
                       "rec.dat 212 100 0 0 0\r\n#Dx: 426783006\r\n# 75 F x1\r\n";
    pf_wfdb_header h;
    CHECK_OK(pf_wfdb_header_parse(good, strlen(good), "good.hea", &h));
    CHECK(h.nsig == 2 && h.fs == 360 && h.counter_freq == 1000 && h.base_counter == 5 && h.nsamp == 10 &&
              !strcmp(h.base_time, "12:00:00") && !strcmp(h.base_date, "01/02/2003"),
          "record line fields");
    CHECK(h.sig[0].baseline == 1000 && !strcmp(h.sig[0].units, "uV") && h.sig[0].adc_zero == 1024 &&
              h.sig[0].checksum == -1 && !strcmp(h.sig[0].desc, "MLII lead"),
          "signal 0 fields: desc '%s'", h.sig[0].desc);
    CHECK(h.sig[1].baseline == 0 && h.sig[1].adc_res == 12 && !strcmp(h.sig[1].units, "mV") && !h.sig[1].has_checksum &&
              h.sig[1].desc[0] == 0,
          "signal 1 defaults");
    CHECK(h.ninfo == 3 && !strcmp(pf_wfdb_header_info(&h, "dx"), "426783006") && !strcmp(h.info[2].value, "75 F x1"),
          "comments");
    pf_wfdb_header_free(&h);
    const char nul[] = "r 1 360\nr.dat 16\0junk\n";
    CHECK(pf_wfdb_header_parse(nul, sizeof nul - 1, "nul.hea", &h) == PF_EFORMAT && strstr(pf_errmsg(), "NUL"),
          "NUL byte: %s", pf_errmsg());

    /* records on disk: 3 samples x 2 signals in format 16 */
    const int16_t s16[] = {10, -20, 11, -21, 12, -22};
    put("r.dat", s16, sizeof s16);
    puts_file("ok.hea", "ok 2 100 3\nr.dat 16 10 16 0 10 33 0 A\nr.dat 16 10 16 0 -20 -63 0 B\n");
    char p[512];
    snprintf(p, sizeof p, "%s/ok", dir);
    pf_wfdb_record *r = pf_wfdb_open(p);
    CHECK(r, "ok: %s", pf_errmsg());
    if (r) {
        CHECK_OK(pf_wfdb_verify(r));
        float x[6];
        CHECK_OK(pf_wfdb_read(r, 0, 3, NULL, 0, x));
        CHECK(x[0] == 1.0f && x[2] == 1.2f && x[3] == -2.0f && x[5] == -2.2f, "physical values %g %g %g %g", x[0], x[2],
              x[3], x[5]);
        pf_wfdb_close(r);
    }
    bad_record("r 2 100 4\nr.dat 16 10 16 0 10 33 0 A\nr.dat 16 10 16 0 -20 -63 0 B\n", 0, "r.dat: 12 data bytes",
               "4 samples x 2 signals in format 16, which need 16 bytes (file truncated?)");
    bad_record("r 2 100 3\nr.dat 16 10 16 0 10 34 0 A\nr.dat 16 10 16 0 -20 -63 0 B\n", 1, "r.hea line 2: checksum 34",
               "sum of the 3 samples is 33");
    bad_record("r 2 100 3\nr.dat 16 10 16 0 10 33 0 A\nr.dat 16 10 16 0 -19 -63 0 B\n", 1,
               "r.hea line 3: initial value -19 but the first sample", NULL);
    bad_record("r 1 100 3\nr.dat 24 10 16 0 10 33 0 A\n", 0, "line 2: signal format 24 is not supported", NULL);
    bad_record("r 1 100 3\nr.dat 16x2 10\n", 0, "line 2: 2 samples per frame", NULL);
    bad_record("r 1 100 3\nr.dat 16:3 10\n", 0, "line 2: skew 3", NULL);
    bad_record("r 1 100 3\nmissing.dat 16 10\n", 0, "line 2: signal file", "missing.dat");
    bad_record("r 1 100 3\nr.dat 16+100 10\n", 0, "shorter than the byte offset 100", NULL);
    bad_record("r 1 100 3\n. 16 10\n", 0, "line 2: signal file", "is not a regular file"); /* found by fuzz_record */
    /* no sample count in the header: taken from the file size (3 frames) */
    puts_file("n.hea", "n 2 100\nr.dat 16 10 16 0 10 33 0 A\nr.dat 16 10 16 0 -20 -63 0 B\n");
    snprintf(p, sizeof p, "%s/n", dir);
    r = pf_wfdb_open(p);
    CHECK(r && pf_wfdb_length(r) == 3, "length from file size: %s", r ? "" : pf_errmsg());
    pf_wfdb_close(r);

    /* challenge MATLAB v4: int16 [2 x 3] named "val" -> data at byte 24 */
    uint8_t m4[24 + sizeof s16] = {30, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 'v', 'a', 'l', 0};
    memcpy(m4 + 24, s16, sizeof s16);
    put("m.mat", m4, sizeof m4);
    puts_file("m.hea", "m 2 100 3\nm.mat 16x1+24 10 16 0 10 33 0 A\nm.mat 16x1+24 10 16 0 -20 -63 0 B\n");
    snprintf(p, sizeof p, "%s/m", dir);
    r = pf_wfdb_open(p);
    CHECK(r && pf_wfdb_verify(r) == PF_OK, "mat v4: %s", pf_errmsg());
    pf_wfdb_close(r);
    bad_record("r 2 100 3\nm.mat 16+20 10\nm.mat 16+20 10\n", 0, "byte offset 20, but the MATLAB v4 matrix data start at 24", NULL);
    bad_record("r 3 100 3\nm.mat 16+24 10\nm.mat 16+24 10\nm.mat 16+24 10\n", 0, "m.mat: MATLAB v4 matrix has 2 rows", "3 signals");
    bad_record("r 2 100 2\nm.mat 16+24 10\nm.mat 16+24 10\n", 0, "MATLAB v4 matrix has 3 columns", "says 2 samples");
    m4[0] = 0; /* type 0: double matrix */
    put("m.mat", m4, sizeof m4);
    bad_record("r 2 100 3\nm.mat 16+24 10\nm.mat 16+24 10\n", 0, "expected a real int16 matrix (type 30)", NULL);
    put("m.mat", "MATLAB 5.0", 10);
    bad_record("r 2 100 3\nm.mat 16+24 10\nm.mat 16+24 10\n", 0, "shorter than a MATLAB v4 matrix header", NULL);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return pf_test_done();
}
