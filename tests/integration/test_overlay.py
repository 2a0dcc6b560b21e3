# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Overlay networks between two hosts (two namespaces joined by an underlay link),
checked with real packets: by name across hosts, VXLAN on the wire, NAT to the outside."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.cnm.fabric.plugins.module_utils import firewall, migrate
from helpers import UNDERLAY, peers  # pylint: disable=import-error

SNIFF = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools", "vxlan_sniff.py")
NET = dict(name="fab", driver="overlay", subnet="10.99.0.0/24", overlay={"vni": 4242})


def sniffed(host, ns, *command):
    """Run ``command`` in sandbox ``ns`` while watching the host's underlay: what the sniffer saw."""
    out = host.sh([sys.executable, SNIFF, "ul0", "--"] + host.enter(ns) + list(command))
    return json.loads(out.stdout)


def test_overlay_across_hosts(pair):
    h1, h2 = pair
    web, db = h1.sb("web"), h2.sb("db")
    before = h1.snapshot()
    plan = h1.ok("cnm_network", check=True, **NET)
    assert plan["changed"] and h1.snapshot() == before, "check mode must create nothing"
    net1 = h1.converge("cnm_network", **NET)["network"]
    net2 = h2.converge("cnm_network", overlay={"vni": 4242, "local_ip": UNDERLAY["h2"]},
                       **dict((k, v) for k, v in NET.items() if k != "overlay"))["network"]
    assert net1 == dict(plan["network"]), "check mode reports what a real run makes"
    overlay1 = net1["overlay"]
    assert (overlay1["local_ip"], overlay1["underlay_interface"], net1["mtu"]) == (UNDERLAY["h1"], "ul0", 1450)
    assert net2["overlay"]["local_ip"] == UNDERLAY["h2"] and net1["gateway"] == net2["gateway"] == "10.99.0.1"
    assert set(net1) >= {"bridge", "overlay"} and "macvlan" not in net1 and "vni" not in net1, "grouped by part"
    vx = overlay1["vxlan_interface"]
    details = h1.sh(["ip", "-d", "link", "show", vx]).stdout
    for word in ("vxlan id 4242", "local 198.18.0.1", "dev ul0", "dstport 4789", "nolearning", "proxy",
                 "mtu 1450", "master " + net1["bridge"]["interface"]):
        assert word in details, (word, details)

    h1.converge("cnm_endpoint", name="web", network="fab", sandbox=web, ipv4_address="10.99.0.2",
                publish=[{"host_port": 8081, "container_port": 7002}])
    h2.converge("cnm_endpoint", name="db", network="fab", sandbox=db, ipv4_address="10.99.0.3",
                aliases=["database"])
    db_peer = peers({"name": "db", "ip": "10.99.0.3", "aliases": ["database"]}, vtep=UNDERLAY["h2"])
    before = h1.snapshot()
    fdb_before = h1.sh(["bridge", "fdb", "show", "dev", vx]).stdout
    planned = h1.ok("cnm_overlay_peer", network="fab", peers=db_peer, check=True, diff=True)
    assert planned["changed"] and planned["changes"] == [
        "add 00:00:00:00:00:00 -> 198.18.0.2 to %s" % vx, "add 02:42:0a:63:00:03 -> 198.18.0.2 to %s" % vx,
        "add neighbour 10.99.0.3 -> 02:42:0a:63:00:03 to %s" % vx, "write /etc/netns/%s/hosts" % web], planned
    assert h1.snapshot() == before and h1.sh(["bridge", "fdb", "show", "dev", vx]).stdout == fdb_before
    made = h1.converge("cnm_overlay_peer", network="fab", peers=db_peer, diff=True)
    assert made["changes"] == planned["changes"]
    assert made["diff"]["before"] == {} and made["peers"] == {UNDERLAY["h2"]: [
        {"name": "db", "ip": "10.99.0.3", "mac": "02:42:0a:63:00:03", "aliases": ["database"]}]}
    web_peer = peers({"name": "web", "ip": "10.99.0.2"}, vtep=UNDERLAY["h1"])
    h2.converge("cnm_overlay_peer", network="fab", peers=web_peer)
    fdb = h1.sh(["bridge", "fdb", "show", "dev", vx]).stdout
    assert "00:00:00:00:00:00 dst 198.18.0.2 self permanent" in fdb
    assert "02:42:0a:63:00:03 dst 198.18.0.2 self permanent" in fdb
    assert "10.99.0.3 lladdr 02:42:0a:63:00:03 PERMANENT" in h1.sh(["ip", "neigh", "show", "dev", vx]).stdout
    with open("/etc/netns/%s/hosts" % web) as f:
        assert "10.99.0.3\tdb database\n" in f.read()

    # web reaches db by name, across hosts, and the underlay carries it as VXLAN.
    h2.serve(db, 7000, "PEER")
    seen = sniffed(h1, web, *h1.client("database", 7000))
    assert seen["output"] == "10.99.0.2", "db sees web's own address: no NAT inside the overlay"
    assert seen["vxlan"] > 0 and [4242, "10.99.0.2", "10.99.0.3", 6] in seen["inner"], seen
    assert h1.ping(web, "db")

    # The outside (here: the other host's underlay address) through web's own host, masqueraded.
    h2.serve(None, 7001, "PEER")
    assert h1.fetch(web, UNDERLAY["h2"], 7001) == UNDERLAY["h1"]
    # A published port answers on the underlay address of the host that runs the endpoint.
    h1.serve(web, 7002, "web")
    assert h2.fetch(None, UNDERLAY["h1"], 8081) == "web"

    # Drift: an entry removed by hand is reported, and the next run puts it back.
    assert h1.ok("cnm_info")["drift"] == []
    h1.sh(["ip", "neigh", "del", "10.99.0.3", "dev", vx])
    drift = h1.ok("cnm_info")["drift"]
    assert drift == [{"kind": "network", "name": "fab", "problem": "add neighbour 10.99.0.3 -> 02:42:0a:63:00:03 to %s"
                      % vx}], drift
    assert h1.converge("cnm_overlay_peer", network="fab", peers=db_peer)["changes"] == [
        "add neighbour 10.99.0.3 -> 02:42:0a:63:00:03 to %s" % vx]

    # Drift: the VXLAN device is deleted behind our back; cnm_network makes it and its entries again.
    h1.sh(["ip", "link", "del", vx])
    assert any(d["problem"].startswith("create VXLAN %s" % vx) for d in h1.ok("cnm_info")["drift"])
    repaired = h1.converge("cnm_network", **NET)
    assert any(c.startswith("create VXLAN") for c in repaired["changes"])
    assert any(c.startswith("add neighbour 10.99.0.3") for c in repaired["changes"])
    assert h1.fetch(web, "db", 7000) == "10.99.0.2"

    # A host that left: exclusive drops its entries and its names.
    gone = h1.converge("cnm_overlay_peer", network="fab", peers=[], exclusive=True)
    assert gone["peers"] == {} and gone["changes"] == [
        "remove 00:00:00:00:00:00 -> 198.18.0.2 from %s" % vx, "remove 02:42:0a:63:00:03 -> 198.18.0.2 from %s" % vx,
        "remove neighbour 10.99.0.3 from %s" % vx, "write /etc/netns/%s/hosts" % web], gone
    assert h1.sh(["bridge", "fdb", "show", "dev", vx]).stdout.count("dst") == 0
    with open("/etc/netns/%s/hosts" % web) as f:
        assert "\tdb" not in f.read()
    assert not h1.ping(web, "10.99.0.3")

    # Teardown: endpoints, then the network and its VXLAN device.
    h1.converge("cnm_endpoint", name="web", network="fab", state="absent")
    h1.converge("cnm_network", name="fab", state="absent")
    assert vx not in h1.links() and net1["bridge"]["interface"] not in h1.links()
    h2.converge("cnm_network", name="fab", state="absent", force=True)
    assert h2.links() == ["lo", "ul0"]


