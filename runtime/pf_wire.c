#include "pf_wire.h"

#include "pf_error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

size_t pf_dtype_size(int dtype)
{
    switch (dtype) {
    case PF_DT_U8: return 1;
    case PF_DT_I32: return 4;
    case PF_DT_F32: return 4;
    case PF_DT_I64: case PF_DT_U64: case PF_DT_F64: return 8;
    default: return 0;
    }
}

/* Little-endian field access; the format is LE whatever the host is. */
static void put16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get32(const unsigned char *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = (v << 8) | p[i]; return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = (v << 8) | p[i]; return v; }

static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

size_t pf_section_count(const pf_section *s)
{
    size_t n = 1;
    for (int d = 0; d < s->ndim; d++) n *= s->dims[d];
    return n;
}

/* --- building ----------------------------------------------------------- */

pf_msg *pf_msg_create(int kind, const char *id)
{
    pf_msg *m = calloc(1, sizeof *m);
    if (!m) { pf_err(PF_ENOMEM, "pf_msg_create: out of memory"); return NULL; }
    m->kind = (uint16_t)kind;
    m->version = PF_WIRE_VERSION;
    if (id) snprintf(m->id, sizeof m->id, "%s", id);
    return m;
}

pf_msg *pf_msg_window_create(const char *id, uint64_t window_index, int64_t start_sample,
                             double sample_rate, uint32_t n_leads, uint32_t n_samples)
{
    if (n_leads == 0 || n_leads > PF_WIRE_MAX_LEADS || n_samples == 0 || n_samples > PF_WIRE_MAX_SAMPLES) {
        pf_err(PF_ERANGE, "window shape %u leads x %u samples out of range", n_leads, n_samples);
        return NULL;
    }
    pf_msg *m = pf_msg_create(PF_MSG_WINDOW, id);
    if (!m) return NULL;
    m->window_index = window_index;
    m->start_sample = start_sample;
    m->sample_rate = sample_rate;
    m->n_leads = n_leads;
    m->n_samples = n_samples;
    float *x = malloc((size_t)n_leads * n_samples * sizeof(float));
    uint32_t dims[2] = {n_leads, n_samples};
    if (!x || pf_msg_adopt(m, PF_SEC_SAMPLES, PF_DT_F32, 2, dims, x) != PF_OK) {
        free(x);
        pf_msg_destroy(m);
        pf_err(PF_ENOMEM, "window of %u x %u samples: out of memory", n_leads, n_samples);
        return NULL;
    }
    return m;
}

float *pf_msg_samples(pf_msg *m)
{
    pf_section *s = pf_msg_find(m, PF_SEC_SAMPLES);
    return s ? (float *)s->data : NULL;
}

static int add_section(pf_msg *m, int type, int dtype, int ndim, const uint32_t *dims, void *data, int owned)
{
    if (m->n_sections >= PF_WIRE_MAX_SECTIONS)
        return pf_err(PF_ERANGE, "message already has the maximum of %d sections", PF_WIRE_MAX_SECTIONS);
    if (ndim < 1 || ndim > PF_WIRE_MAX_DIMS) return pf_err(PF_ERANGE, "section ndim %d not in 1..4", ndim);
    size_t es = pf_dtype_size(dtype);
    if (!es) return pf_err(PF_EINVAL, "section dtype %d unknown", dtype);
    pf_section *s = &m->sec[m->n_sections];
    memset(s, 0, sizeof *s);
    s->type = (uint16_t)type;
    s->dtype = (uint8_t)dtype;
    s->ndim = (uint8_t)ndim;
    for (int d = 0; d < ndim; d++) s->dims[d] = dims[d];
    s->bytes = pf_section_count(s) * es;
    s->data = data;
    m->owned[m->n_sections] = (unsigned char)owned;
    m->n_sections++;
    return PF_OK;
}

int pf_msg_adopt(pf_msg *m, int type, int dtype, int ndim, const uint32_t *dims, void *data)
{
    return add_section(m, type, dtype, ndim, dims, data, 1);
}

