/* Node kind `filter`: Butterworth SOS filtering (causal or zero-phase),
 * resampling and normalisation of every time-indexed section of a window.
 *
 * State is kept per stream (window id = record id): a record's windows must
 * arrive in order at one instance, so run it with replicas = 1 per stream
 * (zero-phase filtering without resampling is per window and replica-safe).
 * A window that does not continue its stream (gap or overlap with causal
 * state) restarts that stream's state and is counted ("restarts").
 *
 * Every section the table (pf_sections.def) marks time-indexed is filtered,
 * resampled and normalised exactly as its window would be (docs/nodes/filter.md):
 *   - "win" sections (views of the window) run through a copy of the state the
 *     window itself started from;
 *   - "adj" sections (the adjacent window) run through a copy of the state the
 *     window left behind when they start where it ends, else from a fresh
 *     state, exactly what the filter does when that window comes next;
 * and every section holding absolute sample indices moves to the new rate. */
#include "pf_error.h"
#include "pf_log.h"
#include "pf_node.h"
#include "pf_norm.h"
#include "pf_resamp.h"
#include "pf_sos.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STREAMS 64

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

/* The filter's state for one stream: SOS state, resampler, next output index. */
typedef struct {
    pf_sos *sos;
    pf_resamp *rs;
    int64_t out_next;
} chain;

typedef struct {
    char id[PF_WIRE_MAX_ID + 1];
    double fs;
    uint32_t L;
    chain c;
    int64_t next_start; /* expected start of the next window */
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

static void chain_free(chain *c)
{
    pf_sos_destroy(c->sos);
    pf_resamp_destroy(c->rs);
    memset(c, 0, sizeof *c);
}

static int chain_copy(const chain *src, chain *dst)
{
    memset(dst, 0, sizeof *dst);
    dst->out_next = src->out_next;
    if (src->sos && !(dst->sos = pf_sos_copy(src->sos))) return PF_EINVAL;
    if (src->rs && !(dst->rs = pf_resamp_copy(src->rs))) { chain_free(dst); return PF_EINVAL; }
    return PF_OK;
}

static void fstream_free(fstream *s)
{
    chain_free(&s->c);
    memset(s, 0, sizeof *s);
}

static fstream *filter_stream(pf_node *n, filter_t *f, const pf_msg *m)
{
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
    }
    s->used = ++f->clock;
    return s;
}

static int resampling(const filter_t *f, double fs) { return f->resample && (int)lround(fs) != f->resample; }

/* First output index of a chain that starts fresh at input sample `start`. */
static int64_t fresh_out_start(const filter_t *f, double fs, int64_t start)
{
    return resampling(f, fs) ? (int64_t)llround(start * (double)f->resample / fs) : start;
}

static int grow(filter_t *f, size_t need)
{
    if (need <= f->cap) return PF_OK;
    float *na = realloc(f->a, sizeof(float) * need);
    if (na) f->a = na;
    float *nb = na ? realloc(f->b, sizeof(float) * need) : NULL;
    if (nb) f->b = nb;
    if (!na || !nb) return pf_err(PF_ENOMEM, "filter: out of memory for %zu samples", need);
    f->cap = need;
    return PF_OK;
}

/* One [L, ns] lead-major slab through the filter: c is its state (NULL:
 * stateless zero-phase without resampling; a chain without objects yet starts
 * fresh at `start`). *out gets a malloc'd lead-major [L, *nout]. */
static int run_slab(pf_node *n, filter_t *f, const pf_iirdes *d, int none, chain *c, const float *lm,
                    size_t ns, int L, double fs, int64_t start, float **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    int rc = grow(f, ns * (size_t)L);
    if (rc) return rc;
    float *x = f->a;
    for (int l = 0; l < L; l++)
        for (size_t t = 0; t < ns; t++) x[t * L + l] = lm[(size_t)l * ns + t];
    if (!none) {
        if (f->zerophase) {
            rc = pf_sos_filtfilt(d, x, x, ns, L);
        } else {
            if (!c->sos) c->sos = pf_sos_create(d, L, f->engine);
            if (!c->sos) return PF_EINVAL;
            rc = pf_sos_process(c->sos, x, x, ns);
        }
        if (rc) return rc;
    }
    size_t no = ns;
    if (resampling(f, fs)) {
        if (fs != floor(fs)) return pf_err(PF_EINVAL, "resampling needs an integer rate, got %g Hz", fs);
        if (!c->rs) {
            c->rs = pf_resamp_create((int)fs, f->resample, L);
            if (!c->rs) return PF_EINVAL;
            c->out_next = fresh_out_start(f, fs, start);
        }
        rc = grow(f, pf_resamp_max_out(c->rs, ns) * (size_t)L);
        if (rc) return rc;
        x = f->a; /* grow may have moved it */
        rc = pf_resamp_process(c->rs, x, ns, f->b, f->cap / (size_t)L, &no);
        if (rc) return rc;
        x = f->b;
        c->out_next += (int64_t)no;
    }
    size_t bad = 0;
    rc = pf_norm_apply(f->norm, x, no, L, &bad);
    if (rc) return rc;
    if (bad) pf_node_count(n, "nonfinite", bad);
    float *y = malloc(sizeof(float) * (no * (size_t)L + 1));
    if (!y) return pf_err(PF_ENOMEM, "filter: out of memory");
    for (int l = 0; l < L; l++)
        for (size_t t = 0; t < no; t++) y[(size_t)l * no + t] = x[t * L + l];
    *out = y;
    *nout = no;
    return PF_OK;
}