def test_overlay_peer_absent_and_updates(pair):
    h1, _h2 = pair
    vx = h1.converge("cnm_network", **NET)["network"]["overlay"]["vxlan_interface"]
    vtep2, vtep3 = UNDERLAY["h2"], "198.18.0.3"
    both = peers({"name": "a", "ip": "10.99.0.5"}, vtep=vtep2) + peers({"name": "b", "ip": "10.99.0.6"}, vtep=vtep3)
    h1.converge("cnm_overlay_peer", network="fab", peers=both)
    # An endpoint moved to the other host: its entry follows, nothing is doubled.
    moved = peers(vtep=vtep2) + peers({"name": "b", "ip": "10.99.0.6"}, {"name": "a", "ip": "10.99.0.5"},
                                      vtep=vtep3)
    result = h1.converge("cnm_overlay_peer", network="fab", peers=moved)
    assert result["changes"] == ["remove 02:42:0a:63:00:05 -> 198.18.0.2 from %s" % vx,
                                 "add 02:42:0a:63:00:05 -> 198.18.0.3 to %s" % vx], result
    h1.converge("cnm_overlay_peer", network="fab", state="absent", peers=[{"vtep": vtep3}])
    fdb = h1.sh(["bridge", "fdb", "show", "dev", vx]).stdout
    assert vtep3 not in fdb and "00:00:00:00:00:00 dst 198.18.0.2" in fdb
    h1.converge("cnm_overlay_peer", network="fab", state="absent")
    assert "dst" not in h1.sh(["bridge", "fdb", "show", "dev", vx]).stdout
    h1.converge("cnm_network", name="fab", state="absent")
    assert h1.converge("cnm_overlay_peer", network="fab", state="absent")["peers"] == {}


