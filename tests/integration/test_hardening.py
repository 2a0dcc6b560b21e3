# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostile input and what the collection does not own: every case runs the real module against
the real kernel and compares the host (links, namespaces, files, rules, addresses) before and after."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest

NET = dict(name="pets", subnet="10.60.0.0/24")
NET6 = dict(name="pets6", subnet=["10.66.0.0/24", "fd00:66::/64"], ipv6=True)
ZONE = "fe80::1%lo"  # an IPv6 address with a zone id: Python's parser keeps all that follows the '%'
ETCD = dict(space="fleet", pool="p", backend="etcd")

BAD = [
    # IPv6 zone ids, everywhere an address or a subnet is taken.
    ("cnm_endpoint", dict(dns=[ZONE + "\nnameserver 6.6.6.6"]), "dns[0]", "zone id"),
    ("cnm_endpoint", dict(extra_hosts={"registry": ZONE + "\n6.6.6.6\tevil.example"}), "extra_hosts.registry",
     "zone id"),
    ("cnm_endpoint", dict(publish=[{"container_port": 80, "host_ip": ZONE}]), "publish[0].host_ip", "zone id"),
    ("cnm_endpoint", dict(ipv6_address="fd00:66::5%lo"), "ipv6_address", "zone id"),
    ("cnm_endpoint", dict(dns=["10.0.0.53\nnameserver 6.6.6.6"]), "dns[0]", "not a valid IP address"),
    ("cnm_network", dict(NET6, name="z1", bridge={"host_binding_ip": "fd00:66::1%lo"}), "bridge.host_binding_ip",
     "zone id"),
    ("cnm_network", dict(NET6, name="z2", subnet=["10.67.0.0/24", "fd00:67::/64"], aux_addresses={"r": "fd00:67::5%lo"}),
     "aux_addresses.r", "zone id"),
    ("cnm_network", dict(NET6, name="z3", subnet=["10.67.0.0/24", "fd00:67::/64"], gateway=["fd00:67::1%lo"]),
     "gateway", "zone id"),
    ("cnm_network", dict(name="z4", subnet=["10.67.0.0/24", "fd00:67::%lo/64"], ipv6=True), "subnet", "zone id"),
    ("cnm_ipam_pool", dict(pool="p", subnet="fd00:68::/64", gateway="fd00:68::1%lo"), "gateway", "zone id"),
    ("cnm_ipam_pool", dict(pool="p", subnet="fd00:68::/64", addresses=[{"owner": "a", "address": "fd00:68::5%lo"}]),
     "addresses[0].address", "zone id"),
    ("cnm_overlay_peer", dict(network="pets", peers=[{"vtep": "198.18.0.9", "endpoints": [
        {"name": "r", "ip": "10.60.0.9", "ip6": "fd00:60::9%lo"}]}]), "peers[0].endpoints[0].ip6", "zone id"),
    # Names that would change an nftables rule, a sysctl path or a hosts line.
    ("cnm_network", dict(name="q1", bridge={"name": 'acs"#q'}), "bridge.name", "not a valid interface name"),
    ("cnm_network", dict(name="q2", bridge={"name": "br{x}"}), "bridge.name", "not a valid interface name"),
    ("cnm_network", dict(name="q3", bridge={"name": "br;flush"}), "bridge.name", "not a valid interface name"),
    ("cnm_network", dict(name="q4", bridge={"name": "br$x"}), "bridge.name", "not a valid interface name"),
    ("cnm_network", dict(name="q5", bridge={"name": "all"}), "bridge.name", "reserved"),
    ("cnm_network", dict(name="q6", bridge={"name": "default"}), "bridge.name", "reserved"),
    ("cnm_network", dict(name="q7", driver="macvlan", macvlan={"parent": "lo"}), "macvlan.parent", "reserved"),
    ("cnm_network", dict(name="q8", driver="macvlan", macvlan={"parent": 'eth"0'}), "macvlan.parent",
     "not a valid interface name"),
    ("cnm_network", dict(name="q9", driver="overlay", subnet="10.69.0.0/24", overlay={
        "vni": 9, "underlay_interface": "eth#0"}), "overlay.underlay_interface", "not a valid interface name"),
    ("cnm_network", dict(name="pets\n"), "name", "not a valid name"),
    ("cnm_endpoint", dict(ifname="lo"), "ifname", "reserved"),
    ("cnm_endpoint", dict(ifname='e"th'), "ifname", "not a valid interface name"),
    ("cnm_endpoint", dict(name="web\n"), "name", "not a valid name"),
    # Host names: RFC 1123 in ASCII (and '_').
    ("cnm_endpoint", dict(aliases=["w\u00e9b"]), "aliases[0]", "xn--"),
    ("cnm_endpoint", dict(aliases=["web\u0661"]), "aliases[0]", "not a valid host name"),
    ("cnm_endpoint", dict(extra_hosts={"w\u00e9b": "10.0.0.7"}), "extra_hosts", "xn--"),
    ("cnm_endpoint", dict(dns_search=["exa\tmple.org"]), "dns_search[0]", "not a valid host name"),
    ("cnm_endpoint", dict(dns_options=["ndots:2\x07"]), "dns_options[0]", "not a resolver option"),
    # Sysctls: net.* keys of the sandbox or of the endpoint's own interface, one line each.
    ("cnm_endpoint", dict(sysctls={"kernel.core_pattern": "|/bin/sh"}), "sysctls", "not a net.* sysctl key"),
    ("cnm_endpoint", dict(sysctls={"net/../../kernel/core_pattern": "x"}), "sysctls", "not a net.* sysctl key"),
    ("cnm_endpoint", dict(sysctls={"net.ipv4.conf.eth1.rp_filter": 1}), "sysctls.net.ipv4.conf.eth1.rp_filter",
     "names the interface eth1"),
    ("cnm_endpoint", dict(sysctls={"net.core.IFNAME.x": 1}), "sysctls.net.core.IFNAME.x", "IFNAME stands for"),
    ("cnm_endpoint", dict(sysctls={"net.ipv4.ip_forward": "1\nnet.ipv4.x=1"}), "sysctls.net.ipv4.ip_forward",
     "not a sysctl value"),
    ("cnm_endpoint", dict(sysctls={"net.ipv4.ip_forward": [1]}), "sysctls.net.ipv4.ip_forward", "a number or a string"),
    ("cnm_endpoint", dict(sysctls={"net.ipv4.no_such_setting": 1}), "sysctls.net.ipv4.no_such_setting",
     "no sysctl net.ipv4.no_such_setting"),
    # Routes: a destination without host bits, a gateway on the endpoint's network, of its family.
    ("cnm_endpoint", dict(routes=[{"dst": "10.9.0.1/16"}]), "routes[0].dst", "has host bits set"),
    ("cnm_endpoint", dict(routes=[{"dst": "10.9.0.0/16", "gateway": "10.61.0.1"}]), "routes[0].gateway",
     "outside network 'pets'"),
    ("cnm_endpoint", dict(routes=[{"dst": "10.9.0.0/16", "gateway": "fd00:66::1"}]), "routes[0].gateway",
     "an IPv4 one is expected"),
    ("cnm_endpoint", dict(routes=[{"dst": "fd00:9::/64"}]), "routes[0].dst", "has no IPv6"),
    ("cnm_endpoint", dict(routes=[{"dst": "0.0.0.0/0", "gateway": "10.60.0.9"}]), "routes[0].dst",
     "default_route_metric"),
    ("cnm_endpoint", dict(routes=[{"dst": "10.9.0.0/16", "table": 255}]), "routes[0].table", "local table"),
    ("cnm_endpoint", dict(routes=[{"dst": "10.9.0.0/16", "metric": -1}]), "routes[0].metric", "out of range"),
    ("cnm_endpoint", dict(routes=[{"dst": "10.9.0.0/16"}, {"dst": "10.9.0.0/16", "gateway": "10.60.0.9"}]),
     "routes[1].dst", "by routes[0] already"),
    ("cnm_endpoint", dict(routes=[{"dst": "10.9.0.0/16\n10.8.0.0/16"}]), "routes[0].dst", "not a valid IP address"),
    ("cnm_endpoint", dict(default_route_metric=2 ** 32), "default_route_metric", "out of range"),
    # Bandwidth: rates and bursts with units, as tc writes them; a burst with its rate.
    ("cnm_endpoint", dict(bandwidth={"ingress_rate": 10000000}), "bandwidth.ingress_rate", "not a quantity with units"),
    ("cnm_endpoint", dict(bandwidth={"egress_rate": "10 furlongs"}), "bandwidth.egress_rate", "not a quantity with units"),
    ("cnm_endpoint", dict(bandwidth={"egress_burst": "32kb"}), "bandwidth.egress_burst", "without bandwidth.egress_rate"),
    ("cnm_endpoint", dict(bandwidth={"ingress_rate": "100gbit"}), "bandwidth.ingress_rate", "out of range"),
    ("cnm_endpoint", dict(bandwidth={"ingress_rate": "1mbit", "ingress_burst": "2gb"}), "bandwidth.ingress_burst",
     "out of range"),
    ("cnm_endpoint", dict(bandwidth={"ingress_rate": "1mbit", "ingress_burst": "1kb"}), "bandwidth.ingress_burst",
     "nothing would pass"),
    # The host's own namespace is no sandbox.

    ("cnm_endpoint", dict(sandbox=None, sandbox_path="/proc/self/ns/net"), "sandbox_path",
     "the host's own network namespace"),
    # VRFs: a name that is no interface name, a link that is no VRF, drivers and bridges that take none, and
    # on this kernel (no vrf module) the one a network would make: refused before anything is made.
    ("cnm_network", dict(NET, name="v1", subnet="10.69.0.0/24", vrf="red\nblue"), "vrf", "not a valid interface name"),
    ("cnm_network", dict(NET, name="v2", subnet="10.69.0.0/24", vrf="cnm-pets"), "vrf", "is not a VRF"),
    ("cnm_network", dict(name="v3", driver="overlay", subnet="10.69.0.0/24", overlay={"vni": 9}, vrf="red"), "vrf",
     "not supported by the overlay driver"),
    ("cnm_network", dict(name="v4", driver="null", vrf="red"), "vrf", "not supported by the null driver"),
    ("cnm_network", dict(NET, name="v5", subnet="10.69.0.0/24", vrf="red", bridge={"name": "cnm-pets", "adopt": True}),
     "vrf", "adopted bridge"),
    ("cnm_network", dict(NET, name="v6", subnet="10.69.0.0/24", vrf="red"), "vrf", "modprobe vrf"),
    ("cnm_network", dict(NET, vrf="red"), "vrf", "modprobe vrf"),
    # etcd options, refused before etcd is asked anything.
    ("cnm_ipam_pool", dict(ETCD, backend_options={"endpoints": ["http://127.0.0.1:2379/v3"]}),
     "backend_options.endpoints[0]", "has a path"),
    ("cnm_ipam_pool", dict(ETCD, backend_options={"endpoints": ["http://127.0.0.1:x"]}),
     "backend_options.endpoints[0]", "not a URL"),
    ("cnm_ipam_pool", dict(ETCD, backend_options={"endpoints": ["127.0.0.1:2379"]}),
     "backend_options.endpoints[0]", "not a URL"),
    ("cnm_ipam_pool", dict(ETCD, backend_options={"endpoints": ["http://u:pw@127.0.0.1:2379"]}),
     "backend_options.endpoints[0]", "a user name or password"),
    ("cnm_ipam_pool", dict(ETCD, backend_options={"cert": "/etc/cnm/client.pem"}), "backend_options.key",
     "is required with backend_options.cert"),
    ("cnm_ipam_pool", dict(ETCD, backend_options={"key": "/etc/cnm/client.key"}), "backend_options.cert",
     "is required with backend_options.key"),
]


