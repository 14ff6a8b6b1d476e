/* Node kind `reader`: windows of real ECG records (pf_record.h) — WFDB records, challenge
 * .mat records, CPSC 2019 files and PhysioWave HDF5 sets — with lead selection by name,
 * epochs in a per-epoch shuffled order, sharding across replicas, adjacent-window pairs,
 * the reference annotations of each window, and optional real-time pacing.
 * See docs/nodes/reader.md. */
#include "pf_error.h"
#include "pf_h5set.h"
#include "pf_labels.h"
#include "pf_log.h"
#include "pf_node.h"
#include "pf_record.h"
#include "pf_rng.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const pf_param_spec reader_params[] = {
    {"records", PF_P_STRLIST, NULL, 1, 100000, NULL,
     "WFDB records (dir/101 or dir/101.hea), challenge .mat, CPSC 2019 data_*.mat, HDF5 sets (.h5), or folders of them"},
    {"root", PF_P_STRING, "", 0, 0, NULL, "folder that relative record paths start from (\"\" = working directory)"},
    {"window", PF_P_INT, "5000", 1, 1 << 24, NULL, "window length, samples"},
    {"hop", PF_P_INT, "0", 0, 1 << 24, NULL, "hop between window starts, samples (0 = window: no overlap)"},
    {"tail", PF_P_STRING, "drop", 0, 0, "drop|pad|edge", "last window that does not fit: drop it, pad it with zeros, or pad it by holding the last sample (no step for detectors)"},
    {"leads", PF_P_STRLIST, "", 0, 64, NULL, "lead names in output order, e.g. [\"II\", \"V1\"] (empty = all, record order)"},
    {"missing_lead", PF_P_STRING, "error", 0, 0, "error|skip|absent", "a record lacking a selected lead: fail, skip the record, or leave the lead out (absent, never zeros)"},
    {"annotator", PF_P_STRING, "atr", 0, 0, NULL, "WFDB annotator of the reference annotations (\"atr\", LUDB \"ii\", ...; \"\" = none)"},
    {"epochs", PF_P_INT, "1", 1, 1000000, NULL, "passes over the data"},
    {"shuffle", PF_P_BOOL, "false", 0, 0, NULL, "per-epoch shuffled window order from the graph seed (with interleave: shuffled record order)"},
    {"interleave", PF_P_INT, "0", 0, 64, NULL, "take K records at a time round-robin, each record's windows in order (0 = off): batches mix patients while streaming filters and R-peak detectors continue"},
    {"pairs", PF_P_BOOL, "false", 0, 0, NULL, "carry window k+1 of the record inside window k (ADJ_SAMPLES, ADJ_RPEAKS): PhysioCLR's adjacent positives"},
    {"rate", PF_P_DOUBLE, "0", 0, 1e6, NULL, "sample rate for sources that carry none (HDF5 without fs), Hz"},
    {"realtime", PF_P_BOOL, "false", 0, 0, NULL, "emit windows at the records' own pace (live-monitoring simulation)"},
    {"per_record", PF_P_INT, "0", 0, 1e12, NULL, "emit only the first N windows of each record (0 = all): a small held-out set, e.g. a validation branch"},
    {"around", PF_P_STRING, "windows", 0, 0, "windows|beats", "windows every hop, or one window centred on every beat (reference annotations, else detected R-peaks) labelled with its AAMI class"},
    {"keep_n", PF_P_INT, "1", 1, 1000000, NULL, "around = beats: keep every keep_n-th N beat (thinning the majority class, spread over the record)"},
    {"cap", PF_P_INT, "0", 0, 1000000000, NULL, "around = beats: at most about this many beats per record and class, spread over the record (0 = all)"},
    {"paced", PF_P_STRING, "exclude", 0, 0, "exclude|keep", "around = beats: leave out the paced MIT-BIH records 102 104 107 217 (AAMI EC57), or keep them"},
    {"dx_labels", PF_P_BOOL, "false", 0, 0, NULL, "label every window with the CinC 2021 scored diagnoses of its header's # Dx: line (LABELS f32 [26])"},
    {"max_windows", PF_P_INT, "20000000", 1, 1e12, NULL, "refuse sources that plan more windows than this (the plan takes 32 bytes per window)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const pf_port_spec reader_ports[] = {
    {"out", PF_PORT_OUT, PF_MSG_WINDOW, 0, "windows with lead names, R-peaks, annotations and labels"},
    {NULL, 0, 0, 0, NULL},
};

