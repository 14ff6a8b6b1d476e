/* pf_deliver: the pieces of acknowledged delivery (pf_deliver.h); pf_node
 * drives them. */
#include "pf_deliver.h"

#include "pf_error.h"
#include "pf_hash.h"
#include "pf_transport.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* --- pending windows -------------------------------------------------------- */

int pf_pending_push(pf_pending_list *l, pf_pending e)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        pf_pending *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return pf_err(PF_ENOMEM, "acknowledged delivery: out of memory");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = e;
    return PF_OK;
}

static void remove_at(pf_pending_list *l, int i, pf_pending *out)
{
    *out = l->v[i];
    memmove(&l->v[i], &l->v[i + 1], (size_t)(l->n - i - 1) * sizeof *l->v);
    l->n--;
}

int pf_pending_take(pf_pending_list *l, uint64_t seq, pf_pending *out)
{
    /* acks come in order almost always: the oldest entry first */
    for (int i = 0; i < l->n; i++)
        if (l->v[i].seq == seq) { remove_at(l, i, out); return 1; }
    return 0;
}

int pf_pending_pop_front(pf_pending_list *l, pf_pending *out)
{
    if (!l->n) return 0;
    remove_at(l, 0, out);
    return 1;
}

void pf_pending_free(pf_pending_list *l)
{
    for (int i = 0; i < l->n; i++) pf_msg_destroy(l->v[i].copy);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* --- keys, stamps, acks --------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 0x100000001b3ull; }
    return h;
}

uint64_t pf_deliver_key(const pf_msg *m)
{
    uint64_t h = 0xcbf29ce484222325ull;
    uint32_t f = m->flags & (PF_FLAG_PAIR_FIRST | PF_FLAG_PAIR_SECOND);
    uint64_t idx = m->kind == PF_MSG_TENSOR ? m->count : m->window_index; /* a TENSOR's step */
    h = fnv(h, &m->kind, sizeof m->kind);
    h = fnv(h, &m->epoch, sizeof m->epoch);
    h = fnv(h, &idx, sizeof idx);
    h = fnv(h, &f, sizeof f);
    h = fnv(h, m->id, strlen(m->id));
    /* and the content checksum: a live bed whose sequence restarts after a
     * reconnect reuses (record, window) with other samples, which is no duplicate */
    uint64_t c = m->kind == PF_MSG_WINDOW ? pf_msg_hash(m) : 0;
    return fnv(h, &c, sizeof c);
}

int pf_deliver_stamp(pf_msg *m, uint64_t seq)
{
    uint32_t one = 1;
    pf_msg_remove(m, PF_SEC_DELIVERY); /* one from an earlier edge is not ours */
    return pf_msg_add(m, PF_SEC_DELIVERY, PF_DT_U64, 1, &one, &seq);
}

int pf_deliver_strip(pf_msg *m, uint64_t *seq)
{
    const pf_section *s = pf_msg_find_const(m, PF_SEC_DELIVERY);
    if (!s || s->dtype != PF_DT_U64 || s->bytes != sizeof(uint64_t)) return 0;
    memcpy(seq, s->data, sizeof *seq);
    pf_msg_remove(m, PF_SEC_DELIVERY);
    return 1;
}

int pf_deliver_peek(const pf_msg *m, uint64_t *seq)
{
    const pf_section *s = pf_msg_find_const(m, PF_SEC_DELIVERY);
    if (!s || s->dtype != PF_DT_U64 || s->bytes != sizeof(uint64_t)) return 0;
    memcpy(seq, s->data, sizeof *seq);
    return 1;
}

