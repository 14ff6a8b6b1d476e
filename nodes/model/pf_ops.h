/* pf_ops: the differentiable operations of the model core, forward and
 * backward side by side (llm.c style: plain float pointers plus sizes).
 *
 * Conventions (read once, they hold for every op):
 *  - float32, contiguous, row-major; shapes are given in comments, e.g. x: [N, C].
 *  - forward writes (=) its outputs; backward ACCUMULATES (+=) into every
 *    gradient it produces (dx, dw, db ...) so residual branches and shared
 *    weights need no extra adds; callers zero gradients once per step.
 *    Any gradient pointer may be NULL to skip that gradient.
 *  - scratch memory, when an op needs it, is passed in by the caller (from an
 *    arena); ops never allocate.
 *  - functions named *_naive are straightforward loop references kept beside
 *    the optimised kernel; tests compare the two.
 */
#ifndef PF_OPS_H
#define PF_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "pf_rng.h"

/* ---- GEMM: C = alpha op(A) op(B) + beta C, row-major; ta/tb = 1 transposes.
 * Runs OpenBLAS single-threaded (set once, process-wide) and splits large
 * products over pf_parallel's workers, so one thread pool serves the model. */
void pf_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc);

/* ---- linear: y = x W^T + b (PyTorch layout, W: [OUT, IN]) ------------------- */
// x: [N, IN], w: [OUT, IN], b: [OUT] or NULL -> y: [N, OUT]
void pf_linear_forward(float *y, const float *x, const float *w, const float *b,
                       int N, int IN, int OUT);
void pf_linear_backward(float *dx, float *dw, float *db, const float *dy,
                        const float *x, const float *w, int N, int IN, int OUT);
void pf_linear_forward_naive(float *y, const float *x, const float *w, const float *b,
                             int N, int IN, int OUT);
void pf_linear_backward_naive(float *dx, float *dw, float *db, const float *dy,
                              const float *x, const float *w, int N, int IN, int OUT);

/* ---- batched matmul: c[b] = a[b] @ bm[b] ------------------------------------- */
// a: [BATCH, M, K], bm: [BATCH, K, N] -> c: [BATCH, M, N]
void pf_bmm_forward(float *c, const float *a, const float *bm, int BATCH, int M, int K, int N);
void pf_bmm_backward(float *da, float *dbm, const float *dc, const float *a, const float *bm,
                     int BATCH, int M, int K, int N);
void pf_bmm_forward_naive(float *c, const float *a, const float *bm, int BATCH, int M, int K, int N);
void pf_bmm_backward_naive(float *da, float *dbm, const float *dc, const float *a,
                           const float *bm, int BATCH, int M, int K, int N);

/* ---- LayerNorm over the last dim (biased variance, eps inside the sqrt) ------ */
// x: [N, C], w, b: [C] -> y: [N, C]; saves mean, rstd: [N] for backward
void pf_layernorm_forward(float *y, float *mean, float *rstd, const float *x,
                          const float *w, const float *b, int N, int C, float eps);
void pf_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                           const float *mean, const float *rstd, const float *w, int N, int C);

/* ---- GELU, exact erf form: y = x * 0.5 * (1 + erf(x / sqrt 2)) --------------- */
// x, y: [n]
void pf_gelu_forward(float *y, const float *x, size_t n);
void pf_gelu_backward(float *dx, const float *dy, const float *x, size_t n);
void pf_gelu_forward_naive(float *y, const float *x, size_t n);      /* libm erff */
void pf_gelu_backward_naive(float *dx, const float *dy, const float *x, size_t n);

/* ---- sigmoid ------------------------------------------------------------------ */
void pf_sigmoid_forward(float *y, const float *x, size_t n);
void pf_sigmoid_backward(float *dx, const float *dy, const float *y, size_t n);

/* ---- softmax over the last dim (also the family / gate softmax) -------------- */
// x, y: [N, C]
void pf_softmax_forward(float *y, const float *x, int N, int C);
void pf_softmax_backward(float *dx, const float *dy, const float *y, int N, int C);

