#!/usr/bin/env python3
"""The real station under load: bedside_sim (N beds, 12 leads, 500 Hz, CHUNK_MS (default 40) ms chunks, real
time) -> live -> monitor, all on this machine, N stepped up until the station falls behind.

A step keeps up when nothing is dropped or refused anywhere (simulator sockets, live's
rate budget, the live -> monitor "drop" edge), the monitor emits the injected alarms, and
their p99 latency stays within 1 s beyond the detector's 0.5 s look-ahead (no backlog).
BATCH (default 64) is the live node's `batch`: 1 sends a message per chunk; BATCH_MS its
`batch_ms` (how long a batch may wait for more chunks). GATEWAY=K: K beds per simulator
connection, one multipart message per tick (a ward gateway; 0 = a connection per bed, up to
512); TICK_MS: the simulator's wake-up clock. MONITORS=R: R monitor replicas, beds sharded
by number.
One bed in 20 gets an asystole at 8 s, while the station absorbs every bed joining at once
(start-up: each new bed's monitor state is allocated and the detectors learn), and another
bed in 20 one at 25 s (steady state), so every step measures alarm latency in both (trigger
sample's acquisition -> emission; p50/p99, and beyond the detector's 0.5 s look-ahead); a
step keeps up on the steady-state alarms, the start-up ones are reported. "station p99": the
part from the triggering chunk's arrival at `live` to the emission (the rest is the bed's
chunk filling up and the network).
Memory: the monitor process's peak RSS (VmHWM) per bed, from the difference between steps.
DASHBOARD=MS: the monitors also feed a dashboard (display_ms = MS); its edge drops under load by
design (live delivery): "disp drop" counts the display messages dropped, not part of keeping up.
Usage: run.py BUILD_DIR [N ...]   (default N: 100 250 500 1000 2000 3000 5000)"""
import json, os, re, signal, socket, statistics, subprocess, sys, tempfile, time

build = sys.argv[1]
steps = [int(a) for a in sys.argv[2:]] or [100, 250, 500, 1000, 2000, 3000, 5000]
phys, sim = f"{build}/cli/physioflow", f"{build}/examples/bedside_sim"
DUR = 36
CHUNK_MS = os.environ.get("CHUNK_MS", "40")  # bedside chunk length; per-message costs scale with 1000 / CHUNK_MS
BATCH = os.environ.get("BATCH", "64")  # live: chunks per message to the monitor (1 = one message per chunk)
GATEWAY = int(os.environ.get("GATEWAY", "0"))  # beds per gateway connection (one multipart message per tick); 0 = a connection per bed (up to 512)
BATCH_MS = os.environ.get("BATCH_MS", "0")
TICK_MS = os.environ.get("TICK_MS", "0")
MONITORS = int(os.environ.get("MONITORS", "1"))
DASHBOARD = os.environ.get("DASHBOARD", "")  # display_ms: attach a dashboard gathering this long (monitor out -> dashboard, a drop edge)

