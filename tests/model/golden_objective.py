#!/usr/bin/env python3
"""Golden tensors for the trainer's objective (nodes/model/pf_objective.c),
written from model.md 4A-4D with Debian's python3-torch: masked reconstruction
of the anchors, the feature-guided contrastive loss over the anchors that have
features (standardised and PCA-projected), a view and a neighbour, and the
signal head's global + peak-aware reconstruction. One micro-batch of
[anchors | views | adjacent] encoded tokens; forward values and the gradients
of the tokens, of the masked target and of both heads. Usage: OUT.h5"""
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(3)
rng = np.random.default_rng(7)
out = h5py.File(sys.argv[1], "w")
B, C, L1, TP, P, D, FR, K = 6, 2, 3, 4, 8, 16, 10, 4
R, T = C * L1, TP * P
N = R * TP
W_M, W_C, ALPHA, BETA, TAU = 1.0, 1.0, 0.2, 0.1, 0.1


def put(name, t):
    a = t.detach().numpy() if torch.is_tensor(t) else np.asarray(t)
    out.create_dataset(name, data=a.astype(np.float32) if a.dtype == np.float64 else a)


class Head(nn.Module):
    def __init__(s):
        super().__init__()
        s.fc1, s.norm, s.fc2 = nn.Linear(D, D), nn.LayerNorm(D), nn.Linear(D, P)

    def forward(s, z):
        return s.fc2(s.norm(F.gelu(s.fc1(z))))


mh, sh = Head(), Head()
z = torch.tensor(rng.standard_normal((3 * B, N, D)), dtype=torch.float32, requires_grad=True)
target = torch.tensor(rng.standard_normal((3 * B, N, P)), dtype=torch.float32, requires_grad=True)
mask = torch.tensor((rng.random((3 * B, N)) < 0.6).astype(np.float32))
x = torch.tensor(rng.standard_normal((B, C, T)), dtype=torch.float32)
peaks = np.zeros((B, T), np.uint8)
for b in range(B):
    for r in rng.choice(T, 2, replace=False):
        peaks[b, max(0, r - 2):r + 3] = 1
flags = np.full(B, 1 | 2 | 4 | 8, np.uint8)   # FEAT | PEAKS | VIEW | ADJ
flags[2] &= ~1                                # no features: out of the contrastive term
flags[4] &= ~2                                # no R-peaks: no peak samples
peaks[4] = 0
feat = rng.standard_normal((B, FR)).astype(np.float32)
feat[1] = feat[0] + 0.05 * rng.standard_normal(FR)
mean, std = rng.standard_normal(FR) * 0.1, rng.random(FR) + 0.5
comp = np.linalg.qr(rng.standard_normal((FR, K)))[0].T      # [K, FR] orthonormal rows

# the projected features and a delta that leaves exactly one anchor without a negative (counted, not used)
valid = [b for b in range(B) if (flags[b] & 13) == 13]
fp = torch.tensor(((feat[valid] - mean) / std) @ comp.T, dtype=torch.float32)
fs = F.normalize(fp, dim=1) @ F.normalize(fp, dim=1).T
m = sorted(float(min(fs[i, k] for k in range(len(valid)) if k != i)) for i in range(len(valid)))
delta = (m[-1] + m[-2]) / 2

for mode in ("physioclr", "supcon"):
    for p in list(mh.parameters()) + list(sh.parameters()):
        p.grad = None
    z.grad = target.grad = None
    nv = len(valid)
    # A. masked: the anchors' masked tokens
    pm = mh(z[:B])
    per = ((pm - target[:B]) ** 2).mean(-1)
    lm = (per * mask[:B]).sum() / mask[:B].sum()
    # B. contrastive on the valid anchors: h = mean of a row's tokens
    h = z.mean(1)
    ha_, hs_, hj_ = h[valid], h[[B + v for v in valid]], h[[2 * B + v for v in valid]]
    u, us, ua = F.normalize(ha_, dim=1), F.normalize(hs_, dim=1), F.normalize(hj_, dim=1)
    terms, skipped, ranked, rank_n = [], 0, 0, 0
    for i in range(nv):
        pos = [(u[i] * us[i]).sum() / TAU, (u[i] * ua[i]).sum() / TAU]
        neg = []
        for k in range(nv):
            if k == i:
                continue
            (pos if fs[i, k] >= delta else neg).append((u[i] * u[k]).sum() / TAU)
        if neg:  # every (anchor, positive) pair: above all of the anchor's negatives?
            rank_n += len(pos)
            ranked += sum(int(float(q) > max(float(v) for v in neg)) for q in pos)
        if mode == "physioclr":
            if not neg:
                skipped += 1
                continue
            terms.append(-torch.logsumexp(torch.stack(pos), 0) + torch.logsumexp(torch.stack(neg), 0))
        else:
            allc = torch.logsumexp(torch.stack(pos + neg), 0)
            terms.append(-torch.stack([q - allc for q in pos]).mean())
    lc = torch.stack(terms).mean()
    # C. signal head: per lead and time patch, the mean of the lead's band tokens
    za = z[:B].reshape(B, L1, C, TP, D)
    s = za.mean(1)                                   # [B, C, TP, D]
    xh = sh(s).reshape(B, C, T)
    lg = ((xh - x) ** 2).mean()
    pk = torch.tensor(peaks, dtype=torch.float32)[:, None, :].expand(B, C, T)
    lp = (((xh - x) ** 2) * pk).sum() / pk.sum()
    total = W_M * lm + W_C * lc + ALPHA * lg + BETA * lp
    total.backward()
    g = mode + "/"
    for k, v in dict(total=total, masked=lm, con=lc, glob=lg, peak=lp).items():
        put(g + k, v.reshape(1))
    put(g + "dz", z.grad)
    put(g + "dtarget", target.grad)
    for name, hd in (("head", mh), ("signal_head", sh)):
        for pn, p in hd.named_parameters():
            put(g + "grad/%s.%s" % (name, pn), p.grad)
    out[g.rstrip("/")].attrs.update(dict(skipped=skipped, used=len(terms), ranked=ranked, rank_n=rank_n))

for name, hd in (("head", mh), ("signal_head", sh)):
    for pn, p in hd.named_parameters():
        put("weights/%s.%s" % (name, pn), p)
for k, v in dict(z=z, target=target, mask=mask, x=x, feat=feat, mean=mean, std=std, comp=comp).items():
    put(k, v)
put("peaks", peaks.astype(np.float32))
put("flags", flags.astype(np.float32))
out.attrs.update(dict(B=B, C=C, L1=L1, TP=TP, P=P, D=D, F=FR, K=K, delta=delta, tau=TAU))
out.close()
