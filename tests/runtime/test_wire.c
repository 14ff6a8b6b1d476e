/* Wire format: encode/decode round trips, and every kind of malformed input
 * (truncated, oversized, garbage, lying sizes) rejected with a reason, over
 * real ZeroMQ sockets. */
#include "../pf_test.h"
#include "pf_error.h"
#include "pf_wire.h"

#include <string.h>
#include <zmq.h>

static pf_msg *sample_window(void)
{
    pf_msg *m = pf_msg_window_create("mitdb/100", 7, 3600, 360.0, 2, 100);
    float *x = pf_msg_samples(m);
    for (int i = 0; i < 200; i++) x[i] = (float)i * 0.5f - 3.0f;
    int64_t peaks[3] = {3610, 3650, 3699};
    int64_t label = 4;
    float feats[5] = {1, 2, 3, 4, 5};
    uint32_t d3 = 3, d1 = 1, d5 = 5, dn = 7;
    pf_msg_add(m, PF_SEC_RPEAKS, PF_DT_I64, 1, &d3, peaks);
    pf_msg_add(m, PF_SEC_LABELS, PF_DT_I64, 1, &d1, &label);
    pf_msg_add(m, PF_SEC_FEATURES, PF_DT_F32, 1, &d5, feats);
    pf_msg_add(m, PF_SEC_LEAD_NAMES, PF_DT_U8, 1, &dn, "MLII,V5");
    m->epoch = 3;
    m->flags = PF_FLAG_PAIR_FIRST;
    return m;
}

static void test_header_roundtrip(void)
{
    pf_msg *m = sample_window();
    unsigned char buf[2048];
    int n = pf_wire_encode_header(m, buf, sizeof buf);
    CHECK(n == 64 + 5 * 24 + 16, "header size %d", n);
    CHECK(!memcmp(buf, "PFLW", 4), "magic bytes on the wire spell PFLW");
    size_t sizes[5];
    for (int i = 0; i < 5; i++) sizes[i] = m->sec[i].bytes;
    pf_msg d;
    int rc = pf_wire_decode_header(buf, (size_t)n, 5, sizes, &d);
    CHECK(rc == PF_OK, "decode: %s", pf_errmsg());
    CHECK(d.kind == PF_MSG_WINDOW && d.window_index == 7 && d.start_sample == 3600 && d.sample_rate == 360.0, "fields");
    CHECK(d.n_leads == 2 && d.n_samples == 100 && d.epoch == 3 && d.flags == PF_FLAG_PAIR_FIRST, "shape/epoch/flags");
    CHECK(!strcmp(d.id, "mitdb/100"), "id '%s'", d.id);
    CHECK(d.n_sections == 5 && d.sec[1].type == PF_SEC_RPEAKS && d.sec[1].dims[0] == 3, "sections");

    /* truncated header */
    rc = pf_wire_decode_header(buf, 40, 5, sizes, &d);
    CHECK(rc == PF_EFORMAT && strstr(pf_errmsg(), "shorter"), "truncated: %s", pf_errmsg());
    rc = pf_wire_decode_header(buf, (size_t)n - 8, 5, sizes, &d);
    CHECK(rc == PF_EFORMAT && strstr(pf_errmsg(), "header_bytes"), "cut id: %s", pf_errmsg());
    /* oversized: trailing garbage after the header */
    unsigned char big[4096];
    memcpy(big, buf, (size_t)n);
    rc = pf_wire_decode_header(big, (size_t)n + 100, 5, sizes, &d);
    CHECK(rc == PF_EFORMAT, "oversized header frame rejected");
    /* bad magic, bad version, bad kind */
    unsigned char bad[2048];
    memcpy(bad, buf, (size_t)n); bad[0] = 'X';
    CHECK(pf_wire_decode_header(bad, (size_t)n, 5, sizes, &d) == PF_EFORMAT && strstr(pf_errmsg(), "magic"), "magic: %s", pf_errmsg());
    memcpy(bad, buf, (size_t)n); bad[4] = 9;
    CHECK(pf_wire_decode_header(bad, (size_t)n, 5, sizes, &d) == PF_EFORMAT && strstr(pf_errmsg(), "version 9"), "version: %s", pf_errmsg());
    memcpy(bad, buf, (size_t)n); bad[6] = 77;
    CHECK(pf_wire_decode_header(bad, (size_t)n, 5, sizes, &d) == PF_EFORMAT && strstr(pf_errmsg(), "kind 77"), "kind: %s", pf_errmsg());
    /* frame count and sizes that disagree with the section table */
    CHECK(pf_wire_decode_header(buf, (size_t)n, 4, sizes, &d) == PF_EFORMAT && strstr(pf_errmsg(), "4 payload frames"), "frames: %s", pf_errmsg());
    size_t lying[5];
    memcpy(lying, sizes, sizeof lying);
    lying[0] -= 4;
    CHECK(pf_wire_decode_header(buf, (size_t)n, 5, lying, &d) == PF_EFORMAT && strstr(pf_errmsg(), "shape says 800"), "size: %s", pf_errmsg());
    /* sample section shape disagreeing with n_leads x n_samples */
    memcpy(bad, buf, (size_t)n);
    bad[40] = 3; /* n_leads = 3, section still [2, 100] */
    CHECK(pf_wire_decode_header(bad, (size_t)n, 5, sizes, &d) == PF_EFORMAT && strstr(pf_errmsg(), "samples section must be f32 [L,T]"), "shape: %s", pf_errmsg());
    /* NaN sample rate */
    memcpy(bad, buf, (size_t)n);
    memset(bad + 32, 0xff, 8);
    CHECK(pf_wire_decode_header(bad, (size_t)n, 5, sizes, &d) == PF_EFORMAT && strstr(pf_errmsg(), "sample_rate"), "rate: %s", pf_errmsg());
    /* unknown dtype, absurd dims */
    memcpy(bad, buf, (size_t)n);
    bad[64 + 2] = 99;
    CHECK(pf_wire_decode_header(bad, (size_t)n, 5, sizes, &d) == PF_EFORMAT && strstr(pf_errmsg(), "dtype 99"), "dtype: %s", pf_errmsg());
    memcpy(bad, buf, (size_t)n);
    memset(bad + 64 + 8, 0xff, 8); /* dims 2^32-1 x 2^32-1 */
    CHECK(pf_wire_decode_header(bad, (size_t)n, 5, sizes, &d) == PF_EFORMAT, "overflowing dims rejected");
    pf_msg_destroy(m);

    /* random garbage never crashes and is never accepted */
    unsigned seed = 12345;
    int accepted = 0;
    for (int t = 0; t < 20000; t++) {
        size_t len = (size_t)(rand_r(&seed) % 300);
        for (size_t i = 0; i < len; i++) bad[i] = (unsigned char)rand_r(&seed);
        if (t % 2 && len >= 8) memcpy(bad, buf, 8); /* valid magic+version, garbage after */
        size_t fs[8] = {0, 1, 8, 16, 800, 24, 4, 7};
        accepted += pf_wire_decode_header(bad, len, rand_r(&seed) % 6, fs, &d) == PF_OK;
    }
    CHECK(accepted == 0, "%d garbage headers accepted", accepted);
}

