/* pf_livebatch: chunks of different beds, lead counts and names survive a batch
 * (encoded on the wire and decoded), a single-chunk message reads as one chunk, and
 * a batch whose rows point outside its samples is refused naming the chunk. */
#include "pf_error.h"
#include "pf_livebatch.h"
#include "pf_test.h"
#include "pf_transport.h"

#include <stdlib.h>
#include <zmq.h>
#include <string.h>

int main(void)
{
    pf_livebatch *b = pf_livebatch_create();
    const int leads[3] = {2, 12, 3}, ns[3] = {20, 10, 7};
    const char *names[3] = {"II,V", NULL, "II,V,PLETH"};
    for (int k = 0; k < 3; k++) {
        int64_t meta[PF_LM_N] = {0};
        meta[PF_LM_BED] = 100 + k;
        meta[PF_LM_GAPS] = k;
        float *x = pf_livebatch_add(b, meta, 1000 * k, 7 + (uint64_t)k, k == 1 ? 500.0 : 250.0, leads[k], ns[k], names[k]);
        CHECK(x != NULL, "add %d", k);
        for (int i = 0; x && i < leads[k] * ns[k]; i++) x[i] = (float)(k * 10000 + i);
    }
    CHECK(pf_livebatch_count(b) == 3, "%d chunks", pf_livebatch_count(b));
    pf_msg *m = pf_livebatch_take(b);
    CHECK(m && pf_livebatch_count(b) == 0, "take empties the batch");
    /* over a ZeroMQ socket pair with the runtime's codec and checks, as between the processes */
    void *ctx = zmq_ctx_new(), *a = zmq_socket(ctx, ZMQ_PAIR), *z = zmq_socket(ctx, ZMQ_PAIR);
    CHECK(!zmq_bind(a, "inproc://lb") && !zmq_connect(z, "inproc://lb"), "inproc pair");
    CHECK_OK(pf_wire_send(a, m, 0));
    pf_msg *r = NULL;
    CHECK_OK(pf_wire_recv(z, &r, 0, NULL));
    pf_livechunk c[8];
    int k = 0;
    CHECK_OK(pf_livebatch_read(r, c, 8, &k));
    CHECK(k == 3, "%d chunks read", k);
    for (int j = 0; j < k && j < 3; j++) {
        CHECK(c[j].meta[PF_LM_BED] == 100 + j && c[j].meta[PF_LM_GAPS] == j, "chunk %d: meta", j);
        CHECK(c[j].start == 1000 * j && c[j].seq == 7 + (uint64_t)j && c[j].fs == (j == 1 ? 500.0 : 250.0), "chunk %d: start/seq/fs", j);
        CHECK(c[j].n_leads == leads[j] && c[j].n == ns[j], "chunk %d: %d x %d", j, c[j].n_leads, c[j].n);
        int ok = 1;
        for (int i = 0; i < leads[j] * ns[j]; i++) ok &= c[j].x[i] == (float)(j * 10000 + i);
        CHECK(ok, "chunk %d: samples", j);
        size_t nl = names[j] ? strlen(names[j]) : 0;
        CHECK((size_t)c[j].names_len == nl && (!nl || !memcmp(c[j].names, names[j], nl)), "chunk %d: names", j);
    }
    /* a row pointing past the samples */
    pf_section *bs = NULL;
    for (int i = 0; i < r->n_sections; i++) if (r->sec[i].type == PF_SEC_LIVE_BATCH) bs = &r->sec[i];
    int64_t *row2 = (int64_t *)bs->data + 2 * (PF_LB_N + PF_LM_N);
    row2[PF_LB_SAMPLE_OFF] += 1;
    CHECK(pf_livebatch_read(r, c, 8, &k) == PF_EFORMAT && strstr(pf_errmsg(), "chunk 2 of 3"), "a row outside the samples accepted: %s", pf_errmsg());
    CHECK(pf_livebatch_read(r, c, 2, &k) == PF_EFORMAT, "more chunks than room accepted");
    /* a single-chunk window reads as one chunk */
    pf_msg *w = pf_msg_window_create("bed-5", 3, 40, 250, 2, 10);
    int64_t meta[PF_LM_N] = {5};
    uint32_t d[1] = {PF_LM_N};
    pf_msg_add(w, PF_SEC_LIVE_META, PF_DT_I64, 1, d, meta);
    CHECK_OK(pf_livebatch_read(w, c, 8, &k));
    CHECK(k == 1 && c[0].meta[PF_LM_BED] == 5 && c[0].n == 10 && c[0].n_leads == 2 && c[0].start == 40, "single chunk read as %d", k);
    pf_msg *e = pf_msg_create(PF_MSG_WINDOW, "x");
    CHECK(pf_livebatch_read(e, c, 8, &k) == PF_OK && k == 0, "a message without chunks read as %d", k);
    pf_msg_destroy(e); pf_msg_destroy(w); pf_msg_destroy(r);
    zmq_close(a); zmq_close(z); zmq_ctx_term(ctx);
    pf_livebatch_destroy(b);
    return pf_test_done();
}
