"""PhysioCLR and hybrid pretraining as node processes on synthetic ECG
(synth with adjacent pairs -> filter -> rpeak -> shuffle (views, 159 features)
-> wavelet -> transformer -> trainer), small enough for the suite:

1. `physioflow features fit` on a training graph; a contrastive objective
   without feature statistics, or with a missing file, is refused naming it;
2. hybrid with a validation branch, split over three stage processes and
   fused into the trainer: identical per-term losses, ranking accuracy and
   validation rows for 20 steps (bit for bit);
3. resume with the contrastive pairs in flight: 10 steps, then --resume to 20
   gives the rows of the uninterrupted run;
4. the physioclr preset (no masking) runs split and its terms are what it
   says (no masked term, contrastive/global/peak present);
5. the trainer drew the curves (PNG); `physioflow plot` draws them again and
   refuses a file that is not a trainer's metrics, naming it;
6. a wavelet stage left on another objective is named by the trainer."""
import os
import subprocess
import sys

EXE = os.path.abspath(sys.argv[1])
sys.path.insert(0, os.path.dirname(__file__))
from pftest import check, finish, metrics_rows, run_graph  # noqa: E402

TMP = "/tmp/pf-hybrid-%d" % os.getpid()
os.makedirs(TMP, exist_ok=True)
STATS = os.path.join(TMP, "stats.h5")

SRC = ('  { name = "reader"; kind = "synth"; records = 2; duration = 120.0; fs = 500.0; leads = 2; window = 1024; hr = 100.0; pairs = true; },\n'
       '  { name = "filter"; kind = "filter"; band = "bandpass"; f_lo = 0.5; f_hi = 40.0; normalize = "zscore"; },\n'
       '  { name = "rpeak"; kind = "rpeak"; },\n  { name = "shuffle"; kind = "shuffle"; },\n')
VAL = ('  { name = "vreader"; kind = "synth"; records = 1; duration = 20.0; fs = 500.0; leads = 2; window = 1024; hr = 100.0; pairs = true; },\n'
       '  { name = "vfilter"; kind = "filter"; band = "bandpass"; f_lo = 0.5; f_hi = 40.0; normalize = "zscore"; },\n'
       '  { name = "vrpeak"; kind = "rpeak"; },\n  { name = "vshuffle"; kind = "shuffle"; },\n')
CHAIN = ('  { from = "reader"; to = "filter"; }, { from = "filter"; to = "rpeak"; }, { from = "rpeak"; to = "shuffle"; },\n'
         '  { from = "vreader"; to = "vfilter"; }, { from = "vfilter"; to = "vrpeak"; }, { from = "vrpeak"; to = "vshuffle"; },\n')
BATCH = 'batch = 2; accum = 2; leads = 2; window = 1024; gate_heads = 2; val_every = 10; val_windows = 8;'


def write(name, split, objective="hybrid", train_extra="", stats=STATS, wavelet_objective=None):
    cfg = os.path.join(TMP, name + ".cfg")
    metrics, ck = os.path.join(TMP, name + ".csv"), os.path.join(TMP, name + "-ck")
    tr = ('objective = "%s"; preset = "tiny"; steps = 20; total_steps = 20; lr = 1e-3; warmup_steps = 2; feature_stats = "%s"; '
          'metrics = "%s"; checkpoint_dir = "%s"; %s' % (objective, stats, metrics, ck, train_extra))
    with open(cfg, "w") as f:
        f.write('name = "hy-%s";\nseed = 5;\nnodes = (\n' % name + SRC + VAL)
        if split:
            f.write('  { name = "wavelet"; kind = "wavelet"; objective = "%s"; %s },\n' % (wavelet_objective or objective, BATCH) +
                    '  { name = "transformer"; kind = "transformer"; preset = "tiny"; },\n' +
                    '  { name = "trainer"; kind = "trainer"; %s }\n);\n' % tr +
                    'edges = (\n' + CHAIN +
                    '  { from = "shuffle"; to = "wavelet.in"; }, { from = "vshuffle"; to = "wavelet.val"; },\n'
                    '  { from = "wavelet.out"; to = "transformer.in"; }, { from = "transformer.out"; to = "trainer.in"; },\n'
                    '  { from = "trainer.back"; to = "transformer.grad"; feedback = true; },\n'
                    '  { from = "transformer.back"; to = "wavelet.grad"; feedback = true; }\n);\n')
        else:
            f.write('  { name = "trainer"; kind = "trainer"; %s %s }\n);\n' % (BATCH, tr) +
                    'edges = (\n' + CHAIN +
                    '  { from = "shuffle"; to = "trainer.windows"; }, { from = "vshuffle"; to = "trainer.val"; }\n);\n')
    return cfg, metrics, ck


rows = metrics_rows


def run(cfg, *args, timeout=600):
    return run_graph(EXE, cfg, *args, timeout=timeout)


