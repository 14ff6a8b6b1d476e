/* pf_transport: messages over ZeroMQ sockets: multipart send (zero-copy for
 * owned buffers and forwarded frames), receive with validation, end-of-stream
 * acknowledgement. */
#include "pf_transport.h"

#include "pf_error.h"
#include "pf_wire.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static void free_owned(void *data, void *hint) { (void)hint; free(data); }

int pf_wire_send(void *zsock, pf_msg *m, int zmq_flags)
{
    size_t hsize = pf_wire_header_size(m);
    zmq_msg_t hdr;
    if (zmq_msg_init_size(&hdr, hsize)) return pf_err(PF_ENOMEM, "zmq_msg_init_size(%zu) failed", hsize);
    pf_wire_encode_header(m, zmq_msg_data(&hdr), hsize);
    int more = m->n_sections ? ZMQ_SNDMORE : 0;
    if (zmq_msg_send(&hdr, zsock, zmq_flags | more) < 0) {
        int e = zmq_errno();
        zmq_msg_close(&hdr);
        /* EINTR: a signal (a death notice, SIGRTMIN+2) interrupted the call before the
         * message was queued: nothing went out, the caller retries as when the queue is full */
        if (e == EAGAIN || e == EINTR) return PF_EAGAIN;
        pf_msg_destroy(m);
        return pf_err(PF_EIO, "zmq send failed: %s", zmq_strerror(e));
    }
    /* Multipart messages are atomic: once the first part is queued the rest
     * are accepted without blocking. */
    zmq_msg_t *frames = m->frames;
    int rc = PF_OK;
    for (int i = 0; i < m->n_sections; i++) {
        pf_section *s = &m->sec[i];
        zmq_msg_t part;
        int flags = (i + 1 < m->n_sections) ? ZMQ_SNDMORE : 0;
        if (m->owned[i] && s->bytes) {
            /* zero-copy: ZeroMQ frees the buffer once it has been transmitted */
            zmq_msg_init_data(&part, s->data, s->bytes, free_owned, NULL);
            m->owned[i] = 0;
            s->data = NULL;
        } else if (frames && i + 1 < m->n_frames && s->data == zmq_msg_data(&frames[i + 1])
                   && zmq_msg_size(&frames[i + 1]) == s->bytes) {
            /* forwarding a received frame: share it, no copy */
            zmq_msg_init(&part);
            zmq_msg_move(&part, &frames[i + 1]);
        } else {
            zmq_msg_init_size(&part, s->bytes);
            if (s->bytes) memcpy(zmq_msg_data(&part), s->data, s->bytes);
        }
        if (zmq_msg_send(&part, zsock, flags) < 0) {
            zmq_msg_close(&part);
            rc = pf_err(PF_EIO, "zmq send of section %d failed: %s", i, zmq_strerror(zmq_errno()));
            break;
        }
    }
    pf_msg_destroy(m);
    return rc;
}

