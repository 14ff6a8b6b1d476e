/* pf_wire: physioflow's versioned binary wire format (docs/protocol.md).
 *
 * A message is one ZeroMQ multipart message: frame 0 is the header, frames
 * 1..n are the payload sections the header's section table describes, in
 * order. Sections are typed (samples, R-peaks, labels, features, ...) and
 * shaped (up to 4 dims), so new sections can be added without a version bump;
 * decoders skip section types they do not know.
 *
 * Header frame, little-endian, 64 bytes fixed + 24 per section + the id:
 *   0  u32 magic "PFLW"        4  u16 version (1)     6  u16 kind
 *   8  u32 header_bytes        12 u16 n_sections      14 u16 id_len
 *   16 u64 window_index        24 i64 start_sample    32 f64 sample_rate
 *   40 u32 n_leads             44 u32 n_samples       48 u32 epoch
 *   52 u32 flags               56 u64 count
 *   64 section table: n_sections x { u16 type, u8 dtype, u8 ndim,
 *                                    u32 reserved(0), u32 dims[4] }
 *   then id_len bytes of id (UTF-8, no NUL), zero-padded to a multiple of 8.
 */
#ifndef PF_WIRE_H
#define PF_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define PF_WIRE_MAGIC 0x574C4650u /* bytes 'P','F','L','W' */
#define PF_WIRE_VERSION 1
#define PF_WIRE_FIXED_BYTES 64
#define PF_WIRE_SECTION_BYTES 24
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

/* Section types. The sample section is mandatory in a WINDOW. */
typedef enum {
    PF_SEC_SAMPLES = 1,   /* f32 [leads, samples], lead-major */
    PF_SEC_RPEAKS = 2,    /* i64 [n]: absolute sample indices in the record */
    PF_SEC_LABELS = 3,    /* i64 [n] class ids, or f32 [n] multi-label targets */
    PF_SEC_FEATURES = 4,  /* f32 [n] feature vector */
    PF_SEC_LEAD_NAMES = 5,/* u8 [n]: comma-separated lead names */
    PF_SEC_COUNTERS = 6,  /* u64 [n]: status counters (CONTROL "status") */
    PF_SEC_TENSOR = 7,    /* any dtype/shape: element of a TENSOR batch */
    PF_SEC_ANN = 8,       /* i64 [n, 2]: reference annotations (sample, code) */
    PF_SEC_RPEAKS_AUG = 9,/* i64 [views, n]: R-peaks inside each augmented view (start_sample + offset) */
    PF_SEC_NAME = 10,     /* u8 [n]: name of the following TENSOR section */
    PF_SEC_VIEWS = 11,    /* f32 [views, leads, samples]: augmented views of SAMPLES */
    PF_SEC_ADJ_SAMPLES = 12, /* f32 [leads, samples]: the next window of the same record (adjacent pair) */
    PF_SEC_ADJ_RPEAKS = 13,  /* i64 [n]: R-peaks of the adjacent window, absolute */
    PF_SEC_BEATS = 14,    /* i64 [beats, 9]: P on/peak/off, QRS on/R/off, T on/peak/off, absolute; -1 absent */
    PF_SEC_LIVE_META = 40,  /* i64 [16]: bedside chunk bookkeeping from the live node (nodes/monitor/pf_live.h) */
    PF_SEC_MON_STATE = 41,  /* f64 [16]: a bed's monitor state after the window (nodes/monitor/pf_bedmon.h) */
    PF_SEC_MON_EVENTS = 42, /* i64 [n, 8]: alarm onsets/clearances of the window (nodes/monitor/pf_bedmon.h) */
} pf_sec_type;

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

/* --- encoding / decoding ------------------------------------------------ */
/* Header bytes for m (sections' sizes included). Returns bytes written or a
 * negative PF_E* if cap is too small. */
int pf_wire_encode_header(const pf_msg *m, unsigned char *buf, size_t cap);
size_t pf_wire_header_size(const pf_msg *m);
/* Validate and decode a header + frame sizes. frame_sizes[i] is the size of
 * frame i+1 (sections). On success fills m (section data pointers left NULL)
 * and returns PF_OK; otherwise PF_EFORMAT with a message saying what is wrong. */
int pf_wire_decode_header(const unsigned char *buf, size_t len, int n_frames_after,
                          const size_t *frame_sizes, pf_msg *m);
/* Check a decoded message's semantics (shape agreement, finite fields). */
int pf_wire_validate(const pf_msg *m);

/* --- ZeroMQ transport --------------------------------------------------- */
/* Send as one multipart message. Sections are sent zero-copy: ownership of
 * owned buffers moves to ZeroMQ, which frees them after transmission.
 * zmq_flags: 0 to block, ZMQ_DONTWAIT to fail with PF_EAGAIN. On PF_EAGAIN the
 * message is untouched and may be re-sent; on success or other errors m is
 * consumed (destroyed). */
int pf_wire_send(void *zsock, pf_msg *m, int zmq_flags);
/* Receive one multipart message. *out is NULL when the message is malformed
 * (return PF_EFORMAT, message text says why; the frames are discarded).
 * pf_wire_recv_routed is for ROUTER sockets: the first frame is the sender's
 * routing id, kept in m->peer. */
int pf_wire_recv(void *zsock, pf_msg **out, int zmq_flags, size_t *bytes_out);
int pf_wire_recv_routed(void *zsock, pf_msg **out, int zmq_flags, size_t *bytes_out);
/* On a ROUTER socket: acknowledge an end-of-stream to the instance that sent it. */
int pf_wire_ack_eos(void *zsock, const pf_msg *eos);

/* Order-independent content hash of a WINDOW: id, index, start, rate, shape,
 * samples, R-peaks, labels, features. Summed over windows it gives a stream
 * checksum that does not depend on arrival order. */
uint64_t pf_msg_hash(const pf_msg *m);

#endif
