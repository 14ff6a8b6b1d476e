/* pf_ann: MIT-format annotation reader and writer (see pf_ann.h). */
#include "pf_ann.h"

#include "pf_error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const mnem[42] = {
    " ", "N", "L", "R", "a", "V", "F", "J", "A", "S", "E", "j", "/", "Q", "~", "[15]", "|", "[17]", "s", "T", "*",
    "D", "\"", "=", "p", "B", "^", "t", "+", "u", "?", "!", "[", "]", "e", "n", "@", "x", "f", "(", ")", "r"};

const char *pf_ann_mnemonic(int code)
{
    static const char *const hi[] = {"[42]", "[43]", "[44]", "[45]", "[46]", "[47]", "[48]", "[49]", "[50]",
                                     "[51]", "[52]", "[53]", "[54]", "[55]", "[56]", "[57]", "[58]"};
    if (code >= 0 && code < 42) return mnem[code];
    if (code >= 42 && code <= PF_ANN_MAXCODE) return hi[code - 42];
    return "?code";
}

int pf_ann_code(const char *m)
{
    for (int c = 1; c < 42; c++)
        if (!strcmp(mnem[c], m)) return c;
    return -1;
}

int pf_ann_is_beat(int code)
{
    switch (code) {
    case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 8: case 9: case 10: case 11: case 12: case 13:
    case PF_ANN_BBB: case PF_ANN_LEARN: case PF_ANN_AESC: case PF_ANN_SVESC: case PF_ANN_PFUS: case PF_ANN_RONT:
        return 1;
    default: return 0;
    }
}

void pf_ann_list_free(pf_ann_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) free(l->a[i].aux);
    free(l->a);
    memset(l, 0, sizeof *l);
}

int pf_ann_push(pf_ann_list *l, int64_t time, int code, int sub, int chan, int num, const char *aux, int auxlen)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 256;
        pf_ann *na = realloc(l->a, nc * sizeof *na);
        if (!na) return pf_err(PF_ENOMEM, "out of memory for %zu annotations", nc);
        l->a = na;
        l->cap = nc;
    }
    pf_ann *a = &l->a[l->n];
    memset(a, 0, sizeof *a);
    a->time = time;
    a->code = code;
    a->sub = sub;
    a->chan = chan;
    a->num = num;
    if (aux && auxlen > 0) {
        a->aux = malloc((size_t)auxlen + 1);
        if (!a->aux) return pf_err(PF_ENOMEM, "out of memory");
        memcpy(a->aux, aux, (size_t)auxlen);
        a->aux[auxlen] = 0;
        a->auxlen = auxlen;
    }
    l->n++;
    return PF_OK;
}

static int sext10(int v) { return (v ^ 0x200) - 0x200; }

int pf_ann_parse(const uint8_t *buf, size_t len, const char *label, pf_ann_list *out)
{
    if (!label) label = "(annotations)";
    size_t i = 0;
    int64_t t = 0;
    int chan = 0, num = 0;
    pf_ann *cur = NULL; /* annotation the NUM/SUB/CHN/AUX words modify */
    while (1) {
        if (i + 2 > len) {
            if (i == len) return PF_OK; /* no end-of-file word: tolerated, as WFDB does */
            return pf_err(PF_EFORMAT, "%s byte %zu: file ends inside a 16-bit word (truncated)", label, i);
        }
        unsigned w = buf[i] | (unsigned)buf[i + 1] << 8;
        int a = (int)(w >> 10), v = (int)(w & 0x3FF);
        size_t at = i;
        i += 2;
        if (a == 0 && v == 0) return PF_OK;
        switch (a) {
        case PF_ANN_SKIP: {
            if (i + 4 > len)
                return pf_err(PF_EFORMAT, "%s byte %zu: SKIP needs a 4-byte interval, file ends (truncated)", label, at);
            uint32_t hi = buf[i] | (uint32_t)buf[i + 1] << 8, lo = buf[i + 2] | (uint32_t)buf[i + 3] << 8;
            int32_t d = (int32_t)(hi << 16 | lo);
            i += 4;
            t += d;
            cur = NULL;
            break;
        }
        case PF_ANN_NUM:
        case PF_ANN_SUB:
        case PF_ANN_CHN:
            if (!cur)
                return pf_err(PF_EFORMAT, "%s byte %zu: %s word with no annotation before it", label, at,
                              a == PF_ANN_NUM ? "NUM" : a == PF_ANN_SUB ? "SUB" : "CHN");
            if (a == PF_ANN_NUM) cur->num = num = sext10(v);
            else if (a == PF_ANN_SUB) cur->sub = sext10(v);
            else cur->chan = chan = v;
            break;
        case PF_ANN_AUX: {
            if (!cur) return pf_err(PF_EFORMAT, "%s byte %zu: AUX word with no annotation before it", label, at);
            if (v > 255)
                return pf_err(PF_EFORMAT, "%s byte %zu: AUX length %d exceeds 255", label, at, v);
            size_t padded = (size_t)(v + 1) & ~(size_t)1;
            if (i + padded > len)
                return pf_err(PF_EFORMAT, "%s byte %zu: AUX of %d bytes runs past the end of the file (truncated)",
                              label, at, v);
            free(cur->aux);
            cur->aux = malloc((size_t)v + 1);
            if (!cur->aux) return pf_err(PF_ENOMEM, "out of memory");
            memcpy(cur->aux, buf + i, (size_t)v);
            cur->aux[v] = 0;
            cur->auxlen = v;
            i += padded;
            break;
        }
        default: {
            t += v;
            int rc = pf_ann_push(out, t, a, 0, chan, num, NULL, 0);
            if (rc) return rc;
            cur = &out->a[out->n - 1];
        }
        }
    }
}

