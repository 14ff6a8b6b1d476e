/* pf_log: one line per event on stderr, prefixed with time, level and the
 * identity of the process ("filter.2" = node filter, replica 2). */
#ifndef PF_LOG_H
#define PF_LOG_H

enum { PF_LOG_DEBUG = 0, PF_LOG_INFO = 1, PF_LOG_WARN = 2, PF_LOG_ERROR = 3 };

/* Set the identity shown on every line (copied). NULL resets to "physioflow". */
void pf_log_set_identity(const char *identity);
/* Minimum level printed; default INFO, or PF_LOG_LEVEL=debug|info|warn|error. */
void pf_log_set_level(int level);
void pf_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pf_debug(...) pf_log(PF_LOG_DEBUG, __VA_ARGS__)
#define pf_info(...) pf_log(PF_LOG_INFO, __VA_ARGS__)
#define pf_warn(...) pf_log(PF_LOG_WARN, __VA_ARGS__)
#define pf_error(...) pf_log(PF_LOG_ERROR, __VA_ARGS__)

#endif