static void test_sockets(void)
{
    void *ctx = zmq_ctx_new();
    void *push = zmq_socket(ctx, ZMQ_PUSH), *pull = zmq_socket(ctx, ZMQ_PULL);
    CHECK(zmq_bind(pull, "inproc://wire") == 0, "bind");
    CHECK(zmq_connect(push, "inproc://wire") == 0, "connect");

    pf_msg *m = sample_window();
    uint64_t h = pf_msg_hash(m);
    CHECK(pf_wire_send(push, m, 0) == PF_OK, "send: %s", pf_errmsg());
    pf_msg *r = NULL;
    size_t bytes = 0;
    CHECK(pf_wire_recv(pull, &r, 0, &bytes) == PF_OK, "recv: %s", pf_errmsg());
    CHECK(r && pf_msg_hash(r) == h, "content survives the trip bit for bit");
    CHECK(r && pf_msg_samples(r)[199] == 199 * 0.5f - 3.0f, "last sample");
    const pf_section *rp = r ? pf_msg_find_const(r, PF_SEC_RPEAKS) : NULL;
    CHECK(rp && ((int64_t *)rp->data)[2] == 3699, "R-peaks");
    CHECK(bytes == 64 + 5 * 24 + 16 + 800 + 24 + 8 + 20 + 7, "byte count %zu", bytes);

    /* forward the received message: frames are passed on, content intact */
    CHECK(pf_wire_send(push, r, 0) == PF_OK, "forward");
    pf_msg *r2 = NULL;
    CHECK(pf_wire_recv(pull, &r2, 0, NULL) == PF_OK && pf_msg_hash(r2) == h, "forwarded content intact");
    pf_msg_destroy(r2);

    /* garbage on the socket: rejected with a reason, the next good message still arrives */
    zmq_send(push, "hello", 5, 0);
    zmq_send(push, "PFLW", 4, ZMQ_SNDMORE);
    zmq_send(push, "x", 1, 0);
    for (int i = 0; i < 40; i++) zmq_send(push, "f", 1, i < 39 ? ZMQ_SNDMORE : 0); /* too many frames */
    pf_msg *eos = pf_msg_create(PF_MSG_EOS, "src.0");
    eos->count = 1;
    pf_wire_send(push, eos, 0);
    CHECK(pf_wire_recv(pull, &r, 0, NULL) == PF_EFORMAT && !r, "5-byte garbage rejected: %s", pf_errmsg());
    CHECK(pf_wire_recv(pull, &r, 0, NULL) == PF_EFORMAT && !r, "2-frame garbage rejected: %s", pf_errmsg());
    CHECK(pf_wire_recv(pull, &r, 0, NULL) == PF_EFORMAT && strstr(pf_errmsg(), "more than"), "40 frames rejected: %s", pf_errmsg());
    CHECK(pf_wire_recv(pull, &r, 0, NULL) == PF_OK && r->kind == PF_MSG_EOS && r->count == 1 && !strcmp(r->id, "src.0"), "EOS after garbage");
    pf_msg_destroy(r);

    /* clone is deep and equal */
    pf_msg *a = sample_window(), *b = pf_msg_clone(a);
    CHECK(b && pf_msg_hash(a) == pf_msg_hash(b) && pf_msg_samples(a) != pf_msg_samples(b), "clone");
    pf_msg_samples(b)[0] = 1e9f;
    CHECK(pf_msg_hash(a) != pf_msg_hash(b), "hash sees one changed sample");
    pf_msg_destroy(a);
    pf_msg_destroy(b);
    CHECK(pf_msg_window_create("x", 0, 0, 500, 0, 10) == NULL && strstr(pf_errmsg(), "out of range"), "zero leads refused");

    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

int main(void)
{
    test_header_roundtrip();
    test_sockets();
    return pf_test_done();
}
