#!/usr/bin/env python3
"""Read what a `sink` node wrote, in Python with h5py (docs/formats.md,
"physioflow.windows"; docs/nodes/sink.md).

    python3 read_windows.py PATH [REPLICAS]

PATH and REPLICAS are the sink's `path` and `replicas` parameters. Prints the
same lines as h5win_read_example.c (the ctest compares the two).
Needs numpy and h5py (Debian: python3-numpy python3-h5py)."""
import os
import sys

import h5py


def sink_files(path, replicas):
    """The files a sink wrote: PATH, or with R > 1 replicas ".rI" before the
    extension of the last path component (out.h5 -> out.r0.h5, out -> out.r0)."""
    if replicas <= 1:
        return [path]
    dot, slash = path.rfind("."), path.rfind("/")
    if dot > slash:
        return [f"{path[:dot]}.r{i}{path[dot:]}" for i in range(replicas)]
    return [f"{path}.r{i}" for i in range(replicas)]


def g(x):
    return "%.6g" % float(x)


def show(fname):
    if not os.path.exists(fname) and os.path.exists(fname + ".partial"):
        sys.exit(f"{fname}: not written completely: only {fname}.partial exists")
    with h5py.File(fname, "r") as f:
        n = len(f["window_index"])
        ids = [s.decode() if isinstance(s, bytes) else s for s in f["record_ids"][:]]
        rec, wi, start = f["record"][:], f["window_index"][:], f["start_sample"][:]
        peaks, off = f["rpeaks"][:], f["rpeaks_offset"][:]  # ragged: window i is peaks[off[i]:off[i+1]]
        _, leads, samples = f["data"].shape
        feat = f["features"][:] if "features" in f else None  # only after a shuffle node
        print(f"{fname}: {n} windows of {leads} x {samples}, {len(ids)} records, "
              f"complete {int(f.attrs['complete'])}, features {feat.shape[1] if feat is not None else 0}")
        for i in range(n):
            p = peaks[off[i]:off[i + 1]]
            line = f"  {ids[rec[i]]} #{wi[i]} start {start[i]}: {len(p)} R-peaks"
            if len(p):
                line += f" (first {p[0]})"
            if feat is not None:
                line += ", features " + " ".join(g(v) for v in feat[i, :3])
            print(line)
        if n:
            x = f["data"][0, 0]  # window 0, lead 0 (float32, units in f["data"].attrs["units"])
            print(f"  window 0, lead 0: min {g(x.min())} max {g(x.max())}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for fname in sink_files(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1):
        show(fname)