int pf_msg_add(pf_msg *m, int type, int dtype, int ndim, const uint32_t *dims, const void *data)
{
    size_t es = pf_dtype_size(dtype), n = 1;
    if (!es) return pf_err(PF_EINVAL, "section dtype %d unknown", dtype);
    for (int d = 0; d < ndim && d < PF_WIRE_MAX_DIMS; d++) n *= dims[d];
    size_t bytes = n * es;
    void *copy = malloc(bytes > 0 ? bytes : 1);
    if (!copy) return pf_err(PF_ENOMEM, "section of %zu bytes: out of memory", bytes);
    if (bytes > 0) memcpy(copy, data, bytes);
    int rc = add_section(m, type, dtype, ndim, dims, copy, 1);
    if (rc) free(copy);
    return rc;
}

pf_section *pf_msg_find(pf_msg *m, int type)
{
    for (int i = 0; i < m->n_sections; i++)
        if (m->sec[i].type == type) return &m->sec[i];
    return NULL;
}

const pf_section *pf_msg_find_const(const pf_msg *m, int type)
{
    return pf_msg_find((pf_msg *)m, type);
}

pf_msg *pf_msg_clone(const pf_msg *m)
{
    pf_msg *c = pf_msg_create(m->kind, m->id);
    if (!c) return NULL;
    memcpy(c, m, offsetof(pf_msg, n_sections));
    for (int i = 0; i < m->n_sections; i++) {
        const pf_section *s = &m->sec[i];
        if (pf_msg_add(c, s->type, s->dtype, s->ndim, s->dims, s->data) != PF_OK) {
            pf_msg_destroy(c);
            return NULL;
        }
    }
    return c;
}

pf_msg *pf_msg_take(pf_msg *m)
{
    pf_msg *t = malloc(sizeof *t);
    if (!t) { pf_err(PF_ENOMEM, "pf_msg_take: out of memory"); return NULL; }
    *t = *m;
    m->frames = NULL;
    m->n_frames = 0;
    m->n_sections = 0;
    memset(m->owned, 0, sizeof m->owned);
    return t;
}

void pf_msg_destroy(pf_msg *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_sections; i++)
        if (m->owned[i]) free(m->sec[i].data);
    if (m->frames) {
        zmq_msg_t *f = m->frames;
        for (int i = 0; i < m->n_frames; i++) zmq_msg_close(&f[i]);
        free(f);
    }
    free(m);
}

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

