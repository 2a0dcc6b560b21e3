# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throwaway host for the integration tests and the benchmarks alike: a network namespace of its
own and a state_dir, with modules run as Ansible runs them (a separate Python process given a JSON
args file), entered into that namespace with nsenter (network only: the mount namespace must be the
real one, so sandboxes made under /run/netns are visible to everyone). Every namespace it makes
carries its prefix; ``cleanup`` kills what runs in them and removes them, and every /etc/netns
directory with that prefix.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from typing import List

from ansible_collections.cnm.fabric.plugins.module_utils import names

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.environ.get("CNM_COLLECTIONS_PATH", os.path.join(ROOT, ".build"))
MODULES = "ansible_collections.cnm.fabric.plugins.modules."

SERVER = textwrap.dedent("""
    import socket, sys
    proto, port, reply = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    try:  # both families on one socket
        s = socket.socket(socket.AF_INET6, kind)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::", port))
    except OSError:
        s = socket.socket(socket.AF_INET, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
    if proto == "tcp":
        s.listen(16)
    while True:
        if proto == "tcp":
            c, peer = s.accept()
            c.sendall(peer[0].replace("::ffff:", "").encode() if reply == b"PEER" else reply)
            c.close()
        else:
            _, peer = s.recvfrom(64)
            s.sendto(reply, peer)
""")

CLIENT = textwrap.dedent("""
    import socket, sys
    proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, 0, kind)[0]
        s = socket.socket(family, kind)
        s.settimeout(float(sys.argv[4]))
        if proto == "tcp":
            s.connect(address)
            print(s.recv(64).decode())
        else:
            s.sendto(b"?", address)
            print(s.recvfrom(64)[0].decode())
    except OSError as e:
        print("ERROR", e)
""")


