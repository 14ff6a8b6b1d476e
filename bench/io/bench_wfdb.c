/* bench_wfdb: reading MIT-BIH format 212 through pf_wfdb against a plain fread of the
 * same .dat files. Each run reads every record of the folder: fread (bytes only, no
 * decoding), pf_wfdb_read_raw (decoded ADC integers) and pf_wfdb_read (physical float32,
 * lead-major), in chunks of `chunk` frames, alternating the three so drift hits all alike.
 * Prints medians over the runs in samples/s and the ratios to fread.
 *   bench_wfdb [folder=$PF_SHARED_DATA/mitdb] [runs=7] [chunk=65536] */
#include "pf_error.h"
#include "pf_wfdb.h"
#include "../bench_common.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char recs[64][1024];
static int nrec;

int main(int argc, char **argv)
{
    const char *sd = getenv("PF_SHARED_DATA");
    char def[1024];
    snprintf(def, sizeof def, "%s/mitdb", sd ? sd : "../shared/data");
    const char *dir = argc > 1 ? argv[1] : def;
    int runs = argc > 2 ? atoi(argv[2]) : 7;
    int64_t chunk = argc > 3 ? atoll(argv[3]) : 65536;
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "bench_wfdb: cannot open %s (set PF_SHARED_DATA or pass the folder)\n", dir);
        return 1;
    }
    struct dirent *e;
    while ((e = readdir(d)) && nrec < 64) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".hea") &&
            snprintf(recs[nrec], sizeof recs[0], "%s/%.*s", dir, (int)(l - 4), e->d_name) < (int)sizeof recs[0])
            nrec++;
    }
    closedir(d);
    if (!nrec) {
        fprintf(stderr, "bench_wfdb: no records in %s\n", dir);
        return 1;
    }
    double *t[3];
    for (int k = 0; k < 3; k++) t[k] = calloc((size_t)runs, sizeof(double));
    int32_t *raw = malloc(sizeof(int32_t) * (size_t)chunk * 16);
    float *phys = malloc(sizeof(float) * (size_t)chunk * 16);
    unsigned char *bytes = malloc((size_t)chunk * 16 * 4);
    int64_t samples = 0, nbytes = 0;
    volatile uint64_t sink = 0;
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < 3; k++) {
            int64_t s = 0, b = 0;
            double t0 = bench_now();
            for (int i = 0; i < nrec; i++) {
                pf_wfdb_record *w = pf_wfdb_open(recs[i]);
                if (!w) {
                    fprintf(stderr, "bench_wfdb: %s\n", pf_errmsg());
                    return 1;
                }
                const pf_wfdb_header *h = pf_wfdb_header_of(w);
                int64_t n = pf_wfdb_length(w);
                if (k == 0) {
                    /* the peer: the same bytes through stdio, no decoding */
                    char p[1400];
                    FILE *f = snprintf(p, sizeof p, "%s/%s", dir, h->sig[0].fname) < (int)sizeof p ? fopen(p, "rb") : NULL;
                    size_t got, want = (size_t)pf_wfdb_format_bytes(h->sig[0].fmt, chunk * h->nsig);
                    while (f && (got = fread(bytes, 1, want, f)) > 0) {
                        b += (int64_t)got;
                        sink += bytes[got - 1];
                    }
                    if (f) fclose(f);
                    s += n * h->nsig;
                } else {
                    for (int64_t t0s = 0; t0s < n; t0s += chunk) {
                        int64_t c = n - t0s < chunk ? n - t0s : chunk;
                        int rc = k == 1 ? pf_wfdb_read_raw(w, t0s, c, raw) : pf_wfdb_read(w, t0s, c, NULL, 0, phys);
                        if (rc) {
                            fprintf(stderr, "bench_wfdb: %s\n", pf_errmsg());
                            return 1;
                        }
                        sink += k == 1 ? (uint64_t)raw[c - 1] : (uint64_t)phys[c - 1];
                    }
                    s += n * h->nsig;
                }
                pf_wfdb_close(w);
            }
            t[k][r] = bench_now() - t0;
            samples = s;
            if (k == 0) nbytes = b;
        }
    }
    const char *name[3] = {"fread (bytes, no decode)", "pf_wfdb_read_raw (int32)", "pf_wfdb_read (float32 mV)"};
    double med[3];
    for (int k = 0; k < 3; k++) {
        med[k] = bench_median(t[k], runs);
    }
    printf("bench_wfdb: %d records in %s, %lld samples (%.1f MB of format 212), %d runs, chunk %lld frames\n", nrec, dir,
           (long long)samples, nbytes / 1e6, runs, (long long)chunk);
    for (int k = 0; k < 3; k++)
        printf("  %-28s median %8.2f ms  %8.1f Msamples/s  ratio to fread %.2f\n", name[k], med[k] * 1e3,
               samples / med[k] / 1e6, med[0] / med[k]);
    (void)sink;
    return 0;
}