int pf_deliver_ack(void *router, const char *peer_id, uint64_t seq)
{
    pf_msg *ack = pf_msg_create(PF_MSG_CONTROL, "ack");
    if (!ack) return PF_ENOMEM;
    ack->count = seq;
    /* ROUTER sends never block; an ack to a vanished peer is dropped (its sender redelivers) */
    if (zmq_send(router, peer_id, strlen(peer_id), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        pf_msg_destroy(ack);
        return PF_OK;
    }
    int rc = pf_wire_send(router, ack, ZMQ_DONTWAIT);
    if (rc == PF_EAGAIN) pf_msg_destroy(ack);
    return rc == PF_EAGAIN ? PF_OK : rc;
}

/* --- duplicate detection ------------------------------------------------------- */

/* A fixed pool of rings (one per sender plus the retired ones); every slot
 * in use is chained into a hash bucket, so a lookup walks one short chain. */
struct pf_dedupe {
    int ring, n_rings, n_senders, keep_retired;
    uint64_t *key;        /* [n_rings * ring] */
    int *next;            /* bucket chain, -1 ends */
    unsigned char *used;
    int *cursor;          /* per ring: next slot to overwrite */
    int *active;          /* per sender: its ring */
    int *retired, n_retired; /* FIFO of retired rings, oldest first */
    int *free_rings, n_free;
    int *bucket;
    uint64_t mask;
};

pf_dedupe *pf_dedupe_create(int n_senders, int ring, int keep_retired)
{
    pf_dedupe *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->ring = ring;
    d->n_senders = n_senders;
    d->keep_retired = keep_retired;
    d->n_rings = n_senders + keep_retired + 1;
    size_t slots = (size_t)d->n_rings * (size_t)ring;
    size_t nb = 1;
    while (nb < 2 * slots) nb <<= 1;
    d->mask = nb - 1;
    d->key = calloc(slots, sizeof *d->key);
    d->next = malloc(slots * sizeof *d->next);
    d->used = calloc(slots, 1);
    d->cursor = calloc((size_t)d->n_rings, sizeof *d->cursor);
    d->active = calloc((size_t)n_senders, sizeof *d->active);
    d->retired = calloc((size_t)d->n_rings, sizeof *d->retired);
    d->free_rings = calloc((size_t)d->n_rings, sizeof *d->free_rings);
    d->bucket = malloc(nb * sizeof *d->bucket);
    if (!d->key || !d->next || !d->used || !d->cursor || !d->active || !d->retired || !d->free_rings || !d->bucket) {
        pf_dedupe_destroy(d);
        return NULL;
    }
    memset(d->bucket, 0xff, nb * sizeof *d->bucket);
    /* touch the whole pool now: a retired sender's fresh ring would otherwise
     * grow the resident memory later, which a soak cannot tell from a leak */
    memset(d->key, 0, slots * sizeof *d->key);
    memset(d->next, 0xff, slots * sizeof *d->next);
    memset(d->used, 0, slots);
    for (int s = 0; s < n_senders; s++) d->active[s] = s;
    for (int r = d->n_rings - 1; r >= n_senders; r--) d->free_rings[d->n_free++] = r;
    return d;
}

static uint64_t mix(uint64_t k) { k ^= k >> 33; k *= 0xff51afd7ed558ccdull; k ^= k >> 33; return k; }

static void unlink_slot(pf_dedupe *d, int s)
{
    int *p = &d->bucket[mix(d->key[s]) & d->mask];
    while (*p >= 0 && *p != s) p = &d->next[*p];
    if (*p == s) *p = d->next[s];
    d->used[s] = 0;
}

static void clear_ring(pf_dedupe *d, int r)
{
    for (int i = 0; i < d->ring; i++) {
        int s = r * d->ring + i;
        if (d->used[s]) unlink_slot(d, s);
    }
    d->cursor[r] = 0;
}

int pf_dedupe_check(pf_dedupe *d, int sender, uint64_t key)
{
    for (int s = d->bucket[mix(key) & d->mask]; s >= 0; s = d->next[s])
        if (d->key[s] == key) return 1;
    if (sender < 0 || sender >= d->n_senders) return 0;
    int r = d->active[sender], s = r * d->ring + d->cursor[r];
    if (d->used[s]) unlink_slot(d, s);
    d->key[s] = key;
    d->used[s] = 1;
    uint64_t b = mix(key) & d->mask;
    d->next[s] = d->bucket[b];
    d->bucket[b] = s;
    d->cursor[r] = (d->cursor[r] + 1) % d->ring;
    return 0;
}

void pf_dedupe_retire(pf_dedupe *d, int sender)
{
    if (!d || sender < 0 || sender >= d->n_senders) return;
    if (d->n_retired == d->keep_retired) { /* forget the oldest retired ring */
        int old = d->retired[0];
        memmove(d->retired, d->retired + 1, (size_t)(d->n_retired - 1) * sizeof *d->retired);
        d->n_retired--;
        clear_ring(d, old);
        d->free_rings[d->n_free++] = old;
    }
    if (d->keep_retired > 0) d->retired[d->n_retired++] = d->active[sender];
    else clear_ring(d, d->active[sender]), d->free_rings[d->n_free++] = d->active[sender];
    d->active[sender] = d->free_rings[--d->n_free];
    clear_ring(d, d->active[sender]);
}

void pf_dedupe_destroy(pf_dedupe *d)
{
    if (!d) return;
    free(d->key);
    free(d->next);
    free(d->used);
    free(d->cursor);
    free(d->active);
    free(d->retired);
    free(d->free_rings);
    free(d->bucket);
    free(d);
}

int pf_deliver_acks(void *router, const char *peer_id, const uint64_t *seq, int n)
{
    if (n == 1) return pf_deliver_ack(router, peer_id, seq[0]);
    pf_msg *ack = pf_msg_create(PF_MSG_CONTROL, "acks");
    if (!ack) return PF_ENOMEM;
    ack->count = (uint64_t)n;
    uint32_t dims[1] = {(uint32_t)n};
    if (pf_msg_add(ack, PF_SEC_ACKS, PF_DT_U64, 1, dims, seq) != PF_OK) { pf_msg_destroy(ack); return PF_ENOMEM; }
    if (zmq_send(router, peer_id, strlen(peer_id), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        pf_msg_destroy(ack);
        return PF_OK;
    }
    int rc = pf_wire_send(router, ack, ZMQ_DONTWAIT);
    if (rc == PF_EAGAIN) pf_msg_destroy(ack);
    return rc == PF_EAGAIN ? PF_OK : rc;
}
