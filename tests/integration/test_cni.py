# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cni driver, with the reference plugins of Debian's containernetworking-plugins: ADD, CHECK and
DEL as a runtime runs them, addresses from the plugins' IPAM recorded for the hosts files, drift
repaired, a failing plugin leaving nothing, and a run killed between ADD and its record."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest

from test_bandwidth import near, transfer  # pylint: disable=import-error
from test_ipam_backends import etcd_url  # noqa: F401  pylint: disable=import-error,unused-import
from test_macvlan import ROUTER, wire  # pylint: disable=import-error
from test_restore import code_copy, restore  # pylint: disable=import-error

CNI = "/usr/lib/cni"

if not os.path.exists(os.path.join(CNI, "bridge")):
    pytest.skip("the CNI reference plugins are not installed (containernetworking-plugins)", allow_module_level=True)


def _bridge(host, subnet="10.89.0.0/24", **extra):
    """The reference bridge plugin with host-local addresses kept in the test's own directory."""
    return dict({"type": "bridge", "bridge": "cnip0", "isGateway": True,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]], "routes": [{"dst": "0.0.0.0/0"}],
                          "dataDir": os.path.join(host.tmp, "leases")}}, **extra)


def _leases(host, network):
    path = os.path.join(host.tmp, "leases", network)
    return sorted(f for f in os.listdir(path) if f[0].isdigit()) if os.path.isdir(path) else []


def _address(host, sb, ifname="eth0"):
    out = host.sh(["ip", "-o", "-4", "addr", "show", "dev", ifname], sb).stdout.split()
    return out[3].split("/")[0] if len(out) > 3 else None


def _cni(result):
    """The CNI commands a result's changes ran, without their details."""
    return [c.split(" (")[0] for c in result["changes"] if c.startswith("CNI ")]


def test_bridge_and_host_local(host):
    net = dict(name="plug", driver="cni", cni={"plugins": [_bridge(host)]})
    planned = host.ok("cnm_network", check=True, **net)
    assert planned["changed"] and "cnip0" not in host.links()
    made = host.converge("cnm_network", diff=True, **net)
    assert made["network"]["cni"] == {"cni_version": "1.0.0", "plugins": [_bridge(host)],
                                      "path": ["/usr/lib/cni", "/opt/cni/bin"], "ipam": "plugin"}, made
    assert made["network"]["ipv4"] is False and made["network"]["subnet"] is None

    a, b = host.sb("a"), host.sb("b")
    check = host.ok("cnm_endpoint", check=True, name="a", network="plug", sandbox=a, aliases=["web"])
    assert "CNI ADD of endpoint a (eth0 in %s) by bridge" % a in check["changes"], check
    assert a not in host.sh(["ip", "netns", "list"]).stdout and _leases(host, "plug") == []

    ea = host.converge("cnm_endpoint", name="a", network="plug", sandbox=a, aliases=["web"])["endpoint"]
    eb = host.converge("cnm_endpoint", diff=True, name="b", network="plug", sandbox=b)["endpoint"]
    assert ea["ipv4_address"] == _address(host, a) and ea["ipv4_address"].startswith("10.89.0.")
    assert ea["mac_address"] in host.sh(["ip", "link", "show", "eth0"], a).stdout
    attachment = ea["cni_attachment"]
    assert len(attachment["container_id"]) == 64 and attachment["config"]["name"] == "plug"
    assert attachment["result"]["ips"][0]["address"].startswith(ea["ipv4_address"] + "/")
    assert _leases(host, "plug") == sorted([ea["ipv4_address"], eb["ipv4_address"]])

    # Real packets: by name and alias (the hosts files), from the host through the plugin's gateway.
    assert host.ping(b, "a") and host.ping(b, "web") and host.ping(a, "b")
    assert host.ping(None, eb["ipv4_address"])
    assert "default via 10.89.0.1" in host.sh(["ip", "route"], a).stdout

    # Drift: the plugins' CHECK finds the address gone; cnm_info says so, the next run makes it again.
    host.sh(["ip", "addr", "flush", "dev", "eth0"], a)
    drift = host.ok("cnm_info")["drift"]
    assert [d["name"] for d in drift] == ["plug/a", "plug/a"], drift  # DEL, then ADD
    assert "CHECK failed" in drift[0]["problem"] and "10.89.0." in drift[0]["problem"], drift
    fixed = host.converge("cnm_endpoint", name="a", network="plug", sandbox=a, aliases=["web"])
    assert _cni(fixed) == ["CNI DEL of endpoint a", "CNI ADD of endpoint a"], fixed
    assert host.ping(b, "a") and host.ok("cnm_info")["drift"] == []

    # The sandbox gone (as after a reboot): made again, DEL first, so no address leaks.
    host.sh(["ip", "netns", "del", a])
    again = host.converge("cnm_endpoint", name="a", network="plug", sandbox=a, aliases=["web"])
    assert "its sandbox was made again" in " ".join(again["changes"]), again
    assert len(_leases(host, "plug")) == 2 and host.ping(b, "a")

    # The configuration changed: each endpoint made again with it (tuning sets a sysctl of its interface).
    tuning = {"type": "tuning", "sysctl": {"net.ipv4.conf.eth0.arp_notify": "1"}}
    tuned = dict(net, cni={"plugins": [_bridge(host), tuning]})
    changed = host.converge("cnm_network", **tuned)
    assert sum("the network's CNI configuration changed" in c for c in changed["changes"]) == 2, changed
    for sb in (a, b):
        assert host.sh(["sysctl", "-n", "net.ipv4.conf.eth0.arp_notify"], sb).stdout.strip() == "1"
    rerun = host.ok("cnm_endpoint", name="a", network="plug", sandbox=a, aliases=["web"])
    assert rerun["changed"] is False, rerun
    assert len(_leases(host, "plug")) == 2 and host.ping(a, "b")

    # Leaving: DEL gives the lease back, and the sandbox goes.
    gone = host.converge("cnm_endpoint", name="a", network="plug", sandbox=a, state="absent")
    assert gone["changes"][0].startswith("CNI DEL of endpoint a (eth0 in %s) by bridge+tuning" % a), gone
    assert _leases(host, "plug") == [host.ok("cnm_info")["endpoints"]["plug/b"]["ipv4_address"]] and a not in host.sh(["ip", "netns", "list"]).stdout
    host.converge("cnm_network", name="plug", state="absent", force=True)
    assert _leases(host, "plug") == [] and host.ok("cnm_info")["drift"] == []


