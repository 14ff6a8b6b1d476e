/* pf_stage: what the model stages (nodes wavelet, transformer, trainer; the
 * trainer alone when fused) share: each stage's parameters and optimiser,
 * the optimiser step from the whole model's gradient norm, checkpoints per
 * stage, the named-tensor messages of the stage protocol (docs/protocol.md,
 * "Model stages"), and the parameter tables, declared once here and used by
 * every node kind that builds the stage.
 *
 * Split or fused, a step is the same arithmetic: per micro-batch forward and
 * backward in order, gradients summed per stage; then the squared gradient
 * norms of the stages are added as (head + transformer) + wavelet, and every
 * stage clips by that one norm and updates itself. So a split run equals a
 * fused one bit for bit (tests/e2e/test_pretrain.py).
 */
#ifndef PF_STAGE_H
#define PF_STAGE_H

#include <stdint.h>

#include "pf_mask.h"
#include "pf_node.h"
#include "pf_optim.h"
#include "pf_encoder.h"
#include "pf_tensor.h"
#include "pf_wavelet.h"

/* ---- parameter tables (one copy of each entry; the kinds concatenate them) ---- */
#define PF_STAGE_BATCH_PARAMS                                                                                         \
    {"batch", PF_P_INT, "8", 1, 4096, NULL, "windows per micro-batch"},                                             \
    {"accum", PF_P_INT, "1", 1, 4096, NULL, "micro-batches per optimiser step (gradient accumulation)"},            \
    {"leads", PF_P_INT, "12", 1, 256, NULL, "leads of every window (C)"},                                           \
    {"window", PF_P_INT, "2048", 64, 1 << 20, NULL, "samples of every window (T, a multiple of the patch)"}
#define PF_STAGE_WAVELET_PARAMS                                                                                       \
    {"levels", PF_P_INT, "3", 1, 8, NULL, "wavelet decomposition levels (L)"},                                      \
    {"families", PF_P_STRLIST, "db4, db6, sym4, coif2", 1, 8, NULL, "wavelet families mixed by the selector"}, \
    {"init", PF_P_STRING, "physiowave", 0, 0, "physiowave|exact", "filter taps: stretched to `kernel` (published) or each family's own"}, \
    {"kernel", PF_P_INT, "24", 2, 64, NULL, "filter taps with init = physiowave"},                                  \
    {"wavelet_dropout", PF_P_DOUBLE, "0.1", 0, 0.9, NULL, "dropout inside the channel-aggregation FFNs"},      \
    {"gate_heads", PF_P_INT, "4", 1, 64, NULL, "heads of the per-lead gate (must divide leads; 4 as published)"},  \
    {"xattn_heads", PF_P_INT, "4", 1, 64, NULL, "heads of the cross-scale attention (must divide 2 x leads)"}
#define PF_STAGE_TRANSFORMER_PARAMS                                                                                   \
    {"preset", PF_P_STRING, "tiny", 0, 0, "tiny|small|physiowave-ecg", "encoder size: D/layers/heads 128/4/4, 256/6/8, 384/8/12"}, \
    {"dropout", PF_P_DOUBLE, "0.1", 0, 0.9, NULL, "encoder and head dropout"},                                      \
    {"mask_ratio", PF_P_DOUBLE, "0.7", 0.01, 0.99, NULL, "share of tokens masked"},                                 \
    {"importance_ratio", PF_P_DOUBLE, "0.7", 0, 1, NULL, "r: weight of the frequency importance against noise"},   \
    {"importance", PF_P_STRING, "token_sequence", 0, 0, "token_sequence|patch_energy", "what the importance is computed from"}
