# End-to-end: synth -> filter -> rpeak -> sink as separate node processes.
# The rpeak node's R-peaks (attached to every window) must match the synth
# source's true R-peaks (a synth -> sink run of the same seed) within 20 ms,
# with every window delivered; a resampling filter (500 -> 250 Hz) keeps the
# windows' sample rate, lengths and the R-peak mapping consistent; a causal
# filter's output equals scipy.signal.sosfilt of the same design.
# usage: test_dsp_nodes.py PHYSIOFLOW_EXE
import os, subprocess, sys, tempfile
import numpy as np
import h5py

EXE = sys.argv[1]
fails = 0


def check(cond, msg):
    global fails
    if not cond:
        fails += 1
        print("FAIL:", msg)


def run_graph(tmp, name, nodes, edges):
    cfg = os.path.join(tmp, name + ".cfg")
    with open(cfg, "w") as f:
        f.write('name = "%s"; seed = 7; ipc_dir = "%s/ipc-%s";\nnodes = (\n%s\n);\nedges = (\n%s\n);\n'
                % (name, tmp, name, ",\n".join(nodes), ",\n".join(edges)))
    r = subprocess.run([EXE, "run", cfg, "--quiet"], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
    check(r.returncode == 0, "%s: physioflow run exit %d" % (name, r.returncode))


def read(path):
    with h5py.File(path, "r") as f:
        order = np.lexsort((f["window_index"][:], f["record"][:]))
        rec = f["record"][:][order]
        off = f["rpeaks_offset"][:]
        peaks = {}
        for i in order:
            peaks.setdefault(int(f["record"][i]), []).extend(f["rpeaks"][off[i]:off[i + 1]].tolist())
        return {k: np.unique(v) for k, v in peaks.items()}, f["data"][:][order], f["sample_rate"][:], \
            f["start_sample"][:][order], int(f.attrs["n_windows"])


SRC = '{ name = "src"; kind = "synth"; records = 3; duration = 60.0; fs = 500.0; leads = 3; window = 2500; noise = 0.03; baseline = 0.3; }'
SINK = '{ name = "sink"; kind = "sink"; path = "%s"; }'
with tempfile.TemporaryDirectory() as tmp:
    truth_h5, det_h5, rs_h5, raw_h5, filt_h5 = (os.path.join(tmp, n) for n in ("truth.h5", "det.h5", "rs.h5", "raw.h5", "filt.h5"))
    run_graph(tmp, "truth", [SRC, SINK % truth_h5], ['{ from = "src.out"; to = "sink.in"; }'])
    run_graph(tmp, "det", [SRC, '{ name = "flt"; kind = "filter"; mode = "zerophase"; notch = 50.0; }',
                           '{ name = "rp"; kind = "rpeak"; }', SINK % det_h5],
              ['{ from = "src.out"; to = "flt.in"; }', '{ from = "flt.out"; to = "rp.in"; }',
               '{ from = "rp.out"; to = "sink.in"; }'])
    truth, _, _, _, nt = read(truth_h5)
    det, _, _, _, nd = read(det_h5)
    check(nt == nd == 36, "windows: truth %d, detected %d, expected 36" % (nt, nd))
    tol = int(0.020 * 500)
    for rec, tp in truth.items():
        dp = det.get(rec, np.array([], dtype=np.int64))
        tp = tp[(tp > 250) & (tp < 30000 - 250)]  # beats cut by the record ends are not scored
        dist = np.array([np.min(np.abs(dp - t)) if len(dp) else 10 ** 9 for t in tp])
        extra = np.array([np.min(np.abs(tp - d)) for d in dp[(dp > 250) & (dp < 30000 - 250)]]) if len(dp) else np.array([])
        print("record %d: %d true beats, %d detected, worst |offset| %d samples, %d extra"
              % (rec, len(tp), len(dp), dist.max() if len(dist) else -1, int(np.sum(extra > tol))))
        check(len(tp) > 50 and np.all(dist <= tol), "record %d: beats missed or off by > 20 ms" % rec)
        check(np.all(extra <= tol), "record %d: %d extra detections" % (rec, int(np.sum(extra > tol))))
    # resampling 500 -> 250 Hz: rates, lengths and R-peak mapping
    run_graph(tmp, "rs", [SRC, '{ name = "flt"; kind = "filter"; resample = 250; normalize = "zscore"; }', SINK % rs_h5],
              ['{ from = "src.out"; to = "flt.in"; }', '{ from = "flt.out"; to = "sink.in"; }'])
    rs, data, fs, starts, nr = read(rs_h5)
    check(nr >= 33 and np.all(fs == 250.0), "resampled windows: %d, rates %s" % (nr, np.unique(fs)))
    for rec, tp in truth.items():
        mapped = np.unique(np.floor(tp * 0.5 + 8 + 0.5))  # pf_resamp delay: 16 * 1 / 2 output samples; llround
        got = rs.get(rec, np.array([]))
        check(set(got.tolist()) <= set(mapped.tolist()), "record %d: resampled R-peaks not mapped" % rec)
    check(abs(float(np.mean(data)) ) < 0.05 and abs(float(np.std(data)) - 1) < 0.05, "z-score output mean %.3f sd %.3f" % (np.mean(data), np.std(data)))
    # causal filter output == scipy sosfilt of the same design (windows streamed in order)
    import scipy.signal as sg
    run_graph(tmp, "causal", [SRC.replace("records = 3", "records = 1"), '{ name = "flt"; kind = "filter"; }', SINK % filt_h5],
              ['{ from = "src.out"; to = "flt.in"; }', '{ from = "flt.out"; to = "sink.in"; }'])
    run_graph(tmp, "raw", [SRC.replace("records = 3", "records = 1"), SINK % raw_h5], ['{ from = "src.out"; to = "sink.in"; }'])
    _, yw, _, _, _ = read(filt_h5)
    _, xw, _, _, _ = read(raw_h5)
    x = np.concatenate(list(xw), axis=1).astype(np.float64)  # [leads, samples]
    y = np.concatenate(list(yw), axis=1)
    ref = sg.sosfilt(sg.butter(2, [0.5, 40], "bandpass", fs=500, output="sos"), x, axis=1)
    err = np.max(np.abs(y - ref)) / np.max(np.abs(ref))
    print("causal filter node vs scipy sosfilt over %d windows: max rel err %.2e" % (len(yw), err))
    check(err < 1e-4, "causal filter node differs from scipy by %.3e" % err)
sys.exit(1 if fails else 0)