def test_ptp(host):
    net = dict(name="p2p", driver="cni", cni={"cni_version": "0.4.0", "plugins": [
        {"type": "ptp", "ipam": {"type": "host-local", "subnet": "10.90.0.0/24", "dataDir": os.path.join(host.tmp, "leases")}}]})
    host.converge("cnm_network", **net)
    sb = host.sb("p")
    ep = host.converge("cnm_endpoint", name="p", network="p2p", sandbox=sb, ifname="net1")["endpoint"]
    assert ep["ifname"] == "net1" and ep["ipv4_address"] == _address(host, sb, "net1")
    assert ep["cni_attachment"]["result"]["cniVersion"] == "0.4.0"
    assert host.ping(None, ep["ipv4_address"]), "ptp routes the endpoint's address on the host"
    host.sh(["ip", "link", "del", "net1"], sb)
    assert host.ok("cnm_info")["drift"][0]["problem"].startswith("CNI DEL of endpoint p")
    host.converge("cnm_endpoint", name="p", network="p2p", sandbox=sb, ifname="net1")
    assert host.ping(None, _address(host, sb, "net1"))
    host.converge("cnm_endpoint", name="p", network="p2p", sandbox=sb, state="absent")
    assert _leases(host, "p2p") == []


def test_bad_configurations_are_refused_and_a_failing_plugin_leaves_nothing(host):
    os.makedirs(host.state_dir)
    open(os.path.join(host.state_dir, ".lock"), "w").close()  # a run takes the lock before it judges the host
    before = host.snapshot()
    for cni, option in (({"plugins": [{"type": "../../bin/sh"}]}, "cni.plugins[0].type"),
                        ({"plugins": [{"type": "bridge", "ipam": {"type": "x/y"}}]}, "cni.plugins[0].ipam.type"),
                        ({"plugins": [{"type": "nosuchplugin"}]}, "cni.plugins[0].type"),
                        ({"plugins": [{"type": "bridge", "name": "other"}]}, "cni.plugins[0].name"),
                        ({"plugins": [{"type": "bridge"}], "path": ["/usr/lib/cni:/tmp"]}, "cni.path[0]"),
                        ({"plugins": [{"type": "bridge"}], "path": ["relative"]}, "cni.path[0]"),
                        ({"plugins": []}, "cni.plugins")):
        failed = host.run("cnm_network", name="bad", driver="cni", cni=cni)
        assert failed.get("failed") and failed["msg"].startswith(option + ":"), (cni, failed)
    assert host.run("cnm_network", name="bad", driver="cni", mtu=1400,
                    cni={"plugins": [{"type": "bridge"}]})["msg"].startswith("mtu:")
    assert host.snapshot() == before

    # A configuration the plugin rejects only when it runs: a clear error naming plugin and endpoint,
    # the ADD undone by DEL (its veth and lease gone), no record, no sandbox.
    rejecting = _bridge(host)
    rejecting["ipam"] = dict(rejecting["ipam"], ranges="not a list")
    host.converge("cnm_network", name="bad", driver="cni", cni={"plugins": [rejecting]})
    sb = host.sb("x")
    failed = host.run("cnm_endpoint", name="x", network="bad", sandbox=sb)
    assert failed.get("failed") and failed["msg"].startswith("endpoint x of network bad: CNI plugin "), failed
    assert "ranges" in failed["msg"], failed
    assert "bad/x" not in host.ok("cnm_info")["endpoints"] and sb not in host.sh(["ip", "netns", "list"]).stdout
    assert _leases(host, "bad") == []
    host.converge("cnm_network", name="bad", state="absent")


def _test_plugin(host, name, text):
    """A plugin of the test's own, ``name`` in the test's plugin directory (made on first use), whose
    source is ``text``; returns the directory."""
    plugins = os.path.join(host.tmp, "plugins")
    os.makedirs(plugins, exist_ok=True)
    with open(os.path.join(plugins, name), "w") as f:
        f.write(text)
    os.chmod(os.path.join(plugins, name), stat.S_IRWXU)
    return plugins