#define PF_STAGE_TRAINER_PARAMS                                                                                       \
    {"steps", PF_P_INT, "100", 1, 1000000000, NULL, "optimiser steps; the run ends after the last with a checkpoint"}, \
    {"lr", PF_P_DOUBLE, "-1", -1, 10, NULL, "peak learning rate (-1 = the objective's: PhysioWave 2e-5, PhysioCLR 5e-5)"}, \
    {"min_lr", PF_P_DOUBLE, "0", 0, 10, NULL, "learning rate at the end of the cosine"},                            \
    {"warmup_steps", PF_P_INT, "0", 0, 1000000000, NULL, "linear warm-up steps"},                                   \
    {"total_steps", PF_P_INT, "0", 0, 1000000000, NULL, "cosine length in steps (0 = steps)"},                      \
    {"schedule", PF_P_STRING, "auto", 0, 0, "auto|cosine|constant", "after the warm-up: cosine decay or constant (auto: PhysioCLR constant, else cosine)"}, \
    {"beta1", PF_P_DOUBLE, "0.9", 0, 1, NULL, "AdamW beta1"},                                                       \
    {"beta2", PF_P_DOUBLE, "-1", -1, 1, NULL, "AdamW beta2 (-1 = the objective's: 0.95 PhysioWave, 0.98 PhysioCLR)"}, \
    {"eps", PF_P_DOUBLE, "-1", -1, 1, NULL, "AdamW epsilon (-1 = the objective's: 1e-8 PhysioWave, 1e-6 PhysioCLR)"}, \
    {"weight_decay", PF_P_DOUBLE, "-1", -1, 10, NULL, "decoupled weight decay, every tensor (-1 = the objective's: 1e-3 PhysioWave, 0.01 PhysioCLR)"}, \
    {"clip", PF_P_DOUBLE, "1.0", 0, 1e9, NULL, "clip the global gradient norm (all stages) at this; 0 = off"},      \
    {"detach_target", PF_P_BOOL, "false", 0, 0, NULL, "no gradient through the reconstruction target (PhysioWave: false)"}, \
    {"metrics", PF_P_STRING, "", 0, 0, NULL, "CSV of per-step metrics (\"\" = none)"},                             \
    {"checkpoint_dir", PF_P_STRING, "", 0, 0, NULL, "where checkpoints go (\"\" = none); `run --resume` continues from it"}, \
    {"checkpoint_every", PF_P_INT, "0", 0, 1000000000, NULL, "checkpoint every N steps (0 = only at the end)"},    \
    {"max_bad_steps", PF_P_INT, "5", 1, 1000000, NULL, "stop after this many consecutive steps with a non-finite loss or gradient"}, \
    {"contrastive", PF_P_STRING, "physioclr", 0, 0, "physioclr|supcon", "contrastive form: PhysioCLR's log-ratio (negatives only below) or supervised contrastive"}, \
    {"tau", PF_P_DOUBLE, "0.1", 1e-4, 100, NULL, "contrastive temperature"},                                      \
    {"delta", PF_P_DOUBLE, "0.25", -1, 1, NULL, "feature cosine similarity from which another anchor is a positive"}, \
    {"feature_stats", PF_P_STRING, "", 0, 0, NULL, "feature mean/std (and PCA) from `physioflow features fit`; required by the contrastive term"}, \
    {"plot", PF_P_STRING, "", 0, 0, NULL, "PNG of the curves written at the end (\"\" = the metrics file with .png; needs metrics)"}

/* The objective (model.md 4): which terms, their weights, and so what the
 * stages carry. Wavelet and trainer both declare it (the wavelet stage
 * batches views and neighbours only when the contrastive term needs them). */
#define PF_STAGE_OBJECTIVE_PARAMS                                                                                     \
    {"objective", PF_P_STRING, "physiowave", 0, 0, "physiowave|physioclr|hybrid|classify", "preset of the loss weights and optimiser (model.md 4D): masked only | contrastive + global + peak | all; classify = fine-tuning or probing on LABELS (model.md 5)"}, \
    {"w_masked", PF_P_DOUBLE, "-1", -1, 1e6, NULL, "gamma, weight of the masked reconstruction (-1 = the objective's: 1 or 0)"}, \
    {"w_contrastive", PF_P_DOUBLE, "-1", -1, 1e6, NULL, "weight of the feature-guided contrastive loss (-1 = the objective's: 0 or 1)"}, \
    {"w_global", PF_P_DOUBLE, "-1", -1, 1e6, NULL, "alpha, weight of the global signal reconstruction (-1 = the objective's: 0 or 0.2)"}, \
    {"w_peak", PF_P_DOUBLE, "-1", -1, 1e6, NULL, "beta, weight of the peak-aware reconstruction (-1 = the objective's: 0 or 0.1)"}, \
    {"peak_ms", PF_P_DOUBLE, "40", 1, 1000, NULL, "the peak-aware term covers +- this many ms around every R-peak"}

/* Fine-tuning (objective classify): declared by every stage kind, set alike on
 * all (the first stage checks the labels, each stage loads its own part of
 * init_from, a frozen stage neither differentiates nor updates). */
