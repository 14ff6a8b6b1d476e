"""Hardening (issue 12) over real processes, sockets and files: forged
end-of-stream and windows change nothing but a counter; a node, the sink or
the launcher killed with SIGKILL leaves a readable .partial marked incomplete;
stalls are named; forged status messages are ignored; socket folders are
checked and cleaned."""
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


def cfg_chain(tmp, name, out, mid_kind="passthrough", mid_extra="", src_extra="", top="", duration=120.0):
    """synth -> mid -> sink, sockets in tmp/ipc-NAME (run folder: that + '-PID').
    120 s records: 5 x 40 = 200 windows."""
    text = ('name = "%s";\nseed = 3;\nipc_dir = "%s/ipc-%s";\n%s\nnodes = (\n'
            ' { name = "src"; kind = "synth"; records = 5; duration = %.1f; fs = 500.0; window = 2000; hop = 1500; tail = "pad"; %s },\n'
            ' { name = "p"; kind = "%s"; %s },\n { name = "sink"; kind = "sink"; path = "%s"; }\n);\n'
            'edges = ( { from = "src"; to = "p"; }, { from = "p"; to = "sink"; } );\n' % (name, tmp, name, top, duration, src_extra, mid_kind, mid_extra, out))
    return write(os.path.join(tmp, name + ".cfg"), text)


def windows(path):
    """{(record, window_index): samples} of a sink file, and its attributes."""
    with h5py.File(path, "r") as f:
        if "data" not in f:  # no window arrived
            check(f.attrs["n_windows"] == 0 and len(f["window_index"]) == 0, "an empty file says so")
            return {}, dict(f.attrs)
        ids = [s.decode() if isinstance(s, bytes) else s for s in f["record_ids"][:]]
        rec, wi, data = f["record"][:], f["window_index"][:], f["data"][:]
        check(len(rec) == len(wi) == len(data) == f.attrs["n_windows"] and len(f["rpeaks_offset"]) == len(wi) + 1,
              "%s: every per-window array has n_windows = %d rows" % (os.path.basename(path), f.attrs["n_windows"]))
        return {(ids[rec[i]], int(wi[i])): data[i] for i in range(len(wi))}, dict(f.attrs)


def summary_row(stderr, instance):
    for line in stderr.splitlines():
        cols = line.split()
        if cols and cols[0] == instance:
            return cols
    return None


def wait(p, timeout=45):
    """Exit code, or -999 after killing a process that hangs (a failure, not a crash of the test)."""
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        check(False, "%s hangs: killed after %d s" % (" ".join(p.args[1:3]), timeout))
        p.kill()
        p.wait()
        return -999


class _Hung:
    returncode, stdout, stderr = -999, "", "(hung)"


def run(args, timeout=60, max_gb=None):
    """subprocess.run with output captured; a command that hangs is a failure, not a crash of the test.
    max_gb: address-space cap, so a build with the defect cannot eat a shared machine (not under ASan)."""
    def cap():
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (max_gb << 30, max_gb << 30))
    with open(EXE, "rb") as f:
        sanitized = b"__asan_init" in f.read()
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                              preexec_fn=cap if max_gb and not sanitized else None)
    except subprocess.TimeoutExpired:
        check(False, "%s hangs: killed after %d s" % (" ".join(args[1:3]), timeout))
        return _Hung()


def wait_for(path, timeout=20):
    t = time.time() + timeout
    while not os.path.exists(path) and time.time() < t:
        time.sleep(0.02)
    return os.path.exists(path)


def pids_running(marker):
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(pid))
            except OSError:
                pass
    return found


def node_pid(cfg, node, replica=0):
    for pid in pids_running(cfg):
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            args = f.read().split(b"\0")
        if b"node" in args and node.encode() in args and args[args.index(b"--replica") + 1] == str(replica).encode():
            return pid
    return None


