#include "pf_finetune.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_error.h"

struct pf_finetune {
    pf_chead_cfg cfg;
    pf_chead *head;
    int K, multi, patience, since_best, passes;
    char names[PF_CLS_MAX][32];
    char json[1024];
    int *ids;                 /* [max_B] class ids of a micro-batch */
    long long right, seen;    /* training accuracy since the last read */
    long long counts[PF_CLS_MAX];
    /* the validation pass: probabilities and labels, grown as micro-batches come */
    float *vp, *vy;
    long long *vl;
    size_t vn, vcap;
    double best;
};

static int numlist(const pf_params *p, const char *name, int K, float *out)
{
    int n = pf_params_list_len(p, name);
    if (!n) return 0;
    if (n != K) return pf_err(PF_EINVAL, "%s: %d values for %d classes", name, n, K);
    for (int k = 0; k < K; k++) {
        double v = pf_params_list_num(p, name, k);
        if (!(v > 0) || !isfinite(v)) return pf_err(PF_EINVAL, "%s: value %d is %g, weights must be > 0", name, k + 1, v);
        out[k] = (float)v;
    }
    return 1;
}

pf_finetune *pf_finetune_create(const pf_params *p, const pf_objective *o, int D, int max_B, int max_T, pf_stage *hst,
                                uint64_t seed, const char *resume_dir)
{
    pf_finetune *f = calloc(1, sizeof *f);
    if (!f) { pf_err(PF_ENOMEM, "trainer: out of memory"); return NULL; }
    f->K = o->K;
    f->multi = o->multi;
    f->best = -1;
    f->patience = (int)pf_params_int(p, "patience");
    snprintf(f->json, sizeof f->json, "%s", pf_params_string(p, "val_json"));
    pf_chead_cfg c = pf_chead_defaults(D, o->K);
    int pool = pf_pool_parse(pf_params_string(p, "pooling")), kind = pf_chead_kind_parse(pf_params_string(p, "head"));
    int rc = pool < 0 ? pool : kind < 0 ? kind : PF_OK;
    c.pool = (pf_pool_kind)pool;
    c.head = (pf_chead_kind)kind;
    c.loss = o->multi ? PF_CLOSS_BCE : PF_CLOSS_CE;
    c.hidden = (int)pf_params_int(p, "head_hidden");
    c.dropout = (float)pf_params_double(p, "head_dropout");
    c.smoothing = o->multi ? 0 : (float)pf_params_double(p, "label_smoothing");
    c.standardize = !strcmp(pf_params_string(p, "pool_norm"), "running");
    if (!rc) rc = numlist(p, "class_weights", o->K, c.class_weight);
    if (rc > 0) {
        c.has_class_weight = 1;
        rc = o->multi ? pf_err(PF_EINVAL, "class_weights belong to loss ce; loss bce takes pos_weights") : PF_OK;
    }
    if (!rc) rc = numlist(p, "pos_weights", o->K, c.pos_weight);
    if (rc > 0) {
        c.has_pos_weight = 1;
        rc = !o->multi ? pf_err(PF_EINVAL, "pos_weights belong to loss bce; loss ce takes class_weights") : PF_OK;
    }
    int nn = pf_params_list_len(p, "class_names");
    if (!rc && nn && nn != o->K) rc = pf_err(PF_EINVAL, "class_names: %d names for %d classes", nn, o->K);
    for (int k = 0; k < o->K; k++) {
        if (nn) snprintf(f->names[k], sizeof f->names[k], "%s", pf_params_list_str(p, "class_names", k));
        else snprintf(f->names[k], sizeof f->names[k], "%d", k);
    }
    f->cfg = c;
    f->ids = malloc(sizeof(int) * (size_t)max_B);
    if (!rc && !f->ids) rc = pf_err(PF_ENOMEM, "trainer: out of memory");
    if (!rc && !(f->head = pf_stage_build_chead(hst, &c, max_B, max_T, seed, resume_dir))) rc = pf_err_context(PF_EINVAL, "classification head");
    if (rc) { pf_finetune_destroy(f); return NULL; }
    pf_chead_stats_get(f->head, hst->p); /* a resumed run's statistics */
    return f;
}

