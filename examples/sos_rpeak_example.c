/* The `filter` and `rpeak` node kinds' kernels inside your own program:
 * stream a signal through a Butterworth band-pass + mains notch (pf_iirdes,
 * pf_sos) and the R-peak detector (pf_rpeak), one chunk at a time, as the
 * nodes do between their sockets. The signal is the synthetic ECG with known
 * R-peaks (pf_ecgsyn), so the detections are scored at the end.
 *
 *   sos_rpeak_example [seconds=60] [chunk_ms=1000]
 *
 * Exit status 1 when sensitivity or positive predictivity falls below 99 %.
 * Build: link pf_dsp and pf_io (see examples/CMakeLists.txt). */
#include "ecgsyn.h"
#include "pf_error.h"
#include "pf_iirdes.h"
#include "pf_rpeak.h"
#include "pf_sos.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define FS 360.0
#define LEADS 2

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 60, chunk_ms = argc > 2 ? atof(argv[2]) : 1000;
    /* the signal: 2 leads (II, V1) with baseline wander, 50 Hz mains and noise */
    pf_ecgsyn_config ec;
    pf_ecgsyn_defaults(&ec);
    ec.fs = FS;
    ec.duration = seconds;
    ec.n_leads = LEADS;
    ec.baseline_mv = 0.3;
    ec.powerline_mv = 0.1;
    ec.noise_mv = 0.03;
    ec.seed = 1;
    pf_ecgsyn *src = pf_ecgsyn_create(&ec);
    /* the filter node's design: band-pass 0.5-40 Hz (order 2) cascaded with a 50 Hz notch */
    pf_iirdes bp, notch;
    if (!src || pf_iirdes_butter(&bp, PF_IIRDES_BANDPASS, 2, 0.5, 40, FS) || pf_iirdes_notch(&notch, 50, 30, FS) ||
        pf_iirdes_cascade(&bp, &notch)) {
        fprintf(stderr, "set-up failed: %s\n", pf_errmsg());
        return 1;
    }
    pf_sos *filt = pf_sos_create(&bp, LEADS, PF_SOS_ENGINE_F64);
    pf_rpeak_cfg rc;
    pf_rpeak_cfg_default(&rc, FS, LEADS);
    pf_rpeak *det = pf_rpeak_create(&rc);
    int64_t total = pf_ecgsyn_length(src);
    int chunk = (int)lround(chunk_ms * FS / 1000);
    if (!filt || !det || chunk < 1) { fprintf(stderr, "set-up failed: %s\n", pf_errmsg()); return 1; }
    size_t cap = (size_t)(total / (0.2 * FS)) + 64, nd = 0;
    long *found = malloc(sizeof(long) * cap);
    float *lm = malloc(sizeof(float) * (size_t)chunk * LEADS), *x = malloc(sizeof(float) * (size_t)chunk * LEADS);
    if (!found || !lm || !x) { fprintf(stderr, "out of memory\n"); return 1; }
    for (int64_t t0 = 0; t0 < total; t0 += chunk) {
        int n = (int)(total - t0 < chunk ? total - t0 : chunk);
        pf_ecgsyn_render(src, t0, n, lm);                 /* lead-major: lm[lead * n + i] */
        for (int i = 0; i < n; i++)                        /* the kernels take [n, leads] interleaved */
            for (int l = 0; l < LEADS; l++) x[i * LEADS + l] = lm[l * n + i];
        size_t got = 0;
        if (pf_sos_process(filt, x, x, (size_t)n) ||      /* state carries over to the next chunk */
            pf_rpeak_process(det, x, (size_t)n, found + nd, cap - nd, &got)) {
            fprintf(stderr, "processing failed: %s\n", pf_errmsg());
            return 1;
        }
        nd += got;
    }
    size_t got = 0;
    pf_rpeak_flush(det, found + nd, cap - nd, &got);
    nd += got;
    /* score against the known R-peaks: a detection within 150 ms matches (EC57);
     * beats in the last 0.5 s are left out: the detector confirms a peak only
     * after seeing 200 ms past it, which the record's end may not give */
    int64_t scored = total - (int64_t)(0.5 * FS);
    int64_t *truth = malloc(sizeof(int64_t) * cap);
    int nt = truth ? pf_ecgsyn_rpeaks(src, 0, scored, truth, (int)cap) : 0;
    while (nd > 0 && found[nd - 1] >= scored) nd--;
    long tol = lround(0.150 * FS);
    size_t tp = 0, j = 0;
    double off = 0;
    for (int i = 0; i < nt; i++) {
        while (j < nd && found[j] < truth[i] - tol) j++;
        if (j < nd && labs(found[j] - (long)truth[i]) <= tol) { off += (double)(found[j] - truth[i]); tp++; j++; }
    }
    double se = nt ? 100.0 * (double)tp / nt : 0, ppv = nd ? 100.0 * (double)tp / (double)nd : 0;
    printf("%.0f s of %d-lead ECG at %.0f Hz in %d-sample chunks: filter %d sections (group delay %.1f samples)\n",
           seconds, LEADS, FS, chunk, bp.nsec, pf_sos_group_delay(filt));
    printf("beats %d, detected %zu, matched %zu: Se %.2f %%, +P %.2f %%, mean offset %.1f ms\n", nt, nd, tp, se, ppv,
           tp ? 1000.0 * off / (double)tp / FS : 0.0);
    pf_rpeak_destroy(det);
    pf_sos_destroy(filt);
    pf_ecgsyn_destroy(src);
    free(found); free(lm); free(x); free(truth);
    return se >= 99 && ppv >= 99 ? 0 : 1;
}