#define PF_STAGE_LABEL_PARAMS                                                                                         \
    {"classes", PF_P_INT, "0", 0, 64, NULL, "classify: classes K (loss ce: LABELS class id in [0, K); bce: LABELS f32 [K] targets in [0, 1])"}, \
    {"loss", PF_P_STRING, "ce", 0, 0, "ce|bce", "classify: cross-entropy over K classes, or multi-label binary cross-entropy"}, \
    {"init_from", PF_P_STRING, "", 0, 0, NULL, "classify: checkpoint directory (pretraining or fine-tuning) whose wavelet and transformer parameters start the run (\"\" = random initialisation)"}, \
    {"freeze_encoder", PF_P_BOOL, "false", 0, 0, NULL, "classify: train the head only (wavelet and transformer in eval mode, never updated)"}
/* The classification head and its training (trainer only; model.md 5, pf_chead). */
#define PF_STAGE_CLASSIFY_PARAMS                                                                                      \
    {"pooling", PF_P_STRING, "mean", 0, 0, "mean|max|first|last", "classify: pooling of the encoded tokens"},       \
    {"head", PF_P_STRING, "mlp", 0, 0, "mlp|linear", "classify: LayerNorm, Linear D->head_hidden, GELU, dropout, Linear; or one Linear (a true linear probe)"}, \
    {"pool_norm", PF_P_STRING, "none", 0, 0, "none|running", "classify: before the head, the pooled features as they are (model.md) or minus their running mean over their running standard deviation (not trained; kept in the checkpoint)"}, \
    {"head_hidden", PF_P_INT, "1024", 1, 65536, NULL, "classify: hidden width of the mlp head"},                   \
    {"head_dropout", PF_P_DOUBLE, "0.1", 0, 0.9, NULL, "classify: dropout of the mlp head"},                         \
    {"label_smoothing", PF_P_DOUBLE, "0.1", 0, 0.99, NULL, "classify, ce: label smoothing"},                        \
    {"class_weights", PF_P_NUMLIST, "", 0, 256, NULL, "classify, ce: K class weights of the loss (empty = none)"}, \
    {"pos_weights", PF_P_NUMLIST, "", 0, 256, NULL, "classify, bce: K positive weights (empty = none)"},         \
    {"class_names", PF_P_STRLIST, "", 0, 256, NULL, "classify: names of the K classes in the metrics (empty = 0..K-1)"}, \
    {"patience", PF_P_INT, "0", 0, 1000000, NULL, "classify: stop after this many validation passes without a better macro-F1 (0 = never); the best is checkpointed in checkpoint_dir/best"}, \
    {"evaluate", PF_P_BOOL, "false", 0, 0, NULL, "classify, fused: no training; score every window of port windows with the model of init_from (encoder and head), print the metrics, write val_json"}, \
    {"val_json", PF_P_STRING, "", 0, 0, NULL, "classify: the best validation pass's metrics as JSON (accuracy, macro-F1, per class, AUROC, confusion)"}

#define PF_STAGE_VAL_PARAMS                                                                                           \
    {"val_every", PF_P_INT, "0", 0, 1000000000, NULL, "with a validation branch (port val): evaluate before the first step, every N steps and after the last (0 = after the last only)"}, \
    {"val_windows", PF_P_INT, "128", 1, 1000000, NULL, "validation windows kept (the branch's first, ordered by window index then record so that micro-batches mix patients; a multiple of batch is evaluated)"}

typedef struct {
    int preset;                          /* PF_OBJ_* */
    double w_masked, w_con, w_global, w_peak;
    double peak_ms;
    int rows;                            /* rows per window through the stages: 1, or 3 with the contrastive term */
    int classify, K, multi, freeze;      /* objective classify: K classes, bce, freeze_encoder */
    char init_from[1024];
} pf_objective;
enum { PF_OBJ_PHYSIOWAVE = 0, PF_OBJ_PHYSIOCLR = 1, PF_OBJ_HYBRID = 2, PF_OBJ_CLASSIFY = 3 };
int pf_stage_objective(const pf_params *p, pf_objective *o);

int pf_stage_wavelet_cfg(const pf_params *p, pf_wavelet_cfg *c);
int pf_stage_tfm_cfg(const pf_params *p, pf_tfm_cfg *t, pf_mask_cfg *m);

