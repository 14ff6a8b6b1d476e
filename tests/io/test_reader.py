#!/usr/bin/python3
"""The `reader` node over real data, end to end: physioflow runs reader -> sink, and the
HDF5 window file is checked against an independent decoding of the same files
(tests/io/wfdb_ref.py for WFDB, scipy.io for CPSC 2019, h5py for HDF5 sets).

argv: physioflow executable. Needs PF_SHARED_DATA (skips with 77 otherwise)."""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import scipy.io as sio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wfdb_ref  # noqa: E402

EXE = os.path.abspath(sys.argv[1])
DATA = os.environ.get("PF_SHARED_DATA", "")
if not DATA or not os.path.isdir(os.path.join(DATA, "mitdb")):
    print("SKIP: shared data not found (PF_SHARED_DATA=%s)" % DATA)
    sys.exit(77)
failed = 0


def check(cond, what):
    global failed
    if not cond:
        failed += 1
        print("FAIL:", what, flush=True)


def run_graph(tmp, name, reader, sink_replicas=1, seed=7):
    cfg = os.path.join(tmp, name + ".cfg")
    out = os.path.join(tmp, name + ".h5")
    with open(cfg, "w") as f:
        f.write('name = "%s";\nseed = %d;\nnodes = (\n  { name = "src"; kind = "reader"; %s },\n'
                '  { name = "sink"; kind = "sink"; path = "%s"; }\n);\nedges = ( { from = "src"; to = "sink"; } );\n'
                % (name, seed, reader, out))
    r = subprocess.run([EXE, "run", cfg, "--quiet"], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "%s: physioflow run failed: %s" % (name, r.stderr[-1500:]))
    return out, r


def windows(path):
    with h5py.File(path, "r") as f:
        ids = [s.decode() if isinstance(s, bytes) else s for s in f["record_ids"][:]]
        rec, wi, st = f["record"][:], f["window_index"][:], f["start_sample"][:]
        ep, fl = f["epoch"][:], f["flags"][:]
        off, rp, data = f["rpeaks_offset"][:], f["rpeaks"][:], f["data"][:]
        leads = f["data"].attrs.get("lead_names")
        label = f["label"][:] if "label" in f else None
        attrs = dict(f.attrs)
    return [dict(id=ids[rec[i]], wi=int(wi[i]), start=int(st[i]), epoch=int(ep[i]), flags=int(fl[i]),
                 rpeaks=rp[off[i]:off[i + 1]], data=data[i], label=None if label is None else label[i])
            for i in range(len(wi))], attrs, leads


def physical(d, rec):
    """Independent decode -> (nsamp, [lead names], float32 [leads, nsamp] in mV)."""
    nsamp, sigs = wfdb_ref.read_header(os.path.join(d, rec + ".hea"))
    x = wfdb_ref.decode(os.path.join(d, sigs[0]["file"]), sigs[0]["fmt"], sigs[0]["off"], len(sigs))[:nsamp]
    out = []
    for j, s in enumerate(sigs):
        line = [l for l in open(os.path.join(d, rec + ".hea")) if not l.startswith("#")][1 + j].split()
        g = line[2].split("/")[0]
        gain, base = (float(g.split("(")[0]), float(g.split("(")[1].rstrip(")"))) if "(" in g else (float(g), float(line[4]))
        out.append(((x[:, j] - base) / gain).astype(np.float32))
    return nsamp, [s["desc"] for s in sigs], np.array(out)


