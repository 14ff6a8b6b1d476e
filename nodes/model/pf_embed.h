/* pf_embed: one vector per window from the pretraining encoder, for probes and
 * embedding export (model.md section 5): x [B, C, T] -> wavelet front-end (eval
 * mode) -> transformer stage with no token masked (eval mode) -> mean of the
 * final encoder outputs over all tokens -> [B, D].
 *
 * The parameters come from a trainer checkpoint directory (DIR/latest names
 * DIR/step-N/{wavelet,transformer}.h5, as pf_stage writes them) or, without
 * one, from the stages' initialisation for the seed (a random-init baseline). A
 * checkpoint of another shape is refused with both shapes named.
 */
#ifndef PF_EMBED_H
#define PF_EMBED_H

#include "pf_encoder.h"
#include "pf_wavelet.h"

typedef struct pf_embedder pf_embedder;

/* max_B windows of C = w->n_leads leads x T samples (T a multiple of t->patch). */
pf_embedder *pf_embedder_create(const pf_wavelet_cfg *w, const pf_tfm_cfg *t, int max_B, int T, uint64_t seed,
                                const char *ckpt_dir);
// x: [B, C, T] -> out: [B, D]
int pf_embedder_run(pf_embedder *e, const float *x, int B, float *out);
int pf_embedder_dim(const pf_embedder *e);
/* Tokens per window of the last run (rows x time patches). */
int pf_embedder_tokens(const pf_embedder *e);
void pf_embedder_destroy(pf_embedder *e);

/* The encoder shape stored in a checkpoint's transformer.h5: D, depth, patch.
 * PF_ENOTFOUND etc. with a message naming the file. */
int pf_embed_ckpt_shape(const char *ckpt_dir, int *dim, int *depth, int *patch);

#endif
