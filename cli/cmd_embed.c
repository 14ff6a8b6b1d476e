/* physioflow embed: one vector per window (or per beat-centred window) of real
 * records, from the pretraining encoder (a trainer checkpoint directory, or the
 * encoder at random initialisation of the same preset) or from hand-crafted beat
 * features, written as an embedding file (docs/formats.md) that `physioflow
 * probe` scores. Windows get the pretraining graphs' preprocessing (pf_prep). */
#include "pf_beatfeat.h"
#include "pf_cli.h"
#include "pf_embed.h"
#include "pf_embfile.h"
#include "pf_error.h"
#include "pf_h5set.h"
#include "pf_labels.h"
#include "pf_prep.h"
#include "pf_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage(void)
{
    fprintf(stderr,
            "usage: physioflow embed [--checkpoint DIR] --data DIR [--beats] [--features encoder|handcrafted] --out FILE.h5\n"
            "                        [--preset tiny] [--window 2304] [--levels 3] [--gate-heads 2] [--xattn-heads 4]\n"
            "                        [--batch 16] [--seed 7] [--keep-n K] [--cap C] [--dx] [--keep-paced] RECORD...\n"
            "  windows of --window samples (hop = window), or with --beats one window centred on every beat\n"
            "  (reference annotations, else detected R-peaks) labelled with its AAMI class (N S V F Q);\n"
            "  --dx labels windows with the CinC 2021 scored diagnoses of the record header (multi-label);\n"
            "  --keep-n K keeps every K-th N beat, --cap C at most about C beats per record and class (evenly spread);\n"
            "  --keep-paced keeps paced records in --beats. A RECORD ending in .h5 is a PhysioWave set: one window\n"
            "  per item, labelled from its `label` (classes 0..K-1, or multi-label), rate from `fs` or --rate.\n"
            "  Preprocessing as configs/pretrain-physiowave.cfg: 0.5-40 Hz band-pass, 500 Hz, z-score.\n");
    return 2;
}

typedef struct {
    const char *ckpt, *data, *out, *preset, *features;
    int beats, window, levels, gate_heads, xattn_heads, batch, keep_n, cap, dx, keep_paced;
    uint64_t seed;
    double rate;     /* HDF5 sets without `fs` */
    int sets;        /* the inputs are PhysioWave HDF5 sets: one window per item */
    int64_t set_k;   /* their label width (classes, or multi-label columns), 0 = none */
    int set_multi;
} opts_t;

typedef struct {
    opts_t *o;
    pf_embedder *e;
    pf_embset *set;
    pf_prep_cfg prep;
    int C, Tout;
    float *x;        /* [batch, C, Tout] */
    int nb;          /* windows held */
    /* the rows held, written once their embeddings exist */
    int64_t lab[1024], smp[1024], widx[1024];
    float *y;          /* [batch, ky] multi-label rows */
    int ky;
    char (*rrec)[256]; /* [batch] record name of each row held */
    char rec[256];     /* the record being read */
    double secs;
    int64_t windows;
} emb_t;

