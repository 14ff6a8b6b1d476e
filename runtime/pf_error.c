#include "pf_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char pf_msg[1024];

int pf_err(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pf_msg, sizeof pf_msg, fmt, ap);
    va_end(ap);
    return code;
}

int pf_err_context(int code, const char *fmt, ...)
{
    char prefix[512], old[sizeof pf_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, pf_msg, sizeof old);
    snprintf(pf_msg, sizeof pf_msg, "%.400s: %.600s", prefix, old[0] ? old : pf_strerror(code));
    return code;
}

const char *pf_errmsg(void) { return pf_msg; }
void pf_err_clear(void) { pf_msg[0] = 0; }

const char *pf_strerror(int code)
{
    switch (code) {
    case PF_OK: return "ok";
    case PF_EINVAL: return "invalid argument";
    case PF_ENOMEM: return "out of memory";
    case PF_EIO: return "I/O error";
    case PF_EFORMAT: return "format error";
    case PF_ERANGE: return "value out of range";
    case PF_ESTATE: return "invalid state";
    case PF_EAGAIN: return "would block";
    case PF_EINTR: return "interrupted";
    case PF_ENOTFOUND: return "not found";
    default: return "unknown error";
    }
}