int pf_finetune_micro(pf_finetune *f, pf_pstore *p, const float *z, int B, int T, const float *lab, int train,
                      uint64_t key, float *loss, float *dz)
{
    if (!f->multi)
        for (int i = 0; i < B; i++) f->ids[i] = (int)lab[i];
    int rc = pf_chead_forward(f->head, p, z, B, T, f->multi ? NULL : f->ids, f->multi ? lab : NULL, train, key, loss);
    if (rc) return rc;
    const float *pr = pf_chead_probs(f->head);
    if (train) {
        if (!f->multi)
            for (int i = 0; i < B; i++) {
                int best = 0;
                for (int k = 1; k < f->K; k++) best = pr[(size_t)i * f->K + k] > pr[(size_t)i * f->K + best] ? k : best;
                f->right += best == f->ids[i];
                f->seen++;
                f->counts[f->ids[i]]++;
            }
        return pf_chead_backward(f->head, p, dz);
    }
    if (f->vn + B > f->vcap) {
        size_t cap = (f->vn + B) * 2;
        float *vp = realloc(f->vp, sizeof(float) * cap * f->K), *vy = vp ? realloc(f->vy, sizeof(float) * cap * f->K) : NULL;
        if (vp) f->vp = vp;
        if (vy) f->vy = vy;
        long long *vl = vy ? realloc(f->vl, sizeof(long long) * cap) : NULL;
        if (!vl) return pf_err(PF_ENOMEM, "validation pass: out of memory");
        f->vl = vl;
        f->vcap = cap;
    }
    memcpy(f->vp + f->vn * f->K, pr, sizeof(float) * (size_t)B * f->K);
    for (int i = 0; i < B; i++) {
        if (f->multi) memcpy(f->vy + (f->vn + i) * f->K, lab + (size_t)i * f->K, sizeof(float) * f->K);
        else f->vl[f->vn + i] = f->ids[i];
    }
    f->vn += B;
    return PF_OK;
}

void pf_finetune_after_update(pf_finetune *f, pf_pstore *p) { pf_chead_stats_put(f->head, p); }
void pf_finetune_after_load(pf_finetune *f, pf_pstore *p) { pf_chead_stats_get(f->head, p); }

double pf_finetune_train_acc(pf_finetune *f)
{
    double a = f->seen ? (double)f->right / f->seen : NAN;
    f->right = f->seen = 0;
    return a;
}

void pf_finetune_val_begin(pf_finetune *f) { f->vn = 0; }

int pf_finetune_val_end(pf_finetune *f, pf_cls_metrics *m, int *improved)
{
    const char *names[PF_CLS_MAX];
    for (int k = 0; k < f->K; k++) names[k] = f->names[k];
    int rc = pf_cls_score(m, f->vp, f->vl, f->vy, f->vn, f->K, names, f->multi);
    if (rc) return pf_err_context(rc, "scoring the validation pass");
    f->passes++;
    double s = isfinite(m->macro_f1) ? m->macro_f1 : 0;
    *improved = s > f->best;
    if (!*improved) { f->since_best++; return PF_OK; }
    f->best = s;
    f->since_best = 0;
    if (!f->json[0]) return PF_OK;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", f->json);
    FILE *o = fopen(tmp, "w");
    if (!o) return pf_err(PF_EIO, "val_json: cannot write %s: %s", tmp, strerror(errno));
    rc = pf_cls_json(m, o);
    if (fclose(o) && !rc) rc = pf_err(PF_EIO, "val_json: writing %s failed", tmp);
    if (!rc && rename(tmp, f->json)) rc = pf_err(PF_EIO, "val_json: cannot rename %s to %s: %s", tmp, f->json, strerror(errno));
    return rc;
}

int pf_finetune_since_best(const pf_finetune *f) { return f->since_best; }
int pf_finetune_patience(const pf_finetune *f) { return f->patience; }
double pf_finetune_best_f1(const pf_finetune *f) { return f->best; }
const long long *pf_finetune_class_counts(const pf_finetune *f) { return f->counts; }

void pf_finetune_destroy(pf_finetune *f)
{
    if (!f) return;
    pf_chead_destroy(f->head);
    free(f->ids);
    free(f->vp);
    free(f->vy);
    free(f->vl);
    free(f);
}
