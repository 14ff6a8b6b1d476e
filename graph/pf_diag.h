/* pf_diag: a list of diagnostics ("file:line: message"), so that validation
 * reports every mistake at once instead of the first. */
#ifndef PF_DIAG_H
#define PF_DIAG_H

#include <stdio.h>

typedef struct { int n; char **msg; } pf_diag;
void pf_diag_add(pf_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pf_diag_print(const pf_diag *d, FILE *f);
void pf_diag_free(pf_diag *d);

#endif
