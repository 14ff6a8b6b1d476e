# Peer for bench_filter: scipy.signal.sosfilt on the same 12-lead data.
# usage: bench_sosfilt.py SOS X NLEADS RUNS -> prints the median seconds per run
import sys, time
import numpy as np
import scipy.signal as sg

sos = np.fromfile(sys.argv[1], dtype=np.float64).reshape(-1, 6)
L = int(sys.argv[3])
x = np.ascontiguousarray(np.fromfile(sys.argv[2], dtype=np.float32).reshape(-1, L).T.astype(np.float64))  # [L, T]
runs = int(sys.argv[4])
ts = []
for _ in range(runs):
    t0 = time.perf_counter()
    sg.sosfilt(sos, x, axis=-1)
    ts.append(time.perf_counter() - t0)
print(np.median(ts))
