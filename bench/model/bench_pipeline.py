#!/usr/bin/env python3
"""Pipelined pretraining throughput: the model split over three stage processes
(wavelet -> transformer -> trainer, gradients over feedback edges) against the same
model fused into the trainer, reading and filtering synthetic ECG alongside.
Target: split >= 0.9x fused. Also reports the pipeline bubble (share of the
wall time the wavelet and transformer stages wait for gradients) and checks that
the two runs' losses are identical.

usage: bench/model/bench_pipeline.py [--exe build/cli/physioflow] [--runs 3] [--steps 8]
       [--preset tiny] [--batch 2] [--accum 2] [--leads 12] [--window 2048]"""
import argparse
import csv
import os
import re
import statistics
import subprocess
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--exe", default="build/cli/physioflow")
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--steps", type=int, default=8)
ap.add_argument("--preset", default="tiny")
ap.add_argument("--batch", type=int, default=2)
ap.add_argument("--accum", type=int, default=2)
ap.add_argument("--leads", type=int, default=12)
ap.add_argument("--window", type=int, default=2048)
ap.add_argument("--threads", default="2")
a = ap.parse_args()
tmp = tempfile.mkdtemp(prefix="pf-bench-pipe-")
env = dict(os.environ, OPENBLAS_NUM_THREADS=a.threads, OMP_NUM_THREADS=a.threads, OMP_WAIT_POLICY="PASSIVE")

reader = ('  { name = "reader"; kind = "synth"; records = 8; duration = 300.0; fs = 500.0; leads = %d; window = %d; },\n'
          '  { name = "filter"; kind = "filter"; band = "bandpass"; f_lo = 0.5; f_hi = 40.0; normalize = "zscore"; },\n'
          % (a.leads, a.window))
batch = "batch = %d; accum = %d; leads = %d; window = %d;" % (a.batch, a.accum, a.leads, a.window)
train = 'preset = "%s"; steps = %d; lr = 1e-3; metrics = "%%s";' % (a.preset, a.steps)


def config(split, metrics):
    if split:
        return ('name = "bench-split";\nseed = 3;\nnodes = (\n' + reader +
                '  { name = "wavelet"; kind = "wavelet"; %s },\n' % batch +
                '  { name = "transformer"; kind = "transformer"; preset = "%s"; },\n' % a.preset +
                '  { name = "trainer"; kind = "trainer"; %s }\n);\n' % (train % metrics) +
                'edges = ( { from = "reader"; to = "filter"; }, { from = "filter"; to = "wavelet.in"; },\n'
                '  { from = "wavelet.out"; to = "transformer.in"; }, { from = "transformer.out"; to = "trainer.in"; },\n'
                '  { from = "trainer.back"; to = "transformer.grad"; feedback = true; },\n'
                '  { from = "transformer.back"; to = "wavelet.grad"; feedback = true; } );\n')
    return ('name = "bench-fused";\nseed = 3;\nnodes = (\n' + reader +
            '  { name = "trainer"; kind = "trainer"; %s %s }\n);\n' % (batch, train % metrics) +
            'edges = ( { from = "reader"; to = "filter"; }, { from = "filter"; to = "trainer.windows"; } );\n')


def run(split, k):
    metrics = os.path.join(tmp, "%s-%d.csv" % ("split" if split else "fused", k))
    cfg = os.path.join(tmp, "g.cfg")
    open(cfg, "w").write(config(split, metrics))
    r = subprocess.run([a.exe, "run", cfg], capture_output=True, text=True, env=env)
    if r.returncode:
        raise SystemExit("run failed: " + r.stderr[-2000:])
    rows = list(csv.DictReader(open(metrics)))
    # windows/s over the steps after the first (which includes start-up)
    wps = statistics.median(float(x["windows_per_s"]) for x in rows[1:])
    ran = float(re.search(r"ran ([0-9.]+) s", r.stderr).group(1))
    waits = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(wavelet|transformer)\.0 .*grad_wait_ms=(\d+)", r.stderr, re.M)}
    losses = [x["loss"] for x in rows]
    return wps, ran, waits, losses


res = {"split": [], "fused": []}
for k in range(a.runs):
    for mode in ("fused", "split"):
        res[mode].append(run(mode == "split", k))
        time.sleep(1)
fw = statistics.median(r[0] for r in res["fused"])
sw = statistics.median(r[0] for r in res["split"])
same = all(r[3] == res["fused"][0][3] for r in res["split"] + res["fused"])
print("pipelined pretraining, %s, %d leads x %d, micro-batch %d x %d, %d steps, %d runs, %s BLAS threads per process"
      % (a.preset, a.leads, a.window, a.batch, a.accum, a.steps, a.runs, a.threads))
print("  fused (1 model process):   %.2f windows/s (median)" % fw)
print("  split (3 stage processes): %.2f windows/s (median)" % sw)
print("  split / fused: %.2fx (target >= 0.9)" % (sw / fw))
for st in ("wavelet", "transformer"):
    b = statistics.median(r[2].get(st, 0) / 1000.0 / r[1] for r in res["split"])
    print("  bubble: %s waits for gradients %.0f%% of the run" % (st, 100 * b))
print("  losses identical split vs fused, every run: %s" % same)