@pytest.fixture
def pets(host):
    """A host with a bridge network and a dual-stack one, each with an endpoint."""
    host.ok("cnm_network", **NET)
    host.ok("cnm_network", **NET6)
    host.ok("cnm_endpoint", name="first", network="pets", sandbox=host.sb("first"))
    return host


@pytest.mark.parametrize("module,args,option,text", BAD, ids=["%s-%s-%d" % (b[0], b[2], i) for i, b in enumerate(BAD)])
def test_hostile_input_is_refused_naming_the_option(pets, module, args, option, text):
    host = pets
    args = dict(args)
    if module == "cnm_endpoint":
        args = dict(dict(name="a", network="pets6" if "ipv6_address" in args else "pets", sandbox=host.sb("S")), **args)
        args = dict((k, v) for k, v in args.items() if v is not None)
    before = host.snapshot()
    result = host.run(module, **args)
    assert result.get("failed"), result
    assert result.get("option") == option, result
    assert text in result["msg"], result
    assert "Traceback" not in result.get("module_stderr", ""), result
    assert host.snapshot() == before


def test_a_users_bridge_is_adopted_only_when_asked_and_never_deleted(host):
    br = host.prefix + "-br"
    host.sh(["ip", "link", "add", br, "mtu", "1400", "type", "bridge"])
    host.sh(["ip", "addr", "add", "192.0.2.1/24", "dev", br])
    args = dict(name="users", subnet="10.62.0.0/24", bridge={"name": br})
    host.ok("cnm_network", name="users", state="absent")  # the state_dir made
    before = host.snapshot()
    refused = host.run("cnm_network", **args)
    assert refused["failed"] and refused["option"] == "bridge.name" and "bridge.adopt: true" in refused["msg"]
    assert host.snapshot() == before

    args["bridge"]["adopt"] = True
    plan = host.ok("cnm_network", check=True, **args)
    assert plan["changed"] and plan["network"]["bridge"]["adopted"] is True
    assert host.snapshot() == before, "check mode changes nothing"
    made = host.converge("cnm_network", **args)
    assert made["network"]["bridge"]["adopted"] is True and made["network"]["mtu"] == 1400, "an adopted bridge keeps its MTU"
    addrs = host.sh(["ip", "-o", "-4", "addr", "show", "dev", br]).stdout
    assert "192.0.2.1/24" in addrs and "10.62.0.1/24" in addrs, addrs
    assert "mtu 1400" in host.sh(["ip", "link", "show", br]).stdout
    host.converge("cnm_endpoint", name="a", network="users", sandbox=host.sb("a"))
    assert host.ping(host.sb("a"), "10.62.0.1")
    host.converge("cnm_endpoint", name="a", network="users", state="absent")

    gone = host.converge("cnm_network", name="users", state="absent")
    assert gone["changes"][0] == "remove 10.62.0.1/24 from %s (an adopted bridge stays)" % br, gone
    assert not any(c.startswith("delete") for c in gone["changes"]), gone
    assert br in host.links(), "an adopted bridge is never deleted"
    addrs = host.sh(["ip", "-o", "-4", "addr", "show", "dev", br]).stdout
    assert "192.0.2.1/24" in addrs and "10.62.0.1" not in addrs, addrs


