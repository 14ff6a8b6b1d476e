#!/usr/bin/env python3
"""PyTorch side of bench/model: the identical model and step as bench_model.c
(patch embedding P 64 + LN + GELU + 2-D sin-cos, mask token, pre-norm RoPE
encoder D 256 / 6 layers / 8 heads / MLP 4x / dropout 0.1, head, masked MSE,
AdamW + clipping + LambdaLR warm-up/cosine). Threads: torch.set_num_threads(n)
plus OPENBLAS_NUM_THREADS=n and OMP_WAIT_POLICY=PASSIVE in the environment
(set by run.py). Prints key=value lines like bench_model."""
import argparse
import math
import resource
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--steps", type=int, default=10)
ap.add_argument("--warmup", type=int, default=3)
ap.add_argument("--infer-steps", type=int, default=10)
ap.add_argument("--threads", type=int, default=1)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)

D, DEPTH, H, P, MLP, DROP = 256, 6, 8, 64, 4, 0.1
NF, NTP = 4, 25
T = NF * NTP
HD = D // H


def rope_tables(t, rd):
    inv = 1.0 / (10000 ** (torch.arange(0, rd, 2).float() / rd))
    fr = torch.outer(torch.arange(t).float(), inv)
    return fr.cos(), fr.sin()


COS, SIN = rope_tables(T, HD)


def rope(x):  # interleaved pairs
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * COS - x2 * SIN, x1 * SIN + x2 * COS), dim=-1).flatten(-2)


class Attn(nn.Module):
    def __init__(s):
        super().__init__()
        s.qkv, s.proj = nn.Linear(D, 3 * D), nn.Linear(D, D)

    def forward(s, x):
        b, t, _ = x.shape
        qkv = s.qkv(x).reshape(b, t, 3, H, HD).permute(2, 0, 3, 1, 4)
        q, k, v = rope(qkv[0]), rope(qkv[1]), qkv[2]
        att = ((q @ k.transpose(-2, -1)) * HD ** -0.5).softmax(-1)
        return s.proj((att @ v).transpose(1, 2).reshape(b, t, D))


class Block(nn.Module):
    def __init__(s):
        super().__init__()
        s.norm1, s.attn, s.norm2 = nn.LayerNorm(D), Attn(), nn.LayerNorm(D)
        s.fc1, s.fc2, s.drop = nn.Linear(D, MLP * D), nn.Linear(MLP * D, D), nn.Dropout(DROP)

    def forward(s, x):
        x = x + s.drop(s.attn(s.norm1(x)))
        return x + s.drop(s.drop(s.fc2(s.drop(F.gelu(s.fc1(s.norm2(x)))))))


def sincos_2d():
    q = D // 4
    om = 1.0 / 10000 ** (np.arange(q) / q)
    f, t = np.meshgrid(np.arange(NF), np.arange(NTP), indexing="ij")
    f, t = f.reshape(-1, 1) * om, t.reshape(-1, 1) * om
    return torch.tensor(np.concatenate([np.sin(f), np.cos(f), np.sin(t), np.cos(t)], 1), dtype=torch.float32)


class Model(nn.Module):
    def __init__(s):
        super().__init__()
        s.embed, s.embed_norm = nn.Linear(P, D), nn.LayerNorm(D)
        s.mask_token = nn.Parameter(0.02 * torch.randn(D))
        s.blocks = nn.ModuleList([Block() for _ in range(DEPTH)])
        s.norm = nn.LayerNorm(D)
        s.h1, s.hnorm, s.h2, s.hdrop = nn.Linear(D, D), nn.LayerNorm(D), nn.Linear(D, P), nn.Dropout(DROP)
        s.register_buffer("pos", sincos_2d())
        for m in s.modules():
            if isinstance(m, nn.Linear) and m is not s.embed:
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(s, patches, mask):
        tok = F.gelu(s.embed_norm(s.embed(patches))) + s.pos
        m = mask.unsqueeze(-1)
        x = tok * (1 - m) + s.mask_token * m
        for blk in s.blocks:
            x = blk(x)
        pred = s.h2(s.hnorm(s.hdrop(F.gelu(s.h1(s.norm(x))))))
        return (((pred - patches) ** 2).mean(-1) * mask).sum() / mask.sum()


B = a.batch
model = Model()
patches = torch.randn(B, T, P)
mask = (torch.rand(B, T) < 0.7).float()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.01)
sched = torch.optim.lr_scheduler.LambdaLR(
    opt, lambda s: s / 2 if s < 2 else 0.5 * (1 + math.cos(math.pi * (s - 2) / 998)))
ts = []
first = None
for s in range(a.warmup + a.steps):
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = model(patches, mask)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    if s >= a.warmup:
        ts.append(time.perf_counter() - t0)
    first = first if first is not None else loss.item()
step = statistics.median(ts)
N = B * T
layer = 2 * N * D * 3 * D + 2 * 2 * N * T * D + 2 * N * D * D + 2 * 2 * N * D * MLP * D
fwd = 2 * N * P * D + DEPTH * layer + 2 * N * D * D + 2 * N * D * P
train = 3 * fwd - 2 * N * P * D
nparams = sum(p.numel() for p in model.parameters())
print("train_step_ms=%.2f samples_per_s=%.1f gflops=%.1f loss_first=%.4f loss_last=%.4f params=%d"
      % (1e3 * step, B / step, train / step / 1e9, first, loss.item(), nparams))

# encoder alone, forward + backward
x = torch.randn(B, T, D, requires_grad=True)
dy = torch.randn(B, T, D)
ts = []
for s in range(a.warmup + a.steps):
    t0 = time.perf_counter()
    y = x
    for blk in model.blocks:
        y = blk(y)
    model.norm(y).backward(dy)
    if s >= a.warmup:
        ts.append(time.perf_counter() - t0)
enc = statistics.median(ts)
print("encoder_ms=%.2f encoder_gflops=%.1f" % (1e3 * enc, 3 * DEPTH * layer / enc / 1e9))

model.eval()
ts = []
with torch.inference_mode():
    for s in range(2 + a.infer_steps):
        t0 = time.perf_counter()
        model(patches, mask)
        if s >= 2:
            ts.append(time.perf_counter() - t0)
inf = statistics.median(ts)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print("infer_ms=%.2f infer_samples_per_s=%.1f peak_rss_mb=%.1f" % (1e3 * inf, B / inf, rss))
