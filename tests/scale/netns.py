"""Hosts as network namespaces on one machine: a bridge in the root namespace
and one veth pair per host, created and removed by the test (needs root)."""
import os
import subprocess


def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


class Hosts:
    def __init__(self, names, subnet_octet):
        sfx = "%d" % (os.getpid() % 100000)
        self.bridge = "pfbr" + sfx
        self.ns = {n: "pf%s%s" % (n, sfx) for n in names}
        self.veth = {n: "pv%s%s" % (n, sfx) for n in names}
        self.addr = {n: "10.231.%d.%d" % (subnet_octet, i + 1) for i, n in enumerate(names)}

    @staticmethod
    def available():
        """None if namespaces can be made here, else why not."""
        if os.geteuid() != 0:
            return "not root"
        r = sh("ip", "netns", "add", "pfprobe%d" % os.getpid(), check=False)
        if r.returncode:
            return "ip netns add failed: " + r.stderr.strip()
        sh("ip", "netns", "del", "pfprobe%d" % os.getpid(), check=False)
        return None

    def __enter__(self):
        sh("ip", "link", "add", "name", self.bridge, "type", "bridge")
        sh("ip", "link", "set", self.bridge, "up")
        for n, ns in self.ns.items():
            v = self.veth[n]
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", v, "type", "veth", "peer", "name", v + "p")
            sh("ip", "link", "set", v + "p", "netns", ns)
            sh("ip", "link", "set", v, "master", self.bridge)
            sh("ip", "link", "set", v, "up")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
            sh("ip", "netns", "exec", ns, "ip", "addr", "add", self.addr[n] + "/24", "dev", v + "p")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", v + "p", "up")
        return self

    def __exit__(self, *exc):
        for ns in self.ns.values():
            sh("ip", "netns", "del", ns, check=False)   # takes its end of the veth pair along
        for v in self.veth.values():
            sh("ip", "link", "del", v, check=False)
        sh("ip", "link", "del", self.bridge, check=False)

    def cmd(self, host, argv):
        return ["ip", "netns", "exec", self.ns[host]] + list(argv)
