/* pf_wfdb: WFDB header parser and signal reader (see pf_wfdb.h and docs/formats.md). */
#include "pf_wfdb.h"

#include "pf_error.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- header */

typedef struct {
    const char *s; /* token start */
    size_t n;      /* token length */
} tok_t;

/* Split a line into at most max whitespace-separated tokens; returns the count. */
static int split(const char *s, size_t len, tok_t *t, int max)
{
    int k = 0;
    size_t i = 0;
    while (i < len && k < max) {
        while (i < len && isspace((unsigned char)s[i])) i++;
        if (i >= len) break;
        size_t b = i;
        while (i < len && !isspace((unsigned char)s[i])) i++;
        t[k].s = s + b;
        t[k].n = i - b;
        k++;
    }
    return k;
}

static void tokcpy(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap) n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = 0;
}

/* Strict integer: the whole text must be a decimal integer within [lo, hi]. */
static int parse_ll(const char *s, size_t n, long long lo, long long hi, long long *v)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (errno || *end || end == buf || x < lo || x > hi) return -1;
    *v = x;
    return 0;
}

static int parse_dbl(const char *s, size_t n, double *v)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    errno = 0;
    double x = strtod(buf, &end);
    if (errno || *end || end == buf || !isfinite(x)) return -1;
    *v = x;
    return 0;
}

static int default_res(int fmt)
{
    switch (fmt) {
    case 80: return 8;
    case 212: return 12;
    case 310:
    case 311: return 10;
    default: return 16;
    }
}

static int format_known(int fmt)
{
    return fmt == 16 || fmt == 61 || fmt == 80 || fmt == 212 || fmt == 310 || fmt == 311;
}

/* "format[xspf][:skew][+offset]" */
static int parse_format(const pf_wfdb_header *h, int line, tok_t t, pf_wfdb_signal *sg)
{
    const char *p = t.s, *e = t.s + t.n;
    const char *q = p;
    while (q < e && isdigit((unsigned char)*q)) q++;
    long long v;
    if (parse_ll(p, (size_t)(q - p), 0, 999, &v))
        return pf_err(PF_EFORMAT, "%s line %d: format '%.*s' is not a WFDB format number", h->label,
                      line, (int)t.n, t.s);
    sg->fmt = (int)v;
    sg->spf = 1;
    while (q < e) {
        char c = *q++;
        const char *b = q;
        while (q < e && isdigit((unsigned char)*q)) q++;
        long long x;
        if ((c != 'x' && c != ':' && c != '+') || parse_ll(b, (size_t)(q - b), 0, INT64_MAX / 2, &x))
            return pf_err(PF_EFORMAT,
                          "%s line %d: format field '%.*s' is malformed (expected "
                          "format[xspf][:skew][+offset])",
                          h->label, line, (int)t.n, t.s);
        if (c == 'x') {
            if (x < 1 || x > 1000)
                return pf_err(PF_ERANGE, "%s line %d: samples per frame %lld must be 1..1000",
                              h->label, line, x);
            sg->spf = (int)x;
        } else if (c == ':') {
            if (x > INT_MAX) return pf_err(PF_ERANGE, "%s line %d: skew %lld too large", h->label, line, x);
            sg->skew = (int)x;
        } else {
            sg->offset = x;
        }
    }
    return PF_OK;
}

/* "gain[(baseline)][/units]" */
static int parse_gain(const pf_wfdb_header *h, int line, tok_t t, pf_wfdb_signal *sg, int *has_base)
{
    const char *p = t.s, *e = t.s + t.n;
    const char *q = p;
    while (q < e && *q != '(' && *q != '/') q++;
    double g;
    if (parse_dbl(p, (size_t)(q - p), &g))
        return pf_err(PF_EFORMAT, "%s line %d: gain '%.*s' is not a number", h->label, line,
                      (int)(q - p), p);
    /* negative is valid (an inverted signal, as WFDB reads it: (adc - baseline) / gain) */
    if (g == 0 || !isfinite(g))
        return pf_err(PF_ERANGE, "%s line %d: gain '%.*s' must be a nonzero number", h->label, line, (int)(q - p), p);
    sg->gain = g;
    if (q < e && *q == '(') {
        const char *b = ++q;
        while (q < e && *q != ')') q++;
        long long base;
        if (q >= e || parse_ll(b, (size_t)(q - b), INT_MIN, INT_MAX, &base))
            return pf_err(PF_EFORMAT, "%s line %d: baseline in '%.*s' is not an integer in (...)",
                          h->label, line, (int)t.n, t.s);
        sg->baseline = (double)base;
        *has_base = 1;
        q++;
    }
    if (q < e) {
        if (*q != '/' || q + 1 >= e)
            return pf_err(PF_EFORMAT, "%s line %d: gain field '%.*s' is malformed (expected gain[(baseline)][/units])",
                          h->label, line, (int)t.n, t.s);
        tokcpy(sg->units, sizeof sg->units, q + 1, (size_t)(e - q - 1));
    }
    return PF_OK;
}