typedef struct {
    char *path;      /* record path, or HDF5 file */
    pf_h5set *h5;    /* open for HDF5 sources */
    int64_t length;  /* samples per record/item */
    int64_t items;   /* 1, or N for HDF5 */
    char id[200];    /* record id base */
    pf_beat *beats;  /* around = beats: the beats whose window fits, in order */
    size_t nbeats;
    float dx[PF_DX_CLASSES]; /* dx_labels: the header's diagnoses */
} source_t;

typedef struct {
    uint32_t src;
    uint32_t widx;   /* window number within the record */
    int64_t item;
} unit_t;

typedef struct {
    source_t *src;
    int nsrc, srccap;
    unit_t *units, *order;
    int64_t nunits, pos;
    int epoch, epochs, shuffle, interleave, pairs, pad, pad_edge, realtime, skip_missing, absent_missing, beats, keep_paced, dx;
    int keep_n, cap;
    int64_t window, hop;
    double rate;
    char annotator[64];
    int nsel;
    char **sel;                  /* selected lead names */
    /* current record */
    pf_record *rec;
    int64_t rec_src, rec_item;
    int leads[64], nleads;
    char lead_names[1024];
    double rec_rate;
    float *buf;                  /* a padded tail window before it is spread out */
    size_t buf_cap;
    uint64_t t0_ns;
    double stream_s;             /* real-time: stream time of the last window's end */
    uint64_t sent;
} reader_t;

