#include "pf_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static char pf_identity[128] = "physioflow";
static int pf_level = -1;

void pf_log_set_identity(const char *identity)
{
    snprintf(pf_identity, sizeof pf_identity, "%s", identity ? identity : "physioflow");
}

void pf_log_set_level(int level) { pf_level = level; }

static int level_from_env(void)
{
    const char *s = getenv("PF_LOG_LEVEL");
    if (!s) return PF_LOG_INFO;
    if (!strcasecmp(s, "debug")) return PF_LOG_DEBUG;
    if (!strcasecmp(s, "warn")) return PF_LOG_WARN;
    if (!strcasecmp(s, "error")) return PF_LOG_ERROR;
    return PF_LOG_INFO;
}

void pf_log(int level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (pf_level < 0) pf_level = level_from_env();
    if (level < pf_level) return;
    if (level < 0 || level > 3) level = PF_LOG_ERROR;
    char line[2048];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld %-5s [%s] ", tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, names[level], pf_identity);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && n < (int)sizeof line) vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* One fputs per line so lines of concurrent node processes don't interleave. */
    size_t len = strlen(line);
    if (len + 1 < sizeof line) { line[len] = '\n'; line[len + 1] = 0; }
    fputs(line, stderr);
}
