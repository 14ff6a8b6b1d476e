/* libFuzzer harness: WFDB header parser. Invariants of an accepted header are checked,
 * so a parse that "succeeds" with nonsense fails the run too. */
#include "pf_error.h"
#include "pf_wfdb.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pf_wfdb_header h;
    if (pf_wfdb_header_parse((const char *)data, size, "fuzz.hea", &h) != PF_OK) {
        if (!pf_errmsg()[0]) abort(); /* every failure must say why */
        return 0;
    }
    if (h.nsig < 0 || h.nsig > PF_WFDB_MAX_SIGNALS || !(h.fs > 0) || h.nsamp < 0) abort();
    for (int s = 0; s < h.nsig; s++) {
        const pf_wfdb_signal *g = &h.sig[s];
        if (!(g->gain != 0 && isfinite(g->gain)) || g->spf < 1 || g->offset < 0 || g->adc_res < 0 || g->adc_res > 32) abort();
        if (strlen(g->fname) >= sizeof g->fname || strlen(g->desc) >= sizeof g->desc) abort();
    }
    for (int i = 0; i < h.ninfo; i++) (void)pf_wfdb_header_info(&h, h.info[i].key);
    pf_wfdb_header_free(&h);
    return 0;
}