static int ends_ci(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

static int is_h5(const char *p) { return ends_ci(p, ".h5") || ends_ci(p, ".hdf5"); }

static int add_source(reader_t *r, const char *path)
{
    if (r->nsrc == r->srccap) {
        int nc = r->srccap ? r->srccap * 2 : 64;
        source_t *ns = realloc(r->src, (size_t)nc * sizeof *ns);
        if (!ns) return pf_err(PF_ENOMEM, "reader: out of memory");
        r->src = ns;
        r->srccap = nc;
    }
    source_t *s = &r->src[r->nsrc];
    memset(s, 0, sizeof *s);
    s->path = strdup(path);
    if (!s->path) return pf_err(PF_ENOMEM, "reader: out of memory");
    r->nsrc++;
    return PF_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A folder contributes its records in name order: *.hea (records), data_*.mat without a
 * header beside them (CPSC 2019), *.h5 / *.hdf5 (sets). */
static int add_folder(reader_t *r, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return pf_err(PF_ENOTFOUND, "reader: cannot list folder %s", dir);
    char **names = NULL;
    int n = 0, cap = 0, rc = PF_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        char p[2048];
        int take = 0;
        if (ends_ci(nm, ".hea")) {
            take = snprintf(p, sizeof p, "%s/%.*s", dir, (int)strlen(nm) - 4, nm) < (int)sizeof p;
        } else if (is_h5(nm)) {
            take = snprintf(p, sizeof p, "%s/%s", dir, nm) < (int)sizeof p;
        } else if (ends_ci(nm, ".mat") && !strncmp(nm, "data_", 5)) {
            char hea[2048];
            int a = snprintf(hea, sizeof hea, "%s/%.*s.hea", dir, (int)strlen(nm) - 4, nm);
            int b = snprintf(p, sizeof p, "%s/%s", dir, nm);
            take = a < (int)sizeof hea && b < (int)sizeof p && access(hea, F_OK) != 0;
        }
        if (!take) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, (size_t)cap * sizeof *nn);
            if (!nn) { rc = pf_err(PF_ENOMEM, "reader: out of memory"); break; }
            names = nn;
        }
        if (!(names[n++] = strdup(p))) { rc = pf_err(PF_ENOMEM, "reader: out of memory"); break; }
    }
    closedir(d);
    if (!rc && n == 0) rc = pf_err(PF_ENOTFOUND, "reader: folder %s holds no records (.hea, data_*.mat, .h5)", dir);
    if (!rc) qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++) {
        if (!rc) rc = add_source(r, names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}

static int64_t windows_in(const reader_t *r, int64_t len)
{
    if (len < r->window) return r->pad && len > 0 ? 1 : 0;
    int64_t n = (len - r->window) / r->hop + 1;
    if (r->pad && (n - 1) * r->hop + r->window < len && n * r->hop < len) n++; /* a padded window covers the rest */
    return n;
}

static pf_record *open_unit(reader_t *r, int64_t src, int64_t item)
{
    source_t *s = &r->src[src];
    pf_record_opts o = {r->annotator, r->rate};
    if (!strcmp(r->annotator, "atr")) o.annotator = NULL; /* the default: used when present */
    return s->h5 ? pf_record_open_h5(s->h5, (size_t)item, &o) : pf_record_open(s->path, &o);
}

/* Lead indices for the selection; 1 = record lacks a lead and is to be skipped. */
static int map_leads(reader_t *r, pf_record *rec, int *idx, int *n)
{
    if (r->nsel == 0) {
        if (pf_record_nleads(rec) > 64)
            return pf_err(PF_ERANGE, "reader: %s has %d leads; select at most 64 with 'leads'", pf_record_name(rec),
                          pf_record_nleads(rec));
        *n = pf_record_nleads(rec);
        for (int i = 0; i < *n; i++) idx[i] = i;
        return PF_OK;
    }
    if (r->absent_missing) { /* the selected leads this record has, in selection order */
        *n = 0;
        for (int i = 0; i < r->nsel; i++) {
            int k = pf_record_find_lead(rec, r->sel[i]);
            if (k >= 0) idx[(*n)++] = k;
        }
        if (*n) return PF_OK;
        pf_err(PF_ENOTFOUND, "reader: %s has none of the selected leads", pf_record_name(rec));
        return 1;
    }
    *n = r->nsel;
    int rc = pf_record_select(rec, (const char *const *)r->sel, r->nsel, idx);
    if (rc == PF_ENOTFOUND && r->skip_missing) return 1;
    return rc;
}

/* around = beats: the record's beats whose centred window lies inside it (the rest
 * are counted, never padded); paced MIT-BIH records are left out unless kept. */
static int scan_beats(pf_node *n, reader_t *r, int i, int64_t *w)
{
    source_t *s = &r->src[i];
    *w = 0;
    if (s->h5) return pf_err(PF_EINVAL, "reader: around = \"beats\" takes records, not the HDF5 set %s", s->path);
    if (!r->keep_paced && pf_aami_paced(s->id)) {
        pf_info("reader: %s is a paced record: left out of the beat windows (paced = \"keep\" keeps it)", s->id);
        pf_node_count(n, "paced_records_skipped", 1);
        return PF_OK;
    }
    pf_record *rec = open_unit(r, i, 0);
    if (!rec) return PF_EFORMAT;
    int detected = 0, rc = pf_beats_list(rec, &s->beats, &s->nbeats, &detected);
    pf_record_close(rec);
    if (rc) return rc;
    size_t k = 0;
    for (size_t b = 0; b < s->nbeats; b++) {
        int64_t st = s->beats[b].sample - r->window / 2;
        if (st >= 0 && st + r->window <= s->length) s->beats[k++] = s->beats[b];
    }
    if (s->nbeats > k) pf_node_count(n, "beats_at_edge", s->nbeats - k);
    if (detected) pf_node_count(n, "records_detected_beats", 1);
    size_t kt = pf_beats_thin(s->beats, k, r->keep_n, r->cap);
    if (kt < k) pf_node_count(n, "beats_thinned", k - kt);
    s->nbeats = k = kt;
    *w = (int64_t)k;
    return PF_OK;
}

static int reader_scan(pf_node *n, reader_t *r)
{
    int64_t cap = 0;
    for (int i = 0; i < r->nsrc; i++) {
        source_t *s = &r->src[i];
        pf_record *rec = NULL;
        if (is_h5(s->path)) {
            s->h5 = pf_h5set_open(s->path);
            if (!s->h5) return PF_EFORMAT;
            s->items = (int64_t)pf_h5set_count(s->h5);
            s->length = (int64_t)pf_h5set_length(s->h5);
            if (s->items) rec = open_unit(r, i, 0);
            if (s->items && !rec) return PF_EFORMAT;
        } else {
            rec = open_unit(r, i, 0);
            if (!rec) return PF_EFORMAT;
            s->items = 1;
            s->length = pf_record_length(rec);
        }
        const char *slash = strrchr(s->path, '/');
        snprintf(s->id, sizeof s->id, "%s", slash ? slash + 1 : s->path);
        if (!s->h5 && rec) snprintf(s->id, sizeof s->id, "%s", pf_record_name(rec));
        if (rec) {
            int idx[64], nl, rc = map_leads(r, rec, idx, &nl);
            double rate = pf_record_rate(rec);
            pf_record_close(rec);
            if (rc == 1) {
                pf_warn("reader: %s lacks a selected lead; skipped (%s)", s->path, pf_errmsg());
                pf_node_count(n, "records_skipped", 1);
                s->items = 0;
                continue;
            }
            if (rc) return rc;
            if (!(rate > 0))
                return pf_err(PF_EINVAL, "reader: %s has no sample rate; set the reader's 'rate' parameter", s->path);
        }
        int64_t w = windows_in(r, s->length);
        if (r->pairs) w = w > 0 ? w - 1 : 0; /* anchors k with a window k+1 after them */
        if (r->dx) {
            char hea[2100];
            /* the header beside the record: dir/E07500, dir/E07500.hea or dir/E07500.mat */
            size_t bl = strlen(s->path) - (ends_ci(s->path, ".hea") || ends_ci(s->path, ".mat") ? 4 : 0);
            int un = 0, rc = s->h5 ? pf_err(PF_EINVAL, "reader: dx_labels needs challenge records with headers, not the HDF5 set %s", s->path)
                                   : (snprintf(hea, sizeof hea, "%.*s.hea", (int)bl, s->path), pf_dx_read(hea, s->dx, &un));
            if (rc) return rc;
            if (un) pf_node_count(n, "dx_unscored", (uint64_t)un);
        }
        if (r->beats) {
            int brc = scan_beats(n, r, i, &w);
            if (brc) return brc;
        }
        int64_t per = pf_params_int(pf_node_params(n), "per_record");
        if (per > 0 && w > per) w = per;
        /* the plan is materialised (the shuffled order needs it): a file whose header
         * declares absurd sizes must fail here, before gigabytes are allocated */
        int64_t maxw = pf_params_int(pf_node_params(n), "max_windows");
        if (w > 0 && (s->items > (maxw - r->nunits) / w))
            return pf_err(PF_ERANGE, "reader: %s declares %lld item(s) of %lld samples = %lld windows of %lld; with the %lld planned before "
                          "that is more than max_windows = %lld", s->path, (long long)s->items, (long long)s->length,
                          (long long)(s->items > INT64_MAX / w ? INT64_MAX : s->items * w), (long long)r->window, (long long)r->nunits, (long long)maxw);
        for (int64_t it = 0; it < s->items; it++)
            for (int64_t k = 0; k < w; k++) {
                if (r->nunits == cap) {
                    cap = cap ? cap * 2 : 4096;
                    unit_t *nu = realloc(r->units, (size_t)cap * sizeof *nu);
                    if (!nu) return pf_err(PF_ENOMEM, "reader: out of memory for %lld windows", (long long)cap);
                    r->units = nu;
                }
                r->units[r->nunits++] = (unit_t){(uint32_t)i, (uint32_t)k, it};
            }
    }
    r->order = malloc((size_t)(r->nunits ? r->nunits : 1) * sizeof *r->order);
    if (!r->order) return pf_err(PF_ENOMEM, "reader: out of memory");
    return PF_OK;
}

/* interleave = K: the streams (record, item) in a per-epoch permuted order when shuffling,
 * taken K at a time round-robin, each stream's windows in their own order. The units are
 * planned stream by stream, so a stream is a run of consecutive units. */
static void interleave_order(pf_node *n, reader_t *r)
{
    int64_t ns = 0;
    int64_t *start = malloc(sizeof(int64_t) * (size_t)(r->nunits + 1)), *perm = NULL, *next = NULL;
    for (int64_t i = 0; start && i < r->nunits; i++)
        if (!i || r->units[i].src != r->units[i - 1].src || r->units[i].item != r->units[i - 1].item) start[ns++] = i;
    if (start) start[ns] = r->nunits;
    perm = start ? malloc(sizeof(int64_t) * (size_t)(ns ? ns : 1)) : NULL;
    next = perm ? malloc(sizeof(int64_t) * (size_t)(ns ? ns : 1)) : NULL;
    if (!next) { /* out of memory: the planned order, unmixed */
        free(start); free(perm);
        pf_warn("reader: no memory to interleave; records in order");
        return;
    }
    for (int64_t k = 0; k < ns; k++) perm[k] = k;
    if (r->shuffle) {
        pf_rng g;
        pf_rng_seed(&g, pf_rng_key(pf_node_seed(n), (uint64_t)r->epoch, 0, 0x7eade7));
        for (int64_t i = ns - 1; i > 0; i--) {
            int64_t j = (int64_t)pf_rng_below(&g, (uint64_t)i + 1), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
    }
    int64_t o = 0;
    for (int64_t g0 = 0; g0 < ns; g0 += r->interleave) {
        int64_t g1 = g0 + r->interleave < ns ? g0 + r->interleave : ns, left = 1;
        for (int64_t k = g0; k < g1; k++) next[k] = start[perm[k]];
        while (left) {
            left = 0;
            for (int64_t k = g0; k < g1; k++)
                if (next[k] < start[perm[k] + 1]) { r->order[o++] = r->units[next[k]++]; left = 1; }
        }
    }
    free(start); free(perm); free(next);
}

/* Every replica computes the same order for an epoch and takes positions replica, replica+R, ... */
static void start_epoch(pf_node *n, reader_t *r)
{
    memcpy(r->order, r->units, (size_t)r->nunits * sizeof *r->order);
    if (r->interleave > 0) {
        interleave_order(n, r);
        r->pos = pf_node_replica(n);
        return;
    }
    if (r->shuffle) {
        pf_rng g;
        pf_rng_seed(&g, pf_rng_key(pf_node_seed(n), (uint64_t)r->epoch, 0, 0x7eade7));
        for (int64_t i = r->nunits - 1; i > 0; i--) {
            int64_t j = (int64_t)pf_rng_below(&g, (uint64_t)i + 1);
            unit_t t = r->order[i];
            r->order[i] = r->order[j];
            r->order[j] = t;
        }
    }
    r->pos = pf_node_replica(n);
}

static int reader_create(pf_node *n, void **state)
{
    const pf_params *p = pf_node_params(n);
    reader_t *r = calloc(1, sizeof *r);
    if (!r) return pf_err(PF_ENOMEM, "reader: out of memory");
    *state = r;
    r->window = pf_params_int(p, "window");
    r->hop = pf_params_int(p, "hop");
    if (r->hop == 0) r->hop = r->window;
    r->pad = strcmp(pf_params_string(p, "tail"), "drop") != 0;
    r->pad_edge = !strcmp(pf_params_string(p, "tail"), "edge");
    r->epochs = (int)pf_params_int(p, "epochs");
    r->shuffle = pf_params_bool(p, "shuffle");
    r->interleave = (int)pf_params_int(p, "interleave");
    r->pairs = pf_params_bool(p, "pairs");
    r->realtime = pf_params_bool(p, "realtime");
    r->rate = pf_params_double(p, "rate");
    r->skip_missing = !strcmp(pf_params_string(p, "missing_lead"), "skip");
    r->beats = !strcmp(pf_params_string(p, "around"), "beats");
    r->keep_paced = !strcmp(pf_params_string(p, "paced"), "keep");
    r->keep_n = (int)pf_params_int(p, "keep_n");
    r->cap = (int)pf_params_int(p, "cap");
    r->dx = pf_params_bool(p, "dx_labels");
    if (r->beats && r->pairs) return pf_err(PF_EINVAL, "reader: around = \"beats\" and pairs = true do not combine");
    r->absent_missing = !strcmp(pf_params_string(p, "missing_lead"), "absent");
    snprintf(r->annotator, sizeof r->annotator, "%s", pf_params_string(p, "annotator"));
    r->nsel = pf_params_list_len(p, "leads");
    r->sel = calloc((size_t)(r->nsel ? r->nsel : 1), sizeof *r->sel);
    if (!r->sel) return pf_err(PF_ENOMEM, "reader: out of memory");
    for (int i = 0; i < r->nsel; i++) r->sel[i] = strdup(pf_params_list_str(p, "leads", i));
    const char *root = pf_params_string(p, "root");
    int rc = PF_OK;
    for (int i = 0; i < pf_params_list_len(p, "records") && !rc; i++) {
        const char *e = pf_params_list_str(p, "records", i);
        char path[2048];
        if (root[0] && e[0] != '/') snprintf(path, sizeof path, "%s/%s", root, e);
        else snprintf(path, sizeof path, "%s", e);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) rc = add_folder(r, path);
        else rc = add_source(r, path);
    }
    if (!rc) rc = reader_scan(n, r);
    if (rc) return rc;
    r->rec_src = -1;
    start_epoch(n, r);
    r->t0_ns = pf_now_ns();
    pf_info("reader: %d sources, %lld %s per epoch, %d epoch%s, replica %d of %d", r->nsrc, (long long)r->nunits,
            r->pairs ? "window pairs" : "windows", r->epochs, r->epochs == 1 ? "" : "s", pf_node_replica(n),
            pf_node_replicas(n));
    return PF_OK;
}

static int use_record(reader_t *r, int64_t src, int64_t item)
{
    if (r->rec && r->rec_src == src && r->rec_item == item) return PF_OK;
    pf_record_close(r->rec);
    r->rec = open_unit(r, src, item);
    r->rec_src = -1;
    if (!r->rec) return PF_EFORMAT;
    int rc = map_leads(r, r->rec, r->leads, &r->nleads);
    if (rc) return rc == 1 ? pf_err(PF_ESTATE, "reader: %s changed since the scan", r->src[src].path) : rc;
    size_t len = 0;
    r->lead_names[0] = 0;
    for (int i = 0; i < r->nleads; i++)
        len += (size_t)snprintf(r->lead_names + len, len < sizeof r->lead_names ? sizeof r->lead_names - len : 0, "%s%s",
                                i ? "," : "", pf_record_lead(r->rec, r->leads[i]));
    r->rec_rate = pf_record_rate(r->rec);
    r->rec_src = src;
    r->rec_item = item;
    return PF_OK;
}

static void pace(pf_node *n, reader_t *r, double seconds)
{
    /* a live stream delivers a window once its last sample exists */
    r->stream_s += seconds;
    uint64_t due = r->t0_ns + (uint64_t)(r->stream_s * 1e9);
    while (!pf_node_stopping(n)) {
        uint64_t now = pf_now_ns();
        if (now >= due) break;
        uint64_t wait = due - now > 50000000 ? 50000000 : due - now;
        struct timespec ts = {0, (long)wait};
        nanosleep(&ts, NULL);
    }
}

/* Window [start, start+window) of the selected leads into x[lead][window]; zero-padded past
 * the end; WFDB invalid samples (NaN) become 0 and are counted. */
static int fill(pf_node *n, reader_t *r, int64_t start, float *x)
{
    int64_t len = pf_record_length(r->rec);
    int64_t avail = len - start < r->window ? len - start : r->window;
    if (avail < 0) avail = 0;
    /* one read for all leads (a WFDB read decodes every signal of the frame anyway) */
    int full = avail == r->window;
    size_t need = (size_t)r->nleads * (size_t)avail;
    if (!full && need > r->buf_cap) {
        float *nb = realloc(r->buf, need * sizeof *nb);
        if (!nb) return pf_err(PF_ENOMEM, "reader: out of memory");
        r->buf = nb;
        r->buf_cap = need;
    }
    int rc = pf_record_read(r->rec, start, avail, r->leads, r->nleads, full ? x : r->buf);
    if (rc) return rc;
    for (int l = 0; l < r->nleads; l++) {
        float *row = x + (size_t)l * (size_t)r->window;
        if (!full) memcpy(row, r->buf + (size_t)l * (size_t)avail, (size_t)avail * sizeof *row);
        uint64_t bad = 0;
        for (int64_t i = 0; i < avail; i++)
            if (isnan(row[i])) row[i] = 0, bad++;
        if (bad) pf_node_count(n, "invalid_samples", bad);
        float hold = r->pad_edge && avail > 0 ? row[avail - 1] : 0.0f;
        for (int64_t i = avail; i < r->window; i++) row[i] = hold; /* tail = pad / edge */
    }
    return PF_OK;
}

/* Reference beats in the window as an i64 section of the given type. */
static int add_beats(reader_t *r, pf_msg *m, int type, int64_t start)
{
    const pf_ann *b;
    size_t nb = 0;
    pf_record_beats(r->rec, start, r->window, &b, &nb);
    int64_t *pk = malloc((nb ? nb : 1) * sizeof *pk);
    if (!pk) return pf_err(PF_ENOMEM, "reader: out of memory");
    for (size_t i = 0; i < nb; i++) pk[i] = b[i].time;
    uint32_t dn = (uint32_t)nb;
    int rc = pf_msg_add(m, type, PF_DT_I64, 1, &dn, pk);
    free(pk);
    return rc;
}

static int emit(pf_node *n, reader_t *r, const unit_t *u, uint32_t widx, uint32_t flags)
{
    const source_t *s = &r->src[u->src];
    int64_t start = r->beats ? s->beats[widx].sample - r->window / 2 : (int64_t)widx * r->hop;
    char id[256];
    if (s->h5) snprintf(id, sizeof id, "%s[%lld]", s->id, (long long)u->item);
    else snprintf(id, sizeof id, "%s", s->id);
    pf_msg *m = pf_msg_window_create(id, widx, start, r->rec_rate, (uint32_t)r->nleads, (uint32_t)r->window);
    if (!m) return pf_err(PF_ENOMEM, "reader: out of memory");
    m->epoch = (uint32_t)r->epoch;
    m->flags = flags;
    int rc = fill(n, r, start, pf_msg_samples(m));
    uint32_t dl = (uint32_t)strlen(r->lead_names);
    if (!rc) rc = pf_msg_add(m, PF_SEC_LEAD_NAMES, PF_DT_U8, 1, &dl, r->lead_names);
    /* reference beats (R-peaks) and every annotation (sample, code) inside the window */
    const pf_ann_list *al = pf_record_annotations(r->rec);
    int has_ann = al->n || s->h5 == NULL;
    if (!rc && has_ann) rc = add_beats(r, m, PF_SEC_RPEAKS, start);
    if (!rc && al->n) {
        size_t a0 = pf_ann_lower(al, start), a1 = pf_ann_lower(al, start + r->window);
        if (a1 > a0) {
            int64_t *an = malloc((a1 - a0) * 2 * sizeof *an);
            if (!an) rc = pf_err(PF_ENOMEM, "reader: out of memory");
            for (size_t i = a0; !rc && i < a1; i++) an[2 * (i - a0)] = al->a[i].time, an[2 * (i - a0) + 1] = al->a[i].code;
            uint32_t d2[2] = {(uint32_t)(a1 - a0), 2};
            if (!rc) rc = pf_msg_add(m, PF_SEC_ANN, PF_DT_I64, 2, d2, an);
            free(an);
        }
    }
    /* adjacent pair: window widx+1 of the same record travels inside this message */
    if (!rc && r->pairs) {
        uint32_t d2[2] = {(uint32_t)r->nleads, (uint32_t)r->window};
        float *adj = malloc(sizeof(float) * (size_t)r->nleads * (size_t)r->window);
        if (!adj) rc = pf_err(PF_ENOMEM, "reader: out of memory");
        if (!rc) rc = fill(n, r, start + r->hop, adj);
        if (!rc) {
            rc = pf_msg_adopt(m, PF_SEC_ADJ_SAMPLES, PF_DT_F32, 2, d2, adj);
            if (rc) free(adj);
        } else {
            free(adj);
        }
        if (!rc && has_ann) rc = add_beats(r, m, PF_SEC_ADJ_RPEAKS, start + r->hop);
        /* where it starts: with hop < window it overlaps its anchor */
        int64_t adj_start = start + r->hop;
        uint32_t one = 1;
        if (!rc) rc = pf_msg_add(m, PF_SEC_ADJ_START, PF_DT_I64, 1, &one, &adj_start);
    }
    if (!rc && r->beats) { /* the centred beat and its AAMI class (none for a detected beat) */
        const pf_beat *bt = &s->beats[widx];
        int64_t row[2] = {bt->sample, bt->code}, cls = bt->cls;
        uint32_t d2[2] = {1, 2}, one = 1;
        rc = pf_msg_add(m, PF_SEC_BEAT, PF_DT_I64, 2, d2, row);
        if (!rc && cls >= 0) rc = pf_msg_add(m, PF_SEC_LABELS, PF_DT_I64, 1, &one, &cls);
    }
    if (!rc && r->dx) {
        uint32_t k = PF_DX_CLASSES;
        rc = pf_msg_add(m, PF_SEC_LABELS, PF_DT_F32, 1, &k, s->dx);
    }
    if (!rc && s->h5 && pf_h5set_label_width(s->h5)) {
        uint32_t k = (uint32_t)pf_h5set_label_width(s->h5);
        if (pf_h5set_label_is_class(s->h5)) {
            int64_t c;
            rc = pf_h5set_read_class(s->h5, (size_t)u->item, 1, &c);
            uint32_t one = 1;
            if (!rc) rc = pf_msg_add(m, PF_SEC_LABELS, PF_DT_I64, 1, &one, &c);
        } else {
            float lab[4096];
            if (k > 4096) rc = pf_err(PF_ERANGE, "reader: %s: %u labels per item, at most 4096", s->path, k);
            if (!rc) rc = pf_h5set_read_labels(s->h5, (size_t)u->item, 1, lab);
            if (!rc) rc = pf_msg_add(m, PF_SEC_LABELS, PF_DT_F32, 1, &k, lab);
        }
    }
    if (rc) {
        pf_msg_destroy(m);
        return pf_err_context(rc, "reader: %s window %u", id, widx);
    }
    if (r->realtime) {
        pace(n, r, (r->sent ? (double)r->hop : (double)r->window) / r->rec_rate);
        if (pf_node_stopping(n)) {
            pf_msg_destroy(m);
            return 1;
        }
    }
    r->sent++;
    return pf_node_send(n, "out", m);
}

static int reader_produce(pf_node *n, void *state)
{
    reader_t *r = state;
    while (r->pos >= r->nunits) {
        if (++r->epoch >= r->epochs) return 1;
        start_epoch(n, r);
    }
    const unit_t *u = &r->order[r->pos];
    r->pos += pf_node_replicas(n);
    int rc = use_record(r, u->src, u->item);
    if (rc) return rc;
    return emit(n, r, u, u->widx, r->pairs ? PF_FLAG_PAIR_FIRST : 0);
}

static void reader_destroy(void *state)
{
    reader_t *r = state;
    if (!r) return;
    pf_record_close(r->rec);
    for (int i = 0; i < r->nsrc; i++) {
        free(r->src[i].path);
        free(r->src[i].beats);
        pf_h5set_close(r->src[i].h5);
    }
    for (int i = 0; r->sel && i < r->nsel; i++) free(r->sel[i]);
    free(r->sel);
    free(r->src);
    free(r->units);
    free(r->order);
    free(r->buf);
    free(r);
}

/* Before anything starts (`check`, `run`): the root and every record exist. */
static int reader_check(const pf_params *p)
{
    const char *root = pf_params_string(p, "root");
    struct stat st;
    if (root[0] && (stat(root, &st) || !S_ISDIR(st.st_mode))) return pf_err(PF_ENOTFOUND, "root '%s' is not a folder", root);
    for (int i = 0; i < pf_params_list_len(p, "records"); i++) {
        const char *e = pf_params_list_str(p, "records", i);
        char path[2048], alt[2100];
        if (root[0] && e[0] != '/') snprintf(path, sizeof path, "%s/%s", root, e);
        else snprintf(path, sizeof path, "%s", e);
        int found = !stat(path, &st);
        static const char *ext[] = {".hea", ".mat"};
        for (int k = 0; k < 2 && !found; k++) {
            snprintf(alt, sizeof alt, "%s%s", path, ext[k]);
            found = !stat(alt, &st);
        }
        if (!found) return pf_err(PF_ENOTFOUND, "record '%s' not found (no %s, %s.hea or %s.mat)", e, path, path, path);
    }
    return PF_OK;
}

const pf_kind pf_kind_reader = {
    .name = "reader",
    .check = reader_check,
    .doc = "windows of real ECG records (WFDB, challenge .mat, CPSC 2019 .mat, PhysioWave HDF5)",
    .params = reader_params,
    .ports = reader_ports,
    .create = reader_create,
    .produce = reader_produce,
    .destroy = reader_destroy,
};
