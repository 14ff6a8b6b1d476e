"""Scale-out benchmark: augmentation throughput with 1, 2 and 4 shuffle
replicas across two network namespaces, and the cost of CURVE against plain
tcp, in one run (needs root: it creates the namespaces and removes them).

Graph: synth on host a -> shuffle x R on host b -> discard on host a, so every
window crosses the namespace boundary twice; 12 leads x 5000 samples (240 KB)
per window. Each configuration runs `runs` times, alternating CURVE and plain;
windows/s = windows / wall time of the two launchers (start to last exit);
medians and CURVE/plain ratios printed. A transport-only row (passthrough
instead of shuffle) isolates the encryption cost.
    sudo /usr/bin/python3 bench/scale/bench_scale.py build/graph/physioflow [runs=3] [records=8] [rows]"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "scale"))
from netns import Hosts  # noqa: E402

EXE = os.path.abspath(sys.argv[1])
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
RECORDS = int(sys.argv[3]) if len(sys.argv) > 3 else 8
DURATION = 300.0   # s per record: 30 windows of 10 s

GRAPH = """name = "bs";
seed = 1;
base_port = 6300;
%(security)s
hosts = {
  a = { address = "%(a)s"; cert = "keys/a.cert"; };
  b = { address = "%(b)s"; cert = "keys/b.cert"; };
};
nodes = (
  { name = "src"; kind = "synth"; host = "a"; records = %(records)d; duration = %(duration)f; fs = 500.0; window = 5000; },
  { name = "work"; kind = "%(kind)s"; replicas = %(replicas)d; host = "b"; %(params)s },
  { name = "out"; kind = "discard"; host = "a"; }
);
edges = ( { from = "src"; to = "work"; }, { from = "work"; to = "out"; } );
"""


def one(H, tmp, kind, params, replicas, curve):
    cfg = os.path.join(tmp, "bs.cfg")
    with open(cfg, "w") as f:
        f.write(GRAPH % dict(H.addr, security="" if curve else "insecure = true;", records=RECORDS, duration=DURATION,
                             kind=kind, replicas=replicas, params=params))
    t0 = time.time()
    procs = [subprocess.Popen(H.cmd(h, [EXE, "run", cfg, "--quiet", "--host", h]), stderr=subprocess.PIPE, text=True, cwd=tmp)
             for h in ("b", "a")]
    codes = [p.wait(timeout=600) for p in procs]
    secs = time.time() - t0
    if codes != [0, 0]:
        raise SystemExit("run failed %s: %s" % (codes, [p.stderr.read()[-300:] for p in procs]))
    return RECORDS * int(DURATION * 500 // 5000) / secs


def main():
    with tempfile.TemporaryDirectory(prefix="pf-bench-scale-") as tmp, Hosts(["a", "b"], 240) as H:
        os.makedirs(os.path.join(tmp, "keys"))
        subprocess.run([EXE, "keygen", "keys/a.cert", "keys/b.cert"], cwd=tmp, check=True, capture_output=True)
        print("bench_scale: %d records x %d windows of 12 x 5000 float32, %d runs per cell, medians; load %.1f"
              % (RECORDS, int(DURATION * 500 // 5000), RUNS, os.getloadavg()[0]))
        print("%-26s %14s %14s %12s" % ("configuration", "plain win/s", "CURVE win/s", "CURVE/plain"))
        rows = [("shuffle x1", "shuffle", "views = 1;", 1), ("shuffle x2", "shuffle", "views = 1;", 2),
                ("shuffle x4", "shuffle", "views = 1;", 4), ("passthrough x1 (transport)", "passthrough", "", 1)]
        only = sys.argv[4].split(",") if len(sys.argv) > 4 else None  # e.g. "passthrough": rows starting so
        rows = [r for r in rows if not only or any(r[0].startswith(o) for o in only)]
        base = None
        for label, kind, params, reps in rows:
            res = {True: [], False: []}
            for _ in range(RUNS):
                for curve in (False, True):
                    res[curve].append(one(H, tmp, kind, params, reps, curve))
            p, c = statistics.median(res[False]), statistics.median(res[True])
            if kind == "shuffle" and reps == 1:
                base = p
            scale = "  (plain x%.2f of x1)" % (p / base) if kind == "shuffle" and base else ""
            print("%-26s %14.1f %14.1f %11.2fx%s" % (label, p, c, c / p, scale), flush=True)


if __name__ == "__main__":
    main()
