/* pf_error: integer error codes plus a per-thread message naming the bad value.
 *
 * Every physioflow function that can fail returns an int: 0 (PF_OK) on success
 * or a negative PF_E* code. The function that detects the problem records a
 * human-readable message with pf_err(), which callers print with pf_errmsg().
 *   return pf_err(PF_ERANGE, "%s: field 'gain' = %g must be > 0", path, gain);
 */
#ifndef PF_ERROR_H
#define PF_ERROR_H

enum {
    PF_OK = 0,
    PF_EINVAL = -1,   /* invalid argument or parameter value */
    PF_ENOMEM = -2,   /* allocation failed */
    PF_EIO = -3,      /* operating-system or library I/O failure */
    PF_EFORMAT = -4,  /* malformed input: file, message or config */
    PF_ERANGE = -5,   /* value out of its allowed range */
    PF_ESTATE = -6,   /* call not valid in the object's current state */
    PF_EAGAIN = -7,   /* would block / try again */
    PF_EINTR = -8,    /* interrupted by a stop request */
    PF_ENOTFOUND = -9 /* named thing (file, node, key) does not exist */
};

/* Record a message for code and return code (so `return pf_err(...)` works). */
int pf_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the current message with more context ("reading x.hea: ..."). */
int pf_err_context(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last message recorded on this thread ("" if none). */
const char *pf_errmsg(void);
/* Static name of a code, e.g. "format error". */
const char *pf_strerror(int code);
void pf_err_clear(void);

#endif