int pf_wire_validate(const pf_msg *m)
{
    if (m->kind == PF_MSG_WINDOW) {
        if (!isfinite(m->sample_rate) || m->sample_rate <= 0)
            return pf_err(PF_EFORMAT, "window '%s' #%llu: sample_rate %g is not a positive finite number", m->id, (unsigned long long)m->window_index, m->sample_rate);
        if (m->n_leads == 0 || m->n_leads > PF_WIRE_MAX_LEADS || m->n_samples == 0 || m->n_samples > PF_WIRE_MAX_SAMPLES)
            return pf_err(PF_EFORMAT, "window '%s': shape %u x %u out of range", m->id, m->n_leads, m->n_samples);
        int nsamp = 0;
        for (int i = 0; i < m->n_sections; i++) {
            const pf_section *s = &m->sec[i];
            switch (s->type) {
            case PF_SEC_SAMPLES:
                nsamp++;
                if (s->dtype != PF_DT_F32 || s->ndim != 2 || s->dims[0] != m->n_leads || s->dims[1] != m->n_samples)
                    return pf_err(PF_EFORMAT, "window '%s': sample section must be f32 [%u, %u]", m->id, m->n_leads, m->n_samples);
                break;
            case PF_SEC_RPEAKS: case PF_SEC_ADJ_RPEAKS:
                if (s->dtype != PF_DT_I64 || s->ndim != 1)
                    return pf_err(PF_EFORMAT, "window '%s': R-peak section must be i64 [n]", m->id);
                break;
            case PF_SEC_RPEAKS_AUG:
                if (s->dtype != PF_DT_I64 || s->ndim != 2)
                    return pf_err(PF_EFORMAT, "window '%s': augmented R-peak section must be i64 [views, n]", m->id);
                break;
            case PF_SEC_BEATS:
                if (s->dtype != PF_DT_I64 || s->ndim != 2 || s->dims[1] != 9)
                    return pf_err(PF_EFORMAT, "window '%s': beat section must be i64 [beats, 9]", m->id);
                break;
            case PF_SEC_VIEWS:
                if (s->dtype != PF_DT_F32 || s->ndim != 3 || s->dims[1] != m->n_leads || s->dims[2] != m->n_samples)
                    return pf_err(PF_EFORMAT, "window '%s': view section must be f32 [views, %u, %u]", m->id, m->n_leads, m->n_samples);
                break;
            case PF_SEC_ADJ_SAMPLES:
                if (s->dtype != PF_DT_F32 || s->ndim != 2 || s->dims[0] != m->n_leads || s->dims[1] != m->n_samples)
                    return pf_err(PF_EFORMAT, "window '%s': adjacent-window section must be f32 [%u, %u]", m->id, m->n_leads, m->n_samples);
                break;
            case PF_SEC_LABELS:
                if ((s->dtype != PF_DT_I64 && s->dtype != PF_DT_F32) || s->ndim != 1)
                    return pf_err(PF_EFORMAT, "window '%s': label section must be i64 or f32 [n]", m->id);
                break;
            case PF_SEC_FEATURES:
                if (s->dtype != PF_DT_F32 || s->ndim != 1)
                    return pf_err(PF_EFORMAT, "window '%s': feature section must be f32 [n]", m->id);
                break;
            case PF_SEC_LEAD_NAMES: case PF_SEC_NAME:
                if (s->dtype != PF_DT_U8 || s->ndim != 1)
                    return pf_err(PF_EFORMAT, "window '%s': name section must be u8 [n]", m->id);
                break;
            default: break; /* unknown types are skipped: forward compatibility */
            }
        }
        if (nsamp != 1) return pf_err(PF_EFORMAT, "window '%s': %d sample sections (need exactly 1)", m->id, nsamp);
    }
    return PF_OK;
}

/* --- transport ---------------------------------------------------------- */

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
        if (e == EAGAIN) return PF_EAGAIN;
        if (e == EINTR) return pf_err(PF_EINTR, "send interrupted");
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

/* --- content hash ------------------------------------------------------- */

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v * 0x9E3779B97F4A7C15ull;
    h = (h << 31) | (h >> 33);
    return h * 0xBF58476D1CE4E5B9ull;
}

static uint64_t hash_bytes(uint64_t h, const void *data, size_t n)
{
    /* Four independent lanes so the multiply chains overlap: a 240 KB window
     * hashes in a few tens of microseconds. */
    const unsigned char *p = data;
    uint64_t a = h, b = h ^ 0x1234567ull, c = h ^ 0x89abcdefull, d = h ^ 0xfedcba98ull;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        uint64_t w[4];
        memcpy(w, p + i, 32);
        a = mix(a, w[0]); b = mix(b, w[1]); c = mix(c, w[2]); d = mix(d, w[3]);
    }
    for (; i < n; i++) a = mix(a, p[i]);
    return mix(mix(mix(mix(n, a), b), c), d);
}

uint64_t pf_msg_hash(const pf_msg *m)
{
    uint64_t h = hash_bytes(0x5046, m->id, strlen(m->id));
    h = mix(h, m->window_index);
    h = mix(h, (uint64_t)m->start_sample);
    uint64_t rate;
    memcpy(&rate, &m->sample_rate, 8);
    h = mix(h, rate);
    h = mix(h, ((uint64_t)m->n_leads << 32) | m->n_samples);
    static const int types[] = {PF_SEC_SAMPLES, PF_SEC_RPEAKS, PF_SEC_LABELS, PF_SEC_FEATURES};
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        const pf_section *s = pf_msg_find_const(m, types[t]);
        if (s) h = hash_bytes(mix(h, (uint64_t)types[t]), s->data, s->bytes);
    }
    return h;
}