/* A time-indexed section: every [L, len] slab through its own copy of the
 * right state; adopted into o with the time axis at its new length. */
static int filter_section(pf_node *n, filter_t *f, const pf_iirdes *d, int none, const pf_sec_info *r,
                          const pf_section *s, const chain *from, int64_t start, const pf_msg *m, pf_msg *o)
{
    const int L = (int)m->n_leads;
    const int ta = r->time_axis;
    size_t len = s->dims[ta], total = pf_section_count(s), slab = (size_t)L * len;
    if (ta < 1 || r->dims[ta - 1] != PF_DIM_LEADS || len == 0)
        return pf_err(PF_EFORMAT, "section %s: no [leads, time] layout to filter", r->name);
    size_t nslab = total / slab, nout = 0;
    float *all = NULL;
    int rc = PF_OK;
    for (size_t k = 0; k < nslab && !rc; k++) {
        chain c = {0};
        if (from) rc = chain_copy(from, &c);
        float *y = NULL;
        size_t no = 0;
        if (!rc) rc = run_slab(n, f, d, none, (from || !f->zerophase || resampling(f, m->sample_rate)) ? &c : NULL,
                               (const float *)s->data + k * slab, len, L, m->sample_rate, start, &y, &no);
        chain_free(&c);
        if (!rc && k == 0) {
            nout = no;
            all = malloc(sizeof(float) * (nslab * (size_t)L * no + 1));
            if (!all) rc = pf_err(PF_ENOMEM, "filter: out of memory");
        }
        if (!rc && no != nout) rc = pf_err(PF_EFORMAT, "section %s: slabs resample to %zu and %zu samples", r->name, nout, no);
        if (!rc) memcpy(all + k * (size_t)L * nout, y, sizeof(float) * (size_t)L * nout);
        free(y);
    }
    if (rc) { free(all); return rc; }
    if (nout == 0) { free(all); return pf_err(PF_EFORMAT, "section %s: too short for one resampler block", r->name); }
    uint32_t dims[PF_WIRE_MAX_DIMS];
    memcpy(dims, s->dims, sizeof dims);
    dims[ta] = (uint32_t)nout;
    rc = pf_msg_adopt(o, s->type, s->dtype, s->ndim, dims, all);
    if (rc) free(all);
    return rc;
}

/* Absolute sample indices to the output rate: out = in * scale + shift. */
static int map_indices(const pf_sec_info *r, const pf_section *s, double scale, double shift, int64_t adj_out, pf_msg *o)
{
    size_t cnt = pf_section_count(s);
    int64_t *v = malloc(sizeof(int64_t) * (cnt + 1));
    if (!v) return pf_err(PF_ENOMEM, "filter: out of memory");
    memcpy(v, s->data, sizeof(int64_t) * cnt);
    size_t step = r->index == PF_IDX_ABS0 ? 2 : 1; /* (sample, code) rows */
    for (size_t k = 0; k < cnt; k += step) {
        if (r->index == PF_IDX_START) v[k] = adj_out;
        else if (!(r->index == PF_IDX_ABS_OPT && v[k] < 0)) v[k] = (int64_t)llround(v[k] * scale + shift);
    }
    int rc = pf_msg_adopt(o, s->type, s->dtype, s->ndim, s->dims, v);
    if (rc) free(v);
    return rc;
}

