/* HDF5 write throughput of the sink's window writer (pf_h5win: samples plus
 * metadata, R-peaks, checksum, written as .partial and renamed) beside h5py
 * (Debian's python3-h5py) writing the same windows one by one into a chunked
 * dataset, in the same run. Medians of several runs; MB/s and the ratio.
 *   bench_h5write [windows=2000] [runs=5] [python=/usr/bin/python3] */
#include "pf_h5win.h"
#include "pf_wire.h"
#include "../bench_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { C = 12, T = 2500 };

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000, runs = argc > 2 ? atoi(argv[2]) : 5;
    const char *py = argc > 3 ? argv[3] : "/usr/bin/python3";
    char path[128], cmd[1024];
    snprintf(path, sizeof path, "/tmp/pf-bench-h5-%d.h5", (int)getpid());
    double mb = (double)n * C * T * 4 / 1e6, ours[32], peer[32];
    printf("HDF5 write, %d windows of %d x %d float32 (%.0f MB), %d runs, medians\n", n, C, T, mb, runs);
    pf_msg *m = pf_msg_window_create("bench-0001", 0, 0, 500, C, T);
    float *x = pf_msg_samples(m);
    for (int i = 0; i < C * T; i++) x[i] = (float)(i % 977) * 1e-3f;
    int64_t peaks[12];
    for (int k = 0; k < 12; k++) peaks[k] = 100 + 200 * k;
    uint32_t np = 12;
    pf_msg_add(m, PF_SEC_RPEAKS, PF_DT_I64, 1, &np, peaks);
    for (int r = 0; r < runs && r < 32; r++) {
        double t0 = bench_now();
        pf_h5win *w = pf_h5win_create(path, NULL);
        for (int i = 0; i < n; i++) {
            m->window_index = (uint64_t)i;
            x[0] = (float)i;
            if (pf_h5win_append(w, m)) { fprintf(stderr, "append failed\n"); return 1; }
        }
        pf_h5win_close(w, 1);
        ours[r] = mb / (bench_now() - t0);
        unlink(path);
        snprintf(cmd, sizeof cmd,
                 "%s -c \"import h5py,numpy as np,time\n"
                 "x=(np.arange(%d*%d)%%977*1e-3).astype(np.float32).reshape(%d,%d)\n"
                 "t=time.perf_counter()\n"
                 "f=h5py.File('%s','w'); d=f.create_dataset('data',(0,%d,%d),maxshape=(None,%d,%d),chunks=(1,%d,%d),dtype='f4')\n"
                 "for i in range(%d):\n"
                 "  x[0,0]=i; d.resize(i+1,axis=0); d[i]=x\n"
                 "f.close(); print(%f/(time.perf_counter()-t))\"",
                 py, C, T, C, T, path, C, T, C, T, C, T, n, mb);
        FILE *p = popen(cmd, "r");
        peer[r] = 0;
        if (!p || fscanf(p, "%lf", &peer[r]) != 1) fprintf(stderr, "h5py peer failed (is python3-h5py installed?)\n");
        if (p) pclose(p);
        unlink(path);
        printf("  run %d: pf_h5win %.0f MB/s, h5py %.0f MB/s\n", r + 1, ours[r], peer[r]);
        fflush(stdout);
    }
    double om = bench_median(ours, runs), pm = bench_median(peer, runs);
        printf("median: pf_h5win (with metadata, R-peaks, checksum) %.0f MB/s, h5py window by window %.0f MB/s, ratio %.2f\n",
           om, pm, om / pm);
    pf_msg_destroy(m);
    return 0;
}
