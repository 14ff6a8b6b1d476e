"""End to end over real processes and real ZeroMQ sockets:
exactly-once delivery through replicas, standalone node processes, two
"hosts" over tcp, Ctrl-C with no orphans, failure reporting, malformed
messages counted and survived, lost messages detected."""
import os
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import pfwire  # noqa: E402
from pftest import check, finish  # noqa: E402

EXE = os.path.abspath(sys.argv[1])


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


SYNTH = 'kind = "synth"; records = 5; duration = 21.0; fs = 500.0; window = 2000; hop = 1500; tail = "pad"; hr = 75.0;'


def graph(tmp, name, middle, out, src_extra="", edges_extra="", top=""):
    nodes = ['{ name = "src"; %s %s }' % (SYNTH, src_extra)]
    edges = []
    prev = "src"
    for i, (kind, extra) in enumerate(middle):
        nodes.append('{ name = "m%d"; kind = "%s"; %s }' % (i, kind, extra))
        edges.append('{ from = "%s"; to = "m%d"; }' % (prev, i))
        prev = "m%d" % i
    nodes.append('{ name = "sink"; kind = "sink"; path = "%s"; %s }' % (out, ""))
    edges.append('{ from = "%s"; to = "sink"; %s }' % (prev, edges_extra))
    text = 'name = "%s";\nseed = 11;\n%s\nnodes = (\n  %s\n);\nedges = (\n  %s\n);\n' % (
        name, top, ",\n  ".join(nodes), ",\n  ".join(edges))
    return write(os.path.join(tmp, name + ".cfg"), text)


def read_windows(path):
    """{(record_id, window_index): (data, rpeaks)} and the file attributes."""
    with h5py.File(path, "r") as f:
        ids = [s.decode() if isinstance(s, bytes) else s for s in f["record_ids"][:]]
        rec, wi, off = f["record"][:], f["window_index"][:], f["rpeaks_offset"][:]
        rp, data = f["rpeaks"][:], f["data"][:]
        out = {}
        dup = 0
        for i in range(len(wi)):
            key = (ids[rec[i]], int(wi[i]))
            dup += key in out
            out[key] = (data[i], rp[off[i]:off[i + 1]])
        return out, dict(f.attrs), dup


def run(cfg, *args, timeout=120):
    return subprocess.run([EXE, "run", cfg, "--quiet", *args], capture_output=True, text=True, timeout=timeout)


def same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k][0], b[k][0]) and np.array_equal(a[k][1], b[k][1]) for k in a)


def test_exactly_once(tmp):
    ref = os.path.join(tmp, "direct.h5")
    r = run(graph(tmp, "direct", [], ref))
    check(r.returncode == 0, "direct graph runs: " + r.stderr[-500:])
    base, attrs, dup = read_windows(ref)
    # 21 s at 500 Hz = 10500 samples; starts every 1500 below 10500 (tail padded) = 7 per record
    check(len(base) == 35 and dup == 0 and attrs["complete"] == 1, "35 distinct windows, complete (got %d)" % len(base))
    check(attrs["n_windows"] == 35, "n_windows attribute")
    with h5py.File(ref, "r") as f:
        check(f["data"].attrs["units"] == b"mV" and f["data"].attrs["lead_names"].startswith(b"I,II,III"), "units and lead names on /data")
        check(b"physioflow graph direct node sink.0" == f.attrs["producer"], "provenance attribute")
    # the padded tail window ends in zeros
    last = base[("synth-0000", 6)][0]
    check(np.all(last[:, 1500:] == 0) and np.any(last[:, :1500] != 0), "tail window zero-padded")
    for reps, src_reps in ((3, 1), (2, 2), (5, 3)):
        out = os.path.join(tmp, "rep%d.h5" % reps)
        cfg = graph(tmp, "rep%d" % reps, [("passthrough", "replicas = %d;" % reps), ("passthrough", "replicas = 2;")], out,
                    src_extra="replicas = %d;" % src_reps)
        r = run(cfg)
        check(r.returncode == 0, "replicated graph runs: " + r.stderr[-800:])
        got, attrs2, dup = read_windows(out)
        check(dup == 0, "%d x %d replicas: no window duplicated (%d duplicates)" % (src_reps, reps, dup))
        check(same(base, got), "%d x %d replicas: every window arrives once, bit-identical" % (src_reps, reps))
        check(attrs2["checksum"] == attrs["checksum"], "stream checksum independent of replicas and order")