def test_forged_eos_and_window(tmp, ref):
    """Defect 1: forged EOS (count 0) and a forged window sent into a running sink."""
    import zmq
    out = os.path.join(tmp, "forge.h5")
    cfg = cfg_chain(tmp, "forge", out, mid_extra="delay_ms = 5.0;")
    p = subprocess.Popen([EXE, "run", cfg], stderr=subprocess.PIPE, text=True)
    ep = "ipc://%s/ipc-forge-%d/sink.0.in" % (tmp, p.pid)
    check(wait_for(ep[6:]), "sink socket appears")
    time.sleep(0.5)
    ctx = zmq.Context()
    socks = []
    for rid in (None, b"p.0", b"evil.0/out"):  # no routing id, the right name without the port, a stranger
        s = ctx.socket(zmq.DEALER)
        if rid:
            s.setsockopt(zmq.ROUTING_ID, rid)
        s.connect(ep)
        socks.append(s)
        s.send_multipart(pfwire.eos("p.0", 0))
        s.send_multipart(pfwire.window("FORGED", 0, np.ones((12, 2000), np.float32)))
    acks = sum(1 for s in socks if s.poll(500))
    code = wait(p)
    err = p.stderr.read()
    for s in socks:
        s.close(0)
    ctx.term()
    check(acks == 0, "no forged end-of-stream is acknowledged (%d were)" % acks)
    check(code == 0, "the graph ends normally (exit %d): %s" % (code, err[-600:]))
    got, attrs = windows(out) if os.path.exists(out) else ({}, {})
    check(len(got) == len(ref) and attrs.get("complete") == 1, "all %d windows, complete (got %d)" % (len(ref), len(got)))
    check(not any(k[0] == "FORGED" for k in got), "the forged window is not stored")
    check(all(np.array_equal(got[k], ref[k]) for k in got if k in ref), "stored windows are the real ones")
    row = summary_row(err, "sink.0")
    check(row is not None and int(row[6]) == 6, "6 forged messages counted malformed: %s" % row)
    check(row is not None and int(row[1]) == len(ref), "msgs in counts only the real windows: %s" % row)
    check("not an upstream instance of this port" in err, "the reason is logged:\n" + err[-800:])


