/* pf_msg: a physioflow message (docs/protocol.md): header fields plus up to
 * 32 typed, shaped sections whose meaning the section table declares
 * (pf_section.h, pf_sections.def). Nodes build, inspect and edit messages
 * only through these verbs. */
#ifndef PF_MSG_H
#define PF_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "pf_section.h"

#define PF_WIRE_MAX_SECTIONS 32
#define PF_WIRE_MAX_ID 256
#define PF_WIRE_MAX_DIMS 4
/* Upper bounds that reject absurd sizes before anything is allocated. */
#define PF_WIRE_MAX_LEADS 4096
#define PF_WIRE_MAX_SAMPLES (1u << 26)

typedef enum {
    PF_MSG_WINDOW = 1,  /* one signal window: leads x samples float32 + metadata */
    PF_MSG_TENSOR = 2,  /* a batch of named tensors (model stages) */
    PF_MSG_EOS = 3,     /* end of stream from one upstream instance */
    PF_MSG_CONTROL = 4, /* control / status; id holds the verb */
} pf_msg_kind;

typedef enum { PF_DT_U8 = 1, PF_DT_I32 = 2, PF_DT_I64 = 3, PF_DT_U64 = 4, PF_DT_F32 = 5, PF_DT_F64 = 6 } pf_dtype;

/* Flags. */
#define PF_FLAG_INTERRUPTED 0x1u /* EOS: the stream was cut short (stop request) */
#define PF_FLAG_PAIR_FIRST 0x2u  /* WINDOW: first of an adjacent pair */
#define PF_FLAG_PAIR_SECOND 0x4u /* WINDOW: second of an adjacent pair */

size_t pf_dtype_size(int dtype); /* 0 for an unknown dtype */

typedef struct {
    uint16_t type;
    uint8_t dtype;
    uint8_t ndim;
    uint32_t dims[PF_WIRE_MAX_DIMS];
    void *data;     /* points into the received frame or the sender's buffer */
    size_t bytes;
} pf_section;

/* A decoded (or to-be-encoded) message. For a received message the section
 * data points into ZeroMQ frames held by the message (zero-copy); for an
 * outgoing one into heap buffers the message owns until sent. */
typedef struct pf_msg {
    uint16_t kind;
    uint16_t version;
    uint64_t window_index;
    int64_t start_sample;
    double sample_rate;
    uint32_t n_leads, n_samples, epoch, flags;
    uint64_t count;           /* EOS: windows the sender emitted; else 0 or kind-specific */
    char id[PF_WIRE_MAX_ID + 1]; /* record / stream id (WINDOW), sender (EOS), verb (CONTROL) */
    int n_sections;
    pf_section sec[PF_WIRE_MAX_SECTIONS];
    /* sender's routing id when received on a ROUTER socket (for the EOS ack) */
    unsigned char peer[32];
    int peer_len;
    /* ownership: frames (received) or owned buffers (outgoing) */
    void *frames;             /* zmq_msg_t array, n_sections + 1 entries, or NULL */
    int n_frames;
    unsigned char owned[PF_WIRE_MAX_SECTIONS]; /* 1 if sec[i].data is malloc'd by us */
} pf_msg;

/* --- building outgoing messages ----------------------------------------- */
pf_msg *pf_msg_create(int kind, const char *id);
/* Window with its sample section allocated (uninitialised): fill
 * pf_msg_samples(m)[lead * n_samples + t]. */
pf_msg *pf_msg_window_create(const char *id, uint64_t window_index, int64_t start_sample,
                             double sample_rate, uint32_t n_leads, uint32_t n_samples);
float *pf_msg_samples(pf_msg *m);
/* Add a section; data copied (use _adopt to hand over a malloc'd buffer). */
int pf_msg_add(pf_msg *m, int type, int dtype, int ndim, const uint32_t *dims, const void *data);
int pf_msg_adopt(pf_msg *m, int type, int dtype, int ndim, const uint32_t *dims, void *data);
/* Replace the section of this type (or add it when absent), keeping its
 * position; data copied (pf_msg_replace) or adopted (pf_msg_replace_adopt:
 * freed on error too). */
int pf_msg_replace(pf_msg *m, int type, int dtype, int ndim, const uint32_t *dims, const void *data);
int pf_msg_replace_adopt(pf_msg *m, int type, int dtype, int ndim, const uint32_t *dims, void *data);
/* Remove every section of this type; returns how many were removed. */
int pf_msg_remove(pf_msg *m, int type);
/* Section lookup: first section of the type, or NULL. */
pf_section *pf_msg_find(pf_msg *m, int type);
const pf_section *pf_msg_find_const(const pf_msg *m, int type);
size_t pf_section_count(const pf_section *s);
/* Deep copy (for nodes that emit a modified window and keep the input). */
pf_msg *pf_msg_clone(const pf_msg *m);
/* Move the whole content of m (typically a received message the runtime
 * lends to a node) into a new message, zero-copy: its frames go along and
 * are forwarded as they are when the new message is sent. m is left empty. */
pf_msg *pf_msg_take(pf_msg *m);
void pf_msg_destroy(pf_msg *m);

#endif
