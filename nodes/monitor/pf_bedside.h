/* pf_bedside: the bedside stream protocol, version 1 (docs/bedside.md).
 *
 * What a bedside monitor (or examples/bedside_sim) sends to the central
 * station's `live` node: one ZeroMQ frame per chunk of
 * samples (DATA), a HEARTBEAT when it has nothing to send for a while, and
 * BYE when it leaves, and INFO (lead names, comma-separated UTF-8 after the
 * header, at most 1024 bytes) first in every session and every 10 s. All integers little-endian; 64-byte header, then for
 * DATA int16 samples [n_samples][n_leads] (sample-major, as acquired), value
 * = round(mV * gain); -32768 marks an invalid sample (NaN after decoding).
 *
 *   0 u32 magic 'PFBS'   4 u16 version (1)   6 u16 type (1 DATA, 2 HEARTBEAT, 3 BYE, 4 INFO)
 *   8 u32 bed            12 u32 session (nonzero; a new value = the bed reconnected)
 *  16 u64 seq            (per session, +1 for every message of any type, from 0)
 *  24 i64 t_us           acquisition time of the first sample, us since the Unix epoch
 *                        (HEARTBEAT/BYE: the sender's clock when sent)
 *  32 u64 sample         index of the first sample in this session (DATA; else next sample)
 *  40 f32 fs             Hz          44 u16 n_leads     46 u16 n_samples
 *  48 f32 gain           ADC units per mV (> 0)
 *  52 u32 lead_off       bit i set: the device reports lead i off (electrode impedance)
 *  56 u32 flags          reserved (0)   60 u32 reserved (0)
 */
#ifndef PF_BEDSIDE_H
#define PF_BEDSIDE_H

#include <stddef.h>
#include <stdint.h>

#define PF_BS_MAGIC 0x53424650u /* bytes 'P','F','B','S' */
#define PF_BS_VERSION 1
#define PF_BS_HEADER 64
#define PF_BS_MAX_LEADS 32
#define PF_BS_MAX_SAMPLES 4096
#define PF_BS_INVALID (-32768)

enum { PF_BS_DATA = 1, PF_BS_HEARTBEAT = 2, PF_BS_BYE = 3, PF_BS_INFO = 4 };
#define PF_BS_MAX_INFO 1024

typedef struct {
    uint16_t version, type;
    uint32_t bed, session;
    uint64_t seq;
    int64_t t_us;
    uint64_t sample;
    float fs;
    uint16_t n_leads, n_samples;
    float gain;
    uint32_t lead_off;
    const int16_t *samples; /* DATA: points into the decoded buffer, [n_samples][n_leads]; may be
                             * unaligned (ZeroMQ frames can start anywhere): memcpy before reading */
    const char *info;       /* INFO: lead names (not NUL-terminated), info_len bytes */
    size_t info_len;
} pf_bs_msg;

/* Bytes of an encoded message. */
size_t pf_bs_size(const pf_bs_msg *m);
/* Encode m (and for DATA its samples) into buf (cap bytes); returns bytes or a negative PF_E*. */
int pf_bs_encode(const pf_bs_msg *m, unsigned char *buf, size_t cap);
/* Decode and check one frame; PF_EFORMAT with a message saying what is wrong. */
int pf_bs_decode(const unsigned char *buf, size_t len, pf_bs_msg *m);
/* mV -> ADC units, clipped; NaN becomes PF_BS_INVALID. */
int16_t pf_bs_quantise(float mv, float gain);

#endif
