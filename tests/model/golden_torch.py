#!/usr/bin/env python3
"""Golden tensors for the C model core, computed with Debian's python3-torch.

Builds the same masked-reconstruction model as nodes/model/pf_transformer.c
(physiowave_torch.py: patch embedding, mask token, pre-norm RoPE encoder,
head, masked MSE) with random weights, runs forward + backward and 10 AdamW steps, and evaluates the
losses and the wavelet-side ops, writing every input, weight, output and
gradient to one HDF5 file (h5py). Usage: golden_torch.py OUT.h5
"""
import math
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from physiowave_torch import Model, sincos_2d

torch.manual_seed(0)
torch.set_num_threads(1)
rng = np.random.default_rng(2026)
out = h5py.File(sys.argv[1], "w")


def put(name, t):
    a = t.detach().cpu().numpy() if torch.is_tensor(t) else np.asarray(t)
    if a.dtype == np.float64:
        a = a.astype(np.float32)
    out.create_dataset(name, data=a)


# ---------------------------------------------------------------- model ----
D, DEPTH, H, P, MLP = 32, 2, 4, 16, 4
B, NF, NTP = 2, 3, 4
T = NF * NTP

model = Model(D, DEPTH, H, P, MLP, NF, NTP)
with torch.no_grad():
    for name, p in model.named_parameters():
        if name.endswith("norm.weight") or name.endswith("norm1.weight") or name.endswith("norm2.weight"):
            p.copy_(torch.tensor(1.0 + 0.1 * rng.standard_normal(p.shape), dtype=torch.float32))
        else:
            p.copy_(torch.tensor(0.15 * rng.standard_normal(p.shape), dtype=torch.float32))
for name, p in model.named_parameters():
    put("model/param/" + name, p)
patches = torch.tensor(rng.standard_normal((B, T, P)), dtype=torch.float32)
mask = torch.tensor((rng.random((B, T)) < 0.6).astype(np.float32))
put("model/patches", patches)
put("model/mask", mask)
out["model"].attrs.update(dict(dim=D, depth=DEPTH, heads=H, patch=P, mlp_ratio=MLP, B=B, F=NF, TP=NTP))

z, pred, loss = model(patches, mask)
loss.backward()
put("model/encoded", z)
put("model/pred", pred)
put("model/loss", loss.reshape(1))
for name, p in model.named_parameters():
    put("model/grad/" + name, p.grad)

# 10 AdamW steps: betas (0.9, 0.95), wd 0.01 on all params, clip 1.0,
# LambdaLR warm-up 3 (factor step/3) then cosine to 0 at step 10.
LR, WARM, TOTAL = 3e-3, 3, 10
opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.01)
lam = lambda s: s / WARM if s < WARM else 0.5 * (1 + math.cos(math.pi * (s - WARM) / (TOTAL - WARM)))
sched = torch.optim.lr_scheduler.LambdaLR(opt, lam)
losses = []
for step in range(TOTAL):
    opt.zero_grad()
    _, _, l = model(patches, mask)
    losses.append(l.item())
    l.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
put("model/adamw_losses", np.array(losses, dtype=np.float32))
out["model"].attrs.update(dict(lr=LR, warmup=WARM, total=TOTAL))

# --------------------------------------------------------------- losses ----
N, K = 6, 5
logits = torch.tensor(rng.standard_normal((N, K)) * 2, dtype=torch.float32, requires_grad=True)
labels = torch.tensor(rng.integers(0, K, N))
l = F.cross_entropy(logits, labels, label_smoothing=0.1)
l.backward()
put("ce/logits", logits); put("ce/labels", labels.int()); put("ce/loss", l.reshape(1)); put("ce/grad", logits.grad)

logits = torch.tensor(rng.standard_normal((N, K)) * 2, dtype=torch.float32, requires_grad=True)
targets = torch.tensor((rng.random((N, K)) < 0.4).astype(np.float32))
pw = torch.tensor(rng.random(K) * 3 + 0.5, dtype=torch.float32)
l = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pw)
l.backward()
put("bce/logits", logits); put("bce/targets", targets); put("bce/pos_weight", pw)
put("bce/loss", l.reshape(1)); put("bce/grad", logits.grad)

