/* pf_wire: encoding and decoding of the header frame, and the semantic
 * validation of a decoded message against the section table. */
#include "pf_wire.h"

#include "pf_error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Little-endian field access; the format is LE whatever the host is. */
static void put16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get32(const unsigned char *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = (v << 8) | p[i]; return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = (v << 8) | p[i]; return v; }

static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

/* --- header encode/decode ---------------------------------------------- */

size_t pf_wire_header_size(const pf_msg *m)
{
    return PF_WIRE_FIXED_BYTES + (size_t)m->n_sections * PF_WIRE_SECTION_BYTES + pad8(strlen(m->id));
}

int pf_wire_encode_header(const pf_msg *m, unsigned char *buf, size_t cap)
{
    size_t idlen = strlen(m->id), need = pf_wire_header_size(m);
    if (cap < need) return pf_err(PF_ERANGE, "header buffer of %zu bytes, need %zu", cap, need);
    memset(buf, 0, need);
    put32(buf + 0, PF_WIRE_MAGIC);
    put16(buf + 4, PF_WIRE_VERSION);
    put16(buf + 6, m->kind);
    put32(buf + 8, (uint32_t)need);
    put16(buf + 12, (uint16_t)m->n_sections);
    put16(buf + 14, (uint16_t)idlen);
    put64(buf + 16, m->window_index);
    put64(buf + 24, (uint64_t)m->start_sample);
    uint64_t rate;
    memcpy(&rate, &m->sample_rate, 8);
    put64(buf + 32, rate);
    put32(buf + 40, m->n_leads);
    put32(buf + 44, m->n_samples);
    put32(buf + 48, m->epoch);
    put32(buf + 52, m->flags);
    put64(buf + 56, m->count);
    unsigned char *p = buf + PF_WIRE_FIXED_BYTES;
    for (int i = 0; i < m->n_sections; i++, p += PF_WIRE_SECTION_BYTES) {
        const pf_section *s = &m->sec[i];
        put16(p, s->type);
        p[2] = s->dtype;
        p[3] = s->ndim;
        for (int d = 0; d < PF_WIRE_MAX_DIMS; d++) put32(p + 8 + 4 * d, d < s->ndim ? s->dims[d] : 0);
    }
    memcpy(p, m->id, idlen);
    return (int)need;
}

int pf_wire_decode_header(const unsigned char *buf, size_t len, int n_frames_after,
                          const size_t *frame_sizes, pf_msg *m)
{
    if (len < PF_WIRE_FIXED_BYTES)
        return pf_err(PF_EFORMAT, "header frame of %zu bytes is shorter than the fixed %d", len, PF_WIRE_FIXED_BYTES);
    uint32_t magic = get32(buf);
    if (magic != PF_WIRE_MAGIC) return pf_err(PF_EFORMAT, "bad magic 0x%08x (expected 0x%08x \"PFLW\")", magic, PF_WIRE_MAGIC);
    uint16_t version = get16(buf + 4);
    if (version != PF_WIRE_VERSION) return pf_err(PF_EFORMAT, "unsupported wire version %u (this build speaks %d)", version, PF_WIRE_VERSION);
    uint16_t kind = get16(buf + 6);
    if (kind < PF_MSG_WINDOW || kind > PF_MSG_CONTROL) return pf_err(PF_EFORMAT, "unknown message kind %u", kind);
    uint32_t hbytes = get32(buf + 8);
    uint16_t nsec = get16(buf + 12), idlen = get16(buf + 14);
    if (nsec > PF_WIRE_MAX_SECTIONS) return pf_err(PF_EFORMAT, "%u sections exceed the maximum of %d", nsec, PF_WIRE_MAX_SECTIONS);
    if (idlen > PF_WIRE_MAX_ID) return pf_err(PF_EFORMAT, "id length %u exceeds %d", idlen, PF_WIRE_MAX_ID);
    size_t need = PF_WIRE_FIXED_BYTES + (size_t)nsec * PF_WIRE_SECTION_BYTES + pad8(idlen);
    if (hbytes != need || len != need)
        return pf_err(PF_EFORMAT, "header_bytes %u, frame %zu bytes, but %u sections and a %u-byte id need %zu", hbytes, len, nsec, idlen, need);
    if (n_frames_after != nsec)
        return pf_err(PF_EFORMAT, "header lists %u sections but %d payload frames followed", nsec, n_frames_after);
    memset(m, 0, offsetof(pf_msg, frames));
    m->kind = kind;
    m->version = version;
    m->window_index = get64(buf + 16);
    m->start_sample = (int64_t)get64(buf + 24);
    uint64_t rate = get64(buf + 32);
    memcpy(&m->sample_rate, &rate, 8);
    m->n_leads = get32(buf + 40);
    m->n_samples = get32(buf + 44);
    m->epoch = get32(buf + 48);
    m->flags = get32(buf + 52);
    m->count = get64(buf + 56);
    const unsigned char *p = buf + PF_WIRE_FIXED_BYTES;
    for (int i = 0; i < nsec; i++, p += PF_WIRE_SECTION_BYTES) {
        pf_section *s = &m->sec[i];
        s->type = get16(p);
        s->dtype = p[2];
        s->ndim = p[3];
        size_t es = pf_dtype_size(s->dtype);
        if (!es) return pf_err(PF_EFORMAT, "section %d: unknown dtype %u", i, s->dtype);
        if (s->ndim < 1 || s->ndim > PF_WIRE_MAX_DIMS) return pf_err(PF_EFORMAT, "section %d: ndim %u not in 1..4", i, s->ndim);
        uint64_t count = 1;
        for (int d = 0; d < PF_WIRE_MAX_DIMS; d++) {
            uint32_t dim = get32(p + 8 + 4 * d);
            if (d < s->ndim) {
                s->dims[d] = dim;
                count *= dim;
                if (count > (1ull << 40)) return pf_err(PF_EFORMAT, "section %d: element count overflows", i);
            } else if (dim) {
                return pf_err(PF_EFORMAT, "section %d: dim %d = %u beyond ndim %u", i, d, dim, s->ndim);
            }
        }
        s->bytes = (size_t)(count * es);
        if (s->bytes != frame_sizes[i])
            return pf_err(PF_EFORMAT, "section %d (type %u): shape says %zu bytes, frame has %zu", i, s->type, s->bytes, frame_sizes[i]);
    }
    m->n_sections = nsec;
    for (int i = 0; i < idlen; i++)
        if (p[i] == 0) return pf_err(PF_EFORMAT, "id contains a NUL byte at %d", i);
    memcpy(m->id, p, idlen);
    m->id[idlen] = 0;
    return pf_wire_validate(m);
}


