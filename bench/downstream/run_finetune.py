#!/usr/bin/env python3
"""Fine-tuning step time, C (bench_finetune) against PyTorch (bench_finetune_torch.py):
the model of configs/finetune-beats.cfg (preset tiny, wavelet front-end, 2 leads x 1600
samples, mlp head, 5 classes), one optimiser step = forward, cross-entropy, backward,
clip, AdamW over every tensor, from the same weights on the same batch. C and PyTorch
alternate within each round; medians over rounds; the losses of both must agree (printed).
usage: run_finetune.py [--build build] [--rounds 3] [--batch 8] [--steps 3] [--threads 1,2] [--freeze 0,1]"""
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
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--steps", type=int, default=3)
ap.add_argument("--threads", default="1,2")
ap.add_argument("--freeze", default="0,1")
a = ap.parse_args()


def kv(out):
    return {k: v for k, v in (t.split("=") for t in out.split() if "=" in t)}


print("| encoder | threads | C ms/step | PyTorch ms/step | PyTorch / C | max rel. loss difference |")
print("|---|---|---|---|---|---|")
for fr in [int(f) for f in a.freeze.split(",")]:
    for th in [int(t) for t in a.threads.split(",")]:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(th), OMP_NUM_THREADS=str(th), OMP_WAIT_POLICY="PASSIVE")
        c, t, err = [], [], []
        for _ in range(a.rounds):
            with tempfile.TemporaryDirectory() as d:
                r = subprocess.run([os.path.join(a.build, "bench/downstream/bench_finetune"), "--out", d, "--batch", str(a.batch),
                                    "--steps", str(a.steps), "--freeze", str(fr)], env=env, capture_output=True, text=True, check=True)
                oc = kv(r.stdout)
                r = subprocess.run([sys.executable, os.path.join(here, "bench_finetune_torch.py"), d, "--steps", str(a.steps),
                                    "--threads", str(th), "--freeze", str(fr)], env=env, capture_output=True, text=True, check=True)
                ot = kv(r.stdout)
                c.append(float(oc["ms_per_step"]))
                t.append(float(ot["ms_per_step"]))
                err.append(max(abs(float(oc["loss%d" % s]) - float(ot["loss%d" % s])) / abs(float(ot["loss%d" % s]))
                               for s in range(a.steps)))
        mc, mt = statistics.median(c), statistics.median(t)
        print("| %s | %d | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) | %.1fx | %.1e |" % ("frozen" if fr else "trained", th, mc, min(c), max(c),
                                                                               mt, min(t), max(t), mt / mc, max(err)), flush=True)
