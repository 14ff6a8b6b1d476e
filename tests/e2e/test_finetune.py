"""Fine-tuning graphs (issue 15, item 2): the trainer with objective classify on
beat-centred, AAMI-labelled windows of the shared MIT-BIH records.

1. split (wavelet -> transformer -> trainer) and fused give identical per-step
   losses, accuracies and validation macro-F1 (bit for bit), validation included;
   the best validated step is named by CHECKPOINT/best; the running statistics of
   pool_norm = "running" travel in the head's checkpoint;
2. init_from a checkpoint + freeze_encoder: the encoder's parameters stay exactly
   those of the checkpoint, the head moves; init_from with another preset is
   refused naming both shapes;
3. evaluate = true scores every window of the test stream with a checkpoint's
   encoder and head: JSON with as many rows as windows, identical twice;
4. early stopping: with lr 0 nothing improves after the first pass, the run ends
   after patience + 1 steps instead of `steps`;
6. the embed node (graph form of `physioflow embed`): one vector per beat with its
   AAMI label, record and beat sample, written only when complete, read by probe;
5. bad labels: classes = 3 rejects (counts, names) the beats of class 3 and 4, and
   trains on the rest; a split graph whose wavelet stage is not told `classify`
   fails naming the setting.
Skipped without ../shared/data/mitdb."""
import json
import os
import subprocess
import sys

EXE = os.path.abspath(sys.argv[1])
sys.path.insert(0, os.path.dirname(__file__))
from pftest import check, finish, metrics_rows, run_graph  # noqa: E402

DATA = os.environ.get("PF_SHARED_DATA", "")
if not os.path.isdir(os.path.join(DATA, "mitdb")):
    print("SKIP: no MIT-BIH records at '%s' (PF_SHARED_DATA)" % DATA)
    sys.exit(0)
import h5py  # noqa: E402
import numpy as np  # noqa: E402

TMP = "/tmp/pf-finetune-%d" % os.getpid()
os.makedirs(TMP, exist_ok=True)
ROOT = os.path.join(DATA, "mitdb")
READ = ('  { name = "reader"; kind = "reader"; root = "%s"; records = ["208", "209"]; around = "beats"; keep_n = 8;\n'
        '    window = 1152; interleave = 2; },\n'
        '  { name = "filter"; kind = "filter"; band = "bandpass"; f_lo = 0.5; f_hi = 40.0; resample = 500; normalize = "zscore"; },\n'
        '  { name = "vreader"; kind = "reader"; root = "%s"; records = ["201"]; around = "beats"; keep_n = 50; cap = 6;\n'
        '    window = 1152; },\n'
        '  { name = "vfilter"; kind = "filter"; band = "bandpass"; f_lo = 0.5; f_hi = 40.0; resample = 500; normalize = "zscore"; },\n'
        % (ROOT, ROOT))
LAB = 'objective = "classify"; classes = %d; loss = "ce";'
STAGE = 'leads = 2; window = 1600; batch = 4; accum = 2; gate_heads = 2; val_every = 2; val_windows = 16;'
TRAIN = ('preset = "%s"; steps = %d; lr = %s; warmup_steps = 1; class_names = %s; class_weights = %s; label_smoothing = 0.1;'
         ' head = "mlp"; pooling = "mean"; pool_norm = "running"; metrics = "%s"; checkpoint_dir = "%s"; %s')
NAMES5, W5 = '["N", "S", "V", "F", "Q"]', '[0.3, 3.0, 0.9, 4.0, 1.0]'


def write(name, split, classes=5, steps=4, lr="2e-4", extra="", wextra="", preset="tiny"):
    cfg = os.path.join(TMP, name + ".cfg")
    metrics, ck = os.path.join(TMP, name + ".csv"), os.path.join(TMP, name + "-ck")
    names = NAMES5 if classes == 5 else '["N", "S", "V"]'
    w = W5 if classes == 5 else "[0.3, 3.0, 0.9]"
    tr = TRAIN % (preset, steps, lr, names, w, metrics, ck, extra)
    lab = LAB % classes
    with open(cfg, "w") as f:
        f.write('name = "ft-%s";\nseed = 5;\nnodes = (\n' % name + READ)
        if split:
            f.write('  { name = "wavelet"; kind = "wavelet"; %s %s %s },\n' % (wextra or lab, STAGE, extra if "freeze" in extra or "init_from" in extra else "") +
                    '  { name = "transformer"; kind = "transformer"; preset = "%s"; %s },\n' % (preset, extra if "freeze" in extra or "init_from" in extra else "") +
                    '  { name = "trainer"; kind = "trainer"; %s %s }\n);\n' % (lab, tr) +
                    'edges = (\n  { from = "reader"; to = "filter"; }, { from = "filter"; to = "wavelet.in"; },\n'
                    '  { from = "vreader"; to = "vfilter"; }, { from = "vfilter"; to = "wavelet.val"; },\n'
                    '  { from = "wavelet.out"; to = "transformer.in"; }, { from = "transformer.out"; to = "trainer.in"; },\n'
                    '  { from = "trainer.back"; to = "transformer.grad"; feedback = true; },\n'
                    '  { from = "transformer.back"; to = "wavelet.grad"; feedback = true; }\n);\n')
        else:
            f.write('  { name = "trainer"; kind = "trainer"; %s %s %s }\n);\n' % (lab, STAGE, tr) +
                    'edges = ( { from = "reader"; to = "filter"; }, { from = "filter"; to = "trainer.windows"; },\n'
                    '  { from = "vreader"; to = "vfilter"; }, { from = "vfilter"; to = "trainer.val"; } );\n')
    return cfg, metrics, ck