def _killed_then_finished(host, network, field, changes, lease=None, reached=False):
    """A cnm_endpoint run killed by a plugin between an ADD and its record (the lease taken, the record
    with no result), then a run that finishes it with ``changes`` (DEL, then ADD), and the endpoint's
    removal: exactly one lease each time (``lease``, when given, the first), none at the end; with
    ``reached``, the host reaches the finished endpoint."""
    sb = host.sb("k")
    killed = host.start("cnm_endpoint", name="k", network=network, sandbox=sb)
    killed.communicate()
    assert killed.returncode == -9
    leases = _leases(host, network)
    assert len(leases) == 1 and lease in (None, leases[0]), leases  # the plugin's ADD ran
    with open(os.path.join(host.state_dir, "endpoints.json")) as f:
        record = json.load(f)[network + "/k"]
    assert record[field]["result"] is None and record["ipv4_address"] is None
    assert any("its last ADD did not finish" in d["problem"] for d in host.ok("cnm_info")["drift"])
    again = host.converge("cnm_endpoint", name="k", network=network, sandbox=sb)
    assert _cni(again) == changes, again
    assert _leases(host, network) == [again["endpoint"]["ipv4_address"]] == [_address(host, sb)]
    assert not reached or host.ping(None, again["endpoint"]["ipv4_address"])
    host.converge("cnm_endpoint", name="k", network=network, sandbox=sb, state="absent")
    assert _leases(host, network) == []


KILLER = r'''#!%s
"""A plugin of a chain that kills its runtime during its first ADD; otherwise it passes the result on."""
import json, os, signal, sys, time
conf = json.load(sys.stdin)
command = os.environ["CNI_COMMAND"]
if command == "VERSION":
    print(json.dumps({"cniVersion": "1.0.0", "supportedVersions": ["0.4.0", "1.0.0"]}))
elif command == "ADD":
    if not os.path.exists(conf["marker"]):
        open(conf["marker"], "w").close()
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(5)
    print(json.dumps(conf["prevResult"]))
'''


def test_a_run_killed_between_add_and_its_record(host):
    """The record is written before ADD and its result after: the next run finds no result, sends DEL,
    then ADD, so the first ADD's lease does not leak."""
    plugins = _test_plugin(host, "killer", KILLER % sys.executable)
    host.converge("cnm_network", name="k", driver="cni", cni={"path": [plugins, CNI], "plugins": [
        _bridge(host, "10.91.0.0/24"), {"type": "killer", "marker": os.path.join(host.tmp, "killed")}]})
    _killed_then_finished(host, "k", "cni_attachment", ["CNI DEL of endpoint k", "CNI ADD of endpoint k"], reached=True)


def test_a_rebooted_host_gets_its_attachments_back(host, tmp_path):
    """The restore unit makes the sandbox again and each attachment with it: DEL of what the ADD before
    the reboot made (its lease), then ADD."""
    launcher = code_copy(tmp_path)
    host.converge("cnm_network", name="plug", driver="cni", cni={"plugins": [_bridge(host)]})
    sb = host.sb("r")
    host.converge("cnm_endpoint", name="r", network="plug", sandbox=sb)
    host.reboot()
    done = restore(host, launcher)
    assert done.returncode == 0 and "CNI DEL of endpoint r" in done.stdout and "CNI ADD of endpoint r" in done.stdout, done
    address = _address(host, sb)
    assert _leases(host, "plug") == [address] and host.ping(None, address)
    assert host.ok("cnm_info")["drift"] == []


def test_macvlan_on_a_veth(host):
    """The macvlan plugin on a parent of the test's own, addresses from host-local: two endpoints
    reach each other by name on the parent's wire, and a neighbour on the wire reaches them."""
    router = wire(host)
    host.converge("cnm_network", name="mv", driver="cni", cni={"plugins": [
        {"type": "macvlan", "master": "trunk0", "mode": "bridge",
         "ipam": {"type": "host-local", "subnet": "10.70.0.0/24", "rangeStart": "10.70.0.10",
                  "dataDir": os.path.join(host.tmp, "leases")}}]})
    one, two = host.sb("m1"), host.sb("m2")
    host.converge("cnm_endpoint", network="mv", endpoints=[{"name": "m1", "sandbox": one}, {"name": "m2", "sandbox": two}])
    assert "macvlan" in host.sh(["ip", "-d", "link", "show", "eth0"], one).stdout
    assert host.ping(one, "m2") and host.ping(two, "m1")
    assert host.ping(router, _address(host, one))
    host.converge("cnm_endpoint", network="mv", endpoints=[], exclusive=True)
    assert _leases(host, "mv") == [] and one not in host.sh(["ip", "netns", "list"]).stdout


