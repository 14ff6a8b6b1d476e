/* Embedding throughput of the C encoder (pf_embed: wavelet front-end + encoder,
 * eval mode, nothing masked, mean over tokens), the C side of
 * bench/downstream/run_embed.py. It writes its weights as a trainer checkpoint
 * and the windows and their embeddings to an HDF5 file, so the PyTorch side
 * (bench_embed_torch.py) runs the same model on the same windows and checks it
 * gets the same vectors.
 *   bench_embed --out DIR [--windows 64] [--batch 16] [--leads 2] [--samples 1600]
 *               [--preset tiny] [--gate-heads 2] [--rounds 3]
 * Prints key=value: windows_per_s (median over rounds), ms_per_batch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../bench_common.h"
#include "pf_ckpt.h"
#include "pf_embed.h"
#include "pf_error.h"
#include "pf_stage.h"
#include "pf_tstage.h"

int main(int argc, char **argv)
{
    const char *out = NULL, *preset = "tiny";
    int N = 64, B = 16, C = 2, T = 1600, gh = 2, rounds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--out")) out = argv[i + 1];
        else if (!strcmp(argv[i], "--windows")) N = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) B = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--leads")) C = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--samples")) T = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--preset")) preset = argv[i + 1];
        else if (!strcmp(argv[i], "--gate-heads")) gh = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
    }
    if (!out || N < 1 || B < 1 || rounds < 1) { fprintf(stderr, "usage: bench_embed --out DIR [options]\n"); return 2; }
    mkdir(out, 0755);
    pf_wavelet_cfg wc = pf_wavelet_cfg_defaults(C);
    wc.gate_heads = gh;
    pf_tfm_cfg tc;
    pf_mask_cfg mc = pf_mask_cfg_defaults();
    if (pf_tfm_preset(preset, &tc) || pf_wavelet_validate(&wc)) { fprintf(stderr, "%s\n", pf_errmsg()); return 1; }
    /* the weights: the stages' initialisation, saved as a trainer checkpoint */
    pf_stage ws, ts;
    pf_wavelet *w = pf_stage_build_wavelet(&ws, &wc, 1, T, 7, NULL);
    pf_tstage *t = pf_stage_build_tfm(&ts, &tc, &mc, 1, (wc.levels + 1) * C * (T / tc.patch), 7, NULL);
    if (!w || !t || pf_stage_save(&ws, out, 0, 0) || pf_stage_save(&ts, out, 0, 0) || pf_ckpt_manifest_write(out, 0, 0, 0)) {
        fprintf(stderr, "%s\n", pf_errmsg());
        return 1;
    }
    pf_wavelet_destroy(w);
    pf_tstage_destroy(t);
    pf_stage_free(&ws);
    pf_stage_free(&ts);
    pf_embedder *e = pf_embedder_create(&wc, &tc, B, T, 7, out);
    if (!e) { fprintf(stderr, "%s\n", pf_errmsg()); return 1; }
    int D = pf_embedder_dim(e);
    float *x = malloc(sizeof(float) * (size_t)N * C * T), *z = malloc(sizeof(float) * (size_t)N * D);
    pf_rng r;
    pf_rng_seed(&r, 2026);
    for (size_t i = 0; i < (size_t)N * C * T; i++) x[i] = (float)pf_rng_normal(&r);
    double *per = malloc(sizeof(double) * (size_t)rounds);
    pf_embedder_run(e, x, B < N ? B : N, z); /* warm-up */
    for (int k = 0; k < rounds; k++) {
        double t0 = bench_now();
        for (int lo = 0; lo < N; lo += B) {
            int b = N - lo < B ? N - lo : B;
            if (pf_embedder_run(e, x + (size_t)lo * C * T, b, z + (size_t)lo * D)) { fprintf(stderr, "%s\n", pf_errmsg()); return 1; }
        }
        per[k] = bench_now() - t0;
    }
    double med = bench_median(per, rounds);
    char path[1200];
    snprintf(path, sizeof path, "%s/windows.h5", out);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0 || pf_h5_write_f32(f, "x", x, 3, (int[]){N, C, T}) || pf_h5_write_f32(f, "z", z, 2, (int[]){N, D})) {
        fprintf(stderr, "cannot write %s: %s\n", path, pf_errmsg());
        return 1;
    }
    H5Fclose(f);
    printf("windows=%d batch=%d leads=%d samples=%d tokens=%d dim=%d windows_per_s=%.2f ms_per_batch=%.2f\n", N, B, C, T,
           pf_embedder_tokens(e), D, N / med, 1e3 * med / ((N + B - 1) / B));
    pf_embedder_destroy(e);
    free(x);
    free(z);
    free(per);
    return 0;
}
