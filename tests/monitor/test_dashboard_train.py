#!/usr/bin/env python3
"""End to end: the dashboard draws the loss curve of a graph that trains.

One graph holds a small pretraining (synth -> filter -> trainer, tiny encoder) and the
central station (live -> monitor -> dashboard, two simulated beds). The launcher
re-publishes every node's status; the dashboard subscribes and draws the trainer's
loss gauges per step. In headless Chromium the test asserts from the rendered page that
the graph's nodes and their counters are listed, that a loss curve with >= 2 points
appears and is drawn on its canvas, and, once the run ends, that every point on the page
is the loss the trainer wrote to its metrics file for that step.
Usage: test_dashboard_train.py PHYSIOFLOW BEDSIDE_SIM [SCREENSHOT.png]"""
import base64, csv, json, os, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.error, urllib.request

phys, sim = sys.argv[1], sys.argv[2]
shot = sys.argv[3] if len(sys.argv) > 3 else None
chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
if not chromium or not driver:
    print("SKIP: chromium / chromedriver not installed (Debian packages chromium, chromium-driver; see setup.sh)")
    sys.exit(77)

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

tmp = tempfile.mkdtemp(prefix="pf-dashtrain-")
bed_port, web_port, drv_port = free_port(), free_port(), free_port()
cfg, metrics = os.path.join(tmp, "train.cfg"), os.path.join(tmp, "metrics.csv")
STEPS = 14
with open(cfg, "w") as f:
    f.write(f'''name = "dashtrain";
seed = 11;
nodes = (
  {{ name = "reader"; kind = "synth"; records = 3; duration = 30.0; fs = 500.0; leads = 4; window = 1024; }},
  {{ name = "filter"; kind = "filter"; band = "bandpass"; f_lo = 0.5; f_hi = 40.0; normalize = "zscore"; }},
  {{ name = "trainer"; kind = "trainer"; batch = 2; accum = 1; leads = 4; window = 1024; preset = "tiny"; steps = {STEPS};
     lr = 1e-3; warmup_steps = 1; metrics = "{metrics}"; checkpoint_dir = "{tmp}/ck"; }},
  {{ name = "live"; kind = "live"; endpoint = "tcp://127.0.0.1:{bed_port}"; }},
  {{ name = "monitor"; kind = "monitor"; events = ""; }},
  {{ name = "dashboard"; kind = "dashboard"; port = {web_port}; }}
);
edges = (
  {{ from = "reader"; to = "filter"; }},
  {{ from = "filter"; to = "trainer.windows"; }},
  {{ from = "live"; to = "monitor"; policy = "drop"; hwm = 10000; }},
  {{ from = "monitor"; to = "dashboard"; policy = "drop"; hwm = 10000; }}
);
''')
procs = []
def cleanup():
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            try: p.wait(10)
            except subprocess.TimeoutExpired: p.kill()
    shutil.rmtree(tmp, ignore_errors=True)