def test_the_collection_s_ipam(host):
    """cni.ipam: cnm: the network's pools (IPv4 and IPv6) give the addresses, handed to the bridge plugin
    as the static IPAM plugin's; given addresses are taken, changed in place, and given back."""
    plugins = [{"type": "bridge", "bridge": "cnip1", "isGateway": True}]
    net = dict(name="pooled", driver="cni", subnet=["10.93.0.0/24", "fd00:93::/64"], ipv6=True,
               cni={"ipam": "cnm", "plugins": plugins})
    made = host.converge("cnm_network", **net)["network"]
    assert (made["subnet"], made["gateway"], made["ipv6_gateway"]) == ("10.93.0.0/24", "10.93.0.1", "fd00:93::1")
    a, b = host.sb("a"), host.sb("b")
    eps = host.converge("cnm_endpoint", network="pooled", endpoints=[
        {"name": "a", "sandbox": a}, {"name": "b", "sandbox": b, "ipv4_address": "10.93.0.50"}])["endpoints"]
    assert [e["ipv4_address"] for e in eps] == ["10.93.0.2", "10.93.0.50"], eps
    assert eps[0]["ipv6_address"] == "fd00:93::2" and _address(host, a) == "10.93.0.2"
    ipam = eps[0]["cni_attachment"]["config"]["plugins"][0]["ipam"]
    assert ipam == {"type": "static", "addresses": [{"address": "10.93.0.2/24", "gateway": "10.93.0.1"},
                                                    {"address": "fd00:93::2/64", "gateway": "fd00:93::1"}],
                    "routes": [{"dst": "0.0.0.0/0", "gw": "10.93.0.1"}, {"dst": "::/0", "gw": "fd00:93::1"}]}, ipam
    assert host.ping(a, "10.93.0.50") and host.ping(None, "10.93.0.50")
    assert "default via 10.93.0.1" in host.sh(["ip", "route"], b).stdout
    assert "fd00:93::50/64" not in host.sh(["ip", "addr"], b).stdout and "fd00:93::3/64" in host.sh(["ip", "addr"], b).stdout
    with open("/etc/netns/%s/hosts" % a) as f:
        assert set(["10.93.0.50\tb", "fd00:93::3\tb"]) < set(f.read().splitlines())
    pools = host.ok("cnm_info")["pools"]["local"]
    assert sorted(pools["pooled"]["addresses"]) == ["a", "b"], pools

    # An address changed: the attachment is made again with it.
    moved = host.converge("cnm_endpoint", name="b", network="pooled", sandbox=b, ipv4_address="10.93.0.60")
    assert _cni(moved) == ["CNI DEL of endpoint b", "CNI ADD of endpoint b"] and _address(host, b) == "10.93.0.60"
    assert host.ping(a, "10.93.0.60")

    # Refused: the plugin's own IPAM beside the collection's, and addresses on a network of the plugins' IPAM.
    refused = host.run("cnm_network", **dict(net, cni={"ipam": "cnm", "plugins": [_bridge(host)]}))
    assert refused["msg"].startswith("cni.plugins[0].ipam:"), refused
    host.converge("cnm_network", name="theirs", driver="cni", cni={"plugins": [_bridge(host, "10.94.0.0/24")]})
    for option, value in (("ipv4_address", "10.94.0.9"), ("default_route", True)):
        refused = host.run("cnm_endpoint", name="c", network="theirs", sandbox=host.sb("c"), **{option: value})
        assert refused["msg"].startswith(option + ": needs a network with cni.ipam: cnm"), refused
    refused = host.run("cnm_network", name="theirs", driver="cni", subnet="10.94.0.0/24", cni={"plugins": [_bridge(host)]})
    assert refused["msg"] == "subnet: is not supported by the cni driver without cni.ipam: cnm", refused

    host.converge("cnm_endpoint", network="pooled", endpoints=[], exclusive=True)
    assert host.ok("cnm_info")["pools"]["local"]["pooled"].get("addresses") in (None, {})
    host.converge("cnm_network", name="pooled", state="absent")
    assert "pooled" not in host.ok("cnm_info")["pools"]["local"]