def step(n):
    tmp = tempfile.mkdtemp(prefix="pf-benchmon-")
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    cfg = f"{tmp}/g.cfg"
    s = socket.socket(); s.bind(("127.0.0.1", 0)); wport = s.getsockname()[1]; s.close()
    dms = f"display_ms = {DASHBOARD};" if DASHBOARD else ""
    dash = f',\n  {{ name = "dashboard"; kind = "dashboard"; port = {wport}; }}' if DASHBOARD else ""
    dedge = ',\n  { from = "monitor"; to = "dashboard"; policy = "drop"; hwm = 10000; }' if DASHBOARD else ""
    open(cfg, "w").write(f'''name = "benchmon{n}";
nodes = (
  {{ name = "live"; kind = "live"; endpoint = "tcp://127.0.0.1:{port}"; exit_idle_s = 2.0; silent_s = 10.0; batch = {BATCH}; batch_ms = {BATCH_MS}; }},
  {{ name = "monitor"; kind = "monitor"; replicas = {MONITORS}; events = "{tmp}/ev.jsonl"; {dms} }}{dash}
);
edges = ( {{ from = "live"; to = "monitor"; policy = "drop"; hwm = 100000; }}{dedge} );
''')
    # the graph's output to a file, never an undrained pipe: a node blocked writing a log line
    # (a line per joining bed) stalls while its socket buffers fill
    glog = open(f"{tmp}/graph.log", "w+")
    g = subprocess.Popen([phys, "run", cfg], stdout=glog, stderr=subprocess.STDOUT, text=True)
    time.sleep(1.0)
    evs = []
    for b in range(0, n, 20): evs += ["--event", f"{b}:asystole:8:6"]
    for b in range(10, n, 20): evs += ["--event", f"{b}:asystole:25:6"]
    t0 = time.time()
    sm = subprocess.Popen([sim, "--endpoint", f"tcp://127.0.0.1:{port}", "--beds", str(n), "--duration", str(DUR), "--leads", "12",
                           "--fs", "500", "--chunk-ms", CHUNK_MS, "--loop", "20", "--tick-ms", TICK_MS]
                          + (["--gateway", str(GATEWAY)] if GATEWAY else ["--sockets", str(min(n, 512))]) + evs,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    hwm = {}
    pids = []
    while sm.poll() is None:
        if len(pids) < MONITORS:
            r = subprocess.run(["pgrep", "-f", f"node {cfg} monitor"], capture_output=True, text=True)
            pids = [int(x) for x in r.stdout.split()]
        for pid in pids:
            try:
                st = open(f"/proc/{pid}/status").read()
                hwm[pid] = max(hwm.get(pid, 0), int(re.search(r"VmHWM:\s+(\d+)", st).group(1)))
            except (OSError, AttributeError): pass
        time.sleep(0.5)
    hwm = sum(hwm.values())  # peak RSS of the monitor replicas together
    simerr = sm.stderr.read()
    g.wait(timeout=120)
    glog.seek(0)
    out = glog.read()
    glog.close()
    refused = int(re.search(r"\((\d+) refused", simerr).group(1)) if "refused" in simerr else -1
    live = next((l for l in out.splitlines() if l.startswith("live.0")), "")
    cols = live.split()
    dropped = int(cols[5]) if len(cols) > 5 else -1
    cnt = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", live))
    mons = [l.split() for l in out.splitlines() if re.match(r"monitor\.\d+ ", l)]
    disp_drop = sum(int(c[5]) for c in mons if len(c) > 5) if DASHBOARD else 0
    evf = [f"{tmp}/ev.jsonl"] if MONITORS == 1 else [f"{tmp}/ev.r{k}.jsonl" for k in range(MONITORS)]
    ev = [json.loads(l) for f in evf if os.path.exists(f) for l in open(f)]
    on = [e for e in ev if e["type"] == "asystole" and e["state"] == "onset"]
    lat = sorted(e["latency_ms"] for e in on if e["bed"] % 20 == 10)  # steady state
    pipe = sorted(e["pipeline_ms"] for e in on if e["bed"] % 20 == 10)  # the station's part: the chunk's arrival -> emission
    lat0 = sorted(e["latency_ms"] for e in on if e["bed"] % 20 == 0)  # during start-up
    want = len(range(10, n, 20))
    pct = lambda v, q: v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))] if v else float("nan")
    p50, p99 = pct(lat, 0.5), pct(lat, 0.99)
    # real time: nothing lost, every alarm, and no backlog (a queue on the edge shows as latency growing
    # past the detector's 0.5 s look-ahead; more than 1 s beyond it is a station running behind)
    ok = refused == 0 and dropped == 0 and cnt.get("flood", 0) == 0 and len(lat) >= want and p99 <= 1500
    subprocess.run(["rm", "-rf", tmp])
    return dict(n=n, ok=ok, refused=refused, dropped=dropped, flood=cnt.get("flood", 0), gaps=cnt.get("gaps", 0),
                start_p99=pct(lat0, 0.99), start_n=len(lat0), start_want=len(range(0, n, 20)), pipe_p99=pct(pipe, 0.99),
                alarms=len(lat), want=want, p50=p50, p99=p99, hwm_kb=hwm, disp_drop=disp_drop)

print(f"{'beds':>6} {'keeps up':>8} {'refused':>8} {'dropped':>8} {'flood':>6} {'gaps':>6} {'asystole':>9} {'p50 ms':>8} {'p99 ms':>8} "
      f"{'p99-0.5s':>8} {'station p99':>11} {'mon RSS MB':>10} {'start-up p99 ms':>16}" + (f" {'disp drop':>10}" if DASHBOARD else ""))
prev = None
rows = []
for n in steps:
    r = step(n)
    rows.append(r)
    print(f"{r['n']:>6} {('yes' if r['ok'] else 'NO'):>8} {r['refused']:>8} {r['dropped']:>8} {r['flood']:>6} {r['gaps']:>6} "
          f"{r['alarms']:>4}/{r['want']:<4} {r['p50']:>8.1f} {r['p99']:>8.1f} {r['p99'] - 500:>8.1f} {r['pipe_p99']:>11.1f} {r['hwm_kb'] / 1024:>10.1f} {r['start_p99']:>9.0f} ({r['start_n']}/{r['start_want']})" + (f" {r['disp_drop']:>10}" if DASHBOARD else ""), flush=True)
    if not r["ok"]: break
good = [r for r in rows if r["ok"] and r["hwm_kb"]]  # a step that fell behind did not hold every bed
if len(good) >= 2:
    a, b = good[0], good[-1]
    print(f"monitor memory per bed: {(b['hwm_kb'] - a['hwm_kb']) / (b['n'] - a['n']):.0f} KB (peak RSS difference between {a['n']} and {b['n']} beds)")
ok = [r["n"] for r in rows if r["ok"]]
print(f"largest bed count kept up in real time: {max(ok) if ok else 0} (target 5000)")
