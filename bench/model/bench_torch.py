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

import os
import sys

import torch
import torch.nn as nn

# the model is defined once, beside the golden-tensor test
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "model"))
import physiowave_torch  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--steps", type=int, default=10)
ap.add_argument("--warmup", type=int, default=3)
ap.add_argument("--infer-steps", type=int, default=10)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--full", action="store_true", help="the whole pretraining step, as bench_full.c")
ap.add_argument("--preset", default="tiny")
ap.add_argument("--leads", type=int, default=12)
ap.add_argument("--samples", type=int, default=2048)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)

if a.full:
    # wavelet front-end (12 x 2048) -> Spec patches -> embedding -> frequency-guided mask ->
    # encoder -> head -> masked MSE vs the Spec patches (not detached), AdamW + clipping;
    # dropout 0.1 everywhere: the step bench_full.c times
    DIM, DEP, HEADS = {"tiny": (128, 4, 4), "small": (256, 6, 8), "physiowave-ecg": (384, 8, 12)}[a.preset]
    B, C, TS, P = a.batch, a.leads, a.samples, 64
    nf, ntp = 4 * C, TS // P
    wave = physiowave_torch.WaveletFrontEnd(C, drop=0.1)
    model = physiowave_torch.Model(DIM, DEP, HEADS, P, 4, nf, ntp, 0.1)
    for m in list(wave.modules()) + list(model.modules()):
        if isinstance(m, nn.Linear) and m is not model.patch_embed.proj:
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
    params = list(wave.parameters()) + list(model.parameters())
    opt = torch.optim.AdamW(params, lr=2e-5, betas=(0.9, 0.95), weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: s / 2 if s < 2 else 0.5 * (1 + math.cos(math.pi * (s - 2) / 998)))
    x = torch.randn(B, C, TS)
    ts, first = [], None
    for s in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        patches = wave(x).reshape(B, nf * ntp, P)
        tok = model.embed(patches)
        mask = physiowave_torch.freq_guided_mask(tok.detach())
        loss = model(patches, mask, tok)[2]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if s >= a.warmup:
            ts.append(time.perf_counter() - t0)
        first = first if first is not None else loss.item()
    tw = []
    for s in range(a.warmup + a.steps):
        xx = x.clone().requires_grad_(True)
        t0 = time.perf_counter()
        spec = wave(xx)
        spec.backward(torch.ones_like(spec))
        if s >= a.warmup:
            tw.append(time.perf_counter() - t0)
    step = statistics.median(ts)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("train_step_ms=%.2f samples_per_s=%.2f wavelet_ms=%.2f loss_first=%.5f loss_last=%.5f params=%d "
          "tokens=%d peak_rss_mb=%.1f" % (1e3 * step, B / step, 1e3 * statistics.median(tw), first, loss.item(),
                                          sum(p.numel() for p in params), nf * ntp, rss))
    sys.exit(0)

D, DEPTH, H, P, MLP, DROP = 256, 6, 8, 64, 4, 0.1
NF, NTP = 4, 25
T = NF * NTP


class Model(physiowave_torch.Model):
    """the shared definition, initialised as pf_transformer.c does; returns the loss"""

    def __init__(s):
        super().__init__(D, DEPTH, H, P, MLP, NF, NTP, DROP)
        with torch.no_grad():
            s.mask_token.copy_(0.02 * torch.randn(D))
        for m in s.modules():
            if isinstance(m, nn.Linear) and m is not s.patch_embed.proj:
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(s, patches, mask):
        return super().forward(patches, mask)[2]


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