def test_standalone_nodes(tmp):
    """Each node process started by hand from the graph file and its name."""
    out = os.path.join(tmp, "alone.h5")
    cfg = graph(tmp, "alone", [("passthrough", "replicas = 2;")], out, top='ipc_dir = "%s/ipc-alone";' % tmp)
    procs = [subprocess.Popen([EXE, "node", cfg, "sink"], stderr=subprocess.PIPE, text=True)]
    time.sleep(0.2)
    procs += [subprocess.Popen([EXE, "node", cfg, "src"], stderr=subprocess.PIPE, text=True)]
    time.sleep(0.3)  # upstream first, downstream later: connections wait for binds
    procs += [subprocess.Popen([EXE, "node", cfg, "m0", "--replica", str(r)], stderr=subprocess.PIPE, text=True) for r in (1, 0)]
    codes = [p.wait(timeout=60) for p in procs]
    check(codes == [0, 0, 0, 0], "standalone processes exit 0: %s %s" % (codes, procs[0].stderr.read()[-300:]))
    ref, _, _ = read_windows(os.path.join(tmp, "direct.h5"))
    got, _, _ = read_windows(out)
    check(same(ref, got), "standalone processes deliver every window once")


def free_port_base(n=16):
    """A base port with n free TCP ports above it (other test runs may be using some)."""
    import random
    import socket
    for _ in range(200):
        base = random.randrange(10000, 32000)  # below the ephemeral range (tests/scale/scaletest.py)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free ports")


def test_two_hosts(tmp):
    out = os.path.join(tmp, "hosts.h5")
    text = open(graph(tmp, "hosts0", [("passthrough", 'replicas = 2; host = "b";')], out,
                      top='base_port = %d;\nhosts = { a = "127.0.0.1"; b = "127.0.0.1"; };\ninsecure = true;' % free_port_base())).read()
    cfg = write(os.path.join(tmp, "hosts.cfg"), text.replace('name = "hosts0"', 'name = "hosts"'))
    r = subprocess.run([EXE, "graph", cfg], capture_output=True, text=True)
    check(r.stdout.count("tcp") == 2, "edges between hosts a and b use tcp:\n" + r.stdout)
    pa = subprocess.Popen([EXE, "run", cfg, "--quiet", "--host", "a"], stderr=subprocess.PIPE, text=True)
    pb = subprocess.Popen([EXE, "run", cfg, "--quiet", "--host", "b"], stderr=subprocess.PIPE, text=True)
    ca, cb = pa.wait(timeout=60), pb.wait(timeout=60)
    check(ca == 0 and cb == 0, "both host launchers succeed (%d, %d): %s" % (ca, cb, pa.stderr.read()[-400:]))
    ref, _, _ = read_windows(os.path.join(tmp, "direct.h5"))
    got, _, _ = read_windows(out)
    check(same(ref, got), "windows cross hosts over tcp exactly once")
    r = subprocess.run([EXE, "run", cfg, "--host", "z"], capture_output=True, text=True)
    check(r.returncode == 2 and "host 'z' is not declared" in r.stderr, "unknown host refused")