def test_kill_replica(tmp, ref):
    """Defect 2: kill -9 of one replica. The replicated passthrough is a per-window kind, so its
    edges are acknowledged (docs/protocol.md): the windows it held go to the other replicas,
    the graph completes and the sink has every window exactly once (tests/scale/test_kill.py
    kills many more, with restarts)."""
    out = os.path.join(tmp, "kill.h5")
    cfg = cfg_chain(tmp, "kill", out, mid_extra="replicas = 3; delay_ms = 30.0;", top="drain_timeout = 3.0;")
    p = subprocess.Popen([EXE, "run", cfg], stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    victim = node_pid(cfg, "p", 1)
    check(victim is not None, "found replica p.1")
    if victim:
        os.kill(victim, signal.SIGKILL)
    code = wait(p)
    err = p.stderr.read()
    check(code == 0 and "node 'p' replica 1 was killed by signal 9" in err and "go to the other replicas" in err,
          "launcher names the dead replica and carries on (exit %d)" % code)
    check(os.path.exists(out), "output complete")
    if os.path.exists(out):
        got, attrs = windows(out)
        row = summary_row(err, "sink.0")
        check(attrs["complete"] == 1 and len(got) == len(ref), "every window arrived (%d of %d)" % (len(got), len(ref)))
        check(all(k in ref and np.array_equal(got[k], ref[k]) for k in got), "stored windows are intact")
        check(row is not None and "done" in row, "sink finished as done: %s" % row)
    check("upstream p.1/out died" in err, "the sink was told which upstream died:\n" + err[-800:])


def test_source_crash(tmp, ref):
    """The source crashes mid-stream (SIGSEGV): the nodes after it finish, the sink keeps all it got."""
    out = os.path.join(tmp, "crash.h5")
    cfg = cfg_chain(tmp, "crash", out, mid_extra="replicas = 2; delay_ms = 20.0;", duration=1200.0)  # 2000 windows
    p = subprocess.Popen([EXE, "run", cfg], stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)
    victim = node_pid(cfg, "src")
    if victim:
        os.kill(victim, signal.SIGSEGV)
    code = wait(p)
    err = p.stderr.read()
    # (under ASan the crash handler exits 1 instead of dying by the signal)
    check(code == 1 and ("node 'src' replica 0 was killed by signal 11" in err or "node 'src' replica 0 failed" in err),
          "the crash is named (exit %d): %s" % (code, err[-400:]))
    try:
        got, attrs = windows(out + ".partial")
        row = summary_row(err, "sink.0")
        check(attrs["complete"] == 0 and len(got) > 10 and row is not None and len(got) == int(row[1]),
              "readable .partial, incomplete, every window the sink received (%d)" % len(got))
    except OSError as e:
        check(False, "the .partial after a source crash is readable: %s" % e)


def test_kill_sink(tmp, ref):
    """kill -9 of the sink itself: the periodic flush leaves a readable .partial."""
    out = os.path.join(tmp, "ksink.h5")
    cfg = cfg_chain(tmp, "ksink", out, mid_extra="delay_ms = 20.0;")
    p = subprocess.Popen([EXE, "run", cfg], stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)
    victim = node_pid(cfg, "sink")
    if victim:
        os.kill(victim, signal.SIGKILL)
    code = wait(p)
    p.stderr.read()
    check(code == 1, "a killed sink fails the run (exit %d)" % code)
    try:
        got, attrs = windows(out + ".partial")
        check(attrs["complete"] == 0 and len(got) >= 10, "h5py reads the killed sink's file: %d windows, incomplete" % len(got))
        check(all(k in ref and np.array_equal(got[k], ref[k]) for k in got), "its windows are intact")
    except Exception as e:  # noqa: BLE001
        check(False, "the killed sink's .partial is readable: %s" % e)


def test_kill_launcher(tmp, ref):
    """Defect 4: kill -9 of the launcher: nodes drain and close (one stop request), the
    output is readable and marked incomplete, the socket folder is cleaned at the next start."""
    out = os.path.join(tmp, "klaunch.h5")
    cfg = cfg_chain(tmp, "klaunch", out, mid_extra="replicas = 2; delay_ms = 30.0;", top="drain_timeout = 3.0;")
    p = subprocess.Popen([EXE, "run", cfg, "--quiet"], stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    p.kill()
    p.wait()
    t0 = time.time()
    while pids_running(cfg) and time.time() - t0 < 10:
        time.sleep(0.05)
    check(pids_running(cfg) == [], "no orphans after the launcher's SIGKILL")
    check(time.time() - t0 < 4, "nodes finish promptly (%.1f s)" % (time.time() - t0))
    try:
        got, attrs = windows(out + ".partial")
        check(attrs["complete"] == 0 and len(got) >= 10, "readable .partial, incomplete, %d windows" % len(got))
        check(all(k in ref and np.array_equal(got[k], ref[k]) for k in got), "its windows are intact")
    except Exception as e:  # noqa: BLE001
        check(False, "the .partial after the launcher's SIGKILL is readable: %s" % e)
    stale = "%s/ipc-klaunch-%d" % (tmp, p.pid)
    check(os.path.isdir(stale), "the killed launcher left its socket folder")
    r = run([EXE, "run", cfg, "--quiet"])
    check(r.returncode == 0 and not os.path.exists(stale), "the next start removes it: %s" % r.stderr[-300:])


def test_stall(tmp):
    """A stopped replica: the status line says so, the launcher names the waiting edges."""
    out = os.path.join(tmp, "stall.h5")
    cfg = cfg_chain(tmp, "stall", out, mid_extra="replicas = 2; delay_ms = 20.0;", top="stall_warn = 2.0;")
    p = subprocess.Popen([EXE, "run", cfg], stderr=subprocess.PIPE, text=True)
    time.sleep(0.8)
    victim = node_pid(cfg, "p", 1)
    if victim:
        os.kill(victim, signal.SIGSTOP)
    time.sleep(9.0)
    if victim:
        os.kill(victim, signal.SIGCONT)
    code = wait(p)
    err = p.stderr.read()
    check(code == 0, "the graph ends once the replica continues (exit %d)" % code)
    check("p.1 STALLED" in err, "the status line reports the stopped replica:\n" + err[-1500:])
    check("no progress for" in err and "src.0 -> p.1: one side sends no status" in err and "p.1 -> sink.0" in err, "the waiting edges are named:\n" + err[-1500:])


def test_forged_status(tmp):
    """Defect 6: a forged status (18-byte counters) is ignored, not read past its end."""
    import zmq
    out = os.path.join(tmp, "fstat.h5")
    cfg = cfg_chain(tmp, "fstat", out, mid_extra="delay_ms = 5.0;")
    p = subprocess.Popen([EXE, "run", cfg], stderr=subprocess.PIPE, text=True)
    ep = "ipc://%s/ipc-fstat-%d/status" % (tmp, p.pid)
    check(wait_for(ep[6:]), "status socket appears")
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.connect(ep)
    name = b"p\n"
    s.send_multipart(pfwire.encode(pfwire.KIND_CONTROL, b"status", count=0,
                                   sections=[(10, "u8", [len(name)], name), (6, "u8", [18], b"\xff" * 18)]))
    s.send_multipart(pfwire.encode(pfwire.KIND_CONTROL, b"status", count=0,
                                   sections=[(10, "u8", [len(name)], name), (6, "u64", [10], b"\xff" * 80)]))
    code = wait(p)
    err = p.stderr.read()
    s.close(0)
    ctx.term()
    check(code == 0, "graph unaffected (exit %d)" % code)
    check(err.count("ignored a status message") == 2, "both forged statuses ignored:\n" + err[-600:])
    row = summary_row(err, "p.0")
    check(row is not None and int(row[1]) == 200, "p.0's own counters stand: %s" % row)


def test_ipc_folder_checks(tmp):
    """Defect 7: a socket folder others may write to, or owned by someone else, is refused."""
    shared = os.path.join(tmp, "shared")
    os.mkdir(shared)
    os.chmod(shared, 0o777)
    text = ('name = "open";\nipc_dir = "%s/g";\nnodes = ( { name = "src"; kind = "synth"; records = 1; duration = 4.0; },'
            ' { name = "d"; kind = "discard"; } );\nedges = ( { from = "src"; to = "d"; } );\n' % shared)
    r = run([EXE, "run", write(os.path.join(tmp, "open.cfg"), text), "--quiet"], 30)
    check(r.returncode == 1 and "%s has mode 0777" % shared in r.stderr, "a world-writable folder is refused: " + r.stderr[-300:])
    if os.getuid() == 0:
        os.chmod(shared, 0o700)
        os.chown(shared, 65534, 65534)
        r = run([EXE, "run", os.path.join(tmp, "open.cfg"), "--quiet"], 30)
        check(r.returncode == 1 and "belongs to uid 65534" in r.stderr, "another user's folder is refused: " + r.stderr[-300:])
    else:
        print("SKIP: folder owned by another user (needs root to create one)")


def inject(tmp, name, nodes, edges, target, sender, msgs, procs_order):
    """Start the named node processes by hand, send msgs into target's input as `sender`
    (an upstream instance the plan expects), then its end-of-stream; return (codes, logs)."""
    import zmq
    text = 'name = "%s";\nipc_dir = "%s/ipc-%s";\nnodes = ( %s );\nedges = ( %s );\n' % (name, tmp, name, nodes, edges)
    cfg = write(os.path.join(tmp, name + ".cfg"), text)
    procs = [subprocess.Popen([EXE, "node", cfg, n], stderr=subprocess.PIPE, text=True) for n in procs_order]
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.ROUTING_ID, sender.encode() + b"/out")
    s.connect("ipc://%s/ipc-%s/%s.0.in" % (tmp, name, target))
    for m in msgs:
        s.send_multipart(m)
    s.send_multipart(pfwire.eos(sender, len(msgs)))
    s.poll(10000)
    codes = [wait(p) for p in procs]
    logs = "".join(p.stderr.read() for p in procs)
    s.close(0)
    ctx.term()
    return codes, logs


def test_hostile_windows(tmp):
    """Defect 3: well-formed but hostile windows are dropped and counted; the nodes carry on."""
    x = (np.sin(np.arange(2000) / 40.0)[None, :] * np.ones((2, 1))).astype(np.float32)
    good = pfwire.window("ok", 0, x, rate=500.0, rpeaks=[100, 500, 900, 1300, 1700])
    # sample rates the filter and the R-peak detector cannot take
    for kind in ("filter", "rpeak"):
        out = os.path.join(tmp, "rates-%s.h5" % kind)
        codes, logs = inject(tmp, "rates-" + kind, '{ name = "src"; kind = "synth"; }, { name = "f"; kind = "%s"; },'
                             ' { name = "sink"; kind = "sink"; path = "%s"; }' % (kind, out),
                             '{ from = "src"; to = "f"; }, { from = "f"; to = "sink"; }', "f", "src.0",
                             [pfwire.window("one", 0, x, rate=1.0), pfwire.window("ten", 0, x, rate=10.0), good], ["sink", "f"])
        check(codes == [0, 0], "%s and sink survive rates of 1 and 10 Hz (%s):\n%s" % (kind, codes, logs[-800:]))
        check("(bad_rate, 2 so far)" in logs, "%s: each drop is logged with its reason:\n%s" % (kind, logs[-800:]))
        if os.path.exists(out):
            with h5py.File(out, "r") as f:
                check(f.attrs["n_windows"] == 1 and f.attrs["complete"] == 1, "the good window still arrives (%d)" % f.attrs["n_windows"])
    # beat boundaries far outside the window (qrs_on = 10^12 crashed shuffle's features)
    beats = np.full((1, 9), -1, np.int64)
    beats[0, 3], beats[0, 4], beats[0, 5] = 10 ** 12, 500, 520
    hostile = pfwire.encode(pfwire.KIND_WINDOW, "evil", 0, 0, 500.0, 2, 2000, sections=[
        (pfwire.SEC_SAMPLES, "f32", [2, 2000], x.tobytes()), (14, "i64", [1, 9], beats.tobytes())])
    out = os.path.join(tmp, "beats.h5")
    codes, logs = inject(tmp, "beats", '{ name = "src"; kind = "synth"; }, { name = "a"; kind = "shuffle"; },'
                         ' { name = "sink"; kind = "sink"; path = "%s"; }' % out,
                         '{ from = "src"; to = "a"; }, { from = "a"; to = "sink"; }', "a", "src.0",
                         [hostile, pfwire.window("slow", 0, x, rate=1.0), good], ["sink", "a"])
    check(codes == [0, 0], "shuffle survives BEATS outside the window and a 1 Hz window (%s):\n%s" % (codes, logs[-800:]))
    check("bad_beats" in logs and "lies outside the window" in logs and "bad_rate" in logs, "reasons logged:\n" + logs[-800:])
    if os.path.exists(out):
        with h5py.File(out, "r") as f:
            check(f.attrs["n_windows"] == 1, "the good window still arrives (%d)" % f.attrs["n_windows"])


def test_bounded(tmp):
    """Defect 5: a tiny HDF5 file declaring a huge unallocated dataset fails at once with a
    clear error (it grew the reader to 12.7 GB); a 100 MiB frame is refused unbuffered."""
    import resource
    import zmq
    bomb = os.path.join(tmp, "bomb.h5")
    with h5py.File(bomb, "w") as f:
        f.create_dataset("data", shape=(10 ** 6, 12, 10 ** 6), chunks=(1, 12, 1000), dtype="f4")
        f.attrs["fs"] = 500.0
    text = ('name = "bomb";\nipc_dir = "%s/ipc-bomb";\nnodes = ( { name = "src"; kind = "reader"; records = ["%s"]; window = 1000; },'
            ' { name = "d"; kind = "discard"; } );\nedges = ( { from = "src"; to = "d"; } );\n' % (tmp, bomb))
    cfg = write(os.path.join(tmp, "bomb.cfg"), text)
    t0 = time.time()
    r = run([EXE, "node", cfg, "src"], 30, max_gb=3)
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    check(r.returncode == 1 and "more than max_windows" in r.stderr and "bomb.h5 declares 1000000 item(s)" in r.stderr,
          "the reader refuses the plan, naming the file: " + r.stderr[-300:])
    check(time.time() - t0 < 10 and rss_mb < 500, "at once and small (%.1f s, max RSS %.0f MB)" % (time.time() - t0, rss_mb))
    # ZMQ_MAXMSGSIZE: a frame above max_frame_mb drops the connection before it is buffered
    out = os.path.join(tmp, "big.h5")
    text = ('name = "big";\nmax_frame_mb = 8;\nipc_dir = "%s/ipc-big";\nnodes = ( { name = "src"; kind = "synth"; },'
            ' { name = "sink"; kind = "sink"; path = "%s"; } );\nedges = ( { from = "src"; to = "sink"; } );\n' % (tmp, out))
    cfg = write(os.path.join(tmp, "big.cfg"), text)
    p = subprocess.Popen([EXE, "node", cfg, "sink"], stderr=subprocess.PIPE, text=True)
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.ROUTING_ID, b"src.0/out")
    s.connect("ipc://%s/ipc-big/sink.0.in" % tmp)
    x = np.ones((2, 1000), np.float32)
    s.send_multipart(pfwire.window("a", 0, x))
    big = pfwire.window("big", 1, np.ones((16, 1 << 20), np.float32))  # one 64 MiB frame
    s.send_multipart(big)
    time.sleep(1.0)
    try:
        with open("/proc/%d/status" % p.pid) as f:
            rss = int([ln for ln in f.read().splitlines() if ln.startswith("VmHWM")][0].split()[1]) / 1024
    except (OSError, IndexError):
        rss = float("inf")  # the sink is gone
    s.send_multipart(pfwire.window("a", 2, x))  # the dropped peer's socket reconnects by itself
    s.send_multipart(pfwire.eos("src.0", 2))
    s.poll(10000)
    code = wait(p, 30)
    err = p.stderr.read()
    s.close(0)
    ctx.term()
    check(rss < 60, "the 64 MiB frame was never buffered (sink peak RSS %.0f MB)" % rss)
    if code == 0:
        with h5py.File(out, "r") as f:
            check(f.attrs["n_windows"] == 2, "the sink carried on with the windows around it (%d)" % f.attrs["n_windows"])
    else:
        check(False, "sink exit %d: %s" % (code, err[-300:]))


def main():
    with tempfile.TemporaryDirectory(prefix="pf-harden-") as tmp:
        refp = os.path.join(tmp, "ref.h5")
        r = subprocess.run([EXE, "run", cfg_chain(tmp, "ref", refp), "--quiet"], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "reference graph runs: " + r.stderr[-300:])
        ref, _ = windows(refp)
        check(len(ref) == 200, "reference has 200 windows")
        only = os.environ.get("PF_ONLY")  # run one test by name while debugging
        for t in (test_forged_eos_and_window, test_kill_replica, test_source_crash, test_kill_sink, test_kill_launcher):
            if only and t.__name__ != only:
                continue
            t0 = time.time()
            t(tmp, ref)
            print("%-28s %.1f s" % (t.__name__, time.time() - t0), flush=True)
        for t in (test_hostile_windows, test_bounded, test_stall, test_forged_status, test_ipc_folder_checks):
            if only and t.__name__ != only:
                continue
            t0 = time.time()
            t(tmp)
            print("%-28s %.1f s" % (t.__name__, time.time() - t0), flush=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