static int add_info(pf_wfdb_header *h, const char *s, size_t n)
{
    pf_wfdb_info *ni = realloc(h->info, (size_t)(h->ninfo + 1) * sizeof *ni);
    if (!ni) return pf_err(PF_ENOMEM, "%s: out of memory for comments", h->label);
    h->info = ni;
    pf_wfdb_info *in = &h->info[h->ninfo++];
    memset(in, 0, sizeof *in);
    while (n && isspace((unsigned char)*s)) s++, n--;
    while (n && isspace((unsigned char)s[n - 1])) n--;
    /* "key: value" when the key is short and holds no digits-only junk like "75 F 1011" */
    const char *colon = memchr(s, ':', n);
    if (colon && colon > s && (size_t)(colon - s) < sizeof in->key) {
        const char *k = s, *ke = colon;
        if (*k == '<' && ke[-1] == '>') k++, ke--; /* LUDB: "#<age>: 51" */
        tokcpy(in->key, sizeof in->key, k, (size_t)(ke - k));
        const char *v = colon + 1;
        size_t vn = n - (size_t)(v - s);
        while (vn && isspace((unsigned char)*v)) v++, vn--;
        tokcpy(in->value, sizeof in->value, v, vn);
    } else {
        tokcpy(in->value, sizeof in->value, s, n);
    }
    return PF_OK;
}

void pf_wfdb_header_free(pf_wfdb_header *h)
{
    if (!h) return;
    free(h->sig);
    free(h->info);
    h->sig = NULL;
    h->info = NULL;
    h->nsig = h->ninfo = 0;
}

const char *pf_wfdb_header_info(const pf_wfdb_header *h, const char *key)
{
    for (int i = 0; i < h->ninfo; i++)
        if (!strcasecmp(h->info[i].key, key)) return h->info[i].value;
    return NULL;
}

static int parse_record_line(pf_wfdb_header *h, int line, const char *s, size_t n)
{
    tok_t t[7];
    int k = split(s, n, t, 7);
    if (k < 2)
        return pf_err(PF_EFORMAT, "%s line %d: record line needs 'name nsig [fs [nsamp ...]]', got '%.*s'",
                      h->label, line, (int)n, s);
    if (memchr(t[0].s, '/', t[0].n))
        return pf_err(PF_EFORMAT, "%s line %d: multi-segment record '%.*s' is not supported", h->label,
                      line, (int)t[0].n, t[0].s);
    tokcpy(h->name, sizeof h->name, t[0].s, t[0].n);
    long long v;
    if (parse_ll(t[1].s, t[1].n, 0, PF_WFDB_MAX_SIGNALS, &v))
        return pf_err(PF_EFORMAT, "%s line %d: number of signals '%.*s' must be an integer 0..%d",
                      h->label, line, (int)t[1].n, t[1].s, PF_WFDB_MAX_SIGNALS);
    h->nsig = (int)v;
    h->fs = 250.0;
    if (k > 2) {
        const char *p = t[2].s, *e = t[2].s + t[2].n, *q = p;
        while (q < e && *q != '/') q++;
        if (parse_dbl(p, (size_t)(q - p), &h->fs) || !(h->fs > 0))
            return pf_err(PF_EFORMAT, "%s line %d: sampling frequency '%.*s' must be a number > 0",
                          h->label, line, (int)t[2].n, t[2].s);
        if (q < e) { /* fs/counter_freq(base_counter) */
            const char *b = ++q;
            while (q < e && *q != '(') q++;
            if (parse_dbl(b, (size_t)(q - b), &h->counter_freq))
                return pf_err(PF_EFORMAT, "%s line %d: counter frequency in '%.*s' is not a number",
                              h->label, line, (int)t[2].n, t[2].s);
            if (q < e) {
                b = ++q;
                while (q < e && *q != ')') q++;
                if (q >= e || parse_dbl(b, (size_t)(q - b), &h->base_counter))
                    return pf_err(PF_EFORMAT, "%s line %d: base counter in '%.*s' is malformed",
                                  h->label, line, (int)t[2].n, t[2].s);
            }
        }
    }
    if (k > 3 && parse_ll(t[3].s, t[3].n, 0, INT64_MAX / 8, &v))
        return pf_err(PF_EFORMAT, "%s line %d: number of samples '%.*s' must be an integer >= 0",
                      h->label, line, (int)t[3].n, t[3].s);
    if (k > 3) h->nsamp = v;
    if (k > 4) tokcpy(h->base_time, sizeof h->base_time, t[4].s, t[4].n);
    if (k > 5) tokcpy(h->base_date, sizeof h->base_date, t[5].s, t[5].n);
    return PF_OK;
}

