/* libFuzzer harness: the wire decoder (runtime/pf_wire.c), on what a peer can
 * send: a multipart message. Input layout: u8 n_frames (1..33), then n u16
 * little-endian frame lengths, then the frames' bytes back to back (short
 * input = short frames). Oracles: every rejection says why; an accepted
 * message's sections match their frames; hashing and cloning it read only
 * its own bytes (ASan); re-encoding its header and decoding that gives the
 * same message. */
#include "pf_error.h"
#include "pf_wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int n = data[0] % (PF_WIRE_MAX_SECTIONS + 2); /* one more than allowed: the decoder must refuse it */
    if (n == 0) return 0;
    size_t pos = 1, lens[PF_WIRE_MAX_SECTIONS + 2];
    for (int i = 0; i < n; i++) {
        lens[i] = pos + 2 <= size ? (size_t)(data[pos] | data[pos + 1] << 8) : 0;
        pos += 2;
    }
    /* each frame in its own heap block, so ASan sees any read past its end */
    unsigned char *frames[PF_WIRE_MAX_SECTIONS + 2];
    for (int i = 0; i < n; i++) {
        size_t avail = pos < size ? size - pos : 0, take = lens[i] < avail ? lens[i] : avail;
        lens[i] = take;
        frames[i] = malloc(take ? take : 1);
        if (take) memcpy(frames[i], data + pos, take);
        pos += take;
    }
    pf_msg *m = calloc(1, sizeof *m);
    pf_err_clear();
    int rc = pf_wire_decode_header(frames[0], lens[0], n - 1, lens + 1, m);
    if (rc != PF_OK) {
        if (rc != PF_EFORMAT || !pf_errmsg()[0]) abort(); /* every rejection says why */
    } else {
        if (m->n_sections != n - 1 || m->n_sections > PF_WIRE_MAX_SECTIONS || strlen(m->id) > PF_WIRE_MAX_ID) abort();
        for (int i = 0; i < m->n_sections; i++) {
            if (m->sec[i].bytes != lens[i + 1]) abort();
            /* as pf_wire_recv does: the runtime then owns an aligned copy */
            m->sec[i].data = malloc(lens[i + 1] ? lens[i + 1] : 1);
            memcpy(m->sec[i].data, frames[i + 1], lens[i + 1]);
            m->owned[i] = 1;
        }
        if (m->kind == PF_MSG_WINDOW) {
            const pf_section *s = pf_msg_find_const(m, PF_SEC_SAMPLES);
            if (!s || s->bytes != (size_t)m->n_leads * m->n_samples * 4) abort();
            (void)pf_msg_hash(m);
        }
        pf_msg *c = pf_msg_clone(m);
        if (c) {
            unsigned char hdr[PF_WIRE_FIXED_BYTES + PF_WIRE_MAX_SECTIONS * PF_WIRE_SECTION_BYTES + PF_WIRE_MAX_ID + 8];
            int hl = pf_wire_encode_header(c, hdr, sizeof hdr);
            if (hl < 0 || (size_t)hl != lens[0]) abort();
            pf_msg *d = calloc(1, sizeof *d);
            if (pf_wire_decode_header(hdr, (size_t)hl, n - 1, lens + 1, d) != PF_OK) abort();
            if (d->kind != m->kind || d->window_index != m->window_index || d->n_sections != m->n_sections || strcmp(d->id, m->id) ||
                d->count != m->count || d->flags != m->flags || memcmp(&d->sample_rate, &m->sample_rate, 8))
                abort();
            for (int i = 0; i < d->n_sections; i++)
                if (d->sec[i].type != m->sec[i].type || d->sec[i].bytes != m->sec[i].bytes) abort();
            free(d);
            pf_msg_destroy(c);
        }
    }
    pf_msg_destroy(m);
    for (int i = 0; i < n; i++) free(frames[i]);
    return 0;
}
