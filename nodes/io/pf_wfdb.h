/* pf_wfdb: PhysioNet WFDB records — header (.hea) parser and signal reader.
 *
 * Supported: single-segment records; signal formats 16, 61, 80, 212, 310, 311;
 * byte offsets (`16+24`), one sample per frame (`16x1`), no skew; signal files that
 * are PhysioNet-challenge MATLAB v4 .mat files (the v4 matrix header is checked
 * against the WFDB header). Header checksums and initial values are verified by
 * pf_wfdb_verify(). Errors name the file, line and field (see pf_error.h).
 */
#ifndef PF_WFDB_H
#define PF_WFDB_H

#include <stddef.h>
#include <stdint.h>

#define PF_WFDB_MAX_SIGNALS 256

typedef struct {
    char fname[256];     /* signal file, relative to the header's directory */
    int fmt;             /* 16, 61, 80, 212, 310, 311 */
    int spf;             /* samples per frame (only 1 is readable) */
    int skew;            /* must be 0 to read */
    int64_t offset;      /* byte offset of the first sample in fname */
    double gain;         /* ADC units per physical unit (> 0) */
    double baseline;     /* ADC value of physical zero */
    char units[32];      /* "mV" when absent */
    int adc_res;         /* bits; format default when absent */
    int adc_zero;
    int init;            /* first sample value (defaults to adc_zero) */
    int has_checksum;
    int checksum;        /* 16-bit sum of all samples, as written */
    int block_size;
    char desc[128];      /* description, e.g. "MLII"; "" when absent */
    int line;            /* header line number, for messages */
} pf_wfdb_signal;

typedef struct {
    char key[32];        /* "Dx", "Age", "age" (LUDB's "<age>" loses the brackets) */
    char value[480];
} pf_wfdb_info;

typedef struct {
    char label[256];     /* file name used in messages, e.g. "mitdb/101.hea" */
    char name[64];       /* record name */
    int nsig;
    double fs;           /* sampling frequency, Hz (250 when absent, per header(5)) */
    double counter_freq, base_counter;
    int64_t nsamp;       /* samples per signal; 0 = not given (taken from the file size) */
    char base_time[32], base_date[32];
    pf_wfdb_signal *sig; /* [nsig] */
    int ninfo;
    pf_wfdb_info *info;  /* header comments, `# key: value` split; others key "" */
} pf_wfdb_header;

/* Parse header text (len bytes, need not be NUL-terminated). label names the file in
 * messages. On success h owns memory released by pf_wfdb_header_free(). */
int pf_wfdb_header_parse(const char *text, size_t len, const char *label, pf_wfdb_header *h);
int pf_wfdb_header_read(const char *path, pf_wfdb_header *h);
void pf_wfdb_header_free(pf_wfdb_header *h);
/* Value of the first comment whose key matches (case-insensitive), or NULL. */
const char *pf_wfdb_header_info(const pf_wfdb_header *h, const char *key);

/* Format geometry: samples per group and bytes per group (212: 2 in 3; 310/311: 3 in 4). */
int pf_wfdb_format_geometry(int fmt, int *samples, int *bytes);
/* Bytes needed to hold `count` consecutive samples of a stream in format fmt. */
int64_t pf_wfdb_format_bytes(int fmt, int64_t count);
/* Raw value that marks an invalid sample in fmt (e.g. -2048 for 212). */
int32_t pf_wfdb_format_invalid(int fmt);
/* Decode n samples from buf (which starts on a group boundary) after skipping `skip`
 * samples. Fails with PF_EFORMAT if nbytes does not hold them. */
int pf_wfdb_decode(int fmt, const uint8_t *buf, size_t nbytes, int skip, size_t n, int32_t *out);

typedef struct pf_wfdb_record pf_wfdb_record;

/* path: "dir/101" or "dir/101.hea". Opens the signal files and checks their sizes. */
pf_wfdb_record *pf_wfdb_open(const char *path);
void pf_wfdb_close(pf_wfdb_record *r);
const pf_wfdb_header *pf_wfdb_header_of(const pf_wfdb_record *r);
int64_t pf_wfdb_length(const pf_wfdb_record *r);
/* Raw ADC values of every signal for samples [start, start+n), lead-major: out[s*n + i]. */
int pf_wfdb_read_raw(pf_wfdb_record *r, int64_t start, int64_t n, int32_t *out);
/* Physical values (raw - baseline) / gain of the signals sig[0..nsel) (NULL = all, in
 * order), lead-major out[k*n + i]; invalid samples become NaN. */
int pf_wfdb_read(pf_wfdb_record *r, int64_t start, int64_t n, const int *sig, int nsel, float *out);
/* Read every sample; check each signal's checksum and initial value against the header. */
int pf_wfdb_verify(pf_wfdb_record *r);

#endif