rows = metrics_rows


def run(cfg, *args, timeout=600):
    return run_graph(EXE, cfg, *args, timeout=timeout)


def params(path):
    with h5py.File(path, "r") as f:
        return {k: np.array(v) for k, v in f["params"].items()}


# 1. split == fused, validation included; best named
cf, mf, ckf = write("fused", False)
cs, ms, cks = write("split", True)
rf, rs = run(cf), run(cs)
check(rf.returncode == 0, "fused fine-tuning ran: " + rf.stderr[-1500:])
check(rs.returncode == 0, "split fine-tuning ran: " + rs.stderr[-1500:])
a, b = rows(mf), rows(ms)
ntrain = sum(r["split"] == "train" for r in a)
nval = sum(r["split"] == "val" for r in a)
check(ntrain == 4 and nval == 3, "4 training rows and 3 validation passes (baseline, steps 2, 4): %d, %d" % (ntrain, nval))
check(all(r["loss"] and r["accuracy"] for r in a), "every row has a loss and an accuracy")
check(all(r["macro_f1"] for r in a if r["split"] == "val"), "every validation row has a macro-F1")
check(a == b and len(a) > 0, "split == fused, every column but the rate:\n%s\n%s" % (a, b))
best = os.path.join(ckf, "best", "latest")
check(os.path.exists(best), "the best validated step is named in %s" % best)
if os.path.exists(best):
    step = [int(l.split("=")[1]) for l in open(best) if l.startswith("step")][0]
    check(os.path.exists(os.path.join(ckf, "best", "step-%08d" % step, "transformer.h5")), "best links its step")
hs = params(os.path.join(ckf, "step-00000003", "head.h5")) if os.path.isdir(os.path.join(ckf, "step-00000003")) else {}
st = hs.get("cls.pool_stats", np.zeros(1))
check(st.shape == (257,) and st[-1] == 32 and np.all(st[128:256] >= 0),
      "pool_norm running: statistics of the 32 windows trained on kept in the checkpoint (count %s)" % st[-1:])

# 2. init_from + freeze_encoder (split: each stage loads and freezes its own part)
ci, mi, cki = write("frozen", True, steps=2, extra='init_from = "%s"; freeze_encoder = true;' % ckf)
ri = run(ci)
check(ri.returncode == 0, "frozen fine-tuning from a checkpoint ran: " + ri.stderr[-1500:])
src = os.path.join(ckf, "step-00000003")
dst = os.path.join(cki, "step-00000001")
if os.path.isdir(dst):
    for role in ("wavelet", "transformer"):
        p0, p1 = params(os.path.join(src, role + ".h5")), params(os.path.join(dst, role + ".h5"))
        same = p0.keys() == p1.keys() and all(np.array_equal(p0[k], p1[k]) for k in p0)
        check(same, "frozen %s: parameters exactly those of init_from" % role)
    h0, h1 = params(os.path.join(src, "head.h5")), params(os.path.join(dst, "head.h5"))
    check(any(not np.array_equal(h0[k], h1[k]) for k in h0), "the head trained")
else:
    check(False, "frozen run checkpointed step 2 in %s" % dst)
cw, _, _ = write("wrongpreset", False, steps=1, preset="small", extra='init_from = "%s";' % ckf)
rw = run(cw)
check(rw.returncode != 0 and "D = 128" in rw.stderr and "'small' is D = 256" in rw.stderr,
      "init_from of another preset refused naming both shapes: " + rw.stderr[-600:])

# 3. evaluate
ev = os.path.join(TMP, "eval.cfg")
with open(ev, "w") as f:
    f.write('name = "ft-eval";\nseed = 5;\nnodes = (\n'
            '  { name = "reader"; kind = "reader"; root = "%s"; records = ["203"]; around = "beats"; cap = 12; window = 1152; },\n'
            '  { name = "filter"; kind = "filter"; band = "bandpass"; f_lo = 0.5; f_hi = 40.0; resample = 500; normalize = "zscore"; },\n'
            '  { name = "trainer"; kind = "trainer"; objective = "classify"; evaluate = true; init_from = "%s/best"; classes = 5;\n'
            '    class_names = %s; leads = 2; window = 1600; batch = 8; gate_heads = 2; preset = "tiny"; val_json = "%s/eval.json"; }\n);\n'
            'edges = ( { from = "reader"; to = "filter"; }, { from = "filter"; to = "trainer.windows"; } );\n'
            % (ROOT, ckf, NAMES5, TMP))
