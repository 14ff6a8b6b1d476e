"""Helpers shared by the scale-out tests (tests/scale): graph files, reading
the sink's HDF5 output, free ports. Checks go through tests/e2e/pftest.py."""
import os
import random
import socket
import subprocess
import sys

import h5py

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from pftest import check, finish  # noqa: E402,F401


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def read_windows(path):
    """{(record_id, window_index): bytes of the samples and views}, and the duplicate count."""
    with h5py.File(path, "r") as f:
        ids = [s.decode() if isinstance(s, bytes) else s for s in f["record_ids"][:]]
        rec, wi, data = f["record"][:], f["window_index"][:], f["data"][:]
        views = f["views"][:] if "views" in f else None
        out, dup = {}, 0
        for i in range(len(wi)):
            key = (ids[rec[i]], int(wi[i]))
            dup += key in out
            out[key] = data[i].tobytes() + (views[i].tobytes() if views is not None else b"")
        return out, dup


def ephemeral_low():
    """The first port the kernel hands out for outgoing connections."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port_base(n=32, addr="127.0.0.1"):
    """A base port with n free TCP ports above it (other runs may be using some), below the
    ephemeral range: a port in it can be taken by any outgoing connection, even by a
    connection to itself (TCP simultaneous open) while a launcher keeps reconnecting to a
    neighbour's presence port that is not listening yet, and the bind then fails."""
    top = min(ephemeral_low(), 60000) - n
    for _ in range(200):
        base = random.randrange(10000, top)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.bind((addr, p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free ports")


def keygen(exe, *paths):
    r = subprocess.run([exe, "keygen", *paths], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
