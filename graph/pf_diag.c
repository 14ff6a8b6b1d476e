/* pf_diag: every problem found in a graph, as "file:line: message". */
#include "pf_diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* --- diagnostics ---------------------------------------------------------- */

void pf_diag_add(pf_diag *d, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **m = realloc(d->msg, (size_t)(d->n + 1) * sizeof *m);
    if (!m) return;
    d->msg = m;
    d->msg[d->n] = strdup(buf);
    if (d->msg[d->n]) d->n++;
}

void pf_diag_print(const pf_diag *d, FILE *f)
{
    for (int i = 0; i < d->n; i++) fprintf(f, "%s\n", d->msg[i]);
}

void pf_diag_free(pf_diag *d)
{
    for (int i = 0; i < d->n; i++) free(d->msg[i]);
    free(d->msg);
    d->msg = NULL;
    d->n = 0;
}