# 1. feature statistics from a training graph; refusals
fcfg = os.path.join(TMP, "features.cfg")
with open(fcfg, "w") as f:
    f.write('name = "hy-features";\nseed = 5;\nnodes = (\n' + SRC +
            '  { name = "sink"; kind = "sink"; path = "%s"; }\n);\n' % os.path.join(TMP, "features.h5") +
            'edges = ( { from = "reader"; to = "filter"; }, { from = "filter"; to = "rpeak"; }, { from = "rpeak"; to = "shuffle"; },\n'
            '  { from = "shuffle"; to = "sink"; } );\n')
r = subprocess.run([EXE, "features", "fit", fcfg, "--out", STATS, "--pca", "16"], capture_output=True, text=True, timeout=300)
check(r.returncode == 0 and os.path.exists(STATS), "features fit: %s %s" % (r.stdout[-300:], r.stderr[-500:]))
c0, _, _ = write("nostats", False, stats="")
r = run(c0, timeout=120)
check(r.returncode != 0 and "feature_stats" in r.stderr and "features fit" in r.stderr,
      "hybrid without feature statistics is refused naming the setting: exit %d %s" % (r.returncode, r.stderr[-400:]))
c0, _, _ = write("missing", False, stats=os.path.join(TMP, "absent.h5"))
r = run(c0, timeout=120)
check(r.returncode != 0 and "absent.h5" in r.stderr, "a missing statistics file is named: %s" % r.stderr[-400:])

# 2. split vs fused, 20 steps with validation
cf, mf, _ = write("fused", False)
cs, ms, cks = write("split", True)
rf, rs = run(cf), run(cs)
check(rf.returncode == 0, "fused hybrid: exit %d %s" % (rf.returncode, rf.stderr[-800:]))
check(rs.returncode == 0, "split hybrid: exit %d %s" % (rs.returncode, rs.stderr[-800:]))
a, b = rows(mf), rows(ms)
train = [x for x in a if x["split"] == "train"]
val = [x for x in a if x["split"] == "val"]
check(len(train) == 20 and a == b, "split equals fused for 20 hybrid steps (%d / %d rows)" % (len(a), len(b)))
check([v["step"] for v in val] == ["0", "10", "20"], "validation before the first step, after step 10 and the last: %s" % [v["step"] for v in val])
check(all(x[k] != "" for x in train for k in ("loss_masked", "loss_contrastive", "loss_global", "loss_peak")),
      "every term has a value at every step")
check(all(v["rank_acc"] != "" for v in val), "validation reports the ranking accuracy: %s" % [v["rank_acc"] for v in val])
check(float(val[-1]["loss_global"]) < float(val[0]["loss_global"]) and float(val[-1]["loss_masked"]) < float(val[0]["loss_masked"]),
      "held-out reconstruction falls: global %s -> %s, masked %s -> %s" % (val[0]["loss_global"], val[-1]["loss_global"],
                                                                         val[0]["loss_masked"], val[-1]["loss_masked"]))

# 3. resume with the pairs in flight
cr, mr, _ = write("resume", True)
r1 = run(cr, "--set", "trainer.steps=10")
check(r1.returncode == 0 and len([x for x in rows(mr) if x["split"] == "train"]) == 10, "10-step run: %s" % r1.stderr[-500:])
r2 = run(cr, "--resume", "--set", "trainer.steps=20")
check(r2.returncode == 0, "resumed hybrid run: %s" % r2.stderr[-800:])
got = [x for x in rows(mr) if x["split"] == "train"]
check(got == train, "training rows after --resume equal the uninterrupted run")

# 4. physioclr: no masking, no masked term
cp, mp, _ = write("physioclr", True, objective="physioclr", train_extra="steps = 4;".replace("steps = 4;", ""))
rp = run(cp, "--set", "trainer.steps=4")
pr = [x for x in rows(mp) if x["split"] == "train"]
check(rp.returncode == 0 and len(pr) == 4, "physioclr split run: %s" % rp.stderr[-600:])
check(all(x["loss_masked"] == "" and x["loss_contrastive"] != "" and x["loss_global"] != "" and x["loss_peak"] != "" for x in pr),
      "physioclr: contrastive + global + peak, no masked term: %s" % pr[:1])

# 5. curves
png = mf[:-4] + ".png"
check(os.path.exists(png) and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n", "the trainer wrote its curves %s" % png)
out = os.path.join(TMP, "again.png")
r = subprocess.run([EXE, "plot", ms, "--out", out], capture_output=True, text=True, timeout=60)
check(r.returncode == 0 and os.path.getsize(out) > 10000, "physioflow plot: %s %s" % (r.stdout, r.stderr))
r = subprocess.run([EXE, "plot", fcfg], capture_output=True, text=True, timeout=60)
check(r.returncode != 0 and "features.cfg" in r.stderr, "plot of a non-metrics file names it: %s" % r.stderr)

# 6. the first stage on another objective
cm, _, _ = write("mismatch", True, wavelet_objective="physiowave")
r = run(cm, timeout=300)
check(r.returncode != 0 and "objective" in r.stderr and "wavelet" in r.stderr,
      "trainer names the wavelet's objective: %s" % r.stderr[-500:])

if not os.environ.get("PF_KEEP"):
    subprocess.run(["rm", "-rf", TMP])
sys.exit(finish())