int pf_ann_read(const char *path, pf_ann_list *out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return pf_err(errno == ENOENT ? PF_ENOTFOUND : PF_EIO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = PF_OK;
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 65536;
            uint8_t *nb = realloc(buf, nc);
            if (!nb) { rc = pf_err(PF_ENOMEM, "%s: out of memory", path); break; }
            buf = nb;
            cap = nc;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) rc = pf_err(PF_EIO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    /* WFDB writes at least the end-of-file word: an empty file is a failed or cut-off write,
     * and taking it as "no beats" would score a detector at Se 0 % without a word */
    if (!rc && n == 0) rc = pf_err(PF_EFORMAT, "%s: empty annotation file (0 bytes, not even the end-of-file word); refusing it", path);
    if (!rc) rc = pf_ann_parse(buf, n, path, out);
    free(buf);
    return rc;
}

typedef struct {
    uint8_t *b;
    size_t n, cap;
} obuf;

static int put16(obuf *o, unsigned w)
{
    if (o->n + 2 > o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 4096;
        uint8_t *nb = realloc(o->b, nc);
        if (!nb) return pf_err(PF_ENOMEM, "out of memory");
        o->b = nb;
        o->cap = nc;
    }
    o->b[o->n++] = (uint8_t)(w & 0xFF);
    o->b[o->n++] = (uint8_t)(w >> 8 & 0xFF);
    return PF_OK;
}

int pf_ann_encode(const pf_ann_list *l, uint8_t **buf, size_t *len)
{
    obuf o = {0};
    int64_t t = 0;
    int chan = 0, num = 0, rc = PF_OK;
    for (size_t k = 0; k < l->n && !rc; k++) {
        const pf_ann *a = &l->a[k];
        if (a->code < 0 || a->code > PF_ANN_MAXCODE) {
            rc = pf_err(PF_ERANGE, "annotation %zu: code %d must be 0..%d", k, a->code, PF_ANN_MAXCODE);
            break;
        }
        if (a->sub < -512 || a->sub > 511 || a->num < -512 || a->num > 511 || a->chan < 0 || a->chan > 1023 ||
            a->auxlen < 0 || a->auxlen > 255) {
            rc = pf_err(PF_ERANGE, "annotation %zu: sub %d / num %d must be -512..511, chan %d 0..1023, aux length %d 0..255",
                        k, a->sub, a->num, a->chan, a->auxlen);
            break;
        }
        int64_t d = a->time - t;
        /* As putann(): code 0 (NOTQRS) always goes through a SKIP to one sample before it and
         * an interval of 1, so its word is never 0x0000 (end of file); other codes take a SKIP
         * when the interval is negative or above 1023. Intervals beyond 32 bits take several
         * SKIPs (readers sum consecutive SKIPs). */
        int skip = a->code == 0 || d > 1023 || d < 0;
        int64_t rest = a->code == 0 ? d - 1 : d;
        while (!rc && skip) {
            int32_t part = rest > INT32_MAX ? INT32_MAX : rest < INT32_MIN ? INT32_MIN : (int32_t)rest;
            uint32_t u = (uint32_t)part;
            rc = put16(&o, PF_ANN_SKIP << 10);
            if (!rc) rc = put16(&o, u >> 16);
            if (!rc) rc = put16(&o, u & 0xFFFF);
            rest -= part;
            skip = rest != 0;
        }
        if (rc) break;
        if (a->code == 0 || d > 1023 || d < 0) d = a->code == 0 ? 1 : 0;
        if (!rc) rc = put16(&o, (unsigned)a->code << 10 | (unsigned)d);
        if (!rc && a->sub != 0) rc = put16(&o, PF_ANN_SUB << 10 | ((unsigned)a->sub & 0x3FF));
        if (!rc && a->chan != chan) rc = put16(&o, PF_ANN_CHN << 10 | ((unsigned)a->chan & 0x3FF));
        if (!rc && a->num != num) rc = put16(&o, PF_ANN_NUM << 10 | ((unsigned)a->num & 0x3FF));
        if (!rc && a->auxlen > 0) {
            rc = put16(&o, PF_ANN_AUX << 10 | (unsigned)a->auxlen);
            for (int j = 0; j < a->auxlen && !rc; j += 2)
                rc = put16(&o, (uint8_t)a->aux[j] | (j + 1 < a->auxlen ? (unsigned)(uint8_t)a->aux[j + 1] << 8 : 0));
        }
        t = a->time;
        chan = a->chan;
        num = a->num;
    }
    if (!rc) rc = put16(&o, 0);
    if (rc) {
        free(o.b);
        return rc;
    }
    *buf = o.b;
    *len = o.n;
    return PF_OK;
}

int pf_ann_write(const char *path, const pf_ann_list *l)
{
    uint8_t *buf;
    size_t len;
    int rc = pf_ann_encode(l, &buf, &len);
    if (rc) return pf_err_context(rc, "%s", path);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(buf);
        return pf_err(PF_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    int ok = fwrite(buf, 1, len, f) == len;
    ok = (fflush(f) == 0) && ok;
    ok = (fsync(fileno(f)) == 0) && ok;
    ok = (fclose(f) == 0) && ok;
    free(buf);
    if (!ok) {
        unlink(tmp);
        return pf_err(PF_EIO, "%s: write failed: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        return pf_err(PF_EIO, "%s: rename from %s failed: %s", path, tmp, strerror(e));
    }
    return PF_OK;
}

size_t pf_ann_lower(const pf_ann_list *l, int64_t t)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->a[mid].time < t) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}
