#include "pf_params.h"

#include "pf_error.h"
#include "pf_log.h"

#include <stdlib.h>
#include <string.h>

pf_params *pf_params_create(void) { return calloc(1, sizeof(pf_params)); }

static void clear_value(pf_param_value *v)
{
    free(v->s);
    for (int i = 0; v->strs && i < v->n; i++) free(v->strs[i]);
    free(v->strs);
    free(v->nums);
    v->s = NULL; v->strs = NULL; v->nums = NULL; v->n = 0;
}

void pf_params_destroy(pf_params *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++) { clear_value(&p->v[i]); free((char *)p->v[i].name); }
    free(p->v);
    free(p);
}

static pf_param_value *slot(pf_params *p, const char *name, int type)
{
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->v[i].name, name)) { clear_value(&p->v[i]); p->v[i].type = type; return &p->v[i]; }
    pf_param_value *nv = realloc(p->v, (size_t)(p->n + 1) * sizeof *nv);
    if (!nv) return NULL;
    p->v = nv;
    pf_param_value *v = &p->v[p->n];
    memset(v, 0, sizeof *v);
    v->name = strdup(name);
    if (!v->name) return NULL;
    v->type = type;
    p->n++;
    return v;
}

#define SET_OR_FAIL(v) if (!(v)) return pf_err(PF_ENOMEM, "parameter '%s': out of memory", name)

int pf_params_set_int(pf_params *p, const char *name, int64_t x)
{ pf_param_value *v = slot(p, name, PF_P_INT); SET_OR_FAIL(v); v->i = x; v->d = (double)x; return PF_OK; }
int pf_params_set_double(pf_params *p, const char *name, double x)
{ pf_param_value *v = slot(p, name, PF_P_DOUBLE); SET_OR_FAIL(v); v->d = x; v->i = (int64_t)x; return PF_OK; }
int pf_params_set_bool(pf_params *p, const char *name, int x)
{ pf_param_value *v = slot(p, name, PF_P_BOOL); SET_OR_FAIL(v); v->i = !!x; return PF_OK; }

int pf_params_set_string(pf_params *p, const char *name, const char *x)
{
    pf_param_value *v = slot(p, name, PF_P_STRING);
    SET_OR_FAIL(v);
    v->s = strdup(x ? x : "");
    SET_OR_FAIL(v->s);
    return PF_OK;
}

int pf_params_set_strlist(pf_params *p, const char *name, int n, const char *const *x)
{
    pf_param_value *v = slot(p, name, PF_P_STRLIST);
    SET_OR_FAIL(v);
    v->strs = calloc((size_t)(n ? n : 1), sizeof(char *));
    SET_OR_FAIL(v->strs);
    for (int i = 0; i < n; i++) { v->strs[i] = strdup(x[i]); SET_OR_FAIL(v->strs[i]); v->n = i + 1; }
    return PF_OK;
}

int pf_params_set_numlist(pf_params *p, const char *name, int n, const double *x)
{
    pf_param_value *v = slot(p, name, PF_P_NUMLIST);
    SET_OR_FAIL(v);
    v->nums = calloc((size_t)(n ? n : 1), sizeof(double));
    SET_OR_FAIL(v->nums);
    if (n) memcpy(v->nums, x, (size_t)n * sizeof(double));
    v->n = n;
    return PF_OK;
}

const pf_param_value *pf_params_get(const pf_params *p, const char *name)
{
    for (int i = 0; p && i < p->n; i++)
        if (!strcmp(p->v[i].name, name)) return &p->v[i];
    return NULL;
}

static const pf_param_value *must(const pf_params *p, const char *name)
{
    const pf_param_value *v = pf_params_get(p, name);
    if (!v) pf_error("BUG: parameter '%s' read but not declared by the node kind", name);
    return v;
}

int64_t pf_params_int(const pf_params *p, const char *name) { const pf_param_value *v = must(p, name); return v ? v->i : 0; }
double pf_params_double(const pf_params *p, const char *name) { const pf_param_value *v = must(p, name); return v ? v->d : 0; }
int pf_params_bool(const pf_params *p, const char *name) { const pf_param_value *v = must(p, name); return v ? (int)v->i : 0; }
const char *pf_params_string(const pf_params *p, const char *name)
{ const pf_param_value *v = must(p, name); return v && v->s ? v->s : ""; }
int pf_params_list_len(const pf_params *p, const char *name) { const pf_param_value *v = must(p, name); return v ? v->n : 0; }
const char *pf_params_list_str(const pf_params *p, const char *name, int i)
{ const pf_param_value *v = must(p, name); return v && v->strs && i >= 0 && i < v->n ? v->strs[i] : ""; }
double pf_params_list_num(const pf_params *p, const char *name, int i)
{ const pf_param_value *v = must(p, name); return v && v->nums && i >= 0 && i < v->n ? v->nums[i] : 0; }

const char *pf_param_type_name(int t)
{
    switch (t) {
    case PF_P_INT: return "integer";
    case PF_P_DOUBLE: return "number";
    case PF_P_BOOL: return "boolean";
    case PF_P_STRING: return "string";
    case PF_P_STRLIST: return "list of strings";
    case PF_P_NUMLIST: return "list of numbers";
    default: return "?";
    }
}

int pf_param_has_range(const pf_param_spec *s) { return s->min <= s->max && !(s->min == 0 && s->max == 0); }
