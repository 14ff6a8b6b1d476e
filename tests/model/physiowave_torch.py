"""The PhysioWave masked-reconstruction model of nodes/model/pf_transformer.c in
PyTorch, the one definition that tests/model/golden_torch.py (golden tensors)
and bench/model/bench_torch.py (the speed peer) both use: patch embedding
(Linear + LayerNorm + GELU) plus the 2-D sin-cos position table, mask token,
pre-norm encoder with RoPE on q and k, final LayerNorm, head (Linear, GELU,
LayerNorm, Linear) and the masked MSE. Dropout sits where the C model has it
(after attention, around the MLP, in the head); 0 turns it off. Parameter
names and their order are what the golden file stores and the C test reads.
"""
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

    def forward(s, patches, mask):
        tok = F.gelu(s.patch_embed.norm(s.patch_embed.proj(patches))) + s.pos
        m = mask.unsqueeze(-1)
        x = tok * (1 - m) + s.mask_token * m
        for blk in s.blocks:
            x = blk(x)
        z = s.norm(x)
        pred = s.head.fc2(s.head.norm(s.head.drop(F.gelu(s.head.fc1(z)))))
        per_tok = ((pred - patches) ** 2).mean(-1)
        loss = (per_tok * mask).sum() / mask.sum()
        return z, pred, loss