/* ---- elementwise add (residual) and scale ------------------------------------ */
void pf_add_forward(float *y, const float *a, const float *b, size_t n);
void pf_add_backward(float *da, float *db, const float *dy, size_t n);

/* ---- dropout (inverted: kept values scaled by 1/(1-p)) ------------------------ */
// mask: [n] bytes (1 kept, 0 dropped), drawn from r; p = 0 copies x.
void pf_dropout_forward(float *y, uint8_t *mask, const float *x, size_t n, float p, pf_rng *r);
void pf_dropout_backward(float *dx, const float *dy, const uint8_t *mask, size_t n, float p);

/* ---- rotary position embedding, interleaved pairs (2i, 2i+1) ----------------- */
// x: [BH, T, hd] (head-major) rotated in place on its first rope_dim dims (even);
// position of row t is t. theta_i = base^(-2i/rope_dim):
//   x'[2i] = x[2i] cos(t theta_i) - x[2i+1] sin(t theta_i)
//   x'[2i+1] = x[2i] sin(t theta_i) + x[2i+1] cos(t theta_i)
// The backward of a rotation is the rotation by -angle: inverse = 1.
// table: [T, rope_dim] (cos, sin) pairs, filled by pf_rope_table (in double).
void pf_rope_table(float *table, int T, int rope_dim, float base);
void pf_rope_apply(float *x, const float *table, int BH, int T, int hd, int rope_dim,
                   int inverse);

/* ---- scaled dot-product attention on head-major tensors ---------------------- */
// q: [BH, Tq, hd], k, v: [BH, Tk, hd] -> o: [BH, Tq, hd]; att: [BH, Tq, Tk] saved
// softmax(q k^T * scale) probabilities.
void pf_sdpa_forward(float *o, float *att, const float *q, const float *k, const float *v,
                     int BH, int Tq, int Tk, int hd, float scale);
// scratch: pf_sdpa_scratch(Tq, Tk) floats (one [Tq, Tk] block per worker thread).
size_t pf_sdpa_scratch(int Tq, int Tk);
void pf_sdpa_backward(float *dq, float *dk, float *dv, float *scratch, const float *do_,
                      const float *q, const float *k, const float *v, const float *att,
                      int BH, int Tq, int Tk, int hd, float scale);
/* Memory-lean pair for long sequences: the probabilities are not stored (a
 * [BH, Tq, Tk] tensor per layer: 113 MB per sample and layer at 1536 tokens x 12
 * heads) but recomputed in the backward, bit-identically. scratch: forward
 * pf_sdpa_scratch(Tq, Tk) floats, backward 2 * pf_sdpa_scratch(Tq, Tk). */
void pf_sdpa_forward_lean(float *o, float *scratch, const float *q, const float *k, const float *v,
                          int BH, int Tq, int Tk, int hd, float scale);
void pf_sdpa_backward_lean(float *dq, float *dk, float *dv, float *scratch, const float *do_,
                           const float *q, const float *k, const float *v, int BH, int Tq, int Tk,
                           int hd, float scale);
/* Both backward forms in one call: att = NULL recomputes (scratch 2 * pf_sdpa_scratch);
 * accumulate = 0 overwrites dq, dk, dv instead of adding (no zeroing pass needed). */
void pf_sdpa_backward_into(float *dq, float *dk, float *dv, float *scratch, const float *do_,
                           const float *q, const float *k, const float *v, const float *att, int BH,
                           int Tq, int Tk, int hd, float scale, int accumulate);
void pf_sdpa_forward_naive(float *o, float *att, const float *q, const float *k, const float *v,
                           int BH, int Tq, int Tk, int hd, float scale);
void pf_sdpa_backward_naive(float *dq, float *dk, float *dv, const float *do_, const float *q,
                            const float *k, const float *v, const float *att, int BH, int Tq,
                            int Tk, int hd, float scale);

