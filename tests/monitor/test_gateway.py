#!/usr/bin/env python3
"""Gateway frames and monitors sharded by bed, as real processes:
bedside_sim --gateway 4 (7 beds over 2 connections, each tick's chunks as one multipart
message, one frame garbage) -> live (batch, batch_ms) -> monitor x2.

Every frame of a multipart message is taken on its own (the garbage frame costs only
itself: no gap, duplicate or drop on any bed), and bed b reaches monitor replica b mod 2
only: each replica's events file (events.r0.jsonl / events.r1.jsonl) names only its beds,
and the asystole injected on bed 1 and on bed 2 is raised by replica 1 and replica 0.
PF_LIVE_BATCH=N sets live's batch (default 3: shards fill and leave in an irregular order,
so a load-balanced send would mix beds across replicas; 1 = a keyed message per chunk).
Usage: test_gateway.py PHYSIOFLOW BEDSIDE_SIM"""
import json, os, re, shutil, subprocess, sys, tempfile
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from pftest import check, finish, free_port, node_counters

phys, sim = sys.argv[1], sys.argv[2]
tmp = tempfile.mkdtemp(prefix="pf-gateway-")
port = free_port()
cfg = os.path.join(tmp, "gw.cfg")
open(cfg, "w").write(f'''name = "gateway";
nodes = (
  {{ name = "live"; kind = "live"; endpoint = "tcp://127.0.0.1:{port}"; exit_idle_s = 1.5; batch = {os.environ.get("PF_LIVE_BATCH", "3")}; batch_ms = 20.0; }},
  {{ name = "monitor"; kind = "monitor"; replicas = 2; events = "{tmp}/events.jsonl"; log = "{tmp}/events.h5"; }}
);
edges = ( {{ from = "live"; to = "monitor"; hwm = 10000; }} );
''')
try:
    g = subprocess.Popen([phys, "run", cfg], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    r = subprocess.run([sim, "--endpoint", f"tcp://127.0.0.1:{port}", "--beds", "7", "--gateway", "4", "--tick-ms", "10",
                        "--duration", "24", "--speed", "2", "--leads", "3",
                        "--event", "1:asystole:12:8", "--event", "2:asystole:12:8", "--fault", "5:6:garbage"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"simulator failed: {r.stderr}")
    m = re.search(r"(\d+) chunks sent .*\((\d+) refused", r.stderr)
    check(m and int(m.group(2)) == 0, f"the simulator's sockets refused nothing: {r.stderr.strip()}")
    out, _ = g.communicate(timeout=60)
    check(g.returncode == 0, f"graph exit code {g.returncode}:\n{out[-2000:]}")
    cnt, line = node_counters(out, "live.0")
    print("live counters:", cnt)
    check(cnt.get("beds") == 7, "7 beds over 2 gateway connections")
    check(cnt.get("bad") == 1, "the garbage frame is the one bad input")
    for k in ["gaps", "duplicates", "reordered", "flood"]:
        check(cnt.get(k, 0) == 0, f"no {k}: the frames around the garbage one were all taken")
    cols = line.split()
    check(len(cols) > 5 and cols[5] == "0", f"nothing dropped on the live -> monitor edge: {line}")
    for k in range(2):
        mline = next((l for l in out.splitlines() if l.startswith(f"monitor.{k}")), "")
        check(mline and int(mline.split()[1]) > 0, f"monitor replica {k} received chunks: {mline}")
        path = os.path.join(tmp, f"events.r{k}.jsonl")
        check(os.path.exists(path) and os.path.exists(os.path.join(tmp, f"events.r{k}.h5")), f"replica {k} wrote its own events files")
        ev = [json.loads(l) for l in open(path)] if os.path.exists(path) else []
        check(all(e["bed"] % 2 == k for e in ev), f"replica {k} saw only beds b with b mod 2 = {k}: {sorted({e['bed'] for e in ev})}")
        want = 2 if k == 0 else 1
        check(any(e["bed"] == want and e["type"] == "asystole" and e["state"] == "onset" for e in ev),
              f"replica {k} raised bed {want}'s asystole")
    check(not os.path.exists(os.path.join(tmp, "events.jsonl")), "no shared events file")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(finish())
