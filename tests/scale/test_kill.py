"""Nothing lost, nothing duplicated: kill -9 augmentation replicas at random
moments (seeded; the seed is printed) while a graph runs, and every window of
the epoch still arrives exactly once at the sink, bit-identical to an
undisturbed run. Modes:
  local      one host: shuffle x3 with restart = 3 (killed replicas come back),
             then shuffle x2 without restart (the survivor takes the dead one's work)
  multihost  three hosts as network namespaces (tests/scale/netns.py): the
             shuffle replicas on hosts a and b are killed, the sink is on c;
             then whole hosts die mid-epoch (heartbeat_timeout): host b killed
             -9 (launcher and nodes) or its link cut, the others finish with
             every window once; host a (the only source) killed, the others
             fail promptly naming host and node
Prints the numbers: windows expected / arrived / duplicates dropped /
redelivered / restarts."""
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from scaletest import check, finish, keygen, read_windows, write  # noqa: E402

EXE = os.path.abspath(sys.argv[1])
MODE = sys.argv[2] if len(sys.argv) > 2 else "local"
SEED = int(os.environ.get("PF_KILL_SEED", "0")) or random.randrange(1, 1 << 30)

NODES = """
  { name = "src"; kind = "synth";%(h_src)s records = 20; duration = 120.0; fs = 500.0; window = 2500; hr = 72.0; },
  { name = "aug"; kind = "shuffle";%(h_aug)s replicas = %(reps)d; restart = %(restart)d; views = 2; },
  { name = "sink"; kind = "sink";%(h_sink)s path = "%(out)s"; }
"""
GRAPH = """name = "%(name)s";
seed = 3;
%(hosts)s
nodes = (%(nodes)s);
edges = ( { from = "src"; to = "aug"; }, { from = "aug"; to = "sink"; } );
"""
HOSTS = """base_port = 6300;
heartbeat_timeout = 3;
hosts = {
  a = { address = "%(a)s"; cert = "keys/a.cert"; };
  b = { address = "%(b)s"; cert = "keys/b.cert"; };
  c = { address = "%(c)s"; cert = "keys/c.cert"; };
};"""


def graph(name, out, reps, restart, addr=None):
    placed = addr is not None
    nodes = NODES % dict(reps=reps, restart=restart, out=out, h_src=' host = "a";' if placed else "",
                         h_aug=' host = ["a", "b"];' if placed else "", h_sink=' host = "c";' if placed else "")
    return GRAPH % dict(name=name, nodes=nodes, hosts=HOSTS % addr if placed else "")