static int recv_frames(void *zsock, pf_msg **out, int zmq_flags, size_t *bytes_out, int routed)
{
    *out = NULL;
    unsigned char peer[32];
    int peer_len = 0;
    if (routed) {
        zmq_msg_t id;
        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, zsock, zmq_flags) < 0) {
            int e = zmq_errno();
            zmq_msg_close(&id);
            if (e == EAGAIN) return PF_EAGAIN;
            if (e == EINTR) return PF_EINTR;
            return pf_err(PF_EIO, "zmq receive failed: %s", zmq_strerror(e));
        }
        peer_len = (int)(zmq_msg_size(&id) < sizeof peer ? zmq_msg_size(&id) : sizeof peer);
        memcpy(peer, zmq_msg_data(&id), (size_t)peer_len);
        int more = zmq_msg_more(&id);
        zmq_msg_close(&id);
        if (!more) return pf_err(PF_EFORMAT, "empty message");
        zmq_flags = 0; /* the rest of a multipart message is already here */
    }
    int cap = 8, n = 0;
    zmq_msg_t *f = malloc((size_t)cap * sizeof *f);
    if (!f) return pf_err(PF_ENOMEM, "receive: out of memory");
    size_t total = 0;
    int more = 1, rc = PF_OK;
    while (more) {
        if (n == cap) {
            zmq_msg_t *g = realloc(f, (size_t)cap * 2 * sizeof *f);
            if (!g) { rc = pf_err(PF_ENOMEM, "receive: out of memory"); break; }
            f = g;
            cap *= 2;
        }
        zmq_msg_init(&f[n]);
        if (zmq_msg_recv(&f[n], zsock, n == 0 ? zmq_flags : 0) < 0) {
            int e = zmq_errno();
            zmq_msg_close(&f[n]);
            if (n == 0) {
                free(f);
                if (e == EAGAIN) return PF_EAGAIN;
                if (e == EINTR) return PF_EINTR;
                return pf_err(PF_EIO, "zmq receive failed: %s", zmq_strerror(e));
            }
            rc = pf_err(PF_EIO, "zmq receive of frame %d failed: %s", n, zmq_strerror(e));
            break;
        }
        total += zmq_msg_size(&f[n]);
        more = zmq_msg_more(&f[n]);
        n++;
        if (n > PF_WIRE_MAX_SECTIONS + 1 && more) {
            /* Too many frames: swallow the rest of this message, then reject. */
            zmq_msg_t junk;
            while (more) {
                zmq_msg_init(&junk);
                if (zmq_msg_recv(&junk, zsock, 0) < 0) { zmq_msg_close(&junk); break; }
                total += zmq_msg_size(&junk);
                more = zmq_msg_more(&junk);
                zmq_msg_close(&junk);
            }
            rc = pf_err(PF_EFORMAT, "message has more than %d frames", PF_WIRE_MAX_SECTIONS + 1);
        }
    }
    if (bytes_out) *bytes_out = total;
    pf_msg *m = NULL;
    if (rc == PF_OK) {
        size_t sizes[PF_WIRE_MAX_SECTIONS + 1];
        int nafter = n - 1 > PF_WIRE_MAX_SECTIONS ? PF_WIRE_MAX_SECTIONS : n - 1;
        for (int i = 0; i < nafter; i++) sizes[i] = zmq_msg_size(&f[i + 1]);
        m = calloc(1, sizeof *m);
        if (!m) rc = pf_err(PF_ENOMEM, "receive: out of memory");
        else rc = pf_wire_decode_header(zmq_msg_data(&f[0]), zmq_msg_size(&f[0]), n - 1, sizes, m);
    }
    if (rc == PF_OK) {
        for (int i = 0; i < m->n_sections; i++) {
            pf_section *s = &m->sec[i];
            void *d = zmq_msg_data(&f[i + 1]);
            size_t es = pf_dtype_size(s->dtype);
            if (s->bytes && ((uintptr_t)d % es)) {
                /* ZeroMQ may hand out frames at any offset; typed access needs alignment. */
                void *copy = malloc(s->bytes);
                if (!copy) { rc = pf_err(PF_ENOMEM, "receive: out of memory"); break; }
                memcpy(copy, d, s->bytes);
                s->data = copy;
                m->owned[i] = 1;
            } else {
                s->data = d;
            }
        }
    }
    if (rc != PF_OK) {
        for (int i = 0; i < n; i++) zmq_msg_close(&f[i]);
        free(f);
        if (m) { m->frames = NULL; pf_msg_destroy(m); }
        return rc;
    }
    m->frames = f;
    m->n_frames = n;
    memcpy(m->peer, peer, (size_t)peer_len);
    m->peer_len = peer_len;
    *out = m;
    return PF_OK;
}

int pf_wire_recv(void *zsock, pf_msg **out, int zmq_flags, size_t *bytes_out)
{
    return recv_frames(zsock, out, zmq_flags, bytes_out, 0);
}

int pf_wire_recv_routed(void *zsock, pf_msg **out, int zmq_flags, size_t *bytes_out)
{
    return recv_frames(zsock, out, zmq_flags, bytes_out, 1);
}

int pf_wire_ack_eos(void *zsock, const pf_msg *eos)
{
    pf_msg *ack = pf_msg_create(PF_MSG_CONTROL, "eos-ack");
    if (!ack) return PF_ENOMEM;
    ack->count = eos->count;
    /* ROUTER sends never block; an ack to a vanished peer is dropped */
    if (zmq_send(zsock, eos->peer, (size_t)eos->peer_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        pf_msg_destroy(ack);
        return pf_err(PF_EIO, "acknowledging end-of-stream from %s: %s", eos->id, zmq_strerror(zmq_errno()));
    }
    int rc = pf_wire_send(zsock, ack, ZMQ_DONTWAIT);
    if (rc == PF_EAGAIN) pf_msg_destroy(ack);
    return rc == PF_EAGAIN ? PF_OK : rc;
}
