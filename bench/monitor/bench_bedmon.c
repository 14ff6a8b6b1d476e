/* bench_bedmon: one core's capacity for live monitoring, in-process.
 * 12-lead 500 Hz synthetic ECG (ECGSYN) fed in 40 ms chunks, as beds send it,
 * through (a) the whole per-bed monitor (pf_bedmon: filter, detector, morphology,
 * quality, VF, alarms) and (b) its peer, the bare DSP kernels it is built on
 * (pf_sos 1-40 Hz on 3 leads + pf_rpeak on 3 leads). Prints samples/s, real-time
 * beds per core (12 x 500 samples/s each) for both, their ratio, and the monitor's
 * state per bed. Medians of 5 runs. */
#include "../bench_common.h"
#include "ecgsyn.h"
#include "pf_bedmon.h"
#include "pf_iirdes.h"
#include "pf_rpeak.h"
#include "pf_sos.h"

#define FS 500
#define LEADS 12
#define SECS 60
#define CHUNK 20

int main(void)
{
    pf_ecgsyn_config c;
    pf_ecgsyn_defaults(&c);
    c.fs = FS; c.n_leads = LEADS; c.duration = SECS; c.seed = 3;
    pf_ecgsyn *s = pf_ecgsyn_create(&c);
    int n = SECS * FS;
    float *x = malloc(sizeof(float) * (size_t)n * LEADS), *ch = malloc(sizeof(float) * CHUNK * LEADS);
    float *il = malloc(sizeof(float) * CHUNK * 3), *fo = malloc(sizeof(float) * CHUNK * 3);
    pf_ecgsyn_render(s, 0, n, x);
    char names[128] = "";
    for (int l = 0; l < LEADS; l++) { if (l) strcat(names, ","); strcat(names, pf_ecgsyn_lead_name(s, l)); }
    double full[5], peer[5];
    size_t bytes = 0;
    for (int rep = 0; rep < 5; rep++) {
        pf_bedmon_cfg bc;
        pf_bedmon_cfg_default(&bc, FS, LEADS);
        bc.lead_names = names;
        pf_bedmon *m = pf_bedmon_create(&bc);
        pf_bedmon_event ev[64];
        int64_t pk[64];
        double t0 = bench_now();
        for (int a = 0; a + CHUNK <= n; a += CHUNK) {
            for (int l = 0; l < LEADS; l++) memcpy(ch + l * CHUNK, x + (size_t)l * n + a, sizeof(float) * CHUNK);
            int ne, np;
            pf_bedmon_process(m, ch, CHUNK, a, 0, ev, 64, &ne, pk, 64, &np);
        }
        full[rep] = (double)n * LEADS / (bench_now() - t0);
        bytes = pf_bedmon_bytes(m);
        pf_bedmon_destroy(m);
        /* peer: the kernels alone on the same three detection leads (I, II, V1 positions 0, 1, 6) */
        pf_iirdes d;
        pf_iirdes_butter(&d, PF_IIRDES_BANDPASS, 2, 1.0, 40.0, FS);
        pf_sos *f = pf_sos_create(&d, 3, PF_SOS_ENGINE_F64);
        pf_rpeak_cfg rc;
        pf_rpeak_cfg_default(&rc, FS, 3);
        pf_rpeak *r = pf_rpeak_create(&rc);
        long pks[64];
        t0 = bench_now();
        const int sel[3] = {1, 6, 0};
        for (int a = 0; a + CHUNK <= n; a += CHUNK) {
            for (int t = 0; t < CHUNK; t++)
                for (int k = 0; k < 3; k++) il[t * 3 + k] = x[(size_t)sel[k] * n + a + t];
            pf_sos_process(f, il, fo, CHUNK);
            size_t np;
            pf_rpeak_process(r, il, CHUNK, pks, 64, &np);
        }
        peer[rep] = (double)n * LEADS / (bench_now() - t0);
        pf_sos_destroy(f);
        pf_rpeak_destroy(r);
    }
    /* many beds round robin, as the monitor node sees them: every chunk touches another
     * bed's state (cache- and TLB-cold), 10 s of signal each after a 14 s warm-up that
     * fills the detectors' histories (first-touch page faults excluded) */
    enum { NB = 1000 };
    pf_bedmon **mb = malloc(sizeof *mb * NB);
    pf_bedmon_cfg bc;
    pf_bedmon_cfg_default(&bc, FS, LEADS);
    bc.lead_names = names;
    pf_bedmon_event ev[64];
    int64_t pk2[64];
    double many = 0, join = 0;
    for (int phase = 0; phase < 2; phase++) {
        int a0 = phase ? 14 * FS : 0, a1 = phase ? 24 * FS : 14 * FS;
        double t0 = bench_now();
        if (!phase) /* the beds join at once: creation and the first 14 s, page first touches included */
            for (int b = 0; b < NB; b++) mb[b] = pf_bedmon_create(&bc);
        for (int a = a0; a + CHUNK <= a1; a += CHUNK)
            for (int b = 0; b < NB; b++) {
                int off = (b * 977) % (SECS * FS - 30 * FS); /* beds at different phases of the record */
                for (int l = 0; l < LEADS; l++) memcpy(ch + l * CHUNK, x + (size_t)l * n + off + a, sizeof(float) * CHUNK);
                int ne, np;
                pf_bedmon_process(mb[b], ch, CHUNK, a, 0, ev, 64, &ne, pk2, 64, &np);
            }
        if (phase) many = (double)(a1 - a0) * LEADS * NB / (bench_now() - t0);
        else join = (double)(a1 - a0) * LEADS * NB / (bench_now() - t0);
    }
    for (int b = 0; b < NB; b++) pf_bedmon_destroy(mb[b]);
    free(mb);
    double mf = bench_median(full, 5), mp = bench_median(peer, 5);
    printf("12-lead 500 Hz, %d-sample chunks, one core, median of 5 runs of %d s of ECG:\n", CHUNK, SECS);
    printf("  pf_bedmon (whole monitor)      %8.2f M samples/s = %7.0f real-time beds\n", mf / 1e6, mf / (LEADS * FS));
    printf("  peer: pf_sos + pf_rpeak alone  %8.2f M samples/s = %7.0f real-time beds\n", mp / 1e6, mp / (LEADS * FS));
    printf("  ratio monitor / kernels: %.2f; monitor state per bed ~%.0f KB\n", mf / mp, (double)bytes / 1024);
    printf("  pf_bedmon, %d beds round robin  %8.2f M samples/s = %7.0f real-time beds (one run)\n", NB, many / 1e6, many / (LEADS * FS));
    printf("    the same beds' first 14 s, from their creation  %8.2f M samples/s\n", join / 1e6);
    free(x); free(ch); free(il); free(fo);
    pf_ecgsyn_destroy(s);
    return 0;
}