def test_another_state_dirs_bridge_is_not_taken(host, tmp_path):
    """A bridge name another state_dir's network holds is someone else's bridge too."""
    host.converge("cnm_network", name="mine", subnet="10.63.0.0/24", bridge={"name": host.prefix + "-m"})
    other = str(tmp_path / "other")
    before = host.snapshot()
    taken = host.run("cnm_network", name="theirs", subnet="10.63.1.0/24", bridge={"name": host.prefix + "-m"},
                     state_dir=other)
    assert taken["failed"] and taken["option"] == "bridge.name", taken
    assert host.snapshot() == before


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def _read(path):
    with open(path) as f:
        return f.read()


def test_a_users_sandbox_files_are_never_replaced_or_removed(host):
    sb = host.sb("own")
    subprocess.run(["ip", "netns", "add", sb], check=True)  # the user's namespace, with the user's resolv.conf
    resolv = "/etc/netns/%s/resolv.conf" % sb
    _write(resolv, "nameserver 192.0.2.53\n")
    host.converge("cnm_network", **NET)
    before = host.snapshot()
    refused = host.run("cnm_endpoint", name="a", network="pets", sandbox=sb)
    assert refused["failed"] and refused["option"] == "sandbox" and resolv in refused["msg"], refused
    assert "not written by cnm.fabric" in refused["msg"]
    assert host.snapshot() == before and _read(resolv) == "nameserver 192.0.2.53\n"

    # Joined without the user's file; one the user puts in its place later is never removed.
    os.unlink(resolv)
    host.converge("cnm_endpoint", name="a", network="pets", sandbox=sb)
    assert _read(resolv).startswith("# Written by cnm.fabric")
    _write(resolv, "nameserver 192.0.2.54\n")
    host.converge("cnm_endpoint", name="a", network="pets", state="absent")
    assert _read(resolv) == "nameserver 192.0.2.54\n"
    assert not os.path.exists("/etc/netns/%s/hosts" % sb), "the collection's own file goes"


