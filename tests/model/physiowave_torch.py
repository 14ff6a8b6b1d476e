"""The PhysioWave masked-reconstruction model of nodes/model/pf_transformer.c in
PyTorch, the one definition that tests/model/golden_torch.py (golden tensors)
and bench/model/bench_torch.py (the speed peer) both use: patch embedding
(Linear + LayerNorm + GELU) plus the 2-D sin-cos position table, mask token,
pre-norm encoder with RoPE on q and k, final LayerNorm, head (Linear, GELU,
LayerNorm, Linear) and the masked MSE. Dropout sits where the C model has it
(after attention, around the MLP, in the head); 0 turns it off. Parameter
names and their order are what the golden file stores and the C test reads.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def rope(x):  # x [B, H, T, hd], interleaved pairs, base 10000, position = token index
    rd = x.shape[-1]
    inv = 1.0 / (10000 ** (torch.arange(0, rd, 2).float() / rd))
    fr = torch.outer(torch.arange(x.shape[-2]).float(), inv)
    c, s = fr.cos(), fr.sin()
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * c - x2 * s, x1 * s + x2 * c), dim=-1).flatten(-2)


def sincos_2d(nf, ntp, d):  # MAE-style, rows in the first half, time in the second
    q = d // 4
    om = 1.0 / 10000 ** (np.arange(q, dtype=np.float64) / q)
    pe = np.zeros((nf * ntp, d))
    for f in range(nf):
        for t in range(ntp):
            pe[f * ntp + t] = np.concatenate([np.sin(f * om), np.cos(f * om), np.sin(t * om), np.cos(t * om)])
    return torch.tensor(pe, dtype=torch.float32)


class Attn(nn.Module):
    def __init__(s, d, h):
        super().__init__()
        s.h, s.hd = h, d // h
        s.qkv = nn.Linear(d, 3 * d)
        s.proj = nn.Linear(d, d)

    def forward(s, x):
        b, t, d = x.shape
        qkv = s.qkv(x).reshape(b, t, 3, s.h, s.hd).permute(2, 0, 3, 1, 4)
        q, k, v = rope(qkv[0]), rope(qkv[1]), qkv[2]
        att = ((q @ k.transpose(-2, -1)) * s.hd ** -0.5).softmax(-1)
        return s.proj((att @ v).transpose(1, 2).reshape(b, t, d))


class Mlp(nn.Module):
    def __init__(s, d, ratio, drop):
        super().__init__()
        s.fc1 = nn.Linear(d, ratio * d)
        s.fc2 = nn.Linear(ratio * d, d)
        s.drop = nn.Dropout(drop)

    def forward(s, x):
        return s.drop(s.fc2(s.drop(F.gelu(s.fc1(x)))))


class Block(nn.Module):
    def __init__(s, d, h, ratio, drop):
        super().__init__()
        s.norm1, s.attn, s.norm2, s.mlp = nn.LayerNorm(d), Attn(d, h), nn.LayerNorm(d), Mlp(d, ratio, drop)
        s.drop = nn.Dropout(drop)

    def forward(s, x):
        x = x + s.drop(s.attn(s.norm1(x)))
        return x + s.drop(s.mlp(s.norm2(x)))


class PatchEmbed(nn.Module):
    def __init__(s, p, d):
        super().__init__()
        s.proj, s.norm = nn.Linear(p, d), nn.LayerNorm(d)


class Head(nn.Module):
    def __init__(s, d, p, drop):
        super().__init__()
        s.fc1, s.norm, s.fc2 = nn.Linear(d, d), nn.LayerNorm(d), nn.Linear(d, p)
        s.drop = nn.Dropout(drop)


class Model(nn.Module):
    """patches [B, NF*NTP, P], mask [B, NF*NTP] (1 = masked) -> (encoded z, pred, loss)"""

    def __init__(s, d, depth, h, p, mlp, nf, ntp, drop=0.0):
        super().__init__()
        s.patch_embed = PatchEmbed(p, d)
        s.mask_token = nn.Parameter(torch.zeros(d))
        s.blocks = nn.ModuleList([Block(d, h, mlp, drop) for _ in range(depth)])
        s.norm = nn.LayerNorm(d)
        s.head = Head(d, p, drop)
        s.register_buffer("pos", sincos_2d(nf, ntp, d))

    def embed(s, patches):  # tokens GELU(LN(patch W^T + b)) + 2-D sin-cos, before masking
        return F.gelu(s.patch_embed.norm(s.patch_embed.proj(patches))) + s.pos

    def forward(s, patches, mask, tok=None):
        tok = s.embed(patches) if tok is None else tok
        m = mask.unsqueeze(-1)
        x = tok * (1 - m) + s.mask_token * m
        for blk in s.blocks:
            x = blk(x)
        z = s.norm(x)
        pred = s.head.fc2(s.head.norm(s.head.drop(F.gelu(s.head.fc1(z)))))
        per_tok = ((pred - patches) ** 2).mean(-1)
        loss = (per_tok * mask).sum() / mask.sum()
        return z, pred, loss


# ------------------------------------------------------------ wavelet front-end ----
# The learnable wavelet front-end of nodes/model/pf_wavelet.c (model.md 2.1-2.3,
# reference/physiowave.md section 2), written from the reference's description with
# its module paths, so parameter names equal the C ones. Differences from the
# published module: sub_ffn.{i}.scale has shape [1] (0-d there); families' taps come
# from wavelet_taps(); init "exact" is an addition of model.md.

def wavelet_taps(name, init="physiowave", k=24):
    """Initial (lo, hi) conv weights: physiowave = PyWavelets dec_lo/dec_hi stretched
    to k taps (linear, aligned corners) with lo's sum and hi's L1 norm restored (float32,
    as the reference); exact = dec_lo/dec_hi reversed (conv is a cross-correlation)."""
    import pywt
    w = pywt.Wavelet(name)
    lo = torch.tensor(w.dec_lo, dtype=torch.float32)
    hi = torch.tensor(w.dec_hi, dtype=torch.float32)
    if init == "exact":
        return lo.flip(0), hi.flip(0)
    if len(lo) != k:
        lo2 = F.interpolate(lo.view(1, 1, -1), size=k, mode="linear", align_corners=True).view(-1)
        lo = lo2 * (lo.sum() / lo2.sum())
        hi2 = F.interpolate(hi.view(1, 1, -1), size=k, mode="linear", align_corners=True).view(-1)
        hi = hi2 * (hi.abs().sum() / hi2.abs().sum())
    return lo, hi


class WaveFilter(nn.Module):
    def __init__(s, c, lo, hi):
        super().__init__()
        k = len(lo)
        s.low_filter = nn.Conv1d(c, c, k, padding=k // 2, groups=c, bias=False)
        s.high_filter = nn.Conv1d(c, c, k, padding=k // 2, groups=c, bias=False)
        with torch.no_grad():
            s.low_filter.weight.copy_(lo.view(1, 1, k).expand(c, 1, k))
            s.high_filter.weight.copy_(hi.view(1, 1, k).expand(c, 1, k))

    def forward(s, x):  # [B, C, T] -> decimated [B, C, T'] each
        return s.low_filter(x)[..., ::2], s.high_filter(x)[..., ::2]


class Selector(nn.Module):
    def __init__(s, c, families, init, k, hidden):
        super().__init__()
        s.wavelet_filters = nn.ModuleList([WaveFilter(c, *wavelet_taps(f, init, k)) for f in families])
        s.selector = nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(c, hidden), nn.ReLU(),
                                   nn.Linear(hidden, len(families)), nn.Softmax(dim=1))

    def forward(s, x):
        alpha = s.selector(x)  # [B, nf]
        outs = [f(x) for f in s.wavelet_filters]
        a = sum(alpha[:, i, None, None] * o[0] for i, o in enumerate(outs))
        d = sum(alpha[:, i, None, None] * o[1] for i, o in enumerate(outs))
        return a, d, alpha, outs


class Gate(nn.Module):
    def __init__(s, c, heads):
        super().__init__()
        s.h = heads
        s.q, s.k, s.v = nn.Linear(c, c), nn.Linear(c, c), nn.Linear(c, c)

    def forward(s, x):  # [B, C, T] -> g [B, C, 1]
        b, c, _ = x.shape
        p = x.mean(-1)
        q, k, v = (m(p).view(b, s.h, -1) for m in (s.q, s.k, s.v))
        att = (q @ k.transpose(1, 2) / math.sqrt(c // s.h)).softmax(-1)
        return torch.sigmoid((att @ v).reshape(b, c)).unsqueeze(-1)


class Scale(nn.Module):
    def __init__(s, h, init):
        super().__init__()
        s.scale = nn.Parameter(torch.full((1, h, 1, 1), init))


class CAFFN(nn.Module):
    def __init__(s, e, ratio, k, drop, sigma):
        super().__init__()
        h = e * ratio
        s.fc1 = nn.Conv2d(e, h, 1)
        s.dw = nn.Conv2d(h, h, k, padding=k // 2, groups=h)
        s.fc2 = nn.Conv2d(h, e, 1)
        s.decomp = nn.Conv2d(h, 1, 1)
        s.sigma = Scale(h, sigma)
        s.drop = nn.Dropout(drop)

    def forward(s, x):  # [B, E, 1, T]
        h = s.drop(F.gelu(s.dw(s.fc1(x))))
        h = h - F.gelu(s.decomp(h))
        h = h + h * s.sigma.scale
        return s.drop(s.fc2(h))


class CrossScaleCAFFN(nn.Module):
    def __init__(s, e, ratio, k, drop, sigma, heads, lam):
        super().__init__()
        s.base = CAFFN(e, ratio, k, drop, sigma)
        s.attn = nn.MultiheadAttention(e, heads, batch_first=True)
        s.scale = nn.Parameter(torch.tensor([lam]))

    def forward(s, x, prev):
        o = s.base(x)
        if prev:
            b, e, hh, t = o.shape
            q = o.permute(0, 2, 3, 1).reshape(b, -1, e)
            kv = torch.cat([p.permute(0, 2, 3, 1).reshape(b, -1, e) for p in prev], dim=1)
            a, _ = s.attn(q, kv, kv, need_weights=False)
            o = o + s.scale * a.view(b, hh, t, e).permute(0, 3, 1, 2)
        return o


class WaveletFrontEnd(nn.Module):
    """x [B, C, T] -> Spec [B, (L+1)C, T] = [d1 .. dL, aL] (model.md 2.1-2.3)."""

    def __init__(s, c, levels=3, families=("db4", "db6", "sym4", "coif2"), init="physiowave", k=24,
                 hidden=128, gate_heads=4, ffn_ratio=4, ffn_kernel=3, drop=0.0, sigma=1e-5,
                 xattn_heads=4, lam=0.1, rho=0.0):
        super().__init__()
        s.levels = levels
        s.selector = Selector(c, families, init, k, hidden)
        s.gate = Gate(c, gate_heads)
        s.sub_ffn = nn.ModuleList([CrossScaleCAFFN(2 * c, ffn_ratio, ffn_kernel, drop, sigma, xattn_heads, lam)
                                   for _ in range(levels)])
        s.res_scales = nn.ParameterList([nn.Parameter(torch.full((1,), rho)) for _ in range(levels)])

    def forward(s, x, trace=None):
        b, c, t = x.shape
        a, d = x, torch.zeros_like(x)
        prev, bands = [], []
        for i in range(s.levels):
            a2, d2, alpha, outs = s.selector(a)
            if trace is not None:
                trace.append((alpha, outs))
            ua = F.interpolate(a2.unsqueeze(1), size=(c, t), mode="nearest").squeeze(1)
            ud = F.interpolate(d2.unsqueeze(1), size=(c, t), mode="nearest").squeeze(1)
            g = s.gate(a)
            sb = torch.cat([g * a + (1 - g) * ua, g * d + (1 - g) * ud], dim=1).unsqueeze(2)
            r = (sb + s.res_scales[i] * s.sub_ffn[i](sb, prev)).squeeze(2)
            a, d = r[:, :c], r[:, c:]
            prev.append(sb)
            bands.append(d)
        bands.append(a)
        return torch.cat(bands, dim=1)


def freq_guided_mask(tokens, mask_ratio=0.7, r=0.7, u=None):
    """model.md 4A, importance = "token_sequence", as the published code: |rfft| along the
    token axis summed over dims, stretched to L, mixed with U(0,1), top-k masked (no grad)."""
    b, n, _ = tokens.shape
    with torch.no_grad():
        s = torch.abs(torch.fft.rfft(tokens.permute(0, 2, 1), dim=2)).sum(1)
        imp = F.interpolate(s.unsqueeze(1), size=n, mode="linear", align_corners=True).squeeze(1)
        u = torch.rand(b, n) if u is None else u
        idx = torch.topk(r * imp + (1 - r) * u, int(n * mask_ratio), dim=1).indices
        return torch.zeros(b, n).scatter_(1, idx, 1.0)
