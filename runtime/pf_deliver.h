/* pf_deliver: acknowledged delivery on the edges around replicated per-window
 * nodes (docs/protocol.md, "Acknowledged delivery").
 *
 * A sender keeps every window it sent on an acked edge (pf_pending) until
 * the receiving replica acknowledges it, and gives a replica at most `hwm`
 * unacknowledged windows (credit). The receiver acknowledges a window once
 * what it made of it was acknowledged downstream (pf_token counts those
 * outputs), so an ack means processed and forwarded. When a replica dies,
 * its sender redelivers what it holds for it to the survivors (or to its
 * restarted incarnation), and receivers drop the second copy of a window by
 * its key (epoch, record, window) with pf_dedupe.
 */
#ifndef PF_DELIVER_H
#define PF_DELIVER_H

#include "pf_msg.h"

#include <stdint.h>

/* An input window a node is working on: acknowledged upstream once process()
 * returned (done) and every output it caused was acknowledged (pending 0). */
typedef struct pf_token {
    int port, sender;   /* input port index, index of the sender in its plan */
    uint64_t seq;       /* the sender's sequence number of the window */
    int pending, done;
} pf_token;

/* A window sent on an acked edge and not yet acknowledged. */
typedef struct {
    uint64_t seq;
    pf_msg *copy;       /* the message as sent, without its DELIVERY section */
    pf_token *parent;   /* the input it was made from, or NULL */
} pf_pending;

typedef struct {
    pf_pending *v;
    int n, cap;
} pf_pending_list;

int pf_pending_push(pf_pending_list *l, pf_pending e);
/* Remove the entry with this sequence number: 1 (and *out) if it was there. */
int pf_pending_take(pf_pending_list *l, uint64_t seq, pf_pending *out);
/* Remove the oldest entry: 1 (and *out) if there was one. */
int pf_pending_pop_front(pf_pending_list *l, pf_pending *out);
void pf_pending_free(pf_pending_list *l); /* destroys the copies */

/* The identity of a window for duplicate detection: a 64-bit hash of
 * (kind, epoch, record id, window index, pair flags) and its content checksum
 * (pf_msg_hash): a redelivered window is bit-identical to its first copy. */
uint64_t pf_deliver_key(const pf_msg *m);
/* Append the DELIVERY section (u64 [1] = seq). */
int pf_deliver_stamp(pf_msg *m, uint64_t seq);
/* Remove the DELIVERY section: 1 and *seq if it was there, else 0. */
int pf_deliver_strip(pf_msg *m, uint64_t *seq);
/* The same without removing it. */
int pf_deliver_peek(const pf_msg *m, uint64_t *seq);
/* A sender's sequence numbers start at its incarnation (restarts so far,
 * PF_INCARNATION from the launcher) << 48, and its end-of-stream carries the
 * incarnation in `epoch`: a receiver tells a restarted replica's first
 * messages from ones still queued from its previous life without waiting
 * for the launcher's notice (which crosses hosts later than the data). */
#define PF_DELIVER_INC_SHIFT 48
#define PF_DELIVER_INCARNATION(seq) ((uint32_t)((seq) >> PF_DELIVER_INC_SHIFT))
/* On a ROUTER socket: CONTROL "ack" (count = seq) to the sender with this routing id. */
int pf_deliver_ack(void *router, const char *peer_id, uint64_t seq);
/* Several at once: CONTROL "acks" (count = n) with an ACKS section u64 [n].
 * A receiver batches its acks (pf_node.c): one message per PF_ACK_BATCH
 * windows, or fewer right before it waits for anything, so a sender at
 * its credit never waits on an ack held back in a batch. */
#define PF_ACK_BATCH 16
int pf_deliver_acks(void *router, const char *peer_id, const uint64_t *seq, int n);

/* Recently received keys, one ring per sender; the ring of a sender that
 * died is kept (a redelivered copy of what it forwarded can still come
 * through another sender), up to `keep_retired` of them. */
typedef struct pf_dedupe pf_dedupe;
pf_dedupe *pf_dedupe_create(int n_senders, int ring, int keep_retired);
/* 1 if key was seen in any ring (a duplicate: not recorded again), else
 * records it in the sender's ring and returns 0. */
int pf_dedupe_check(pf_dedupe *d, int sender, uint64_t key);
/* The sender died: freeze its ring among the retired ones, start a new one. */
void pf_dedupe_retire(pf_dedupe *d, int sender);
void pf_dedupe_destroy(pf_dedupe *d);

#endif
