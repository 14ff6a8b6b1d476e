#include "pf_h5win.h"

#include "pf_error.h"
#include "pf_h5.h"
#include "pf_rng.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROW_GROW 64

/* An extendible dataset we append rows to: [rows, d1, d2, d3]. */
typedef struct {
    hid_t ds;
    hid_t type;
    int rank;
    hsize_t dims[4], cap;   /* dims[0] = rows written; cap = rows allocated */
    size_t row_bytes;
} xds;

/* A ragged per-window list (R-peaks and the like): values + offsets. */
typedef struct {
    xds values;
    int64_t *off;           /* N + 1 */
    int on;                 /* present in this file */
} ragged;

struct pf_h5win {
    char path[1024], partial[1100];
    hid_t file;
    pf_h5win_opts opts;
    int started;
    uint32_t leads, samples;
    int has_labels, label_dtype;
    uint32_t n_labels, n_features;
    char lead_names[512];
    xds data, features, views, adjacent;
    ragged rpeaks, rpeaks_aug, adj_rpeaks, beats;
    uint32_t n_views;
    /* small per-window metadata, kept in memory and written at close */
    uint64_t n, cap;
    uint64_t *window_index;
    int64_t *start_sample;
    double *rate;
    uint32_t *epoch, *flags;
    int32_t *record;
    void *labels;
    /* record id table (open addressing) */
    char **ids;
    int n_ids, id_cap;
    int *slots;
    int n_slots;
    uint64_t checksum;
    /* per-window metadata on disk (pf_h5win_flush appends what is new) */
    xds m_index, m_start, m_rate, m_epoch, m_flags, m_record, m_label, m_ids;
    xds m_off[4];            /* rpeaks, rpeaks_aug, beats, adjacent_rpeaks offsets */
    hid_t str_type;
    uint64_t synced;         /* windows whose metadata is on disk */
    int ids_synced, meta_on;
};

static int h5fail(const char *what, const char *path)
{
    return pf_err(PF_EIO, "%s: HDF5 %s failed", path, what);
}

static int xds_create(pf_h5win *w, xds *x, const char *name, hid_t type, int rank, const hsize_t *inner, hsize_t chunk_rows, int gzip)
{
    hsize_t dims[4] = {0, 0, 0, 0}, maxd[4] = {H5S_UNLIMITED, 0, 0, 0}, chunk[4] = {chunk_rows, 0, 0, 0};
    x->row_bytes = H5Tget_size(type);
    for (int d = 1; d < rank; d++) {
        dims[d] = maxd[d] = chunk[d] = inner[d - 1];
        x->row_bytes *= inner[d - 1];
    }
    hid_t space = H5Screate_simple(rank, dims, maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, rank, chunk);
    if (gzip > 0) H5Pset_deflate(dcpl, (unsigned)gzip);
    x->ds = H5Dcreate2(w->file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(space);
    if (x->ds < 0) return h5fail("dataset create", w->partial);
    x->type = type;
    x->rank = rank;
    memcpy(x->dims, dims, sizeof dims);
    x->cap = 0;
    return PF_OK;
}

static int xds_append(pf_h5win *w, xds *x, const void *rows, hsize_t nrows)
{
    if (!nrows) return PF_OK;
    if (x->dims[0] + nrows > x->cap) {
        hsize_t want = x->cap + (nrows > ROW_GROW ? nrows : ROW_GROW) + x->cap / 2;
        hsize_t ext[4] = {want, x->dims[1], x->dims[2], x->dims[3]};
        if (H5Dset_extent(x->ds, ext) < 0) return h5fail("extend", w->partial);
        x->cap = want;
    }
    hid_t fs = H5Dget_space(x->ds);
    hsize_t start[4] = {x->dims[0], 0, 0, 0}, count[4] = {nrows, x->dims[1], x->dims[2], x->dims[3]};
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t ms = H5Screate_simple(x->rank, count, NULL);
    herr_t e = H5Dwrite(x->ds, x->type, ms, fs, H5P_DEFAULT, rows);
    H5Sclose(ms);
    H5Sclose(fs);
    if (e < 0) return h5fail("write", w->partial);
    x->dims[0] += nrows;
    return PF_OK;
}

static void xds_close(xds *x)
{
    if (x->ds <= 0) return;
    hsize_t ext[4] = {x->dims[0], x->dims[1], x->dims[2], x->dims[3]};
    H5Dset_extent(x->ds, ext); /* trim the growth slack */
    H5Dclose(x->ds);
    x->ds = 0;
}

static int attr_str(hid_t obj, const char *name, const char *value)
{
    return pf_h5_attr_str(obj, name, value, 0);
}

static int attr_num(hid_t obj, const char *name, hid_t type, const void *v)
{
    return pf_h5_attr_write(obj, name, type, type, v, 0);
}

pf_h5win *pf_h5win_create(const char *path, const pf_h5win_opts *opts)
{
    if (strlen(path) >= 1024) { pf_err(PF_EINVAL, "output path too long (%zu bytes)", strlen(path)); return NULL; }
    pf_h5win *w = calloc(1, sizeof *w);
    if (!w) { pf_err(PF_ENOMEM, "%s: out of memory", path); return NULL; }
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->partial, sizeof w->partial, "%s.partial", path);
    if (opts) w->opts = *opts;
    pf_h5_quiet();
    w->file = H5Fcreate(w->partial, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w->file < 0) {
        pf_err(PF_EIO, "%s: cannot create HDF5 file (does the folder exist and is it writable?)", w->partial);
        free(w);
        return NULL;
    }
    uint32_t ver = 1, complete = 0;
    attr_str(w->file, "format", "physioflow.windows");
    attr_num(w->file, "format_version", H5T_NATIVE_UINT32, &ver);
    attr_num(w->file, "complete", H5T_NATIVE_UINT32, &complete);
    attr_str(w->file, "producer", w->opts.producer ? w->opts.producer : "physioflow");
    return w;
}

