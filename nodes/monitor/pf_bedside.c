/* pf_bedside: encoder / decoder of the bedside stream protocol (pf_bedside.h). */
#include "pf_bedside.h"

#include "pf_error.h"

#include <math.h>
#include <string.h>

static void put16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const unsigned char *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = v << 8 | p[i]; return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }
static void putf(unsigned char *p, float f) { uint32_t u; memcpy(&u, &f, 4); put32(p, u); }
static float getf(const unsigned char *p) { uint32_t u = get32(p); float f; memcpy(&f, &u, 4); return f; }

size_t pf_bs_size(const pf_bs_msg *m)
{
    if (m->type == PF_BS_INFO) return PF_BS_HEADER + m->info_len;
    return PF_BS_HEADER + (m->type == PF_BS_DATA ? (size_t)m->n_leads * m->n_samples * 2 : 0);
}

int16_t pf_bs_quantise(float mv, float gain)
{
    if (!isfinite(mv)) return PF_BS_INVALID;
    float v = roundf(mv * gain);
    if (v > 32767.f) v = 32767.f;
    if (v < -32767.f) v = -32767.f; /* -32768 is reserved for invalid */
    return (int16_t)v;
}

int pf_bs_encode(const pf_bs_msg *m, unsigned char *buf, size_t cap)
{
    size_t need = pf_bs_size(m);
    if (cap < need) return pf_err(PF_ERANGE, "bedside encode: %zu bytes needed, buffer has %zu", need, cap);
    memset(buf, 0, PF_BS_HEADER);
    put32(buf, PF_BS_MAGIC);
    put16(buf + 4, PF_BS_VERSION);
    put16(buf + 6, m->type);
    put32(buf + 8, m->bed);
    put32(buf + 12, m->session);
    put64(buf + 16, m->seq);
    put64(buf + 24, (uint64_t)m->t_us);
    put64(buf + 32, m->sample);
    putf(buf + 40, m->fs);
    put16(buf + 44, m->n_leads);
    put16(buf + 46, m->n_samples);
    putf(buf + 48, m->gain);
    put32(buf + 52, m->lead_off);
    if (m->type == PF_BS_INFO) memcpy(buf + PF_BS_HEADER, m->info, m->info_len);
    if (m->type == PF_BS_DATA) {
        unsigned char *p = buf + PF_BS_HEADER;
        size_t n = (size_t)m->n_leads * m->n_samples;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(p, m->samples, 2 * n); /* the wire is little-endian too (a sixth of a simulator's time, byte by byte) */
#else
        for (size_t i = 0; i < n; i++) put16(p + 2 * i, (uint16_t)m->samples[i]);
#endif
    }
    return (int)need;
}

int pf_bs_decode(const unsigned char *buf, size_t len, pf_bs_msg *m)
{
    memset(m, 0, sizeof *m);
    if (len < PF_BS_HEADER) return pf_err(PF_EFORMAT, "bedside message of %zu bytes, shorter than the %d-byte header", len, PF_BS_HEADER);
    if (get32(buf) != PF_BS_MAGIC) return pf_err(PF_EFORMAT, "bedside message: magic 0x%08x is not 'PFBS'", get32(buf));
    m->version = get16(buf + 4);
    if (m->version != PF_BS_VERSION) return pf_err(PF_EFORMAT, "bedside message: version %u, this station speaks %d", m->version, PF_BS_VERSION);
    m->type = get16(buf + 6);
    m->bed = get32(buf + 8);
    m->session = get32(buf + 12);
    m->seq = get64(buf + 16);
    m->t_us = (int64_t)get64(buf + 24);
    m->sample = get64(buf + 32);
    m->fs = getf(buf + 40);
    m->n_leads = get16(buf + 44);
    m->n_samples = get16(buf + 46);
    m->gain = getf(buf + 48);
    m->lead_off = get32(buf + 52);
    if (m->type < PF_BS_DATA || m->type > PF_BS_INFO) return pf_err(PF_EFORMAT, "bed %u: message type %u is not DATA, HEARTBEAT, BYE or INFO", m->bed, m->type);
    if (!m->session) return pf_err(PF_EFORMAT, "bed %u: session 0 (must be nonzero)", m->bed);
    if (m->type == PF_BS_INFO) {
        m->info_len = len - PF_BS_HEADER;
        if (m->info_len > PF_BS_MAX_INFO) return pf_err(PF_EFORMAT, "bed %u: INFO of %zu bytes, at most %d", m->bed, m->info_len, PF_BS_MAX_INFO);
        m->info = (const char *)buf + PF_BS_HEADER;
        for (size_t i = 0; i < m->info_len; i++)
            if (!m->info[i]) return pf_err(PF_EFORMAT, "bed %u: INFO holds a NUL byte at %zu", m->bed, i);
        return PF_OK;
    }
    if (m->type != PF_BS_DATA) {
        if (len != PF_BS_HEADER) return pf_err(PF_EFORMAT, "bed %u: %s of %zu bytes, expected %d", m->bed, m->type == PF_BS_BYE ? "BYE" : "HEARTBEAT", len, PF_BS_HEADER);
        return PF_OK;
    }
    if (!(m->fs > 0 && m->fs <= 100000)) return pf_err(PF_EFORMAT, "bed %u seq %llu: sample rate %g out of (0, 100000] Hz", m->bed, (unsigned long long)m->seq, (double)m->fs);
    if (!(m->gain > 0 && isfinite(m->gain))) return pf_err(PF_EFORMAT, "bed %u seq %llu: gain %g must be > 0", m->bed, (unsigned long long)m->seq, (double)m->gain);
    if (m->n_leads < 1 || m->n_leads > PF_BS_MAX_LEADS) return pf_err(PF_EFORMAT, "bed %u seq %llu: %u leads, allowed 1..%d", m->bed, (unsigned long long)m->seq, m->n_leads, PF_BS_MAX_LEADS);
    if (m->n_samples < 1 || m->n_samples > PF_BS_MAX_SAMPLES) return pf_err(PF_EFORMAT, "bed %u seq %llu: %u samples, allowed 1..%d", m->bed, (unsigned long long)m->seq, m->n_samples, PF_BS_MAX_SAMPLES);
    size_t need = pf_bs_size(m);
    if (len != need) return pf_err(PF_EFORMAT, "bed %u seq %llu: %zu bytes, %u leads x %u samples need %zu", m->bed, (unsigned long long)m->seq, len, m->n_leads, m->n_samples, need);
    /* Little-endian hosts only (as the rest of the wire code); samples used in place. */
    m->samples = (const int16_t *)(const void *)(buf + PF_BS_HEADER);
    return PF_OK;
}
