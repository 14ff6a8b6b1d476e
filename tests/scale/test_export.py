"""physioflow export systemd / slurm run the same graph as physioflow run.

systemd: the units pass `systemd-analyze verify` (a broken copy does not, so
the check can fail), and the ExecStart of every instance the target wants,
started as the units say, produces the same windows as `physioflow run`
(no systemd as PID 1 in a test). slurm: a single-node Slurm (munged,
slurmctld, slurmd in the foreground, private config) runs the exported
batch script to completion with sbatch --wait."""
import configparser
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from scaletest import check, finish, free_port_base, read_windows, write  # noqa: E402

EXE = os.path.abspath(sys.argv[1])
MODE = sys.argv[2]

GRAPH = """name = "ex";
seed = 9;
nodes = (
  { name = "src"; kind = "synth"; replicas = 2; records = 4; duration = 20.0; window = 2000; },
  { name = "pass"; kind = "passthrough"; replicas = 2; },
  { name = "sink"; kind = "sink"; path = "out/%s.h5"; }
);
edges = ( { from = "src"; to = "pass"; }, { from = "pass"; to = "sink"; } );
"""


def reference(tmp):
    cfg = write(os.path.join(tmp, "ref.cfg"), GRAPH % "ref")
    r = subprocess.run([EXE, "run", cfg, "--quiet"], capture_output=True, text=True, timeout=120, cwd=tmp)
    check(r.returncode == 0, "physioflow run: " + r.stderr[-300:])
    return read_windows(os.path.join(tmp, "out/ref.h5"))[0]


def test_systemd(tmp):
    if not shutil.which("systemd-analyze"):
        print("SKIP: no systemd-analyze")
        return 77
    ref = reference(tmp)
    cfg = write(os.path.join(tmp, "ex.cfg"), GRAPH % "sd")
    units = os.path.join(tmp, "units")
    r = subprocess.run([EXE, "export", "systemd", cfg, "-o", units], capture_output=True, text=True, cwd=tmp)
    check(r.returncode == 0, "export systemd: " + r.stderr)
    files = sorted(os.listdir(units))
    check(files == ["physioflow-ex-pass@.service", "physioflow-ex-sink@.service", "physioflow-ex-src@.service", "physioflow-ex.target"],
          "a template per node and a target: %s" % files)
    target = configparser.ConfigParser(strict=False, interpolation=None)
    target.read(os.path.join(units, "physioflow-ex.target"))
    wants = target["Unit"]["Wants"].split()
    check(len(wants) == 5, "the target wants the graph's 5 instances: %s" % wants)
    r = subprocess.run(["systemd-analyze", "verify", "physioflow-ex.target"] + wants, capture_output=True, text=True, cwd=units)
    check(r.returncode == 0 and not r.stderr.strip(), "units pass systemd-analyze verify: %s" % r.stderr)
    # control: verify does catch a broken unit here
    bad = os.path.join(tmp, "bad")
    os.makedirs(bad)
    text = open(os.path.join(units, "physioflow-ex-src@.service")).read().replace("Restart=on-failure", "Restart=sometimes")
    write(os.path.join(bad, "physioflow-ex-src@.service"), text.replace(EXE, EXE + "-missing"))
    r = subprocess.run(["systemd-analyze", "verify", "physioflow-ex-src@0.service"], capture_output=True, text=True, cwd=bad)
    check(r.returncode != 0, "control: a broken unit fails verify: " + r.stderr[-200:])
    # start every wanted instance as its unit says (ExecStart with %i, WorkingDirectory)
    procs = []
    for w in wants:
        tmpl, inst = w.split("@")
        u = configparser.ConfigParser(strict=False, interpolation=None)
        u.read(os.path.join(units, tmpl + "@.service"))
        svc = u["Service"]
        check(svc["Restart"] == "on-failure", "%s restarts on failure" % w)
        argv = [a.strip('"').replace("%i", inst.split(".")[0]) for a in svc["ExecStart"].split()]
        procs.append(subprocess.Popen(argv, cwd=svc["WorkingDirectory"], stderr=subprocess.PIPE, text=True))
    codes = [p.wait(timeout=120) for p in procs]
    check(codes == [0] * 5, "every instance exits 0: %s" % codes)
    got, dup = read_windows(os.path.join(tmp, "out/sd.h5"))
    check(got == ref and dup == 0, "the units run the same graph: %d windows, %d in physioflow run" % (len(got), len(ref)))
    return finish()


