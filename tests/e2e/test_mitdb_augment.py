"""configs/mitdb-augment.cfg on real MIT-BIH records: reader -> filter
(360 -> 500 Hz) -> rpeak -> shuffle x3 -> sink. Every window once, two views,
features, and R-peaks that match the cardiologists' beat annotations."""
import os
import subprocess
import sys

import h5py
import numpy as np

EXE, SRC = os.path.abspath(sys.argv[1]), sys.argv[2]
DATA = os.environ.get("PF_SHARED_DATA", "")
if not os.path.isdir(os.path.join(DATA, "mitdb")):
    print("SKIP: shared data not found at '%s' (needs mitdb)" % DATA)
    sys.exit(77)
sys.path.insert(0, os.path.dirname(__file__))
from pftest import check, finish  # noqa: E402


def beats(record):
    """Reference beat sample indices from the .atr file (MIT format), decoded here."""
    raw = np.fromfile(os.path.join(DATA, "mitdb", record + ".atr"), dtype="<u2")
    t, out, i = 0, [], 0
    nonbeat = {0, 14, 15, 16, 18, 19, 20, 21, 22, 23, 24, 26, 27, 28, 29, 30, 32, 33, 36, 37, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49}
    while i < len(raw):
        w = int(raw[i]); code, val = w >> 10, w & 1023
        i += 1
        if code == 0 and val == 0:
            break
        if code == 59:  # SKIP: 32-bit interval follows
            t += (int(raw[i]) << 16) | int(raw[i + 1]); i += 2
        elif code == 63:  # AUX: skip the string
            i += (val + 1) // 2
        elif code in (60, 61, 62):
            pass
        else:
            t += val
            if code not in nonbeat:
                out.append(t)
    return np.array(out)


os.chdir(SRC)
cfg = "configs/mitdb-augment.cfg"
text = open(cfg).read()
tmpcfg = "/tmp/pf-mitdb-augment-%d.cfg" % os.getpid()
out = "/tmp/pf-mitdb-augment-%d.h5" % os.getpid()
with open(tmpcfg, "w") as f:
    f.write(text.replace('path = "out/mitdb-augment.h5"', 'path = "%s"' % out).replace('root = "../shared/data/mitdb"', 'root = "%s/mitdb"' % DATA))
r = subprocess.run([EXE, "run", tmpcfg, "--quiet"], capture_output=True, text=True, timeout=300)
os.unlink(tmpcfg)
check(r.returncode == 0, "graph runs: " + r.stderr[-800:])
if r.returncode == 0:
    f = h5py.File(out, "r")
    ids = [s.decode() for s in f["record_ids"][:]]
    rec, wi = f["record"][:], f["window_index"][:]
    keys = set(zip(rec.tolist(), wi.tolist()))
    check(len(keys) == len(wi), "no window twice")
    per = {ids[k]: np.sum(rec == k) for k in range(len(ids))}
    check(all(n == 361 for n in per.values()) and len(per) >= 5, "361 five-second windows per 30-min record: %s" % per)
    check(f["data"].shape[1:] == (2, 2500) and f["views"].shape[1:] == (2, 2, 2500), "2 leads x 2500 (500 Hz), 2 views")
    feats = f["features"][:]
    check(feats.shape[1] == 159 and np.all(np.isfinite(feats)), "159 finite features per window")
    rr = feats[:, 100]
    check(np.median(rr[rr > 0]) > 400 and np.median(rr[rr > 0]) < 1500, "median RR %.0f ms is physiological" % np.median(rr[rr > 0]))
    # detected R-peaks (absolute, 500 Hz) against the reference beats (360 Hz), 150 ms window
    off = f["rpeaks_offset"][:]
    rp = f["rpeaks"][:]
    for k, name in enumerate(ids):
        det = np.unique(np.concatenate([rp[off[i]:off[i + 1]] for i in np.where(rec == k)[0]])) * 360.0 / 500.0
        ref = beats(name)
        ref = ref[ref < 361 * 1800]
        j = np.searchsorted(det, ref)
        d = np.minimum(np.abs(det[np.clip(j, 0, len(det) - 1)] - ref), np.abs(det[np.clip(j - 1, 0, len(det) - 1)] - ref))
        se = np.mean(d <= 0.150 * 360)
        check(se > 0.98, "%s: %.2f%% of reference beats have a detection within 150 ms" % (name, 100 * se))
    f.close()
    os.unlink(out)
sys.exit(finish())
