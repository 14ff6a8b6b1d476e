/* Minimal test harness: CHECK records a failure with file:line and goes on;
 * pf_test_done() prints "N passed, N failed" and returns the exit code. */
#ifndef PF_TEST_H
#define PF_TEST_H

#include <stdio.h>
#include <stdlib.h>

static int pf_test_pass, pf_test_fail;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (cond) pf_test_pass++;                                             \
        else {                                                                \
            pf_test_fail++;                                                   \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                     \
            fprintf(stderr, "\n");                                            \
        }                                                                     \
    } while (0)

#define SKIP_TEST(...)                                                        \
    do {                                                                      \
        fprintf(stderr, "SKIP: ");                                            \
        fprintf(stderr, __VA_ARGS__);                                         \
        fprintf(stderr, "\n");                                                \
        exit(77);                                                             \
    } while (0)

static inline int pf_test_done(void)
{
    printf("%d passed, %d failed\n", pf_test_pass, pf_test_fail);
    return pf_test_fail ? 1 : 0;
}

#endif