def test_slurm(tmp):
    tools = ["munged", "munge", "slurmctld", "slurmd", "sbatch", "scontrol"]
    missing = [t for t in tools if not shutil.which(t)]
    if missing or os.geteuid() != 0:
        print("SKIP: single-node Slurm needs root and %s" % (", ".join(missing) or "root"))
        return 77
    ref = reference(tmp)
    os.chmod(tmp, 0o755)  # munged wants its socket folder reachable
    d = os.path.join(tmp, "slurm")
    for sub in ("state", "spool", "log"):
        os.makedirs(os.path.join(d, sub))
    key = os.path.join(d, "munge.key")
    with open(key, "wb") as f:
        f.write(os.urandom(1024))
    os.chmod(key, 0o400)
    host = socket.gethostname().split(".")[0]
    port = free_port_base(2)
    sock = os.path.join(d, "munge.sock")
    conf = write(os.path.join(d, "slurm.conf"), "\n".join([
        "ClusterName=pftest", "SlurmctldHost=%s(127.0.0.1)" % host, "SlurmctldPort=%d" % port, "SlurmdPort=%d" % (port + 1),
        "AuthType=auth/munge", "CredType=cred/munge", "AuthInfo=socket=%s" % sock, "SlurmUser=root", "SlurmdUser=root",
        "StateSaveLocation=%s/state" % d, "SlurmdSpoolDir=%s/spool" % d, "SlurmctldPidFile=%s/ctld.pid" % d,
        "SlurmdPidFile=%s/slurmd.pid" % d, "SlurmctldLogFile=%s/log/ctld.log" % d, "SlurmdLogFile=%s/log/slurmd.log" % d,
        "ProctrackType=proctrack/pgid", "TaskPlugin=task/none", "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none", "SchedulerType=sched/builtin", "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU", "MpiDefault=none", "ReturnToService=2", "SlurmdParameters=config_overrides",
        "NodeName=%s NodeAddr=127.0.0.1 CPUs=8 State=UNKNOWN" % host,
        "PartitionName=debug Nodes=%s Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES" % host, ""]))
    env = dict(os.environ, SLURM_CONF=conf)
    daemons = []
    try:
        daemons.append(subprocess.Popen(["munged", "-F", "-f", "--key-file=" + key, "--socket=" + sock, "--pid-file=%s/munged.pid" % d,
                                         "--seed-file=%s/munge.seed" % d, "--log-file=%s/log/munged.log" % d],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for _ in range(50):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        daemons.append(subprocess.Popen(["slurmctld", "-D", "-f", conf], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(1.5)
        daemons.append(subprocess.Popen(["slurmd", "-D", "-f", conf, "-N", host], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        up = False
        for _ in range(60):
            r = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True)
            if r.stdout.strip().rstrip("*") in ("idle", "mix", "alloc"):
                up = True
                break
            time.sleep(0.5)
        check(up, "single-node Slurm is up: %s %s" % (r.stdout, r.stderr))
        cfg = write(os.path.join(tmp, "ex.cfg"), GRAPH % "slurm")
        script = os.path.join(tmp, "job.sh")
        r = subprocess.run([EXE, "export", "slurm", cfg, "-o", script], capture_output=True, text=True, cwd=tmp)
        check(r.returncode == 0, "export slurm: " + r.stderr)
        text = open(script).read()
        check("#SBATCH --ntasks=5" in text and text.count(" --replica ") == 5, "one task per node instance:\n" + text)
        t0 = time.time()
        r = subprocess.run(["sbatch", "--wait", "-o", os.path.join(tmp, "job.out"), script], env=env, capture_output=True, text=True,
                           timeout=240, cwd=tmp)
        out = open(os.path.join(tmp, "job.out")).read() if os.path.exists(os.path.join(tmp, "job.out")) else ""
        check(r.returncode == 0, "sbatch --wait: job completed (%s %s) %s" % (r.stdout, r.stderr, out[-400:]))
        print("slurm job ran in %.1f s" % (time.time() - t0))
        got, dup = read_windows(os.path.join(tmp, "out/slurm.h5")) if os.path.exists(os.path.join(tmp, "out/slurm.h5")) else ({}, 0)
        check(got == ref and dup == 0, "the Slurm job runs the same graph: %d windows, %d in physioflow run" % (len(got), len(ref)))
    finally:
        for p in reversed(daemons):
            p.terminate()
        for p in reversed(daemons):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
    return finish()


def main():
    with tempfile.TemporaryDirectory(prefix="pf-export-") as tmp:
        os.makedirs(os.path.join(tmp, "out"))
        return test_systemd(tmp) if MODE == "systemd" else test_slurm(tmp)


if __name__ == "__main__":
    sys.exit(main())