const char *pf_h5win_path(const pf_h5win *w) { return w->path; }
uint64_t pf_h5win_count(const pf_h5win *w) { return w->n; }
uint64_t pf_h5win_checksum(const pf_h5win *w) { return w->checksum; }

static int record_index(pf_h5win *w, const char *id)
{
    if (w->n_ids * 2 >= w->n_slots) {
        int ns = w->n_slots ? w->n_slots * 2 : 64;
        int *slots = malloc((size_t)ns * sizeof(int));
        if (!slots) return -1;
        for (int i = 0; i < ns; i++) slots[i] = -1;
        for (int i = 0; i < w->n_ids; i++) {
            uint64_t h = pf_hash_str(w->ids[i]) % (uint64_t)ns;
            while (slots[h] >= 0) h = (h + 1) % (uint64_t)ns;
            slots[h] = i;
        }
        free(w->slots);
        w->slots = slots;
        w->n_slots = ns;
    }
    uint64_t h = pf_hash_str(id) % (uint64_t)w->n_slots;
    while (w->slots[h] >= 0) {
        if (!strcmp(w->ids[w->slots[h]], id)) return w->slots[h];
        h = (h + 1) % (uint64_t)w->n_slots;
    }
    if (w->n_ids == w->id_cap) {
        int nc = w->id_cap ? w->id_cap * 2 : 64;
        char **ids = realloc(w->ids, (size_t)nc * sizeof *ids);
        if (!ids) return -1;
        w->ids = ids;
        w->id_cap = nc;
    }
    w->ids[w->n_ids] = strdup(id);
    if (!w->ids[w->n_ids]) return -1;
    w->slots[h] = w->n_ids;
    return w->n_ids++;
}

static int grow_meta(pf_h5win *w)
{
    uint64_t nc = w->cap ? w->cap * 2 : 256;
#define GROW(field) do { void *p = realloc(w->field, nc * sizeof *w->field); if (!p) return PF_ENOMEM; w->field = p; } while (0)
    GROW(window_index); GROW(start_sample); GROW(rate); GROW(epoch); GROW(flags); GROW(record);
#undef GROW
    void *p;
    ragged *rl[4] = {&w->rpeaks, &w->rpeaks_aug, &w->adj_rpeaks, &w->beats};
    for (int k = 0; k < 4; k++) {
        if (!rl[k]->on) continue;
        p = realloc(rl[k]->off, (nc + 1) * sizeof(int64_t));
        if (!p) return PF_ENOMEM;
        rl[k]->off = p;
        if (w->n == 0) rl[k]->off[0] = 0;
    }
    if (w->has_labels) {
        p = realloc(w->labels, nc * w->n_labels * (w->label_dtype == PF_DT_I64 ? 8 : 4));
        if (!p) return PF_ENOMEM;
        w->labels = p;
    }
    w->cap = nc;
    return PF_OK;
}

