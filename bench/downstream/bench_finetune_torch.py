#!/usr/bin/env python3
"""PyTorch side of the fine-tuning benchmark: the same wavelet front-end and encoder
(tests/model/physiowave_torch.py) and model.md's classification head (mean pooling,
LayerNorm, Linear D->1024, GELU, Linear 1024->K), from the weights bench_finetune
saved, on the same batch and labels; cross-entropy, AdamW (lr 2e-4, betas 0.9/0.999,
eps 1e-8, weight decay 1e-3 on every tensor), global-norm clip 1.0; dropout off.
Prints key=value lines like bench_finetune: loss0..lossN and ms_per_step (median
over the steps after the first).
usage: bench_finetune_torch.py DIR [--steps 5] [--threads 1] [--preset tiny] [--gate-heads 2] [--freeze 0|1]"""
import argparse
import os
import statistics
import sys
import time

import h5py
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "model"))
import physiowave_torch  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--steps", type=int, default=5)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--preset", default="tiny")
ap.add_argument("--gate-heads", type=int, default=2)
ap.add_argument("--freeze", type=int, default=0)
a = ap.parse_args()
torch.set_num_threads(a.threads)
with h5py.File(os.path.join(a.dir, "batch.h5")) as f:
    x, y = torch.tensor(f["x"][:]), torch.tensor(f["labels"][:]).long()
B, C, T = x.shape
DIM, DEP, HEADS = {"tiny": (128, 4, 4), "small": (256, 6, 8), "physiowave-ecg": (384, 8, 12)}[a.preset]
P = 64
nf, ntp = 4 * C, T // P
wave = physiowave_torch.WaveletFrontEnd(C, gate_heads=a.gate_heads)
model = physiowave_torch.Model(DIM, DEP, HEADS, P, 4, nf, ntp)
with h5py.File(os.path.join(a.dir, "step-00000000", "head.h5")) as f:
    K = f["params/cls.fc2.weight"].shape[0]
cls = nn.ModuleDict({"norm": nn.LayerNorm(DIM), "fc1": nn.Linear(DIM, 1024), "fc2": nn.Linear(1024, K)})


def load(mod, path, prefix=""):
    with h5py.File(path) as f:
        stored = {}
        f["params"].visititems(lambda n, o: stored.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    sd = mod.state_dict()
    for k, v in stored.items():
        k2 = k[len(prefix):] if k.startswith(prefix) else k
        if k2 not in sd:
            sys.exit("%s: tensor %s has no place in the PyTorch model" % (path, k))
        sd[k2] = torch.tensor(v).reshape(sd[k2].shape)
    mod.load_state_dict(sd)


d = os.path.join(a.dir, "step-00000000")
load(wave, os.path.join(d, "wavelet.h5"))
load(model, os.path.join(d, "transformer.h5"))
load(cls, os.path.join(d, "head.h5"), "cls.")
params = list(cls.parameters()) + ([] if a.freeze else list(wave.parameters()) + list(model.parameters()))
opt = torch.optim.AdamW(params, lr=2e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-3)


def step():
    with torch.set_grad_enabled(not a.freeze):
        patches = wave(x).reshape(B, nf * ntp, P)
        h = model.embed(patches)
        for blk in model.blocks:
            h = blk(h)
        z = model.norm(h).mean(1)
    logits = cls["fc2"](F.gelu(cls["fc1"](cls["norm"](z))))
    loss = F.cross_entropy(logits, y)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    return float(loss)


out, ms = [], []
for s in range(a.steps):
    t0 = time.perf_counter()
    out.append("loss%d=%.7g" % (s, step()))
    ms.append(1e3 * (time.perf_counter() - t0))
print("batch=%d classes=%d freeze=%d %s ms_per_step=%.2f" % (B, K, a.freeze, " ".join(out), statistics.median(ms[1:])))
