#!/usr/bin/env python3
"""Golden tensors for nodes/model/pf_chead.c (the classification head of model.md
section 5) from Debian's python3-torch: for each case, tokens z, weights, labels or
targets, then logits, loss and the gradients of z and every weight, to one HDF5 file.
Usage: chead_torch.py OUT.h5
"""
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)
rng = np.random.default_rng(15)
out = h5py.File(sys.argv[1], "w")
B, T, D, H, K = 5, 7, 16, 32, 4

# (pool, head, loss, smoothing, weights)
CASES = [
    ("mean", "mlp", "ce", 0.1, True),
    ("max", "mlp", "bce", 0.0, True),
    ("first", "linear", "ce", 0.0, False),
    ("last", "linear", "bce", 0.0, False),
    ("last", "mlp", "ce", 0.1, False),
    ("max", "linear", "ce", 0.2, True),
]
POOL = {"mean": 0, "max": 1, "first": 2, "last": 3}

for i, (pool, head, loss, eps, weighted) in enumerate(CASES):
    g = out.create_group(f"case{i}")
    z = torch.tensor(rng.standard_normal((B, T, D)), dtype=torch.float32, requires_grad=True)
    if head == "mlp":
        mods = nn.ModuleDict({"norm": nn.LayerNorm(D), "fc1": nn.Linear(D, H), "fc2": nn.Linear(H, K)})
        with torch.no_grad():  # a non-trivial LayerNorm affine
            mods["norm"].weight.copy_(torch.tensor(1 + 0.3 * rng.standard_normal(D)))
            mods["norm"].bias.copy_(torch.tensor(0.2 * rng.standard_normal(D)))
    else:
        mods = nn.ModuleDict({"fc": nn.Linear(D, K)})
    if pool == "mean":
        p = z.mean(1)
    elif pool == "max":
        p = z.max(1).values
    elif pool == "first":
        p = z[:, 0]
    else:
        p = z[:, -1]
    if head == "mlp":
        logits = mods["fc2"](F.gelu(mods["fc1"](mods["norm"](p))))  # eval: dropout is identity
    else:
        logits = mods["fc"](p)
    w = torch.tensor(rng.uniform(0.3, 3.0, K), dtype=torch.float32) if weighted else None
    if loss == "ce":
        y = torch.tensor(rng.integers(0, K, B))
        L = F.cross_entropy(logits, y, weight=w, label_smoothing=eps)
        g.create_dataset("labels", data=y.numpy().astype(np.int32))
    else:
        tgt = torch.tensor(rng.integers(0, 2, (B, K)), dtype=torch.float32)
        L = F.binary_cross_entropy_with_logits(logits, tgt, pos_weight=w)
        g.create_dataset("targets", data=tgt.numpy())
    L.backward()
    for k, v in dict(pool=POOL[pool], mlp=int(head == "mlp"), bce=int(loss == "bce"), weighted=int(weighted)).items():
        g.attrs[k] = v
    g.attrs["smoothing"] = eps
    if weighted:
        g.create_dataset("weight", data=w.numpy())
    g.create_dataset("z", data=z.detach().numpy())
    g.create_dataset("dz", data=z.grad.numpy())
    g.create_dataset("logits", data=logits.detach().numpy())
    g.create_dataset("loss", data=np.array([L.item()], dtype=np.float32))
    for name, prm in mods.named_parameters():
        g.create_dataset("p/cls." + name, data=prm.detach().numpy())
        g.create_dataset("g/cls." + name, data=prm.grad.numpy())
out.attrs["B"], out.attrs["T"], out.attrs["D"], out.attrs["H"], out.attrs["K"] = B, T, D, H, K
out.attrs["ncases"] = len(CASES)
out.close()
