/* Node kinds `filter` and `rpeak` over the pf_dsp kernels.
 *
 * Both keep state per stream (window id = record id): a record's windows must
 * arrive in order at one instance, so run them with replicas = 1 per stream
 * (zero-phase filtering without resampling is per window and replica-safe).
 * A window that does not continue its stream (gap or overlap with causal
 * state) restarts that stream's state and is counted ("restarts"). */
#include "pf_error.h"
#include "pf_log.h"
#include "pf_node.h"
#include "pf_norm.h"
#include "pf_resamp.h"
#include "pf_rpeak.h"
#include "pf_sos.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STREAMS 64

/* windows are lead-major on the wire, the kernels take interleaved samples */
static void to_interleaved(const float *lm, float *il, size_t n, int L)
{
    for (int l = 0; l < L; l++)
        for (size_t t = 0; t < n; t++) il[t * L + l] = lm[(size_t)l * n + t];
}

static void to_lead_major(const float *il, float *lm, size_t n, int L)
{
    for (int l = 0; l < L; l++)
        for (size_t t = 0; t < n; t++) lm[(size_t)l * n + t] = il[t * L + l];
}

/* A new window like m with samples [L, n] (lead-major, copied) and every
 * other section except those of type skip (0 = none); index-valued sections
 * (R-peaks, annotations) are mapped through scale * i + shift. */
static pf_msg *rebuild(const pf_msg *m, const float *samples, uint32_t n, double fs, int64_t start,
                       int skip, double scale, double shift)
{
    pf_msg *o = pf_msg_window_create(m->id, m->window_index, start, fs, m->n_leads, n);
    if (!o) return NULL;
    memcpy(pf_msg_samples(o), samples, sizeof(float) * n * m->n_leads);
    o->epoch = m->epoch;
    o->flags = m->flags;
    for (int i = 0; i < m->n_sections; i++) {
        const pf_section *s = &m->sec[i];
        if (s->type == PF_SEC_SAMPLES || (skip && s->type == skip)) continue;
        int rc;
        if ((s->type == PF_SEC_RPEAKS || s->type == PF_SEC_RPEAKS_AUG || s->type == PF_SEC_ANN) &&
            s->dtype == PF_DT_I64 && (scale != 1 || shift != 0)) {
            size_t cnt = pf_section_count(s);
            int64_t *v = malloc(sizeof(int64_t) * (cnt + 1));
            if (!v) { pf_msg_destroy(o); return NULL; }
            memcpy(v, s->data, sizeof(int64_t) * cnt);
            size_t step = s->type == PF_SEC_ANN ? 2 : 1; /* ANN: (sample, code) pairs */
            for (size_t k = 0; k < cnt; k += step) v[k] = (int64_t)llround(v[k] * scale + shift);
            rc = pf_msg_adopt(o, s->type, s->dtype, s->ndim, s->dims, v);
        } else {
            rc = pf_msg_add(o, s->type, s->dtype, s->ndim, s->dims, s->data);
        }
        if (rc) { pf_msg_destroy(o); return NULL; }
    }
    return o;
}

/* ------------------------------------------------------------------------ */
/* filter                                                                    */