static int filter_process(pf_node *n, void *state, const char *port, pf_msg *m)
{
    filter_t *f = state;
    const int L = (int)m->n_leads;
    const size_t ns = m->n_samples;
    const double fs = m->sample_rate;
    pf_iirdes d;
    int rc = design_for(f, fs, &d), none = rc == 1;
    if (rc < 0) return pf_node_reject(n, "bad_rate", m, "%s", pf_errmsg()); /* a rate this design cannot take */
    if (resampling(f, fs) && (fs != floor(fs) || fs > 1e6))
        return pf_node_reject(n, "bad_rate", m, "resampling needs an integer rate up to 1 MHz, got %g Hz", fs);
    fstream *s = (!f->zerophase || resampling(f, fs)) ? filter_stream(n, f, m) : NULL;
    /* views of the window start from the state the window starts from */
    chain pre = {0};
    int have_pre = 0;
    for (int i = 0; i < m->n_sections && s; i++) {
        const pf_sec_info *r = pf_sec_info_of(m->sec[i].type);
        if (r && r->time_axis >= 0 && r->at == PF_AT_WIN && r->type != PF_SEC_SAMPLES) have_pre = 1;
    }
    if (have_pre && (rc = chain_copy(&s->c, &pre)))
        return pf_err_context(rc, "filter window %llu of %s", (unsigned long long)m->window_index, m->id);
    float *y = NULL;
    size_t nout = 0;
    int64_t start_out = s ? (s->c.rs ? s->c.out_next : fresh_out_start(f, fs, m->start_sample)) : m->start_sample;
    rc = run_slab(n, f, &d, none, s ? &s->c : NULL, pf_msg_samples(m), ns, L, fs, m->start_sample, &y, &nout);
    if (rc) chain_free(&pre);
    if (rc == PF_ENOMEM) return pf_err_context(rc, "filter window %llu of %s", (unsigned long long)m->window_index, m->id);
    if (rc) return pf_node_reject(n, "bad_shape", m, "%s", pf_errmsg()); /* e.g. shorter than forward-backward padding */
    if (!none && fs != f->logged_fs) {
        f->logged_fs = fs;
        pf_info("filter at %g Hz: %d sections, %s; group delay %.2f samples at %.2f Hz", fs, d.nsec,
                f->zerophase ? "zero-phase" : "causal", f->zerophase ? 0.0 : pf_iirdes_group_delay(&d, d.f_ref), d.f_ref);
    }
    if (s) s->next_start = m->start_sample + (int64_t)ns;
    if (nout == 0) { free(y); chain_free(&pre); return PF_OK; } /* too short to complete a resampler block yet */
    double fs_out = resampling(f, fs) ? f->resample : fs;
    double scale = fs_out / fs, shift = resampling(f, fs) ? pf_resamp_delay(s->c.rs) : 0;
    /* the adjacent window: continues this one's state when it starts where it ends */
    const pf_section *as = pf_msg_find_const(m, PF_SEC_ADJ_START);
    int64_t adj_start = as && as->bytes >= 8 ? *(const int64_t *)as->data : m->start_sample + (int64_t)ns;
    int adj_cont = s && adj_start == s->next_start;
    int64_t adj_out = adj_cont ? s->c.out_next : fresh_out_start(f, fs, adj_start);
    chain fresh = {0};
    uint32_t dims[2] = {(uint32_t)L, (uint32_t)nout};
    pf_msg *o = pf_msg_create(PF_MSG_WINDOW, m->id);
    if (!o || (rc = pf_msg_adopt(o, PF_SEC_SAMPLES, PF_DT_F32, 2, dims, y))) {
        free(y);
        pf_msg_destroy(o);
        chain_free(&pre);
        return pf_err(PF_ENOMEM, "filter: out of memory");
    }
    o->window_index = m->window_index;
    o->start_sample = start_out;
    o->sample_rate = fs_out;
    o->n_leads = (uint32_t)L;
    o->n_samples = (uint32_t)nout;
    o->epoch = m->epoch;
    o->flags = m->flags;
    for (int i = 0; i < m->n_sections && !rc; i++) {
        const pf_section *sec = &m->sec[i];
        if (sec->type == PF_SEC_SAMPLES) continue;
        const pf_sec_info *r = pf_sec_info_of(sec->type);
        if (r && r->time_axis >= 0) {
            const chain *from = !s ? NULL : r->at == PF_AT_ADJ ? (adj_cont ? &s->c : &fresh) : &pre;
            rc = filter_section(n, f, &d, none, r, sec, from, r->at == PF_AT_ADJ ? adj_start : m->start_sample, m, o);
        } else if (r && r->index != PF_IDX_NONE && sec->dtype == PF_DT_I64 && (scale != 1 || shift != 0)) {
            rc = map_indices(r, sec, scale, shift, adj_out, o);
        } else {
            rc = pf_msg_add(o, sec->type, sec->dtype, sec->ndim, sec->dims, sec->data);
        }
    }
    chain_free(&pre);
    if (rc) {
        pf_msg_destroy(o);
        return pf_err_context(rc, "filter window %llu of %s", (unsigned long long)m->window_index, m->id);
    }
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

