/* pf_wavelet: the learnable multi-scale wavelet front-end of model.md section 2.1-2.3
 * (PhysioWave's SoftGateWaveletDecomp, reference/physiowave.md section 2), forward and
 * backward, built from pf_ops.
 *
 * x [B, C, T] -> Spec [B, (L+1)C, T] = [d1, d2, d3, a3] x leads (band-major rows).
 * a_0 = x, d_0 = 0; for level i = 1..L:
 *   u = a_{i-1}; p = mean_t u [B, C]
 *   alpha = softmax(W2 ReLU(W1 p + b1) + b2) [B, nf]          selector, shared by levels
 *   a2 = sum_f alpha_f dec2(conv(u, lo_f)), d2 likewise (hi_f) [B, C, T']
 *        conv = cross-correlation, zero padding floor(K_f/2); dec2 keeps even indices
 *   g = sigmoid(heads-attention of (Wq p, Wk p, Wv p)) [B, C]   gate, shared by levels
 *   at = g u + (1-g) up(a2), dt = g d_{i-1} + (1-g) up(d2)    up = nearest to T
 *   s_i = [at; dt] [B, 2C, T]
 *   co = CAFFN_i(s_i) (+ lambda_i MHA(CAFFN_i(s_i), [s_1..s_{i-1}]) when i > 1)
 *   r_i = s_i + rho_i co; a_i = r_i[:C], d_i = r_i[C:]
 * CAFFN (E = 2C, H = ffn_ratio E): fc1 1x1 -> depthwise k x k conv on a height-1 map
 * (only its middle row acts) -> GELU -> Drop -> h -= GELU(decomp 1x1 H->1) ->
 * h *= 1 + sigma -> fc2 1x1 -> Drop.
 *
 * Parameter names are the PyTorch module paths of the reference
 * (selector.wavelet_filters.{f}.low_filter.weight, selector.selector.{2,4}.*,
 * gate.{q,k,v}.*, sub_ffn.{i}.base.{fc1,dw,fc2,decomp}.*, sub_ffn.{i}.base.sigma.scale,
 * sub_ffn.{i}.attn.{in_proj_weight,in_proj_bias,out_proj.*}, sub_ffn.{i}.scale,
 * res_scales.{i}); sub_ffn.{i}.scale is [1] here (a 0-d tensor in PyTorch).
 *
 * Activations live in one arena sized at creation for (max_B, C, T): a step does
 * not allocate. The cross-scale attention never stores its probabilities (the
 * backward recomputes them): at T = 2048 they would be 134 MB per sample at level 3.
 */
#ifndef PF_WAVELET_H
#define PF_WAVELET_H

#include <stddef.h>
#include <stdint.h>

#include "pf_tensor.h"

#define PF_WAVELET_MAX_FAMILIES 8
#define PF_WAVELET_MAX_LEVELS 8
#define PF_WAVELET_MAX_KERNEL 64

enum { PF_WAVELET_INIT_PHYSIOWAVE = 0, PF_WAVELET_INIT_EXACT = 1 };

typedef struct pf_wavelet_cfg {
    int n_leads;              /* C */
    int levels;               /* L, 3 */
    int n_families;           /* 4 */
    char families[PF_WAVELET_MAX_FAMILIES][16];   /* db4, db6, sym4, coif2 */
    int init;                 /* PF_WAVELET_INIT_PHYSIOWAVE (stretch to kernel taps) | _EXACT */
    int kernel;               /* K = 24 for init physiowave (exact: each family's own length) */
    int selector_hidden;      /* 128 */
    int gate_heads;           /* 4: must divide C */
    int ffn_ratio;            /* 4: H = ffn_ratio * 2C */
    int ffn_kernel;           /* 3 (odd): the CAFFN depthwise kernel */
    int xattn_heads;          /* 4: must divide 2C */
    float dropout;            /* 0.1: the two CAFFN dropouts */
    float sigma_init;         /* 1e-5 (ElementScale) */
    float lambda_init;        /* 0.1: cross-scale attention scale */
    float rho_init;           /* 0: level residual scale, so Spec starts as the gated blend */
} pf_wavelet_cfg;

/* The published ECG front-end for n_leads leads. */
pf_wavelet_cfg pf_wavelet_cfg_defaults(int n_leads);
int pf_wavelet_validate(const pf_wavelet_cfg *cfg);
/* "physiowave" | "exact" -> PF_WAVELET_INIT_* (negative PF_E* on anything else). */
int pf_wavelet_init_parse(const char *name);
/* Filter length of family f under this config (K, or the family's own for exact). */
int pf_wavelet_filter_len(const pf_wavelet_cfg *cfg, int f);
/* Exact parameter count (29,801 for the 12-lead defaults). */
size_t pf_wavelet_param_count(const pf_wavelet_cfg *cfg);
/* Initial taps of a family as the config initialises them: lo, hi [len]
 * (physiowave: stretched and rescaled as the reference; exact: the PyWavelets
 * decomposition filter reversed, so the cross-correlation is the DWT's convolution). */
int pf_wavelet_initial_taps(const pf_wavelet_cfg *cfg, const char *family, float *lo, float *hi,
                            int *len);

typedef struct pf_wavelet pf_wavelet;

/* Registers the front-end's tensors in p under prefix ("" or e.g. "wavelet_decomp.")
 * and reserves activations for up to max_B windows of T samples. */
pf_wavelet *pf_wavelet_create(const pf_wavelet_cfg *cfg, pf_pstore *p, const char *prefix,
                              int max_B, int T);
/* After pf_pstore_finalize: filters per cfg.init, Linear N(0, 0.02^2) / bias 0,
 * CAFFN convs PyTorch's default U(+-1/sqrt(fan_in)), in_proj Xavier-uniform, sigma,
 * lambda, rho from the config; randomness from pf_rng(key). */
void pf_wavelet_init(pf_wavelet *w, pf_pstore *p, uint64_t key);
// x: [B, C, T] -> output (pf_wavelet_output): Spec [B, (L+1)C, T]. x is copied.
// train = 1 applies the CAFFN dropouts with masks drawn from pf_rng_key(key, level, site, .).
int pf_wavelet_forward(pf_wavelet *w, pf_pstore *p, const float *x, int B, int train, uint64_t key);
const float *pf_wavelet_output(const pf_wavelet *w);
// dspec: [B, (L+1)C, T] -> accumulates parameter gradients; dx (+=) [B, C, T] or NULL.
int pf_wavelet_backward(pf_wavelet *w, pf_pstore *p, const float *dspec, float *dx);
/* Last forward's decimated filter output of family f at level (1-based), before the
 * selector mixes them: hi = 0 low-pass, 1 high-pass; [B, C, T'] with T' in *tdec. */
const float *pf_wavelet_filter_output(const pf_wavelet *w, int level, int f, int hi, int *tdec);
/* Last forward's family weights alpha [B, nf] at level (1-based). */
const float *pf_wavelet_alpha(const pf_wavelet *w, int level);
size_t pf_wavelet_arena_bytes(const pf_wavelet *w);
void pf_wavelet_destroy(pf_wavelet *w);

#endif
