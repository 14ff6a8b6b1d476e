/* Helpers for tests that compare against scipy: write/read raw float64 files
 * and run a reference script with $PF_PYTHON (Debian's python3 + scipy). */
#ifndef PF_TEST_PYREF_H
#define PF_TEST_PYREF_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int pyref_write(const char *path, const double *v, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(v, sizeof(double), n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

/* Reads up to max doubles; returns the count or -1. */
static inline long pyref_read(const char *path, double *v, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t r = fread(v, sizeof(double), max, f);
    fclose(f);
    return (long)r;
}

/* Runs "$PF_PYTHON $PF_SOURCE_DIR/tests/dsp/<script> args"; 0 on success. */
static inline int pyref_run(const char *script, const char *args)
{
    const char *py = getenv("PF_PYTHON"), *src = getenv("PF_SOURCE_DIR");
    if (!py || !*py) py = "/usr/bin/python3";
    if (!src) src = ".";
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s/tests/dsp/%s %s", py, src, script, args);
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "reference script failed (%d): %s\n", rc, cmd);
    return rc;
}

/* A private temp directory for this test's files. */
static const char *pyref_tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/pf_dsp_test_XXXXXX");
        if (!mkdtemp(dir)) { perror("mkdtemp"); exit(1); }
    }
    return dir;
}

static inline void pyref_cleanup(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", pyref_tmpdir());
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", pyref_tmpdir());
}

#endif
