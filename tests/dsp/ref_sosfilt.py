# scipy reference for test_sos: float64 sosfilt / sosfiltfilt of a given SOS.
# usage: ref_sosfilt.py SOS X NLEADS MODE OUT   (MODE: sosfilt|sosfiltfilt)
# SOS: float64 [nsec, 6]; X: float64 [n, nleads] sample-major; OUT like X.
import sys
import numpy as np
import scipy.signal as sg

sos = np.fromfile(sys.argv[1], dtype=np.float64).reshape(-1, 6)
nleads = int(sys.argv[3])
x = np.fromfile(sys.argv[2], dtype=np.float64).reshape(-1, nleads)
if sys.argv[4] == "sosfilt":
    y = sg.sosfilt(sos, x, axis=0)
else:
    y = sg.sosfiltfilt(sos, x, axis=0)
np.ascontiguousarray(y, dtype=np.float64).tofile(sys.argv[5])