static int parse_signal_line(pf_wfdb_header *h, int line, const char *s, size_t n, pf_wfdb_signal *sg)
{
    tok_t t[9];
    int k = split(s, n, t, 8);
    memset(sg, 0, sizeof *sg);
    sg->line = line;
    tokcpy(sg->fname, sizeof sg->fname, t[0].s, t[0].n);
    if (t[0].n >= sizeof sg->fname)
        return pf_err(PF_ERANGE, "%s line %d: file name longer than %zu bytes", h->label, line,
                      sizeof sg->fname - 1);
    if (k < 2)
        return pf_err(PF_EFORMAT, "%s line %d: signal line needs 'file format ...', got '%.*s'", h->label,
                      line, (int)n, s);
    int rc = parse_format(h, line, t[1], sg);
    if (rc) return rc;
    sg->gain = 200.0; /* header(5): default gain */
    strcpy(sg->units, "mV");
    int has_base = 0;
    if (k > 2 && (rc = parse_gain(h, line, t[2], sg, &has_base))) return rc;
    long long v;
    sg->adc_res = 0;
    if (k > 3) {
        if (parse_ll(t[3].s, t[3].n, 0, 32, &v))
            return pf_err(PF_EFORMAT, "%s line %d: ADC resolution '%.*s' must be an integer 0..32",
                          h->label, line, (int)t[3].n, t[3].s);
        sg->adc_res = (int)v;
    }
    if (sg->adc_res == 0) sg->adc_res = default_res(sg->fmt);
    if (k > 4) {
        if (parse_ll(t[4].s, t[4].n, INT_MIN, INT_MAX, &v))
            return pf_err(PF_EFORMAT, "%s line %d: ADC zero '%.*s' must be an integer", h->label, line,
                          (int)t[4].n, t[4].s);
        sg->adc_zero = (int)v;
    }
    if (!has_base) sg->baseline = sg->adc_zero;
    sg->init = sg->adc_zero;
    if (k > 5) {
        if (parse_ll(t[5].s, t[5].n, INT_MIN, INT_MAX, &v))
            return pf_err(PF_EFORMAT, "%s line %d: initial value '%.*s' must be an integer", h->label,
                          line, (int)t[5].n, t[5].s);
        sg->init = (int)v;
    }
    if (k > 6) {
        /* Written either signed (-28574) or unsigned (64292); only 16 bits count. */
        if (parse_ll(t[6].s, t[6].n, -32768, 65535, &v))
            return pf_err(PF_EFORMAT, "%s line %d: checksum '%.*s' must be an integer -32768..65535",
                          h->label, line, (int)t[6].n, t[6].s);
        sg->checksum = (int)v;
        sg->has_checksum = 1;
    }
    if (k > 7) {
        if (parse_ll(t[7].s, t[7].n, 0, INT_MAX, &v))
            return pf_err(PF_EFORMAT, "%s line %d: block size '%.*s' must be an integer >= 0", h->label,
                          line, (int)t[7].n, t[7].s);
        sg->block_size = (int)v;
        const char *d = t[7].s + t[7].n, *e = s + n;
        while (d < e && isspace((unsigned char)*d)) d++;
        while (e > d && isspace((unsigned char)e[-1])) e--;
        tokcpy(sg->desc, sizeof sg->desc, d, (size_t)(e - d));
    }
    return PF_OK;
}

int pf_wfdb_header_parse(const char *text, size_t len, const char *label, pf_wfdb_header *h)
{
    memset(h, 0, sizeof *h);
    snprintf(h->label, sizeof h->label, "%s", label ? label : "(header)");
    if (memchr(text, 0, len))
        return pf_err(PF_EFORMAT, "%s: contains a NUL byte; not a text header", h->label);
    int line = 0, have_record = 0, nsig_seen = 0, rc = PF_OK;
    size_t i = 0;
    while (i < len) {
        size_t b = i;
        while (i < len && text[i] != '\n') i++;
        size_t e = i;
        if (i < len) i++;
        line++;
        if (e > b && text[e - 1] == '\r') e--;
        const char *s = text + b;
        size_t n = e - b;
        size_t j = 0;
        while (j < n && isspace((unsigned char)s[j])) j++;
        if (j == n) continue;
        if (s[j] == '#') {
            if ((rc = add_info(h, s + j + 1, n - j - 1))) goto fail;
            continue;
        }
        if (!have_record) {
            if ((rc = parse_record_line(h, line, s + j, n - j))) goto fail;
            have_record = 1;
            if (h->nsig) {
                h->sig = calloc((size_t)h->nsig, sizeof *h->sig);
                if (!h->sig) {
                    rc = pf_err(PF_ENOMEM, "%s: out of memory for %d signals", h->label, h->nsig);
                    goto fail;
                }
            }
            continue;
        }
        if (nsig_seen >= h->nsig) {
            rc = pf_err(PF_EFORMAT, "%s line %d: unexpected line '%.*s' after the %d signal lines",
                        h->label, line, (int)(n - j < 60 ? n - j : 60), s + j, h->nsig);
            goto fail;
        }
        if ((rc = parse_signal_line(h, line, s + j, n - j, &h->sig[nsig_seen]))) goto fail;
        nsig_seen++;
    }
    if (!have_record) {
        rc = pf_err(PF_EFORMAT, "%s: no record line (empty or comment-only header)", h->label);
        goto fail;
    }
    if (nsig_seen < h->nsig) {
        rc = pf_err(PF_EFORMAT, "%s: record line says %d signals but %d signal line%s found (truncated?)",
                    h->label, h->nsig, nsig_seen, nsig_seen == 1 ? " was" : "s were");
        goto fail;
    }
    /* Signals in one file must be on consecutive lines with one format and offset. */
    for (int s = 1; s < h->nsig; s++) {
        const pf_wfdb_signal *a = &h->sig[s - 1], *c = &h->sig[s];
        if (strcmp(a->fname, c->fname)) {
            for (int t = 0; t < s - 1; t++)
                if (!strcmp(h->sig[t].fname, c->fname)) {
                    rc = pf_err(PF_EFORMAT, "%s line %d: signals of file '%s' are not on consecutive lines",
                                h->label, c->line, c->fname);
                    goto fail;
                }
            continue;
        }
        if (a->fmt != c->fmt || a->offset != c->offset) {
            rc = pf_err(PF_EFORMAT,
                        "%s line %d: file '%s' has format %d+%lld here but %d+%lld on line %d; one file "
                        "holds one format",
                        h->label, c->line, c->fname, c->fmt, (long long)c->offset, a->fmt,
                        (long long)a->offset, a->line);
            goto fail;
        }
    }
    return PF_OK;
fail:
    pf_wfdb_header_free(h);
    return rc;
}

