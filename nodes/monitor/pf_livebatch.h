/* pf_livebatch: many beds' chunks in one message between `live` and `monitor`.
 *
 * At 500 beds x 25 chunks/s a message per chunk costs more than the monitoring
 * itself (ZeroMQ signalling and wake-ups, per-message decode, allocation;
 * bench/monitor/README.md). With `batch` > 1 the live node gathers the chunks
 * of one receive burst (up to `batch`) into one WINDOW message:
 *   SAMPLES    f32 [1, total]  every chunk's samples, lead-major, back to back
 *   LIVE_BATCH i64 [K, PF_LB_N + PF_LM_N]  per chunk its layout (PF_LB_*) then
 *              its LIVE_META row (pf_live.h)
 *   LEAD_NAMES u8 [n]          the chunks' lead names back to back (PF_LB_NAMES_*)
 * A chunk's bed, order and bookkeeping are exactly those of the single-chunk
 * message it replaces; nothing is merged or resampled. */
#ifndef PF_LIVEBATCH_H
#define PF_LIVEBATCH_H

#include "pf_live.h"
#include "pf_msg.h"

#include <stdint.h>

enum { PF_LB_START /* bed timeline */, PF_LB_SEQ, PF_LB_N_SAMPLES, PF_LB_N_LEADS, PF_LB_FS_UHZ /* sample rate x 1e6 */,
       PF_LB_SAMPLE_OFF /* into SAMPLES */, PF_LB_NAMES_OFF, PF_LB_NAMES_LEN, PF_LB_N };

/* One chunk, as a single-chunk message or a batch row carries it (views, not copies). */
typedef struct {
    const int64_t *meta;   /* PF_LM_N */
    int64_t start;
    uint64_t seq;
    double fs;
    int n_leads, n;
    const float *x;        /* lead-major [n_leads][n] */
    const char *names; int names_len;
} pf_livechunk;

typedef struct pf_livebatch pf_livebatch;

pf_livebatch *pf_livebatch_create(void);
void pf_livebatch_destroy(pf_livebatch *b);
int pf_livebatch_count(const pf_livebatch *b);
/* Room for one more chunk; returns where to write its n_leads x n samples
 * (lead-major), or NULL when out of memory. meta is copied. */
float *pf_livebatch_add(pf_livebatch *b, const int64_t *meta, int64_t start, uint64_t seq, double fs, int n_leads, int n, const char *names);
/* The gathered chunks as one message (NULL when empty or out of memory); the
 * batch is empty afterwards. */
pf_msg *pf_livebatch_take(pf_livebatch *b);

/* The chunks of a message: a batch, or one chunk with LIVE_META. Up to max in
 * out[], *count set. 0 with *count = 0 when the message is neither; PF_EFORMAT
 * (message set) when a batch is inconsistent. */
int pf_livebatch_read(const pf_msg *m, pf_livechunk *out, int max, int *count);

#endif