static int start_layout(pf_h5win *w, const pf_msg *m)
{
    w->leads = m->n_leads;
    w->samples = m->n_samples;
    const pf_section *lab = pf_msg_find_const(m, PF_SEC_LABELS), *feat = pf_msg_find_const(m, PF_SEC_FEATURES);
    const pf_section *ln = pf_msg_find_const(m, PF_SEC_LEAD_NAMES), *vw = pf_msg_find_const(m, PF_SEC_VIEWS);
    const pf_section *adj = pf_msg_find_const(m, PF_SEC_ADJ_SAMPLES);
    if (lab) { w->has_labels = 1; w->label_dtype = lab->dtype; w->n_labels = (uint32_t)pf_section_count(lab); }
    hsize_t inner[3] = {m->n_leads, m->n_samples, 0};
    int rc = xds_create(w, &w->data, "data", H5T_NATIVE_FLOAT, 3, inner, 1, w->opts.compression);
    w->rpeaks.on = 1;
    if (!rc) rc = xds_create(w, &w->rpeaks.values, "rpeaks", H5T_NATIVE_INT64, 1, NULL, 4096, 0);
    if (!rc && vw) {
        w->n_views = vw->dims[0];
        hsize_t vin[3] = {vw->dims[0], m->n_leads, m->n_samples};
        rc = xds_create(w, &w->views, "views", H5T_NATIVE_FLOAT, 4, vin, 1, w->opts.compression);
    }
    if (!rc && pf_msg_find_const(m, PF_SEC_RPEAKS_AUG)) {
        w->rpeaks_aug.on = 1;
        rc = xds_create(w, &w->rpeaks_aug.values, "rpeaks_aug", H5T_NATIVE_INT64, 1, NULL, 4096, 0);
    }
    if (!rc && pf_msg_find_const(m, PF_SEC_BEATS)) {
        hsize_t nine[1] = {9};
        w->beats.on = 1;
        rc = xds_create(w, &w->beats.values, "beats", H5T_NATIVE_INT64, 2, nine, 1024, 0);
    }
    if (!rc && adj) {
        rc = xds_create(w, &w->adjacent, "adjacent", H5T_NATIVE_FLOAT, 3, inner, 1, w->opts.compression);
        w->adj_rpeaks.on = 1;
        if (!rc) rc = xds_create(w, &w->adj_rpeaks.values, "adjacent_rpeaks", H5T_NATIVE_INT64, 1, NULL, 4096, 0);
    }
    if (!rc && feat) {
        w->n_features = (uint32_t)pf_section_count(feat);
        hsize_t fin[1] = {w->n_features};
        rc = xds_create(w, &w->features, "features", H5T_NATIVE_FLOAT, 2, fin, 256, 0);
    }
    if (rc) return rc;
    attr_str(w->data.ds, "units", w->opts.units && *w->opts.units ? w->opts.units : "unknown");
    if (ln) {
        size_t len = ln->bytes < sizeof w->lead_names - 1 ? ln->bytes : sizeof w->lead_names - 1;
        memcpy(w->lead_names, ln->data, len);
        w->lead_names[len] = 0;
        attr_str(w->data.ds, "lead_names", w->lead_names);
    }
    w->started = 1;
    return PF_OK;
}

