/* pf_livebatch: many beds' chunks in one message (pf_livebatch.h). */
#include "pf_livebatch.h"

#include "pf_error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct pf_livebatch {
    float *x; size_t nx, capx;
    int64_t *rows; int k, capk;
    char *names; size_t nn, capn;
    double fs0;
};

pf_livebatch *pf_livebatch_create(void) { return calloc(1, sizeof(pf_livebatch)); }

void pf_livebatch_destroy(pf_livebatch *b)
{
    if (!b) return;
    free(b->x); free(b->rows); free(b->names);
    free(b);
}

int pf_livebatch_count(const pf_livebatch *b) { return b->k; }

static int reserve(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 1;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return 0;
    *p = q; *cap = c;
    return 1;
}

float *pf_livebatch_add(pf_livebatch *b, const int64_t *meta, int64_t start, uint64_t seq, double fs, int n_leads, int n, const char *names)
{
    size_t ns = (size_t)n_leads * (size_t)n, nl = names ? strlen(names) : 0, capk = (size_t)b->capk;
    if (!reserve((void **)&b->x, &b->capx, b->nx + ns, sizeof(float)) || !reserve((void **)&b->rows, &capk, (size_t)(b->k + 1) * (PF_LB_N + PF_LM_N), sizeof(int64_t)) ||
        !reserve((void **)&b->names, &b->capn, b->nn + nl + 1, 1)) { pf_err(PF_ENOMEM, "live: out of memory for a batch"); return NULL; }
    b->capk = (int)capk;
    int64_t *r = b->rows + (size_t)b->k * (PF_LB_N + PF_LM_N);
    r[PF_LB_START] = start;
    r[PF_LB_SEQ] = (int64_t)seq;
    r[PF_LB_N_SAMPLES] = n;
    r[PF_LB_N_LEADS] = n_leads;
    r[PF_LB_FS_UHZ] = llround(fs * 1e6);
    r[PF_LB_SAMPLE_OFF] = (int64_t)b->nx;
    r[PF_LB_NAMES_OFF] = (int64_t)b->nn;
    r[PF_LB_NAMES_LEN] = (int64_t)nl;
    memcpy(r + PF_LB_N, meta, sizeof(int64_t) * PF_LM_N);
    if (nl) memcpy(b->names + b->nn, names, nl);
    b->nn += nl;
    if (!b->k) b->fs0 = fs;
    b->k++;
    float *x = b->x + b->nx;
    b->nx += ns;
    return x;
}

pf_msg *pf_livebatch_take(pf_livebatch *b)
{
    if (!b->k) return NULL;
    pf_msg *m = pf_msg_window_create("batch", 0, 0, b->fs0, 1, (uint32_t)b->nx);
    int rc = m ? PF_OK : PF_ENOMEM;
    if (!rc) memcpy(pf_msg_samples(m), b->x, sizeof(float) * b->nx);
    uint32_t d[2] = {(uint32_t)b->k, PF_LB_N + PF_LM_N}, dn[1] = {(uint32_t)b->nn};
    if (!rc) rc = pf_msg_add(m, PF_SEC_LIVE_BATCH, PF_DT_I64, 2, d, b->rows);
    if (!rc && b->nn) rc = pf_msg_add(m, PF_SEC_LEAD_NAMES, PF_DT_U8, 1, dn, b->names);
    b->k = 0; b->nx = 0; b->nn = 0;
    if (rc) { pf_msg_destroy(m); pf_err(PF_ENOMEM, "live: out of memory for a batch message"); return NULL; }
    return m;
}

int pf_livebatch_read(const pf_msg *m, pf_livechunk *out, int max, int *count)
{
    *count = 0;
    const pf_section *bs = pf_msg_find_const(m, PF_SEC_LIVE_BATCH), *ss = pf_msg_find_const(m, PF_SEC_SAMPLES), *ln = pf_msg_find_const(m, PF_SEC_LEAD_NAMES);
    if (!bs) {
        const pf_section *ms = pf_msg_find_const(m, PF_SEC_LIVE_META);
        if (!ms || ms->dtype != PF_DT_I64 || pf_section_count(ms) < PF_LM_N || !ss || max < 1) return PF_OK;
        out[0] = (pf_livechunk){ms->data, m->start_sample, m->window_index, m->sample_rate, (int)m->n_leads, (int)m->n_samples, ss->data,
                                ln && ln->dtype == PF_DT_U8 ? ln->data : NULL, ln && ln->dtype == PF_DT_U8 ? (int)ln->bytes : 0};
        *count = 1;
        return PF_OK;
    }
    if (bs->dtype != PF_DT_I64 || bs->ndim != 2 || bs->dims[1] != PF_LB_N + PF_LM_N)
        return pf_err(PF_EFORMAT, "batch '%s': LIVE_BATCH is not i64 [k, %d]", m->id, PF_LB_N + PF_LM_N);
    if (!ss || ss->dtype != PF_DT_F32) return pf_err(PF_EFORMAT, "batch '%s': no f32 samples", m->id);
    size_t nx = ss->bytes / sizeof(float), nn = ln && ln->dtype == PF_DT_U8 ? ln->bytes : 0;
    int k = (int)bs->dims[0];
    if (k > max) return pf_err(PF_EFORMAT, "batch '%s': %d chunks, at most %d taken", m->id, k, max);
    for (int i = 0; i < k; i++) {
        const int64_t *r = (const int64_t *)bs->data + (size_t)i * (PF_LB_N + PF_LM_N);
        int64_t n = r[PF_LB_N_SAMPLES], nl = r[PF_LB_N_LEADS], off = r[PF_LB_SAMPLE_OFF], no = r[PF_LB_NAMES_OFF], nlen = r[PF_LB_NAMES_LEN];
        if (n < 1 || nl < 1 || nl > 64 || off < 0 || (uint64_t)off + (uint64_t)(n * nl) > nx || no < 0 || nlen < 0 || (uint64_t)(no + nlen) > nn || r[PF_LB_FS_UHZ] <= 0)
            return pf_err(PF_EFORMAT, "batch '%s': chunk %d of %d lies outside the message (samples %lld+%lldx%lld of %zu, names %lld+%lld of %zu)", m->id, i, k,
                          (long long)off, (long long)nl, (long long)n, nx, (long long)no, (long long)nlen, nn);
        out[i] = (pf_livechunk){r + PF_LB_N, r[PF_LB_START], (uint64_t)r[PF_LB_SEQ], (double)r[PF_LB_FS_UHZ] / 1e6, (int)nl, (int)n,
                                (const float *)ss->data + off, nlen ? (const char *)ln->data + no : NULL, (int)nlen};
    }
    *count = k;
    return PF_OK;
}
