#!/usr/bin/python3
"""The `reader` node over real data, end to end: physioflow runs reader -> sink, and the
HDF5 window file is checked against an independent decoding of the same files
(tests/io/wfdb_ref.py for WFDB, scipy.io for CPSC 2019, h5py for HDF5 sets).

argv: physioflow executable. Needs PF_SHARED_DATA (skips with 77 otherwise)."""
import os
import subprocess
import sys
import tempfile
import time

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


def receive_all(tmp, name, reader, arrivals=None):
    """Run the reader alone; a Python ROUTER socket stands in for its downstream node and
    decodes every message with a separate implementation of docs/protocol.md."""
    import struct
    import zmq
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
    import pfwire
    ipc = os.path.join(tmp, "ipc-" + name)
    os.makedirs(ipc, exist_ok=True)
    cfg = os.path.join(tmp, name + ".cfg")
    with open(cfg, "w") as f:
        f.write('name = "%s";\nipc_dir = "%s";\nnodes = (\n  { name = "src"; kind = "reader"; %s },\n'
                '  { name = "sink"; kind = "discard"; }\n);\nedges = ( { from = "src"; to = "sink"; } );\n' % (name, ipc, reader))
    ctx = zmq.Context()
    s = ctx.socket(zmq.ROUTER)
    s.bind("ipc://%s/sink.0.in" % ipc)
    p = subprocess.Popen([EXE, "node", cfg, "src"], stderr=subprocess.PIPE, text=True)
    msgs = []
    while s.poll(20000):
        fr = s.recv_multipart()
        if arrivals is not None:
            arrivals.append(time.monotonic())
        head = fr[1]
        magic, ver, kind, hb, nsec, idl, wi, st, rate, nl, ns, ep, flags, count = struct.unpack_from("<IHHIHHQqdIIIIQ", head)
        ident = head[64 + 24 * nsec:64 + 24 * nsec + idl].decode()
        if kind == pfwire.KIND_EOS:
            if arrivals is not None:
                arrivals.pop()
            s.send_multipart([fr[0]] + pfwire.encode(pfwire.KIND_CONTROL, b"eos-ack", count=count))
            break
        secs = {}
        for k in range(nsec):
            typ, dt, nd, _, d0, d1, d2, d3 = struct.unpack_from("<HBBI4I", head, 64 + 24 * k)
            dims = (d0, d1, d2, d3)[:nd]
            arr = np.frombuffer(fr[2 + k], dtype={3: np.int64, 5: np.float32, 1: np.uint8}[dt]).reshape(dims)
            secs[typ] = arr
        msgs.append(dict(id=ident, wi=wi, start=st, flags=flags, secs=secs))
    code = p.wait(timeout=30)
    check(code == 0, "%s: reader exits 0: %s" % (name, p.stderr.read()[-500:]))
    s.close(0)
    ctx.term()
    return msgs


def test_pairs_and_other_sets(tmp):
    ms = receive_all(tmp, "pairs", 'records = ["%s/cinc2021/E07500.mat", "%s/mitdb/118"]; window = 1000; leads = ["II"];'
                     ' pairs = true; missing_lead = "skip";' % (DATA, DATA))
    check(len(ms) == 4, "pairs: E07500 has 5 windows -> 4 anchors; mitdb 118 has no lead II and is skipped (got %d)" % len(ms))
    v = sio.loadmat(os.path.join(DATA, "cinc2021/E07500.mat"))["val"].astype(np.float64) / 1000.0
    ok = True
    for m in ms:
        k, st = m["wi"], m["start"]
        ok &= m["flags"] & 2 and st == 1000 * k and m["id"] == "E07500"
        ok &= np.allclose(m["secs"][1][0], v[1, st:st + 1000], rtol=1e-6, atol=0)
        ok &= np.allclose(m["secs"][12][0], v[1, st + 1000:st + 2000], rtol=1e-6, atol=0)
        ok &= bytes(m["secs"][5]).decode() == "II"
    check(ok, "pairs: window k in SAMPLES, window k+1 in ADJ_SAMPLES, lead II, flagged")
    ms = receive_all(tmp, "pairs2", 'records = ["%s/mitdb/101"]; window = 3600; pairs = true;' % DATA)
    ann = wfdb_ref.read_ann(os.path.join(DATA, "mitdb", "101.atr"))
    beats = np.array([t for t, c in ann if c in wfdb_ref.BEATS])
    ok = len(ms) == 180 - 1
    for m in ms:
        st = m["start"]
        ok &= np.array_equal(m["secs"][2], beats[(beats >= st) & (beats < st + 3600)])
        ok &= np.array_equal(m["secs"][13], beats[(beats >= st + 3600) & (beats < st + 7200)])
        inwin = [(t, c) for t, c in ann if st <= t < st + 3600]
        ok &= (len(inwin) == 0 and 8 not in m["secs"]) or (8 in m["secs"] and m["secs"][8].tolist() == [list(x) for x in inwin])
    check(ok, "pairs on 101: RPEAKS / ADJ_RPEAKS are the reference beats, ANN every (sample, code) of the window")
    # through the sink: /adjacent holds window k+1 of the record
    out, _ = run_graph(tmp, "pairsink", 'records = ["%s/ludb/data/1", "%s/ludb/data/2"]; window = 1000; pairs = true;'
                       ' annotator = "ii";' % (DATA, DATA))
    with h5py.File(out, "r") as f:
        ids = [x.decode() if isinstance(x, bytes) else x for x in f["record_ids"][:]]
        rec, st, adj = f["record"][:], f["start_sample"][:], f["adjacent"][:]
        aoff, arp = f["adjacent_rpeaks_offset"][:], f["adjacent_rpeaks"][:]
    ok = len(st) == 8
    for i in range(len(st)):
        n, names, ref = physical(os.path.join(DATA, "ludb/data"), ids[rec[i]])
        ann = wfdb_ref.read_ann(os.path.join(DATA, "ludb/data", ids[rec[i]] + ".ii"))
        s0 = st[i] + 1000
        ok &= np.array_equal(adj[i], ref[:, s0:s0 + 1000])
        ok &= np.array_equal(arp[aoff[i]:aoff[i + 1]], [t for t, c in ann if c == 1 and s0 <= t < s0 + 1000])
    check(ok, "pairs through the sink: /adjacent and its R-peaks are window k+1 of the record")