def test_symbolic_links_are_refused_naming_the_path(host, tmp_path):
    host.converge("cnm_network", **NET)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    # /etc/netns/NAME a link: the files would be written into its target, and later removed from it.
    sb = host.sb("etc")
    os.makedirs("/etc/netns", exist_ok=True)
    os.symlink(str(elsewhere), "/etc/netns/" + sb)
    before = host.snapshot()
    result = host.run("cnm_endpoint", name="a", network="pets", sandbox=sb)
    assert result["failed"] and result["option"] == "sandbox" and "/etc/netns/%s is a symbolic link" % sb in result["msg"]
    assert host.snapshot() == before and os.listdir(str(elsewhere)) == []
    assert not os.path.exists("/run/netns/" + sb)

    # /run/netns/NAME a link: the namespace would be mounted over the link's target.
    sb = host.sb("run")
    target = tmp_path / "target"
    target.write_text("mine\n")
    os.symlink(str(target), "/run/netns/" + sb)
    try:
        before = host.snapshot()
        result = host.run("cnm_endpoint", name="b", network="pets", sandbox=sb)
        assert result["failed"] and result["option"] == "sandbox" and "is a symbolic link" in result["msg"], result
        assert host.snapshot() == before
        assert not os.path.ismount(str(target)) and target.read_text() == "mine\n"
    finally:
        os.unlink("/run/netns/" + sb)

    # state_dir/.lock a link: the collection would create its target.
    state_dir = tmp_path / "linked"
    state_dir.mkdir(mode=0o700)
    os.symlink(str(tmp_path / "created-by-nobody"), str(state_dir / ".lock"))
    result = host.run("cnm_network", name="x", state_dir=str(state_dir))
    assert result["failed"] and result["option"] == "state_dir" and "is a symbolic link" in result["msg"], result
    assert not os.path.lexists(str(tmp_path / "created-by-nobody"))
    assert os.listdir(str(state_dir)) == [".lock"]


