/* libFuzzer harness: MIT annotation reader and writer. Oracle: whatever parses must
 * encode, and the encoding must parse back to the same annotations. */
#include "pf_ann.h"
#include "pf_error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int same(const pf_ann *a, const pf_ann *b)
{
    return a->time == b->time && a->code == b->code && a->sub == b->sub && a->chan == b->chan && a->num == b->num &&
           a->auxlen == b->auxlen && (!a->auxlen || !memcmp(a->aux, b->aux, (size_t)a->auxlen));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pf_ann_list l = {0}, back = {0};
    if (pf_ann_parse(data, size, "fuzz.atr", &l) != PF_OK) {
        if (!pf_errmsg()[0]) abort();
        pf_ann_list_free(&l);
        return 0;
    }
    uint8_t *enc = NULL;
    size_t len = 0;
    int rc = pf_ann_encode(&l, &enc, &len);
    if (rc == PF_OK) {
        if (pf_ann_parse(enc, len, "re-encoded", &back) != PF_OK || back.n != l.n) abort();
        for (size_t i = 0; i < l.n; i++)
            if (!same(&l.a[i], &back.a[i])) abort();
    } else {
        abort(); /* everything the reader accepts must be writable */
    }
    free(enc);
    pf_ann_list_free(&l);
    pf_ann_list_free(&back);
    return 0;
}
