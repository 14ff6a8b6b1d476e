"""Learning works (issue 14, item 6): a short hybrid pretraining on the shared MIT-BIH
records (configs/pretrain-hybrid.cfg, `tiny`, its feature statistics fitted first with
configs/features-mitdb.cfg), 40 steps of 8 windows (with their views and neighbours), evaluated on the validation branch's held-out patients before
the first step and after the last:

- the contrastive ranking accuracy (share of anchors whose positives all rank above every
  negative) beats the same measure at initialisation by at least RANK_MARGIN;
- the masked, global and peak-aware reconstruction losses each fall by at least LOSS_MARGIN.

Skipped without ../shared/data/mitdb."""
import csv
import os
import subprocess
import sys

EXE = os.path.abspath(sys.argv[1])
sys.path.insert(0, os.path.dirname(__file__))
from pftest import check, finish  # noqa: E402

STEPS = int(os.environ.get("PF_LEARN_STEPS", "40"))
# measured here: ranking 0.225 -> 0.275, masked -43 %, global -29 %, peak -21 % (40 steps of 8 windows)
RANK_MARGIN = 0.03   # absolute
LOSS_MARGIN = 0.15   # relative: at least 15 % lower
DATA = os.environ.get("PF_SHARED_DATA", "")
SRC = os.environ.get("PF_SOURCE_DIR", "")
if not (os.path.isdir(os.path.join(DATA, "mitdb")) and SRC):
    print("SKIP: no MIT-BIH records at '%s' (PF_SHARED_DATA)" % DATA)
    sys.exit(0)
TMP = "/tmp/pf-learning-%d" % os.getpid()
os.makedirs(TMP, exist_ok=True)
root = 'reader.root="%s/mitdb"' % DATA
stats = os.path.join(TMP, "stats.h5")
r = subprocess.run([EXE, "features", "fit", os.path.join(SRC, "configs", "features-mitdb.cfg"), "--out", stats, "--pca", "50",
                    "--set", root, "--set", 'sink.path="%s/features.h5"' % TMP], capture_output=True, text=True, timeout=900)
check(r.returncode == 0, "features fit on the training records: %s" % r.stderr[-500:])
metrics = os.path.join(TMP, "hybrid.csv")
r = subprocess.run([EXE, "run", os.path.join(SRC, "configs", "pretrain-hybrid.cfg"), "--quiet",
                    "--set", root, "--set", 'vreader.root="%s/mitdb"' % DATA, "--set", "trainer.steps=%d" % STEPS, "--set", "wavelet.accum=1",
                    "--set", "wavelet.val_every=%d" % STEPS, "--set", 'trainer.feature_stats="%s"' % stats,
                    "--set", 'trainer.metrics="%s"' % metrics, "--set", 'trainer.checkpoint_dir="%s/ck"' % TMP],
                   capture_output=True, text=True, timeout=3000)
check(r.returncode == 0, "hybrid pretraining: exit %d %s" % (r.returncode, r.stderr[-800:]))
val = [x for x in csv.DictReader(open(metrics))] if os.path.exists(metrics) else []
val = [x for x in val if x["split"] == "val"]
check(len(val) == 2 and val[0]["step"] == "0" and val[1]["step"] == str(STEPS), "validation at step 0 and %d: %s" % (STEPS, [v["step"] for v in val]))
if len(val) == 2:
    a, b = val
    print("held-out patients, step 0 -> %d: ranking accuracy %s -> %s; masked %s -> %s; global %s -> %s; peak %s -> %s"
          % (STEPS, a["rank_acc"], b["rank_acc"], a["loss_masked"], b["loss_masked"], a["loss_global"], b["loss_global"],
             a["loss_peak"], b["loss_peak"]))
    check(float(b["rank_acc"]) >= float(a["rank_acc"]) + RANK_MARGIN,
          "ranking accuracy beats initialisation by >= %.2f: %s -> %s" % (RANK_MARGIN, a["rank_acc"], b["rank_acc"]))
    for k in ("loss_masked", "loss_global", "loss_peak"):
        check(float(b[k]) <= (1 - LOSS_MARGIN) * float(a[k]), "%s falls by >= %.0f %%: %s -> %s" % (k, 100 * LOSS_MARGIN, a[k], b[k]))
if not os.environ.get("PF_KEEP"):
    subprocess.run(["rm", "-rf", TMP])
sys.exit(finish())
