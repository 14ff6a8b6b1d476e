/* pf_params: node parameter schemas and typed values.
 *
 * A node kind declares its parameters as a pf_param_spec table; graph/
 * validates a config against it and fills a pf_params with every value
 * (defaults applied), so a node reads parameters without error handling:
 *   int64_t w = pf_params_int(p, "window");
 */
#ifndef PF_PARAMS_H
#define PF_PARAMS_H

#include <stdint.h>

typedef enum { PF_P_INT = 1, PF_P_DOUBLE, PF_P_BOOL, PF_P_STRING, PF_P_STRLIST, PF_P_NUMLIST } pf_param_type;

typedef struct {
    const char *name;
    int type;            /* pf_param_type */
    const char *def;     /* default as config text ("2048", "0.5", "true", "\"a\"", "[1, 2]"); NULL = required */
    double min, max;     /* inclusive range for numbers (and list lengths for lists); ignored if min > max */
    const char *choices; /* strings: allowed values "a|b|c", or NULL for any */
    const char *doc;
} pf_param_spec;

typedef struct {
    const char *name;    /* points into the spec table */
    int type;
    int64_t i;
    double d;
    char *s;
    int n;               /* list length */
    char **strs;
    double *nums;
} pf_param_value;

typedef struct {
    int n;
    pf_param_value *v;
} pf_params;

pf_params *pf_params_create(void);
void pf_params_destroy(pf_params *p);
/* Setters used by graph/ (they copy strings). */
int pf_params_set_int(pf_params *p, const char *name, int64_t v);
int pf_params_set_double(pf_params *p, const char *name, double v);
int pf_params_set_bool(pf_params *p, const char *name, int v);
int pf_params_set_string(pf_params *p, const char *name, const char *v);
int pf_params_set_strlist(pf_params *p, const char *name, int n, const char *const *v);
int pf_params_set_numlist(pf_params *p, const char *name, int n, const double *v);

const pf_param_value *pf_params_get(const pf_params *p, const char *name);
/* Getters: a name the kind did not declare is a programming error, logged
 * loudly; they then return 0 / "" / empty. */
int64_t pf_params_int(const pf_params *p, const char *name);
double pf_params_double(const pf_params *p, const char *name);
int pf_params_bool(const pf_params *p, const char *name);
const char *pf_params_string(const pf_params *p, const char *name);
int pf_params_list_len(const pf_params *p, const char *name);
const char *pf_params_list_str(const pf_params *p, const char *name, int i);
double pf_params_list_num(const pf_params *p, const char *name, int i);
/* "integer", "number", ... for messages and `physioflow kinds`. */
const char *pf_param_type_name(int type);
/* Whether a spec declares a numeric range (min = max = 0 means none). */
int pf_param_has_range(const pf_param_spec *s);

#endif
