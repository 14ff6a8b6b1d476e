#!/usr/bin/env python3
"""PyTorch side of bench_hybrid.py: the same model (wavelet front-end, tiny
encoder, masked head, signal head) trained with the same hybrid objective
(model.md 4D: masked + feature-guided contrastive + 0.2 global + 0.1 peak) on
the same windows, preloaded in memory from the sink file physioflow's DSP
graph wrote (anchor, beat-shuffled view, adjacent window, R-peaks, features).
AdamW with PhysioWave's settings and clipping. Threads: torch.set_num_threads
plus the environment bench_hybrid.py sets. Prints key=value lines."""
import argparse
import os
import resource
import statistics
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "model"))
import physiowave_torch as pw  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("windows")
ap.add_argument("stats")
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--accum", type=int, default=2)
ap.add_argument("--steps", type=int, default=6)
ap.add_argument("--warmup", type=int, default=2)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--preset", default="tiny")
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)

f = h5py.File(a.windows, "r")
need = a.batch * a.accum * (a.steps + a.warmup)
x = torch.tensor(f["data"][:need])                      # [W, C, T] anchors
xv = torch.tensor(f["views"][:need, 0])                 # beat-shuffled views
xa = torch.tensor(f["adjacent"][:need])                 # adjacent windows
feat = f["features"][:need].astype(np.float64)
W, C, T = x.shape
off, rp, st, fs_ = f["rpeaks_offset"][:], f["rpeaks"][:], f["start_sample"][:need], f["sample_rate"][:need]
peaks = torch.zeros(W, T)
for i in range(W):
    hw = int(round(0.040 * fs_[i]))
    for r in rp[off[i]:off[i + 1]] - st[i]:
        if 0 <= r < T:
            peaks[i, max(0, r - hw):r + hw + 1] = 1
s = h5py.File(a.stats, "r")
mean, std = s["mean"][:], s["std"][:]
comp = s["pca_components"][:] if "pca_components" in s else None
fz = (feat - mean) / std
fz = fz @ comp.T if comp is not None and comp.ndim == 2 and comp.shape[0] > 0 else fz
fvalid = torch.tensor(np.isfinite(fz).all(1))
fz = torch.tensor(np.nan_to_num(fz), dtype=torch.float32)

DIM, DEP, HEADS = {"tiny": (128, 4, 4), "small": (256, 6, 8), "physiowave-ecg": (384, 8, 12)}[a.preset]
P = 64
nf, ntp = 4 * C, T // P
wave = pw.WaveletFrontEnd(C, gate_heads=2 if C % 4 else 4, drop=0.1)
model = pw.Model(DIM, DEP, HEADS, P, 4, nf, ntp, 0.1)
sig = pw.Head(DIM, P, 0.1)
params = list(wave.parameters()) + list(model.parameters()) + list(sig.parameters())
opt = torch.optim.AdamW(params, lr=5e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=1e-3)
TAU, DELTA = 0.1, 0.25


def contrastive(h, hs, ha, fv, ok):
    h, hs, ha, fv = h[ok], hs[ok], ha[ok], fv[ok]
    n = h.shape[0]
    u, us, ua = F.normalize(h, dim=1), F.normalize(hs, dim=1), F.normalize(ha, dim=1)
    sim = F.normalize(fv, dim=1) @ F.normalize(fv, dim=1).T
    eye = torch.eye(n, dtype=torch.bool)
    L = u @ u.T / TAU
    pos = (sim >= DELTA) & ~eye
    neg = (sim < DELTA) & ~eye
    lp = torch.cat([((u * us).sum(1) / TAU)[:, None], ((u * ua).sum(1) / TAU)[:, None],
                    L.masked_fill(~pos, float("-inf"))], 1).logsumexp(1)
    ln = L.masked_fill(~neg, float("-inf")).logsumexp(1)
    use = neg.any(1)
    return (-lp[use] + ln[use]).mean() if use.any() else h.sum() * 0


def micro(i0):
    B = a.batch
    xb = torch.cat([x[i0:i0 + B], xv[i0:i0 + B], xa[i0:i0 + B]])       # [3B, C, T]
    patches = wave(xb).reshape(3 * B, nf * ntp, P)
    tok = model.embed(patches)
    mask = pw.freq_guided_mask(tok.detach())
    z, pred, _ = model(patches, mask, tok)
    per = ((pred[:B] - patches[:B]) ** 2).mean(-1)
    lm = (per * mask[:B]).sum() / mask[:B].sum()
    h = z.mean(1)
    lc = contrastive(h[:B], h[B:2 * B], h[2 * B:], fz[i0:i0 + B], fvalid[i0:i0 + B])
    s_ = z[:B].reshape(B, 4, C, ntp, DIM).mean(1)                    # band tokens of a lead
    xh = sig.fc2(sig.norm(sig.drop(F.gelu(sig.fc1(s_))))).reshape(B, C, T)
    d2 = (xh - x[i0:i0 + B]) ** 2
    pk = peaks[i0:i0 + B][:, None, :].expand(B, C, T)
    lg, lpk = d2.mean(), (d2 * pk).sum() / pk.sum().clamp(min=1)
    return lm + lc + 0.2 * lg + 0.1 * lpk


ts, losses = [], []
i0 = 0
for step in range(a.warmup + a.steps):
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    tot = 0.0
    for m in range(a.accum):
        l = micro(i0) / a.accum
        l.backward()
        tot += l.item()
        i0 += a.batch
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    if step >= a.warmup:
        ts.append(time.perf_counter() - t0)
    losses.append(tot)
step = statistics.median(ts)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print("torch_step_ms=%.1f torch_wps=%.3f loss_first=%.4f loss_last=%.4f params=%d peak_rss_mb=%.1f" %
      (1e3 * step, a.batch * a.accum / step, losses[0], losses[-1], sum(p.numel() for p in params), rss))
