"""PhysioWave pretraining as node processes (wavelet -> transformer -> trainer,
gradients back over feedback edges) on synthetic ECG, small enough for the suite:

1. split into three stage processes and fused into the trainer: identical
   per-step losses, gradient norms and learning rates (bit for bit);
2. resume: 2 steps, then `run --resume --set trainer.steps=4` gives the same
   rows 3-4 as an uninterrupted 4-step run;
3. a run killed with SIGKILL after a checkpoint and resumed gives the same
   metrics file as one never stopped; Ctrl-C checkpoints the last step taken
   and a resume from it gives the same rows too;
4. a stage that fails stops the graph, naming it;
5. the shipped MIT-BIH configs (split and fused) on real records, 3 steps: identical
   losses (skipped without ../shared/data)."""
import os
import signal
import subprocess
import sys
import time

EXE = os.path.abspath(sys.argv[1])
sys.path.insert(0, os.path.dirname(__file__))
from pftest import check, finish, metrics_rows, run_graph  # noqa: E402

TMP = "/tmp/pf-pretrain-%d" % os.getpid()
os.makedirs(TMP, exist_ok=True)

COMMON = 'seed = 11;\n'
READER = ('  { name = "reader"; kind = "synth"; records = 3; duration = 30.0; fs = 500.0; leads = 4; window = 1024; },\n'
          '  { name = "filter"; kind = "filter"; band = "bandpass"; f_lo = 0.5; f_hi = 40.0; normalize = "zscore"; },\n')
TRAIN = 'preset = "tiny"; steps = 4; lr = 1e-3; warmup_steps = 1; metrics = "%s"; checkpoint_dir = "%s";'
BATCH = 'batch = 2; accum = 2; leads = 4; window = 1024;'


def write(name, split, extra=""):
    cfg = os.path.join(TMP, name + ".cfg")
    metrics, ck = os.path.join(TMP, name + ".csv"), os.path.join(TMP, name + "-ck")
    with open(cfg, "w") as f:
        f.write('name = "pt-%s";\n%s' % (name, COMMON))
        if split:
            f.write('nodes = (\n' + READER +
                    '  { name = "wavelet"; kind = "wavelet"; %s },\n' % BATCH +
                    '  { name = "transformer"; kind = "transformer"; preset = "tiny"; },\n' +
                    '  { name = "trainer"; kind = "trainer"; %s %s }\n);\n' % (TRAIN % (metrics, ck), extra) +
                    'edges = (\n  { from = "reader"; to = "filter"; }, { from = "filter"; to = "wavelet.in"; },\n'
                    '  { from = "wavelet.out"; to = "transformer.in"; }, { from = "transformer.out"; to = "trainer.in"; },\n'
                    '  { from = "trainer.back"; to = "transformer.grad"; feedback = true; },\n'
                    '  { from = "transformer.back"; to = "wavelet.grad"; feedback = true; }\n);\n')
        else:
            f.write('nodes = (\n' + READER +
                    '  { name = "trainer"; kind = "trainer"; %s %s %s }\n);\n' % (BATCH, TRAIN % (metrics, ck), extra) +
                    'edges = ( { from = "reader"; to = "filter"; }, { from = "filter"; to = "trainer.windows"; } );\n')
    return cfg, metrics, ck


rows = metrics_rows


def run(cfg, *args, timeout=600):
    return run_graph(EXE, cfg, *args, timeout=timeout)


# 1. split vs fused
cf, mf, _ = write("fused", False)
cs, ms, cks = write("split", True)
rf, rs = run(cf), run(cs)
check(rf.returncode == 0, "fused run: exit %d %s" % (rf.returncode, rf.stderr[-800:]))
check(rs.returncode == 0, "split run: exit %d %s" % (rs.returncode, rs.stderr[-800:]))
a, b = rows(mf), rows(ms)
check(len(a) == 4 and a == b, "split equals fused for 4 steps:\n%s\n%s" % (a, b))
check(len(a) == 4 and float(a[-1]["loss"]) < float(a[0]["loss"]), "the loss falls: %s" % [r["loss"] for r in a])
check(os.path.exists(os.path.join(cks, "latest")) and all(
    os.path.exists(os.path.join(cks, "step-00000003", s + ".h5")) for s in ("wavelet", "transformer", "head")),
    "final checkpoint of every stage and the manifest")