def test_a_chain_on_a_bridge_endpoint_bandwidth_and_tuning(host):
    """The reference bandwidth and tuning plugins chained onto an endpoint of the collection's bridge
    driver: given what its join made, measured by real transfers, made again with its link, DELeted
    when taken off (the bandwidth plugin's ifb gone)."""
    host.converge("cnm_network", name="lan", subnet="10.95.0.0/24")
    sb = host.sb("app")
    bandwidth = {"type": "bandwidth", "ingressRate": 20000000, "ingressBurst": 2000000,
                 "egressRate": 10000000, "egressBurst": 2000000}
    tuning = {"type": "tuning", "sysctl": {"net.ipv4.conf.eth0.arp_notify": "1"}}
    args = dict(name="app", network="lan", sandbox=sb, cni_chain={"plugins": [tuning, bandwidth]})
    planned = host.ok("cnm_endpoint", check=True, **args)
    assert "CNI ADD of endpoint app's chain (eth0 in %s) by tuning+bandwidth" % sb in planned["changes"], planned
    made = host.converge("cnm_endpoint", diff=True, **args)["endpoint"]
    veth, address = made["veth"]["host_interface"], made["ipv4_address"]
    attachment = made["cni_chain_attachment"]
    assert attachment["prev"]["interfaces"] == [{"name": veth}, {"name": "eth0", "sandbox": "/run/netns/" + sb,
                                                                 "mac": made["mac_address"]}], attachment
    assert attachment["prev"]["ips"] == [{"interface": 1, "address": address + "/24", "gateway": "10.95.0.1"}]
    assert host.sh(["sysctl", "-n", "net.ipv4.conf.eth0.arp_notify"], sb).stdout.strip() == "1"
    into, out = transfer(host, None, sb, address), transfer(host, sb, None, "10.95.0.1")
    assert near(into, 20e6), "into the sandbox: %.0f bit/s" % into
    assert near(out, 10e6), "out of it: %.0f bit/s" % out

    # Drift: the sysctl set back by hand; tuning's CHECK fails, the next run makes the chain again, with
    # its link (the bandwidth plugin's DEL leaves its qdiscs on the veth, whose redirect leads to the ifb
    # it deletes; its ADD would find them there). The bandwidth plugin's own CHECK of this release finds
    # nothing wrong with its qdiscs gone.
    host.sh(["sysctl", "-w", "net.ipv4.conf.eth0.arp_notify=0"], sb)
    drift = host.ok("cnm_info")["drift"]
    assert drift and "CHECK failed: CNI plugin tuning failed CHECK" in drift[0]["problem"], drift
    fixed = host.converge("cnm_endpoint", **args)
    assert _cni(fixed) == ["CNI DEL of endpoint app's chain", "CNI ADD of endpoint app's chain"], fixed
    assert any(c.startswith("create veth") for c in fixed["changes"]), fixed
    veth = fixed["endpoint"]["veth"]["host_interface"]
    assert host.sh(["sysctl", "-n", "net.ipv4.conf.eth0.arp_notify"], sb).stdout.strip() == "1"
    assert near(transfer(host, None, sb, address), 20e6) and host.ok("cnm_info")["drift"] == []

    # The veth made again: so is the chain (the bandwidth plugin's qdiscs went with the old veth).
    host.sh(["ip", "link", "del", veth])
    again = host.converge("cnm_endpoint", **args)
    assert "its link was made again" in " ".join(again["changes"]), again
    veth = again["endpoint"]["veth"]["host_interface"]
    assert near(transfer(host, None, sb, address), 20e6)

    # Taken off: DEL, and the ifb the bandwidth plugin made goes with it.
    ifbs = [link for link in host.links() if link.startswith("bwp")]
    assert len(ifbs) == 1, host.links()
    off = host.converge("cnm_endpoint", name="app", network="lan", sandbox=sb)
    assert _cni(off) == ["CNI DEL of endpoint app's chain"] and off["endpoint"]["cni_chain_attachment"] is None, off
    assert not [link for link in host.links() if link.startswith("bwp")] and transfer(host, sb, None, "10.95.0.1") > 100e6

    # On again, then the endpoint leaves with its sandbox: DEL first.
    host.converge("cnm_endpoint", **args)
    gone = host.converge("cnm_endpoint", name="app", network="lan", state="absent")
    assert gone["changes"][0].startswith("CNI DEL of endpoint app's chain"), gone
    assert not [link for link in host.links() if link.startswith("bwp")]

    # Refused before any change: a plugin not on the path, and a chain on a cni network.
    refused = host.run("cnm_endpoint", **dict(args, cni_chain={"plugins": [{"type": "nosuch"}]}))
    assert refused["msg"].startswith("cni_chain.plugins[0].type: no plugin nosuch"), refused
    host.converge("cnm_network", name="plug", driver="cni", cni={"plugins": [_bridge(host)]})
    refused = host.run("cnm_endpoint", name="x", network="plug", sandbox=host.sb("x"), cni_chain={"plugins": [tuning]})
    assert refused["msg"].startswith("cni_chain: is for endpoints of the collection's drivers"), refused


def test_the_collection_s_ipam_from_a_fleet_pool_in_etcd(make_host, etcd_url):
    """cni.ipam: cnm across two hosts, the subnet and the addresses allocated once in etcd
    (cnm_ipam_pool), as the overlay role allocates its own: no address is handed out twice."""
    hosts = [make_host("h1"), make_host("h2")]
    opts = {"endpoints": [etcd_url], "prefix": "/cnm-cni-%d" % os.getpid()}
    pool = hosts[0].converge("cnm_ipam_pool", space="fleet", pool="plugged", outside=True, backend="etcd",
                             backend_options=opts, address_pools=[{"base": "10.97.0.0/16", "size": 24}],
                             addresses=[{"owner": "h1.web"}, {"owner": "h2.web"}, {"owner": "h2.db"}])
    subnet, addresses = pool["pool"]["subnet"], pool["addresses"]
    assert len(set(addresses.values())) == 3
    for k, host in enumerate(hosts, 1):
        host.converge("cnm_network", name="plugged", driver="cni", subnet=subnet,
                      cni={"ipam": "cnm", "plugins": [{"type": "bridge", "bridge": "cnif0", "isGateway": True}]})
        mine = sorted(owner.split(".")[1] for owner in addresses if owner.startswith("h%d." % k))
        made = host.converge("cnm_endpoint", network="plugged", endpoints=[
            {"name": name, "sandbox": host.sb(name), "ipv4_address": addresses["h%d.%s" % (k, name)]} for name in mine])
        for name, endpoint in zip(mine, made["endpoints"]):
            assert endpoint["ipv4_address"] == addresses["h%d.%s" % (k, name)] == _address(host, host.sb(name))
    assert hosts[1].ping(hosts[1].sb("web"), addresses["h2.db"]) and hosts[0].ping(None, addresses["h1.web"])