class Host(object):
    """A host: a network namespace (``ns``), a state_dir in a directory of the caller's (``tmp``,
    where the modules' argument files go too), and helpers to drive it."""

    def __init__(self, prefix, state_dir):
        self.prefix = prefix
        self.ns = prefix + "-host"
        self.state_dir = state_dir
        self.tmp = os.path.dirname(state_dir)
        self.collections = COLLECTIONS  # where the modules run from (PYTHONPATH): another release's, for a test
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        subprocess.run(["ip", "-n", self.ns, "link", "set", "lo", "up"], check=True)
        self._procs: List[subprocess.Popen] = []

    @property
    def table(self):
        """The name of this host's state_dir's nftables tables."""
        return names.table_name(self.state_dir)

    def sb(self, name):
        """A sandbox name this test owns."""
        return "%s-%s" % (self.prefix, name)

    def command(self, module, check=False, diff=False, interpreter=sys.executable, **args):
        """The command of a module process as Ansible runs it (its arguments, with this host's
        state_dir unless given, in a JSON file), under the Python ``interpreter``."""
        args.setdefault("state_dir", self.state_dir)
        args["_ansible_check_mode"] = check
        args["_ansible_diff"] = diff
        with tempfile.NamedTemporaryFile("w", suffix=".json", dir=self.tmp, delete=False) as f:
            json.dump({"ANSIBLE_MODULE_ARGS": args}, f)
        return [interpreter, "-m", MODULES + module, f.name]

    def environment(self):
        """The environment a module process runs with: the collection importable."""
        return dict(os.environ, PYTHONPATH=self.collections)

    def start(self, module, check=False, diff=False, outside=False, prefix=(), **args):
        """Start a module process; ``finish`` reads its result.

        ``outside``: run in the machine's own namespace (for a module that touches no
        kernel object and talks to a server on the machine's loopback). ``prefix``: a command
        the module runs under (such as an ``unshare`` giving it files of its own).
        """
        return subprocess.Popen(
            list(prefix) + ([] if outside else self.enter()) + self.command(module, check, diff, **args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.environment())

    @staticmethod
    def finish(proc, module="module"):
        out, err = proc.communicate()
        try:
            result = json.loads(out)
        except ValueError:
            raise AssertionError("%s printed no JSON:\n%s\n%s" % (module, out, err))
        result.pop("invocation", None)
        return result

    def run(self, module, check=False, diff=False, **args):
        return self.finish(self.start(module, check, diff, **args), module)

    def reboot(self):
        """What a reboot leaves of this host: its files, and none of its namespaces, links, addresses,
        routes, sysctls or tables (its servers stopped)."""
        self._remove_namespaces()
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        subprocess.run(["ip", "-n", self.ns, "link", "set", "lo", "up"], check=True)

    def ok(self, module, **args):
        result = self.run(module, **args)
        assert not result.get("failed"), result
        return result

    def converge(self, module, **args):
        """Run twice: the first may change, the second must report no change."""
        first = self.ok(module, **args)
        second = self.ok(module, **args)
        assert second["changed"] is False, second
        assert second["changes"] == [], second
        return first

    def enter(self, ns=None):
        """The command prefix that runs in sandbox ``ns`` or, by default, in this host's namespace."""
        return ["ip", "netns", "exec", ns] if ns else ["nsenter", "--net=/run/netns/" + self.ns]

    def sh(self, cmd, ns=None):
        return subprocess.run(self.enter(ns) + cmd, capture_output=True, text=True, check=False)

    def ping(self, ns, address):
        return self.sh(["ping", "-c", "1", "-W", "1", address], ns).returncode == 0

    def serve(self, ns, port, reply, proto="tcp"):
        """A tiny server in sandbox ``ns`` (None: the host) answering ``reply``.

        A TCP server whose reply is ``PEER`` answers with the address it saw the client at.
        """
        proc = subprocess.Popen(self.enter(ns) + [sys.executable, "-c", SERVER, proto, str(port), reply],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._procs.append(proc)
        listen = "-ltn" if proto == "tcp" else "-lun"
        for attempt in range(100):
            if ":%d " % port in self.sh(["ss", listen], ns).stdout:
                return proc
            time.sleep(0.05)
        raise AssertionError("server on port %d did not start in %s" % (port, ns))

    def outside(self, name, address, peer, address6=None, peer6=None):
        """A neighbour: another namespace on a veth of this host (``out0``, address ``peer``, and
        ``peer6`` when given), at ``address`` (and ``address6``), routing everything through it."""
        ns = self.sb(name)
        assert self.sh(["ip", "netns", "add", ns]).returncode == 0
        self.sh(["ip", "link", "add", "out0", "type", "veth", "peer", "name", "eth0", "netns", ns])
        self.sh(["ip", "addr", "add", peer + "/24", "dev", "out0"])
        inside = [["ip", "addr", "add", address + "/24", "dev", "eth0"]]
        if address6:
            self.sh(["ip", "addr", "add", peer6 + "/64", "dev", "out0", "nodad"])
            inside.append(["ip", "addr", "add", address6 + "/64", "dev", "eth0", "nodad"])
        self.sh(["ip", "link", "set", "out0", "up"])
        inside += [["ip", "link", "set", "eth0", "up"], ["ip", "link", "set", "lo", "up"],
                   ["ip", "route", "add", "default", "via", peer]]
        if address6:
            inside.append(["ip", "-6", "route", "add", "default", "via", peer6])
        for cmd in inside:
            self.sh(cmd, ns)
        for reached in (peer, peer6) if address6 else (peer,):
            self.wait_link(ns, reached)
        return ns

    def wait_link(self, ns, peer):
        """Until sandbox ``ns`` reaches ``peer`` over a link just set up: the kernel starts a new
        link's queue only when it has seen its carrier, which can take a second on a busy host."""
        for _attempt in range(50):
            if self.sh(["ping", "-c", "1", "-W", "0.2", peer], ns).returncode == 0:
                return
        raise AssertionError("%s does not reach %s" % (ns, peer))

    def fetch(self, ns, host, port, proto="tcp", timeout=2):
        """What a client in ``ns`` (None: the host) reads from host:port, or 'ERROR ...'."""
        return self.sh(self.client(host, port, proto, timeout), ns).stdout.strip()

    @staticmethod
    def client(host, port, proto="tcp", timeout=2):
        """The command ``fetch`` runs."""
        return [sys.executable, "-c", CLIENT, proto, host, str(port), str(timeout)]

    def links(self, ns=None):
        out = self.sh(["ip", "-o", "link", "show"], ns).stdout
        return sorted(line.split(":")[1].strip().split("@")[0] for line in out.splitlines())

    def nft(self):
        return self.sh(["nft", "list", "ruleset"]).stdout

    def snapshot(self):
        """Everything a module could change: links, namespaces, files, rules."""
        netns = sorted(n for n in os.listdir("/run/netns") if n.startswith(self.prefix)) \
            if os.path.isdir("/run/netns") else []
        files = {}
        for top in (self.state_dir, "/etc/netns"):
            for d, _subdirs, fs in os.walk(top):
                for f in fs:
                    if top == self.state_dir or self.prefix in d:
                        with open(os.path.join(d, f), "rb") as fh:
                            files[os.path.join(d, f)] = fh.read()
        return {"links": self.links(), "netns": netns, "files": files, "nft": self.nft(),
                "addrs": self.sh(["ip", "-o", "-4", "addr"]).stdout}

    def _remove_namespaces(self):
        """Every process started or left in its namespaces, then the namespaces."""
        for proc in self._procs:
            proc.kill()
            proc.wait()
        self._procs = []
        found = [n for n in os.listdir("/run/netns") if n.startswith(self.prefix)] \
            if os.path.isdir("/run/netns") else []
        for name in found:
            pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True,
                                  check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), 9)
                except OSError:
                    pass
        for name in found:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)

    def cleanup(self):
        """Its namespaces (and what runs in them) and its /etc/netns directories; its ``tmp`` is the caller's."""
        self._remove_namespaces()
        if os.path.isdir("/etc/netns"):
            for name in os.listdir("/etc/netns"):
                if name.startswith(self.prefix):
                    path = os.path.join("/etc/netns", name)
                    if os.path.islink(path):  # a test's link to elsewhere: rmtree refuses links
                        os.unlink(path)
                    else:
                        shutil.rmtree(path, ignore_errors=True)