/* ---- head split / merge ----------------------------------------------------- */
// x: [B, T, ld] with the H*hd head block starting at column col -> y: [B, H, T, hd]
void pf_heads_split(float *y, const float *x, int B, int T, int H, int hd, int ld, int col);
// backward of split: dx[..., col + h*hd + d] += dy[b, h, t, d]
void pf_heads_split_backward(float *dx, const float *dy, int B, int T, int H, int hd, int ld,
                             int col);
// y: [B, H, T, hd] -> x: [B, T, H*hd] (merge is split's transpose)
void pf_heads_merge(float *x, const float *y, int B, int T, int H, int hd);
void pf_heads_merge_backward(float *dy, const float *dx, int B, int T, int H, int hd);

/* ---- grouped 1-D convolution (cross-correlation, zero padding) ---------------- */
// x: [B, CIN, T], w: [COUT, CIN/G, K], b: [COUT] or NULL -> y: [B, COUT, TOUT],
// TOUT = T + 2*pad - K + 1. Depthwise: G = CIN = COUT.
int pf_conv1d_out_len(int T, int K, int pad);
void pf_conv1d_forward(float *y, const float *x, const float *w, const float *b, int B,
                       int CIN, int COUT, int T, int K, int pad, int G);
void pf_conv1d_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                        const float *w, int B, int CIN, int COUT, int T, int K, int pad, int G);

/* ---- decimation and nearest upsampling along the last axis ------------------- */
// x: [R, T] -> y: [R, ceil(T/f)], y[n] = x[f*n] (keeps index 0, f, 2f, ...)
int pf_decimate_out_len(int T, int f);
void pf_decimate_forward(float *y, const float *x, int R, int T, int f);
void pf_decimate_backward(float *dx, const float *dy, int R, int T, int f);
// x: [R, TIN] -> y: [R, TOUT], y[t] = x[min(floor(t*TIN/TOUT), TIN-1)] (PyTorch 'nearest')
void pf_upsample_nearest_forward(float *y, const float *x, int R, int TIN, int TOUT);
void pf_upsample_nearest_backward(float *dx, const float *dy, int R, int TIN, int TOUT);

/* ---- pooling over tokens ---------------------------------------------------- */
// x: [B, T, D] -> y: [B, D]
void pf_meanpool_forward(float *y, const float *x, int B, int T, int D);
void pf_meanpool_backward(float *dx, const float *dy, int B, int T, int D);
// argmax: [B, D] indices saved for backward (first maximum wins, as PyTorch)
void pf_maxpool_forward(float *y, int *argmax, const float *x, int B, int T, int D);
void pf_maxpool_backward(float *dx, const float *dy, const int *argmax, int B, int T, int D);

/* ---- fixed 2-D sin-cos position embedding ----------------------------------- */
// pe: [F*TP, D], token l = f*TP + t; dims [0, D/2) encode f, [D/2, D) encode t, each
// half = [sin(p*w_0..w_{D/4-1}), cos(p*w_0..)], w_i = 10000^(-i/(D/4)). D % 4 == 0.
int pf_posembed_2d_sincos(float *pe, int F, int TP, int D);

/* ---- losses: each returns the loss and writes dpred = d loss / d pred (=) ---- */
// pred, target: [N, P], mask: [N] (nonzero = masked token, counted).
// loss = sum_{n masked} mean_p (pred - target)^2 / n_masked; 0 if none masked.
float pf_mse_masked_forward(const float *pred, const float *target, const float *mask,
                            int N, int P);
void pf_mse_masked_backward(float *dpred, const float *pred, const float *target,
                            const float *mask, int N, int P, float dloss);
// logits: [N, K], labels: [N] in [0, K); PyTorch CrossEntropyLoss(label_smoothing=eps),
// mean over N. probs: [N, K] saved softmax.
float pf_cross_entropy_forward(float *probs, const float *logits, const int *labels, int N,
                               int K, float smoothing);
