"""CURVE + ZAP on tcp edges, with real node processes and real sockets.

A graph src (host a) -> pass (host b) -> sink (host b), keys per host. An
attacker with an unlisted key, and one without CURVE, try to connect to the
tcp input of host b, inject a window and a forged end-of-stream; an impostor
binds host b's port before b starts and tries to read what host a sends.
Every run must still deliver exactly the windows of an undisturbed run, and
the attackers' handshakes must fail (a listed key, as a control, succeeds)."""
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time

import numpy as np
import zmq
from zmq.utils.monitor import recv_monitor_message

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import pfwire  # noqa: E402
from scaletest import check, finish, free_port_base, keygen, read_windows, write  # noqa: E402

EXE = os.path.abspath(sys.argv[1])

GRAPH = """name = "sec";
seed = 5;
base_port = %(port)d;
ipc_dir = "%(tmp)s/ipc";
host_timeout = 30;
hosts = {
  a = { address = "127.0.0.1"; cert = "keys/a.cert"; };
  b = { address = "127.0.0.1"; cert = "keys/b.cert"; };
};
nodes = (
  { name = "src"; kind = "synth"; host = "a"; records = 3; duration = 20.0; fs = 500.0; window = 2000; },
  { name = "pass"; kind = "passthrough"; host = "b"; },
  { name = "sink"; kind = "sink"; host = "b"; path = "%(out)s"; }
);
edges = ( { from = "src"; to = "pass"; }, { from = "pass"; to = "sink"; } );
"""


def load_cert(path):
    """(public, secret) Z85 keys of a CZMQ certificate (NAME or NAME_secret)."""
    keys = {}
    for line in open(path):
        line = line.strip()
        for k in ("public-key", "secret-key"):
            if line.startswith(k):
                keys[k] = line.split("=", 1)[1].strip().strip('"').encode()
    return keys.get("public-key"), keys.get("secret-key")


def events(mon, seconds):
    """Monitor events seen within `seconds`."""
    seen = set()
    end = time.time() + seconds
    while time.time() < end:
        if mon.poll(100):
            seen.add(recv_monitor_message(mon)["event"])
    return seen


def attacker(ctx, endpoint, server_pub, cert=None):
    """A DEALER connecting to endpoint, as a CURVE client with cert's keys (or plain)."""
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    if cert:
        pub, sec = load_cert(cert + "_secret")
        s.curve_publickey, s.curve_secretkey, s.curve_serverkey = pub, sec, server_pub
    mon = s.get_monitor_socket()
    s.connect(endpoint)
    return s, mon


def inject(s):
    w = pfwire.window("evil", 0, np.ones((1, 2000), np.float32))
    for frames in (w, pfwire.eos("src.0", 0)):
        try:
            s.send_multipart(frames, flags=zmq.NOBLOCK)
        except zmq.Again:
            pass