static int slurp(const char *path, char **buf, size_t *len, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f) return pf_err(errno == ENOENT ? PF_ENOTFOUND : PF_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    while (b) {
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        if (cap >= max) {
            free(b);
            fclose(f);
            return pf_err(PF_ERANGE, "%s: larger than %zu bytes; not a header", path, max);
        }
        char *nb = realloc(b, cap * 2);
        if (!nb) { free(b); b = NULL; break; }
        b = nb;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!b) return pf_err(PF_ENOMEM, "%s: out of memory", path);
    if (err) {
        free(b);
        return pf_err(PF_EIO, "%s: read error", path);
    }
    *buf = b;
    *len = n;
    return PF_OK;
}

int pf_wfdb_header_read(const char *path, pf_wfdb_header *h)
{
    char *text = NULL;
    size_t len = 0;
    memset(h, 0, sizeof *h);
    int rc = slurp(path, &text, &len, 1 << 20);
    if (rc) return rc;
    rc = pf_wfdb_header_parse(text, len, path, h);
    free(text);
    return rc;
}

/* ---------------------------------------------------------------- formats */

int pf_wfdb_format_geometry(int fmt, int *samples, int *bytes)
{
    switch (fmt) {
    case 16:
    case 61: *samples = 1, *bytes = 2; return PF_OK;
    case 80: *samples = 1, *bytes = 1; return PF_OK;
    case 212: *samples = 2, *bytes = 3; return PF_OK;
    case 310:
    case 311: *samples = 3, *bytes = 4; return PF_OK;
    default: return pf_err(PF_EFORMAT, "signal format %d is not supported (16, 61, 80, 212, 310, 311 are)", fmt);
    }
}

int64_t pf_wfdb_format_bytes(int fmt, int64_t count)
{
    int g = 1, b = 1;
    if (pf_wfdb_format_geometry(fmt, &g, &b)) return -1;
    int64_t full = count / g * b, rest = count % g;
    /* bytes a trailing partial group needs: 212 s0 -> 2; 310 s0 -> 2, s0+s1 -> 4; 311 s0 -> 2, s0+s1 -> 3 */
    if (rest) full += fmt == 212 ? 2 : fmt == 310 ? (rest == 1 ? 2 : 4) : (rest == 1 ? 2 : 3);
    return full;
}

int32_t pf_wfdb_format_invalid(int fmt)
{
    switch (fmt) {
    case 80: return -128;
    case 212: return -2048;
    case 310:
    case 311: return -512;
    default: return -32768;
    }
}

static inline int32_t sext(uint32_t v, int bits)
{
    uint32_t m = 1u << (bits - 1);
    return (int32_t)((v ^ m) - m);
}

/* One group (g samples) from up to bpg bytes; a partial group reads as zero-padded. */
static void decode_group(int fmt, const uint8_t *p, size_t avail, int32_t v[3])
{
    uint8_t grp[4] = {0, 0, 0, 0};
    memcpy(grp, p, avail < 4 ? avail : 4);
    switch (fmt) {
    case 16: v[0] = (int16_t)(grp[0] | grp[1] << 8); break;
    case 61: v[0] = (int16_t)(grp[1] | grp[0] << 8); break;
    case 80: v[0] = (int32_t)grp[0] - 128; break;
    case 212:
        v[0] = sext((uint32_t)grp[0] | (uint32_t)(grp[1] & 0x0F) << 8, 12);
        v[1] = sext((uint32_t)grp[2] | (uint32_t)(grp[1] & 0xF0) << 4, 12);
        break;
    case 310: {
        uint32_t w0 = grp[0] | (uint32_t)grp[1] << 8, w1 = grp[2] | (uint32_t)grp[3] << 8;
        v[0] = sext((w0 >> 1) & 0x3FF, 10);
        v[1] = sext((w1 >> 1) & 0x3FF, 10);
        v[2] = sext((w0 >> 11) | (w1 >> 11) << 5, 10);
        break;
    }
    default: { /* 311 */
        uint32_t w = grp[0] | (uint32_t)grp[1] << 8 | (uint32_t)grp[2] << 16 | (uint32_t)grp[3] << 24;
        v[0] = sext(w & 0x3FF, 10);
        v[1] = sext((w >> 10) & 0x3FF, 10);
        v[2] = sext((w >> 20) & 0x3FF, 10);
    }
    }
}