void pf_cross_entropy_backward(float *dlogits, const float *probs, const int *labels, int N,
                               int K, float smoothing, float dloss);
// logits, targets: [N, K] (targets in [0,1]), pos_weight: [K] or NULL;
// PyTorch BCEWithLogitsLoss(pos_weight), mean over N*K.
float pf_bce_logits_forward(const float *logits, const float *targets, const float *pos_weight,
                            int N, int K);
void pf_bce_logits_backward(float *dlogits, const float *logits, const float *targets,
                            const float *pos_weight, int N, int K, float dloss);

/* ---- fused kernels (the encoder's hot path; each equals a composition of the
 * ops above, which test_ops_ref checks) --------------------------------------- */
// mask: [n] bytes drawn exactly as pf_dropout_forward draws them (same r -> same mask)
void pf_dropout_mask(uint8_t *mask, size_t n, float p, pf_rng *r);
// h: [N, C] pre-activation without bias; g = GELU(h + b) * (mask ? mask * scale : 1),
// and h is overwritten with GELU'(h + b), all the backward needs (no erf there).
void pf_bias_gelu_dropout_forward(float *h, float *g, const float *b, const uint8_t *mask,
                                  float scale, int N, int C);
// dh (=) dg * (mask ? mask * scale : 1) * dgelu, dgelu = the h left by the forward
void pf_gelu_dropout_backward(float *dh, const float *dg, const float *dgelu, const uint8_t *mask,
                              float scale, size_t n);
// y = res + (t + b) * m1 * m2 * scale  (b, m1, m2 may be NULL; a NULL mask counts as 1)
void pf_bias_dropout_residual_forward(float *y, const float *res, const float *t, const float *b,
                                      const uint8_t *m1, const uint8_t *m2, float scale, int N,
                                      int C);
// y (=) x * m1 * m2 * scale (the backward of the dropouts above)
void pf_mask_scale(float *y, const float *x, const uint8_t *m1, const uint8_t *m2, float scale,
                   size_t n);

/* ---- feature-guided contrastive loss (model.md section 4B) -------------------- */
enum { PF_CONTRAST_PHYSIOCLR = 0, PF_CONTRAST_SUPCON = 1 };
typedef struct pf_contrast_cfg {
    float tau;      /* 0.1 */
    float delta;    /* 0.25: cos(f_i, f_k) >= delta makes k a positive of i */
    int mode;       /* PF_CONTRAST_PHYSIOCLR (default) or PF_CONTRAST_SUPCON */
} pf_contrast_cfg;
typedef struct pf_contrast_stats {
    int used;       /* anchors that entered the mean */
    int skipped;    /* anchors without a negative (physioclr mode), counted not used */
} pf_contrast_stats;
// h: [B, D] anchor embeddings, hs: [B, D] beat-shuffled views, ha: [B, D] adjacent
// windows or NULL, f: [B, F] standardised features (no gradient).
// scratch: pf_contrastive_scratch(B, D) floats.
size_t pf_contrastive_scratch(int B, int D);
float pf_contrastive_forward(const pf_contrast_cfg *cfg, const float *h, const float *hs,
                             const float *ha, const float *f, int B, int D, int F,
                             float *scratch, pf_contrast_stats *stats);
// Recomputes what it needs from the inputs; accumulates into dh, dhs, dha.
void pf_contrastive_backward(const pf_contrast_cfg *cfg, float *dh, float *dhs, float *dha,
                             const float *h, const float *hs, const float *ha, const float *f,
                             int B, int D, int F, float *scratch, float dloss);
// Ranking accuracy: of the (anchor, positive) pairs of anchors that have a
// negative, how many rank the positive above every negative of that anchor
// (*ranked); returns the number of such pairs.
int pf_contrastive_rank(const pf_contrast_cfg *cfg, const float *h, const float *hs, const float *ha,
                        const float *f, int B, int D, int F, float *scratch, int *ranked);

#endif
