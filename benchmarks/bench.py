# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnm.fabric benchmarks: every number is compared with a baseline measured in the same run.

Endpoints: N bridge endpoints, each in its own sandbox with an address and a default
route, made by one bulk cnm_endpoint call, against
  - the iproute2 floor: `ip -batch` for the namespaces and the host-side links, then
    `ip -n NS -batch` inside each sandbox (the fewest processes iproute2 allows); the floor
    writes no files, while each of our sandboxes gets its hosts and resolv.conf;
  - an Ansible loop of single-endpoint tasks, measured at a small N, per endpoint;
  - the peers a user would pick instead, from Debian's packages, each run as its runtime runs it,
    one process per sandbox, namespaces made by one `ip -batch` as for the floor: the CNI reference
    plugins (`bridge` with `host-local` IPAM and `ipMasq`, ADD then DEL) and netavark (`setup`, then
    `teardown`, its IPAM being podman's, so each gets its address), in the same kind of throwaway host.
The same on a dual-stack network (an IPv6 address and default route more per endpoint), against
the IPv4-only bulk call of the same N.
Overlay peers: cnm_overlay_peer with 1,000 and 10,000 remote endpoints, against `bridge -batch`
and `ip -batch` making the same entries. Services: cnm_service with 100 and 1,000 backends for one
client sandbox, against one `nft -f` of the same table.
IPsec: an encrypted network's plan for 250 peers under two keys (key derivation included), and
its policies applied as one `ip -batch` (how cnm_overlay_peer runs them) against one `ip xfrm`
process per policy. This kernel has no ESP, so its SAs are planned but not applied here; they take
the same path in the VMs.
What a user waits for: the same N endpoints made, left alone and removed by one cnm_endpoint task
in an ansible-playbook run, and a cnm_network task that changes nothing on that network, each as
the whole run less a play with no task; a one-task `ansible.builtin.command` play for scale; and
where a no-op run's time goes, from a profile of the module process Ansible ran (AnsiballZ).
Data plane: sequential TCP connects per second (and their median latency) through the last of 1,
100 and 1,000 published ports, from the host (the output hook) and from a neighbour namespace
routed through the host (the prerouting hook), and to a port nothing publishes, with the same
numbers of ports: what the rules cost a connection that concerns them and one that does not.
IPAM: allocations per second for 10,000 addresses in one pool, file and etcd backends
(a throwaway etcd on loopback), one transaction for all and one per allocation, and
4 processes at once.

Teardowns (floor and ours) are timed after a 5 s settle, so neither pays for the kernel still
reclaiming what the phase before made. Everything runs in throwaway network namespaces,
removed at the end, pass or fail.
Usage: python benchmarks/bench.py [--sizes 200,1000] [--repeat 3] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".build")
sys.path[:0] = [COLLECTIONS, os.path.join(ROOT, "tests")]

from hosts import Host  # noqa: E402 pylint: disable=import-error

from ansible_collections.cnm.fabric.plugins.module_utils import spec  # noqa: E402
from ansible_collections.cnm.fabric.plugins.module_utils.drivers import esp  # noqa: E402
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.overlay import OverlayPart  # noqa: E402
from ansible_collections.cnm.fabric.plugins.module_utils.model import XfrmView  # noqa: E402
from ansible_collections.cnm.fabric.plugins.module_utils.ipam import etcd  # noqa: E402
from ansible_collections.cnm.fabric.plugins.module_utils.ipam.file import FileBackend  # noqa: E402
from ansible_collections.cnm.fabric.plugins.module_utils.store import Store  # noqa: E402

PREFIX = "cnmb%s" % uuid.uuid4().hex[:5]
SETTLE_S = 5
OLD_VENV = ".venv-pyroute2-0.7"


def pyroute2_version(python):
    return subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('pyroute2'))"],
                          capture_output=True, text=True, check=False).stdout.strip() or "unknown"


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def new_host(tag):
    """A throwaway host (tests/hosts.py) in a temporary directory of its own, which ``done`` removes."""
    return Host("%s-%s" % (PREFIX, tag), os.path.join(tempfile.mkdtemp(prefix="cnm-bench-"), "state"))


def done(host):
    host.cleanup()
    shutil.rmtree(host.tmp, ignore_errors=True)


def timed(host, module_name, allow_fail=False, python=sys.executable, **args):
    """Run one module process of ``host`` under ``python``; return (seconds, peak RSS in KiB, result)."""
    # A fresh waiter per run, so its children's peak RSS is this module's alone.
    waiter = ("import resource, subprocess, sys, time; t = time.monotonic(); "
              "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
              "d = time.monotonic() - t; "
              "print(d, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); print(p.stdout)")
    out = subprocess.run(host.enter() + [sys.executable, "-c", waiter] + host.command(module_name, interpreter=python, **args),
                         capture_output=True, text=True, env=host.environment(), check=True).stdout
    head, body = out.split("\n", 1)
    seconds, rss = head.split()
    result = json.loads(body)
    if result.get("failed") and not allow_fail:
        raise RuntimeError(result["msg"])
    return float(seconds), int(rss), result


def cleanup_all():
    names = [n for n in os.listdir("/run/netns") if n.startswith(PREFIX)] if os.path.isdir("/run/netns") else []
    for name in names:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    for name in os.listdir("/etc/netns") if os.path.isdir("/etc/netns") else []:
        if name.startswith(PREFIX):
            shutil.rmtree(os.path.join("/etc/netns", name), ignore_errors=True)


def settle():
    """Let the kernel finish the deferred work of the last phase (RCU callbacks, freeing
    links) before a teardown is timed: unmounting a namespace waits for an RCU grace
    period, which takes up to 20 times longer while that work is still running."""
    time.sleep(SETTLE_S)


