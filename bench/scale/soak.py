#!/usr/bin/env python3
"""Soak: a live graph runs for a given time (default an hour) while beds
connect and leave and relay replicas are killed; the memory (RSS) of every
process is sampled and reported flat or not, and the counters are checked
for consistency at the end.

  live -> monitor -> dashboard             (the station; live edges drop, as configs/live-monitor.cfg)
  live -> relay x2 (restart) -> archive    (acknowledged delivery: kill -9 a relay replica every
                                            --kill-every seconds; every chunk must arrive once)

  bench/scale/soak.py [--minutes 60] [--beds 8] [--kill-every 45] [--exe build/cli/physioflow]

Not a ctest (it runs for minutes to hours). Exit 0 when memory is flat and the
counters are consistent, 1 otherwise; the figures are printed either way."""
import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from pftest import free_port  # noqa: E402

GRAPH = """name = "soak";
nodes = (
  { name = "live"; kind = "live"; endpoint = "tcp://127.0.0.1:%(port)d"; silent_s = 3.0; },
  { name = "monitor"; kind = "monitor"; events = "%(dir)s/events.jsonl"; log = "%(dir)s/events.h5"; },
  { name = "dashboard"; kind = "dashboard"; bind = "127.0.0.1"; port = %(http)d; },
  { name = "relay"; kind = "passthrough"; replicas = 2; restart = 1000; },
  { name = "archive"; kind = "discard"; }
);
edges = (
  { from = "live"; to = "monitor"; policy = "drop"; hwm = 20000; },
  { from = "monitor"; to = "dashboard"; policy = "drop"; hwm = 20000; },
  { from = "live"; to = "relay"; hwm = 256; },
  { from = "relay"; to = "archive"; hwm = 256; }
);
"""


