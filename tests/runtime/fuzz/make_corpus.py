"""Writes the seed corpus of fuzz_nodes.c (corpus/nodes): per parameter variant a good 500 Hz
window with R-peaks and beats, and 1 Hz / 10 Hz windows; plus the issue's crashes (BEATS
qrs_on = 10^12, R-peaks at +-2^62, NaN samples). Layout: see LLVMFuzzerTestOneInput."""
import math
import os
import struct

D = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "nodes")


def seed(name, variant, rate, leads, samples, mode, start, peaks, beats, tail=b""):
    b = bytes([variant, rate, leads - 1]) + struct.pack("<H", samples - 1) + bytes([mode])
    b += struct.pack("<q", start) if mode & 1 else struct.pack("<H", start)
    b += bytes([len(peaks), len(beats)])
    for p in peaks:
        b += struct.pack("<q", p) if mode & 2 else struct.pack("<h", p)
    for row in beats:
        for v in row:
            b += struct.pack("<q", v) if mode & 4 else struct.pack("<h", v)
    b += bytes([0]) + tail
    with open(os.path.join(D, name), "wb") as f:
        f.write(b)


os.makedirs(D, exist_ok=True)
wave = bytes((int(40 * math.sin(i / 8.0)) & 0xff) for i in range(256))
beat = [-1, -1, -1, 480, 500, 520, 600, 650, 700]
for v in range(11):
    seed("v%02d-500hz" % v, v, 6, 2, 2000, 16, 1000, [100, 500, 900, 1300, 1700], [beat, [-1] * 9], wave)
    seed("v%02d-1hz" % v, v, 0, 1, 200, 0, 0, [10, 50], [], wave)
    seed("v%02d-10hz" % v, v, 1, 3, 300, 0, 0, [10, 50, 90], [], wave)
seed("shuffle-beats-1e12", 5, 6, 2, 2000, 16 | 4, 0, [100, 500, 900], [[-1, -1, -1, 10**12, 500, 520, -1, -1, -1]], wave)
seed("rpeak-raw-peaks", 4, 6, 1, 2000, 2, 0, [-(2**62), 2**62, 5], [], wave)
seed("filter-nan", 0, 6, 2, 500, 8, 0, [], [], b"\xff\xff\xff\x7f" * 64 + b"\x00\x00\x80\x7f" * 64)