def test_other_sets(tmp):
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


def test_challenge_and_cpsc2021(tmp):
    out, _ = run_graph(tmp, "cinc", 'records = ["%s/cinc2021"]; window = 2500; leads = ["V6", "aVR"]; annotator = "";' % DATA)
    ws, _, _ = windows(out)
    check(len(ws) == 30 * 2, "cinc2021: 30 records x 2 windows (got %d)" % len(ws))
    ok = True
    for w in ws:
        v = sio.loadmat(os.path.join(DATA, "cinc2021", w["id"] + ".mat"))["val"].astype(np.float64) / 1000.0
        ok &= np.allclose(w["data"], v[[11, 3], w["start"]:w["start"] + 2500].astype(np.float32), rtol=1e-6, atol=0)
    check(ok, "cinc2021: every window equals scipy.io.loadmat's values (V6, aVR)")
    out, _ = run_graph(tmp, "cp21", 'records = ["%s/cpsc2021"]; window = 4000; hop = 3000;' % DATA)
    ws, _, _ = windows(out)
    ok, total = True, 0
    for rec in sorted(set(w["id"] for w in ws)):
        n, names, ref = physical(os.path.join(DATA, "cpsc2021"), rec)
        ann = wfdb_ref.read_ann(os.path.join(DATA, "cpsc2021", rec + ".atr"))
        beats = np.array([t for t, c in ann if c in wfdb_ref.BEATS])
        mine = [w for w in ws if w["id"] == rec]
        total += 1
        ok &= len(mine) == (n - 4000) // 3000 + 1
        for w in mine:
            st = w["start"]
            ok &= np.array_equal(w["data"], ref[:, st:st + 4000])
            ok &= np.array_equal(w["rpeaks"], beats[(beats >= st) & (beats < st + 4000)])
    check(ok and total == 9, "cpsc2021: 9 records, overlapping windows equal the independent decoding, with beats")


def test_realtime(tmp):
    # 8 windows of 50 ms paced: the last leaves 7 x 50 ms after the first (less a late first
    # arrival; an upper bound would only measure the machine's load); unpaced, 40 windows
    # would need 1.95 s if they were paced
    for items, rt in ((4, True), (20, False)):
        path = os.path.join(tmp, "rt%d.h5" % items)
        with h5py.File(path, "w") as f:
            f.create_dataset("data", data=np.ones((items, 1, 100), np.float32))
            f.attrs["fs"] = 1000.0
        arrivals = []
        receive_all(tmp, "rt%d" % rt, 'records = ["%s"]; window = 50; realtime = %s;' % (path, "true" if rt else "false"),
                    arrivals=arrivals)
        span = arrivals[-1] - arrivals[0] if arrivals else -1
        if rt:
            check(len(arrivals) == 8 and span >= 0.3, "realtime: 8 windows of 50 ms paced over ~0.35 s (%.3f s)" % span)
        else:
            check(len(arrivals) == 40 and 0 <= span < 1.0, "not realtime: 40 windows unpaced (%.3f s, paced: 1.95 s)" % span)


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
    for t in (test_mitdb_exactly_once, test_shards_epochs_shuffle, test_pairs_and_other_sets, test_other_sets,
              test_challenge_and_cpsc2021, test_realtime, test_hdf5_set, test_errors):
        t(tmp)
print("test_reader: %s" % ("all checks passed" if not failed else "%d check(s) failed" % failed))
sys.exit(1 if failed else 0)
