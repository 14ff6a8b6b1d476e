#!/usr/bin/python3
"""Labelled windows and the downstream commands on real records, end to end.

1. reader around = "beats" -> sink over MIT-BIH 208 (N, S, V, F beats), 102 (paced:
   left out) and 101 with annotator = "" (no reference: detected R-peaks): one window
   centred on every reference beat whose window fits, its samples equal an independent
   decoding, its AAMI class from an independent code table, the beat's sample and code.
2. dx_labels over CinC 2021 records: the multi-hot rows equal the header codes mapped by
   the scored-class table.
3. physioflow embed --beats --features handcrafted / probe: rows and labels agree with
   the reader's; the JSON metrics agree with a recomputation from its confusion matrix
   (AUROC: tests/eval/test_cls.c); bad inputs are refused by name.

argv: physioflow executable. Needs PF_SHARED_DATA (skips with 77 otherwise)."""
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wfdb_ref  # noqa: E402

EXE = os.path.abspath(sys.argv[1])
DATA = os.environ.get("PF_SHARED_DATA", "")
failed = 0
# AAMI EC57 by WFDB code number (independent of nodes/io/pf_labels.c)
AAMI = {1: 0, 2: 0, 3: 0, 11: 0, 34: 0, 25: 0, 35: 0, 8: 1, 4: 1, 7: 1, 9: 1, 5: 2, 10: 2, 41: 2, 6: 3, 12: 4, 38: 4, 13: 4, 30: 4}


def physical(d, rec):
    """Independent decode (as test_reader.py) -> (nsamp, [lead names], float32 [leads, nsamp] in mV)."""
    nsamp, sigs = wfdb_ref.read_header(os.path.join(d, rec + ".hea"))
    x = wfdb_ref.decode(os.path.join(d, sigs[0]["file"]), sigs[0]["fmt"], sigs[0]["off"], len(sigs))[:nsamp]
    out = []
    for j, s in enumerate(sigs):
        line = [l for l in open(os.path.join(d, rec + ".hea")) if not l.startswith("#")][1 + j].split()
        g = line[2].split("/")[0]
        gain, base = (float(g.split("(")[0]), float(g.split("(")[1].rstrip(")"))) if "(" in g else (float(g), float(line[4]))
        out.append(((x[:, j] - base) / gain).astype(np.float32))
    return nsamp, [s["desc"] for s in sigs], np.array(out)


def check(cond, what):
    global failed
    if not cond:
        failed += 1
        print("FAIL:", what, flush=True)


def run_graph(tmp, name, reader):
    cfg, out = os.path.join(tmp, name + ".cfg"), os.path.join(tmp, name + ".h5")
    with open(cfg, "w") as f:
        f.write('name = "%s";\nseed = 7;\nnodes = (\n  { name = "src"; kind = "reader"; %s },\n'
                '  { name = "sink"; kind = "sink"; path = "%s"; }\n);\nedges = ( { from = "src"; to = "sink"; } );\n'
                % (name, reader, out))
    r = subprocess.run([EXE, "run", cfg, "--quiet"], capture_output=True, text=True, timeout=500)
    check(r.returncode == 0, "%s: physioflow run failed: %s" % (name, r.stderr[-1500:]))
    return out


def pf(*args):
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=500)


