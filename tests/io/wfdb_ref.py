#!/usr/bin/python3
"""Independent numpy decoder for the WFDB files in PF_SHARED_DATA.

Written straight from PhysioNet's signal(5)/annot(5) descriptions, sharing no
code with nodes/io, so the C library's output can be compared against it.
Prints one line per fact: `sig <rec> <lead> <checksum> <first5>` and
`ann <rec>.<ext> <total> <beats> <code:count,...>`.
"""
import os, sys
import numpy as np

BEATS = set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 25, 34, 35, 38, 41])  # N L R a V F J A S E j / Q B e n f r

def read_header(path):
    lines = [l.strip() for l in open(path) if l.strip() and not l.startswith('#')]
    rec = lines[0].split()
    nsig, nsamp = int(rec[1]), int(rec[3])
    sigs = []
    for l in lines[1:1 + nsig]:
        f = l.split()
        fmt = f[1]
        off = 0
        if '+' in fmt:
            fmt, o = fmt.split('+'); off = int(o)
        fmt = fmt.split('x')[0]
        sigs.append(dict(file=f[0], fmt=int(fmt), off=off, init=int(f[5]), cks=int(f[6]), desc=' '.join(f[8:])))
    return nsamp, sigs

def decode(path, fmt, off, nsf):
    b = np.fromfile(path, dtype=np.uint8)[off:]
    if fmt == 16:
        return b[:len(b) // 2 * 2].view('<i2').astype(np.int64).reshape(-1, nsf)
    if fmt == 212:
        b = b[:len(b) // 3 * 3].reshape(-1, 3).astype(np.int64)
        s0 = b[:, 0] | ((b[:, 1] & 0x0F) << 8)
        s1 = b[:, 2] | ((b[:, 1] & 0xF0) << 4)
        s = np.empty(2 * len(b), np.int64); s[0::2] = s0; s[1::2] = s1
        s[s > 2047] -= 4096
        return s[:len(s) // nsf * nsf].reshape(-1, nsf)
    raise ValueError(fmt)

def sig_facts(d, rec):
    nsamp, sigs = read_header(os.path.join(d, rec + '.hea'))
    files = {}
    for s in sigs: files.setdefault(s['file'], []).append(s)
    for fn, ss in files.items():
        x = decode(os.path.join(d, fn), ss[0]['fmt'], ss[0]['off'], len(ss))[:nsamp]
        for j, s in enumerate(ss):
            col = x[:, j]
            print('sig', rec, s['desc'], int(col.sum()) & 0xFFFF, s['cks'] & 0xFFFF, s['init'], ' '.join(map(str, col[:5])), ' '.join(map(str, col[-2:])), len(col))

def read_ann(path):
    w = np.fromfile(path, dtype='<u2')
    i, t, out = 0, 0, []
    while i < len(w):
        a, v = w[i] >> 10, int(w[i] & 0x3FF); i += 1
        if a == 0 and v == 0: break
        if a == 59:
            d = (int(w[i]) << 16) | int(w[i + 1]); i += 2
            if d >= 2**31: d -= 2**32
            t += d; continue
        if a in (60, 61, 62):
            continue
        if a == 63:
            i += (v + 1) // 2; continue
        t += v
        out.append((t, a))
    return out

if __name__ == '__main__':
    root = os.environ.get('PF_SHARED_DATA', '/work/shared/data')
    for rec in sorted(f[:-4] for f in os.listdir(root + '/mitdb') if f.endswith('.hea')):
        if 'sig' in sys.argv: sig_facts(root + '/mitdb', rec)
        a = read_ann(root + '/mitdb/' + rec + '.atr')
        codes = {}
        for _, c in a: codes[c] = codes.get(c, 0) + 1
        print('ann', rec, len(a), sum(codes.get(c, 0) for c in BEATS), ','.join('%d:%d' % kv for kv in sorted(codes.items())))
