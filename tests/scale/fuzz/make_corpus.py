"""Seed inputs for fuzz_wire (framing: u8 n, n x u16 lengths, frames) from
the independent Python encoder, tests/e2e/pfwire.py. Run once; the seeds are
committed."""
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "e2e"))
import pfwire  # noqa: E402

out = os.path.join(os.path.dirname(__file__), "corpus", "wire")


def pack(frames):
    return bytes([len(frames)]) + b"".join(struct.pack("<H", len(f)) for f in frames) + b"".join(frames)


seeds = {
    "window": pfwire.window("rec-1", 3, np.arange(2 * 8, dtype=np.float32).reshape(2, 8), rpeaks=[2, 5]),
    "window_views": pfwire.encode(pfwire.KIND_WINDOW, "r", 1, 0, 250.0, 1, 4, sections=[
        (1, "f32", (1, 4), np.ones(4, np.float32).tobytes()), (11, "f32", (2, 1, 4), np.ones(8, np.float32).tobytes()),
        (9, "i64", (2, 1), np.zeros(2, np.int64).tobytes()), (14, "i64", (1, 9), np.zeros(9, np.int64).tobytes())]),
    "eos": pfwire.eos("src.0", 17),
    "eos_interrupted": pfwire.eos("src.1", 0, flags=1),
    "control": pfwire.encode(pfwire.KIND_CONTROL, "status", count=2, sections=[
        (10, "u8", (4,), b"node"), (6, "u64", (2,), np.arange(2, dtype=np.uint64).tobytes())]),
    "tensor": pfwire.encode(pfwire.KIND_TENSOR, "batch", sections=[(10, "u8", (1,), b"x"), (7, "f64", (2, 2), np.zeros(4).tobytes())]),
}
os.makedirs(out, exist_ok=True)
for name, frames in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(pack(frames))
print("wrote %d seeds to %s" % (len(seeds), out))