# 2. resume with a larger step count
cr, mr, ckr = write("resume", True, "")
r1 = run(cr, "--set", "trainer.steps=2")
check(r1.returncode == 0 and len(rows(mr)) == 2, "2-step run: %s" % r1.stderr[-500:])
r2 = run(cr, "--resume", "--set", "trainer.steps=4")
check(r2.returncode == 0, "resumed run: %s" % r2.stderr[-800:])
check(rows(mr) == a, "rows 3-4 after --resume equal the uninterrupted run:\n%s\n%s" % (rows(mr), a))

# 3. SIGKILL after a checkpoint, then resume
ck_, mk, ckk = write("kill", True, "checkpoint_every = 1;")
p = subprocess.Popen([EXE, "run", ck_, "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
t0 = time.time()
while time.time() - t0 < 300 and not os.path.exists(os.path.join(ckk, "step-00000001", "head.h5")):
    time.sleep(0.2)
time.sleep(0.3)
os.killpg(p.pid, signal.SIGKILL)
subprocess.run(["pkill", "-9", "-f", ck_])
p.wait()
time.sleep(0.5)
done = len(rows(mk))
r3 = run(ck_, "--resume")
check(r3.returncode == 0, "resume after kill -9 (%d rows before): %s" % (done, r3.stderr[-800:]))
check(rows(mk) == a, "metrics after kill -9 and resume equal the uninterrupted run:\n%s\n%s" % (rows(mk), a))

# 3b. Ctrl-C: the run checkpoints the last step taken and exits 130; resuming gives the same rows
ci, mi, cki = write("ctrlc", True, "")
p = subprocess.Popen([EXE, "run", ci, "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
t0 = time.time()
while time.time() - t0 < 300 and len(rows(mi)) < 1:
    time.sleep(0.1)
p.send_signal(signal.SIGINT)
err = p.communicate(timeout=120)[1]
check(p.returncode == 130 and os.path.exists(os.path.join(cki, "latest")),
      "Ctrl-C: exit %d, checkpoint manifest %s: %s" % (p.returncode, os.path.exists(os.path.join(cki, "latest")), err[-500:]))
r5 = run(ci, "--resume")
check(r5.returncode == 0 and rows(mi) == a, "rows after Ctrl-C and --resume equal the uninterrupted run:\n%s\n%s" % (rows(mi), a))

# 4. a failing stage stops the graph and is named
cb, _, _ = write("bad", True, "")
text = open(cb).read().replace('kind = "transformer"; preset = "tiny";', 'kind = "transformer"; preset = "small";')
open(cb, "w").write(text)
r4 = run(cb, timeout=300)
check(r4.returncode == 1 and "trainer" in r4.stderr and "preset" in r4.stderr,
      "mismatched presets: the trainer fails naming them: exit %d %s" % (r4.returncode, r4.stderr[-600:]))

# 5. the MIT-BIH configs, split and fused
DATA = os.environ.get("PF_SHARED_DATA", "")
SRC = os.environ.get("PF_SOURCE_DIR", "")
if os.path.isdir(os.path.join(DATA, "mitdb")) and SRC:
    got = []
    for name, batch in (("pretrain-physiowave", "wavelet.batch=2"), ("pretrain-physiowave-fused", "trainer.batch=2")):
        m = os.path.join(TMP, name + ".csv")
        r = subprocess.run([EXE, "run", os.path.join(SRC, "configs", name + ".cfg"), "--quiet",
                            "--set", 'reader.root="%s/mitdb"' % DATA, "--set", "trainer.steps=3", "--set", batch,
                            "--set", 'trainer.metrics="%s"' % m, "--set", 'trainer.checkpoint_dir="%s"' % os.path.join(TMP, name)],
                           capture_output=True, text=True, timeout=600)
        check(r.returncode == 0, "%s: %s" % (name, r.stderr[-600:]))
        got.append(rows(m))
    check(len(got[0]) == 3 and got[0] == got[1], "MIT-BIH: split equals fused:\n%s\n%s" % (got[0], got[1]))
else:
    print("SKIP part 5: no MIT-BIH records at '%s'" % DATA)

if not os.environ.get("PF_KEEP"):
    subprocess.run(["rm", "-rf", TMP])
sys.exit(finish())
