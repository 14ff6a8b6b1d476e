/* pf_wire: physioflow's versioned binary wire format (docs/protocol.md).
 *
 * A message is one ZeroMQ multipart message: frame 0 is the header, frames
 * 1..n are the payload sections the header's section table describes, in
 * order. Section types are the rows of pf_sections.def; decoders skip types
 * they do not know, so new sections need no version bump.
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
 *
 * This header also brings the message object, the transport and the hash,
 * which every node uses together.
 */
#ifndef PF_WIRE_H
#define PF_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "pf_hash.h"
#include "pf_msg.h"
#include "pf_transport.h"

#define PF_WIRE_MAGIC 0x574C4650u /* bytes 'P','F','L','W' */
#define PF_WIRE_VERSION 1
#define PF_WIRE_FIXED_BYTES 64
#define PF_WIRE_SECTION_BYTES 24

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
/* Check a decoded message's semantics (shape agreement, finite fields):
 * every known section against its table row. */
int pf_wire_validate(const pf_msg *m);
/* One section against its table row and the window m (PF_OK for unknown types). */
int pf_section_check(const pf_msg *m, const pf_section *s);

#endif
