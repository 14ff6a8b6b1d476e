#!/usr/bin/env python3
"""The full pipelined hybrid pretraining (issue 14, item 7) in one run:

  (1) pipeline: reader (MIT-BIH, window pairs) -> filter (360 -> 500 Hz) -> rpeak ->
      shuffle (view + 159 features) -> wavelet -> transformer -> trainer, every node its
      own process, objective hybrid, `tiny`; windows/s = median of the trainer's per-step
      rate after the first steps; peak memory = the largest sum of RSS over all the
      graph's processes (sampled from /proc every 0.2 s);
  (2) each model stage alone (bench_stages: the same objects, shapes and threads on one
      micro-batch) and the DSP front alone (the same graph into a sink): pipeline
      efficiency = (1) / the slowest of them;
  (3) PyTorch (Debian's python3-torch) training the same model with the same losses on
      the same windows preloaded in memory (bench_torch_hybrid.py), best of 1 and 2
      threads: (1) / PyTorch's windows/s, and the memory ratio.

  bench/model/bench_hybrid.py [--build build] [--steps 12] [--data ../shared/data/mitdb]
Both sides get OMP_WAIT_POLICY=PASSIVE and the same OPENBLAS_CORETYPE.
"""
import argparse
import csv
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
ap = argparse.ArgumentParser()
ap.add_argument("--build", default=os.path.join(ROOT, "build"))
ap.add_argument("--steps", type=int, default=12)
ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "mitdb"))
ap.add_argument("--coretype", default="SkylakeX")
ap.add_argument("--python", default="/usr/bin/python3")
ap.add_argument("--torch-threads", default="2", help="thread counts to try on the PyTorch side (best kept), e.g. 1,2")
ap.add_argument("--torch-steps", type=int, default=2, help="PyTorch steps timed (after one warm-up step)")
a = ap.parse_args()
EXE = os.path.join(a.build, "cli", "physioflow")
STAGES = os.path.join(a.build, "bench", "model", "bench_stages")
if not os.path.isdir(a.data):
    sys.exit("no MIT-BIH records at %s" % a.data)
env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OPENBLAS_CORETYPE=a.coretype)
tmp = tempfile.mkdtemp(prefix="pf-bench-hybrid-")
B, M, C, T = 8, 2, 2, 1600
RECS = '["101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124", "201", "203"]'
FRONT = ('  { name = "reader"; kind = "reader"; root = "%s"; records = %s; window = 1152; shuffle = true; pairs = true; },\n'
         '  { name = "filter"; kind = "filter"; band = "bandpass"; f_lo = 0.5; f_hi = 40.0; resample = 500; normalize = "zscore"; },\n'
         '  { name = "rpeak"; kind = "rpeak"; },\n  { name = "shuffle"; kind = "shuffle"; },\n' % (a.data, RECS))
FRONT_EDGES = '  { from = "reader"; to = "filter"; }, { from = "filter"; to = "rpeak"; }, { from = "rpeak"; to = "shuffle"; },\n'


