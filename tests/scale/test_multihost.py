"""A graph across three hosts, each a network namespace joined by veth pairs
(created and removed here; needs root): synth on host a, shuffle replicas on
hosts a and b (host = ["a", "b"]), the sink on host c; CURVE with a key per
host. Every window arrives exactly once and bit-identical to a one-host run.
Then host b is left out: host c names it within host_timeout."""
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from netns import Hosts  # noqa: E402
from scaletest import check, finish, keygen, read_windows, write  # noqa: E402

EXE = os.path.abspath(sys.argv[1])

GRAPH = """name = "mh";
seed = 3;
base_port = 6100;
host_timeout = %(timeout)d;
hosts = {
  a = { address = "%(a)s"; cert = "keys/a.cert"; };
  b = { address = "%(b)s"; cert = "keys/b.cert"; };
  c = { address = "%(c)s"; cert = "keys/c.cert"; };
};
nodes = (
  { name = "src"; kind = "synth"; host = "a"; records = 6; duration = 30.0; fs = 500.0; window = 2500; hr = 72.0; },
  { name = "aug"; kind = "shuffle"; replicas = 4; host = ["a", "b"]; views = 2; },
  { name = "sink"; kind = "sink"; host = "c"; path = "%(out)s"; }
);
edges = ( { from = "src"; to = "aug"; }, { from = "aug"; to = "sink"; } );
"""


def wait(p, timeout):
    """Exit code, or -9 after killing a launcher that hangs (its nodes die with it)."""
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return -9


def main():
    why = Hosts.available()
    if why:
        print("SKIP: network namespaces unavailable (%s)" % why)
        return 77
    with tempfile.TemporaryDirectory(prefix="pf-mh-") as tmp, Hosts(["a", "b", "c"], os.getpid() % 250) as H:
        os.chdir(tmp)
        os.makedirs("keys")
        keygen(EXE, "keys/a.cert", "keys/b.cert", "keys/c.cert")
        args = dict(H.addr, timeout=30, out=os.path.join(tmp, "mh.h5"))
        cfg = write("mh.cfg", GRAPH % args)
        ref_text = re.sub(r'host = ("\w+"|\[[^]]*\]);', "", GRAPH % dict(args, out=os.path.join(tmp, "ref.h5")))
        ref_cfg = write("ref.cfg", ref_text)
        r = subprocess.run([EXE, "run", ref_cfg, "--quiet"], capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, "reference run on one host: " + r.stderr[-300:])
        ref, _ = read_windows("ref.h5")
        r = subprocess.run([EXE, "check", cfg], capture_output=True, text=True)
        check(r.returncode == 0, "the three-host graph validates: " + r.stdout + r.stderr)
        t0 = time.time()
        procs = {h: subprocess.Popen(H.cmd(h, [EXE, "run", cfg, "--quiet", "--host", h]), stderr=subprocess.PIPE, text=True)
                 for h in ("c", "b", "a")}
        codes = {h: wait(p, 180) for h, p in procs.items()}
        errs = {h: p.stderr.read() for h, p in procs.items()}
        secs = time.time() - t0
        check(all(c == 0 for c in codes.values()), "every host's launcher exits 0: %s %s" % (codes, {h: e[-300:] for h, e in errs.items()}))
        got, dup = read_windows("mh.h5")
        check(len(ref) > 0 and got == ref and dup == 0,
              "all %d windows (with their views) arrive exactly once, bit-identical to the one-host run (got %d, %d duplicates)"
              % (len(ref), len(got), dup))
        print("three hosts: %d windows in %.1f s" % (len(got), secs))
        check("all 2 neighbouring host(s) are up" in errs["a"], "host a saw hosts b and c: " + errs["a"][-300:])

        # host b never comes up: c and a name it within host_timeout
        cfg2 = write("mh2.cfg", (GRAPH % dict(args, timeout=3, out=os.path.join(tmp, "mh2.h5"))))
        t0 = time.time()
        pc = subprocess.Popen(H.cmd("c", [EXE, "run", cfg2, "--quiet", "--host", "c"]), stderr=subprocess.PIPE, text=True)
        pa = subprocess.Popen(H.cmd("a", [EXE, "run", cfg2, "--quiet", "--host", "a"]), stderr=subprocess.PIPE, text=True)
        cc, ca = wait(pc, 60), wait(pa, 60)
        secs = time.time() - t0
        ec, ea = pc.stderr.read(), pa.stderr.read()
        want = "host(s) 'b' (tcp://%s:" % H.addr["b"]
        check(cc == 1 and want in ec and "did not come up within 3 s" in ec, "host c names the missing host b (exit %d): %s" % (cc, ec[-400:]))
        check(ca == 1 and want in ea, "host a names it too (exit %d): %s" % (ca, ea[-400:]))
        check(secs < 20, "reported and stopped within %.1f s (host_timeout 3 s)" % secs)
        check(not os.path.exists("mh2.h5"), "no output file pretends to be complete")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