static int flush(emb_t *m)
{
    if (!m->nb) return PF_OK;
    int D = pf_embedder_dim(m->e);
    float *out = malloc(sizeof(float) * (size_t)m->nb * D);
    if (!out) return pf_err(PF_ENOMEM, "embed: out of memory");
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = pf_embedder_run(m->e, m->x, m->nb, out);
    clock_gettime(CLOCK_MONOTONIC, &b);
    m->secs += (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
    m->windows += m->nb;
    for (int i = 0; !rc && i < m->nb; i++)
        rc = pf_embset_add(m->set, out + (size_t)i * D, m->lab[i], m->o->dx || m->o->set_multi ? m->y + (size_t)i * m->ky : NULL,
                           m->rrec[i], m->smp[i], m->widx[i]);
    free(out);
    m->nb = 0;
    return rc;
}

/* One window [start, start + window) of the record through the preprocessing into the batch. */
static int add_window(emb_t *m, pf_record *r, int64_t start, int64_t label, const float *y, int64_t sample, int64_t widx)
{
    int W = m->o->window;
    float *raw = malloc(sizeof(float) * (size_t)m->C * W);
    if (!raw) return pf_err(PF_ENOMEM, "embed: out of memory");
    int rc = pf_record_read(r, start, W, NULL, m->C, raw);
    for (size_t i = 0; !rc && i < (size_t)m->C * W; i++)
        if (raw[i] != raw[i]) raw[i] = 0; /* WFDB invalid samples, as the reader does */
    size_t ny = 0;
    if (!rc) rc = pf_prep_window(&m->prep, pf_record_rate(r), raw, m->C, (size_t)W, m->x + (size_t)m->nb * m->C * m->Tout,
                                 (size_t)m->Tout, &ny);
    free(raw);
    if (!rc && ny != (size_t)m->Tout)
        rc = pf_err(PF_EFORMAT, "%s: a window of %d samples at %g Hz becomes %zu samples, the encoder takes %d", pf_record_name(r), W,
                    pf_record_rate(r), ny, m->Tout);
    if (rc) return rc;
    m->lab[m->nb] = label;
    if (y) memcpy(m->y + (size_t)m->nb * m->ky, y, sizeof(float) * (size_t)m->ky);
    snprintf(m->rrec[m->nb], sizeof m->rrec[0], "%s", m->rec);
    m->smp[m->nb] = sample;
    m->widx[m->nb] = widx;
    if (++m->nb == m->o->batch) return flush(m);
    return PF_OK;
}

static int is_set(const char *p)
{
    size_t n = strlen(p);
    return (n > 3 && !strcmp(p + n - 3, ".h5")) || (n > 5 && !strcmp(p + n - 5, ".hdf5"));
}

/* A PhysioWave HDF5 set: every item is one window, labelled from `label` when the set has one. */
static int embed_set(emb_t *m, const char *name)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", m->o->data, name);
    pf_h5set *h = pf_h5set_open(path);
    if (!h) return PF_EFORMAT;
    int rc = PF_OK;
    size_t n = pf_h5set_count(h), K = pf_h5set_label_width(h);
    int klash = m->o->set_multi ? (int64_t)K != m->o->set_k || pf_h5set_label_is_class(h) : (K != 0) != (m->o->set_k != 0) || (K && !pf_h5set_label_is_class(h));
    if ((int)pf_h5set_channels(h) != m->C || (int64_t)pf_h5set_length(h) != m->o->window || klash)
        rc = pf_err(PF_EFORMAT, "%s holds %zu leads x %zu samples with %zu label columns; the first set %zu x %d with %lld", path,
                    pf_h5set_channels(h), pf_h5set_length(h), K, (size_t)m->C, m->o->window, (long long)m->o->set_k);
    pf_record_opts ro = {"", m->o->rate};
    float y[PF_DX_CLASSES > 256 ? PF_DX_CLASSES : 256];
    for (size_t it = 0; !rc && it < n; it++) {
        int64_t c = -1;
        if (K && !m->o->set_multi) {
            rc = pf_h5set_read_class(h, it, 1, &c);
            if (!rc && (c < 0 || c >= m->o->set_k)) rc = pf_err(PF_EFORMAT, "%s: label of item %zu is %lld", path, it, (long long)c);
        } else if (K) {
            rc = K > 256 ? pf_err(PF_ERANGE, "%s: %zu label columns, at most 256", path, K) : pf_h5set_read_labels(h, it, 1, y);
        }
        pf_record *r = rc ? NULL : pf_record_open_h5(h, it, &ro);
        if (!rc && !r) rc = PF_EFORMAT;
        snprintf(m->rec, sizeof m->rec, "%s[%zu]", name, it);
        if (!rc) rc = add_window(m, r, 0, K && !m->o->set_multi ? c : -1, m->o->set_multi ? y : NULL, -1, (int64_t)it);
        pf_record_close(r);
    }
    if (!rc) rc = flush(m);
    pf_h5set_close(h);
    return rc ? pf_err_context(rc, "set %s", path) : PF_OK;
}

