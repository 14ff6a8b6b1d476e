"""A second, independent implementation of the physioflow wire format
(docs/protocol.md), used by tests to talk to real node processes."""
import os
import re
import struct

MAGIC = 0x574C4650
KIND_WINDOW, KIND_TENSOR, KIND_EOS, KIND_CONTROL = 1, 2, 3, 4
DT = {"u8": 1, "i32": 2, "i64": 3, "u64": 4, "f32": 5, "f64": 6}
DT_SIZE = {1: 1, 2: 4, 3: 8, 4: 8, 5: 4, 6: 8}
DT_NUMPY = {1: "u1", 2: "<i4", 3: "<i8", 4: "<u8", 5: "<f4", 6: "<f8"}


def _load_table():
    """The section types come from runtime/pf_sections.def, the table C reads too."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "runtime", "pf_sections.def")
    row = re.compile(r'^PF_SECTION\((\w+),\s*(\d+),\s*"([^"]*)",\s*"([^"]*)",\s*"([^"]*)",\s*"([^"]*)",'
                     r'\s*"([^"]*)",\s*(\d+),\s*"([^"]*)"')
    table = {}
    for line in open(path):
        m = row.match(line)
        if m:
            enum, code, name, dtypes, shape, at, index, hashed, store = m.groups()
            table[int(code)] = dict(enum=enum, name=name, dtypes=dtypes.split("|"), shape=shape, at=at,
                                    index=index, hashed=int(hashed), store=store)
    return table


SECTIONS = _load_table()
for _code, _row in SECTIONS.items():
    globals()["SEC_" + _row["enum"]] = _code


def check_section(code, dtype, dims, n_leads, n_samples):
    """None if a section fits its table row and the window, else what is wrong."""
    row = SECTIONS.get(code)
    if row is None:
        return None  # unknown types are skipped
    names = {v: k for k, v in DT.items()}
    if row["dtypes"] != ["any"] and names.get(dtype) not in row["dtypes"]:
        return "%s: dtype %s not in %s" % (row["name"], names.get(dtype), row["dtypes"])
    if row["shape"] == "any":
        return None
    rule = row["shape"].strip("[]").split(",")
    if len(rule) != len(dims):
        return "%s: %d dims, rule %s" % (row["name"], len(dims), row["shape"])
    for r, d in zip(rule, dims):
        ok = (d == n_leads if r == "L" else d == n_samples if r == "T" else d >= 1 if r == "t"
              else d == int(r) if r.isdigit() else True)
        if not ok:
            return "%s: dims %s break %s (L=%d, T=%d)" % (row["name"], list(dims), row["shape"], n_leads, n_samples)
    return None


def decode(frames):
    """frames (bytes) -> dict of header fields and 'sections': [(code, dtype, dims, bytes)];
    raises ValueError naming what is wrong, as the C decoder refuses it."""
    head = frames[0]
    (magic, version, kind, hbytes, nsec, idl, widx, start, rate, nl, ns, epoch, flags,
     count) = struct.unpack_from("<IHHIHHQqdIIIIQ", head, 0)
    if magic != MAGIC or version != 1:
        raise ValueError("bad magic or version")
    if hbytes != len(head) or len(frames) != nsec + 1:
        raise ValueError("header size or frame count")
    secs = []
    for i in range(nsec):
        typ, dt, ndim, _ = struct.unpack_from("<HBBI", head, 64 + 24 * i)
        dims = struct.unpack_from("<4I", head, 64 + 24 * i + 8)[:ndim]
        n = DT_SIZE[dt]
        for d in dims:
            n *= d
        if n != len(frames[i + 1]):
            raise ValueError("section %d: shape says %d bytes, frame has %d" % (i, n, len(frames[i + 1])))
        if kind == KIND_WINDOW:
            err = check_section(typ, dt, dims, nl, ns)
            if err:
                raise ValueError(err)
        secs.append((typ, dt, tuple(dims), frames[i + 1]))
    ident = head[64 + 24 * nsec:64 + 24 * nsec + idl].decode()
    return dict(kind=kind, id=ident, window_index=widx, start_sample=start, sample_rate=rate, n_leads=nl,
                n_samples=ns, epoch=epoch, flags=flags, count=count, sections=secs)


def section_array(msg, code):
    """The first section of a type as a numpy array, or None."""
    import numpy as np
    for typ, dt, dims, payload in msg["sections"]:
        if typ == code:
            return np.frombuffer(payload, dtype=DT_NUMPY[dt]).reshape(dims)
    return None


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