# contrastive (model.md 4B), written straight from the text
CB, CD, CF, TAU, DELTA = 8, 12, 6, 0.1, 0.25
h0 = rng.standard_normal((CB, CD)); hs0 = h0 + 0.5 * rng.standard_normal((CB, CD))
ha0 = h0 + 0.8 * rng.standard_normal((CB, CD)); f0 = rng.standard_normal((CB, CF))
f0[1] = f0[0] + 0.1 * rng.standard_normal(CF)
for mode in ("physioclr", "supcon"):
    for adj in (0, 1):
        h = torch.tensor(h0, dtype=torch.float32, requires_grad=True)
        hs = torch.tensor(hs0, dtype=torch.float32, requires_grad=True)
        ha = torch.tensor(ha0, dtype=torch.float32, requires_grad=True)
        f = torch.tensor(f0, dtype=torch.float32)
        u, us, ua = F.normalize(h, dim=1), F.normalize(hs, dim=1), F.normalize(ha, dim=1)
        fs = F.normalize(f, dim=1) @ F.normalize(f, dim=1).T
        terms = []
        for i in range(CB):
            pos = [(u[i] * us[i]).sum() / TAU]
            if adj:
                pos.append((u[i] * ua[i]).sum() / TAU)
            neg = []
            for k in range(CB):
                if k == i:
                    continue
                lk = (u[i] * u[k]).sum() / TAU
                (pos if fs[i, k] >= DELTA else neg).append(lk)
            if mode == "physioclr":
                if not neg:
                    continue
                terms.append(-torch.logsumexp(torch.stack(pos), 0) + torch.logsumexp(torch.stack(neg), 0))
            else:
                allc = torch.logsumexp(torch.stack(pos + neg), 0)
                terms.append(-torch.stack([p - allc for p in pos]).mean())
        l = torch.stack(terms).mean()
        l.backward()
        g = "contrast/%s%s/" % (mode, "_adj" if adj else "")
        put(g + "loss", l.reshape(1)); put(g + "dh", h.grad); put(g + "dhs", hs.grad); put(g + "dha", ha.grad if adj else torch.zeros(CB, CD))
        out[g].attrs["used"] = len(terms)
put("contrast/h", torch.tensor(h0)); put("contrast/hs", torch.tensor(hs0))
put("contrast/ha", torch.tensor(ha0)); put("contrast/f", torch.tensor(f0))
out["contrast"].attrs.update(dict(B=CB, D=CD, F=CF, tau=TAU, delta=DELTA))

# ------------------------------------------------------- wavelet-side ops ----
CB, CIN, TL, KK = 2, 4, 20, 6
for name, cout, groups in (("conv_grouped", 6, 2), ("conv_depthwise", 4, 4)):
    x = torch.tensor(rng.standard_normal((CB, CIN, TL)), dtype=torch.float32, requires_grad=True)
    w = torch.tensor(rng.standard_normal((cout, CIN // groups, KK)), dtype=torch.float32, requires_grad=True)
    b = torch.tensor(rng.standard_normal(cout), dtype=torch.float32, requires_grad=True)
    y = F.conv1d(x, w, b, padding=KK // 2, groups=groups)
    gy = torch.tensor(rng.standard_normal(y.shape), dtype=torch.float32)
    (y * gy).sum().backward()
    for k, v in dict(x=x, w=w, b=b, y=y, gy=gy, dx=x.grad, dw=w.grad, db=b.grad).items():
        put(name + "/" + k, v)
    out[name].attrs.update(dict(B=CB, CIN=CIN, COUT=cout, T=TL, K=KK, G=groups))

x = torch.tensor(rng.standard_normal((1, 1, 3, 1025)), dtype=torch.float32)
put("upsample/x", x); put("upsample/y", F.interpolate(x, size=(3, 2048), mode="nearest"))
put("posembed/pe", sincos_2d(5, 7, 24))

# cross-attention: nn.MultiheadAttention (what the wavelet front-end's cross-scale
# CAFFN uses), queries from x, keys/values from ctx
XB, TQ, TK, XD, XH = 2, 5, 7, 12, 3
mha = nn.MultiheadAttention(XD, XH, batch_first=True)
with torch.no_grad():
    for prm in mha.parameters():
        prm.copy_(torch.tensor(0.3 * rng.standard_normal(prm.shape), dtype=torch.float32))
xq = torch.tensor(rng.standard_normal((XB, TQ, XD)), dtype=torch.float32, requires_grad=True)
ctx = torch.tensor(rng.standard_normal((XB, TK, XD)), dtype=torch.float32, requires_grad=True)
o, _ = mha(xq, ctx, ctx, need_weights=False)
go = torch.tensor(rng.standard_normal(o.shape), dtype=torch.float32)
(o * go).sum().backward()
for k, v in dict(x=xq, ctx=ctx, out=o, gout=go, dx=xq.grad, dctx=ctx.grad, in_w=mha.in_proj_weight,
                 in_b=mha.in_proj_bias, out_w=mha.out_proj.weight, out_b=mha.out_proj.bias,
                 d_in_w=mha.in_proj_weight.grad, d_in_b=mha.in_proj_bias.grad,
                 d_out_w=mha.out_proj.weight.grad, d_out_b=mha.out_proj.bias.grad).items():
    put("xattn/" + k, v)
out["xattn"].attrs.update(dict(B=XB, TQ=TQ, TK=TK, D=XD, H=XH))
out.close()
print("golden tensors written to", sys.argv[1])