static int64_t beat_start(const opts_t *o, int64_t sample) { return sample - o->window / 2; }

static int embed_record(emb_t *m, const char *name)
{
    opts_t *o = m->o;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", o->data, name);
    pf_record *r = pf_record_open(path, NULL);
    if (!r) return PF_EFORMAT;
    int rc = PF_OK;
    int64_t len = pf_record_length(r);
    snprintf(m->rec, sizeof m->rec, "%s", name);
    if (pf_record_nleads(r) != m->C) {
        rc = pf_err(PF_EFORMAT, "%s has %d leads, the encoder takes %d", path, pf_record_nleads(r), m->C);
        pf_record_close(r);
        return rc;
    }
    int hand = !strcmp(o->features, "handcrafted");
    if (!o->beats) {
        float y[PF_DX_CLASSES];
        int un = 0;
        if (o->dx) {
            char hea[2100];
            snprintf(hea, sizeof hea, "%s.hea", path);
            rc = pf_dx_read(hea, y, &un);
        }
        for (int64_t w = 0; !rc && (w + 1) * o->window <= len; w++)
            rc = add_window(m, r, w * o->window, o->dx ? 0 : -1, o->dx ? y : NULL, -1, w);
        if (!rc) rc = flush(m);
        pf_record_close(r);
        return rc;
    }
    pf_beat *b = NULL;
    size_t nb = 0;
    int detected = 0;
    rc = pf_beats_list(r, &b, &nb, &detected);
    /* beats whose window lies inside the record (the encoder's and the features' rows alike) */
    size_t kept = 0, edge = 0, thinned = 0, seen[PF_AAMI_CLASSES + 1] = {0}, stride[PF_AAMI_CLASSES + 1];
    /* thinning: every stride-th beat of a class, so that at most `cap` per record and
     * class remain, spread over the record (N: at least every keep_n-th) */
    for (size_t i = 0; !rc && i < nb; i++) {
        int64_t s0 = beat_start(o, b[i].sample);
        if (s0 >= 0 && s0 + o->window <= len) seen[b[i].cls + 1]++;
    }
    for (int c = 0; c <= PF_AAMI_CLASSES; c++) {
        stride[c] = o->cap > 0 && seen[c] > (size_t)o->cap ? (seen[c] + (size_t)o->cap - 1) / (size_t)o->cap : 1;
        if (c == PF_AAMI_N + 1 && stride[c] < (size_t)o->keep_n) stride[c] = (size_t)o->keep_n;
        seen[c] = 0;
    }
    long *rk = rc ? NULL : malloc(sizeof(long) * (nb ? nb : 1));
    size_t *ik = rc ? NULL : malloc(sizeof(size_t) * (nb ? nb : 1));
    if (!rc && (!rk || !ik)) rc = pf_err(PF_ENOMEM, "embed: out of memory");
    for (size_t i = 0; !rc && i < nb; i++) {
        int64_t s0 = beat_start(o, b[i].sample);
        if (s0 < 0 || s0 + o->window > len) { edge++; continue; }
        if (seen[b[i].cls + 1]++ % stride[b[i].cls + 1]) { thinned++; continue; }
        rk[kept] = (long)b[i].sample;
        ik[kept++] = i;
    }
    if (!rc && hand) {
        int L = m->C, D = pf_beatfeat_dim(L);
        float *x = malloc(sizeof(float) * (size_t)len * L), *all = NULL;
        long *rall = malloc(sizeof(long) * (nb ? nb : 1));
        if (!x || !rall) rc = pf_err(PF_ENOMEM, "embed: out of memory for %s", path);
        if (!rc) rc = pf_record_read(r, 0, len, NULL, L, x);
        for (size_t i = 0; !rc && i < (size_t)len * L; i++)
            if (x[i] != x[i]) x[i] = 0;
        /* RR features need every beat, not only the rows kept */
        for (size_t i = 0; !rc && i < nb; i++) rall[i] = (long)b[i].sample;
        if (!rc && !(all = malloc(sizeof(float) * (nb ? nb : 1) * D))) rc = pf_err(PF_ENOMEM, "embed: out of memory");
        if (!rc) rc = pf_beatfeat_record(x, L, (size_t)len, pf_record_rate(r), rall, nb, all);
        for (size_t k = 0; !rc && k < kept; k++)
            rc = pf_embset_add(m->set, all + ik[k] * (size_t)D, b[ik[k]].cls, NULL, name, b[ik[k]].sample, (int64_t)ik[k]);
        m->windows += (int64_t)kept;
        free(x);
        free(all);
        free(rall);
    }
    for (size_t k = 0; !rc && !hand && k < kept; k++)
        rc = add_window(m, r, beat_start(o, b[ik[k]].sample), b[ik[k]].cls, NULL, b[ik[k]].sample, (int64_t)ik[k]);
    if (!rc && !hand) rc = flush(m);
    if (!rc)
        fprintf(stderr, "  %s: %zu %s beats, %zu embedded, %zu too near an end for a %d-sample window, %zu thinned out\n", name, nb,
                detected ? "detected" : "reference", kept, edge, o->window, thinned);
    free(rk);
    free(ik);
    free(b);
    pf_record_close(r);
    return rc ? pf_err_context(rc, "record %s", path) : PF_OK;
}

