#include "pf_section.h"

#include "pf_msg.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint16_t type;
    const char *name, *dtypes, *shape, *at, *index;
    int hashed;
    const char *store, *desc;
} raw_row;

static const raw_row raw[] = {
#define PF_SECTION(E, code, name, dt, shape, at, idx, hashed, store, desc) \
    {code, name, dt, shape, at, idx, hashed, store, desc},
#include "pf_sections.def"
#undef PF_SECTION
};
#define NROWS ((int)(sizeof raw / sizeof *raw))

static pf_sec_info table[NROWS];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static unsigned parse_dtypes(const char *s)
{
    static const struct { const char *n; int dt; } names[] = {
        {"u8", PF_DT_U8}, {"i32", PF_DT_I32}, {"i64", PF_DT_I64}, {"u64", PF_DT_U64}, {"f32", PF_DT_F32}, {"f64", PF_DT_F64}};
    if (!strcmp(s, "any")) return ~0u;
    unsigned bits = 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *t = strtok_r(buf, "|", &save); t; t = strtok_r(NULL, "|", &save))
        for (size_t i = 0; i < sizeof names / sizeof *names; i++)
            if (!strcmp(t, names[i].n)) bits |= 1u << names[i].dt;
    return bits;
}

/* "[L,T]" -> dims; the table is ours, so a malformed rule is a programming error */
static void parse_shape(pf_sec_info *r, const char *s)
{
    r->time_axis = -1;
    if (!strcmp(s, "any")) return;
    const char *p = s + 1;
    while (*p && *p != ']' && r->ndim < 4) {
        int d;
        if (*p == 'L') d = PF_DIM_LEADS;
        else if (*p == 'T') d = PF_DIM_SAMPLES;
        else if (*p == 't') d = PF_DIM_TIME;
        else if (*p >= '0' && *p <= '9') d = (int)strtol(p, (char **)&p, 10), p--;
        else d = PF_DIM_FREE;
        if (d == PF_DIM_SAMPLES || d == PF_DIM_TIME) r->time_axis = r->ndim;
        r->dims[r->ndim++] = d;
        p++;
        if (*p == ',') p++;
    }
}

static void build(void)
{
    for (int i = 0; i < NROWS; i++) {
        const raw_row *w = &raw[i];
        pf_sec_info *r = &table[i];
        r->type = w->type;
        r->name = w->name;
        r->dtypes = parse_dtypes(w->dtypes);
        parse_shape(r, w->shape);
        r->at = !strcmp(w->at, "win") ? PF_AT_WIN : !strcmp(w->at, "adj") ? PF_AT_ADJ : PF_AT_NONE;
        r->index = !strcmp(w->index, "abs") ? PF_IDX_ABS : !strcmp(w->index, "abs0") ? PF_IDX_ABS0
                 : !strcmp(w->index, "abs-1") ? PF_IDX_ABS_OPT : !strcmp(w->index, "start") ? PF_IDX_START : PF_IDX_NONE;
        r->hashed = w->hashed;
        const char *colon = strchr(w->store, ':');
        r->store = !colon ? PF_STORE_NONE : !strncmp(w->store, "rows", 4) ? PF_STORE_ROWS
                 : !strncmp(w->store, "ragged", 6) ? PF_STORE_RAGGED : PF_STORE_ATTR;
        r->store_name = colon ? colon + 1 : NULL;
        r->shape = w->shape;
        r->dtype_rule = w->dtypes;
        r->desc = w->desc;
    }
}

const pf_sec_info *pf_sec_table(int *n)
{
    pthread_once(&once, build);
    if (n) *n = NROWS;
    return table;
}

const pf_sec_info *pf_sec_info_of(int type)
{
    pthread_once(&once, build);
    for (int i = 0; i < NROWS; i++)
        if (table[i].type == type) return &table[i];
    return NULL;
}

const char *pf_sec_name(int type)
{
    static _Thread_local char buf[24];
    const pf_sec_info *r = pf_sec_info_of(type);
    if (r) return r->name;
    snprintf(buf, sizeof buf, "type %d", type);
    return buf;
}