static const pf_param_spec filter_params[] = {
    {"band", PF_P_STRING, "bandpass", 0, 0, "bandpass|highpass|lowpass|none", "Butterworth band type"},
    {"order", PF_P_INT, "2", 1, 12, NULL, "Butterworth order (scipy's N; a band-pass has 2N poles)"},
    {"f_lo", PF_P_DOUBLE, "0.5", 0.01, 10000, NULL, "band-pass lower edge / high-pass cut-off, Hz"},
    {"f_hi", PF_P_DOUBLE, "40", 0.01, 10000, NULL, "band-pass upper edge / low-pass cut-off, Hz"},
    {"notch", PF_P_DOUBLE, "0", 0, 1000, NULL, "mains notch frequency, Hz (0 = off; 50 or 60)"},
    {"notch_q", PF_P_DOUBLE, "30", 1, 1000, NULL, "notch quality factor (-3 dB width notch/q)"},
    {"baseline", PF_P_DOUBLE, "0", 0, 10, NULL, "extra 2nd-order high-pass for baseline wander, Hz (0 = off)"},
    {"mode", PF_P_STRING, "causal", 0, 0, "causal|zerophase", "causal streaming (state per record) or forward-backward per window"},
    {"engine", PF_P_STRING, "f64", 0, 0, "f64|ref|liquid", "SOS kernel: float64 vectorised, naive reference, liquid-dsp iirfilt"},
    {"resample", PF_P_INT, "0", 0, 100000, NULL, "output sample rate, Hz (0 = keep); liquid-dsp rresamp"},
    {"normalize", PF_P_STRING, "none", 0, 0, "none|zscore|minmax", "per-lead normalisation of each output window"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const pf_port_spec filter_ports[] = {
    {"in", PF_PORT_IN, PF_MSG_WINDOW, 0, "ECG windows"},
    {"out", PF_PORT_OUT, PF_MSG_WINDOW, 0, "filtered (resampled, normalised) windows"},
    {NULL, 0, 0, 0, NULL},
};

typedef struct {
    char id[PF_WIRE_MAX_ID + 1];
    double fs;
    uint32_t L;
    pf_sos *sos;
    pf_resamp *rs;
    int64_t next_start; /* expected start of the next window */
    int64_t out_next;   /* output sample index of the next resampled sample */
    uint64_t used;      /* LRU stamp */
} fstream;

typedef struct {
    const pf_params *p;
    int zerophase, resample, band, order;
    double f_lo, f_hi, notch, notch_q, baseline;
    pf_sos_engine engine;
    pf_norm_kind norm;
    fstream st[MAX_STREAMS];
    int nst;
    uint64_t clock;
    float *a, *b;
    size_t cap;
    double logged_fs;
} filter_t;

static int design_for(const filter_t *f, double fs, pf_iirdes *d)
{
    int rc = PF_OK, have = 0;
    if (f->band != -1) {
        rc = pf_iirdes_butter(d, (pf_iirdes_band)f->band, f->order,
                              f->band == PF_IIRDES_LOWPASS ? f->f_hi : f->f_lo, f->f_hi, fs);
        have = 1;
    }
    pf_iirdes e;
    if (!rc && f->baseline > 0) {
        rc = pf_iirdes_butter(&e, PF_IIRDES_HIGHPASS, 2, f->baseline, 0, fs);
        if (!rc) rc = have ? pf_iirdes_cascade(d, &e) : (*d = e, 0);
        have = 1;
    }
    if (!rc && f->notch > 0) {
        rc = pf_iirdes_notch(&e, f->notch, f->notch_q, fs);
        if (!rc) rc = have ? pf_iirdes_cascade(d, &e) : (*d = e, 0);
        have = 1;
    }
    if (!rc && !have) return 1; /* nothing to filter */
    return rc ? pf_err_context(rc, "filter design at fs = %g Hz", fs) : PF_OK;
}

static int filter_create(pf_node *n, void **state)
{
    const pf_params *p = pf_node_params(n);
    filter_t *f = calloc(1, sizeof *f);
    if (!f) return pf_err(PF_ENOMEM, "filter: out of memory");
    *state = f;
    const char *band = pf_params_string(p, "band");
    f->band = !strcmp(band, "bandpass") ? PF_IIRDES_BANDPASS
              : !strcmp(band, "highpass") ? PF_IIRDES_HIGHPASS
              : !strcmp(band, "lowpass") ? PF_IIRDES_LOWPASS
                                          : -1;
    f->order = (int)pf_params_int(p, "order");
    f->f_lo = pf_params_double(p, "f_lo");
    f->f_hi = pf_params_double(p, "f_hi");
    f->notch = pf_params_double(p, "notch");
    f->notch_q = pf_params_double(p, "notch_q");
    f->baseline = pf_params_double(p, "baseline");
    f->zerophase = !strcmp(pf_params_string(p, "mode"), "zerophase");
    f->resample = (int)pf_params_int(p, "resample");
    int rc = pf_sos_engine_parse(pf_params_string(p, "engine"), &f->engine);
    if (!rc) rc = pf_norm_parse(pf_params_string(p, "normalize"), &f->norm);
    if (!rc && f->band == PF_IIRDES_BANDPASS && !(f->f_hi > f->f_lo))
        rc = pf_err(PF_ERANGE, "filter: f_hi = %g must be above f_lo = %g", f->f_hi, f->f_lo);
    if (!rc && f->zerophase && f->engine != PF_SOS_ENGINE_F64)
        pf_warn("filter: zero-phase mode always uses the float64 kernel (engine '%s' ignored)",
                pf_params_string(p, "engine"));
    return rc;
}

static void fstream_free(fstream *s)
{
    pf_sos_destroy(s->sos);
    pf_resamp_destroy(s->rs);
    memset(s, 0, sizeof *s);
}

static fstream *filter_stream(pf_node *n, filter_t *f, const pf_msg *m, int *fresh)
{
    *fresh = 0;
    fstream *s = NULL;
    for (int i = 0; i < f->nst; i++)
        if (!strcmp(f->st[i].id, m->id)) s = &f->st[i];
    if (s && (s->fs != m->sample_rate || s->L != m->n_leads || s->next_start != m->start_sample)) {
        if (s->next_start != m->start_sample)
            pf_node_count(n, "restarts", 1); /* a gap or overlap: causal state does not apply */
        fstream_free(s);
        s = NULL;
    }
    if (!s) {
        int slot = 0;
        if (f->nst < MAX_STREAMS) slot = f->nst++;
        else /* evict the least recently used */
            for (int i = 1; i < MAX_STREAMS; i++)
                if (f->st[i].used < f->st[slot].used) slot = i;
        s = &f->st[slot];
        fstream_free(s);
        snprintf(s->id, sizeof s->id, "%s", m->id);
        s->fs = m->sample_rate;
        s->L = m->n_leads;
        s->next_start = m->start_sample;
        *fresh = 1;
    }
    s->used = ++f->clock;
    return s;
}

static int filter_process(pf_node *n, void *state, const char *port, pf_msg *m)
{
    filter_t *f = state;
    const int L = (int)m->n_leads;
    const size_t ns = m->n_samples;
    const double fs = m->sample_rate;
    if (ns * L > f->cap) {
        size_t cap = ns * L * 3; /* resampling to 500 from >= 200 Hz at most 2.5x */
        free(f->a);
        free(f->b);
        f->a = malloc(sizeof(float) * cap);
        f->b = malloc(sizeof(float) * cap);
        f->cap = f->a && f->b ? cap : 0;
        if (!f->cap) return pf_err(PF_ENOMEM, "filter: out of memory for %zu samples", ns * L);
    }
    pf_iirdes d;
    int rc = design_for(f, fs, &d), none = rc == 1;
    if (rc < 0) return pf_node_reject(n, "bad_rate", m, "%s", pf_errmsg()); /* a rate this design cannot take */
    if (f->resample && (int)lround(fs) != f->resample && (fs != floor(fs) || fs > 1e6))
        return pf_node_reject(n, "bad_rate", m, "resampling needs an integer rate up to 1 MHz, got %g Hz", fs);
    float *x = f->a, *y = f->b;
    to_interleaved(pf_msg_samples(m), x, ns, L);
    int fresh = 0;
    fstream *s = NULL;
    if (!f->zerophase || f->resample) s = filter_stream(n, f, m, &fresh);
    if (!none) {
        if (f->zerophase) {
            rc = pf_sos_filtfilt(&d, x, x, ns, L);
        } else {
            if (!s->sos) s->sos = pf_sos_create(&d, L, f->engine);
            if (!s->sos) return pf_err_context(PF_EINVAL, "filter %s", m->id);
            rc = pf_sos_process(s->sos, x, x, ns);
        }
        if (rc == PF_ENOMEM) return pf_err_context(rc, "filter window %llu of %s", (unsigned long long)m->window_index, m->id);
        if (rc) return pf_node_reject(n, "bad_shape", m, "%s", pf_errmsg()); /* e.g. shorter than forward-backward padding */
        if (fs != f->logged_fs) {
            f->logged_fs = fs;
            pf_info("filter at %g Hz: %d sections, %s; group delay %.2f samples at %.2f Hz", fs,
                    d.nsec, f->zerophase ? "zero-phase" : "causal",
                    f->zerophase ? 0.0 : pf_iirdes_group_delay(&d, d.f_ref), d.f_ref);
        }
    }
    if (s) s->next_start = m->start_sample + (int64_t)ns;
    size_t nout = ns;
    double fs_out = fs, scale = 1, shift = 0;
    int64_t start_out = m->start_sample;
    if (f->resample && (int)lround(fs) != f->resample) {
        if (fs != floor(fs)) return pf_err(PF_EINVAL, "filter: resampling needs an integer rate, got %g Hz", fs);
        if (!s->rs) {
            s->rs = pf_resamp_create((int)fs, f->resample, L);
            if (!s->rs) return pf_err_context(PF_EINVAL, "filter %s", m->id);
            s->out_next = (int64_t)llround(m->start_sample * (double)f->resample / fs);
        }
        size_t need = pf_resamp_max_out(s->rs, ns) * L;
        if (need > f->cap) {
            float *ny = realloc(f->b, sizeof(float) * need), *na = NULL;
            if (ny) f->b = ny;
            na = ny ? realloc(f->a, sizeof(float) * need) : NULL;
            if (!na) return pf_err(PF_ENOMEM, "filter: out of memory for %zu samples", need);
            /* x lived in f->a: keep pointing at it after realloc */
            x = f->a = na;
            y = f->b;
            f->cap = need;
        }
        rc = pf_resamp_process(s->rs, x, ns, y, f->cap / L, &nout);
        if (rc) return rc;
        x = y;
        fs_out = f->resample;
        scale = fs_out / fs;
        /* output sample k shows input time (k - delay) / fs_out */
        shift = pf_resamp_delay(s->rs);
        start_out = s->out_next;
        s->out_next += (int64_t)nout;
        if (nout == 0) return PF_OK; /* too short to complete a resampler block yet */
    }
    size_t bad = 0;
    rc = pf_norm_apply(f->norm, x, nout, L, &bad);
    if (rc) return rc;
    if (bad) pf_node_count(n, "nonfinite", bad);
    float *lm = (x == f->a) ? f->b : f->a;
    to_lead_major(x, lm, nout, L);
    pf_msg *o = rebuild(m, lm, (uint32_t)nout, fs_out, start_out, 0, scale, shift);
    if (!o) return pf_err(PF_ENOMEM, "filter: out of memory");
    return pf_node_send(n, "out", o);
}

static void filter_destroy(void *state)
{
    filter_t *f = state;
    if (!f) return;
    for (int i = 0; i < f->nst; i++) fstream_free(&f->st[i]);
    free(f->a);
    free(f->b);
    free(f);
}

const pf_kind pf_kind_filter = {
    .name = "filter",
    .doc = "Butterworth band-pass / notch / baseline SOS filter (causal or zero-phase), resampling, normalisation",
    .params = filter_params,
    .ports = filter_ports,
    .create = filter_create,
    .process = filter_process,
    .destroy = filter_destroy,
};

/* ------------------------------------------------------------------------ */
/* rpeak                                                                     */

static const pf_param_spec rpeak_params[] = {
    {"lead", PF_P_INT, "-1", -1, 4095, NULL, "lead to detect on (-1 = all leads combined)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const pf_port_spec rpeak_ports[] = {
    {"in", PF_PORT_IN, PF_MSG_WINDOW, 0, "ECG windows (raw or filtered)"},
    {"out", PF_PORT_OUT, PF_MSG_WINDOW, 0, "the same windows with detected R-peaks (absolute sample indices)"},
    {NULL, 0, 0, 0, NULL},
};

typedef struct {
    char id[PF_WIRE_MAX_ID + 1];
    double fs;
    uint32_t L;
    pf_rpeak *det;
    int64_t base;      /* absolute index of the detector's sample 0 */
    int64_t consumed;  /* absolute index of the next sample to feed */
    int64_t *peaks;    /* detected, absolute, not yet attached to every window */
    size_t np, pcap;
    pf_msg **held;     /* windows waiting until their peaks are decided */
    size_t nh, hcap;
    uint64_t used;
} rstream;

typedef struct {
    int lead;
    rstream st[MAX_STREAMS];
    int nst;
    uint64_t clock;
    float *buf;
    long *out;
    size_t cap, ocap;
} rpeak_t;

static int rpeak_create(pf_node *n, void **state)
{
    rpeak_t *r = calloc(1, sizeof *r);
    if (!r) return pf_err(PF_ENOMEM, "rpeak: out of memory");
    r->lead = (int)pf_params_int(pf_node_params(n), "lead");
    *state = r;
    return PF_OK;
}

static int add_peaks(rstream *s, const long *p, size_t k)
{
    if (s->np + k > s->pcap) {
        size_t cap = (s->np + k) * 2 + 16;
        int64_t *v = realloc(s->peaks, sizeof(int64_t) * cap);
        if (!v) return pf_err(PF_ENOMEM, "rpeak: out of memory");
        s->peaks = v;
        s->pcap = cap;
    }
    for (size_t i = 0; i < k; i++) s->peaks[s->np++] = s->base + p[i];
    return PF_OK;
}

/* Send held windows whose last sample is at or before `decided` (absolute),
 * each with the detected peaks inside it; forget peaks no window needs. */
static int release(pf_node *n, rstream *s, int64_t decided)
{
    size_t k = 0;
    int rc = PF_OK;
    for (; k < s->nh && !rc; k++) {
        pf_msg *m = s->held[k];
        int64_t a = m->start_sample, b = a + m->n_samples;
        if (b > decided) break;
        int64_t *v = malloc(sizeof(int64_t) * (s->np + 1));
        uint32_t cnt = 0;
        if (!v) { rc = pf_err(PF_ENOMEM, "rpeak: out of memory"); break; }
        for (size_t i = 0; i < s->np; i++)
            if (s->peaks[i] >= a && s->peaks[i] < b) v[cnt++] = s->peaks[i];
        pf_msg *o = rebuild(m, pf_msg_samples(m), m->n_samples, m->sample_rate, m->start_sample,
                            PF_SEC_RPEAKS, 1, 0);
        if (o) rc = pf_msg_adopt(o, PF_SEC_RPEAKS, PF_DT_I64, 1, &cnt, v);
        else { free(v); rc = pf_err(PF_ENOMEM, "rpeak: out of memory"); }
        if (!rc) {
            pf_node_count(n, "beats", cnt);
            rc = pf_node_send(n, "out", o);
        } else {
            pf_msg_destroy(o);
        }
        pf_msg_destroy(m);
    }
    if (s->held) memmove(s->held, s->held + k, sizeof *s->held * (s->nh - k)); /* NULL + 0 is UB */
    s->nh -= k;
    /* peaks before the oldest held window are no longer needed */
    int64_t keep = s->nh ? s->held[0]->start_sample : decided;
    size_t j = 0;
    while (j < s->np && s->peaks[j] < keep) j++;
    if (s->peaks) memmove(s->peaks, s->peaks + j, sizeof(int64_t) * (s->np - j));
    s->np -= j;
    return rc;
}

static int rpeak_end_segment(pf_node *n, rpeak_t *r, rstream *s)
{
    int rc = PF_OK;
    if (s->det) {
        size_t cap = (size_t)(20 * s->fs) + 64, k = 0;
        long *tmp = malloc(sizeof(long) * cap);
        if (!tmp) return pf_err(PF_ENOMEM, "rpeak: out of memory");
        rc = pf_rpeak_flush(s->det, tmp, cap, &k);
        if (!rc) rc = add_peaks(s, tmp, k);
        free(tmp);
        if (pf_rpeak_nonfinite(s->det)) pf_node_count(n, "nonfinite", pf_rpeak_nonfinite(s->det));
        pf_rpeak_destroy(s->det);
        s->det = NULL;
    }
    if (!rc) rc = release(n, s, INT64_MAX);
    return rc;
}

static void rstream_free(rstream *s)
{
    pf_rpeak_destroy(s->det);
    for (size_t i = 0; i < s->nh; i++) pf_msg_destroy(s->held[i]);
    free(s->held);
    free(s->peaks);
    memset(s, 0, sizeof *s);
}

static int rpeak_process(pf_node *n, void *state, const char *port, pf_msg *m)
{
    rpeak_t *r = state;
    const int L = (int)m->n_leads;
    rstream *s = NULL;
    int rc = PF_OK;
    for (int i = 0; i < r->nst; i++)
        if (!strcmp(r->st[i].id, m->id)) s = &r->st[i];
    int64_t a = m->start_sample, b = a + m->n_samples;
    if (s && (s->fs != m->sample_rate || s->L != m->n_leads || a > s->consumed)) {
        if (a > s->consumed) pf_node_count(n, "restarts", 1); /* gap: a new segment */
        rc = rpeak_end_segment(n, r, s);
        if (rc) return rc;
        rstream_free(s);
        s = NULL;
    }
    if (!s) {
        int slot = 0;
        if (r->nst < MAX_STREAMS) slot = r->nst++;
        else /* evict the least recently used (its segment ends here) */
            for (int i = 1; i < MAX_STREAMS; i++)
                if (r->st[i].used < r->st[slot].used) slot = i;
        s = &r->st[slot];
        if (s->det || s->nh) {
            rc = rpeak_end_segment(n, r, s);
            if (rc) return rc;
        }
        rstream_free(s);
        snprintf(s->id, sizeof s->id, "%s", m->id);
        s->fs = m->sample_rate;
        s->L = m->n_leads;
        s->base = s->consumed = a;
        pf_rpeak_cfg c;
        pf_rpeak_cfg_default(&c, m->sample_rate, L);
        c.lead = r->lead >= L ? L - 1 : r->lead;
        s->det = pf_rpeak_create(&c);
        if (!s->det) { /* a rate or lead count the detector cannot take: this window only */
            s->id[0] = 0;
            s->fs = 0;
            return pf_node_reject(n, "bad_rate", m, "%s", pf_errmsg());
        }
    }
    s->used = ++r->clock;
    /* feed only samples not seen yet: overlapping windows are fine */
    if (b > s->consumed) {
        size_t off = (size_t)(s->consumed - a), k = (size_t)(b - s->consumed);
        if ((size_t)m->n_samples * L > r->cap) {
            free(r->buf);
            r->cap = (size_t)m->n_samples * L;
            r->buf = malloc(sizeof(float) * r->cap);
            if (!r->buf) { r->cap = 0; return pf_err(PF_ENOMEM, "rpeak: out of memory"); }
        }
        size_t ocap = k / (size_t)(0.2 * s->fs + 1) + 8;
        if (ocap > r->ocap) {
            free(r->out);
            r->out = malloc(sizeof(long) * ocap);
            r->ocap = r->out ? ocap : 0;
            if (!r->out) return pf_err(PF_ENOMEM, "rpeak: out of memory");
        }
        const float *lm = pf_msg_samples(m);
        for (int l = 0; l < L; l++)
            for (size_t t = 0; t < k; t++) r->buf[t * L + l] = lm[(size_t)l * m->n_samples + off + t];
        size_t got = 0;
        rc = pf_rpeak_process(s->det, r->buf, k, r->out, r->ocap, &got);
        if (!rc) rc = add_peaks(s, r->out, got);
        if (rc) return rc;
        s->consumed = b;
    }
    if (s->nh == s->hcap) {
        size_t cap = s->hcap * 2 + 4;
        pf_msg **h = realloc(s->held, sizeof *h * cap);
        if (!h) return pf_err(PF_ENOMEM, "rpeak: out of memory");
        s->held = h;
        s->hcap = cap;
    }
    pf_msg *c = pf_msg_clone(m);
    if (!c) return pf_err(PF_ENOMEM, "rpeak: out of memory");
    s->held[s->nh++] = c;
    /* every beat up to consumed - latency has been reported by the detector */
    return release(n, s, s->consumed - pf_rpeak_latency(s->det));
}

static int rpeak_finish(pf_node *n, void *state, int interrupted)
{
    rpeak_t *r = state;
    int rc = PF_OK;
    for (int i = 0; i < r->nst && !rc; i++) rc = rpeak_end_segment(n, r, &r->st[i]);
    return rc;
}

static void rpeak_destroy(void *state)
{
    rpeak_t *r = state;
    if (!r) return;
    for (int i = 0; i < r->nst; i++) rstream_free(&r->st[i]);
    free(r->buf);
    free(r->out);
    free(r);
}

const pf_kind pf_kind_rpeak = {
    .name = "rpeak",
    .doc = "streaming multi-lead R-peak detector: attaches absolute R-peak indices to each window",
    .params = rpeak_params,
    .ports = rpeak_ports,
    .create = rpeak_create,
    .process = rpeak_process,
    .finish = rpeak_finish,
    .destroy = rpeak_destroy,
};