def pids_running(marker):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_ctrl_c(tmp):
    out = os.path.join(tmp, "live.h5")
    text = ('name = "live";\ndrain_timeout = 3.0;\nnodes = (\n { name = "src"; kind = "synth"; duration = 600.0; window = 250; realtime = true; },\n'
            ' { name = "p"; kind = "passthrough"; replicas = 3; },\n { name = "sink"; kind = "sink"; path = "%s"; }\n);\n'
            'edges = ( { from = "src"; to = "p"; }, { from = "p"; to = "sink"; } );\n' % out)
    cfg = write(os.path.join(tmp, "live-ctrlc.cfg"), text)
    p = subprocess.Popen([EXE, "run", cfg, "--quiet"], stderr=subprocess.PIPE, text=True)
    # wait for the graph to be up (slow under load or a sanitizer), then let ~5 windows flow
    t_up = time.time()
    while time.time() - t_up < 60 and not (len(pids_running(cfg)) == 6 and os.path.exists(out + ".partial")):
        time.sleep(0.1)
    time.sleep(2.5)
    check(len(pids_running(cfg)) == 6, "launcher + 5 node processes running (%d)" % len(pids_running(cfg)))
    t0 = time.time()
    p.send_signal(signal.SIGINT)
    code = p.wait(timeout=30)
    err = p.stderr.read()
    check(code == 130, "Ctrl-C: exit code 130 (got %d)" % code)
    check(time.time() - t0 < 10, "stops promptly (%.1f s)" % (time.time() - t0))
    check(pids_running(cfg) == [], "no orphan processes after Ctrl-C: %s" % pids_running(cfg))
    check(not os.path.exists(out), "no output file that looks complete")
    check(os.path.exists(out + ".partial"), "the interrupted output is kept as .partial")
    if os.path.exists(out + ".partial"):
        with h5py.File(out + ".partial", "r") as f:
            check(f.attrs["complete"] == 0 and f.attrs["n_windows"] >= 3, "partial file marked incomplete, holds what arrived")
    check("stopped by request" in err, "launcher says it was stopped")
    # the launcher killed outright: nodes die with it (parent-death signal)
    p = subprocess.Popen([EXE, "run", cfg, "--quiet"], stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    p.kill()
    p.wait()
    deadline = time.time() + 10  # nodes exit on their own within drain_timeout (3 s) + slack
    while pids_running(cfg) and time.time() < deadline:
        time.sleep(0.1)
    check(pids_running(cfg) == [], "no orphans after the launcher is SIGKILLed: %s" % pids_running(cfg))


def test_failure(tmp):
    # a missing output folder is found before anything starts, naming the line
    cfg = graph(tmp, "broken", [("passthrough", "")], "/nonexistent-dir/x.h5")
    r = run(cfg, timeout=60)
    check(r.returncode == 2 and "broken.cfg:7: node 'sink': output folder '/nonexistent-dir' does not exist" in r.stderr,
          "check refuses a missing output folder (exit %d):\n%s" % (r.returncode, r.stderr[-600:]))
    # a node that fails while running: its file cannot be created (a folder is in the way)
    os.mkdir(os.path.join(tmp, "x.h5.partial"))
    cfg = graph(tmp, "broken", [("passthrough", "")], os.path.join(tmp, "x.h5"))
    r = run(cfg, timeout=60)
    check(r.returncode == 1, "a failing node fails the run (exit %d)" % r.returncode)
    check("node 'sink' replica 0 failed" in r.stderr, "the failing node is named:\n" + r.stderr[-600:])
    check("x.h5.partial: cannot create" in r.stderr, "the node says why")


def test_bind_failure(tmp):
    """A node that cannot bind its endpoint fails at once, naming it (no hang)."""
    blocker = os.path.join(tmp, "afile")
    write(blocker, "")
    cfg = write(os.path.join(tmp, "bindfail.cfg"), 'name = "bindfail";\nipc_dir = "%s/sub";\n'
                'nodes = ( { name = "src"; kind = "synth"; }, { name = "sink"; kind = "discard"; } );\n'
                'edges = ( { from = "src"; to = "sink"; } );\n' % blocker)
    try:
        r = subprocess.run([EXE, "node", cfg, "sink"], capture_output=True, text=True, timeout=20)
        check(r.returncode == 1 and "cannot bind ipc://%s/sub/sink.0.in" % blocker in r.stderr, "bind failure reported: " + r.stderr[-300:])
    except subprocess.TimeoutExpired:
        check(False, "a node whose bind fails must exit, not hang")


def test_malformed_and_lost(tmp):
    import zmq
    out = os.path.join(tmp, "inject.h5")
    cfg = graph(tmp, "inject", [], out, top='ipc_dir = "%s/ipc-inject";' % tmp)
    ctx = zmq.Context()
    for announce_extra in (0, 1):
        p = subprocess.Popen([EXE, "node", cfg, "sink"], stderr=subprocess.PIPE, text=True)
        s = ctx.socket(zmq.DEALER)  # nodes' inputs are ROUTER sockets
        s.setsockopt(zmq.ROUTING_ID, b"src.0/out")  # the upstream instance the sink's plan expects
        s.connect("ipc://%s/ipc-inject/sink.0.in" % tmp)
        good = pfwire.window("rec-1", 0, np.ones((12, 2000), np.float32), rpeaks=[10, 400])
        s.send_multipart(good)
        s.send(b"garbage")                                           # too short
        s.send_multipart([b"XXXX" + good[0][4:], good[1], good[2]])  # bad magic
        s.send_multipart(good[:2])                                   # missing frame
        bad = list(good)
        bad[1] = bad[1][:-4]                                         # truncated samples
        s.send_multipart(bad)
        s.send_multipart(pfwire.window("rec-1", 1, np.full((12, 2000), 2, np.float32)))
        s.send_multipart(pfwire.eos("src.0", 2 + announce_extra))
        acked = s.poll(10000) and s.recv_multipart()
        check(acked and acked[0][:4] == b"PFLW" and acked[0][6] == pfwire.KIND_CONTROL and b"eos-ack" in acked[0],
              "the node acknowledges end-of-stream to its sender")
        code = p.wait(timeout=30)
        err = p.stderr.read()
        s.close(0)
        if announce_extra == 0:
            check(code == 0, "sink survives malformed messages (exit %d): %s" % (code, err[-500:]))
            check(err.count("dropped malformed message") == 4, "each malformed message logged:\n" + err)
            check("bad magic" in err and "payload frames" in err and "shape says" in err, "reasons given:\n" + err)
            got, attrs, _ = read_windows(out)
            check(len(got) == 2 and attrs["complete"] == 1, "the valid windows are written (%d)" % len(got))
            check(list(got[("rec-1", 0)][1]) == [10, 400], "R-peaks sent by a foreign encoder read back")
        else:
            check(code == 1 and "1 lost" in err, "a window announced but never received is reported lost:\n" + err[-400:])
    ctx.term()


def summary_row(stderr, instance):
    """Columns of the launcher's summary table for one instance (node.replica)."""
    for line in stderr.splitlines():
        cols = line.split()
        if cols and cols[0] == instance:
            return cols
    return None


def test_policies_and_status(tmp):
    # drop: a slow consumer behind a 'drop' edge loses windows, counted, never blocks the source
    text = ('name = "drop";\nnodes = (\n { name = "src"; kind = "repeat"; count = 300; leads = 2; samples = 100; },\n'
            ' { name = "slow"; kind = "passthrough"; delay_ms = 4.0; },\n { name = "end"; kind = "discard"; }\n);\n'
            'edges = ( { from = "src"; to = "slow"; policy = "drop"; hwm = 1; }, { from = "slow"; to = "end"; } );\n')
    r = subprocess.run([EXE, "run", write(os.path.join(tmp, "drop.cfg"), text)], capture_output=True, text=True, timeout=60)
    src, end = summary_row(r.stderr, "src.0"), summary_row(r.stderr, "end.0")
    check(r.returncode == 0 and src and end, "drop graph runs:\n" + r.stderr[-800:])
    if src and end:
        sent, dropped, received = int(src[2]), int(src[5]), int(end[1])
        check(dropped > 0 and sent + dropped == 300 and received == sent, "drop: %d sent + %d dropped = 300, %d received" % (sent, dropped, received))
    # block (default): the same slow consumer loses nothing; the source reports backpressure
    text = text.replace(' policy = "drop"; hwm = 1;', ' hwm = 1;').replace('"drop"', '"block"', 1).replace("count = 300", "count = 700")
    r = subprocess.run([EXE, "run", write(os.path.join(tmp, "block.cfg"), text)], capture_output=True, text=True, timeout=60)
    src, end = summary_row(r.stderr, "src.0"), summary_row(r.stderr, "end.0")
    check(r.returncode == 0 and src and end and int(end[1]) == 700 and int(src[5]) == 0, "block: all 700 arrive")
    check(src and float(src[8]) > 0.5, "block: time blocked on backpressure is counted (%s s)" % (src[8] if src else "?"))
    check("status: src: " in r.stderr and "bp " in r.stderr and "win/s" in r.stderr, "live status lines show rate and backpressure:\n" + r.stderr[:600])
    # sink replicas write one file each; together they hold every window once
    out = os.path.join(tmp, "split.h5")
    cfg = graph(tmp, "split", [], out).replace("", "")
    text = open(cfg).read().replace('path = "%s";' % out, 'path = "%s"; replicas = 2;' % out)
    r = run(write(cfg, text))
    parts = [read_windows(os.path.join(tmp, "split.r%d.h5" % i))[0] for i in (0, 1)]
    merged = dict(parts[0])
    merged.update(parts[1])
    ref, _, _ = read_windows(os.path.join(tmp, "direct.h5"))
    check(r.returncode == 0 and len(parts[0]) + len(parts[1]) == len(ref) and same(ref, merged), "two sink replicas split the windows")


AUG = ('kind = "shuffle"; views = 2; mask_p = 0.5; noise_p = 0.5; noise_std = 0.05; wander_p = 0.5; '
       'powerline_p = 0.5; scale_p = 0.5; shift_p = 0.5;')


def read_views(path):
    with h5py.File(path, "r") as f:
        ids = [s.decode() if isinstance(s, bytes) else s for s in f["record_ids"][:]]
        rec, wi = f["record"][:], f["window_index"][:]
        views, data = f["views"][:], f["data"][:]
        ra, rao = f["rpeaks_aug"][:], f["rpeaks_aug_offset"][:]
        rp, rpo = f["rpeaks"][:], f["rpeaks_offset"][:]
        return {(ids[rec[i]], int(wi[i])): (data[i], views[i], ra[rao[i]:rao[i + 1]], rp[rpo[i]:rpo[i + 1]]) for i in range(len(wi))}


def test_augment_replicas(tmp):
    """The same stream through 1 and 3 shuffle replicas gives bit-identical views."""
    src = 'kind = "synth"; records = 4; duration = 30.0; window = 2500; hr = 80.0;'
    outs = {}
    for reps in (1, 3):
        out = os.path.join(tmp, "aug%d.h5" % reps)
        text = ('name = "aug%d";\nseed = 5;\nnodes = (\n { name = "src"; %s },\n { name = "aug"; %s replicas = %d; },\n'
                ' { name = "sink"; kind = "sink"; path = "%s"; }\n);\nedges = ( { from = "src"; to = "aug"; }, { from = "aug"; to = "sink"; } );\n'
                % (reps, src, AUG, reps, out))
        r = run(write(os.path.join(tmp, "aug%d.cfg" % reps), text))
        check(r.returncode == 0, "augment graph with %d replicas runs: %s" % (reps, r.stderr[-500:]))
        outs[reps] = read_views(out)
    a, b = outs[1], outs[3]
    check(len(a) == 24 and a.keys() == b.keys(), "24 windows through 1 and 3 replicas (%d, %d)" % (len(a), len(b)))
    check(all(np.array_equal(a[k][1], b[k][1]) and np.array_equal(a[k][2], b[k][2]) for k in a),
          "views and their R-peaks are bit-identical whichever replica made them")
    k0 = sorted(a)[0]
    data, views, ra, rp = a[k0]
    check(views.shape == (2, 12, 2500) and not np.array_equal(views[0], views[1]), "two distinct views per window")
    check(len(ra) == 2 * len(rp), "each view carries as many R-peaks as the window (%d vs %d)" % (len(ra), len(rp)))
    masked = sum(int(np.all(v[l] == 0)) for k in a for v in a[k][1] for l in range(12))
    check(0.15 < masked / (len(a) * 2 * 12) < 0.35, "about a quarter of leads masked (p 0.5 x 0.5): %.3f" % (masked / (len(a) * 24)))
    # windows with fewer than two R-peaks pass unchanged and are counted
    out = os.path.join(tmp, "sparse.h5")
    text = ('name = "sparse";\nnodes = (\n { name = "src"; kind = "synth"; records = 2; duration = 30.0; window = 600; hr = 40.0; },\n'
            ' { name = "aug"; kind = "shuffle"; },\n { name = "sink"; kind = "sink"; path = "%s"; }\n);\n'
            'edges = ( { from = "src"; to = "aug"; }, { from = "aug"; to = "sink"; } );\n' % out)
    r = subprocess.run([EXE, "run", write(os.path.join(tmp, "sparse.cfg"), text)], capture_output=True, text=True, timeout=60)
    row = summary_row(r.stderr, "aug.0")
    unsh = [c for c in (row or []) if c.startswith("unshuffled=")]
    w = read_views(out)
    few = [k for k in w if len(w[k][3]) < 2]
    check(r.returncode == 0 and unsh and int(unsh[0].split("=")[1]) == len(few) > 0,
          "windows with < 2 R-peaks counted as unshuffled (%s, %d such windows)" % (unsh, len(few)))
    check(all(np.array_equal(w[k][0], w[k][1][0]) for k in few), "and passed unchanged")


def test_delineate(tmp):
    """delineate as node processes: one row of 9 boundaries per R-peak, ordered, inside the
    window, the same whatever the replica count; windows without R-peaks get none."""
    res = {}
    for reps in (1, 2):
        out = os.path.join(tmp, "del%d.h5" % reps)
        text = ('name = "del%d";\nnodes = (\n { name = "src"; kind = "synth"; records = 3; duration = 20.0; window = 2500; },\n'
                ' { name = "d"; kind = "delineate"; replicas = %d; },\n { name = "sink"; kind = "sink"; path = "%s"; }\n);\n'
                'edges = ( { from = "src"; to = "d"; }, { from = "d"; to = "sink"; } );\n' % (reps, reps, out))
        r = run(write(os.path.join(tmp, "del%d.cfg" % reps), text))
        check(r.returncode == 0, "delineate graph runs: " + r.stderr[-400:])
        with h5py.File(out, "r") as f:
            ids = [s.decode() for s in f["record_ids"][:]]
            rec, wi, st = f["record"][:], f["window_index"][:], f["start_sample"][:]
            b, bo, rp, ro = f["beats"][:], f["beats_offset"][:], f["rpeaks"][:], f["rpeaks_offset"][:]
            res[reps] = {(ids[rec[i]], int(wi[i])): b[bo[i]:bo[i + 1]] for i in range(len(wi))}
            ok_rows = all(np.array_equal(b[bo[i]:bo[i + 1], 4], rp[ro[i]:ro[i + 1]]) for i in range(len(wi)))
            inside = all(((w[w >= 0] >= st[i]) & (w[w >= 0] < st[i] + 2500)).all() for i in range(len(wi)) for w in [b[bo[i]:bo[i + 1]]])
    check(ok_rows, "one beat row per R-peak, its R column equal to the R-peak")
    check(inside, "every boundary inside its window")
    qrs = b[(b[:, 3] >= 0) & (b[:, 5] >= 0)]
    check(len(qrs) == len(b) and np.all((qrs[:, 3] < qrs[:, 4]) & (qrs[:, 4] < qrs[:, 5])), "QRS onset < R < QRS offset for every beat")
    full = b[(b >= 0).all(axis=1)]
    check(len(full) > 0.8 * len(b) and np.all(np.diff(full, axis=1) >= 0), "P, QRS, T boundaries in order (%d of %d beats complete)" % (len(full), len(b)))
    check(res[1].keys() == res[2].keys() and all(np.array_equal(res[1][k], res[2][k]) for k in res[1]), "same boundaries with 1 and 2 replicas")
    # pacemaker stimuli bridged before delineating are counted by the node: a paced
    # LUDB record (8) has them, a sinus one (1) does not (real WFDB records, when present)
    ludb = os.path.join(os.environ.get("PF_SHARED_DATA", ""), "ludb", "data")
    if not os.path.isfile(os.path.join(ludb, "8.hea")):
        print("SKIP: pacing-spike counter (LUDB not found at %s)" % ludb)
    else:
        for rec, paced in (("8", True), ("1", False)):
            out = os.path.join(tmp, "paced%s.h5" % rec)
            text = ('name = "paced";\nnodes = (\n { name = "src"; kind = "reader"; root = "%s"; records = ["%s"]; window = 5000; },\n'
                    ' { name = "rp"; kind = "rpeak"; },\n { name = "d"; kind = "delineate"; },\n'
                    ' { name = "sink"; kind = "sink"; path = "%s"; }\n);\n'
                    'edges = ( { from = "src"; to = "rp"; }, { from = "rp"; to = "d"; }, { from = "d"; to = "sink"; } );\n'
                    % (ludb, rec, out))
            r = subprocess.run([EXE, "run", write(os.path.join(tmp, "paced%s.cfg" % rec), text)], capture_output=True,
                               text=True, timeout=60)
            row = summary_row(r.stderr, "d.0") or []
            n = [int(c.split("=")[1]) for c in row if c.startswith("pacing_spikes=")]
            check(r.returncode == 0 and bool(n and n[0] > 0) == paced,
                  "record %s: pacing_spikes counted %s (paced: %s): %s" % (rec, n, paced, r.stderr[-400:]))
    # shuffle reuses an upstream delineate's BEATS: the same features as delineating itself
    feats = {}
    for name, mid in (("own", ""), ("reuse", ' { name = "d"; kind = "delineate"; },\n')):
        out = os.path.join(tmp, "feat-%s.h5" % name)
        edges = ('{ from = "src"; to = "d"; }, { from = "d"; to = "aug"; }' if mid else '{ from = "src"; to = "aug"; }')
        text = ('name = "feat%s";\nnodes = (\n { name = "src"; kind = "synth"; records = 2; duration = 20.0; window = 2500; },\n%s'
                ' { name = "aug"; kind = "shuffle"; },\n { name = "sink"; kind = "sink"; path = "%s"; }\n);\n'
                'edges = ( %s, { from = "aug"; to = "sink"; } );\n' % (name, mid, out, edges))
        r = subprocess.run([EXE, "run", write(os.path.join(tmp, "feat-%s.cfg" % name), text)], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "features graph %s runs: %s" % (name, r.stderr[-300:]))
        if name == "reuse":
            row = summary_row(r.stderr, "aug.0") or []
            check(any(c.startswith("features_from_beats=8") for c in row), "shuffle used the upstream beats: %s" % row)
        with h5py.File(out, "r") as f:
            o = np.lexsort((f["window_index"][:], f["record"][:]))
            feats[name] = f["features"][:][o]
    check(np.array_equal(feats["own"], feats["reuse"]), "features from upstream BEATS equal the shuffle node's own delineation")
    # a window without R-peaks: zero beats, counted; the stream goes on
    import zmq
    out = os.path.join(tmp, "delbad.h5")
    cfg = write(os.path.join(tmp, "delbad.cfg"), 'name = "delbad";\nipc_dir = "%s/ipc-delbad";\nnodes = ( { name = "src"; kind = "synth"; },\n'
                ' { name = "d"; kind = "delineate"; }, { name = "sink"; kind = "sink"; path = "%s"; } );\n'
                'edges = ( { from = "src"; to = "d"; }, { from = "d"; to = "sink"; } );\n' % (tmp, out))
    pd = subprocess.Popen([EXE, "node", cfg, "d"], stderr=subprocess.PIPE, text=True)
    ps = subprocess.Popen([EXE, "node", cfg, "sink"], stderr=subprocess.PIPE, text=True)
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.ROUTING_ID, b"src.0/out")
    s.connect("ipc://%s/ipc-delbad/d.0.in" % tmp)
    s.send_multipart(pfwire.window("x", 0, np.zeros((2, 1000), np.float32)))            # no R-peaks at all
    s.send_multipart(pfwire.window("x", 1, np.zeros((2, 1000), np.float32), rpeaks=[1500, 99999]))  # peaks outside
    s.send_multipart(pfwire.eos("src.0", 2))
    s.poll(10000)
    codes = (pd.wait(timeout=30), ps.wait(timeout=30))
    s.close(0)
    ctx.term()
    check(codes == (0, 0), "degenerate windows pass through (%s): %s" % (codes, pd.stderr.read()[-300:]))
    with h5py.File(out, "r") as f:
        check(f["beats"].shape == (0, 9) and list(f["beats_offset"][:]) == [0, 0, 0], "no beats for windows without R-peaks in them")


def main():
    with tempfile.TemporaryDirectory(prefix="pf-e2e-") as tmp:
        for t in (test_exactly_once, test_standalone_nodes, test_two_hosts, test_ctrl_c, test_failure, test_bind_failure, test_malformed_and_lost,
                  test_policies_and_status, test_augment_replicas, test_delineate):
            t0 = time.time()
            t(tmp)
            print("%-26s %.1f s" % (t.__name__, time.time() - t0), flush=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