def test_an_open_state_dir_is_made_private_with_a_warning(host, tmp_path):
    state_dir = tmp_path / "open"
    state_dir.mkdir()
    os.chmod(str(state_dir), 0o777)
    plan = host.ok("cnm_network", check=True, state_dir=str(state_dir), **NET)
    assert "mode 0777" in json.dumps(plan.get("warnings")), plan
    assert stat.S_IMODE(os.stat(str(state_dir)).st_mode) == 0o777, "check mode changes nothing"
    made = host.ok("cnm_network", state_dir=str(state_dir), **NET)
    assert "it was made 0700" in json.dumps(made.get("warnings")), made
    assert stat.S_IMODE(os.stat(str(state_dir)).st_mode) == 0o700
    again = host.ok("cnm_network", state_dir=str(state_dir), **NET)
    assert not again.get("warnings") and again["changed"] is False


def test_graph_labels_cannot_inject_attributes(host, tmp_path):
    """A sandbox given by a path holding quotes and backslashes: cnm_info's DOT keeps it a label."""
    sb = host.sb("g")
    subprocess.run(["ip", "netns", "add", sb], check=True)
    path = str(tmp_path) + '/ns" URL="javascript:alert(1)" x="\\'
    open(path, "w").close()
    subprocess.run(["mount", "--bind", "/run/netns/" + sb, path], check=True)
    try:
        host.converge("cnm_network", **NET)
        host.converge("cnm_endpoint", name="g", network="pets", sandbox_path=path)
        dot = host.ok("cnm_info", graph=True)["graph"]
        # make deps installs graphviz: the drawing is checked, never skipped.
        svg = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, check=False)
        assert svg.returncode == 0, svg.stderr
        assert "<a " not in svg.stdout and "xlink:href" not in svg.stdout, "no link was injected"
        assert "URL=&quot;javascript:alert(1)&quot;" in svg.stdout, "the path is shown as it is"
        assert 'URL="javascript' not in dot.replace('\\"', "")
        host.converge("cnm_endpoint", name="g", network="pets", state="absent")
    finally:
        subprocess.run(["umount", path], check=False)