re1 = subprocess.run([EXE, "run", ev], capture_output=True, text=True, timeout=600)  # not quiet: the node table
j1 = json.load(open(os.path.join(TMP, "eval.json"))) if os.path.exists(os.path.join(TMP, "eval.json")) else {}
re2 = run(ev)
j2 = json.load(open(os.path.join(TMP, "eval.json"))) if os.path.exists(os.path.join(TMP, "eval.json")) else {}
check(re1.returncode == 0 and re2.returncode == 0, "evaluate ran: " + re1.stderr[-1500:])
sent = [l for l in re1.stdout.splitlines() + re1.stderr.splitlines() if l.startswith("reader.0")]
nwin = int(sent[0].split()[2]) if sent else -1
check(j1.get("rows") == nwin and nwin > 20, "evaluate scored every window: %s rows, reader sent %d" % (j1.get("rows"), nwin))
check("macro_f1" in j1 and j1 == j2, "evaluate twice: identical metrics")

# 4. early stopping
ce, me, _ = write("early", False, steps=20, lr="0", extra="patience = 1;")
with open(ce) as f:  # the running statistics would still move with lr 0: nothing may change here
    text = f.read().replace('pool_norm = "running"', 'pool_norm = "none"')
with open(ce, "w") as f:
    f.write(text)
re = run(ce)
check(re.returncode == 0, "early-stopping run ran: " + re.stderr[-1500:])
ntr = sum(r["split"] == "train" for r in rows(me))
check(ntr == 3, "patience 1 with nothing improving after the pass of step 2: step 3 is the last of 20 (%d)" % ntr)

# 5. bad labels; a wavelet stage not told classify
c3, m3, _ = write("three", False, classes=3, steps=2)
r3 = run(c3)
check(r3.returncode == 0, "classes = 3 ran: " + r3.stderr[-1500:])
out3 = r3.stdout + r3.stderr
check("outside the 3 classes" in out3 and ("208" in out3), "beats of class 3 and 4 rejected naming record and class: " + out3[-800:])
cn, _, _ = write("nolabels", True, steps=1, wextra='objective = "physiowave";')
rn = run(cn)
check(rn.returncode != 0 and "no labels" in rn.stderr and "wavelet" in rn.stderr,
      "a split graph whose first stage sends no labels fails naming the setting: " + rn.stderr[-600:])

# 6. the embed node
eg = os.path.join(TMP, "embed.cfg")
eo = os.path.join(TMP, "emb.h5")
with open(eg, "w") as f:
    f.write('name = "ft-embed";\nseed = 5;\nnodes = (\n'
            '  { name = "reader"; kind = "reader"; root = "%s"; records = ["203", "208"]; around = "beats"; cap = 8; window = 1152; },\n'
            '  { name = "filter"; kind = "filter"; band = "bandpass"; f_lo = 0.5; f_hi = 40.0; resample = 500; normalize = "zscore"; },\n'
            '  { name = "embed"; kind = "embed"; checkpoint = "%s/best"; out = "%s"; leads = 2; window = 1600; gate_heads = 2; batch = 6; }\n);\n'
            'edges = ( { from = "reader"; to = "filter"; }, { from = "filter"; to = "embed"; } );\n' % (ROOT, ckf, eo))
r6 = subprocess.run([EXE, "run", eg], capture_output=True, text=True, timeout=600)
check(r6.returncode == 0 and os.path.exists(eo) and not os.path.exists(eo + ".partial"), "embed node wrote its file: " + r6.stderr[-800:])
sent = [l for l in r6.stdout.splitlines() + r6.stderr.splitlines() if l.startswith("reader.0")]
nwin = int(sent[0].split()[2]) if sent else -1
if os.path.exists(eo):
    with h5py.File(eo, "r") as f:
        e, lab, rec, smp = f["embeddings"][:], f["labels"][:], [x.decode() if isinstance(x, bytes) else x for x in f["record"][:]], f["sample"][:]
    check(e.shape == (nwin, 128) and np.isfinite(e).all(), "one finite 128-vector per window: %s for %d" % (e.shape, nwin))
    check(set(lab.tolist()) <= {0, 1, 2, 3, 4} and len(set(lab.tolist())) >= 3, "AAMI labels kept: %s" % sorted(set(lab.tolist())))
    check(set(rec) == {"203", "208"} and (smp > 0).all(), "records and beat samples kept")
    rp = subprocess.run([EXE, "probe", eo, eo], capture_output=True, text=True, timeout=300)
    check(rp.returncode == 0 and "macro-F1" in rp.stdout, "probe reads the embed node's file: " + rp.stderr[-400:])

sys.exit(finish())
