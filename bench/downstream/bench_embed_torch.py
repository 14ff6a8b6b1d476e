#!/usr/bin/env python3
"""PyTorch side of the embedding benchmark: the same wavelet front-end and encoder
(tests/model/physiowave_torch.py, the definition the golden tests check the C model
against) with the weights bench_embed saved as a checkpoint, eval mode, no_grad,
nothing masked, mean over tokens, on the same windows. Prints key=value lines,
including the relative error against the C embeddings.
usage: bench_embed_torch.py DIR [--batch 16] [--rounds 3] [--threads 1] [--preset tiny] [--gate-heads 2]"""
import argparse
import os
import statistics
import sys
import time

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "model"))
import physiowave_torch  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--preset", default="tiny")
ap.add_argument("--gate-heads", type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(a.threads)
with h5py.File(os.path.join(a.dir, "windows.h5")) as f:
    x, zc = torch.tensor(f["x"][:]), f["z"][:]
N, C, T = x.shape
DIM, DEP, HEADS = {"tiny": (128, 4, 4), "small": (256, 6, 8), "physiowave-ecg": (384, 8, 12)}[a.preset]
P = 64
nf, ntp = 4 * C, T // P
wave = physiowave_torch.WaveletFrontEnd(C, gate_heads=a.gate_heads).eval()
model = physiowave_torch.Model(DIM, DEP, HEADS, P, 4, nf, ntp).eval()
step = [l.split("=")[1].strip() for l in open(os.path.join(a.dir, "latest")) if l.startswith("dir")][0]


def load(mod, path):
    with h5py.File(path) as f:
        stored = {}
        f["params"].visititems(lambda n, o: stored.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    sd = mod.state_dict()
    missing = [k for k in sd if k not in stored and not k.startswith("head.") and k != "pos"]
    if missing:
        sys.exit("%s lacks %s" % (path, missing[:5]))
    for k, v in stored.items():
        if k not in sd:
            sys.exit("%s: tensor %s has no place in the PyTorch model" % (path, k))
        sd[k] = torch.tensor(v).reshape(sd[k].shape)
    mod.load_state_dict(sd)


load(wave, os.path.join(a.dir, step, "wavelet.h5"))
load(model, os.path.join(a.dir, step, "transformer.h5"))


def embed(xb):
    patches = wave(xb).reshape(xb.shape[0], nf * ntp, P)
    h = model.embed(patches)
    for blk in model.blocks:
        h = blk(h)
    return model.norm(h).mean(1)


with torch.no_grad():
    embed(x[:a.batch])  # warm-up
    ts, z = [], None
    for _ in range(a.rounds):
        t0 = time.perf_counter()
        z = torch.cat([embed(x[i:i + a.batch]) for i in range(0, N, a.batch)])
        ts.append(time.perf_counter() - t0)
med = statistics.median(ts)
err = float(np.abs(z.numpy() - zc).max() / np.abs(z.numpy()).max())
print("windows=%d batch=%d windows_per_s=%.2f ms_per_batch=%.2f rel_err_vs_c=%.2e"
      % (N, a.batch, N / med, 1e3 * med / ((N + a.batch - 1) // a.batch), err))
