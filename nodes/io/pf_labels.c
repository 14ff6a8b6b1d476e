#include "pf_labels.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_ann.h"
#include "pf_error.h"
#include "pf_rpeak.h"

/* ---- AAMI EC57 (the one table) ---- */
static const struct {
    const char *name, *codes;
} aami[PF_AAMI_CLASSES] = {
    {"N", "N L R e j B n"},
    {"S", "A a J S"},
    {"V", "V E r"},
    {"F", "F"},
    {"Q", "/ f Q ?"},
};

int pf_aami_class(int code)
{
    const char *m = pf_ann_mnemonic(code);
    if (!pf_ann_is_beat(code) || !m || !m[0] || m[1]) return -1; /* single-character beat mnemonics only */
    for (int c = 0; c < PF_AAMI_CLASSES; c++)
        for (const char *p = aami[c].codes; *p; p++)
            if (*p == m[0] && (p == aami[c].codes || p[-1] == ' ') && (p[1] == ' ' || !p[1])) return c;
    return -1;
}

const char *pf_aami_name(int cls) { return cls >= 0 && cls < PF_AAMI_CLASSES ? aami[cls].name : "?"; }
const char *pf_aami_codes(int cls) { return cls >= 0 && cls < PF_AAMI_CLASSES ? aami[cls].codes : ""; }

int pf_aami_paced(const char *record)
{
    static const char *paced[] = {"102", "104", "107", "217"};
    const char *b = strrchr(record, '/');
    b = b ? b + 1 : record;
    for (size_t i = 0; i < sizeof paced / sizeof *paced; i++) {
        size_t n = strlen(paced[i]);
        if (!strncmp(b, paced[i], n) && (!b[n] || !strcmp(b + n, ".hea"))) return 1;
    }
    return 0;
}

/* ---- CinC 2021 scored diagnoses (the one table; PhysioNet/CinC 2021
 * dx_mapping_scored.csv; equivalent codes share a class) ---- */
static const struct {
    const char *abbr;
    int64_t code, alt; /* alt: the equivalent code, 0 = none */
} dx[PF_DX_CLASSES] = {
    {"AF", 164889003, 0},        {"AFL", 164890007, 0},       {"BBB", 6374002, 0},
    {"Brady", 426627000, 0},     {"LBBB", 164909002, 733534002}, {"RBBB", 59118001, 713427006},
    {"IAVB", 270492004, 0},      {"IRBBB", 713426002, 0},     {"LAD", 39732003, 0},
    {"LAnFB", 445118002, 0},     {"LQRSV", 251146004, 0},     {"NSIVCB", 698252002, 0},
    {"NSR", 426783006, 0},       {"PAC", 284470004, 63593006}, {"PR", 10370003, 0},
    {"PRWP", 365413008, 0},      {"PVC", 427172004, 17338001}, {"LPR", 164947007, 0},
    {"LQT", 111975006, 0},       {"QAb", 164917005, 0},       {"RAD", 47665007, 0},
    {"SA", 427393009, 0},        {"SB", 426177001, 0},        {"STach", 427084000, 0},
    {"TAb", 164934002, 0},       {"TInv", 59931005, 0},
};

const char *pf_dx_name(int cls) { return cls >= 0 && cls < PF_DX_CLASSES ? dx[cls].abbr : "?"; }

int pf_dx_class(int64_t snomed)
{
    for (int c = 0; c < PF_DX_CLASSES; c++)
        if (dx[c].code == snomed || (dx[c].alt && dx[c].alt == snomed)) return c;
    return -1;
}

int pf_dx_read(const char *hea_path, float *y, int *unscored)
{
    FILE *f = fopen(hea_path, "r");
    if (!f) return pf_err(PF_ENOTFOUND, "%s: cannot open (%s)", hea_path, strerror(errno));
    char line[4096];
    int ln = 0, found = 0, rc = PF_OK, un = 0;
    memset(y, 0, sizeof(float) * PF_DX_CLASSES);
    while (!found && fgets(line, sizeof line, f)) {
        ln++;
        char *p = line;
        if (*p != '#') continue;
        while (*p == '#' || *p == ' ') p++;
        if (strncmp(p, "Dx:", 3)) continue;
        found = 1;
        p += 3;
        for (char *tok = strtok(p, ", \t\r\n"); tok && !rc; tok = strtok(NULL, ", \t\r\n")) {
            char *end;
            errno = 0;
            long long v = strtoll(tok, &end, 10);
            if (*end || errno || v <= 0) {
                rc = pf_err(PF_EFORMAT, "%s line %d: diagnosis '%s' is not a SNOMED-CT code", hea_path, ln, tok);
                break;
            }
            int c = pf_dx_class(v);
            if (c < 0) un++;
            else y[c] = 1.0f;
        }
    }
    fclose(f);
    if (!rc && !found) rc = pf_err(PF_ENOTFOUND, "%s: no '# Dx:' line", hea_path);
    if (unscored) *unscored = un;
    return rc;
}

