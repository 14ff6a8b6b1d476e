#!/usr/bin/env python3
"""Embedding throughput, C (bench_embed) against PyTorch (bench_embed_torch.py), on the
same windows with the same weights: the encoder of configs/pretrain-physiowave.cfg
(preset tiny, wavelet front-end, 2 leads) in inference on beat windows of 1600 samples
(physioflow embed --beats: 3.2 s at 500 Hz). C and PyTorch alternate within each round;
medians over rounds, and the ratio; PyTorch's embeddings are checked against C's.
usage: run_embed.py [--build build] [--rounds 3] [--windows 32] [--batch 16] [--threads 1,2] [--samples 1600]"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--build", default=os.path.join(here, "..", "..", "build"))
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--windows", type=int, default=32)
ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--threads", default="1,2")
ap.add_argument("--samples", type=int, default=1600)
a = ap.parse_args()


def kv(out):
    return {k: v for k, v in (t.split("=") for t in out.split() if "=" in t)}


print("| threads | C windows/s | PyTorch windows/s | C / PyTorch | max rel. difference |")
print("|---|---|---|---|---|")
for th in [int(t) for t in a.threads.split(",")]:
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(th), OMP_NUM_THREADS=str(th), OMP_WAIT_POLICY="PASSIVE")
    c, t, err = [], [], []
    for _ in range(a.rounds):
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run([os.path.join(a.build, "bench/downstream/bench_embed"), "--out", d, "--windows", str(a.windows),
                                "--batch", str(a.batch), "--samples", str(a.samples), "--rounds", "1"],
                               env=env, capture_output=True, text=True, check=True)
            c.append(float(kv(r.stdout)["windows_per_s"]))
            r = subprocess.run([sys.executable, os.path.join(here, "bench_embed_torch.py"), d, "--batch", str(a.batch),
                                "--rounds", "1", "--threads", str(th)], env=env, capture_output=True, text=True, check=True)
            o = kv(r.stdout)
            t.append(float(o["windows_per_s"]))
            err.append(float(o["rel_err_vs_c"]))
    mc, mt = statistics.median(c), statistics.median(t)
    print("| %d | %.2f (%.2f-%.2f) | %.2f (%.2f-%.2f) | %.1fx | %.1e |" % (th, mc, min(c), max(c), mt, min(t), max(t), mc / mt,
                                                                       max(err)), flush=True)