int pf_h5win_append(pf_h5win *w, const pf_msg *m)
{
    if (m->kind != PF_MSG_WINDOW) return pf_err(PF_EINVAL, "only windows can be written (got kind %u)", m->kind);
    if (!w->started) {
        int rc = start_layout(w, m);
        if (rc) return rc;
    }
    const pf_section *lab = pf_msg_find_const(m, PF_SEC_LABELS), *feat = pf_msg_find_const(m, PF_SEC_FEATURES);
    const pf_section *rp = pf_msg_find_const(m, PF_SEC_RPEAKS), *x = pf_msg_find_const(m, PF_SEC_SAMPLES);
    const pf_section *vw = pf_msg_find_const(m, PF_SEC_VIEWS), *rpa = pf_msg_find_const(m, PF_SEC_RPEAKS_AUG);
    const pf_section *adj = pf_msg_find_const(m, PF_SEC_ADJ_SAMPLES), *adjr = pf_msg_find_const(m, PF_SEC_ADJ_RPEAKS);
    const pf_section *bt = pf_msg_find_const(m, PF_SEC_BEATS);
    if (w->beats.on != (bt != NULL))
        return pf_err(PF_EFORMAT, "window '%s' #%llu: beat boundaries present in some windows only", m->id, (unsigned long long)m->window_index);
    if (m->n_leads != w->leads || m->n_samples != w->samples)
        return pf_err(PF_EFORMAT, "window '%s' #%llu is %u x %u; this file holds %u x %u windows", m->id,
                      (unsigned long long)m->window_index, m->n_leads, m->n_samples, w->leads, w->samples);
    if (w->has_labels != (lab != NULL) || (lab && (lab->dtype != w->label_dtype || pf_section_count(lab) != w->n_labels)))
        return pf_err(PF_EFORMAT, "window '%s' #%llu: labels differ in presence, type or count from the first window",
                      m->id, (unsigned long long)m->window_index);
    if ((w->n_features != 0) != (feat != NULL) || (feat && pf_section_count(feat) != w->n_features))
        return pf_err(PF_EFORMAT, "window '%s' #%llu: feature vector differs in presence or length (%zu vs %u)", m->id,
                      (unsigned long long)m->window_index, feat ? pf_section_count(feat) : 0, w->n_features);
    if ((w->n_views != 0) != (vw != NULL) || (vw && vw->dims[0] != w->n_views) || (w->rpeaks_aug.on != (rpa != NULL)))
        return pf_err(PF_EFORMAT, "window '%s' #%llu: augmented views differ in presence or number from the first window",
                      m->id, (unsigned long long)m->window_index);
    if ((w->adjacent.ds > 0) != (adj != NULL))
        return pf_err(PF_EFORMAT, "window '%s' #%llu: adjacent window present in some windows only", m->id, (unsigned long long)m->window_index);
    if (w->n == w->cap && grow_meta(w)) return pf_err(PF_ENOMEM, "%s: out of memory for metadata", w->path);
    int ri = record_index(w, m->id);
    if (ri < 0) return pf_err(PF_ENOMEM, "%s: out of memory for record ids", w->path);
    int rc = xds_append(w, &w->data, x->data, 1);
    if (!rc && rp) rc = xds_append(w, &w->rpeaks.values, rp->data, pf_section_count(rp));
    if (!rc && feat) rc = xds_append(w, &w->features, feat->data, 1);
    if (!rc && vw) rc = xds_append(w, &w->views, vw->data, 1);
    if (!rc && rpa) rc = xds_append(w, &w->rpeaks_aug.values, rpa->data, pf_section_count(rpa));
    if (!rc && adj) rc = xds_append(w, &w->adjacent, adj->data, 1);
    if (!rc && adjr) rc = xds_append(w, &w->adj_rpeaks.values, adjr->data, pf_section_count(adjr));
    if (!rc && bt) rc = xds_append(w, &w->beats.values, bt->data, bt->dims[0]);
    if (rc) return rc;
    uint64_t i = w->n;
    w->rpeaks.off[i + 1] = w->rpeaks.off[i] + (int64_t)(rp ? pf_section_count(rp) : 0);
    if (w->rpeaks_aug.on) w->rpeaks_aug.off[i + 1] = w->rpeaks_aug.off[i] + (int64_t)(rpa ? pf_section_count(rpa) : 0);
    if (w->adj_rpeaks.on) w->adj_rpeaks.off[i + 1] = w->adj_rpeaks.off[i] + (int64_t)(adjr ? pf_section_count(adjr) : 0);
    if (w->beats.on) w->beats.off[i + 1] = w->beats.off[i] + (int64_t)(bt ? bt->dims[0] : 0);
    w->window_index[i] = m->window_index;
    w->start_sample[i] = m->start_sample;
    w->rate[i] = m->sample_rate;
    w->epoch[i] = m->epoch;
    w->flags[i] = m->flags;
    w->record[i] = ri;
    if (lab) memcpy((char *)w->labels + i * lab->bytes, lab->data, lab->bytes);
    w->checksum += pf_msg_hash(m);
    w->n++;
    return PF_OK;
}

