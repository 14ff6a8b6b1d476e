/* pf_section: the declarative table of message section types.
 *
 * The rows are in pf_sections.def (read that file for the columns); this
 * header turns them into the pf_sec_type enum and a parsed table that
 * validation (pf_wire), the checksum (pf_hash), the sink's HDF5 layout and
 * the nodes that move a window's time axis (filter, shuffle) all read. */
#ifndef PF_SECTION_H
#define PF_SECTION_H

#include <stdint.h>

typedef enum {
#define PF_SECTION(E, code, ...) PF_SEC_##E = code,
#include "pf_sections.def"
#undef PF_SECTION
} pf_sec_type;

typedef enum { PF_AT_NONE = 0, PF_AT_WIN, PF_AT_ADJ } pf_sec_at;
typedef enum {
    PF_IDX_NONE = 0, /* plain values */
    PF_IDX_ABS,      /* every value an absolute sample index */
    PF_IDX_ABS0,     /* [n, 2] rows: column 0 absolute index, column 1 a code */
    PF_IDX_ABS_OPT,  /* absolute indices, -1 = absent */
    PF_IDX_START,    /* the absolute start of the adjacent window */
} pf_sec_index;
typedef enum { PF_STORE_NONE = 0, PF_STORE_ROWS, PF_STORE_RAGGED, PF_STORE_ATTR } pf_sec_store;

/* dims[] codes of a shape rule */
#define PF_DIM_LEADS (-1)   /* L: the window's n_leads */
#define PF_DIM_SAMPLES (-2) /* T: the window's n_samples */
#define PF_DIM_TIME (-3)    /* t: a time axis of its own length */
#define PF_DIM_FREE 0       /* any size */

typedef struct {
    uint16_t type;
    const char *name;
    unsigned dtypes;      /* bit (1 << pf_dtype) per allowed dtype; ~0u = any */
    int ndim;             /* 0 = any shape */
    int dims[4];          /* PF_DIM_* or a fixed size > 0 */
    int time_axis;        /* axis with T or t, -1 if not time-indexed */
    pf_sec_at at;
    pf_sec_index index;
    int hashed;
    pf_sec_store store;
    const char *store_name; /* dataset or attribute name in the sink's file */
    const char *shape;      /* the rule as written, for messages */
    const char *dtype_rule; /* the allowed dtypes as written */
    const char *desc;
} pf_sec_info;

/* The whole table in declaration order (*n rows). */
const pf_sec_info *pf_sec_table(int *n);
/* The row of a type, or NULL for a type this build does not know. */
const pf_sec_info *pf_sec_info_of(int type);
/* "samples", "rpeaks", ... or "type N" for unknown types (static buffer per thread). */
const char *pf_sec_name(int type);

#endif
