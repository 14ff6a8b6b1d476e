/* Tiny test helpers for tests/io: CHECK counts failures, data_dir() skips (exit 77). */
#ifndef PF_IOTEST_H
#define PF_IOTEST_H

#include "pf_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static int pf_test_failures;

#define CHECK(cond, ...)                                                                 \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            pf_test_failures++;                                                          \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                                \
            fprintf(stderr, "\n");                                                       \
        }                                                                                \
    } while (0)

/* rc must be PF_OK; prints pf_errmsg() otherwise */
#define CHECK_OK(rc) CHECK((rc) == PF_OK, "rc %d: %s", (rc), pf_errmsg())

/* The shared data folder, or exit 77 (ctest SKIP) with a message naming what is missing. */
static inline const char *data_dir(const char *sub)
{
    static char p[1024];
    const char *d = getenv("PF_SHARED_DATA");
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", d ? d : "", sub);
    if (!d || stat(p, &st) != 0) {
        printf("SKIP: shared data '%s' not found (PF_SHARED_DATA=%s)\n", p, d ? d : "(unset)");
        exit(77);
    }
    snprintf(p, sizeof p, "%s", d);
    return p;
}

static inline int test_result(const char *name)
{
    if (pf_test_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, pf_test_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

#endif
