/* libFuzzer harness: WFDB signal decoders. Byte 0 picks the format, byte 1 the skip, byte 2
 * the sample count; the rest is sample data. Oracle: decoding n samples at skip k equals
 * samples k..k+n-1 of decoding from 0 (group alignment), the optimised decoder equals the
 * naive reference, and short buffers are refused. */
#include "pf_error.h"
#include "pf_wfdb.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int fmts[] = {16, 61, 80, 212, 310, 311, 8, 0};
    if (size < 3) return 0;
    int fmt = fmts[data[0] % 8], g = 1, b = 1;
    const uint8_t *buf = data + 3;
    size_t nbytes = size - 3;
    int32_t a[300], c[300];
    size_t n = data[2];
    if (pf_wfdb_format_geometry(fmt, &g, &b) != PF_OK) {
        if (pf_wfdb_decode(fmt, buf, nbytes, 0, n, a) == PF_OK) abort();
        return 0;
    }
    int skip = data[1] % g;
    int ok_all = pf_wfdb_decode(fmt, buf, nbytes, 0, n + (size_t)skip, a) == PF_OK;
    int ok_skip = pf_wfdb_decode(fmt, buf, nbytes, skip, n, c) == PF_OK;
    if (ok_all != ok_skip) abort();
    if ((int64_t)nbytes >= pf_wfdb_format_bytes(fmt, (int64_t)n + skip) && !ok_all) abort();
    if (ok_all && memcmp(a + skip, c, n * sizeof *c)) abort();
    int32_t r[300];
    if (ok_skip != (pf_wfdb_decode_ref(fmt, buf, nbytes, skip, n, r) == PF_OK)) abort();
    if (ok_skip && memcmp(r, c, n * sizeof *c)) abort(); /* optimised == naive reference */
    int32_t lo = fmt == 80 ? -128 : fmt == 212 ? -2048 : fmt >= 310 ? -512 : -32768;
    for (size_t i = 0; ok_all && i < n + (size_t)skip; i++)
        if (a[i] < lo || a[i] > -lo - 1) abort();
    return 0;
}