def _dhcp(host, router):
    """dnsmasq serving 10.70.0.100-150 on the wire, with the router as the gateway, and the dhcp plugin's
    daemon; returns the daemon's socket."""
    tmp = host.tmp
    server = subprocess.Popen(host.enter(router) + [
        "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--interface=wire0", "--bind-interfaces",
        "--dhcp-range=10.70.0.100,10.70.0.150,255.255.255.0,1h", "--dhcp-option=3," + ROUTER,
        "--dhcp-leasefile=" + os.path.join(tmp, "dnsmasq.leases"), "--pid-file=" + os.path.join(tmp, "dnsmasq.pid")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket_path = os.path.join(tmp, "dhcp.sock")
    daemon = subprocess.Popen(host.enter() + [os.path.join(CNI, "dhcp"), "daemon", "-socketpath", socket_path],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    host._procs += [server, daemon]  # pylint: disable=protected-access  # stopped by the host's cleanup
    for _attempt in range(100):
        if os.path.exists(socket_path):
            break
        time.sleep(0.05)
    return socket_path


def _served(host, address):
    with open(os.path.join(host.tmp, "dnsmasq.leases")) as f:
        return address in f.read()


def test_addresses_from_a_dhcp_server_on_the_wire(host):
    """A macvlan network whose addresses come from the site's DHCP server (dnsmasq on the parent's wire),
    through the reference dhcp IPAM plugin and its daemon: what Docker's macvlan driver cannot do."""
    router = wire(host)
    socket_path = _dhcp(host, router)
    host.converge("cnm_network", name="site", driver="cni", cni={"plugins": [
        {"type": "macvlan", "master": "trunk0", "ipam": {"type": "dhcp", "daemonSocketPath": socket_path}}]})
    sb = host.sb("d")
    made = host.converge("cnm_endpoint", name="d", network="site", sandbox=sb)["endpoint"]
    address = made["ipv4_address"]
    assert address and 100 <= int(address.split(".")[3]) <= 150 and address == _address(host, sb), made
    assert "default via %s" % ROUTER in host.sh(["ip", "route"], sb).stdout
    assert host.ping(sb, ROUTER) and host.ping(router, address) and _served(host, address)
    # DEL tells the daemon to release the lease; the daemon sends the release after DEL has returned,
    # by when the plugin may have deleted the link: whether the server still holds it is not asserted.
    gone = host.converge("cnm_endpoint", name="d", network="site", sandbox=sb, state="absent")
    assert _cni(gone) == ["CNI DEL of endpoint d"] and sb not in host.sh(["ip", "netns", "list"]).stdout, gone


def test_the_collection_s_macvlan_with_a_cni_ipam_plugin(host):
    """cni_ipam: the collection's macvlan driver makes the links and the reference dhcp plugin gives them
    addresses from the DHCP server on the wire, and default routes through the router it names; an
    endpoint that gives no default route gets none; an address taken off is put back."""
    router = wire(host)
    socket_path = _dhcp(host, router)
    net = dict(name="site", driver="macvlan", macvlan={"parent": "trunk0"},
               cni_ipam={"plugin": {"type": "dhcp", "daemonSocketPath": socket_path}})
    made = host.converge("cnm_network", **net)["network"]
    assert made["cni_ipam"] == {"plugin": {"type": "dhcp", "daemonSocketPath": socket_path}, "cni_version": "1.0.0",
                                "path": ["/usr/lib/cni", "/opt/cni/bin"]} and made["subnet"] is None, made
    one, two = host.sb("v1"), host.sb("v2")
    eps = dict(network="site", endpoints=[{"name": "v1", "sandbox": one, "aliases": ["web"]},
                                          {"name": "v2", "sandbox": two, "default_route": False}])
    planned = host.ok("cnm_endpoint", check=True, diff=True, **eps)
    assert planned["changed"] and one not in host.sh(["ip", "netns", "list"]).stdout
    done = host.converge("cnm_endpoint", **eps)  # and again: nothing to change
    first, second = done["endpoints"]
    for endpoint, sb in ((first, one), (second, two)):
        address = endpoint["ipv4_address"]
        assert address and 100 <= int(address.split(".")[3]) <= 150 and address == _address(host, sb), endpoint
        assert endpoint["cni_ipam_attachment"]["result"]["ips"][0]["address"] == address + "/24" and _served(host, address)
        assert "macvlan" in host.sh(["ip", "-d", "link", "show", "eth0"], sb).stdout
    assert "default via %s" % ROUTER in host.sh(["ip", "route"], one).stdout
    assert "default" not in host.sh(["ip", "route"], two).stdout
    assert host.ping(one, ROUTER) and host.ping(router, first["ipv4_address"]) and host.ping(two, "web")
    assert host.ok("cnm_info")["drift"] == []
    # The lease taken off the link behind the collection's back: put back, from the recorded result.
    host.sh(["ip", "addr", "flush", "dev", "eth0"], one)
    drift = host.ok("cnm_info")["drift"]
    assert drift and all(d["kind"] == "endpoint" and d["name"] == "site/v1" for d in drift), drift
    assert any(first["ipv4_address"] in d["problem"] for d in drift), drift
    mended = host.converge("cnm_endpoint", **eps)
    assert mended["changed"] and _address(host, one) == first["ipv4_address"], mended
    # Refused before anything changes, naming the option.
    v3 = dict(name="v3", network="site", sandbox=host.sb("v3"))
    _refused(host, "cnm_endpoint", "ipv4_address", dict(v3, ipv4_address="10.70.0.9"))
    _refused(host, "cnm_endpoint", "routes", dict(v3, routes=[{"dst": "10.9.0.0/16", "gateway": ROUTER}]))
    other = dict(net, name="other")
    for extra, option in ((dict(subnet="10.70.0.0/24"), "subnet"), (dict(cni_ipam={"plugin": {"type": "../dhcp"}}), "cni_ipam.plugin.type"),
                          (dict(cni_ipam={"plugin": {"type": "nowhere"}}), "cni_ipam.plugin.type"),
                          (dict(macvlan={"parent": "trunk0", "host_access": True}), "macvlan.host_access")):
        _refused(host, "cnm_network", option, dict(other, **extra))
    _refused(host, "cnm_network", "cni_ipam", dict(name="b", cni_ipam=net["cni_ipam"]))  # a bridge network
    _refused(host, "cnm_network", "cni_ipam", dict(net, cni_ipam=None, subnet="10.70.0.0/24"))  # has endpoints
    assert "other" not in host.ok("cnm_info")["networks"] and v3["sandbox"] not in host.sh(["ip", "netns", "list"]).stdout
    host.converge("cnm_endpoint", network="site", endpoints=[], exclusive=True)
    assert one not in host.sh(["ip", "netns", "list"]).stdout and host.ok("cnm_info")["drift"] == []


def _refused(host, module, option, args):
    failed = host.run(module, **args)
    assert failed.get("failed") and failed["msg"].startswith(option + ":"), (args, failed)


def test_the_collection_s_macvlan_with_host_local(host):
    """cni_ipam with host-local: leases in the test's directory, taken at ADD and given back at DEL, and a
    configuration changed in place makes each attachment again (DEL, then ADD)."""
    wire(host)
    leases = os.path.join(host.tmp, "leases")
    plugin = {"type": "host-local", "ranges": [[{"subnet": "10.70.0.0/24", "rangeStart": "10.70.0.20", "gateway": ROUTER}]],
              "routes": [{"dst": "0.0.0.0/0"}, {"dst": "10.9.0.0/16"}], "dataDir": leases}
    net = dict(name="hl", driver="macvlan", macvlan={"parent": "trunk0"}, cni_ipam={"plugin": plugin})
    host.converge("cnm_network", **net)
    sb = host.sb("h")
    made = host.converge("cnm_endpoint", name="h", network="hl", sandbox=sb)["endpoint"]
    assert made["ipv4_address"] == "10.70.0.20" == _address(host, sb) and _leases(host, "hl") == ["10.70.0.20"], made
    routes = host.sh(["ip", "route"], sb).stdout
    assert "default via %s" % ROUTER in routes and "10.9.0.0/16 via %s" % ROUTER in routes, routes
    changed = dict(plugin, ranges=[[{"subnet": "10.70.0.0/24", "rangeStart": "10.70.0.40", "gateway": ROUTER}]])
    host.converge("cnm_network", **dict(net, cni_ipam={"plugin": changed}))
    again = host.converge("cnm_endpoint", name="h", network="hl", sandbox=sb)
    assert _cni(again) == ["CNI DEL of endpoint h's addresses", "CNI ADD of endpoint h's addresses"], again
    assert _address(host, sb) == again["endpoint"]["ipv4_address"] == "10.70.0.40" and _leases(host, "hl") == ["10.70.0.40"]
    # Its sandbox gone (as after a reboot): made again, and the attachment with it (DEL, then ADD).
    host.sh(["ip", "netns", "del", sb])
    back = host.converge("cnm_endpoint", name="h", network="hl", sandbox=sb)
    assert _cni(back) == ["CNI DEL of endpoint h's addresses", "CNI ADD of endpoint h's addresses"], back
    assert _leases(host, "hl") == [back["endpoint"]["ipv4_address"]] == [_address(host, sb)]
    host.converge("cnm_endpoint", name="h", network="hl", sandbox=sb, state="absent")
    assert _leases(host, "hl") == []


KILLING_IPAM = r'''#!%s
"""host-local, but the first ADD kills its runtime once host-local has taken the lease."""
import json, os, signal, subprocess, sys, time
data = sys.stdin.read()
done = subprocess.run(["%s"], input=data, capture_output=True, text=True)
sys.stdout.write(done.stdout)
marker = (json.loads(data).get("ipam") or {}).get("marker")
if os.environ["CNI_COMMAND"] == "ADD" and done.returncode == 0 and not os.path.exists(marker):
    open(marker, "w").close()
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(5)
sys.exit(done.returncode)
'''


def test_a_run_killed_between_an_ipam_add_and_its_record(host):
    """cni_ipam's attachment is recorded before its ADD and its result after: the next run finds no
    result, sends DEL, then ADD, so the first ADD's lease does not leak."""
    wire(host)
    plugins = _test_plugin(host, "killing-ipam", KILLING_IPAM % (sys.executable, os.path.join(CNI, "host-local")))
    plugin = {"type": "killing-ipam", "ranges": [[{"subnet": "10.70.0.0/24", "rangeStart": "10.70.0.60"}]],
              "dataDir": os.path.join(host.tmp, "leases"), "marker": os.path.join(host.tmp, "killed")}
    host.converge("cnm_network", name="hk", driver="macvlan", macvlan={"parent": "trunk0"},
                  cni_ipam={"plugin": plugin, "path": [plugins, CNI]})
    _killed_then_finished(host, "hk", "cni_ipam_attachment",
                          ["CNI DEL of endpoint k's addresses", "CNI ADD of endpoint k's addresses"], lease="10.70.0.60")


SPEC_1_1 = r'''#!%s
"""A plugin of CNI 1.1.0, named after a reference plugin with "11" after its name (bridge11,
host-local11), which it runs at 1.0.0 for ADD, CHECK and DEL; STATUS fails while the configuration's
"down" file exists; GC frees host-local's leases of every attachment but the valid ones, and logs
the valid ones."""
import json, os, subprocess, sys
conf = json.load(sys.stdin)
command = os.environ["CNI_COMMAND"]
if command == "VERSION":
    print(json.dumps({"cniVersion": "1.1.0", "supportedVersions": ["1.0.0", "1.1.0"]}))
elif command == "STATUS":
    if os.path.exists(conf["down"]):
        print(json.dumps({"cniVersion": "1.1.0", "code": 50, "msg": "the uplink is down"}))
        sys.exit(1)
elif command == "GC":
    valid = conf["cni.dev/valid-attachments"]
    with open(conf["down"] + ".gc", "a") as f:
        f.write(json.dumps(valid) + "\n")
    keep = set(a["containerID"] for a in valid)
    leases = os.path.join(conf["ipam"]["dataDir"], conf["name"])
    for name in os.listdir(leases):
        if name[0].isdigit():
            with open(os.path.join(leases, name)) as f:
                owner = f.read().split()[0]
            if owner not in keep:
                os.unlink(os.path.join(leases, name))
else:
    inner = dict(conf, cniVersion="1.0.0", type=conf["type"][:-2])
    inner["ipam"] = dict(conf["ipam"], type=conf["ipam"]["type"][:-2])
    done = subprocess.run([os.path.join("%s", inner["type"])], input=json.dumps(inner), capture_output=True, text=True)
    sys.stdout.write(done.stdout)
    sys.exit(done.returncode)
'''


def test_cni_1_1_status_before_add_and_gc_from_prune(host):
    """At CNI 1.1.0: STATUS before each ADD (a plugin that cannot take one fails the endpoint, naming it,
    with nothing made), and cnm_prune's GC, given the endpoints as the valid attachments, frees a lease
    left by an attachment the collection does not hold."""
    plugins = _test_plugin(host, "bridge11", SPEC_1_1 % (sys.executable, CNI))
    os.symlink("bridge11", os.path.join(plugins, "host-local11"))
    down = os.path.join(host.tmp, "down")
    plugin = _bridge(host, "10.92.0.0/24", type="bridge11", down=down)
    plugin["ipam"]["type"] = "host-local11"
    net = dict(name="v11", driver="cni", cni={"cni_version": "1.1.0", "path": [plugins, CNI], "plugins": [plugin]})
    host.converge("cnm_network", **net)
    one, two = host.sb("a"), host.sb("b")
    open(down, "w").close()
    failed = host.run("cnm_endpoint", name="a", network="v11", sandbox=one)
    assert failed.get("failed") and "CNI plugin bridge11 failed STATUS (code 50): the uplink is down" in failed["msg"], failed
    assert failed["msg"].startswith("endpoint a of network v11: not ready for an ADD"), failed
    assert _leases(host, "v11") == [] and one not in host.sh(["ip", "netns", "list"]).stdout
    os.unlink(down)
    made = host.converge("cnm_endpoint", network="v11", endpoints=[{"name": "a", "sandbox": one}, {"name": "b", "sandbox": two}])
    ours = sorted(ep["ipv4_address"] for ep in made["endpoints"])
    assert host.ping(one, "b") and _leases(host, "v11") == ours
    # An attachment made by hand, as a runtime that died would leave it: its lease is GC's to free.
    stray = subprocess.run(host.enter() + [os.path.join(plugins, "bridge11")], input=json.dumps(dict(
        plugin, name="v11", cniVersion="1.1.0")), capture_output=True, text=True,
        env=dict(os.environ, CNI_COMMAND="ADD", CNI_CONTAINERID="stray", CNI_NETNS="/run/netns/" + two, CNI_IFNAME="eth9",
                 CNI_PATH=CNI), check=True)
    assert len(_leases(host, "v11")) == 3, stray.stdout
    assert host.ok("cnm_prune")["cni_gc"] == [] and len(_leases(host, "v11")) == 3  # GC only when asked
    planned = host.ok("cnm_prune", check=True, cni_gc=True)
    assert planned["cni_gc"] == ["v11"] and len(_leases(host, "v11")) == 3
    pruned = host.ok("cnm_prune", cni_gc=True)
    assert pruned["cni_gc"] == ["v11"] and not pruned["changed"] and _leases(host, "v11") == ours, pruned
    with open(down + ".gc") as f:
        sent = json.loads(f.read().splitlines()[-1])
    ids = dict((ep["name"], ep["cni_attachment"]["container_id"]) for ep in made["endpoints"])
    assert sorted(sent, key=lambda a: a["ifname"] + a["containerID"]) == sorted(
        [{"containerID": ids["a"], "ifname": "eth0"}, {"containerID": ids["b"], "ifname": "eth0"}],
        key=lambda a: a["ifname"] + a["containerID"]), sent
    host.converge("cnm_endpoint", network="v11", endpoints=[], exclusive=True)
    assert _leases(host, "v11") == []