/* The checks both decoders make: a known format, skip inside a group, enough bytes. */
static int decode_check(int fmt, size_t nbytes, int skip, size_t n, int *g, int *bpg)
{
    if (pf_wfdb_format_geometry(fmt, g, bpg)) return PF_EFORMAT;
    if (skip < 0 || skip >= *g) return pf_err(PF_EINVAL, "decode: skip %d must be 0..%d", skip, *g - 1);
    int64_t need = pf_wfdb_format_bytes(fmt, (int64_t)n + skip);
    if ((int64_t)nbytes < need)
        return pf_err(PF_EFORMAT, "format %d: %zu samples need %lld bytes, only %zu present", fmt, n,
                      (long long)need, nbytes);
    return PF_OK;
}

int pf_wfdb_decode_ref(int fmt, const uint8_t *buf, size_t nbytes, int skip, size_t n, int32_t *out)
{
    int g, bpg, rc = decode_check(fmt, nbytes, skip, n, &g, &bpg);
    if (rc) return rc;
    size_t k = 0, pos = 0;
    int first = skip;
    while (k < n) {
        size_t avail = nbytes - pos < (size_t)bpg ? nbytes - pos : (size_t)bpg;
        int32_t v[3];
        decode_group(fmt, buf + pos, avail, v); /* one group at a time: the plain loop */
        pos += (size_t)bpg;
        for (int j = first; j < g && k < n; j++) out[k++] = v[j];
        first = 0;
    }
    return PF_OK;
}


/* Optimised: the leading partial group and the tail go through decode_group; whole groups
 * in between through a loop per format (the hot path for MIT-BIH 212 and format 16).
 * pf_wfdb_decode_ref is the naive reference it is tested against. */
int pf_wfdb_decode(int fmt, const uint8_t *buf, size_t nbytes, int skip, size_t n, int32_t *out)
{
    int g, bpg, rc = decode_check(fmt, nbytes, skip, n, &g, &bpg);
    if (rc) return rc;
    size_t k = 0;
    const uint8_t *p = buf, *end = buf + nbytes;
    int32_t v[3];
    if (skip && n) {
        decode_group(fmt, p, (size_t)(end - p), v);
        for (int j = skip; j < g && k < n; j++) out[k++] = v[j];
        p += bpg;
    }
    size_t groups = (n - k) / (size_t)g;
    switch (fmt) {
    case 212:
        for (size_t i = 0; i < groups; i++, p += 3) {
            out[k++] = sext((uint32_t)p[0] | (uint32_t)(p[1] & 0x0F) << 8, 12);
            out[k++] = sext((uint32_t)p[2] | (uint32_t)(p[1] & 0xF0) << 4, 12);
        }
        break;
    case 16:
        for (size_t i = 0; i < groups; i++, p += 2) out[k++] = (int16_t)(p[0] | p[1] << 8);
        break;
    case 80:
        for (size_t i = 0; i < groups; i++, p++) out[k++] = (int32_t)p[0] - 128;
        break;
    default:
        for (size_t i = 0; i < groups; i++, p += bpg) {
            decode_group(fmt, p, (size_t)bpg, v);
            for (int j = 0; j < g; j++) out[k++] = v[j];
        }
    }
    if (k < n) { /* tail: fewer than g samples, possibly a partial group of bytes */
        decode_group(fmt, p, (size_t)(end - p), v);
        for (int j = 0; k < n; j++) out[k++] = v[j];
    }
    return PF_OK;
}

/* ---------------------------------------------------------------- records */

typedef struct {
    FILE *f;
    char path[1024];
    int fmt, nsf, sig0;   /* format, signals in this file, index of its first signal */
    int64_t offset, size; /* byte offset of sample 0, file size */
} sigfile_t;

struct pf_wfdb_record {
    pf_wfdb_header h;
    int nfiles;
    sigfile_t *files;
    int64_t nsamp;
    uint8_t *bytes;
    size_t bytes_cap;
    int32_t *tmp, *raw;
    size_t tmp_cap, raw_cap;
};

static int grow(void **p, size_t *cap, size_t need)
{
    if (need <= *cap) return PF_OK;
    void *np = realloc(*p, need);
    if (!np) return pf_err(PF_ENOMEM, "out of memory (%zu bytes)", need);
    *p = np;
    *cap = need;
    return PF_OK;
}