def wd(method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{drv_port}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["value"]

def fail(msg):
    print("FAIL:", msg)
    try: print(open(os.path.join(tmp, "graph.log")).read()[-2000:])
    except OSError: pass
    cleanup()
    sys.exit(1)

try:
    graph = subprocess.Popen([phys, "run", cfg], stdout=open(os.path.join(tmp, "graph.log"), "w"), stderr=subprocess.STDOUT)
    procs.append(graph)
    for _ in range(100):
        try: urllib.request.urlopen(f"http://127.0.0.1:{web_port}/", timeout=1).read(); break
        except OSError: time.sleep(0.1)
    else: fail("dashboard did not start")
    procs.append(subprocess.Popen([sim, "--endpoint", f"tcp://127.0.0.1:{bed_port}", "--beds", "2", "--duration", "120", "--leads", "2"],
                                  stderr=subprocess.DEVNULL))
    procs.append(subprocess.Popen([driver, f"--port={drv_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for _ in range(100):
        try: wd("GET", "/status"); break
        except OSError: time.sleep(0.1)
    caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
        "binary": chromium, "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                                     f"--user-data-dir={tmp}/chrome", "--window-size=1400,900"]}}}}
    for attempt in range(3):
        try: sess = wd("POST", "/session", caps)["sessionId"]; break
        except urllib.error.HTTPError as e:
            if attempt == 2: fail(f"chromedriver could not start chromium: {e.read()[:300]}")
            time.sleep(1)
    wd("POST", f"/session/{sess}/url", {"url": f"http://127.0.0.1:{web_port}/"})
    # the legend entry of the loss curve, the listed nodes, and the canvas pixels in the curve's colour
    js = {"script": """const s=document.querySelector("#losslegend .series[data-name='trainer.0 loss']");
        const cv=document.getElementById('loss'),d=cv.getContext('2d').getImageData(0,0,cv.width,cv.height).data;
        const col=s?getComputedStyle(s).color.match(/\\d+/g).map(Number):null;let lit=0;
        if(col)for(let i=0;i<d.length;i+=4)if(Math.abs(d[i]-col[0])<40&&Math.abs(d[i+1]-col[1])<40&&Math.abs(d[i+2]-col[2])<40&&d[i+3]>128)lit++;
        return [s?+s.dataset.points:0,[...document.querySelectorAll('#nodes .node')].map(e=>e.dataset.node),lit,
                document.getElementById('train').offsetHeight,
                document.querySelector("#nodes .node[data-node='trainer.0']")?document.querySelector("#nodes .node[data-node='trainer.0']").textContent:'']""",
          "args": []}
    t0 = time.time()
    pts = 0
    while time.time() - t0 < 120 and graph.poll() is None:
        pts, nodes, lit, height, tr = wd("POST", f"/session/{sess}/execute/sync", js)
        if pts >= 2 and lit > 0: break
        time.sleep(0.25)
    if pts < 2: fail(f"no loss curve with >= 2 points on the page after {time.time() - t0:.0f} s (points {pts}, nodes {nodes})")
    print(f"loss curve with {pts} points drawn ({lit} pixels in its colour, panel {height} px high) after {time.time() - t0:.1f} s")
    if lit < 20 or height < 100: fail(f"the curve is not visible: {lit} pixels in its colour, panel {height} px")
    for want in ("reader.0", "filter.0", "trainer.0", "live.0", "monitor.0", "dashboard.0"):
        if want not in nodes: fail(f"node {want} not listed on the page: {nodes}")
    if "step" not in tr or "loss" not in tr: fail(f"trainer counters not shown: '{tr}'")
    print("nodes on the page:", ", ".join(nodes), "| trainer:", tr)
    # the page's points are the trainer's losses: wait for the last step, then compare
    last = None
    for _ in range(240):
        curve = wd("POST", f"/session/{sess}/execute/sync", {"script": "return curves['trainer.0 loss']||[]", "args": []})
        if curve and curve[-1][0] == STEPS: last = curve; break
        if graph.poll() is not None: break
        time.sleep(0.25)
    if not last: fail(f"the curve did not reach step {STEPS}: {curve}")
    if shot:
        time.sleep(0.5)
        open(shot, "wb").write(base64.b64decode(wd("GET", f"/session/{sess}/screenshot")))
        print("screenshot:", shot)
    wd("DELETE", f"/session/{sess}")
    graph.send_signal(signal.SIGINT)
    graph.wait(60)
    rows = {int(r["step"]): float(r["loss"]) for r in csv.DictReader(open(metrics)) if r["split"] == "train"}
    for step, v in last:
        if int(step) not in rows or abs(rows[int(step)] - v) > 1e-6 * max(1.0, abs(v)) + 1e-6:
            fail(f"page point (step {step}, loss {v}) is not the trainer's (metrics: {rows.get(int(step))})")
    steps = [int(s) for s, _ in last]
    if steps != sorted(set(steps)): fail(f"steps not increasing: {steps}")
    print(f"{len(last)} points on the page, each the trainer's loss at its step (steps {steps[0]}..{steps[-1]})")
    log = open(os.path.join(tmp, "graph.log")).read()
    for bad in ["AddressSanitizer", "LeakSanitizer", "runtime error:"]:
        if bad in log: fail(f"{bad} in the graph's log:\n{log[-3000:]}")
    print("PASS")
finally:
    cleanup()