def sample_rss(pids_of, out, stop):
    while not stop.is_set():
        tot = 0
        for pid in pids_of():
            try:
                with open("/proc/%d/status" % pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            tot += int(line.split()[1])
            except OSError:
                pass
        out.append(tot / 1024.0)
        time.sleep(0.2)


def graph_pids(tag):
    r = subprocess.run(["pgrep", "-f", tag], capture_output=True, text=True)
    return [int(p) for p in r.stdout.split()]


# 0. the DSP front alone, into a sink: its rate, the feature statistics and PyTorch's windows
wcfg = os.path.join(tmp, "windows.cfg")
open(wcfg, "w").write('name = "bench-front";\nseed = 7;\nnodes = (\n' + FRONT.replace("shuffle = true; ", "") +
                      '  { name = "sink"; kind = "sink"; path = "%s/windows.h5"; }\n);\nedges = (\n' % tmp + FRONT_EDGES +
                      '  { from = "shuffle"; to = "sink"; }\n);\n')
r = subprocess.run([EXE, "run", wcfg], capture_output=True, text=True, env=env)
m = re.search(r"wrote (\d+) windows to .* \(checksum \w+, ([\d.]+) s\)", r.stderr)
if r.returncode or not m:
    sys.exit("front graph failed: %s" % r.stderr[-800:])
front_wps = int(m.group(1)) / float(m.group(2))
stats = os.path.join(tmp, "stats.h5")
r = subprocess.run([EXE, "features", "fit", os.path.join(tmp, "windows.h5"), "--out", stats, "--pca", "50"],
                   capture_output=True, text=True, env=env)
if r.returncode:
    sys.exit("features fit failed: %s" % r.stderr[-500:])

# 1. the pipeline
metrics = os.path.join(tmp, "pipeline.csv")
pcfg = os.path.join(tmp, "pipeline.cfg")
open(pcfg, "w").write(
    'name = "bench-hybrid";\nseed = 7;\nnodes = (\n' + FRONT.replace("pairs = true;", "pairs = true; epochs = 10;") +
    '  { name = "wavelet"; kind = "wavelet"; objective = "hybrid"; leads = %d; window = %d; batch = %d; accum = %d; gate_heads = 2; },\n' % (C, T, B, M) +
    '  { name = "transformer"; kind = "transformer"; preset = "tiny"; },\n'
    '  { name = "trainer"; kind = "trainer"; objective = "hybrid"; preset = "tiny"; steps = %d; lr = 5e-4; '
    'feature_stats = "%s"; metrics = "%s"; }\n);\nedges = (\n' % (a.steps, stats, metrics) + FRONT_EDGES +
    '  { from = "shuffle"; to = "wavelet.in"; }, { from = "wavelet.out"; to = "transformer.in"; },\n'
    '  { from = "transformer.out"; to = "trainer.in"; },\n'
    '  { from = "trainer.back"; to = "transformer.grad"; feedback = true; },\n'
    '  { from = "transformer.back"; to = "wavelet.grad"; feedback = true; }\n);\n')
rss, stop = [], threading.Event()
th = threading.Thread(target=sample_rss, args=(lambda: graph_pids(pcfg), rss, stop))
th.start()
t0 = time.time()
r = subprocess.run([EXE, "run", pcfg, "--quiet"], capture_output=True, text=True, env=env)
wall = time.time() - t0
stop.set()
th.join()
if r.returncode:
    sys.exit("pipeline failed: %s" % r.stderr[-800:])
rows = [x for x in csv.DictReader(open(metrics)) if x["split"] == "train"]
skip = min(3, len(rows) - 1)
pipe_wps = statistics.median(float(x["windows_per_s"]) for x in rows[skip:])
pipe_mem = max(rss) if rss else float("nan")

# 2. each model stage alone
r = subprocess.run([STAGES, "--objective", "hybrid", "--leads", str(C), "--samples", str(T), "--batch", str(B),
                    "--steps", "3", "--warmup", "1"], capture_output=True, text=True,
                   env=dict(env, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2"))
kv = dict(re.findall(r"(\w+)=([\w.\-]+)", r.stdout))
stage = {k: float(kv[k + "_wps"]) for k in ("wavelet", "transformer", "trainer")}
stage["dsp front"] = front_wps
slowest = min(stage, key=stage.get)

# 3. PyTorch on the same windows, best thread count
best = None
for th_n in [int(v) for v in a.torch_threads.split(",")]:
    r = subprocess.run([a.python, os.path.join(HERE, "bench_torch_hybrid.py"), os.path.join(tmp, "windows.h5"), stats,
                        "--batch", str(B), "--accum", str(M), "--steps", str(a.torch_steps), "--warmup", "1", "--threads", str(th_n)],
                       capture_output=True, text=True,
                       env=dict(env, OPENBLAS_NUM_THREADS=str(th_n), OMP_NUM_THREADS=str(th_n)))
    tv = dict(re.findall(r"(\w+)=([\w.\-]+)", r.stdout))
    if r.returncode or "torch_wps" not in tv:
        sys.exit("PyTorch side failed: %s" % r.stderr[-800:])
    if best is None or float(tv["torch_wps"]) > float(best["torch_wps"]):
        best = dict(tv, threads=th_n)

print("hybrid pretraining, MIT-BIH, tiny, %d leads x %d samples, micro-batch %d x %d (x3 rows), %d steps" % (C, T, B, M, a.steps))
print("stage alone (windows/s): " + ", ".join("%s %.2f" % (k, v) for k, v in stage.items()))
print("pipeline: %.2f windows/s (median of steps %d-%d), wall %.0f s, peak memory of all processes %.0f MB"
      % (pipe_wps, skip + 1, len(rows), wall, pipe_mem))
print("pipeline efficiency vs the slowest stage alone (%s, %.2f windows/s): %.2f (target >= 0.9)"
      % (slowest, stage[slowest], pipe_wps / stage[slowest]))
print("PyTorch (%d thread(s), windows preloaded, no preprocessing): %.2f windows/s, peak RSS %.0f MB"
      % (best["threads"], float(best["torch_wps"]), float(best["peak_rss_mb"])))
print("physioflow / PyTorch: windows/s %.2fx (target >= 1.5x), memory %.2fx"
      % (pipe_wps / float(best["torch_wps"]), pipe_mem / float(best["peak_rss_mb"])))
subprocess.run(["rm", "-rf", tmp])