int pf_cmd_embed(int argc, char **argv)
{
    opts_t o = {.features = "encoder", .preset = "tiny", .window = 2304, .levels = 3, .gate_heads = 2, .xattn_heads = 4,
                .batch = 16, .seed = 7, .keep_n = 1};
    const char *recs[4096];
    int nr = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--checkpoint") && more) o.ckpt = argv[++i];
        else if (!strcmp(a, "--data") && more) o.data = argv[++i];
        else if (!strcmp(a, "--out") && more) o.out = argv[++i];
        else if (!strcmp(a, "--preset") && more) o.preset = argv[++i];
        else if (!strcmp(a, "--features") && more) o.features = argv[++i];
        else if (!strcmp(a, "--window") && more) o.window = atoi(argv[++i]);
        else if (!strcmp(a, "--levels") && more) o.levels = atoi(argv[++i]);
        else if (!strcmp(a, "--gate-heads") && more) o.gate_heads = atoi(argv[++i]);
        else if (!strcmp(a, "--xattn-heads") && more) o.xattn_heads = atoi(argv[++i]);
        else if (!strcmp(a, "--batch") && more) o.batch = atoi(argv[++i]);
        else if (!strcmp(a, "--seed") && more) o.seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--keep-n") && more) o.keep_n = atoi(argv[++i]);
        else if (!strcmp(a, "--cap") && more) o.cap = atoi(argv[++i]);
        else if (!strcmp(a, "--rate") && more) o.rate = atof(argv[++i]);
        else if (!strcmp(a, "--beats")) o.beats = 1;
        else if (!strcmp(a, "--dx")) o.dx = 1;
        else if (!strcmp(a, "--keep-paced")) o.keep_paced = 1;
        else if (a[0] == '-') { fprintf(stderr, "physioflow embed: unknown option '%s'\n", a); return usage(); }
        else if (nr < 4096) recs[nr++] = a;
    }
    if (!o.data || !o.out || !nr || o.window <= 0 || o.batch < 1 || o.batch > 1024 || o.keep_n < 1 || o.cap < 0) return usage();
    int hand = !strcmp(o.features, "handcrafted");
    if (!hand && strcmp(o.features, "encoder")) { fprintf(stderr, "physioflow embed: --features '%s': expected encoder or handcrafted\n", o.features); return 2; }
    if (hand && (!o.beats || o.ckpt)) { fprintf(stderr, "physioflow embed: --features handcrafted describes beats: it needs --beats and no --checkpoint\n"); return 2; }
    if (o.beats && o.dx) { fprintf(stderr, "physioflow embed: --dx labels whole windows; --beats labels beats: choose one\n"); return 2; }
    /* the first record (or set) fixes the lead count and rate */
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", o.data, recs[0]);
    o.sets = is_set(recs[0]);
    for (int i = 1; i < nr; i++)
        if (is_set(recs[i]) != o.sets) { fprintf(stderr, "physioflow embed: give either records or HDF5 sets, not both (%s)\n", recs[i]); return 2; }
    if (o.sets && (o.beats || o.dx || hand)) { fprintf(stderr, "physioflow embed: HDF5 sets are embedded item by item (no --beats, --dx, features)\n"); return 2; }
    emb_t m = {.o = &o, .prep = pf_prep_pretrain()};
    double rate = 0;
    if (o.sets) {
        pf_h5set *h = pf_h5set_open(path);
        if (!h) { fprintf(stderr, "physioflow embed: %s\n", pf_errmsg()); return 1; }
        m.C = (int)pf_h5set_channels(h);
        o.window = (int)pf_h5set_length(h);
        rate = pf_h5set_rate(h) > 0 ? pf_h5set_rate(h) : o.rate;
        o.set_k = (int64_t)pf_h5set_label_width(h);
        o.set_multi = o.set_k && !pf_h5set_label_is_class(h);
        if (o.set_k && !o.set_multi) { /* classes 0..max over every set */
            o.set_k = 0;
            for (int i = 0; i < nr; i++) {
                char p2[2048];
                snprintf(p2, sizeof p2, "%s/%s", o.data, recs[i]);
                pf_h5set *g = i ? pf_h5set_open(p2) : h;
                size_t n = g ? pf_h5set_count(g) : 0;
                int64_t *c = g ? malloc(sizeof(int64_t) * (n ? n : 1)) : NULL;
                int bad = !g || !c || (g && !pf_h5set_label_is_class(g)) || pf_h5set_read_class(g, 0, n, c);
                for (size_t k = 0; !bad && k < n; k++) if (c[k] + 1 > o.set_k) o.set_k = c[k] + 1;
                free(c);
                if (g && i) pf_h5set_close(g);
                if (bad) { fprintf(stderr, "physioflow embed: %s: class labels unreadable (%s)\n", p2, pf_errmsg()); pf_h5set_close(h); return 1; }
            }
            if (o.set_k > 256) { fprintf(stderr, "physioflow embed: %lld classes, at most 256\n", (long long)o.set_k); pf_h5set_close(h); return 1; }
        }
        pf_h5set_close(h);
        if (!(rate > 0)) { fprintf(stderr, "physioflow embed: %s has no `fs` attribute: give --rate\n", path); return 2; }
    } else {
        pf_record *r0 = pf_record_open(path, NULL);
        if (!r0) { fprintf(stderr, "physioflow embed: %s\n", pf_errmsg()); return 1; }
        m.C = pf_record_nleads(r0);
        rate = pf_record_rate(r0);
        pf_record_close(r0);
    }
    m.Tout = (int)pf_prep_out_len(&m.prep, rate, (size_t)o.window);
    m.ky = o.sets && o.set_multi ? (int)o.set_k : PF_DX_CLASSES;
    m.y = malloc(sizeof(float) * (size_t)o.batch * (size_t)m.ky);
    m.rrec = malloc(sizeof *m.rrec * (size_t)o.batch);
    int rc = m.y && m.rrec ? PF_OK : pf_err(PF_ENOMEM, "embed: out of memory");
    char source[1024];
    if (!hand) {
        pf_wavelet_cfg wc = pf_wavelet_cfg_defaults(m.C);
        wc.levels = o.levels;
        wc.gate_heads = o.gate_heads;
        wc.xattn_heads = o.xattn_heads;
        pf_tfm_cfg tc;
        rc = pf_tfm_preset(o.preset, &tc);
        if (!rc) rc = pf_wavelet_validate(&wc);
        if (!rc && !(m.e = pf_embedder_create(&wc, &tc, o.batch, m.Tout, o.seed, o.ckpt))) rc = PF_EFORMAT;
        if (!rc && !(m.x = malloc(sizeof(float) * (size_t)o.batch * m.C * m.Tout))) rc = pf_err(PF_ENOMEM, "embed: out of memory");
        snprintf(source, sizeof source, "encoder preset %s, %d leads x %d samples at 500 Hz, %s", o.preset, m.C, m.Tout,
                 o.ckpt ? o.ckpt : "random initialisation");
        if (!o.ckpt) snprintf(source + strlen(source), sizeof source - strlen(source), " (seed %llu)", (unsigned long long)o.seed);
    } else {
        snprintf(source, sizeof source, "handcrafted beat features (de Chazal 2004 families, pf_beatfeat), %d leads", m.C);
    }
    if (rc) { fprintf(stderr, "physioflow embed: %s\n", pf_errmsg()); pf_embedder_destroy(m.e); free(m.x); free(m.y); free(m.rrec); return 1; }
    const char *aami[PF_AAMI_CLASSES], *dxn[PF_DX_CLASSES], *none[1] = {"none"};
    for (int c = 0; c < PF_AAMI_CLASSES; c++) aami[c] = pf_aami_name(c);
    for (int c = 0; c < PF_DX_CLASSES; c++) dxn[c] = pf_dx_name(c);
    int dim = hand ? pf_beatfeat_dim(m.C) : pf_embedder_dim(m.e);
    static char setn[256][8];
    const char *setp[256];
    for (int c = 0; c < 256; c++) { snprintf(setn[c], sizeof setn[c], "%d", c); setp[c] = setn[c]; }
    m.set = o.beats ? pf_embset_create(dim, PF_AAMI_CLASSES, aami, 0, source)
            : o.dx  ? pf_embset_create(dim, PF_DX_CLASSES, dxn, 1, source)
            : o.sets && o.set_k ? pf_embset_create(dim, (int)o.set_k, setp, o.set_multi, source)
                    : pf_embset_create(dim, 1, none, 0, source);
    if (!m.set) rc = PF_ENOMEM;
    fprintf(stderr, "physioflow embed: %s\n", source);
    for (int i = 0; i < nr && !rc; i++) {
        if (o.beats && !o.keep_paced && pf_aami_paced(recs[i])) {
            fprintf(stderr, "  %s: paced record, excluded from AAMI beat evaluation (--keep-paced keeps it)\n", recs[i]);
            continue;
        }
        rc = o.sets ? embed_set(&m, recs[i]) : embed_record(&m, recs[i]);
    }
    if (!rc && m.set->n == 0) rc = pf_err(PF_ENOTFOUND, "embed: no windows in the %d record(s) given", nr);
    if (!rc) rc = pf_embset_write(m.set, o.out);
    if (rc) fprintf(stderr, "physioflow embed: %s\n", pf_errmsg());
    else {
        printf("wrote %s: %zu vectors of %d from %d record(s)", o.out, m.set->n, dim, nr);
        if (!hand && m.secs > 0) printf("; encoder %.1f windows/s", (double)m.windows / m.secs);
        printf("\n");
    }
    pf_embset_destroy(m.set);
    pf_embedder_destroy(m.e);
    free(m.x);
    free(m.y);
    free(m.rrec);
    return rc ? 1 : 0;
}