def main():
    with tempfile.TemporaryDirectory(prefix="pf-sec-") as tmp:
        os.chdir(tmp)
        os.makedirs("keys")
        keygen(EXE, "keys/a.cert", "keys/b.cert", "keys/mallory.cert")
        check(stat.S_IMODE(os.stat("keys/a.cert_secret").st_mode) == 0o600, "keygen writes the secret key owner-only")
        r = subprocess.run([EXE, "keygen", "keys/a.cert"], capture_output=True, text=True)
        check(r.returncode != 0 and "refusing to overwrite" in r.stderr, "keygen never overwrites a key: " + r.stderr)
        port = free_port_base()
        cfg = write("g.cfg", GRAPH % {"port": port, "tmp": tmp, "out": os.path.join(tmp, "out1.h5")})
        ref_cfg = write("ref.cfg", GRAPH.replace("host = \"a\";", "").replace("host = \"b\";", "") % {
            "port": port, "tmp": tmp, "out": os.path.join(tmp, "ref.h5")})
        r = subprocess.run([EXE, "run", ref_cfg, "--quiet"], capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, "reference run on one host: " + r.stderr[-300:])
        ref, _ = read_windows("ref.h5")
        r = subprocess.run([EXE, "graph", cfg], capture_output=True, text=True)
        check(r.stdout.count("tcp") == 1, "src -> pass crosses hosts: " + r.stdout)
        # pass.0.in is the only tcp input: rank 1 in (node, replica, input port) order after nothing (src has none)
        endpoint = "tcp://127.0.0.1:%d" % port
        b_pub, _ = load_cert("keys/b.cert")
        ctx = zmq.Context()

        # --- run 1: host b up, attackers knock, then host a delivers --------------------
        pb = subprocess.Popen([EXE, "run", cfg, "--quiet", "--host", "b"], stderr=subprocess.PIPE, text=True)
        node_socks, end = [], time.time() + 15
        while not node_socks and time.time() < end:  # the nodes bind as soon as they run
            time.sleep(0.2)
            sock_files = []
            for root, _, files in os.walk(tmp):
                sock_files += [os.path.join(root, f) for f in files if stat.S_ISSOCK(os.stat(os.path.join(root, f)).st_mode)]
            node_socks = [f for f in sock_files if f.endswith("sink.0.in")]
        check(len(node_socks) == 1 and all(stat.S_IMODE(os.stat(f).st_mode) == 0o600 for f in node_socks),
              "ipc socket of sink.0.in is owner-only: %s" % [(f, oct(os.stat(f).st_mode)) for f in sock_files])
        check(all(stat.S_IMODE(os.stat(os.path.dirname(f)).st_mode) == 0o700 for f in node_socks), "its folder is 0700")

        s1, m1 = attacker(ctx, endpoint, b_pub, "keys/mallory.cert")
        inject(s1)
        ev1 = events(m1, 4.0)
        check(zmq.EVENT_HANDSHAKE_FAILED_AUTH in ev1 and zmq.EVENT_HANDSHAKE_SUCCEEDED not in ev1,
              "an unlisted CURVE key is refused by ZAP (events %s)" % sorted(ev1))
        s2, m2 = attacker(ctx, endpoint, b_pub)
        inject(s2)
        ev2 = events(m2, 3.0)
        check(zmq.EVENT_CONNECTED in ev2 and zmq.EVENT_HANDSHAKE_SUCCEEDED not in ev2,
              "a peer without CURVE connects at tcp level but never completes a handshake (events %s)" % sorted(ev2))
        s3, m3 = attacker(ctx, endpoint, b_pub, "keys/a.cert")
        ev3 = events(m3, 3.0)
        check(zmq.EVENT_HANDSHAKE_SUCCEEDED in ev3, "control: host a's listed key is admitted (events %s)" % sorted(ev3))
        for s, m in ((s1, m1), (s2, m2), (s3, m3)):
            s.disable_monitor()
            m.close(0)
            s.close(0)
        pa = subprocess.Popen([EXE, "run", cfg, "--quiet", "--host", "a"], stderr=subprocess.PIPE, text=True)
        ca, cb = pa.wait(timeout=120), pb.wait(timeout=120)
        err_b = pb.stderr.read()
        check(ca == 0 and cb == 0, "both hosts finish (%d, %d): %s %s" % (ca, cb, pa.stderr.read()[-300:], err_b[-300:]))
        got, dup = read_windows("out1.h5")
        check(got == ref and dup == 0, "exactly the genuine windows arrived (%d, reference %d, %d duplicates); nothing injected"
              % (len(got), len(ref), dup))
        check("malformed" not in err_b and "extra end-of-stream" not in err_b, "no injected message reached a node: " + err_b[-300:])

        # --- run 2: an impostor holds host b's port; host a must not talk to it -------
        # (it also blocks the edge: libzmq drops what was queued for a connection whose
        # handshake failed; docs/deploy.md says so. So host a is restarted afterwards.)
        cfg2 = write("g2.cfg", open(cfg).read().replace("out1.h5", "out2.h5"))
        caught = {}
        pa = None
        for label, cert in (("CURVE impostor with its own key", "keys/mallory.cert"), ("plain impostor", None)):
            imp = ctx.socket(zmq.ROUTER)
            imp.setsockopt(zmq.LINGER, 0)
            if cert:
                pub, sec = load_cert(cert + "_secret")
                imp.curve_server, imp.curve_secretkey, imp.curve_publickey = True, sec, pub
            imp.bind(endpoint)
            if pa is None:
                pa = subprocess.Popen([EXE, "run", cfg2, "--quiet", "--host", "a"], stderr=subprocess.PIPE, text=True)
            n, end = 0, time.time() + 4.0
            while time.time() < end:
                if imp.poll(100):
                    imp.recv_multipart()
                    n += 1
            caught[label] = n
            imp.close(0)
            time.sleep(0.2)
        pa.send_signal(signal.SIGINT)
        try:
            pa.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pa.kill()
            pa.wait()
        err_a = pa.stderr.read()
        check(all(v == 0 for v in caught.values()), "an impostor reads nothing host a sends: %s" % caught)
        check("CURVE handshake with %s failed" % endpoint in err_a, "host a names the endpoint whose handshake failed: " + err_a[-400:])
        pb = subprocess.Popen([EXE, "run", cfg2, "--quiet", "--host", "b"], stderr=subprocess.PIPE, text=True)
        pa = subprocess.Popen([EXE, "run", cfg2, "--quiet", "--host", "a"], stderr=subprocess.PIPE, text=True)
        ca, cb = pa.wait(timeout=120), pb.wait(timeout=120)
        check(ca == 0 and cb == 0, "with the impostor gone, the real hosts a and b complete the graph (%d, %d)" % (ca, cb))
        got, dup = read_windows("out2.h5")
        check(got == ref and dup == 0, "every window arrives exactly once (%d of %d)" % (len(got), len(ref)))

        # --- a node refuses to start without its secret key ---------------------------
        os.rename("keys/b.cert_secret", "keys/b.hidden")
        r = subprocess.run([EXE, "node", cfg, "pass"], capture_output=True, text=True, timeout=30)
        check(r.returncode == 2 and "g.cfg:8: host 'b': secret key" in r.stderr,
              "a missing secret key is named with its config line: " + r.stderr[-300:])
        os.rename("keys/b.hidden", "keys/b.cert_secret")
        os.chmod("keys/b.cert_secret", 0o644)
        r = subprocess.run([EXE, "node", cfg, "pass"], capture_output=True, text=True, timeout=30)
        check(r.returncode != 0 and "readable by others" in r.stderr, "a secret key readable by others is refused: " + r.stderr[-300:])
        ctx.term()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