/* Metadata datasets are extendible like the data, so a flush only appends
 * the rows that are new and the file is readable (h5py) after any flush. */
static int meta_create(pf_h5win *w)
{
    static const char *offn[4] = {"rpeaks_offset", "rpeaks_aug_offset", "beats_offset", "adjacent_rpeaks_offset"};
    ragged *rl[4] = {&w->rpeaks, &w->rpeaks_aug, &w->beats, &w->adj_rpeaks};
    int rc = xds_create(w, &w->m_index, "window_index", H5T_NATIVE_UINT64, 1, NULL, 1024, 0);
    if (!rc) rc = xds_create(w, &w->m_start, "start_sample", H5T_NATIVE_INT64, 1, NULL, 1024, 0);
    if (!rc) rc = xds_create(w, &w->m_rate, "sample_rate", H5T_NATIVE_DOUBLE, 1, NULL, 1024, 0);
    if (!rc) rc = xds_create(w, &w->m_epoch, "epoch", H5T_NATIVE_UINT32, 1, NULL, 1024, 0);
    if (!rc) rc = xds_create(w, &w->m_flags, "flags", H5T_NATIVE_UINT32, 1, NULL, 1024, 0);
    if (!rc) rc = xds_create(w, &w->m_record, "record", H5T_NATIVE_INT32, 1, NULL, 1024, 0);
    for (int k = 0; k < 4 && !rc; k++) /* rpeaks_offset always; the others with their data */
        if (k == 0 || rl[k]->on) rc = xds_create(w, &w->m_off[k], offn[k], H5T_NATIVE_INT64, 1, NULL, 1024, 0);
    if (!rc && w->has_labels) {
        hsize_t nl[1] = {w->n_labels};
        hid_t t = w->label_dtype == PF_DT_I64 ? H5T_NATIVE_INT64 : H5T_NATIVE_FLOAT;
        rc = xds_create(w, &w->m_label, "label", t, w->n_labels == 1 ? 1 : 2, nl, 1024, 0);
    }
    if (!rc) {
        w->str_type = H5Tcopy(H5T_C_S1);
        H5Tset_size(w->str_type, H5T_VARIABLE);
        rc = xds_create(w, &w->m_ids, "record_ids", w->str_type, 1, NULL, 256, 0);
    }
    w->meta_on = 1;
    return rc;
}

static int meta_append(pf_h5win *w)
{
    if (!w->meta_on) {
        int rc = meta_create(w);
        if (rc) return rc;
    }
    uint64_t a = w->synced, k = w->n - a;
    int64_t zero = 0;
    int rc = PF_OK;
    if (k) { /* the arrays are NULL before the first window */
        rc = xds_append(w, &w->m_index, w->window_index + a, k);
        if (!rc) rc = xds_append(w, &w->m_start, w->start_sample + a, k);
        if (!rc) rc = xds_append(w, &w->m_rate, w->rate + a, k);
        if (!rc) rc = xds_append(w, &w->m_epoch, w->epoch + a, k);
        if (!rc) rc = xds_append(w, &w->m_flags, w->flags + a, k);
        if (!rc) rc = xds_append(w, &w->m_record, w->record + a, k);
    }
    ragged *rl[4] = {&w->rpeaks, &w->rpeaks_aug, &w->beats, &w->adj_rpeaks};
    for (int j = 0; j < 4 && !rc; j++) {
        if (w->m_off[j].ds <= 0) continue;
        /* N + 1 offsets: the leading 0 goes with the first rows */
        if (w->m_off[j].dims[0] == 0) rc = xds_append(w, &w->m_off[j], w->n ? rl[j]->off : &zero, 1);
        if (!rc && k) rc = xds_append(w, &w->m_off[j], rl[j]->off + a + 1, k);
    }
    if (!rc && w->m_label.ds > 0 && k)
        rc = xds_append(w, &w->m_label, (char *)w->labels + a * w->n_labels * (w->label_dtype == PF_DT_I64 ? 8 : 4), k);
    if (!rc && w->n_ids > w->ids_synced) rc = xds_append(w, &w->m_ids, w->ids + w->ids_synced, (hsize_t)(w->n_ids - w->ids_synced));
    if (rc) return rc;
    w->synced = w->n;
    w->ids_synced = w->n_ids;
    return PF_OK;
}