/* ---- a stage's parameters and optimiser ---- */
typedef struct {
    char role[16];   /* "wavelet" | "transformer" | "head": names its checkpoint file */
    pf_pstore *p;
    pf_adamw *opt;
} pf_stage;

/* The optimiser settings and step flags the trainer sends up with the last
 * gradient of a step (every stage updates with the same values). */
enum { PF_STEP_FINAL = 1, PF_STEP_CKPT = 2, PF_STEP_VAL = 4 /* "step" only: a validation pass follows */ };
typedef struct {
    double lr, beta1, beta2, eps, weight_decay, clip;
    int64_t step;     /* 0-based index of the step being completed */
    int accum, flags;
} pf_step_opt;
#define PF_STEP_OPT_N 9

void pf_step_opt_pack(const pf_step_opt *o, double *v);   /* v [PF_STEP_OPT_N] */
int pf_step_opt_unpack(const double *v, pf_step_opt *o);

/* Random keys of (seed, step, micro-batch, site): nothing else. */
uint64_t pf_stage_key(uint64_t seed, int64_t step, int micro, uint32_t site);
#define PF_SITE_WAVELET 0x77766c74u
#define PF_SITE_MASK 0x6d61736bu
#define PF_SITE_ENCODER 0x74656e63u
#define PF_SITE_HEAD 0x68656164u
#define PF_SITE_SIGNAL 0x7369676eu
#define PF_SITE_VAL 0x76616c69u   /* the validation pass's masks: the same at every evaluation */

/* Update with the whole model's squared norm; a non-finite one skips the step
 * (gradients zeroed) and returns 0; 1 when applied. */
int pf_stage_update(pf_stage *s, const pf_step_opt *o, double total_sq);
/* The canonical sum of the stages' squared norms: (head + transformer) + wavelet. */
double pf_stage_total_sq(double head, double transformer, double wavelet);

/* ---- checkpoints: DIR/step-NNNNNNNN/ROLE.h5 and DIR/latest ---- */
int pf_stage_save(pf_stage *s, const char *dir, int64_t step, int64_t windows);
/* Load ROLE.h5 of the step the manifest in dir names (optimiser created if needed). */
int pf_stage_load(pf_stage *s, const char *dir, int64_t *windows);
/* The manifest: written last, by the last stage, after every stage saved. */
int pf_ckpt_manifest_write(const char *dir, int64_t step, int64_t windows, int epoch);
int pf_ckpt_manifest_read(const char *dir, int64_t *step, int64_t *windows, int *epoch);
void pf_stage_free(pf_stage *s);
/* Parameters only (no optimiser, no data position) of ROLE.h5 from a
 * checkpoint directory (its manifest's step): the start of a fine-tuning. A
 * tensor of another shape is refused naming both shapes. */
int pf_stage_load_params(pf_stage *s, const char *dir);
/* init_from: the encoder shape checked first (both named), then the wavelet and
 * transformer stages' parameters (either may be NULL: a split stage loads its own). */
int pf_stage_init_encoder(const char *dir, const pf_tfm_cfg *tc, pf_stage *wst, pf_stage *tst);
/* DIR/best: a checkpoint directory naming step (a link to DIR/step-N), for the best validation pass. */
int pf_ckpt_mark_best(const char *dir, int64_t step, int64_t windows, int epoch);

/* ---- building a stage: parameters registered, initialised from the seed
 * (the same keys split or fused), or loaded from resume_dir's latest checkpoint ---- */
struct pf_tstage;
struct pf_rhead;
pf_wavelet *pf_stage_build_wavelet(pf_stage *st, const pf_wavelet_cfg *c, int B, int T, uint64_t seed, const char *resume_dir);
struct pf_tstage *pf_stage_build_tfm(pf_stage *st, const pf_tfm_cfg *c, const pf_mask_cfg *mc, int B, int max_T,
                                     uint64_t seed, const char *resume_dir);
/* The masked-reconstruction head (max_N > 0 tokens) and the signal head of
 * model.md 4C (max_S > 0 lead patches), both in the "head" stage; either may be NULL. */
int pf_stage_build_head(pf_stage *st, const pf_tfm_cfg *c, int max_N, int max_S, struct pf_rhead **masked,
                        struct pf_rhead **signal, uint64_t seed, const char *resume_dir);
