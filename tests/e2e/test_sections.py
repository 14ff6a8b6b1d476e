"""Sections declared once (runtime/pf_sections.def): a node that filters or
resamples a window treats every time-indexed section and every sample index
of it the same way. Real MIT-BIH records through real node processes:

1. reader (pairs) -> filter (band-pass, causal) -> sink: the adjacent window
   that travels inside window k equals what the filter gives for window k+1
   as an anchor (bit for bit), and it is filtered (mean ~ 0, not the raw
   baseline).
2. the same with resample = 500: adjacent windows are resampled too (2 x 2500),
   equal to window k+1's treatment, and their R-peaks move with the anchors'.
3. reader -> delineate -> filter (resample = 500) -> sink: the BEATS section's
   indices move to 500 Hz like the R-peaks, absent boundaries stay -1."""
import os
import subprocess
import sys

import h5py
import numpy as np

EXE = os.path.abspath(sys.argv[1])
DATA = os.environ.get("PF_SHARED_DATA", "")
if not os.path.isdir(os.path.join(DATA, "mitdb")):
    print("SKIP: shared data not found at '%s' (needs mitdb)" % DATA)
    sys.exit(77)
sys.path.insert(0, os.path.dirname(__file__))
from pftest import check, finish  # noqa: E402

TMP = "/tmp/pf-sections-%d" % os.getpid()
os.makedirs(TMP, exist_ok=True)


def run(name, middle, edges, reader_extra=""):
    cfg = os.path.join(TMP, name + ".cfg")
    out = os.path.join(TMP, name + ".h5")
    with open(cfg, "w") as f:
        f.write('name = "sec-%s";\nnodes = (\n  { name = "reader"; kind = "reader"; root = "%s/mitdb"; '
                'records = ["119", "208"]; window = 1800; %s },\n%s\n  { name = "sink"; kind = "sink"; path = "%s"; }\n);\n'
                'edges = (%s);\n' % (name, DATA, reader_extra, middle, out, edges))
    r = subprocess.run([EXE, "run", cfg, "--quiet"], capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, "%s: graph runs: %s" % (name, r.stderr[-600:]))
    return h5py.File(out, "r") if r.returncode == 0 else None


def ragged(f, name, i):
    off = f[name + "_offset"][:]
    return f[name][off[i]:off[i + 1]]


def pairs_equal(f, name, resampled):
    rec, wi, data, adj = f["record"][:], f["window_index"][:], f["data"][:], f["adjacent"][:]
    pos = {(int(r), int(w)): i for i, (r, w) in enumerate(zip(rec, wi))}
    worst, n, peaks_ok = 0.0, 0, True
    for (r, w), i in pos.items():
        j = pos.get((r, w + 1))
        if j is None:
            continue
        worst = max(worst, float(np.max(np.abs(adj[i] - data[j]))))
        peaks_ok &= np.array_equal(ragged(f, "adjacent_rpeaks", i), ragged(f, "rpeaks", j))
        n += 1
    check(n > 300, "%s: %d adjacent windows have their own anchor to compare with" % (name, n))
    check(worst == 0.0, "%s: adjacent window k+1 equals anchor k+1 bit for bit (max |diff| %g)" % (name, worst))
    check(peaks_ok, "%s: adjacent R-peaks equal the R-peaks of anchor k+1 (same mapping)" % name)
    a = adj[:200]
    check(abs(float(np.mean(a))) < 0.05, "%s: adjacent windows are filtered (mean %.4f mV)" % (name, float(np.mean(a))))
    check(data.shape[1:] == adj.shape[1:] == ((2, 2500) if resampled else (2, 1800)),
          "%s: anchor and adjacent shapes %s / %s" % (name, data.shape[1:], adj.shape[1:]))


FILTER = '  { name = "filter"; kind = "filter"; band = "bandpass"; f_lo = 0.5; f_hi = 40.0; %s },'
EDGES = '{ from = "reader"; to = "filter"; }, { from = "filter"; to = "sink"; }'

f = run("pairs", FILTER % "", EDGES, "pairs = true;")
if f:
    pairs_equal(f, "band-pass", False)
    # the sink's datasets are the table's "store" names (pf_sections.def), nothing of its own
    import pfwire
    stores = {r["store"].split(":", 1)[1] for r in pfwire.SECTIONS.values() if ":" in r["store"]}
    stores |= {x + "_offset" for x in stores}
    meta = {"window_index", "start_sample", "sample_rate", "epoch", "flags", "record", "record_ids"}
    extra = set(f.keys()) - stores - meta
    check(not extra and {"data", "adjacent", "adjacent_rpeaks", "rpeaks"} <= set(f.keys()),
          "sink datasets follow the section table's store column (unknown: %s)" % sorted(extra))
    f.close()
f = run("pairs500", FILTER % "resample = 500;", EDGES, "pairs = true;")
if f:
    pairs_equal(f, "band-pass + 500 Hz", True)
    check(np.all(f["sample_rate"][:] == 500.0), "windows at 500 Hz")
    f.close()

# BEATS move with the rate: the same delineation at 360 Hz, then resampled
DEL = '  { name = "delineate"; kind = "delineate"; },\n'
f360 = run("beats360", DEL, '{ from = "reader"; to = "delineate"; }, { from = "delineate"; to = "sink"; }')
f500 = run("beats500", DEL + FILTER % "resample = 500;",
           '{ from = "reader"; to = "delineate"; }, { from = "delineate"; to = "filter"; }, '
           '{ from = "filter"; to = "sink"; }')
if f360 and f500:
    # the filter's index mapping (docs/nodes/filter.md): out = round(in * 500/360 + delay)
    delay = 16 * 25 / 18.0
    def keys(g):  # record ids are numbered in arrival order, per file
        ids = [x.decode() for x in g["record_ids"][:]]
        return [(ids[r], int(w)) for r, w in zip(g["record"][:], g["window_index"][:])]
    k360 = {k: i for i, k in enumerate(keys(f360))}
    ok, n, absent = True, 0, 0
    for i, k in enumerate(keys(f500)):
        b5, b3 = ragged(f500, "beats", i), ragged(f360, "beats", k360[k])
        exact = b3 * 500 / 360.0 + delay  # rounded to the nearest sample (ties either way)
        ok &= np.array_equal(b5 < 0, b3 < 0) and np.all(np.abs(np.where(b3 < 0, 0, b5 - exact)) <= 0.5 + 1e-6)
        n += len(b5)
        absent += int(np.sum(b3 < 0))
    check(n > 1000 and ok, "%d beats x 9 boundaries moved to 500 Hz as R-peaks are (%d absent stay -1)" % (n, absent))
for g in (f360, f500):
    if g:
        g.close()
if not os.environ.get("PF_KEEP"): subprocess.run(["rm", "-rf", TMP])
sys.exit(finish())
