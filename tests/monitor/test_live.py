#!/usr/bin/env python3
"""The live receiver under stream faults, as real processes: bedside_sim -> live -> monitor.

Beds join while the graph runs (bed 10 three seconds late, with a 5 s pause of heartbeats
only; bed 20, which dies without BYE). Bed 0 suffers a lost chunk, a duplicate, two chunks swapped, garbage, a sample-rate change
mid-stream and a reconnect; bed 1 floods at 10x its rate for 2 s; bed 2 is clean. Every fault
is counted (never zero-filled), the graph keeps running, and the clean bed is untouched: its
chunks all arrive and it raises no alarm. The HDF5 event log has the documented columns.
PF_LIVE_BATCH=N runs live with batch = N (many beds' chunks per message; default 1).
Usage: test_live.py PHYSIOFLOW BEDSIDE_SIM"""
import json, os, re, shutil, subprocess, sys, tempfile
import h5py
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from pftest import check, finish, free_port, node_counters

phys, sim = sys.argv[1], sys.argv[2]
tmp = tempfile.mkdtemp(prefix="pf-live-")
port = free_port()
cfg = os.path.join(tmp, "live.cfg")
open(cfg, "w").write(f'''name = "livefaults";
nodes = (
  {{ name = "live"; kind = "live"; endpoint = "tcp://127.0.0.1:{port}"; exit_idle_s = 1.5; batch = {os.environ.get("PF_LIVE_BATCH", "1")}; }},
  {{ name = "monitor"; kind = "monitor"; events = "{tmp}/events.jsonl"; log = "{tmp}/events.h5"; }}
);
edges = ( {{ from = "live"; to = "monitor"; hwm = 10000; }} );
''')
try:
    g = subprocess.Popen([phys, "run", cfg], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # bed 10 joins 3 s later and pauses (heartbeats only) for 5 s; bed 20 joins and dies without BYE
    late = subprocess.Popen(["sh", "-c", f"sleep 3; exec {sim} --endpoint tcp://127.0.0.1:{port} --beds 1 --first-bed 10 --duration 12 "
                             f"--speed 2 --leads 2 --fault 10:4:pause"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dies = subprocess.Popen([sim, "--endpoint", f"tcp://127.0.0.1:{port}", "--beds", "1", "--first-bed", "20", "--duration", "60", "--leads", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = subprocess.run([sim, "--endpoint", f"tcp://127.0.0.1:{port}", "--beds", "3", "--duration", "20", "--speed", "2", "--leads", "2",
                        "--fault", "0:3:gap", "--fault", "0:5:dup", "--fault", "0:7:swap", "--fault", "0:9:garbage",
                        "--fault", "0:11:rate", "--fault", "0:13:reconnect", "--fault", "1:4:flood"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"simulator failed: {r.stderr}")
    dies.kill()  # no BYE: the station must notice the silence
    late.wait(30)
    out, _ = g.communicate(timeout=60)
    check(g.returncode == 0, f"graph exit code {g.returncode}:\n{out[-2000:]}")
    cnt, line = node_counters(out, "live.0")
    print("live counters:", cnt)
    check(cnt.get("beds") == 5, "5 beds joined (two while the graph ran)")
    check(cnt.get("silent") == 1, "the bed that died without BYE is marked dropped out")
    check(cnt.get("gaps", 0) >= 2, "the lost chunk and the reconnect are gaps")
    check(cnt.get("duplicates") == 1, "one duplicate")
    check(cnt.get("reordered") == 1, "one late (swapped) chunk")
    check(cnt.get("bad", 0) >= 2, "garbage and the rate change are bad input")
    check(cnt.get("reconnects") == 1, "one reconnect")
    check(cnt.get("flood", 0) > 0, "the flood is cut by the rate budget")
    for what in ["bed 0: gap of", "bed 0: duplicate seq", "arrived after seq", "undecodable", "mid-session", "bed 0 reconnected", "bed 1: ", "bed 10 joined", "bed 10: gap of", "bed 20: silent"]:
        check(what in out, f"log names '{what}'")
    ev = [json.loads(l) for l in open(os.path.join(tmp, "events.jsonl"))]
    check(not [e for e in ev if e["bed"] == 2], f"the clean bed raised alarms: {[e for e in ev if e['bed'] == 2]}")
    with h5py.File(os.path.join(tmp, "events.h5")) as f:
        d = f["events"]
        check(d.shape[1] == 8 and d.attrs["columns"].decode().startswith("bed,type,onset,sample"), "HDF5 event log layout")
        check(d.shape[0] == len(ev), f"HDF5 log has {d.shape[0]} events, JSON-lines {len(ev)}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(finish())