def address(i):
    return "10.100.%d.%d" % ((i + 2) // 256, (i + 2) % 256)


# What OPTIONS ask of the kernel, for the floor: the routes and the default route's metric in each
# sandbox's batch, and on the host an ifb per endpoint, two token buckets and the redirect (the
# bursts cnm_endpoint takes by default for those rates).
FLOOR_ROUTES = ("route add 10.200.0.0/16 via 10.100.255.254\n"
                "route add default via 10.100.255.254 table 100\n")
FLOOR_SHAPING = ("qdisc add dev fv{i} root tbf rate 100mbit burst 125000 latency 25ms\n"
                 "qdisc add dev fb{i} root tbf rate 20mbit burst 32768 latency 25ms\n"
                 "qdisc add dev fv{i} handle ffff: ingress\n"
                 "filter add dev fv{i} parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev fb{i}\n")


def iproute2_floor(n, options=False):
    """The same result with the fewest iproute2 processes, with what OPTIONS ask of the kernel
    when ``options``; returns (make, teardown) seconds."""
    host = new_host("floor%d%s" % (n, "o" if options else ""))
    try:
        enter = host.enter()
        sbs = ["%s-f%d" % (PREFIX, i) for i in range(n)]
        start = time.monotonic()
        sh(enter + ["ip", "-batch", "-"], input="".join("netns add %s\n" % s for s in sbs))
        lines = ["link add br-floor type bridge", "link set br-floor up",
                 "addr add 10.100.0.1/16 dev br-floor"]
        for i, s in enumerate(sbs):
            lines.append("link add fv%d type veth peer name eth0 netns %s" % (i, s))
            lines.append("link set fv%d master br-floor up" % i)
            if options:
                lines.append("link add fb%d group 7 type ifb" % i)
                lines.append("link set fb%d up" % i)
        sh(enter + ["ip", "-batch", "-"], input="\n".join(lines) + "\n")
        metric, routes = (" metric 100", FLOOR_ROUTES) if options else ("", "")
        for i, s in enumerate(sbs):
            sh(["ip", "-n", s, "-batch", "-"], input=(
                "link set lo up\nlink set eth0 address 02:42:0a:64:%02x:%02x up\naddr add %s/16 dev eth0\n"
                "route add default via 10.100.0.1%s\n%s" % ((i + 2) // 256, (i + 2) % 256, address(i), metric, routes)))
        if options:
            sh(enter + ["tc", "-batch", "-"], input="".join(FLOOR_SHAPING.format(i=i) for i in range(n)))
        made = time.monotonic() - start
        settle()
        start = time.monotonic()
        if options:
            sh(enter + ["ip", "link", "del", "group", "7"])
        sh(enter + ["ip", "-batch", "-"], input="".join("netns del %s\n" % s for s in sbs))
        return made, time.monotonic() - start
    finally:
        done(host)
        cleanup_all()


CNI_PATH = "/usr/lib/cni"
NETAVARK = "/usr/lib/podman/netavark"
# Runs one command per sandbox with its input, as a runtime execs a plugin: argv[1] is a JSON list
# of [argv, environment additions, input].
RUNNER = ("import json, os, subprocess, sys\n"
          "for argv, env, stdin in json.load(open(sys.argv[1])):\n"
          "    p = subprocess.run(argv, input=stdin, env=dict(os.environ, **env), capture_output=True, text=True)\n"
          "    if p.returncode:\n        sys.exit('%s: %s %s' % (argv, p.stdout, p.stderr))\n")


def _peer(host, name, calls):
    """Seconds to run ``calls`` ([argv, env, input]) one after another inside the host namespace."""
    path = os.path.join(host.tmp, name + ".json")
    with open(path, "w") as f:
        json.dump(calls, f)
    start = time.monotonic()
    sh(host.enter() + [sys.executable, "-c", RUNNER, path])
    return time.monotonic() - start


def peer(kind, n):
    """A peer's make and teardown of N endpoints (see the module's doc); None when it is not installed."""
    if not os.path.exists(os.path.join(CNI_PATH, "bridge") if kind == "cni" else NETAVARK):
        return None
    host = new_host("%s%d" % (kind, n))
    try:
        sbs = ["%s-%s%d" % (PREFIX, kind[0], i) for i in range(n)]
        if kind == "cni":
            conf = json.dumps({"cniVersion": "0.4.0", "name": "bench", "type": "bridge", "bridge": "cnib0",
                               "isGateway": True, "ipMasq": True,
                               "ipam": {"type": "host-local", "subnet": "10.100.0.0/16", "routes": [{"dst": "0.0.0.0/0"}],
                                        "dataDir": os.path.join(host.tmp, "cni")}})

            def calls(command):
                return [[[os.path.join(CNI_PATH, "bridge")], {"CNI_COMMAND": command, "CNI_CONTAINERID": s,
                                                              "CNI_NETNS": "/run/netns/" + s, "CNI_IFNAME": "eth0",
                                                              "CNI_PATH": CNI_PATH}, conf] for s in sbs]
        else:
            net_id = uuid.uuid4().hex * 2

            def options(i, s):
                return json.dumps({
                    "container_id": uuid.uuid5(uuid.NAMESPACE_DNS, s).hex * 2, "container_name": s, "port_mappings": [],
                    "networks": {"bench": {"interface_name": "eth0", "static_ips": [address(i)]}},
                    "network_info": {"bench": {"name": "bench", "id": net_id, "driver": "bridge", "network_interface": "nvb0",
                                               "subnets": [{"subnet": "10.100.0.0/16", "gateway": "10.100.0.1"}],
                                               "ipv6_enabled": False, "internal": False, "dns_enabled": False}}})

            def calls(command):
                return [[[NETAVARK, "--config", os.path.join(host.tmp, "netavark"), command, "/run/netns/" + s], {},
                         options(i, s)] for i, s in enumerate(sbs)]
        start = time.monotonic()
        sh(["ip", "-batch", "-"], input="".join("netns add %s\n" % s for s in sbs))
        made = time.monotonic() - start + _peer(host, "add", calls("ADD" if kind == "cni" else "setup"))
        settle()
        down = _peer(host, "del", calls("DEL" if kind == "cni" else "teardown"))
        start = time.monotonic()
        sh(["ip", "-batch", "-"], input="".join("netns del %s\n" % s for s in sbs))
        return {"make_s": made, "teardown_s": down + time.monotonic() - start}
    finally:
        done(host)
        cleanup_all()


# Options of every endpoint of a bulk call, timed against the same call without them: a route in
# the main table, one in a table of its own, a default route metric, and bandwidth both ways.
OPTIONS = {"default_route_metric": 100,
           "routes": [{"dst": "10.200.0.0/16", "gateway": "10.100.255.254"},
                      {"dst": "0.0.0.0/0", "gateway": "10.100.255.254", "table": 100}],
           "bandwidth": {"ingress_rate": "100mbit", "egress_rate": "20mbit"}}


def ours(n, python=sys.executable, ipv6=False, options=None):
    """Our bulk call, its no-op rerun and its teardown; ``ipv6``: on a dual-stack network;
    ``options``: of every endpoint."""
    host = new_host("ours%d%s%s" % (n, "v6" if ipv6 else "", "o" if options else ""))
    try:
        timed(host, "cnm_network", python=python, name="bench", subnet=["10.100.0.0/16"] + (["fd00:100::/64"] if ipv6 else []),
                    ipv6=ipv6)
        # Process start-up: interpreter, imports, argument checks (a call that fails at once).
        startup = _startup(host, "cnm_endpoint", python)
        items = [dict(options or {}, name="e%d" % i, sandbox="%s-e%d" % (PREFIX, i)) for i in range(n)]
        made, rss, result = timed(host, "cnm_endpoint", python=python, network="bench", endpoints=items)
        assert result["endpoints"][-1]["ipv4_address"] == address(n - 1)
        assert bool(result["endpoints"][-1]["ipv6_address"]) == ipv6
        # Best of three: the first rerun after a mass creation overlaps the kernel's deferred
        # cleanup of it (RCU reclaim), which is no part of the rerun's own cost.
        noops = []
        for _round in range(3):
            noop, noop_rss, again = timed(host, "cnm_endpoint", python=python, network="bench", endpoints=items)
            assert again["changed"] is False, again["changes"][:5]
            noops.append(noop)
        noop = min(noops)
        settle()
        down = timed(host, "cnm_endpoint", python=python, network="bench", endpoints=items, state="absent")[0]
        return {"make_s": made, "noop_s": noop, "noop_runs_s": noops, "teardown_s": down,
                "peak_rss_kib": max(rss, noop_rss),
                "startup_s": startup, "noop_module_s": noop - startup}
    finally:
        done(host)
        cleanup_all()


def _best(runs):
    """The best of several runs of ``ours``: each time its minimum, the peak RSS its maximum."""
    best = dict(runs[0], make_runs_s=[r["make_s"] for r in runs], peak_rss_kib=max(r["peak_rss_kib"] for r in runs))
    for key in ("make_s", "noop_s", "teardown_s", "startup_s", "noop_module_s"):
        best[key] = min(r[key] for r in runs)
    best["noop_runs_s"] = [t for r in runs for t in r["noop_runs_s"]]
    return best


PLAY = """- hosts: localhost
  gather_facts: false
  vars_files: [items.json]
  tasks:
%s"""
ROLE = """    - ansible.builtin.include_role:
        name: cnm.fabric.bridge_network
      vars:
        bridge_network_state_dir: %s
        bridge_network_restore_unit: false
        bridge_network_state: %s
        bridge_network_networks: [{name: bench, subnet: 10.100.0.0/16, endpoints: "{{ items }}"}]
"""
# Where a module's time goes: the functions whose cumulative time a profile reports, by phase.
PHASES = (("argument validation (AnsibleModule)", "basic.py", "__init__"),
          ("spec checks", "spec.py", "endpoint_specs"),
          ("store: lock, records", "run.py", "__enter__"),
          ("observe: host and sandboxes (prefetch)", "kernel/base.py", "prefetch"),
          ("observe: one namespace (view; within prefetch when both)", "kernel/base.py", "view"),
          ("network plan and apply", "networks.py", "network_present"),
          ("converge: plan and apply (observe included)", "endpoints.py", "endpoints_converge"),
          ("finish: files, firewall, records", "run.py", "finish"),
          ("result facts", "endpoints.py", "endpoint_facts"),
          ("result: exit_json", "basic.py", "exit_json"))


def _play(host, name, body, **env):
    """Seconds of one ansible-playbook run of ``body`` (the tasks) on the host."""
    path = os.path.join(host.tmp, name + ".yml")
    with open(path, "w") as f:
        f.write(PLAY % body)
    start = time.monotonic()
    sh(host.enter() + [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), path],
       cwd=host.tmp, env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, **env))
    return time.monotonic() - start


def _profile(host, module_file):
    """The phases of one run of a kept AnsiballZ module, from cProfile: {phase: seconds}, with the
    whole process (unprofiled, best of three) and its profiled total."""
    import pstats
    explode = os.path.dirname(module_file)
    sh([sys.executable, module_file, "explode"], cwd=explode)
    debug = os.path.join(explode, "debug_dir")
    source = os.path.basename(module_file)[len("AnsiballZ_"):]  # the module's own file name
    module = "ansible_collections.cnm.fabric.plugins.modules." + source[:-len(".py")]
    enter = host.enter()
    whole = []
    for _round in range(3):
        start = time.monotonic()
        sh(enter + [sys.executable, module_file])
        whole.append(time.monotonic() - start)
    prof = os.path.join(host.tmp, "module.prof")
    sh(enter + [sys.executable, "-m", "cProfile", "-o", prof, "-m", module, "args"], cwd=debug,
       env=dict(os.environ, PYTHONPATH=debug))
    stats = pstats.Stats(prof).stats
    out = {"module_process_s": min(whole), "profiled_total_s": max(v[3] for v in stats.values())}
    for label, suffix, func in PHASES:
        out[label] = sum(v[3] for (path, _line, name), v in stats.items() if path.endswith(suffix) and name == func)
    out["start-up and imports (profiled total less main)"] = out["profiled_total_s"] - sum(
        v[3] for (path, _line, name), v in stats.items() if path.endswith(source) and name == "main")
    return out


def playbook(n, repeat=3):
    """What a user waits for at N endpoints (see the module's doc): seconds beyond the empty play."""
    host = new_host("play%d" % n)
    try:
        timed(host, "cnm_network", name="bench", subnet="10.100.0.0/16")
        with open(os.path.join(host.tmp, "items.json"), "w") as f:
            json.dump({"items": [{"name": "e%d" % i, "sandbox": "%s-p%d" % (PREFIX, i)} for i in range(n)]}, f)
        task = ("    - cnm.fabric.cnm_endpoint:\n        network: bench\n        state_dir: %s\n"
                "        endpoints: \"{{ items }}\"\n        state: %%s\n" % host.state_dir)
        network = "    - cnm.fabric.cnm_network:\n        name: bench\n        subnet: 10.100.0.0/16\n        state_dir: %s\n" \
            % host.state_dir
        empty = min(_play(host, "empty", "    []\n") for _round in range(repeat))
        out = {"empty_play_s": empty,
               "command_task_s": min(_play(host, "command", "    - ansible.builtin.command: 'true'\n")
                                     for _round in range(repeat)) - empty,
               "create_s": _play(host, "create", task % "present") - empty}
        out["noop_s"] = min(_play(host, "noop", task % "present") for _round in range(repeat)) - empty
        out["network_noop_s"] = min(_play(host, "network", network) for _round in range(repeat)) - empty
        for key, name, body in (("noop_breakdown", "noop", task % "present"), ("network_noop_breakdown", "network", network)):
            remote = os.path.join(host.tmp, "remote-" + name)
            _play(host, name, body, ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TMP=remote)
            kept = [os.path.join(d, f) for d, _subdirs, files in os.walk(remote) for f in files if f.startswith("AnsiballZ_")]
            out[key] = _profile(host, kept[0])
        settle()
        out["teardown_s"] = _play(host, "teardown", task % "absent") - empty
        # The same through the bridge_network role (one cnm_host call, its deps probe and
        # argument validation included), as a user of the role waits for it.
        role = ROLE % (host.state_dir, "%s")
        out["role_create_s"] = _play(host, "role", role % "present") - empty
        out["role_noop_s"] = min(_play(host, "role", role % "present") for _round in range(repeat)) - empty
        settle()
        out["role_teardown_s"] = _play(host, "role", role % "absent") - empty
        return out
    finally:
        done(host)
        cleanup_all()


def _overlay_host(tag):
    """A host with an underlay (ul0, its default route) and an overlay network fab."""
    host = new_host(tag)
    enter = ["ip", "-n", host.ns]
    for cmd in (["link", "add", "ul0", "type", "veth", "peer", "name", "ul1"], ["addr", "add", "198.18.0.1/16", "dev", "ul0"],
                ["link", "set", "ul0", "up"], ["link", "set", "ul1", "up"], ["route", "add", "default", "via", "198.18.0.2"]):
        sh(enter + cmd)
    timed(host, "cnm_network", name="fab", driver="overlay", subnet="10.64.0.0/16", overlay={"vni": 77})
    return host


def _remote(i):
    """The i-th remote endpoint: (name, address, MAC), 100 behind each VTEP."""
    address = "10.64.%d.%d" % ((i + 2) // 256, (i + 2) % 256)
    return "r%d" % i, address, "02:42:0a:40:%02x:%02x" % ((i + 2) // 256, (i + 2) % 256)


def overlay_peers(n):
    """cnm_overlay_peer with ``n`` remote endpoints behind n/100 VTEPs, against the same entries
    made by one `bridge -batch` and one `ip -batch` on a VXLAN device of the same settings."""
    host = _overlay_host("peers%d" % n)
    try:
        vteps = {}
        for i in range(n):
            name, address, _mac = _remote(i)
            vteps.setdefault("198.18.%d.%d" % (1 + i // 100 // 250, 10 + i // 100 % 250), []).append(
                {"name": name, "ip": address})
        peers = [{"vtep": vtep, "endpoints": eps} for vtep, eps in sorted(vteps.items())]
        ours = timed(host, "cnm_overlay_peer", network="fab", peers=peers)[0]
        noop, _rss, again = timed(host, "cnm_overlay_peer", network="fab", peers=peers)
        assert again["changed"] is False
        enter = host.enter()
        sh(enter + ["ip", "link", "add", "vxb", "type", "vxlan", "id", "78", "dstport", "4789", "local", "198.18.0.1",
                    "dev", "ul0", "nolearning", "proxy"])
        sh(enter + ["ip", "link", "set", "vxb", "up"])
        fdb = ["fdb append 00:00:00:00:00:00 dev vxb dst %s" % vtep for vtep in sorted(vteps)]
        neigh = []
        for vtep, eps in sorted(vteps.items()):
            for ep in eps:
                mac = _remote(int(ep["name"][1:]))[2]
                fdb.append("fdb add %s dev vxb dst %s" % (mac, vtep))
                neigh.append("neigh add %s lladdr %s dev vxb nud permanent" % (ep["ip"], mac))
        start = time.monotonic()
        sh(enter + ["bridge", "-batch", "-"], input="\n".join(fdb) + "\n")
        sh(enter + ["ip", "-batch", "-"], input="\n".join(neigh) + "\n")
        return _against(ours, noop, time.monotonic() - start, _startup(host, "cnm_overlay_peer"))
    finally:
        done(host)
        cleanup_all()


def _startup(host, module, python=sys.executable):
    """A module process's start-up (interpreter, imports, argument checks): best of three
    calls that fail at once."""
    return min(timed(host, module, allow_fail=True, python=python)[0] for _round in range(3))


def _against(ours, noop, floor, startup):
    """Our whole module process, and its work (less its start-up), against the floor."""
    return {"make_s": ours, "noop_s": noop, "floor_s": floor, "make_vs_floor": ours / floor, "startup_s": startup,
            "work_vs_floor": (ours - startup) / floor}


def service_backends(n):
    """cnm_service with ``n`` backends (remote endpoints) for one client sandbox, against loading
    the same table into that sandbox with one `nft -f`."""
    host = _overlay_host("svc%d" % n)
    try:
        eps = [{"name": _remote(i)[0], "ip": _remote(i)[1]} for i in range(n)]
        timed(host, "cnm_overlay_peer", network="fab", peers=[{"vtep": "198.18.1.10", "endpoints": eps}])
        client = "%s-client" % PREFIX
        timed(host, "cnm_endpoint", name="client", network="fab", sandbox=client, ipv4_address="10.64.255.2")
        args = dict(name="web", network="fab", vip="10.64.255.250", ports=[{"port": 80}],
                    endpoints=[ep["name"] for ep in eps])
        ours, _rss, made = timed(host, "cnm_service", **args)
        assert len(made["service"]["backends"]) == n
        noop = timed(host, "cnm_service", **args)[0]
        table = sh(["ip", "netns", "exec", client, "nft", "list", "table", "inet", "cnm_svc"]).stdout
        sh(["ip", "netns", "exec", client, "nft", "delete", "table", "inet", "cnm_svc"])
        start = time.monotonic()
        sh(["nsenter", "--net=/run/netns/" + client, "nft", "-f", "-"], input=table)
        return _against(ours, noop, time.monotonic() - start, _startup(host, "cnm_service"))
    finally:
        done(host)
        cleanup_all()


def ipsec_peers(n):
    """The IPsec plan of ``n`` peers under two keys, and its ``n`` policies applied as one
    `ip -batch` against one `ip xfrm` process each, in a throwaway namespace."""
    network = OverlayPart(vni=77, vxlan_interface="cnmx-sec", local_ip="198.18.0.1", underlay_interface="ul0",
                          encrypted=True, peers=dict(("198.18.%d.%d" % (1 + i // 250, 1 + i % 250), []) for i in range(n)))
    keys = esp.parse_keys(["1e" * 32, "2e" * 32])
    start = time.monotonic()
    plan = esp.changes("sec", network, keys, "complete", XfrmView())
    planned = time.monotonic() - start
    policies = [c.args[0] for c in plan if c.args[0].startswith("xfrm policy add")]
    host = new_host("ipsec%d" % n)
    enter = host.enter() + ["ip"]
    try:
        start = time.monotonic()
        sh(enter + ["-batch", "-"], input="".join(line + "\n" for line in policies))
        batch = time.monotonic() - start
        sh(enter + ["xfrm", "policy", "flush"])
        start = time.monotonic()
        for line in policies:
            sh(enter + line.split())
        each = time.monotonic() - start
    finally:
        done(host)
        cleanup_all()
    return {"peers": n, "changes": len(plan), "plan_s": planned, "batch_s": batch, "process_each_s": each,
            "each_vs_batch": each / batch}


def ansible_loop(n):
    """Single-endpoint tasks in a loop; per endpoint = (t(n) - t(1)) / (n - 1)."""
    host = new_host("loop")
    try:
        timed(host, "cnm_network", name="bench", subnet="10.100.0.0/16")
        play = os.path.join(host.tmp, "loop.yml")
        times = {}
        for count in (1, n):
            with open(play, "w") as f:
                f.write("""- hosts: localhost
  gather_facts: false
  tasks:
    - cnm.fabric.cnm_endpoint:
        name: "l{{ item }}"
        network: bench
        sandbox: "%s-l{{ item }}"
        state_dir: %s
      loop: "{{ range(%d) | list }}"
""" % (PREFIX, host.state_dir, count))
            start = time.monotonic()
            sh(host.enter() + [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), play],
               env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS))
            times[count] = time.monotonic() - start
            timed(host, "cnm_endpoint", network="bench", endpoints=[], exclusive=True)
        return (times[n] - times[1]) / (n - 1)
    finally:
        done(host)
        cleanup_all()


def _allocate(state_dir, owners, per_transaction):
    if per_transaction:
        for owner in owners:
            with Store(state_dir) as store:
                FileBackend(store, "bench").request_address("big", owner)
                store.save()
    else:
        with Store(state_dir) as store:
            backend = FileBackend(store, "bench")
            for owner in owners:
                backend.request_address("big", owner)
            store.save()


ACCEPTOR = ("import socket, sys\n"
            "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            "s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(512); print('ready', flush=True)\n"
            "while True:\n    c, _ = s.accept(); c.close()\n")
CONNECTOR = ("import json, socket, sys, time\n"
             "host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]); lat = []\n"
             "start = time.monotonic()\n"
             "for _round in range(n):\n"
             "    t = time.monotonic(); c = socket.create_connection((host, port), timeout=2); c.close()\n"
             "    lat.append(time.monotonic() - t)\n"
             "total = time.monotonic() - start; lat.sort()\n"
             "print(json.dumps({'per_s': n / total, 'p50_us': 1e6 * lat[len(lat) // 2]}))\n")


def _connects(ns, address, port, count, rounds):
    """Sequential TCP connects from ``ns`` to address:port: the best round's rate and its median."""
    best = None
    for _round in range(rounds):
        out = json.loads(sh(["ip", "netns", "exec", ns, sys.executable, "-c", CONNECTOR, address, str(port),
                             str(count)]).stdout)
        if best is None or out["per_s"] > best["per_s"]:
            best = out
    return best


def dataplane(sizes, count=1500, rounds=3):
    """Connects per second through published ports (see the module's doc), at each number of ports."""
    host = new_host("dp")
    servers = []
    try:
        sandbox, neighbour = "%s-dps" % PREFIX, "%s-dpn" % PREFIX
        sh(["ip", "netns", "add", neighbour])
        for cmd in (["ip", "-n", host.ns, "link", "add", "nb0", "type", "veth", "peer", "name", "nb1", "netns", neighbour],
                    ["ip", "-n", host.ns, "addr", "add", "10.102.0.1/24", "dev", "nb0"], ["ip", "-n", host.ns, "link", "set", "nb0", "up"],
                    ["ip", "-n", neighbour, "addr", "add", "10.102.0.2/24", "dev", "nb1"], ["ip", "-n", neighbour, "link", "set", "nb1", "up"],
                    ["ip", "-n", neighbour, "link", "set", "lo", "up"], ["ip", "-n", neighbour, "route", "add", "default", "via", "10.102.0.1"],
                    ["ip", "netns", "exec", host.ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"]):
            sh(cmd)
        timed(host, "cnm_network", name="dp", subnet="10.101.0.0/24")
        timed(host, "cnm_endpoint", name="srv", network="dp", sandbox=sandbox, ipv4_address="10.101.0.2")
        # An acceptor in the sandbox (behind the published ports) and one on the host (a port nothing publishes).
        for ns, address, port in ((sandbox, "10.101.0.2", 8080), (host.ns, "10.102.0.1", 9999)):
            proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", ACCEPTOR, address, str(port)],
                                    stdout=subprocess.PIPE, text=True)
            servers.append(proc)
            proc.stdout.readline()
        out = {}
        for n in sizes:
            publish = [{"host_port": 30000 + i, "container_port": 8080} for i in range(n)]
            timed(host, "cnm_endpoint", name="srv", network="dp", sandbox=sandbox, ipv4_address="10.101.0.2", publish=publish)
            last = 30000 + n - 1
            out[str(n)] = {
                "host_to_published": _connects(host.ns, "10.102.0.1", last, count, rounds),
                "neighbour_to_published": _connects(neighbour, "10.102.0.1", last, count, rounds),
                "host_to_sandbox_unpublished": _connects(host.ns, "10.101.0.2", 8080, count, rounds),
                "neighbour_to_host_unpublished": _connects(neighbour, "10.102.0.1", 9999, count, rounds)}
            print("data plane, %d published ports: %s" % (n, ", ".join(
                "%s %.0f/s" % (path, r["per_s"]) for path, r in sorted(out[str(n)].items()))), flush=True)
        return out
    finally:
        for proc in servers:
            proc.kill()
            proc.wait()
        done(host)
        cleanup_all()


def ipam_file(count, each_count):
    out = {}
    for label, per_tx, procs, count in (
            ("file, one transaction for all", False, 1, count),
            ("file, one transaction each (%d)" % each_count, True, 1, each_count),
            ("file, one transaction each, 4 processes (%d)" % each_count, True, 4, each_count)):
        tmp = tempfile.mkdtemp(prefix="cnm-bench-ipam-")
        try:
            with Store(tmp) as store:
                FileBackend(store, "bench").request_pool(spec.check_pool_request("big", "10.64.0.0/18", None, None, None))
                store.save()
            owners = ["o%d" % i for i in range(count)]
            start = time.monotonic()
            with concurrent.futures.ProcessPoolExecutor(procs) as pool:
                list(pool.map(_allocate, [tmp] * procs, [owners[i::procs] for i in range(procs)], [per_tx] * procs))
            seconds = time.monotonic() - start
            with Store(tmp) as store:
                held = FileBackend(store, "bench").pool("big")["addresses"]
            assert len(held) == count and len(set(held.values())) == count
            out[label] = count / seconds
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _etcd_allocate(url, owners, per_transaction):
    client = etcd.connect({"endpoints": [url]})
    batches = [[o] for o in owners] if per_transaction else [owners]
    for batch in batches:
        while True:
            backend = etcd.EtcdBackend(client, "bench", "/bench")
            for owner in batch:
                backend.request_address("big", owner)
            try:
                backend.commit()
                break
            except etcd.Conflict:
                continue


def ipam_etcd(count, each_count):
    """The etcd backend against a throwaway server on loopback (skipped without etcd)."""
    if not shutil.which("etcd"):
        return {}
    out = {}
    for label, per_tx, procs, n in (("etcd, one transaction for all", False, 1, count),
                                    ("etcd, one transaction each (%d)" % each_count, True, 1, each_count),
                                    ("etcd, one transaction each, 4 processes (%d)" % each_count, True, 4, each_count)):
        data = tempfile.mkdtemp(prefix="cnm-bench-etcd-")
        ports = []
        for _round in range(2):
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                ports.append(sock.getsockname()[1])
        url, peer = "http://127.0.0.1:%d" % ports[0], "http://127.0.0.1:%d" % ports[1]
        server = subprocess.Popen(["etcd", "--name", "b", "--data-dir", data, "--listen-client-urls", url,
                                   "--advertise-client-urls", url, "--listen-peer-urls", peer,
                                   "--initial-advertise-peer-urls", peer, "--initial-cluster", "b=" + peer,
                                   "--log-level", "error"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _round in range(100):
                try:
                    client = etcd.connect({"endpoints": [url], "timeout": 1})
                    break
                except Exception:  # pylint: disable=broad-except
                    time.sleep(0.1)
            backend = etcd.EtcdBackend(client, "bench", "/bench")
            backend.request_pool(spec.check_pool_request("big", "10.64.0.0/18", None, None, None))
            backend.commit()
            owners = ["o%d" % i for i in range(n)]
            start = time.monotonic()
            with concurrent.futures.ProcessPoolExecutor(procs) as pool:
                list(pool.map(_etcd_allocate, [url] * procs, [owners[i::procs] for i in range(procs)],
                              [per_tx] * procs))
            seconds = time.monotonic() - start
            held = etcd.EtcdBackend(client, "bench", "/bench").pool("big")["addresses"]
            assert len(held) == n and len(set(held.values())) == n
            out[label] = n / seconds
        finally:
            server.terminate()
            server.wait(10)
            shutil.rmtree(data, ignore_errors=True)
    return out


def svg(results, path):
    """A small bar chart: seconds per phase at each N, ours against the iproute2 floor."""
    rows = []
    for n, r in sorted(results["endpoints"].items(), key=lambda kv: int(kv[0])):
        rows += [("N=%s make, iproute2" % n, r["floor_make_s"], "#999"), ("N=%s make, cnm.fabric" % n, r["make_s"], "#27a"),
                 ("N=%s no-op rerun" % n, r["noop_s"], "#7b3"),
                 ("N=%s teardown, iproute2" % n, r["floor_teardown_s"], "#999"),
                 ("N=%s teardown, cnm.fabric" % n, r["teardown_s"], "#27a")]
    top = max(row[1] for row in rows) or 1
    height = 22 * len(rows) + 40
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="720" height="%d" font-family="sans-serif" '
             'font-size="12"><text x="10" y="18" font-weight="bold">seconds (lower is better)</text>' % height]
    for i, (label, value, color) in enumerate(rows):
        y = 30 + 22 * i
        parts.append('<text x="10" y="%d">%s</text><rect x="230" y="%d" width="%.1f" height="16" fill="%s"/>'
                     '<text x="%.1f" y="%d">%.2f</text>' % (y + 12, label, y, 420 * value / top, color,
                                                            236 + 420 * value / top, y + 12, value))
    parts.append("</svg>\n")
    with open(path, "w") as f:
        f.write("".join(parts))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="200,1000")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the floor and of the bulk call, best taken")
    parser.add_argument("--loop-n", type=int, default=20)
    parser.add_argument("--ipam-count", type=int, default=10000)
    parser.add_argument("--each", type=int, default=1000,
                        help="allocations of the one-transaction-each runs: each transaction reads and "
                             "writes the whole space, so they cost O(n) apiece")
    parser.add_argument("--peers", type=int, default=10000, help="remote endpoints for cnm_overlay_peer")
    parser.add_argument("--backends", type=int, default=1000, help="backends of one service")
    parser.add_argument("--ports", default="1,100,1000", help="numbers of published ports for the data plane")
    parser.add_argument("--only", choices=("dataplane", "playbook", "peers"), help="run one part alone")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"))
    parser.add_argument("--old-python", default=os.path.join(ROOT, OLD_VENV, "bin", "python"),
                        help="a Python with pyroute2 0.7 (Debian 12's): the endpoints are timed with it too")
    args = parser.parse_args()
    old = args.old_python if os.path.exists(args.old_python) else None
    ports = [int(x) for x in args.ports.split(",")]
    sizes = [int(x) for x in args.sizes.split(",")]
    if args.only:
        try:
            part = dataplane(ports) if args.only == "dataplane" else \
                dict((str(n), {"cni": peer("cni", n), "netavark": peer("netavark", n)}) for n in sizes) \
                if args.only == "peers" else dict((str(n), playbook(n)) for n in sizes)
            print(json.dumps(part, indent=1))
        finally:
            cleanup_all()
        return
    results = {"machine": {"cores": os.cpu_count(), "kernel": os.uname().release},
               "pyroute2": {"main": pyroute2_version(sys.executable)}, "endpoints": {}, "ipam_allocations_per_s": {}}
    if old:
        results["pyroute2"]["old"] = pyroute2_version(old)
        results["endpoints_old_pyroute2"] = {}
    try:
        loop = ansible_loop(args.loop_n)
        results["ansible_loop_per_endpoint_s"] = loop
        for n in [int(x) for x in args.sizes.split(",")]:
            # Floor and ours take turns, best of --repeat each: the machine's speed drifts
            # between minutes (file creation alone by a factor of 3 here).
            floors, floors_options, runs, runs_old, runs_options = [], [], [], [], []
            for _round in range(args.repeat):
                floors.append(iproute2_floor(n))
                floors_options.append(iproute2_floor(n, options=True))
                runs.append(ours(n))
                runs_options.append(ours(n, options=OPTIONS))
                if old:
                    runs_old.append(ours(n, old))
            floor_make, floor_down = min(f[0] for f in floors), min(f[1] for f in floors)
            r = _best(runs)
            r["floor_make_runs_s"] = [f[0] for f in floors]
            print("N=%d: floor %.2f s, bulk %.2f s, no-op %.2f s, teardown %.2f s (floor %.2f s)" % (
                n, floor_make, r["make_s"], r["noop_s"], r["teardown_s"], floor_down), flush=True)
            r.update(floor_make_s=floor_make, floor_teardown_s=floor_down,
                     make_vs_floor=r["make_s"] / floor_make, teardown_vs_floor=r["teardown_s"] / floor_down,
                     make_per_endpoint_ms=1000 * r["make_s"] / n,
                     loop_vs_bulk_per_endpoint=loop / (r["make_s"] / n))
            results["endpoints"][str(n)] = r
            options = _best(runs_options)
            # The kernel's share of the options' cost: the floor with them against the floor without.
            floor_options_make = min(f[0] for f in floors_options)
            floor_options_down = min(f[1] for f in floors_options)
            r.update(options_make_s=options["make_s"], options_noop_s=options["noop_s"],
                     options_teardown_s=options["teardown_s"],
                     options_make_vs_plain=options["make_s"] / r["make_s"],
                     options_noop_vs_plain=options["noop_s"] / r["noop_s"],
                     options_teardown_vs_plain=options["teardown_s"] / r["teardown_s"],
                     options_floor_make_s=floor_options_make, options_floor_teardown_s=floor_options_down,
                     options_floor_make_vs_plain=floor_options_make / floor_make,
                     options_floor_teardown_vs_plain=floor_options_down / floor_down)
            print("N=%d with routes, a default route metric and bandwidth: bulk %.2f s (%.2fx), no-op %.2f s (%.2fx), "
                  "teardown %.2f s (%.2fx); the floor %.2fx to make, %.2fx to tear down" % (
                      n, options["make_s"], r["options_make_vs_plain"], options["noop_s"], r["options_noop_vs_plain"],
                      options["teardown_s"], r["options_teardown_vs_plain"], r["options_floor_make_vs_plain"],
                      r["options_floor_teardown_vs_plain"]), flush=True)
            r6 = ours(n, ipv6=True)
            r.update(dual_stack_make_s=r6["make_s"], dual_stack_noop_s=r6["noop_s"],
                     dual_stack_vs_ipv4=r6["make_s"] / r["make_s"])
            print("N=%d dual-stack: bulk %.2f s (%.2fx IPv4 only), no-op %.2f s" % (
                n, r6["make_s"], r["dual_stack_vs_ipv4"], r6["noop_s"]), flush=True)
            r["playbook"] = playbook(n)
            r["peers"] = dict((kind, peer(kind, n)) for kind in ("cni", "netavark"))
            if old:
                r_old = _best(runs_old)
                r_old.update(make_vs_floor=r_old["make_s"] / floor_make, make_per_endpoint_ms=1000 * r_old["make_s"] / n)
                print("N=%d with pyroute2 %s: bulk %.2f s, no-op %.2f s" % (
                    n, results["pyroute2"]["old"], r_old["make_s"], r_old["noop_s"]), flush=True)
                results["endpoints_old_pyroute2"][str(n)] = r_old
        results["overlay_peers"] = dict((str(n), overlay_peers(n)) for n in (1000, args.peers))
        results["service_backends"] = dict((str(n), service_backends(n)) for n in (100, args.backends))
        results["ipsec"] = ipsec_peers(250)
        results["dataplane"] = dataplane(ports)
        results["ipam_allocations_per_s"].update(ipam_file(args.ipam_count, args.each))
        results["ipam_allocations_per_s"].update(ipam_etcd(args.ipam_count, args.each))
    finally:
        cleanup_all()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "bench.json"), "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    svg(results, os.path.join(args.out, "bench.svg"))

    print("%-6s %8s %8s %6s %7s %8s %9s %8s %7s %6s %8s" % (
        "N", "floor s", "bulk s", "ratio", "ms/ep", "no-op s", "(module)", "floor rm", "rm s", "ratio", "RSS MiB"))
    for n, r in sorted(results["endpoints"].items(), key=lambda kv: int(kv[0])):
        print("%-6s %8.2f %8.2f %6.2f %7.2f %8.2f %9.2f %8.2f %7.2f %6.2f %8.1f" % (
            n, r["floor_make_s"], r["make_s"], r["make_vs_floor"], r["make_per_endpoint_ms"], r["noop_s"],
            r["noop_module_s"], r["floor_teardown_s"], r["teardown_s"], r["teardown_vs_floor"],
            r["peak_rss_kib"] / 1024.0))
    print("times are whole module processes; (module) leaves out the %.2f s a module process takes "
          "to start (pyroute2 %s)" % (min(r["startup_s"] for r in results["endpoints"].values()),
                                      results["pyroute2"]["main"]))
    for n, r in sorted(results.get("endpoints_old_pyroute2", {}).items(), key=lambda kv: int(kv[0])):
        print("%-6s pyroute2 %s: bulk %.2f s (ratio %.2f), no-op %.2f s (module %.2f s), start-up %.2f s" % (
            n, results["pyroute2"]["old"], r["make_s"], r["make_vs_floor"], r["noop_s"], r["noop_module_s"],
            r["startup_s"]))
    print("What a user waits for: ansible-playbook runs less a play with no task (%.2f s); peers as their runtimes run them"
          % min(r["playbook"]["empty_play_s"] for r in results["endpoints"].values()))
    for n, r in sorted(results["endpoints"].items(), key=lambda kv: int(kv[0])):
        p = r["playbook"]
        print("%-6s floor %.2f s; one task: create %.2f s (%.2fx floor), no-op %.2f s, teardown %.2f s; network no-op %.2f s; "
              "a command task %.2f s" % (n, r["floor_make_s"], p["create_s"], p["create_s"] / r["floor_make_s"], p["noop_s"],
                                         p["teardown_s"], p["network_noop_s"], p["command_task_s"]))
        print("%-6s the bridge_network role: create %.2f s, no-op %.2f s, teardown %.2f s" % (
            n, p["role_create_s"], p["role_noop_s"], p["role_teardown_s"]))
        for kind, q in sorted(r["peers"].items()):
            if q:
                print("%-6s %-9s create %.2f s (%.2fx floor), teardown %.2f s" % (
                    n, kind, q["make_s"], q["make_s"] / r["floor_make_s"], q["teardown_s"]))
        print("%-6s no-op module process %.2f s: %s" % (n, p["noop_breakdown"]["module_process_s"], ", ".join(
            "%s %.2f" % (label, value) for label, value in p["noop_breakdown"].items() if label != "module_process_s")))
    for n, r in sorted(results["dataplane"].items(), key=lambda kv: int(kv[0])):
        print("%-6s published ports: connects/s %s" % (n, ", ".join(
            "%s %.0f (p50 %.0f us)" % (path, v["per_s"], v["p50_us"]) for path, v in sorted(r.items()))))
    for n, r in sorted(results["endpoints"].items(), key=lambda kv: int(kv[0])):
        print("%-6s dual-stack bulk %.2f s: %.2fx the IPv4-only bulk" % (n, r["dual_stack_make_s"], r["dual_stack_vs_ipv4"]))
        print("%-6s with routes, a default route metric and bandwidth: bulk %.2fx, no-op %.2fx, teardown %.2fx the same call "
              "without (the iproute2 floor: %.2fx to make, %.2fx to tear down)" % (
                  n, r["options_make_vs_plain"], r["options_noop_vs_plain"], r["options_teardown_vs_plain"],
                  r["options_floor_make_vs_plain"], r["options_floor_teardown_vs_plain"]))
    print("Ansible loop of single-endpoint tasks: %.0f ms per endpoint (%.0fx the bulk call at N=%s)" % (
        1000 * loop, max(r["loop_vs_bulk_per_endpoint"] for r in results["endpoints"].values()),
        max(results["endpoints"], key=int)))
    for what, label in (("overlay_peers", "remote endpoints in cnm_overlay_peer"),
                        ("service_backends", "backends of a service (cnm_service)")):
        for n, r in sorted(results[what].items(), key=lambda kv: int(kv[0])):
            print("%6s %-38s %6.2f s, floor %.3f s, ratio %.1f (less the %.2f s start-up: %.1f), no-op %.2f s" % (
                n, label, r["make_s"], r["floor_s"], r["make_vs_floor"], r["startup_s"], r["work_vs_floor"], r["noop_s"]))
    r = results["ipsec"]
    print("IPsec, %d peers: %d changes planned in %.3f s; %d policies in one ip -batch %.3f s, one process each "
          "%.2f s (%.0fx)" % (r["peers"], r["changes"], r["plan_s"], r["peers"], r["batch_s"], r["process_each_s"],
                              r["each_vs_batch"]))
    for label, rate in results["ipam_allocations_per_s"].items():
        print("IPAM %-42s %10.0f allocations/s" % (label, rate))
    print("ratio = cnm.fabric / iproute2 floor (below 1: faster); written to %s" % args.out)


if __name__ == "__main__":
    main()