def test_overlay_ipv6_across_hosts_by_name(pair):
    """A dual-stack overlay: IPv6 inside VXLAN over the IPv4 underlay, names resolving to both
    addresses, neighbour solicitations answered by each host's VXLAN device."""
    h1, h2 = pair
    net = dict(NET, name="fab6", subnet=["10.98.0.0/24", "fd00:98::/64"], ipv6=True, overlay={"vni": 4343})
    vx = h1.converge("cnm_network", **net)["network"]["overlay"]["vxlan_interface"]
    h2.converge("cnm_network", **dict(net, overlay={"vni": 4343, "local_ip": UNDERLAY["h2"]}))
    web, db = h1.sb("web"), h2.sb("db")
    made = h1.converge("cnm_endpoint", name="web", network="fab6", sandbox=web, ipv4_address="10.98.0.2")
    assert made["endpoint"]["ipv6_address"] == "fd00:98::a62:2", "the prefix, then the IPv4 address"
    h2.converge("cnm_endpoint", name="db", network="fab6", sandbox=db, ipv4_address="10.98.0.3",
                ipv6_address="fd00:98::db")
    planned = h1.ok("cnm_overlay_peer", network="fab6", check=True,
                    peers=peers({"name": "db", "ip": "10.98.0.3", "ip6": "fd00:98::db"}, vtep=UNDERLAY["h2"]))
    assert "add neighbour fd00:98::db -> 02:42:0a:62:00:03 to %s" % vx in planned["changes"], planned
    h1.converge("cnm_overlay_peer", network="fab6",
                peers=peers({"name": "db", "ip": "10.98.0.3", "ip6": "fd00:98::db"}, vtep=UNDERLAY["h2"]))
    h2.converge("cnm_overlay_peer", network="fab6", peers=peers({"name": "web", "ip": "10.98.0.2"}, vtep=UNDERLAY["h1"]))
    assert "fd00:98::db lladdr 02:42:0a:62:00:03 PERMANENT" in h1.sh(["ip", "-6", "neigh", "show", "dev", vx]).stdout
    assert "fd00:98::db\tdb\n" in open("/etc/netns/%s/hosts" % web).read()
    assert h1.sh(["ping", "-6", "-c", "1", "-W", "2", "db"], web).returncode == 0, "by name, over IPv6"
    h2.serve(db, 6379, "PEER")
    assert h1.fetch(web, "fd00:98::db", 6379) == "fd00:98::a62:2", "TCP over IPv6 across hosts, no NAT"
    assert h1.ok("cnm_info")["drift"] == []
    for args, option, words in (
            (dict(net, name="x", subnet=["10.97.0.0/24", "fd00:97::/112"], overlay={"vni": 9}), "subnet", "/96"),
            (dict(net, name="x", subnet="10.97.0.0/24", overlay={"vni": 9}), "subnet", "IPv6 subnet is required")):
        failed = h1.run("cnm_network", **args)
        assert failed["failed"] and failed["option"] == option and words in failed["msg"], failed