def instances(launcher):
    """{'node.replica': pid} of the launcher's children."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == launcher and len(argv) > 5 and argv[1] == b"node":
            out["%s.%s" % (argv[3].decode(), argv[5].decode())] = int(d)
    return out


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def slope_mb_per_h(samples):
    """Least-squares slope of (t s, rss kB) in MB per hour."""
    n = len(samples)
    if n < 3:
        return 0.0
    mt = sum(t for t, _ in samples) / n
    mr = sum(r for _, r in samples) / n
    num = sum((t - mt) * (r - mr) for t, r in samples)
    den = sum((t - mt) ** 2 for t, _ in samples) or 1.0
    return num / den * 3600.0 / 1024.0


def summary_counters(err):
    """{'node.replica': {column or counter: value}} from the launcher's final table."""
    out = {}
    cols = ["msgs_in", "msgs_out", "mb_in", "win_s", "dropped", "malformed", "lost", "blocked_s"]
    for line in err.splitlines():
        m = re.match(r"^(\w+\.\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(\S+)(.*)$", line)
        if not m:
            continue
        d = {c: float(v) for c, v in zip(cols, m.groups()[1:9])}
        d["state"] = m.group(10)
        for k, v in re.findall(r"(\w+)=(\d+)", m.group(11)):
            d[k] = float(v)
        out[m.group(1)] = d
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--beds", type=int, default=8, help="beds connected for the whole run")
    ap.add_argument("--kill-every", type=float, default=45.0, help="mean seconds between kill -9 of a relay replica")
    ap.add_argument("--sample-every", type=float, default=5.0, help="seconds between RSS samples")
    ap.add_argument("--exe", default=os.path.join(ROOT, "build", "cli", "physioflow"))
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    sim = os.path.join(os.path.dirname(a.exe), "..", "examples", "bedside_sim")
    rng = random.Random(a.seed)
    dur = a.minutes * 60.0
    tmp = tempfile.mkdtemp(prefix="pf-soak-")
    port, http = free_port(), free_port()
    cfg = os.path.join(tmp, "soak.cfg")
    with open(cfg, "w") as f:
        f.write(GRAPH % dict(port=port, http=http, dir=tmp))
    ep = "tcp://127.0.0.1:%d" % port
    log = open(os.path.join(tmp, "launcher.log"), "w+")
    launcher = subprocess.Popen([a.exe, "run", cfg], stderr=log, stdout=subprocess.DEVNULL)
    print("soak: %.0f min, %d steady beds + beds that come and go, a relay replica killed every ~%.0f s; folder %s"
          % (a.minutes, a.beds, a.kill_every, tmp), flush=True)
    time.sleep(1.5)
    steady = subprocess.Popen([sim, "--endpoint", ep, "--beds", str(a.beds), "--duration", str(int(dur) + 5),
                               "--seed", str(a.seed), "--fault", "1:%d:reconnect" % int(dur / 3)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    visitors, kills, visits = [], [], 0
    samples = {}          # key -> [(t, rss kB)]
    t0 = time.time()
    next_sample, next_kill, next_visit = t0, t0 + rng.expovariate(1.0 / a.kill_every), t0 + 5
    while time.time() - t0 < dur and launcher.poll() is None:
        now = time.time()
        if now >= next_sample:
            inst = instances(launcher.pid)
            inst["launcher"] = launcher.pid
            for k, pid in inst.items():
                r = rss_kb(pid)
                if r is not None:
                    samples.setdefault("%s[%d]" % (k, pid), []).append((now - t0, r))
            next_sample = now + a.sample_every
        if now >= next_visit:  # beds that connect, stream for a while and leave
            visits += 1
            # bed numbers are reused as patients come and go: a slot no visitor holds now
            busy = {v.slot for v in visitors if v.poll() is None}
            slot = min(set(range(8)) - busy)
            first = 1000 + 10 * slot
            visitors.append(subprocess.Popen([sim, "--endpoint", ep, "--beds", "4", "--first-bed", str(first),
                                              "--duration", str(rng.randint(10, 40)), "--seed", str(a.seed + visits)],
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            visitors[-1].slot = slot
            next_visit = now + rng.uniform(10, 30)
        if now >= next_kill:
            relays = {k: p for k, p in instances(launcher.pid).items() if k.startswith("relay.")}
            if relays:
                k = rng.choice(sorted(relays))
                os.kill(relays[k], signal.SIGKILL)
                kills.append((round(now - t0, 1), k))
            next_kill = now + rng.expovariate(1.0 / a.kill_every)
        visitors = [v for v in visitors if v.poll() is None]
        time.sleep(0.2)
    died_early = launcher.poll() is not None
    for v in visitors + [steady]:
        if v.poll() is None:
            v.terminate()
    for v in visitors + [steady]:
        v.wait()
    launcher.send_signal(signal.SIGINT)
    try:
        launcher.wait(timeout=120)
    except subprocess.TimeoutExpired:
        launcher.kill()
        launcher.wait()
    log.seek(0)
    err = log.read()
    ok = True

    print("\nmemory (RSS) per process, sampled every %.0f s; flat = growth over the second half < 2 MB and < 5%%" % a.sample_every)
    print("%-28s %8s %9s %9s %9s %15s %10s  %s" % ("process[pid]", "lived s", "RSS MB@10%", "@50%", "end MB", "2nd½ min-max",
                                                  "MB/h 2nd½", "verdict"))
    long_lived = 0
    for k in sorted(samples):
        s = samples[k]
        life = s[-1][0] - s[0][0]
        if life < 0.5 * dur or len(s) < 6:
            continue  # killed relay incarnations: too short to judge, listed in the count below
        long_lived += 1
        at = lambda frac: s[min(len(s) - 1, int(frac * len(s)))][1] / 1024.0
        half = [x for x in s if x[0] >= s[0][0] + life / 2]
        growth = (half[-1][1] - half[0][1]) / 1024.0
        flat = growth < 2.0 and growth < 0.05 * max(at(0.5), 1.0)
        ok &= flat
        lo, hi = min(r for _, r in half) / 1024.0, max(r for _, r in half) / 1024.0
        print("%-28s %8.0f %9.1f %9.1f %9.1f %7.1f-%-7.1f %10.2f  %s" % (k, life, at(0.1), at(0.5), s[-1][1] / 1024.0, lo, hi,
                                                                   slope_mb_per_h(half), "flat" if flat else "GROWS %.1f MB" % growth))
    short = len(samples) - long_lived
    print("(%d shorter-lived processes not judged: relay incarnations between kills)" % short)

    with open(os.path.join(tmp, "rss.csv"), "w") as f:  # every sample, for a closer look
        f.write("process,t_s,rss_kb\n")
        for k in sorted(samples):
            for t, r in samples[k]:
                f.write("%s,%.1f,%d\n" % (k, t, r))
    print("samples: %s/rss.csv" % tmp)

    c = summary_counters(err)
    live, mon, arch = c.get("live.0", {}), c.get("monitor.0", {}), c.get("archive.0", {})
    restarts = len(re.findall(r"restarted node 'relay'", err))
    sent = live.get("msgs_out", 0)
    redelivered = live.get("redelivered", 0)
    to_archive = sent - mon.get("msgs_in", 0) - redelivered
    print("\ncounters: %d relay kills, %d restarts, %d visiting bed groups" % (len(kills), restarts, visits))
    print("  live: %d chunks out (%d to the monitor, %d redelivered to relay replicas), %d dropped on the drop edge"
          % (sent, mon.get("msgs_in", 0), redelivered, live.get("dropped", 0)))
    print("  archive: %d received after %d duplicates dropped; the relay edge carried %d distinct chunks"
          % (arch.get("received", 0), arch.get("duplicates", 0), to_archive))
    checks = [
        ("the launcher ran the whole time", not died_early),
        ("it stopped cleanly on Ctrl-C (exit 130)", launcher.returncode == 130),
        ("the archive got every chunk the relay edge carried, once", arch.get("received", -1) == to_archive and to_archive > 0),
        ("archive msgs in = received + duplicates", arch.get("msgs_in", -1) == arch.get("received", 0) + arch.get("duplicates", 0)),
        ("no message lost or malformed anywhere", all(v.get("lost", 0) == 0 and v.get("malformed", 0) == 0 for v in c.values())),
        ("every relay kill was followed by a restart", restarts >= len(kills) - 1),
        ("memory of every long-lived process is flat", all(True for _ in [0]) and ok),
    ]
    for what, good in checks:
        print("  %-55s %s" % (what, "ok" if good else "FAILED"))
        ok &= good
    print("\nlauncher log: %s/launcher.log" % tmp)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
