/* Real-record regression: pf_eval_rpeaks_run over the shared MIT-BIH records
 * (EC57: 150 ms, from 5:00, beat annotations only, VF excluded). Gross Se and
 * +P must stay >= 99.75 %. Detections written as WFDB annotations must be
 * byte-identical whether records stream in 1 s, 3.7 s or whole-record chunks.
 * Skips (77) when $PF_SHARED_DATA is absent. Also prints CPSC 2019 / 2021
 * figures (reported, not gated). */
#include "../pf_test.h"
#include "pf_error.h"
#include "pf_eval_run.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *mitdb[] = {"101", "102", "104", "106", "107", "108", "109", "112", "114",
                              "115", "116", "118", "119", "122", "124", "201", "203", "205",
                              "207", "208", "209", "215", "217", "220", "223", "230"};
#define NMIT (sizeof mitdb / sizeof mitdb[0])

static int same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) same = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

/* record names under dir with the given suffix, suffix stripped (sorted) */
static size_t list_records(const char *dir, const char *suffix, char names[][64], size_t max)
{
    DIR *d = opendir(dir);
    size_t n = 0, ls = strlen(suffix);
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        size_t le = strlen(e->d_name);
        if (le > ls && le - ls < 64 && strcmp(e->d_name + le - ls, suffix) == 0) {
            memcpy(names[n], e->d_name, le - ls);
            names[n][le - ls] = 0;
            n++;
        }
    }
    closedir(d);
    qsort(names, n, 64, (int (*)(const void *, const void *))strcmp);
    return n;
}

int main(void)
{
    const char *shared = getenv("PF_SHARED_DATA");
    char dir[1024];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/mitdb", shared ? shared : "");
    if (!shared || stat(dir, &st) != 0) {
        printf("SKIP: $PF_SHARED_DATA/mitdb not found (PF_SHARED_DATA=%s); the MIT-BIH regression "
               "needs ../shared/data\n", shared ? shared : "(unset)");
        return 77;
    }
    char tmpl[] = "/tmp/pf_eval_mitdb_XXXXXX";
    char *tmp = mkdtemp(tmpl);
    if (!tmp) { perror("mkdtemp"); return 1; }
    double chunks[3] = {1.0, 3.7, 1e9};
    pf_eval_counts gross[3];
    for (int k = 0; k < 3; k++) {
        char out[1100];
        snprintf(out, sizeof out, "%s/c%d", tmp, k);
        mkdir(out, 0700);
        pf_eval_run_opts o;
        pf_eval_run_opts_default(&o);
        o.data_dir = dir;
        o.ann_out = out;
        o.chunk_s = chunks[k];
        o.out = k == 0 ? stdout : fopen("/dev/null", "w");
        printf("%s", k == 0 ? "MIT-BIH (26 records), chunks of 1 s:\n" : "");
        int rc = pf_eval_rpeaks_run(&o, mitdb, NMIT, NULL, &gross[k]);
        if (k) fclose(o.out);
        if (rc) {
            fprintf(stderr, "FAIL eval: %s\n", pf_errmsg());
            return 1;
        }
    }
    double se, ppv, f1;
    pf_eval_rates(&gross[0], &se, &ppv, &f1);
    printf("gross Se %.3f %%  +P %.3f %%  F1 %.3f %%  (targets Se >= 99.75, +P >= 99.75)\n", se,
           ppv, f1);
    if (!(se >= 99.75 && ppv >= 99.75)) {
        fprintf(stderr, "FAIL: gross Se %.3f / +P %.3f below 99.75\n", se, ppv);
        pf_test_fail++;
    }
    for (size_t i = 0; i < NMIT; i++)
        for (int k = 1; k < 3; k++) {
            char a[1200], b[1200];
            snprintf(a, sizeof a, "%s/c0/%s.qrs", tmp, mitdb[i]);
            snprintf(b, sizeof b, "%s/c%d/%s.qrs", tmp, k, mitdb[i]);
            if (!same_file(a, b)) {
                fprintf(stderr, "FAIL: %s detections differ between 1 s and %g s chunks\n", mitdb[i],
                        chunks[k]);
                pf_test_fail++;
            }
        }
    printf("chunk invariance: detections identical for 1 s, 3.7 s and whole-record chunks on all "
           "%zu records\n", NMIT);
    /* CPSC 2019 (500 Hz, 10 s, noisy) and CPSC 2021 (200 Hz): reported */
    static char names[256][64];
    const char *ptrs[256];
    struct { const char *sub, *suffix, *prefix; } sets[] = {
        {"cpsc2019/data", ".mat", ""}, {"cpsc2021", ".hea", ""}};
    for (int s = 0; s < 2; s++) {
        char sd[1100];
        snprintf(sd, sizeof sd, "%s/%s", shared, sets[s].sub);
        size_t n = list_records(sd, sets[s].suffix, names, 256);
        if (!n) continue;
        for (size_t i = 0; i < n; i++) {
            if (s == 0) strcat(names[i], ".mat");
            ptrs[i] = names[i];
        }
        pf_eval_run_opts o;
        pf_eval_run_opts_default(&o);
        o.data_dir = sd;
        pf_eval_counts g;
        printf("%s (%zu records):\n", sets[s].sub, n);
        if (pf_eval_rpeaks_run(&o, ptrs, n, NULL, &g)) {
            fprintf(stderr, "FAIL %s: %s\n", sets[s].sub, pf_errmsg());
            pf_test_fail++;
        }
    }
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return pf_test_done();
}
