#!/usr/bin/env python3
"""Golden tensors for the wavelet front-end (nodes/model/pf_wavelet.c) and the
frequency-guided masking (nodes/model/pf_mask.c), from Debian's python3-torch,
python3-pywt and numpy. Usage: golden_wavelet.py OUT.h5

  wave_<case>/   front-end with random weights (rho, lambda != 0 so every path acts):
                 x, param/<name>, spec, gspec (upstream gradient), grad/<name>, dx
  init/<init>/<family>/{lo,hi}   initial taps (reference rule)
  pywt/<family>/{x, cA, cD}      pywt.dwt(x, family, mode='zero') along the last axis
  mask/<case>/   tokens, patches, u (U(0,1) draws), importance (float64 reference, stored
                 float32) for token_sequence and patch_energy, and the masks from them
"""
import sys

import h5py
import numpy as np
import pywt
import torch

from physiowave_torch import WaveletFrontEnd, wavelet_taps

torch.manual_seed(0)
torch.set_num_threads(1)
rng = np.random.default_rng(2027)
out = h5py.File(sys.argv[1], "w")


def put(name, t):
    a = t.detach().cpu().numpy() if torch.is_tensor(t) else np.asarray(t)
    if a.dtype == np.float64:
        a = a.astype(np.float32)
    out.create_dataset(name, data=a)


FAMS = ("db4", "db6", "sym4", "coif2")

# ------------------------------------------------------------ front-end ----
CASES = {
    # name: (B, C, T, levels, init, K)
    "pw": (2, 4, 256, 3, "physiowave", 24),
    "exact": (2, 8, 130, 2, "exact", 0),
}
for case, (B, C, T, L, init, K) in CASES.items():
    m = WaveletFrontEnd(C, levels=L, families=FAMS, init=init, k=K)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "filter" in name:
                p.add_(torch.tensor(0.05 * rng.standard_normal(p.shape), dtype=torch.float32))
            elif name.startswith("res_scales") or name.endswith(".scale"):
                p.copy_(torch.tensor(0.5 + 0.3 * rng.standard_normal(p.shape), dtype=torch.float32))
            else:
                p.copy_(torch.tensor(0.2 * rng.standard_normal(p.shape), dtype=torch.float32))
    g = "wave_" + case
    for name, p in m.named_parameters():
        put(g + "/param/" + name, p)
    x = torch.tensor(rng.standard_normal((B, C, T)), dtype=torch.float32, requires_grad=True)
    spec = m(x)
    gspec = torch.tensor(rng.standard_normal(spec.shape), dtype=torch.float32)
    (spec * gspec).sum().backward()
    put(g + "/x", x); put(g + "/spec", spec); put(g + "/gspec", gspec); put(g + "/dx", x.grad)
    for name, p in m.named_parameters():
        put(g + "/grad/" + name, p.grad if p.grad is not None else torch.zeros_like(p))
    out[g].attrs.update(dict(B=B, C=C, T=T, levels=L, init=init, K=K, n_params=sum(p.numel() for p in m.parameters())))

# published ECG front-end: parameter count of the reference structure
out.attrs["ecg_params"] = sum(p.numel() for p in WaveletFrontEnd(12).parameters())

# ------------------------------------------------------------ initial taps ----
for init in ("physiowave", "exact"):
    for f in FAMS + ("db1", "sym5", "coif3", "bior4.4"):
        lo, hi = wavelet_taps(f, init, 24)
        put("init/%s/%s/lo" % (init, f), lo)
        put("init/%s/%s/hi" % (init, f), hi)

# ------------------------------------------------------------ PyWavelets DWT ----
x = rng.standard_normal((2, 3, 256)).astype(np.float32)
for f in FAMS:
    cA, cD = pywt.dwt(x.astype(np.float64), f, mode="zero", axis=-1)
    put("pywt/%s/x" % f, x); put("pywt/%s/cA" % f, cA); put("pywt/%s/cD" % f, cD)

# ------------------------------------------------------------ masking ----
R, RATIO = 0.7, 0.7


def stretch(s, n):  # F.interpolate(linear, align_corners=True), float64
    if n == 1:
        return s[..., :1]
    pos = np.arange(n) * (s.shape[-1] - 1) / (n - 1)
    i0 = np.minimum(np.floor(pos).astype(int), s.shape[-1] - 1)
    i1 = np.minimum(i0 + 1, s.shape[-1] - 1)
    w1 = pos - i0
    return (1 - w1) * s[..., i0] + w1 * s[..., i1]


def top_mask(imp32, u32):
    c = np.float32(R) * imp32 + np.float32(1 - R) * u32        # float32, as pf_mask_select
    n = int(imp32.shape[1] * RATIO)
    mask = np.zeros(imp32.shape, np.float32)
    for b in range(imp32.shape[0]):
        order = np.argsort(-c[b], kind="stable")               # ties: lower index first
        mask[b, order[:n]] = 1
    return mask


for case, (B, L, D, P) in {"long": (2, 1536, 16, 64), "odd": (3, 45, 7, 8)}.items():
    g = "mask/" + case
    pe = np.zeros((L, D))
    pe[:, : D // 2] = np.sin(np.arange(L)[:, None] * 0.1 * (1 + np.arange(D // 2)))
    tokens = (rng.standard_normal((B, L, D)) + pe).astype(np.float32)
    patches = (rng.standard_normal((B, L, P)) * rng.uniform(0.1, 3.0, (B, L, 1))).astype(np.float32)
    u = rng.random((B, L)).astype(np.float32)
    # token_sequence: |rfft over tokens| summed over dims, stretched to L (the published code, in numpy)
    s = np.abs(np.fft.rfft(tokens.astype(np.float64), axis=1)).sum(axis=2)
    imp_ts = stretch(s, L).astype(np.float32)
    # check the numpy transcription against the published torch code path
    tt = torch.tensor(tokens).permute(0, 2, 1)
    ts = torch.nn.functional.interpolate(torch.abs(torch.fft.rfft(tt, dim=2)).sum(1).unsqueeze(1), size=L,
                                         mode="linear", align_corners=True).squeeze(1).numpy()
    assert np.abs(ts - imp_ts).max() <= 1e-4 * np.abs(imp_ts).max(), "numpy vs torch importance"
    # patch_energy: sum_k |DFT(patch)|^2, min-max per window
    e = (np.abs(np.fft.fft(patches.astype(np.float64), axis=2)) ** 2).sum(axis=2)
    imp_pe = ((e - e.min(1, keepdims=True)) / (e.max(1, keepdims=True) - e.min(1, keepdims=True))).astype(np.float32)
    put(g + "/tokens", tokens); put(g + "/patches", patches); put(g + "/u", u)
    put(g + "/imp_ts", imp_ts); put(g + "/imp_pe", imp_pe)
    put(g + "/mask_ts", top_mask(imp_ts, u)); put(g + "/mask_pe", top_mask(imp_pe, u))
    out[g].attrs.update(dict(B=B, L=L, D=D, P=P, r=R, ratio=RATIO))

out.close()
print("wavelet golden tensors written to", sys.argv[1])
