#!/usr/bin/env python3
"""The monitor as real processes gives the alarms it gives in-process: four PhysioNet/CinC
2015 records replayed as four beds by bedside_sim (int16 over the bedside protocol, 40 ms
chunks, 20x real time) -> live -> monitor, against `physioflow monitor replay` of the same
records (float samples, one process). Same alarm onsets, same types, within 0.1 s.
PF_LIVE_BATCH=N runs live with batch = N (many beds' chunks per message; default 1).
Usage: test_replay_graph.py PHYSIOFLOW BEDSIDE_SIM"""
import json, os, re, shutil, socket, subprocess, sys, tempfile

phys, sim = sys.argv[1], sys.argv[2]
data = os.path.join(os.environ.get("PF_SHARED_DATA", ""), "challenge2015")
if not os.path.exists(os.path.join(data, "ALARMS")):
    print(f"SKIP: {data}/ALARMS not found (PhysioNet/CinC 2015 records in ../shared/data)")
    sys.exit(77)
recs = ["a103l", "b187l", "t700s", "v131l"]  # every signal set: II,V,PLETH / +RESP / ABP
tmp = tempfile.mkdtemp(prefix="pf-replay-")
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
cfg = os.path.join(tmp, "g.cfg")
open(cfg, "w").write(f'''name = "replaygraph";
nodes = (
  {{ name = "live"; kind = "live"; endpoint = "tcp://127.0.0.1:{port}"; exit_idle_s = 1.5; max_rate = 0.0; batch = {os.environ.get("PF_LIVE_BATCH", "1")}; }},
  {{ name = "monitor"; kind = "monitor"; events = "{tmp}/ev.jsonl"; }}
);
edges = ( {{ from = "live"; to = "monitor"; hwm = 100000; }} );
''')
fails = []
try:
    g = subprocess.Popen([phys, "run", cfg], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    r = subprocess.run([sim, "--endpoint", f"tcp://127.0.0.1:{port}", "--records", data, "--list", ",".join(recs), "--beds", str(len(recs)),
                        "--speed", "20", "--duration", "400"], capture_output=True, text=True, timeout=120)
    if r.returncode: g.send_signal(__import__("signal").SIGINT)  # no bed will come: stop the station
    out, _ = g.communicate(timeout=60)
    if r.returncode or g.returncode: fails.append(f"sim {r.returncode} / graph {g.returncode}: {r.stderr[-500:]} {out[-1500:]}")
    if int(os.environ.get("PF_LIVE_BATCH", "1")) > 1:  # the chunks really travelled in batches
        sent = re.search(r"(\d+) chunks sent", r.stderr)
        lv = next((l.split() for l in out.splitlines() if l.startswith("live.0")), [])
        if not sent or len(lv) < 3 or not int(lv[2]) < int(sent.group(1)):
            fails.append(f"batch: live sent {lv[2] if len(lv) > 2 else '?'} messages for {sent.group(1) if sent else '?'} chunks")
        else: print(f"batched: {sent.group(1)} chunks in {lv[2]} messages")
    got = {}
    for l in open(f"{tmp}/ev.jsonl"):
        e = json.loads(l)
        if e["state"] == "onset": got.setdefault(recs[e["bed"]], []).append((e["type"], e["t_s"]))
    for rec in recs:
        rp = subprocess.run([phys, "monitor", "replay", os.path.join(data, rec)], capture_output=True, text=True)
        want = [(m.group(2), float(m.group(1))) for m in re.finditer(r"^\s*([\d.]+) s\s+(\w+)\s+ON", rp.stdout, re.M)]
        have = got.get(rec, [])
        ok = len(want) == len(have) and all(a[0] == b[0] and abs(a[1] - b[1]) <= 0.1 for a, b in zip(sorted(want, key=lambda x: x[1]), sorted(have, key=lambda x: x[1])))
        print(f"{rec}: in-process {len(want)} onsets, as processes {len(have)}: {'same' if ok else 'DIFFERENT'}")
        if not ok: fails.append(f"{rec}: in-process {want} vs processes {have}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
for f in fails: print("FAIL:", f)
print("PASS" if not fails else "FAIL")
sys.exit(1 if fails else 0)