BAD = [
    ("cnm_network", dict(NET, overlay={}), "overlay.vni", "is required"),
    ("cnm_network", dict(NET, overlay={"vni": 0}), "overlay.vni", "out of range"),
    ("cnm_network", dict(NET, overlay={"vni": 16777216}), "overlay.vni", "out of range"),
    ("cnm_network", dict(NET, subnet=None), "subnet", "fleet pool"),
    ("cnm_network", dict(NET, mtu=1451), "mtu", "use at most 1450"),
    ("cnm_network", dict(NET, overlay={"vni": 7, "local_ip": "198.18.0.9"}), "overlay.local_ip",
     "not an address of this host"),
    ("cnm_network", dict(NET, overlay={"vni": 7, "underlay_interface": "nope0"}), "overlay.underlay_interface",
     "no interface"),
    ("cnm_network", dict(name="b", overlay={"vni": 7}), "overlay", "only used with driver: overlay"),
    ("cnm_overlay_peer", dict(network="nope", peers=[]), "network", "no overlay network"),
]


@pytest.mark.parametrize("module,args,option,words", BAD, ids=[b[2] + ":" + b[3] for b in BAD])
def test_overlay_bad_input_names_the_option(pair, module, args, option, words):
    h1, _h2 = pair
    os.makedirs(h1.state_dir)
    open(os.path.join(h1.state_dir, ".lock"), "w").close()  # a run takes the lock before it judges the host
    before = h1.snapshot()
    result = h1.run(module, **args)
    assert result.get("failed") and result.get("option") == option, result
    assert words in result["msg"], result
    assert h1.snapshot() == before, "a refused call changes nothing"


BAD_ON_NETWORK = [
    ("cnm_network", dict(NET, name="fab2", subnet="10.98.0.0/24"), "overlay.vni", "already used by network 'fab'"),
    ("cnm_network", dict(NET, name="fab2", overlay={"vni": 9}), "subnet", "overlaps"),
    ("cnm_endpoint", dict(name="x", network="fab", sandbox="x"), "ipv4_address", "fleet pool"),
    ("cnm_endpoint", dict(name="x", network="fab", sandbox="x", ipv4_address="10.99.0.7"), "ipv4_address",
     "remote endpoint 'far'"),
    ("cnm_overlay_peer", dict(network="fab", peers=peers(vtep=UNDERLAY["h1"])), "peers[0].vtep", "own VTEP"),
    ("cnm_overlay_peer", dict(network="fab", peers=peers({"name": "z", "ip": "10.1.0.5"}, vtep="198.18.0.7")),
     "peers[0].endpoints[0].ip", "outside the subnet"),
    ("cnm_overlay_peer", dict(network="fab", peers=peers({"name": "z", "ip": "10.99.0.1"}, vtep="198.18.0.7")),
     "peers[0].endpoints[0].ip", "gateway"),
    ("cnm_overlay_peer", dict(network="fab", peers=peers({"name": "z", "ip": "10.99.0.2"}, vtep="198.18.0.7")),
     "peers[0].endpoints[0].ip", "local endpoint 'web'"),
    ("cnm_overlay_peer", dict(network="fab", peers=peers({"name": "z", "ip": "10.99.0.7"}, vtep="198.18.0.7")),
     "peers", "behind two VTEPs"),
    ("cnm_overlay_peer", dict(network="fab", peers=peers(vtep="198.18.0.7") + peers(vtep="198.18.0.7")),
     "peers[1].vtep", "listed twice"),
    ("cnm_overlay_peer", dict(network="fab", peers=peers({"name": "z", "ip": "10.99.0.9", "mac": "01:00:5e:00:00:01"},
                                                         vtep="198.18.0.7")),
     "peers[0].endpoints[0].mac", "multicast"),
    ("cnm_overlay_peer", dict(network="fab", state="absent", exclusive=True), "exclusive", "state: present"),
    ("cnm_overlay_peer", dict(network="fab", peers=peers({"name": "z", "ip": "10.99.0.9", "ip6": "fd00::9"},
                                                         vtep="198.18.0.7")),
     "peers[0].endpoints[0].ip6", "has no IPv6"),
    ("cnm_endpoint", dict(name="x", network="fab", sandbox="x", ipv4_address="10.99.0.8", ipv6_address="fd00::8"),
     "ipv6_address", "has no IPv6"),
    ("cnm_overlay_peer", dict(network="fab", peers=[], encryption_keys=["11" * 32]), "encryption_keys",
     "is not encrypted"),
]