def test_beats(tmp):
    W = 720
    out = run_graph(tmp, "beats", 'records = ["208", "102"]; root = "%s/mitdb"; window = %d; around = "beats";' % (DATA, W))
    with h5py.File(out) as f:
        ids = [s.decode() if isinstance(s, bytes) else s for s in f["record_ids"][:]]
        rec, st, lab, data = f["record"][:], f["start_sample"][:], f["label"][:], f["data"]
        n, names, ref = physical(os.path.join(DATA, "mitdb"), "208")
        ann = wfdb_ref.read_ann(os.path.join(DATA, "mitdb", "208.atr"))
        want = [(t, c) for t, c in ann if c in wfdb_ref.BEATS and t - W // 2 >= 0 and t - W // 2 + W <= n]
        check(set(ids) == {"208"}, "beats: records %s (102 is paced and left out)" % ids)
        check(len(st) == len(want), "beats: %d windows, %d reference beats fit" % (len(st), len(want)))
        if len(st) == len(want):
            order = np.argsort(st, kind="stable")
            ok = all(st[i] == t - W // 2 and lab[i] == AAMI[c] for i, (t, c) in zip(order, want))
            check(ok, "beats: every window centred on its beat (the sink keeps start = beat - window / 2), AAMI class")
            counts = np.bincount(lab, minlength=5)
            check(counts[3] > 300 and counts[1] > 0 and counts[2] > 900, "beats: 208 has F, S and V beats: %s" % counts)
            for i in order[::400]:
                s = int(st[i])
                check(np.array_equal(data[i], ref[:, s:s + W]), "beats: samples of the window at %d" % s)
    out = run_graph(tmp, "detected", 'records = ["101"]; root = "%s/mitdb"; window = %d; around = "beats"; annotator = "";'
                    % (DATA, W))
    with h5py.File(out) as f:
        st = np.sort(f["start_sample"][:]) + W // 2
        has_label = "label" in f
    ref = np.array([t for t, c in wfdb_ref.read_ann(os.path.join(DATA, "mitdb", "101.atr")) if c in wfdb_ref.BEATS])
    near = np.abs(st[:, None] - ref[None, :]).min(axis=1) <= 54  # EC57: within 150 ms
    check(abs(len(st) - len(ref)) < 20 and near.mean() > 0.99 and not has_label,
          "detected: %d detected beats (reference %d), %.3f within 150 ms of one, no labels" % (len(st), len(ref), near.mean()))


def test_dx(tmp):
    d = os.path.join(DATA, "cinc2021")
    recs = sorted(f[:-4] for f in os.listdir(d) if f.endswith(".hea"))[:12]
    out = run_graph(tmp, "dx", 'records = [%s]; root = "%s"; window = 5000; dx_labels = true;' % (", ".join('"%s"' % r for r in recs), d))
    # the 26 scored classes in pf_labels.c order, codes from the challenge's dx_mapping_scored.csv
    classes = [[164889003], [164890007], [6374002], [426627000], [164909002, 733534002], [59118001, 713427006], [270492004],
               [713426002], [39732003], [445118002], [251146004], [698252002], [426783006], [284470004, 63593006], [10370003],
               [365413008], [427172004, 17338001], [164947007], [111975006], [164917005], [47665007], [427393009], [426177001],
               [427084000], [164934002], [59931005]]
    with h5py.File(out) as f:
        ids = [s.decode() if isinstance(s, bytes) else s for s in f["record_ids"][:]]
        lab, rec = f["label"][:], f["record"][:]
    check(lab.shape == (len(recs), 26), "dx: label rows %s" % (lab.shape,))
    for i in range(len(rec)):
        dx = [l for l in open(os.path.join(d, ids[rec[i]] + ".hea")) if l.startswith("# Dx:")][0]
        codes = {int(c) for c in dx[5:].strip().split(",")}
        want = np.array([float(any(c in codes for c in cl)) for cl in classes], np.float32)
        check(np.array_equal(lab[i], want), "dx: %s labels %s, want %s" % (ids[rec[i]], lab[i], want))


def test_embed_encoder(tmp):
    """the encoder path of embed: CinC 2021 windows with their diagnoses, MIT-BIH beat windows"""
    d = os.path.join(DATA, "cinc2021")
    out = os.path.join(tmp, "dx.h5")
    r = pf("embed", "--data", d, "--dx", "--window", "1024", "--batch", "4", "--out", out, "E07500", "HR06000")
    check(r.returncode == 0, "embed --dx: %s" % r.stderr[-800:])
    if r.returncode:
        return
    with h5py.File(out) as f:
        x, lab = f["embeddings"][:], f["labels"][:]
        recs = [s.decode() if isinstance(s, bytes) else s for s in f["record"][:]]
        widx = f["window_index"][:]
        src = f["source"][0]
    check(x.shape == (2 * (5000 // 1024), 128) and np.all(np.isfinite(x)), "embed --dx: %s vectors" % (x.shape,))
    check(recs == ["E07500"] * 4 + ["HR06000"] * 4 and list(widx) == [0, 1, 2, 3] * 2, "embed --dx: rows %s %s" % (recs, widx))
    check(np.linalg.norm(x[0] - x[1]) > 1e-3, "embed --dx: different windows, different vectors")
    for i, rec in ((0, "E07500"), (4, "HR06000")):
        dx = [l for l in open(os.path.join(d, rec + ".hea")) if l.startswith("# Dx:")][0]
        check(lab[i].sum() >= 1 and "random initialisation" in str(src), "embed --dx: %s labelled (%s)" % (rec, dx.strip()))
    out = os.path.join(tmp, "b.h5")
    r = pf("embed", "--data", os.path.join(DATA, "mitdb"), "--beats", "--window", "1152", "--cap", "2", "--keep-n", "1000",
           "--out", out, "208")
    check(r.returncode == 0, "embed --beats: %s" % r.stderr[-800:])
    with h5py.File(out) as f:
        lab, smp = f["labels"][:], f["sample"][:]
    ann = dict((t, c) for t, c in wfdb_ref.read_ann(os.path.join(DATA, "mitdb", "208.atr")) if c in wfdb_ref.BEATS)
    check(sorted(set(lab)) == [0, 1, 2, 3, 4] and all(AAMI[ann[int(t)]] == l for t, l in zip(smp, lab)),
          "embed --beats: every class of 208 thinned to a few beats, labels of their annotations: %s" % list(lab))


def test_embed_sets(tmp):
    """PhysioWave HDF5 sets: one window per item, labels from `label` (classes or multi-label)"""
    n, names, ref = physical(os.path.join(DATA, "mitdb"), "101")
    x = np.stack([ref[:, k * 1152:(k + 1) * 1152] for k in range(6)]).astype(np.float32)
    cls = np.array([0, 1, 2, 0, 1, 2])
    multi = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 1], [1, 1, 0], [0, 0, 0], [1, 0, 1]], np.float32)
    for name, lab in (("c.h5", cls), ("m.h5", multi)):
        with h5py.File(os.path.join(tmp, name), "w") as f:
            f["data"] = x
            f["label"] = lab
            f.attrs["fs"] = 360.0
    for name, lab in (("c.h5", cls), ("m.h5", multi)):
        out = os.path.join(tmp, "e" + name)
        r = pf("embed", "--data", tmp, "--batch", "4", "--out", out, name)
        check(r.returncode == 0, "embed set %s: %s" % (name, r.stderr[-600:]))
        if r.returncode:
            continue
        with h5py.File(out) as f:
            e, got = f["embeddings"][:], f["labels"][:]
            recs = [s.decode() if isinstance(s, bytes) else s for s in f["record"][:]]
            classes = [s.decode() if isinstance(s, bytes) else s for s in f["classes"][:]]
        check(e.shape == (6, 128) and np.array_equal(got, lab) and recs == ["%s[%d]" % (name, i) for i in range(6)]
              and classes == ["0", "1", "2"], "embed set %s: rows %s labels %s classes %s" % (name, recs, got, classes))
    # the windows of the set embed like the same samples read from the record (items = windows 0..5 of 101)
    r = pf("embed", "--data", os.path.join(DATA, "mitdb"), "--window", "1152", "--batch", "4", "--out", os.path.join(tmp, "w.h5"), "101")
    with h5py.File(os.path.join(tmp, "w.h5")) as f, h5py.File(os.path.join(tmp, "ec.h5")) as g:
        d = np.abs(f["embeddings"][:6] - g["embeddings"][:]).max()
    check(r.returncode == 0 and d < 1e-4, "embed set vs record: max difference %g" % d)


def test_embed_probe(tmp):
    mit = os.path.join(DATA, "mitdb")
    tr, te = os.path.join(tmp, "tr.h5"), os.path.join(tmp, "te.h5")
    r = pf("embed", "--data", mit, "--beats", "--window", "720", "--features", "handcrafted", "--out", tr, "208", "118", "104")
    check(r.returncode == 0 and "104: paced record, excluded" in r.stderr, "embed train: %s" % r.stderr[-800:])
    r = pf("embed", "--data", mit, "--beats", "--window", "720", "--features", "handcrafted", "--out", te, "223")
    check(r.returncode == 0, "embed test: %s" % r.stderr[-800:])
    with h5py.File(tr) as f:
        recs = [s.decode() if isinstance(s, bytes) else s for s in f["record"][:]]
        lab, smp, x = f["labels"][:], f["sample"][:], f["embeddings"][:]
        classes = [s.decode() if isinstance(s, bytes) else s for s in f["classes"][:]]
    check(classes == ["N", "S", "V", "F", "Q"], "embed: classes %s" % classes)
    check(sorted(set(recs)) == ["118", "208"] and x.shape[1] == 47 and np.all(np.isfinite(x)), "embed: records and features")
    ann = [(t, c) for t, c in wfdb_ref.read_ann(os.path.join(mit, "118.atr")) if c in wfdb_ref.BEATS and 360 <= t <= 650000 - 360]
    sel = [i for i, r in enumerate(recs) if r == "118"]
    check([int(smp[i]) for i in sel] == [t for t, _ in ann] and [int(lab[i]) for i in sel] == [AAMI[c] for _, c in ann],
          "embed: 118 rows are its reference beats with their AAMI classes")
    # probe: JSON against a recomputation
    js = os.path.join(tmp, "p.json")
    r = pf("probe", tr, te, "--json", js, "--ignore-class", "Q", "--epochs", "10")
    check(r.returncode == 0 and "EC57 gross" in r.stdout, "probe: %s %s" % (r.stdout[-500:], r.stderr[-500:]))
    m = json.load(open(js))["metrics"]
    conf = np.array(m["confusion"])
    check(conf.sum() == m["rows"] and abs(np.trace(conf) / conf.sum() - m["accuracy"]) < 1e-6, "probe: accuracy from the confusion")
    for k, c in enumerate(m["classes"]):
        tp, fp, fn = conf[k, k], conf[:, k].sum() - conf[k, k], conf[k, :].sum() - conf[k, k]
        if tp + fn:
            check(abs(c["se"] - tp / (tp + fn)) < 1e-6, "probe: %s Se" % c["name"])
        if tp + fp + fn:
            check(abs(c["f1"] - 2 * tp / (2 * tp + fp + fn)) < 1e-6, "probe: %s F1" % c["name"])
    v = conf[2, 2] / (conf[2, 2] + conf[[0, 1], 2].sum())  # EC57: a fusion beat called V is no false V
    check(abs(m["ec57_gross"]["veb_ppv"] - v) < 1e-6, "probe: VEB +P %g, recomputed %g" % (m["ec57_gross"]["veb_ppv"], v))
    check(all(c["auroc"] is None or 0 <= c["auroc"] <= 1 for c in m["classes"]), "probe: AUROC in [0, 1]")
    # the probe learns: scored on its own training rows, N and V separate well
    r = pf("probe", tr, tr, "--json", js, "--ignore-class", "Q", "--epochs", "10")
    m = json.load(open(js))["metrics"]
    check(r.returncode == 0 and m["classes"][0]["auroc"] > 0.95 and m["classes"][2]["auroc"] > 0.95,
          "probe on its training rows: N, V AUROC %s %s" % (m["classes"][0]["auroc"], m["classes"][2]["auroc"]))
    # bad input, refused by name
    only_n = os.path.join(tmp, "n.h5")
    pf("embed", "--data", mit, "--beats", "--window", "720", "--features", "handcrafted", "--out", only_n, "115")
    r = pf("probe", only_n, te, "--ignore-class", "Q")
    check(r.returncode != 0 and "class S has no training rows in " + only_n in r.stderr, "probe: missing class: %s" % r.stderr)
    with h5py.File(te, "a") as f:
        f["labels"][3] = 9
    r = pf("probe", tr, te)
    check(r.returncode != 0 and te in r.stderr and "row 3" in r.stderr and "label 9" in r.stderr, "probe: bad label row: %s" % r.stderr)
    r = pf("embed", "--data", mit, "--beats", "--out", os.path.join(tmp, "x.h5"), "--checkpoint", tmp, "101")
    check(r.returncode != 0 and "latest" in r.stderr, "embed: a folder without a checkpoint: %s" % r.stderr)


def main():
    if not DATA or not os.path.isdir(os.path.join(DATA, "mitdb")) or not os.path.isdir(os.path.join(DATA, "cinc2021")):
        print("SKIP: shared data not found (PF_SHARED_DATA=%s)" % DATA)
        sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        test_beats(tmp)
        test_dx(tmp)
        test_embed_encoder(tmp)
        test_embed_sets(tmp)
        test_embed_probe(tmp)
    print("%s" % ("OK" if not failed else "%d checks failed" % failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
