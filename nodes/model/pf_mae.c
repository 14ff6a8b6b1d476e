/* pf_mae: the transformer stage (pf_tstage) and the reconstruction head
 * (pf_rhead) composed in one object, with the mask given by the caller;
 * the pipelined nodes run the same two objects in separate processes. */
#include "pf_mae.h"

#include <stdlib.h>

#include "pf_error.h"
#include "pf_rhead.h"
#include "pf_tstage.h"

struct pf_mae {
    pf_tstage *ts;
    pf_rhead *head;
    int B, F, TP, forwarded;
};

pf_mae *pf_mae_create(const pf_tfm_cfg *cfg, pf_pstore *p, int max_B, int max_T)
{
    pf_mae *m = calloc(1, sizeof *m);
    if (!m) { pf_err(PF_ENOMEM, "mae: cannot allocate"); return NULL; }
    m->ts = pf_tstage_create(cfg, NULL, p, max_B, max_T);
    m->head = m->ts ? pf_rhead_create(cfg, p, max_B * max_T) : NULL;
    if (!m->head) {
        pf_err_context(PF_EINVAL, "mae: building '%s'", cfg->name);
        pf_mae_destroy(m);
        return NULL;
    }
    return m;
}

void pf_mae_init(pf_mae *m, pf_pstore *p, uint64_t seed)
{
    pf_rng r;
    pf_rng_seed(&r, pf_rng_key(seed, 0x696e6974ull, 0, 0));
    pf_tstage_init(m->ts, p, &r, pf_rng_key(seed, 0x656e63ull, 0, 0));
    pf_rhead_init(m->head, p, &r);
}

int pf_mae_forward(pf_mae *m, pf_pstore *p, const float *patches, const float *mask, int B, int F, int TP,
                   int train, uint64_t key, float *loss)
{
    if (!mask) return pf_err(PF_EINVAL, "mae forward: a mask is required");
    int rc = pf_tstage_forward(m->ts, p, patches, B, F, TP, mask, train, 0, key);
    if (rc < 0) return rc;
    m->B = B; m->F = F; m->TP = TP; m->forwarded = 1;
    return pf_rhead_forward(m->head, p, pf_tstage_encoded(m->ts), patches, pf_tstage_mask(m->ts), B * F * TP,
                            train, key, loss);
}

int pf_mae_backward(pf_mae *m, pf_pstore *p)
{
    if (!m->forwarded) return pf_err(PF_ESTATE, "mae backward: no forward pass yet");
    /* the target (the input patches) is data here: no gradient to it */
    int rc = pf_rhead_backward(m->head, p, pf_tstage_scratch_denc(m->ts), NULL);
    if (rc < 0) return rc;
    return pf_tstage_backward(m->ts, p, pf_tstage_scratch_denc(m->ts), NULL, NULL);
}

const float *pf_mae_pred(const pf_mae *m) { return pf_rhead_pred(m->head); }
const float *pf_mae_encoded(const pf_mae *m) { return pf_tstage_encoded(m->ts); }
pf_encoder *pf_mae_encoder(pf_mae *m) { return pf_tstage_encoder(m->ts); }
size_t pf_mae_arena_bytes(const pf_mae *m) { return pf_tstage_arena_bytes(m->ts) + pf_rhead_arena_bytes(m->head); }

void pf_mae_destroy(pf_mae *m)
{
    if (!m) return;
    pf_rhead_destroy(m->head);
    pf_tstage_destroy(m->ts);
    free(m);
}
