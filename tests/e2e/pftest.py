"""Check harness shared by the Python end-to-end tests: check() records a
failure with its reason and goes on; finish() prints "N passed, N failed" and
returns the exit code."""
import sys

_count = {"passed": 0, "failed": 0}


def check(cond, what):
    if cond:
        _count["passed"] += 1
    else:
        _count["failed"] += 1
        print("FAIL:", what, flush=True)


def finish():
    print("%d passed, %d failed" % (_count["passed"], _count["failed"]))
    sys.stdout.flush()
    return 1 if _count["failed"] else 0


def metrics_rows(path):
    """A trainer's metrics CSV as dicts, without the one timing column (windows_per_s):
    what split and fused, or resumed and uninterrupted runs must agree on."""
    import csv
    import os
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [{k: v for k, v in r.items() if k != "windows_per_s"} for r in csv.DictReader(f)]


def run_graph(exe, cfg, *args, timeout=600):
    """`physioflow run CFG --quiet ARGS`, output captured."""
    import subprocess
    return subprocess.run([exe, "run", cfg, "--quiet"] + list(args), capture_output=True, text=True, timeout=timeout)


def free_port():
    """A TCP port free on 127.0.0.1 now (for a station's bed endpoint)."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def node_counters(out, instance):
    """The counters (name=value) of INSTANCE (e.g. "live.0") in a graph's closing table, and its line."""
    import re
    line = next((l for l in out.splitlines() if l.startswith(instance) and "=" in l), "")
    return dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", line)), line