def test_mitdb_exactly_once(tmp):
    recs = ["101", "207", "230"]
    W = 36000
    out, _ = run_graph(tmp, "mit", 'records = [%s]; root = "%s/mitdb"; window = %d; tail = "pad"; leads = ["V1", "MLII"];'
                       % (", ".join('"%s"' % r for r in recs), DATA, W))
    ws, attrs, leads = windows(out)
    check(attrs.get("complete") == 1, "mit: sink file complete")
    per = -(-650000 // W)
    check(len(ws) == 3 * per, "mit: %d windows, expected %d" % (len(ws), 3 * per))
    for rec in recs:
        n, names, ref = physical(os.path.join(DATA, "mitdb"), rec)
        ann = wfdb_ref.read_ann(os.path.join(DATA, "mitdb", rec + ".atr"))
        beats = np.array([t for t, c in ann if c in wfdb_ref.BEATS])
        got = sorted((w for w in ws if w["id"] == rec), key=lambda w: w["start"])
        seen = np.zeros(n, np.int32)
        ok = ok_peaks = True
        for w in got:
            s = w["start"]
            e = min(s + W, n)
            seen[s:e] += 1
            want = ref[[names.index("V1"), names.index("MLII")], s:e]
            ok &= np.array_equal(w["data"][:, :e - s], want) and not np.any(w["data"][:, e - s:])
            ok_peaks &= np.array_equal(w["rpeaks"], beats[(beats >= s) & (beats < s + W)])
        check(np.all(seen == 1), "mit %s: every sample exactly once" % rec)
        check(ok, "mit %s: samples equal the independent decoding (V1, MLII order), tail zero-padded" % rec)
        check(ok_peaks, "mit %s: reference beats carried with each window" % rec)
    check(leads is not None and "V1,MLII" in str(leads), "mit: lead names %s" % leads)


def test_shards_epochs_shuffle(tmp):
    base = 'records = ["ludb/data"]; root = "%s"; window = 1000; hop = 500; annotator = "ii"; leads = ["II", "V1"];' % DATA
    a, _ = run_graph(tmp, "lud1", base + " epochs = 2; shuffle = true;", seed=5)
    b, _ = run_graph(tmp, "lud2", base + " epochs = 2; shuffle = true; replicas = 3;", seed=5)
    c, _ = run_graph(tmp, "lud3", base + " epochs = 2; shuffle = true;", seed=6)
    wa, _, _ = windows(a)
    wb, _, _ = windows(b)
    wc, _, _ = windows(c)
    key = lambda w: (w["epoch"], w["id"], w["wi"])  # noqa: E731
    check(len(wa) == 100 * 9 * 2, "ludb: %d windows, expected 1800" % len(wa))
    check(sorted(map(key, wa)) == sorted(map(key, wb)) and len(set(map(key, wb))) == len(wb),
          "ludb: 3 reader replicas emit every window exactly once")
    order = lambda ws, e: [(w["id"], w["wi"]) for w in ws if w["epoch"] == e]  # noqa: E731
    check(order(wa, 0) != order(wa, 1), "ludb: epochs are shuffled differently")
    check(order(wa, 0) != order(wc, 0), "ludb: another seed, another order")
    check(order(wa, 0) != sorted(order(wa, 0)), "ludb: shuffled, not record order")
    a2, _ = run_graph(tmp, "lud1b", base + " epochs = 2; shuffle = true;", seed=5)
    check(order(windows(a2)[0], 1) == order(wa, 1), "ludb: same seed, same order")
    n, names, ref = physical(os.path.join(DATA, "ludb/data"), "7")
    w = [w for w in wa if w["id"] == "7" and w["wi"] == 3 and w["epoch"] == 1][0]
    check(np.array_equal(w["data"], ref[[names.index("ii"), names.index("v1")], 1500:2500]), "ludb 7 window 3 values")
    ann = wfdb_ref.read_ann(os.path.join(DATA, "ludb/data/7.ii"))
    check(np.array_equal(w["rpeaks"], [t for t, c in ann if c == 1 and 1500 <= t < 2500]), "ludb: N peaks from 7.ii")


def test_pairs_and_other_sets(tmp):
    out, _ = run_graph(tmp, "pairs", 'records = ["%s/cinc2021/E07500.mat", "%s/cpsc2021/data_35_10"]; window = 1000;'
                       ' pairs = true; annotator = ""; leads = ["I", "II"];' % (DATA, DATA))
    ws, _, _ = windows(out)
    e = [w for w in ws if w["id"] == "E07500"]
    check(len(e) == 4, "pairs: 5 windows of E07500 -> 2 pairs = 4 windows (got %d)" % len(e))
    firsts = [w for w in ws if w["flags"] & 2]
    seconds = [w for w in ws if w["flags"] & 4]
    check(len(firsts) == len(seconds) and len(firsts) + len(seconds) == len(ws), "pairs: every window flagged")
    ok = all(any(s["id"] == f["id"] and s["wi"] == f["wi"] + 1 for s in seconds) for f in firsts)
    check(ok and all(f["wi"] % 2 == 0 for f in firsts), "pairs: (k, k+1) of one record, k even")
    check(len([w for w in ws if w["id"] == "data_35_10"]) == 34, "pairs: cpsc2021 34160 samples -> 17 pairs")
    v = sio.loadmat(os.path.join(DATA, "cinc2021/E07500.mat"))["val"].astype(np.float64) / 1000.0
    w = [w for w in e if w["wi"] == 1][0]
    check(np.allclose(w["data"], v[:2, 1000:2000].astype(np.float32), atol=0, rtol=1e-6), "cinc2021 E07500 window 1 values")
    # CPSC 2019 folder: 25 x 10 s at 500 Hz, R peaks from ref/
    out, _ = run_graph(tmp, "cpsc19", 'records = ["%s/cpsc2019/data"]; window = 5000;' % DATA)
    ws, _, _ = windows(out)
    check(len(ws) == 25, "cpsc2019: 25 windows (got %d)" % len(ws))
    w = [w for w in ws if w["id"] == "data_00014.mat"]
    ref = sio.loadmat(os.path.join(DATA, "cpsc2019/data/data_00014.mat"))["ecg"].ravel().astype(np.float32)
    pk = sio.loadmat(os.path.join(DATA, "cpsc2019/ref/R_00014.mat"))["R_peak"].ravel()
    check(len(w) == 1 and np.array_equal(w[0]["data"][0], ref) and np.array_equal(w[0]["rpeaks"], pk),
          "cpsc2019 data_00014 values and R peaks")
    check(sum(len(w["rpeaks"]) for w in ws) == 389, "cpsc2019: 389 R peaks in all")


def test_hdf5_set(tmp):
    path = os.path.join(tmp, "set.h5")
    x = (np.arange(6 * 2 * 800, dtype=np.float32).reshape(6, 2, 800) * 0.25)
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=x, chunks=(1, 2, 800))
        f.create_dataset("label", data=np.array([3, 1, 4, 1, 5, 9], np.int64))
        f.attrs["fs"] = 100.0
    out, _ = run_graph(tmp, "h5", 'records = ["%s"]; window = 400; leads = ["ch1"];' % path)
    ws, _, _ = windows(out)
    check(len(ws) == 12, "hdf5: 6 items x 2 windows (got %d)" % len(ws))
    ok = all(np.array_equal(w["data"][0], x[int(w["id"].split("[")[1][:-1]), 1, w["start"]:w["start"] + 400]) for w in ws)
    check(ok, "hdf5: channel ch1 values of every window")
    check(sorted(int(w["label"]) for w in ws) == sorted([3, 1, 4, 1, 5, 9] * 2), "hdf5: class labels carried")


def test_errors(tmp):
    cfg = os.path.join(tmp, "bad.cfg")
    with open(cfg, "w") as f:
        f.write('name = "bad";\nnodes = ( { name = "src"; kind = "reader"; records = ["%s/mitdb/101"]; leads = ["V5"]; },\n'
                '  { name = "sink"; kind = "sink"; path = "%s/bad.h5"; } );\nedges = ( { from = "src"; to = "sink"; } );\n'
                % (DATA, tmp))
    r = subprocess.run([EXE, "run", cfg, "--quiet"], capture_output=True, text=True, timeout=60)
    check(r.returncode != 0 and "no lead 'V5' (leads: MLII V1)" in r.stderr, "missing lead fails clearly: " + r.stderr[-400:])
    check(not os.path.exists(os.path.join(tmp, "bad.h5")), "failed run leaves no complete file")


with tempfile.TemporaryDirectory() as tmp:
    for t in (test_mitdb_exactly_once, test_shards_epochs_shuffle, test_pairs_and_other_sets, test_hdf5_set, test_errors):
        t(tmp)
print("test_reader: %s" % ("all checks passed" if not failed else "%d check(s) failed" % failed))
sys.exit(1 if failed else 0)