/* ---- beats of a record ---- */
static int detect_all(pf_record *r, pf_beat **out, size_t *n)
{
    int L = pf_record_nleads(r);
    int64_t len = pf_record_length(r);
    double fs = pf_record_rate(r);
    pf_rpeak_cfg c;
    pf_rpeak_cfg_default(&c, fs, L);
    pf_rpeak *d = pf_rpeak_create(&c);
    size_t chunk = 65536, cap = (size_t)(len / (0.2 * fs)) + 64, np = 0;
    float *lm = malloc(sizeof(float) * chunk * (size_t)L), *il = malloc(sizeof(float) * chunk * (size_t)L);
    long *pk = malloc(sizeof(long) * cap);
    int rc = d && lm && il && pk ? PF_OK : pf_err(PF_ENOMEM, "%s: out of memory for beat detection", pf_record_name(r));
    for (int64_t s = 0; !rc && s < len; s += (int64_t)chunk) {
        size_t m = (size_t)(len - s < (int64_t)chunk ? len - s : (int64_t)chunk), k = 0;
        rc = pf_record_read(r, s, (int64_t)m, NULL, L, lm);
        for (size_t i = 0; !rc && i < m; i++) /* the detector takes interleaved samples */
            for (int l = 0; l < L; l++) il[i * L + l] = lm[(size_t)l * m + i];
        if (!rc) rc = pf_rpeak_process(d, il, m, pk + np, cap - np, &k);
        np += k;
    }
    size_t k = 0;
    if (!rc) rc = pf_rpeak_flush(d, pk + np, cap - np, &k);
    np += k;
    pf_beat *b = rc ? NULL : malloc(sizeof *b * (np ? np : 1));
    if (!rc && !b) rc = pf_err(PF_ENOMEM, "%s: out of memory", pf_record_name(r));
    for (size_t i = 0; !rc && i < np; i++) b[i] = (pf_beat){pk[i], -1, -1};
    pf_rpeak_destroy(d);
    free(lm);
    free(il);
    free(pk);
    if (rc) return pf_err_context(rc, "%s: detecting beats", pf_record_name(r));
    *out = b;
    *n = np;
    return PF_OK;
}

int pf_beats_list(pf_record *r, pf_beat **out, size_t *n, int *detected)
{
    const pf_ann *a;
    size_t na = 0;
    pf_record_beats(r, 0, pf_record_length(r), &a, &na);
    if (detected) *detected = na == 0;
    if (na == 0) return detect_all(r, out, n);
    pf_beat *b = malloc(sizeof *b * na);
    if (!b) return pf_err(PF_ENOMEM, "%s: out of memory", pf_record_name(r));
    for (size_t i = 0; i < na; i++) b[i] = (pf_beat){a[i].time, a[i].code, pf_aami_class(a[i].code)};
    *out = b;
    *n = na;
    return PF_OK;
}

size_t pf_beats_thin(pf_beat *b, size_t n, int keep_n, int cap)
{
    size_t seen[PF_AAMI_CLASSES + 1] = {0}, stride[PF_AAMI_CLASSES + 1], k = 0;
    for (size_t i = 0; i < n; i++) seen[b[i].cls + 1]++; /* slot 0: detected beats (no class) */
    for (int c = 0; c <= PF_AAMI_CLASSES; c++) {
        stride[c] = cap > 0 && seen[c] > (size_t)cap ? (seen[c] + (size_t)cap - 1) / (size_t)cap : 1;
        if (c == PF_AAMI_N + 1 && keep_n > 1 && stride[c] < (size_t)keep_n) stride[c] = (size_t)keep_n;
        seen[c] = 0;
    }
    for (size_t i = 0; i < n; i++)
        if (seen[b[i].cls + 1]++ % stride[b[i].cls + 1] == 0) b[k++] = b[i];
    return k;
}
