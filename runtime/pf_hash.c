/* pf_hash: the order-independent content hash of a window; the sections it
 * covers are the table's "hashed" rows (pf_sections.def). */
#include "pf_hash.h"

#include <string.h>

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
    int n;
    const pf_sec_info *tab = pf_sec_table(&n);
    for (int t = 0; t < n; t++) {
        if (!tab[t].hashed) continue;
        const pf_section *s = pf_msg_find_const(m, tab[t].type);
        if (s) h = hash_bytes(mix(h, (uint64_t)tab[t].type), s->data, s->bytes);
    }
    return h;
}
