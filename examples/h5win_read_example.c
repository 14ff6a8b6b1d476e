/* Read what a `sink` node wrote, in C, with the reader API (pf_h5win_read.h):
 * no HDF5 calls and no knowledge of the sink's per-replica file names.
 *
 *   h5win_read_example PATH [REPLICAS]
 *
 * PATH and REPLICAS are the sink's `path` and `replicas` parameters. For
 * every file: the windows, their record and window index, the R-peaks, the
 * first feature values and the range of lead 0 of the first window.
 * read_windows.py prints the same lines with h5py (the ctest compares them).
 * Build: link pf_io (see examples/CMakeLists.txt). */
#include "pf_error.h"
#include "pf_h5win_read.h"

#include <stdio.h>
#include <stdlib.h>

static int show(const char *file)
{
    pf_h5win_read *r = pf_h5win_read_open(file, 0);
    if (!r) return -1;
    int64_t n = pf_h5win_read_count(r);
    size_t nid = 0;
    const char *const *ids = pf_h5win_read_record_ids(r, &nid);
    const int32_t *rec = pf_h5win_read_record(r);
    const uint64_t *wi = pf_h5win_read_window_index(r);
    const int64_t *start = pf_h5win_read_start_sample(r);
    const int64_t *peaks, *off;
    const float *feat = NULL;
    size_t nfeat = 0;
    int dim = 0, leads = 0, samples = 0;
    if (n < 0 || !ids || !rec || !wi || !start || pf_h5win_read_rpeaks(r, &peaks, &off) ||
        pf_h5win_read_shape(r, &leads, &samples)) {
        pf_h5win_read_close(&r);
        return -1;
    }
    int has_feat = pf_h5win_read_features(r, &feat, &nfeat, &dim) == PF_OK; /* only after a shuffle node */
    printf("%s: %lld windows of %d x %d, %zu records, complete %d, features %d\n", file, (long long)n, leads, samples, nid,
           pf_h5win_read_complete(r), has_feat ? dim : 0);
    for (int64_t i = 0; i < n; i++) {
        printf("  %s #%llu start %lld: %lld R-peaks", ids[rec[i]], (unsigned long long)wi[i], (long long)start[i],
               (long long)(off[i + 1] - off[i]));
        if (off[i + 1] > off[i]) printf(" (first %lld)", (long long)peaks[off[i]]);
        if (has_feat) printf(", features %.6g %.6g %.6g", feat[i * dim], feat[i * dim + 1], feat[i * dim + 2]);
        printf("\n");
    }
    if (n > 0) {
        float *x = malloc(sizeof(float) * (size_t)leads * (size_t)samples);
        if (!x || pf_h5win_read_window(r, 0, x)) { free(x); pf_h5win_read_close(&r); return -1; }
        float lo = x[0], hi = x[0];
        for (int t = 1; t < samples; t++) { lo = x[t] < lo ? x[t] : lo; hi = x[t] > hi ? x[t] : hi; }
        printf("  window 0, lead 0: min %.6g max %.6g\n", lo, hi);
        free(x);
    }
    pf_h5win_read_close(&r);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH [REPLICAS]   (the sink's path and replicas parameters)\n", argv[0]);
        return 2;
    }
    int replicas = argc > 2 ? atoi(argv[2]) : 1, n = 0, rc = 0;
    char **files = pf_h5win_read_files(argv[1], replicas, &n);
    for (int i = 0; files && i < n && !rc; i++) rc = show(files[i]);
    pf_h5win_read_free_files(files, n);
    if (!files || rc) {
        fprintf(stderr, "h5win_read_example: %s\n", pf_errmsg());
        return 1;
    }
    return 0;
}
