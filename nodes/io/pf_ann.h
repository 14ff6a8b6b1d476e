/* pf_ann: WFDB annotation files in MIT format (annot(5)): reader, writer, code table.
 *
 * A file is a stream of 16-bit little-endian words: 6-bit code A, 10-bit field I.
 * A = 1..58: an annotation I samples after the previous one; A = 59 SKIP (a 32-bit
 * interval follows, high half first); 60 NUM, 61 SUB, 62 CHN: set that field of the
 * preceding annotation to I; 63 AUX: I bytes of text follow (padded to even);
 * A = 0, I = 0 ends the file. NUM and CHN persist until changed; SUB and AUX do not.
 * The writer emits exactly what WFDB's putann() does, so re-writing a file read from
 * PhysioNet reproduces it byte for byte.
 */
#ifndef PF_ANN_H
#define PF_ANN_H

#include <stddef.h>
#include <stdint.h>

enum {
    PF_ANN_NOTQRS = 0, PF_ANN_NORMAL = 1, PF_ANN_LBBB = 2, PF_ANN_RBBB = 3, PF_ANN_ABERR = 4,
    PF_ANN_PVC = 5, PF_ANN_FUSION = 6, PF_ANN_NPC = 7, PF_ANN_APC = 8, PF_ANN_SVPB = 9,
    PF_ANN_VESC = 10, PF_ANN_NESC = 11, PF_ANN_PACE = 12, PF_ANN_UNKNOWN = 13, PF_ANN_NOISE = 14,
    PF_ANN_ARFCT = 16, PF_ANN_STCH = 18, PF_ANN_TCH = 19, PF_ANN_SYSTOLE = 20, PF_ANN_DIASTOLE = 21,
    PF_ANN_NOTE = 22, PF_ANN_MEASURE = 23, PF_ANN_PWAVE = 24, PF_ANN_BBB = 25, PF_ANN_PACESP = 26,
    PF_ANN_TWAVE = 27, PF_ANN_RHYTHM = 28, PF_ANN_UWAVE = 29, PF_ANN_LEARN = 30, PF_ANN_FLWAV = 31,
    PF_ANN_VFON = 32, PF_ANN_VFOFF = 33, PF_ANN_AESC = 34, PF_ANN_SVESC = 35, PF_ANN_LINK = 36,
    PF_ANN_NAPC = 37, PF_ANN_PFUS = 38, PF_ANN_WFON = 39, PF_ANN_WFOFF = 40, PF_ANN_RONT = 41,
    PF_ANN_MAXCODE = 58, /* highest storable code; 59..63 are the pseudo-codes below */
    PF_ANN_SKIP = 59, PF_ANN_NUM = 60, PF_ANN_SUB = 61, PF_ANN_CHN = 62, PF_ANN_AUX = 63
};

typedef struct {
    int64_t time;  /* sample index */
    int code;      /* 0..58 (anntyp) */
    int sub;       /* subtype, -512..511 (WFDB keeps -128..127) */
    int chan;      /* 0..1023 */
    int num;       /* -512..511 */
    int auxlen;    /* bytes in aux (0..255); aux is NULL when 0 */
    char *aux;     /* NUL-terminated copy; may hold inner NULs, e.g. MIT-BIH's "(N\0" */
} pf_ann;

typedef struct {
    pf_ann *a;
    size_t n, cap;
} pf_ann_list;

/* Parse an MIT-format byte stream; label names it in messages. Appends to out. */
int pf_ann_parse(const uint8_t *buf, size_t len, const char *label, pf_ann_list *out);
/* path: an annotation file, e.g. "mitdb/101.atr". */
int pf_ann_read(const char *path, pf_ann_list *out);
/* Encode as MIT format (malloc'd *buf). Annotations must be in time order. */
int pf_ann_encode(const pf_ann_list *l, uint8_t **buf, size_t *len);
/* Write via a temporary file renamed into place, so a failed write leaves no file. */
int pf_ann_write(const char *path, const pf_ann_list *l);

/* Append a copy (aux copied). */
int pf_ann_push(pf_ann_list *l, int64_t time, int code, int sub, int chan, int num, const char *aux,
                int auxlen);
void pf_ann_list_free(pf_ann_list *l);
/* Index of the first annotation with time >= t (binary search; list in time order). */
size_t pf_ann_lower(const pf_ann_list *l, int64_t t);

/* Standard mnemonic ("N", "V", "(", "+", ...) of a code; "[c]" style for unassigned codes. */
const char *pf_ann_mnemonic(int code);
/* Code of a mnemonic, or -1. */
int pf_ann_code(const char *mnemonic);
/* 1 for beat annotations (WFDB isqrs: N L R a V F J A S E j / Q B ? e n f r), else 0. */
int pf_ann_is_beat(int code);

#endif
