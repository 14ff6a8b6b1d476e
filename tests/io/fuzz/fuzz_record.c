/* libFuzzer harness: a whole WFDB record on disk. The input is "header text \0 signal
 * bytes"; they are written as r.hea and as both r.dat and r.mat, then the record is opened,
 * verified and read. Oracles: an opened record reads [0, length) without error, two halves
 * read separately equal one whole read, and physical values are finite or NaN only for the
 * format's invalid-sample marker. */
#include "pf_error.h"
#include "pf_wfdb.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void put(const char *name, const uint8_t *d, size_t n)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) abort();
    if (n) fwrite(d, 1, n, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/pf_fuzz_record_%ld", (long)getpid());
        mkdir(dir, 0700);
    }
    const uint8_t *z = memchr(data, 0, size);
    size_t hl = z ? (size_t)(z - data) : size;
    const uint8_t *sig = z ? z + 1 : data + size;
    size_t sl = z ? size - hl - 1 : 0;
    if (sl > 1 << 16) return 0;
    put("r.hea", data, hl);
    put("r.dat", sig, sl);
    put("r.mat", sig, sl);
    char p[128];
    snprintf(p, sizeof p, "%s/r", dir);
    pf_wfdb_record *r = pf_wfdb_open(p);
    if (!r) {
        if (!pf_errmsg()[0]) abort();
        return 0;
    }
    const pf_wfdb_header *h = pf_wfdb_header_of(r);
    int64_t n = pf_wfdb_length(r);
    if (n > 1 << 16 || h->nsig > 16) { /* large sample counts from tiny files need many signals of 0 bytes: skip */
        pf_wfdb_close(r);
        return 0;
    }
    (void)pf_wfdb_verify(r);
    int32_t *all = malloc(sizeof(int32_t) * (size_t)(n * h->nsig + 1));
    int32_t *part = malloc(sizeof(int32_t) * (size_t)(n * h->nsig + 1));
    float *x = malloc(sizeof(float) * (size_t)(n * h->nsig + 1));
    if (pf_wfdb_read_raw(r, 0, n, all) != PF_OK) abort();
    int64_t a = n / 2, b = n - a;
    if (pf_wfdb_read_raw(r, 0, a, part) != PF_OK) abort();
    for (int s = 0; s < h->nsig; s++)
        if (a && memcmp(part + s * a, all + s * n, (size_t)a * sizeof *all)) abort();
    if (pf_wfdb_read_raw(r, a, b, part) != PF_OK) abort();
    for (int s = 0; s < h->nsig; s++)
        if (b && memcmp(part + s * b, all + s * n + a, (size_t)b * sizeof *all)) abort();
    if (pf_wfdb_read(r, 0, n, NULL, 0, x) != PF_OK) abort();
    for (int s = 0; s < h->nsig; s++)
        for (int64_t i = 0; i < n; i++)
            if (isnan(x[s * n + i]) != (all[s * n + i] == pf_wfdb_format_invalid(h->sig[s].fmt))) abort();
    if (pf_wfdb_read_raw(r, n, 1, all) != PF_ERANGE) abort();
    free(all);
    free(part);
    free(x);
    pf_wfdb_close(r);
    return 0;
}
