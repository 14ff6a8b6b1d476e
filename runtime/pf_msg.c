/* pf_msg: the message object: header fields plus typed sections, built by
 * nodes, received zero-copy from ZeroMQ frames (docs/protocol.md). */
#include "pf_msg.h"

#include "pf_error.h"
#include "pf_wire.h"

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

static void drop_section(pf_msg *m, int i)
{
    if (m->owned[i]) free(m->sec[i].data);
    /* a received frame stays with m->frames; only the section entry goes */
    memmove(&m->sec[i], &m->sec[i + 1], (size_t)(m->n_sections - i - 1) * sizeof *m->sec);
    memmove(&m->owned[i], &m->owned[i + 1], (size_t)(m->n_sections - i - 1));
    m->n_sections--;
}

int pf_msg_remove(pf_msg *m, int type)
{
    int removed = 0;
    for (int i = m->n_sections - 1; i >= 0; i--)
        if (m->sec[i].type == type) { drop_section(m, i); removed++; }
    return removed;
}

int pf_msg_replace_adopt(pf_msg *m, int type, int dtype, int ndim, const uint32_t *dims, void *data)
{
    int at = -1;
    for (int i = 0; i < m->n_sections && at < 0; i++)
        if (m->sec[i].type == type) at = i;
    int rc;
    if (at < 0) {
        rc = pf_msg_adopt(m, type, dtype, ndim, dims, data);
    } else {
        /* write the new entry over slot `at`: add_section fills sec[n_sections] */
        int n = m->n_sections;
        pf_section old = m->sec[at];
        unsigned char old_owned = m->owned[at];
        m->n_sections = at;
        rc = add_section(m, type, dtype, ndim, dims, data, 1);
        m->n_sections = n;
        if (rc) {
            m->sec[at] = old;
            m->owned[at] = old_owned;
        } else if (old_owned) {
            free(old.data);
        }
    }
    if (rc) free(data);
    return rc;
}

int pf_msg_replace(pf_msg *m, int type, int dtype, int ndim, const uint32_t *dims, const void *data)
{
    size_t es = pf_dtype_size(dtype), n = 1;
    if (!es) return pf_err(PF_EINVAL, "section dtype %d unknown", dtype);
    for (int d = 0; d < ndim && d < PF_WIRE_MAX_DIMS; d++) n *= dims[d];
    void *copy = malloc(n * es > 0 ? n * es : 1);
    if (!copy) return pf_err(PF_ENOMEM, "section of %zu bytes: out of memory", n * es);
    if (n * es > 0) memcpy(copy, data, n * es);
    return pf_msg_replace_adopt(m, type, dtype, ndim, dims, copy);
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