/* Trim a dataset's growth slack so its extent is exactly what was written. */
static void xds_trim(xds *x)
{
    if (x->ds <= 0 || x->cap == x->dims[0]) return;
    hsize_t ext[4] = {x->dims[0], x->dims[1], x->dims[2], x->dims[3]};
    H5Dset_extent(x->ds, ext);
    x->cap = x->dims[0];
}

int pf_h5win_flush(pf_h5win *w)
{
    int rc = w->started ? meta_append(w) : PF_OK; /* the layout is known from the first window on */
    if (rc) return rc;
    xds *all[] = {&w->data, &w->features, &w->views, &w->adjacent, &w->rpeaks.values, &w->rpeaks_aug.values,
                  &w->adj_rpeaks.values, &w->beats.values, &w->m_index, &w->m_start, &w->m_rate, &w->m_epoch,
                  &w->m_flags, &w->m_record, &w->m_label, &w->m_ids, &w->m_off[0], &w->m_off[1], &w->m_off[2], &w->m_off[3]};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) xds_trim(all[i]);
    uint64_t n = w->n;
    attr_num(w->file, "n_windows", H5T_NATIVE_UINT64, &n);
    attr_num(w->file, "checksum", H5T_NATIVE_UINT64, &w->checksum);
    if (H5Fflush(w->file, H5F_SCOPE_LOCAL) < 0) return h5fail("flush", w->partial);
    return PF_OK;
}

uint64_t pf_h5win_unflushed(const pf_h5win *w) { return w->n - w->synced; }

int pf_h5win_close(pf_h5win *w, int complete)
{
    if (!w) return PF_OK;
    xds_close(&w->data);
    xds_close(&w->features);
    xds_close(&w->views);
    xds_close(&w->adjacent);
    xds_close(&w->rpeaks.values);
    xds_close(&w->rpeaks_aug.values);
    xds_close(&w->adj_rpeaks.values);
    xds_close(&w->beats.values);
    int rc = meta_append(w);
    xds *meta[] = {&w->m_index, &w->m_start, &w->m_rate, &w->m_epoch, &w->m_flags, &w->m_record, &w->m_label, &w->m_ids,
                   &w->m_off[0], &w->m_off[1], &w->m_off[2], &w->m_off[3]};
    for (size_t i = 0; i < sizeof meta / sizeof *meta; i++) xds_close(meta[i]);
    if (w->str_type > 0) H5Tclose(w->str_type);
    uint32_t c = (complete && !rc) ? 1 : 0;
    uint64_t n = w->n;
    attr_num(w->file, "n_windows", H5T_NATIVE_UINT64, &n);
    attr_num(w->file, "checksum", H5T_NATIVE_UINT64, &w->checksum);
    attr_num(w->file, "complete", H5T_NATIVE_UINT32, &c);
    if (H5Fclose(w->file) < 0 && !rc) rc = h5fail("close", w->partial);
    if (c && !rc && rename(w->partial, w->path)) rc = pf_err(PF_EIO, "cannot rename %s to %s", w->partial, w->path);
    for (int i = 0; i < w->n_ids; i++) free(w->ids[i]);
    free(w->ids); free(w->slots);
    free(w->window_index); free(w->start_sample); free(w->rate); free(w->epoch); free(w->flags);
    free(w->record); free(w->labels);
    free(w->rpeaks.off); free(w->rpeaks_aug.off); free(w->adj_rpeaks.off); free(w->beats.off);
    free(w);
    return rc;
}