static const char *dtype_name(int dt)
{
    static const char *n[] = {"?", "u8", "i32", "i64", "u64", "f32", "f64"};
    return dt >= 1 && dt <= 6 ? n[dt] : "?";
}

int pf_section_check(const pf_msg *m, const pf_section *s)
{
    const pf_sec_info *r = pf_sec_info_of(s->type);
    if (!r) return PF_OK; /* unknown types are skipped: forward compatibility */
    int ok = (r->dtypes >> s->dtype) & 1u;
    if (ok && r->ndim) {
        ok = s->ndim == r->ndim;
        for (int d = 0; ok && d < r->ndim; d++) {
            int rule = r->dims[d];
            uint32_t v = s->dims[d];
            if (rule == PF_DIM_LEADS) ok = v == m->n_leads;
            else if (rule == PF_DIM_SAMPLES) ok = v == m->n_samples;
            else if (rule == PF_DIM_TIME) ok = v >= 1 && v <= PF_WIRE_MAX_SAMPLES;
            else if (rule > 0) ok = v == (uint32_t)rule;
        }
    }
    if (ok) return PF_OK;
    char got[64];
    int k = snprintf(got, sizeof got, "%s [", dtype_name(s->dtype));
    for (int d = 0; d < s->ndim && k < (int)sizeof got; d++)
        k += snprintf(got + k, sizeof got - (size_t)k, d ? ", %u" : "%u", s->dims[d]);
    if (k < (int)sizeof got) snprintf(got + k, sizeof got - (size_t)k, "]");
    return pf_err(PF_EFORMAT, "window '%s' #%llu: %s section must be %s %s with L = %u, T = %u; got %s", m->id,
                  (unsigned long long)m->window_index, r->name, r->dtype_rule, r->shape, m->n_leads,
                  m->n_samples, got);
}

int pf_wire_validate(const pf_msg *m)
{
    if (m->kind != PF_MSG_WINDOW) return PF_OK;
    if (!isfinite(m->sample_rate) || m->sample_rate <= 0)
        return pf_err(PF_EFORMAT, "window '%s' #%llu: sample_rate %g is not a positive finite number", m->id, (unsigned long long)m->window_index, m->sample_rate);
    if (m->n_leads == 0 || m->n_leads > PF_WIRE_MAX_LEADS || m->n_samples == 0 || m->n_samples > PF_WIRE_MAX_SAMPLES)
        return pf_err(PF_EFORMAT, "window '%s': shape %u x %u out of range", m->id, m->n_leads, m->n_samples);
    int nsamp = 0;
    for (int i = 0; i < m->n_sections; i++) {
        if (m->sec[i].type == PF_SEC_SAMPLES) nsamp++;
        int rc = pf_section_check(m, &m->sec[i]);
        if (rc) return rc;
    }
    if (nsamp != 1) return pf_err(PF_EFORMAT, "window '%s': %d sample sections (need exactly 1)", m->id, nsamp);
    return PF_OK;
}
