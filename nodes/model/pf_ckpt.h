/* pf_ckpt: model checkpoints in HDF5.
 *
 * Layout (format_version 1):
 *   /params/<module path>      float32, the tensor's shape (e.g. /params/blocks.0.attn.qkv.weight)
 *   /optim/m/<path>, /optim/v/<path>   AdamW moments (when an optimiser is given)
 *   root attributes: format_version, n_params, step, micro, rng_state (uint64[4]),
 *   data_pos (caller's position in its data stream), cfg.* (the transformer
 *   config), adamw.* (the optimiser config).
 * Saving writes <path>.tmp and renames it, so a crash never leaves a torn file.
 * Loading checks every tensor's presence and shape and names the first bad one.
 * Everything needed for a bit-exact resume is stored: parameters, both moments,
 * the step (which seeds dropout), the caller's RNG and data position.
 */
#ifndef PF_CKPT_H
#define PF_CKPT_H

#include "pf_h5.h" /* pf_h5_read_f32 & co., also used by the golden tests */
#include <stdint.h>

#include "pf_optim.h"
#include "pf_rng.h"
#include "pf_tensor.h"
#include "pf_encoder.h"

typedef struct pf_ckpt_state {
    const pf_tfm_cfg *cfg;     /* saved as attributes; may be NULL */
    pf_adamw *opt;             /* moments + step + config; may be NULL */
    pf_rng *rng;               /* caller's generator state; may be NULL */
    int64_t data_pos;          /* caller's data position */
} pf_ckpt_state;

int pf_ckpt_save(const char *path, pf_pstore *p, const pf_ckpt_state *st);
/* st fields that are non-NULL are restored; cfg_out (may be NULL) receives the
 * stored transformer config. */
int pf_ckpt_load(const char *path, pf_pstore *p, pf_ckpt_state *st, pf_tfm_cfg *cfg_out);

#endif