def replicas_of(launchers, node):
    """{replica: pid} of the running instances of `node` started by these launcher pids."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid in launchers and len(argv) > 5 and argv[1] == b"node" and argv[3] == node.encode():
            out[int(argv[5])] = int(d)
    return out


def counter(err, inst, name):
    """Sum of counter `name` over the summary lines of instances `inst.*`."""
    return sum(int(m.group(1)) for line in err.splitlines() if line.startswith(inst + ".")
               for m in [re.search(r"\b%s=(\d+)" % name, line)] if m)


def kill_run(cmds, kills, rng, timeout=120):
    """Start the launchers, kill -9 `kills` aug replicas at random moments, wait."""
    procs = [subprocess.Popen(c, stderr=subprocess.PIPE, text=True) for c in cmds]
    pids = {p.pid for p in procs}
    t0, done = time.time(), []
    for _ in range(kills):
        time.sleep(rng.uniform(0.3, 1.2))
        if any(p.poll() is not None for p in procs):
            break
        reps = replicas_of(pids, "aug")
        if not reps:  # between a death and its restart: try again a moment later
            continue
        r = rng.choice(sorted(reps))
        os.kill(reps[r], signal.SIGKILL)
        done.append("%.1f s aug.%d" % (time.time() - t0, r))
    codes, errs = [], []
    for p in procs:
        try:
            errs.append(p.communicate(timeout=timeout)[1])
            codes.append(p.returncode)
        except subprocess.TimeoutExpired:
            p.kill()
            errs.append(p.communicate()[1] + "\n(launcher hung: killed by the test)")
            codes.append(-9)
    return codes, "\n".join(errs), done


def verify(label, ref, out, codes, err, kills):
    if os.environ.get("PF_KILL_LOG"):  # the launchers' whole log, for a failure to be read later
        with open(os.environ["PF_KILL_LOG"], "a") as f:
            f.write("==== %s\n%s\n" % (label, err))
    got, dup = read_windows(out) if os.path.exists(out) else ({}, 0)
    redelivered, dropped = counter(err, "src", "redelivered"), counter(err, "sink", "duplicates")
    restarts = len(re.findall(r"restarted node 'aug'", err))
    print("%s: killed %s; windows expected %d, arrived %d (%d twice in the file), duplicates dropped %d, redelivered %d, restarts %d"
          % (label, ", ".join(kills) or "nothing (the run ended first)", len(ref), len(got), dup, dropped, redelivered, restarts))
    check(all(c == 0 for c in codes), "%s: every launcher exits 0 (%s): %s" % (label, codes, err[-1500:]))
    check(len(got) == len(ref) and dup == 0, "%s: every window arrives exactly once (%d of %d, %d duplicates)" % (label, len(got), len(ref), dup))
    check(got == ref, "%s: every window bit-identical to the undisturbed run" % label)
    held = sum(int(x) for x in re.findall(r"\[src\.0\] edge to aug\.in: replica \d+ died: (\d+) unacknowledged", err))
    check(redelivered == held, "%s: the windows the dead replicas held (%d) were all redelivered (%d)" % (label, held, redelivered))


def local(tmp, rng):
    write("ref.cfg", graph("ref", os.path.join(tmp, "ref.h5"), 3, 3))
    r = subprocess.run([EXE, "run", "ref.cfg", "--quiet"], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "undisturbed run: " + r.stderr[-500:])
    ref, _ = read_windows("ref.h5")
    check(len(ref) == 480, "the undisturbed run has the epoch's 480 windows (%d)" % len(ref))

    write("k.cfg", graph("k", os.path.join(tmp, "k.h5"), 3, 3))
    codes, err, kills = kill_run([[EXE, "run", "k.cfg"]], 4, rng)
    verify("shuffle x3, restart = 3", ref, "k.h5", codes, err, kills)
    check("restarting it in" in err and "restarted node 'aug' replica" in err, "the log says which replica restarts: " + err[-800:])
    check(not kills or re.search(r"aug x3 \(\d+ restarts?\)", err), "the status line counts the restarts")

    # no restart: the surviving replica takes over what the dead one held
    write("s.cfg", graph("s", os.path.join(tmp, "s.h5"), 2, 0))
    codes, err, kills = kill_run([[EXE, "run", "s.cfg"]], 1, rng)
    verify("shuffle x2, no restart", ref, "s.h5", codes, err, kills)
    check(not kills or "its unacknowledged windows go to the other replicas" in err, "the log says where the work went")

    # both replicas gone for good: the graph fails and says so, no complete file pretends otherwise
    write("f.cfg", graph("f", os.path.join(tmp, "f.h5"), 2, 0))
    p = subprocess.Popen([EXE, "run", "f.cfg", "--quiet"], stderr=subprocess.PIPE, text=True)
    time.sleep(0.8)
    for pid in replicas_of({p.pid}, "aug").values():
        os.kill(pid, signal.SIGKILL)
    err = p.communicate(timeout=60)[1]
    check(p.returncode == 1 and "node 'aug' replica" in err, "every replica dead: the graph fails naming it (exit %d): %s" % (p.returncode, err[-600:]))
    check(not os.path.exists("f.h5"), "and leaves no complete output file")


def netns_pids(ns):
    r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(x) for x in r.stdout.split()]


def host_death(H, ref, rng, victim, how):
    """Host `victim` dies mid-epoch: every process in its namespace killed -9
    ("kill"), or its link taken down ("cut"). Returns ({host: exit code},
    {host: stderr}, seconds from the death to the last launcher's exit)."""
    from netns import sh
    label = "%s-%s" % (how, victim)
    write(label + ".cfg", graph(label, os.path.join(os.getcwd(), label + ".h5"), 4, 2, H.addr))
    logs = {h: open("%s.%s.log" % (label, h), "w+") for h in ("c", "b", "a")}
    procs = {h: subprocess.Popen(H.cmd(h, [EXE, "run", label + ".cfg", "--host", h]), stderr=logs[h], text=True)
             for h in ("c", "b", "a")}
    # mid-epoch: every launcher has heard from its neighbours (a host killed before
    # that is one that never came up: host_timeout's case), then a random moment
    t0 = time.time()
    while time.time() - t0 < 60 and not all("neighbouring host(s) are up" in open(f.name).read() for f in logs.values()):
        time.sleep(0.05)
    time.sleep(rng.uniform(0.2, 1.0))
    mid = all(p.poll() is None for p in procs.values())
    t_death = time.time()
    if how == "kill":  # the launcher first (it would restart what dies), then everything else there
        os.kill(procs[victim].pid, signal.SIGKILL)
        for _ in range(5):
            for pid in netns_pids(H.ns[victim]):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
    else:
        sh("ip", "link", "set", H.veth[victim], "down")
    codes, errs, t_end = {}, {}, t_death
    for h, p in procs.items():
        try:
            p.wait(timeout=90)
            hung = ""
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            hung = "\n(launcher hung: killed by the test)"
        logs[h].seek(0)
        errs[h] = logs[h].read() + hung
        logs[h].close()
        codes[h] = p.returncode
        if h != victim or how == "cut":
            t_end = max(t_end, time.time())
    if how == "cut":
        sh("ip", "link", "set", H.veth[victim], "up")
    if os.environ.get("PF_KILL_LOG"):
        with open(os.environ["PF_KILL_LOG"], "a") as f:
            for h in errs:
                f.write("==== %s host %s (exit %s)\n%s\n" % (label, h, codes[h], errs[h]))
    check(mid, "%s: host %s died mid-epoch (every launcher was still running)" % (label, victim))
    return label, codes, errs, t_end - t_death


def host_survived(H, ref, rng, how):
    """Host b (shuffle replicas only) dies: hosts a and c finish, every window once."""
    label, codes, errs, secs = host_death(H, ref, rng, "b", how)
    got, dup = read_windows(label + ".h5") if os.path.exists(label + ".h5") else ({}, 0)
    redelivered, dropped = counter(errs["a"], "src", "redelivered"), counter(errs["c"], "sink", "duplicates")
    print("host b %s mid-epoch: windows expected %d, arrived %d (%d twice in the file), duplicates dropped %d, redelivered %d; "
          "the graph ended %.1f s after the death (heartbeat_timeout 3 s)" % ("killed -9" if how == "kill" else "cut off",
                                                                             len(ref), len(got), dup, dropped, redelivered, secs))
    check(codes["a"] == 0 and codes["c"] == 0, "%s: hosts a and c finish (exit %s %s): %s" % (label, codes["a"], codes["c"],
                                                                                            (errs["a"] + errs["c"])[-1500:]))
    check(all("host 'b'" in errs[h] and "sent no heartbeat" in errs[h] for h in "ac"), "%s: a and c say host b is dead" % label)
    check(len(got) == len(ref) and dup == 0, "%s: every window arrives exactly once (%d of %d, %d duplicates)" % (label, len(got), len(ref), dup))
    check(got == ref, "%s: every window bit-identical to the undisturbed run" % label)
    if how == "cut":  # b alone: a and c are dead to it; the only source is on a
        check(codes["b"] == 1 and re.search(r"failed: host '[ac]' sent no heartbeat .*: node '(src|sink)' has no instance left", errs["b"]),
              "%s: the cut-off host fails naming host and node (exit %s): %s" % (label, codes["b"], errs["b"][-800:]))


def host_fatal(H, ref, rng):
    """Host a (the only source) dies: b and c fail promptly, naming host a and node src."""
    label, codes, errs, secs = host_death(H, ref, rng, "a", "kill")
    print("host a killed -9 mid-epoch: hosts b and c exit %s %s, %.1f s after the death" % (codes["b"], codes["c"], secs))
    for h in "bc":
        check(codes[h] == 1 and re.search(r"graph %s failed: host 'a' sent no heartbeat for 3.0 s \(heartbeat_timeout\): node 'src' "
                                          r"has no instance left" % label, errs[h]),
              "%s: host %s fails naming host a and node src (exit %s): %s" % (label, h, codes[h], errs[h][-800:]))
    check(secs < 20, "%s: promptly (%.1f s)" % (label, secs))
    check(not os.path.exists(label + ".h5"), "%s: no complete output file pretends otherwise" % label)


def multihost(tmp, rng):
    from netns import Hosts
    why = Hosts.available()
    if why:
        print("SKIP: network namespaces unavailable (%s)" % why)
        return 77
    with Hosts(["a", "b", "c"], (os.getpid() + 7) % 250) as H:
        os.makedirs("keys")
        keygen(EXE, "keys/a.cert", "keys/b.cert", "keys/c.cert")
        write("ref.cfg", graph("ref", os.path.join(tmp, "ref.h5"), 4, 2))
        r = subprocess.run([EXE, "run", "ref.cfg", "--quiet"], capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, "undisturbed run on one host: " + r.stderr[-500:])
        ref, _ = read_windows("ref.h5")
        write("hb.cfg", graph("hb", os.path.join(tmp, "hb.h5"), 4, 2, H.addr).replace("heartbeat_timeout = 3;", "heartbeat_timeout = 0.5;"))
        r = subprocess.run([EXE, "check", "hb.cfg"], capture_output=True, text=True)
        check(r.returncode != 0 and "hb.cfg:4: heartbeat_timeout must be 0" in r.stderr,
              "check refuses a heartbeat_timeout under a second, naming the line: " + r.stderr[-300:])
        write("mh.cfg", graph("mh", os.path.join(tmp, "mh.h5"), 4, 2, H.addr))
        cmds = [H.cmd(h, [EXE, "run", "mh.cfg", "--host", h]) for h in ("c", "b", "a")]
        codes, err, kills = kill_run(cmds, 4, rng, timeout=180)
        verify("three hosts, shuffle x4 on a and b, restart = 2", ref, "mh.h5", codes, err, kills)
        host_survived(H, ref, rng, "kill")
        host_survived(H, ref, rng, "cut")
        host_fatal(H, ref, rng)
    return 0


def main():
    print("kill schedule seed %d (PF_KILL_SEED=%d repeats it)" % (SEED, SEED))
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory(prefix="pf-kill-") as tmp:
        os.chdir(tmp)
        rc = local(tmp, rng) if MODE == "local" else multihost(tmp, rng)
        if rc == 77:
            return 77
    return finish()


if __name__ == "__main__":
    sys.exit(main())