static int ends_with_ci(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

static uint32_t rd32(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* PhysioNet challenge signals: a MATLAB v4 int16 matrix [nsig x nsamp], column-major, i.e.
 * frames in order — exactly format 16 after the v4 matrix header. Check that header. */
static int check_mat4(const pf_wfdb_header *h, sigfile_t *sf, int64_t nsamp)
{
    uint8_t hd[20];
    const pf_wfdb_signal *sg = &h->sig[sf->sig0];
    if (fseeko(sf->f, 0, SEEK_SET) || fread(hd, 1, 20, sf->f) != 20)
        return pf_err(PF_EFORMAT, "%s: shorter than a MATLAB v4 matrix header (20 bytes)", sf->path);
    uint32_t type = rd32(hd), mrows = rd32(hd + 4), ncols = rd32(hd + 8), imagf = rd32(hd + 12),
             namlen = rd32(hd + 16);
    if (type > 4052 || type / 1000 != 0)
        return pf_err(PF_EFORMAT,
                      "%s: MATLAB v4 type field %u: expected a little-endian numeric matrix (type 0..52); "
                      "MATLAB v5 or big-endian files are not challenge signal files",
                      sf->path, type);
    int prec = (int)(type / 10 % 10), mtype = (int)(type % 10);
    if (mtype != 0 || prec != 3 || imagf != 0)
        return pf_err(PF_EFORMAT, "%s: MATLAB v4 matrix has type %u (precision %d, imag %u): expected "
                      "a real int16 matrix (type 30) for format %d",
                      sf->path, type, prec, imagf, sg->fmt);
    if (sg->fmt != 16)
        return pf_err(PF_EFORMAT, "%s line %d: a MATLAB v4 int16 signal file needs format 16, header says %d",
                      h->label, sg->line, sg->fmt);
    if ((int)mrows != sf->nsf)
        return pf_err(PF_EFORMAT, "%s: MATLAB v4 matrix has %u rows; header %s lists %d signals in it",
                      sf->path, mrows, h->label, sf->nsf);
    if (nsamp && (int64_t)ncols != nsamp)
        return pf_err(PF_EFORMAT, "%s: MATLAB v4 matrix has %u columns; header %s says %lld samples",
                      sf->path, ncols, h->label, (long long)nsamp);
    int64_t data = 20 + (int64_t)namlen;
    if (sf->offset == 0) sf->offset = data; /* header without "+offset": take it from the matrix */
    if (sf->offset != data)
        return pf_err(PF_EFORMAT, "%s line %d: byte offset %lld, but the MATLAB v4 matrix data start at %lld",
                      h->label, sg->line, (long long)sf->offset, (long long)data);
    return PF_OK;
}

static int open_files(pf_wfdb_record *r, const char *dir)
{
    pf_wfdb_header *h = &r->h;
    r->files = calloc((size_t)(h->nsig ? h->nsig : 1), sizeof *r->files);
    if (!r->files) return pf_err(PF_ENOMEM, "out of memory");
    int64_t nsamp = h->nsamp;
    for (int s = 0; s < h->nsig; s++) {
        pf_wfdb_signal *sg = &h->sig[s];
        if (s > 0 && !strcmp(sg->fname, h->sig[s - 1].fname)) {
            r->files[r->nfiles - 1].nsf++;
            continue;
        }
        if (!format_known(sg->fmt))
            return pf_err(PF_EFORMAT, "%s line %d: signal format %d is not supported (16, 61, 80, 212, 310, 311 are)",
                          h->label, sg->line, sg->fmt);
        if (sg->spf != 1)
            return pf_err(PF_EFORMAT, "%s line %d: %d samples per frame (multi-frequency records) are not supported",
                          h->label, sg->line, sg->spf);
        if (sg->skew)
            return pf_err(PF_EFORMAT, "%s line %d: skew %d is not supported", h->label, sg->line, sg->skew);
        if (!strcmp(sg->fname, "~"))
            return pf_err(PF_EFORMAT, "%s line %d: null signal file '~' is not supported", h->label, sg->line);
        sigfile_t *sf = &r->files[r->nfiles++];
        sf->fmt = sg->fmt;
        sf->nsf = 1;
        sf->sig0 = s;
        sf->offset = sg->offset;
        if (snprintf(sf->path, sizeof sf->path, "%s%s", dir, sg->fname) >= (int)sizeof sf->path)
            return pf_err(PF_ERANGE, "%s line %d: path of signal file '%s' is too long", h->label, sg->line, sg->fname);
        sf->f = fopen(sf->path, "rb");
        if (!sf->f)
            return pf_err(errno == ENOENT ? PF_ENOTFOUND : PF_EIO, "%s line %d: signal file %s: %s", h->label,
                          sg->line, sf->path, strerror(errno));
        struct stat st;
        if (fstat(fileno(sf->f), &st)) return pf_err(PF_EIO, "%s: stat: %s", sf->path, strerror(errno));
        if (!S_ISREG(st.st_mode)) /* fopen() opens folders too; reads then fail */
            return pf_err(PF_EFORMAT, "%s line %d: signal file %s is not a regular file", h->label, sg->line, sf->path);
        sf->size = st.st_size;
    }
    for (int i = 0; i < r->nfiles; i++) {
        sigfile_t *sf = &r->files[i];
        int rc;
        if (ends_with_ci(sf->path, ".mat") && (rc = check_mat4(h, sf, h->nsamp))) return rc;
        int64_t avail = sf->size - sf->offset;
        if (avail < 0)
            return pf_err(PF_EFORMAT, "%s: %lld bytes, shorter than the byte offset %lld in %s",
                          sf->path, (long long)sf->size, (long long)sf->offset, h->label);
        if (h->nsamp) {
            int64_t need = pf_wfdb_format_bytes(sf->fmt, h->nsamp * sf->nsf);
            if (avail < need)
                return pf_err(PF_EFORMAT,
                              "%s: %lld data bytes, but %s says %lld samples x %d signals in format %d, "
                              "which need %lld bytes (file truncated?)",
                              sf->path, (long long)avail, h->label, (long long)h->nsamp, sf->nsf, sf->fmt,
                              (long long)need);
        } else {
            int g = 1, b = 1;
            pf_wfdb_format_geometry(sf->fmt, &g, &b);
            int64_t samples = avail / b * g, rest = avail % b; /* count whole samples only */
            for (int64_t k = g - 1; k > 0; k--)
                if (pf_wfdb_format_bytes(sf->fmt, k) <= rest) { samples += k; break; }
            int64_t frames = samples / sf->nsf;
            if (i == 0 || frames < nsamp) nsamp = frames;
        }
    }
    r->nsamp = nsamp;
    return PF_OK;
}

pf_wfdb_record *pf_wfdb_open(const char *path)
{
    char hea[1024], dir[1024];
    size_t n = strlen(path);
    if (n + 5 > sizeof hea) {
        pf_err(PF_EINVAL, "%.100s...: path too long", path);
        return NULL;
    }
    if (ends_with_ci(path, ".hea"))
        snprintf(hea, sizeof hea, "%s", path);
    else
        snprintf(hea, sizeof hea, "%s.hea", path);
    const char *slash = strrchr(hea, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - hea + 1) : 0, hea);
    pf_wfdb_record *r = calloc(1, sizeof *r);
    if (!r) {
        pf_err(PF_ENOMEM, "out of memory");
        return NULL;
    }
    if (pf_wfdb_header_read(hea, &r->h) || open_files(r, dir)) {
        pf_wfdb_close(r);
        return NULL;
    }
    return r;
}

void pf_wfdb_close(pf_wfdb_record *r)
{
    if (!r) return;
    for (int i = 0; i < r->nfiles; i++)
        if (r->files[i].f) fclose(r->files[i].f);
    free(r->files);
    pf_wfdb_header_free(&r->h);
    free(r->bytes);
    free(r->tmp);
    free(r->raw);
    free(r);
}

const pf_wfdb_header *pf_wfdb_header_of(const pf_wfdb_record *r) { return &r->h; }
int64_t pf_wfdb_length(const pf_wfdb_record *r) { return r->nsamp; }

int pf_wfdb_read_raw(pf_wfdb_record *r, int64_t start, int64_t n, int32_t *out)
{
    if (start < 0 || n < 0 || start > r->nsamp || n > r->nsamp - start)
        return pf_err(PF_ERANGE, "%s: samples [%lld, %lld) outside the record's [0, %lld)", r->h.label,
                      (long long)start, (long long)(start + n), (long long)r->nsamp);
    if (n == 0) return PF_OK;
    for (int i = 0; i < r->nfiles; i++) {
        sigfile_t *sf = &r->files[i];
        int g, bpg, rc;
        pf_wfdb_format_geometry(sf->fmt, &g, &bpg);
        int64_t s0 = start * sf->nsf, cnt = n * sf->nsf;
        int64_t grp = s0 / g;
        int skip = (int)(s0 % g);
        int64_t pos = sf->offset + grp * bpg;
        int64_t want = pf_wfdb_format_bytes(sf->fmt, skip + cnt);
        if ((rc = grow((void **)&r->bytes, &r->bytes_cap, (size_t)want)) ||
            (rc = grow((void **)&r->tmp, &r->tmp_cap, (size_t)cnt * sizeof(int32_t))))
            return rc;
        if (fseeko(sf->f, (off_t)pos, SEEK_SET))
            return pf_err(PF_EIO, "%s: seek to %lld: %s", sf->path, (long long)pos, strerror(errno));
        size_t got = fread(r->bytes, 1, (size_t)want, sf->f);
        if ((int64_t)got < want)
            return pf_err(PF_EFORMAT, "%s: short read at byte %lld (%zu of %lld bytes): file shrank or truncated",
                          sf->path, (long long)pos, got, (long long)want);
        if (sf->fmt == 212 && sf->nsf == 2) {
            /* MIT-BIH's layout: one 3-byte group is one frame (frames start on even samples,
             * so skip is 0); decode straight into the two lead-major rows. */
            int32_t *o0 = out + (size_t)sf->sig0 * (size_t)n, *o1 = o0 + n;
            const uint8_t *p = r->bytes;
            for (int64_t k = 0; k < n; k++, p += 3) {
                o0[k] = sext((uint32_t)p[0] | (uint32_t)(p[1] & 0x0F) << 8, 12);
                o1[k] = sext((uint32_t)p[2] | (uint32_t)(p[1] & 0xF0) << 4, 12);
            }
            continue;
        }
        if ((rc = pf_wfdb_decode(sf->fmt, r->bytes, got, skip, (size_t)cnt, r->tmp)))
            return pf_err_context(rc, "%s", sf->path);
        for (int j = 0; j < sf->nsf; j++) {
            int32_t *o = out + (size_t)(sf->sig0 + j) * (size_t)n;
            const int32_t *t = r->tmp + j;
            for (int64_t k = 0; k < n; k++) o[k] = t[k * sf->nsf];
        }
    }
    return PF_OK;
}

int pf_wfdb_read(pf_wfdb_record *r, int64_t start, int64_t n, const int *sig, int nsel, float *out)
{
    const pf_wfdb_header *h = &r->h;
    if (!sig) nsel = h->nsig;
    for (int k = 0; k < nsel; k++)
        if (sig && (sig[k] < 0 || sig[k] >= h->nsig))
            return pf_err(PF_ERANGE, "%s: signal index %d outside 0..%d", h->label, sig[k], h->nsig - 1);
    int rc;
    if (n == 0) return pf_wfdb_read_raw(r, start, 0, NULL); /* only the range check */
    if ((rc = grow((void **)&r->raw, &r->raw_cap, (size_t)n * (size_t)h->nsig * sizeof(int32_t)))) return rc;
    if ((rc = pf_wfdb_read_raw(r, start, n, r->raw))) return rc;
    for (int k = 0; k < nsel; k++) {
        int s = sig ? sig[k] : k;
        const pf_wfdb_signal *sg = &h->sig[s];
        int32_t bad = pf_wfdb_format_invalid(sg->fmt);
        const int32_t *src = r->raw + (size_t)s * (size_t)n;
        float *dst = out + (size_t)k * (size_t)n;
        const double base = sg->baseline, inv = 1.0 / sg->gain;
        int nbad = 0;
        /* Branch-free so it vectorises; invalid samples after. Multiplying by 1/gain in double
         * and rounding to float gives the correctly rounded float of (adc - baseline) / gain
         * except within 2^-53 of a float rounding midpoint; the real-data tests compare against
         * numpy's division bit for bit. */
        for (int64_t i = 0; i < n; i++) {
            dst[i] = (float)(((double)src[i] - base) * inv);
            nbad += src[i] == bad;
        }
        for (int64_t i = 0; nbad && i < n; i++)
            if (src[i] == bad) dst[i] = NAN, nbad--;
    }
    return PF_OK;
}

int pf_wfdb_verify(pf_wfdb_record *r)
{
    const pf_wfdb_header *h = &r->h;
    if (h->nsig == 0) return PF_OK;
    uint32_t *sum = calloc((size_t)h->nsig, sizeof *sum);
    int32_t *buf = malloc((size_t)h->nsig * 65536 * sizeof *buf);
    int rc = PF_OK;
    if (!sum || !buf) {
        rc = pf_err(PF_ENOMEM, "out of memory");
        goto done;
    }
    for (int64_t t = 0; t < r->nsamp; t += 65536) {
        int64_t n = r->nsamp - t < 65536 ? r->nsamp - t : 65536;
        if ((rc = pf_wfdb_read_raw(r, t, n, buf))) goto done;
        for (int s = 0; s < h->nsig; s++) {
            const int32_t *x = buf + (size_t)s * (size_t)n;
            if (t == 0 && x[0] != h->sig[s].init) {
                rc = pf_err(PF_EFORMAT, "%s line %d: initial value %d but the first sample in %s is %d",
                            h->label, h->sig[s].line, h->sig[s].init, h->sig[s].fname, x[0]);
                goto done;
            }
            uint32_t a = 0;
            for (int64_t i = 0; i < n; i++) a += (uint32_t)x[i];
            sum[s] += a;
        }
    }
    for (int s = 0; s < h->nsig; s++) {
        const pf_wfdb_signal *sg = &h->sig[s];
        if (sg->has_checksum && ((uint32_t)sg->checksum & 0xFFFF) != (sum[s] & 0xFFFF)) {
            rc = pf_err(PF_EFORMAT,
                        "%s line %d: checksum %d does not match the data in %s (16-bit sum of the %lld "
                        "samples is %d / %u unsigned)",
                        h->label, sg->line, sg->checksum, sg->fname, (long long)r->nsamp,
                        (int)(int16_t)(sum[s] & 0xFFFF), sum[s] & 0xFFFF);
            goto done;
        }
    }
done:
    free(sum);
    free(buf);
    return rc;
}