def test_overlay_bad_input_on_a_network_changes_nothing(pair):
    h1, _h2 = pair
    h1.converge("cnm_network", **NET)
    h1.converge("cnm_endpoint", name="web", network="fab", sandbox=h1.sb("web"), ipv4_address="10.99.0.2")
    h1.converge("cnm_overlay_peer", network="fab",
                peers=peers({"name": "far", "ip": "10.99.0.7"}, vtep=UNDERLAY["h2"]))
    before = h1.snapshot()
    for module, args, option, words in BAD_ON_NETWORK:
        if module == "cnm_endpoint":
            args = dict(args, sandbox=h1.sb(args["sandbox"]))
        result = h1.run(module, **args)
        assert result.get("failed") and result.get("option") == option, (args, result)
        assert words in result["msg"], (args, result)
        assert h1.snapshot() == before, ("a refused call changes nothing", args)


TAG = 0xE5000000 | 4242


def test_an_encrypted_network_on_a_kernel_without_esp_is_refused_whole(pair):
    """This kernel has XFRM but no ESP: the network is refused, naming esp4, and nothing is made.
    (ESP itself, rotation and failing closed are proven in the VMs: molecule/vm_fleet.)"""
    h1, _h2 = pair

    def snapshot():  # less the store's lock, which a run that writes makes first
        snap = h1.snapshot()
        snap["files"] = dict((k, v) for k, v in snap["files"].items() if not k.endswith("/.lock"))
        return snap
    before = snapshot()
    for check in (True, False):
        result = h1.run("cnm_network", check=check, **dict(NET, overlay={"vni": 4242, "encrypted": True}))
        assert result.get("failed") and "esp4" in result["msg"] and "overlay.encrypted" in result["msg"], result
        assert snapshot() == before, "nothing is made"
    assert "cnm" not in h1.sh(["nft", "list", "tables"]).stdout


def test_ipsec_objects_of_a_network_are_found_by_its_tag_and_only_those_removed(pair):
    """A policy the network no longer needs (left by an encrypted past) goes with the next peer
    run, and the network's own go with the network; another program's, with another mark, stay.
    (This kernel has no ESP, so no SA can be made here: the VMs remove those.)"""
    h1, _h2 = pair
    h1.converge("cnm_network", **NET)
    ours = ["xfrm", "policy", "add", "src", "198.18.0.1/32", "dst", "198.18.0.9/32", "proto", "udp", "dport", "4789",
            "dir", "out", "mark", hex(TAG), "mask", "0xffffffff", "tmpl", "src", "198.18.0.1", "dst", "198.18.0.9",
            "proto", "esp", "reqid", str(TAG), "mode", "transport"]
    theirs = list(ours)
    theirs[theirs.index(hex(TAG))] = "0x10"
    for policy in (ours, theirs):
        assert h1.sh(["ip"] + policy).returncode == 0
    planned = h1.ok("cnm_overlay_peer", network="fab", peers=[], check=True)
    assert planned["changed"] and planned["changes"] == ["remove IPsec policy 198.18.0.1 -> 198.18.0.9 of network fab"]
    assert "mark %s/0xffffffff" % hex(TAG) in h1.sh(["ip", "xfrm", "policy"]).stdout, "check mode changes nothing"
    assert h1.converge("cnm_overlay_peer", network="fab", peers=[])["changes"] == planned["changes"]
    policies = h1.sh(["ip", "xfrm", "policy"]).stdout
    assert hex(TAG) not in policies and "mark 0x10/0xffffffff" in policies, policies
    assert h1.sh(["ip"] + ours).returncode == 0
    h1.converge("cnm_network", name="fab", state="absent", force=True)
    policies = h1.sh(["ip", "xfrm", "policy"]).stdout
    assert hex(TAG) not in policies and "mark 0x10/0xffffffff" in policies, policies


def test_the_rules_of_an_encrypted_network_load_in_nftables(pair):
    """nft itself takes the input and mark chains an encrypted network brings (the packets they act
    on are in the VMs)."""
    h1, _h2 = pair
    net = migrate.nest_network({"name": "sec", "driver": "overlay", "vni": 4101, "port": 4789, "local_ip": UNDERLAY["h1"],
                                "encrypted": True, "peers": {}, "interface": "cnm-sec", "subnet": "10.0.9.0/24",
                                "internal": False, "masquerade": True, "icc": True, "vxlan_interface": "cnmx-sec",
                                "underlay_interface": "ul0"})
    text = firewall.render({"sec": net}, {})
    loaded = subprocess.run(h1.enter() + ["nft", "-f", "-"], input=text, capture_output=True, text=True, check=False)
    assert loaded.returncode == 0, loaded.stderr
    listed = h1.nft()
    assert "meta ipsec missing drop" in listed and "type route hook output priority mangle" in listed, listed
