# scipy reference for test_iirdes: zeros, poles, gain of a design.
# usage: ref_iirdes.py OUT kind order f1 f2 fs   (kind: lowpass|highpass|bandpass|notch)
# OUT gets float64: [nz, np, re/im of zeros..., re/im of poles..., k]
import sys
import numpy as np
import scipy.signal as sg

out, kind, order, f1, f2, fs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
if kind == "notch":
    b, a = sg.iirnotch(f1, f2, fs=fs)  # f2 carries Q
    z, p, k = sg.tf2zpk(b, a)
elif kind == "bandpass":
    z, p, k = sg.butter(order, [f1, f2], "bandpass", fs=fs, output="zpk")
else:
    z, p, k = sg.butter(order, f1, kind, fs=fs, output="zpk")
v = [len(z), len(p)]
for r in list(z) + list(p):
    v += [np.real(r), np.imag(r)]
v.append(k)
np.asarray(v, dtype=np.float64).tofile(out)
