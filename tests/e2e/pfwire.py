"""A second, independent implementation of the physioflow wire format
(docs/protocol.md), used by tests to talk to real node processes."""
import struct

MAGIC = 0x574C4650
KIND_WINDOW, KIND_TENSOR, KIND_EOS, KIND_CONTROL = 1, 2, 3, 4
SEC_SAMPLES, SEC_RPEAKS, SEC_LABELS, SEC_FEATURES, SEC_LEAD_NAMES = 1, 2, 3, 4, 5
DT = {"u8": 1, "i32": 2, "i64": 3, "u64": 4, "f32": 5, "f64": 6}


def encode(kind, ident=b"", window_index=0, start_sample=0, sample_rate=0.0, n_leads=0,
           n_samples=0, epoch=0, flags=0, count=0, sections=()):
    """sections: list of (type, dtype_name, dims, payload_bytes). Returns frames."""
    ident = ident if isinstance(ident, bytes) else ident.encode()
    pad = (len(ident) + 7) // 8 * 8
    size = 64 + 24 * len(sections) + pad
    head = struct.pack("<IHHIHHQqdIIIIQ", MAGIC, 1, kind, size, len(sections), len(ident),
                       window_index, start_sample, sample_rate, n_leads, n_samples, epoch, flags, count)
    table = b""
    for typ, dt, dims, _ in sections:
        d = list(dims) + [0] * (4 - len(dims))
        table += struct.pack("<HBBI4I", typ, DT[dt], len(dims), 0, *d)
    frames = [head + table + ident + b"\0" * (pad - len(ident))]
    frames += [payload for _, _, _, payload in sections]
    return frames


def window(ident, index, samples, rate=500.0, rpeaks=None, start=0):
    """samples: numpy float32 array [leads, n]."""
    import numpy as np
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    secs = [(SEC_SAMPLES, "f32", samples.shape, samples.tobytes())]
    if rpeaks is not None:
        r = np.asarray(rpeaks, dtype=np.int64)
        secs.append((SEC_RPEAKS, "i64", r.shape, r.tobytes()))
    return encode(KIND_WINDOW, ident, index, start, rate, samples.shape[0], samples.shape[1], sections=secs)


def eos(sender, count, flags=0):
    return encode(KIND_EOS, sender, count=count, flags=flags)
