#include "pf_ckpt.h"

#include <stdio.h>
#include <string.h>

#include "pf_error.h"

#define W_I64(loc, nm, val) do { int64_t v_ = (val); if ((rc = pf_h5_attr_write(loc, nm, H5T_STD_I64LE, H5T_NATIVE_INT64, &v_, 1)) < 0) goto done; } while (0)
#define W_F32(loc, nm, val) do { float v_ = (val); if ((rc = pf_h5_attr_write(loc, nm, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, &v_, 1)) < 0) goto done; } while (0)

int pf_ckpt_save(const char *path, pf_pstore *p, const pf_ckpt_state *st)
{
    if (!p->finalized) return pf_err(PF_ESTATE, "checkpoint %s: parameters not finalized", path);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return pf_err(PF_EIO, "checkpoint: cannot create '%s'", tmp);
    int rc = PF_OK;
    hid_t gp = H5Gcreate2(f, "params", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), gm = -1, gv = -1, go = -1;
    for (int i = 0; i < p->count && rc == PF_OK; i++)
        rc = pf_h5_write_f32(gp, p->info[i].name, pf_pstore_data(p, i), p->info[i].ndim, p->info[i].shape);
    if (rc < 0) goto done;
    W_I64(f, "format_version", 1);
    W_I64(f, "n_params", (int64_t)p->n_params);
    W_I64(f, "data_pos", st ? st->data_pos : 0);
    if (st && st->rng)
        if ((rc = pf_h5_attr_write(f, "rng_state", H5T_STD_U64LE, H5T_NATIVE_UINT64, st->rng->s, 4)) < 0) goto done;
    if (st && st->cfg) {
        const pf_tfm_cfg *c = st->cfg;
        hid_t ts = H5Tcopy(H5T_C_S1);
        H5Tset_size(ts, sizeof c->name);
        hsize_t one = 1;
        hid_t s = H5Screate_simple(1, &one, NULL);
        hid_t a = H5Acreate2(f, "cfg.name", ts, s, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, ts, c->name);
        H5Aclose(a); H5Sclose(s); H5Tclose(ts);
        W_I64(f, "cfg.dim", c->dim); W_I64(f, "cfg.depth", c->depth); W_I64(f, "cfg.heads", c->heads);
        W_I64(f, "cfg.mlp_ratio", c->mlp_ratio); W_I64(f, "cfg.rope_dim", c->rope_dim);
        W_F32(f, "cfg.rope_base", c->rope_base); W_F32(f, "cfg.dropout", c->dropout);
        W_F32(f, "cfg.ln_eps", c->ln_eps); W_I64(f, "cfg.patch", c->patch);
        W_I64(f, "cfg.attn_lean", c->attn_lean);
    }
    if (st && st->opt) {
        const pf_adamw *o = st->opt;
        const pf_adamw_cfg *c = &o->cfg;
        W_I64(f, "step", o->step); W_I64(f, "micro", o->micro);
        W_F32(f, "adamw.lr", c->lr); W_F32(f, "adamw.beta1", c->beta1); W_F32(f, "adamw.beta2", c->beta2);
        W_F32(f, "adamw.eps", c->eps); W_F32(f, "adamw.weight_decay", c->weight_decay);
        W_I64(f, "adamw.decay_all", c->decay_all); W_F32(f, "adamw.clip_norm", c->clip_norm);
        W_I64(f, "adamw.warmup_steps", c->warmup_steps); W_I64(f, "adamw.total_steps", c->total_steps);
        W_F32(f, "adamw.min_lr", c->min_lr); W_I64(f, "adamw.accum_steps", c->accum_steps);
        go = H5Gcreate2(f, "optim", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        gm = H5Gcreate2(go, "m", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        gv = H5Gcreate2(go, "v", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        for (int i = 0; i < p->count && rc == PF_OK; i++) {
            rc = pf_h5_write_f32(gm, p->info[i].name, pf_pstore_m(p, i), p->info[i].ndim, p->info[i].shape);
            if (rc == PF_OK)
                rc = pf_h5_write_f32(gv, p->info[i].name, pf_pstore_v(p, i), p->info[i].ndim, p->info[i].shape);
        }
        /* accumulated gradients of an unfinished accumulation cycle are part of the state */
        if (rc == PF_OK && o->micro > 0) {
            hid_t gg = H5Gcreate2(go, "grad", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            for (int i = 0; i < p->count && rc == PF_OK; i++)
                rc = pf_h5_write_f32(gg, p->info[i].name, pf_pstore_grad(p, i), p->info[i].ndim, p->info[i].shape);
            H5Gclose(gg);
        }
    }
done:
    if (gm >= 0) H5Gclose(gm);
    if (gv >= 0) H5Gclose(gv);
    if (go >= 0) H5Gclose(go);
    if (gp >= 0) H5Gclose(gp);
    if (H5Fclose(f) < 0 && rc == PF_OK) rc = pf_err(PF_EIO, "checkpoint: closing '%s' failed", tmp);
    if (rc < 0) { remove(tmp); return pf_err_context(rc, "checkpoint %s", path); }
    if (rename(tmp, path) != 0) return pf_err(PF_EIO, "checkpoint: rename '%s' -> '%s' failed", tmp, path);
    return PF_OK;
}

static int check_shape(hid_t f, const char *dname, const pf_param_info *in)
{
    if (H5Lexists(f, dname, H5P_DEFAULT) <= 0) return pf_err(PF_ENOTFOUND, "tensor '%s' missing", dname);
    hid_t d = H5Dopen2(f, dname, H5P_DEFAULT);
    hid_t s = H5Dget_space(d);
    hsize_t dims[8];
    int nd = H5Sget_simple_extent_ndims(s);
    if (nd > 0 && nd <= 8) H5Sget_simple_extent_dims(s, dims, NULL);
    H5Sclose(s);
    H5Dclose(d);
    int ok = nd == in->ndim;
    for (int i = 0; ok && i < nd; i++) ok = dims[i] == (hsize_t)in->shape[i];
    if (!ok) {
        char want[64] = "", have[64] = "";
        for (int i = 0; i < in->ndim; i++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", i ? "x" : "", in->shape[i]);
        for (int i = 0; i < nd && i < 8; i++) snprintf(have + strlen(have), sizeof have - strlen(have), "%s%llu", i ? "x" : "", (unsigned long long)dims[i]);
        return pf_err(PF_EFORMAT, "tensor '%s' has shape %s, model expects %s", dname, have, want);
    }
    return PF_OK;
}

#define R_I64(nm, dst) do { int64_t v_; if ((rc = pf_h5_attr_read(f, nm, H5T_NATIVE_INT64, &v_, 1)) < 0) goto done; (dst) = v_; } while (0)
#define R_F32(nm, dst) do { float v_; if ((rc = pf_h5_attr_read(f, nm, H5T_NATIVE_FLOAT, &v_, 1)) < 0) goto done; (dst) = v_; } while (0)

int pf_ckpt_load(const char *path, pf_pstore *p, pf_ckpt_state *st, pf_tfm_cfg *cfg_out)
{
    if (!p->finalized) return pf_err(PF_ESTATE, "checkpoint %s: parameters not finalized", path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return pf_err(PF_EIO, "checkpoint: cannot open '%s'", path);
    int rc = PF_OK;
    int64_t ver = 0;
    char dn[PF_NAME_MAX + 32];
    R_I64("format_version", ver);
    if (ver != 1) { rc = pf_err(PF_EFORMAT, "format_version %lld (expected 1)", (long long)ver); goto done; }
    /* validate everything before modifying anything */
    for (int i = 0; i < p->count; i++) {
        snprintf(dn, sizeof dn, "params/%s", p->info[i].name);
        if ((rc = check_shape(f, dn, &p->info[i])) < 0) goto done;
        if (st && st->opt) {
            snprintf(dn, sizeof dn, "optim/m/%s", p->info[i].name);
            if ((rc = check_shape(f, dn, &p->info[i])) < 0) goto done;
        }
    }
    for (int i = 0; i < p->count; i++) {
        snprintf(dn, sizeof dn, "params/%s", p->info[i].name);
        if ((rc = pf_h5_read_f32(f, dn, pf_pstore_data(p, i), p->info[i].n)) < 0) goto done;
    }
    if (cfg_out) {
        memset(cfg_out, 0, sizeof *cfg_out);
        if (H5Aexists(f, "cfg.name") > 0) {
            hid_t a = H5Aopen(f, "cfg.name", H5P_DEFAULT);
            hid_t ts = H5Tcopy(H5T_C_S1);
            H5Tset_size(ts, sizeof cfg_out->name);
            H5Aread(a, ts, cfg_out->name);
            cfg_out->name[sizeof cfg_out->name - 1] = 0;
            H5Tclose(ts);
            H5Aclose(a);
        }
        R_I64("cfg.dim", cfg_out->dim); R_I64("cfg.depth", cfg_out->depth); R_I64("cfg.heads", cfg_out->heads);
        R_I64("cfg.mlp_ratio", cfg_out->mlp_ratio); R_I64("cfg.rope_dim", cfg_out->rope_dim);
        R_F32("cfg.rope_base", cfg_out->rope_base); R_F32("cfg.dropout", cfg_out->dropout);
        R_F32("cfg.ln_eps", cfg_out->ln_eps); R_I64("cfg.patch", cfg_out->patch);
        R_I64("cfg.attn_lean", cfg_out->attn_lean);
    }
    if (st) {
        R_I64("data_pos", st->data_pos);
        if (st->rng) if ((rc = pf_h5_attr_read(f, "rng_state", H5T_NATIVE_UINT64, st->rng->s, 4)) < 0) goto done;
    }
    if (st && st->opt) {
        pf_adamw *o = st->opt;
        pf_adamw_cfg *c = &o->cfg;
        R_I64("step", o->step); R_I64("micro", o->micro);
        R_F32("adamw.lr", c->lr); R_F32("adamw.beta1", c->beta1); R_F32("adamw.beta2", c->beta2);
        R_F32("adamw.eps", c->eps); R_F32("adamw.weight_decay", c->weight_decay);
        R_I64("adamw.decay_all", c->decay_all); R_F32("adamw.clip_norm", c->clip_norm);
        R_I64("adamw.warmup_steps", c->warmup_steps); R_I64("adamw.total_steps", c->total_steps);
        R_F32("adamw.min_lr", c->min_lr); R_I64("adamw.accum_steps", c->accum_steps);
        for (int i = 0; i < p->count; i++) {
            snprintf(dn, sizeof dn, "optim/m/%s", p->info[i].name);
            if ((rc = pf_h5_read_f32(f, dn, pf_pstore_m(p, i), p->info[i].n)) < 0) goto done;
            snprintf(dn, sizeof dn, "optim/v/%s", p->info[i].name);
            if ((rc = pf_h5_read_f32(f, dn, pf_pstore_v(p, i), p->info[i].n)) < 0) goto done;
        }
        pf_pstore_zero_grad(p);
        if (o->micro > 0)
            for (int i = 0; i < p->count; i++) {
                snprintf(dn, sizeof dn, "optim/grad/%s", p->info[i].name);
                if ((rc = pf_h5_read_f32(f, dn, pf_pstore_grad(p, i), p->info[i].n)) < 0) goto done;
            }
    }
done:
    H5Fclose(f);
    return rc < 0 ? pf_err_context(rc, "checkpoint %s", path) : PF_OK;
}