/* The classification head (objective classify) as the "head" stage. */
struct pf_chead;
struct pf_chead_cfg;
struct pf_chead *pf_stage_build_chead(pf_stage *st, const struct pf_chead_cfg *c, int max_B, int max_T, uint64_t seed,
                                      const char *resume_dir);

/* ---- the first stage's input: windows gathered into micro-batches ----
 * A window occupies slot s (micro-batch s / B, position p = s % B). Its rows
 * through the stages: the anchor at row p of its micro-batch and, with
 * rows = 3, its beat-shuffled view at B + p and its adjacent window at 2B + p,
 * so one micro-batch is [rows * B, C, T]. Beside the rows each slot keeps
 * what the losses need: the raw feature vector, the mask of samples within
 * peak_ms of an R-peak, and flags saying which of them the window had
 * (model.md 4B-4C: a window without features or peaks is marked, not dropped). */
enum { PF_ROW_FEAT = 1, PF_ROW_PEAKS = 2, PF_ROW_VIEW = 4, PF_ROW_ADJ = 8 };
#define PF_FEAT_MAX 512
typedef struct {
    int B, M, C, T, rows;
    double peak_ms;
    int F;             /* feature values per window (0 until one arrives) */
    float *x;          /* [M, rows * B, C, T]: one optimiser step */
    float *feat;       /* [M * B, PF_FEAT_MAX] */
    uint8_t *peaks;    /* [M * B, T] */
    uint8_t *flags;    /* [M * B] PF_ROW_* */
    uint64_t *key;     /* [M * B] (window index, record hash): the validation set's order */
    int n;             /* windows held */
    uint32_t epoch;    /* of the last window taken */
    int64_t skip;      /* resume: windows still to pass over (already trained on) */
    int count_missing; /* count windows without features / R-peaks / view / neighbour (the objective needs them) */
    int K, multi;      /* labels kept (pf_batcher_labels): class id (K classes) or K targets (multi) */
    float *lab;        /* [M * B, multi ? K : 1] */
} pf_batcher;
int pf_batcher_init(pf_batcher *b, int B, int M, int C, int T, int rows, double peak_ms);
/* Keep every window's LABELS too (objective classify): a window without a
 * valid label is rejected (counted, logged with record, window and value). */
int pf_batcher_labels(pf_batcher *b, int K, int multi);
/* Take one window; *full = 1 once a whole step is held (then b->n = 0 for the
 * next). A window of another shape or with non-finite samples is rejected
 * (counted, logged with record and window) and never enters a batch. */
int pf_batcher_take(pf_node *n, pf_batcher *b, const pf_msg *m, int *full);
/* The validation set: windows appended while room is left (1), else 0. */
int pf_batcher_append(pf_node *n, pf_batcher *b, const pf_msg *m);
/* Sort the held windows by (window index, record): the same set, the same order, whoever sent them. */
void pf_batcher_sort(pf_batcher *b);
/* Copy slot ss of src to slot ds of dst (same shapes). */
void pf_batcher_copy_slot(pf_batcher *dst, int ds, const pf_batcher *src, int ss);
float *pf_batcher_micro(const pf_batcher *b, int micro);   /* [rows * B, C, T] */
void pf_batcher_free(pf_batcher *b);

/* The per-window tensors a micro-batch's messages carry to the trainer
 * ("x", "peaks", "feat", "flags", "layout"), and reading them back. */
int pf_batcher_add_aux(pf_msg *m, const pf_batcher *b, int micro, int masked);
typedef struct {
    int B, rows, masked, F;
    const float *x, *feat;
    const uint8_t *peaks, *flags;
    const float *lab;   /* "labels" [B, 1 or K] when the first stage keeps labels, else NULL */
    int lab_w;
} pf_aux;
int pf_aux_get(const pf_msg *m, int C, int T, pf_aux *a);
/* Copy the aux tensors of src into dst (the transformer passes them on). */
int pf_aux_forward(pf_msg *dst, const pf_msg *src);

/* ---- named tensors in a TENSOR message (a NAME section before each) ---- */
int pf_tmsg_add(pf_msg *m, const char *name, int dtype, int ndim, const uint32_t *dims, const void *data);
/* The tensor of that name, checked: dtype, ndim and every dim given non-zero;
 * NULL with an error naming the message, tensor and what is wrong. */
const pf_section *pf_tmsg_get(const pf_msg *m, const char *name, int dtype, int ndim, const uint32_t *dims);

#endif
