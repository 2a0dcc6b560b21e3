# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The overlay driver's plans, its options and the inventory filters: no root, no kernel."""

from __future__ import annotations

import dataclasses

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cnm.fabric.plugins.filter import overlay as filters
from ansible_collections.cnm.fabric.plugins.module_utils import drivers, spec
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import Observed
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.overlay import DRIVER as overlay, OverlayOptions
from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError, SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.model import Link, NsView, VxlanInfo, ZERO_MAC
from ansible_collections.cnm.fabric.plugins.module_utils.sandbox import render_hosts
from ansible_collections.cnm.fabric.tests.unit import plans
from ansible_collections.cnm.fabric.tests.unit.plans import nested

ZERO = ZERO_MAC
NET_FLAT = {"name": "fab", "driver": "overlay", "subnet": "10.99.0.0/24", "gateway": "10.99.0.1", "mtu": 1450,
            "internal": False, "interface": "cnm-fab", "hairpin": False, "vni": 42, "port": 4789,
            "local_ip": "192.0.2.1", "underlay_interface": "eth0", "vxlan_interface": "cnmxabc",
            "peers": {"192.0.2.2": [{"name": "db", "ip": "10.99.0.3", "mac": "02:42:0a:63:00:03", "aliases": []}],
                      "192.0.2.3": []}}
NET = nested(NET_FLAT)
SYSCTLS = {"net/ipv4/ip_forward": "1", "net/ipv4/conf/cnm-fab/route_localnet": "1", "net/ipv4/conf/cnm-fab/rp_filter": "2"}


PEERS = spec.PeersSpec(network="fab", peers=(), exclusive=False, state="present")


def observed(fdb=None, arp=None):
    return Observed(SYSCTLS, {"cnmxabc": (fdb or set(), arp or {})})


UNDERLAY = Link("eth0", 2, "veth", 1500, True, "aa:aa:aa:aa:aa:01", None)
BR = Link("cnm-fab", 5, "bridge", 1450, True, "02:42:0a:63:00:01", None)  # its MAC derived from the gateway
VX = Link("cnmxabc", 6, "vxlan", 1450, True, "aa:aa:aa:aa:aa:03", 5,
          vxlan=VxlanInfo(vni=42, port=4789, local="192.0.2.1", underlay=2, learning=False, proxy=True))
WANT_FDB = {(ZERO, "192.0.2.2"), ("02:42:0a:63:00:03", "192.0.2.2"), (ZERO, "192.0.2.3")}
WANT_ARP = {"10.99.0.3": "02:42:0a:63:00:03"}


def host(*links):
    return NsView(dict((lk.name, lk) for lk in links), {"cnm-fab": {"10.99.0.1/24"}, "eth0": {"192.0.2.1/24"}})


def ops(changes):
    return plans.ops(changes, keywords=False)


def test_new_network_makes_bridge_vxlan_and_every_entry():
    plan = ops(overlay.create_network(NET, host(UNDERLAY), observed()))
    assert plans.ops(overlay.create_network(NET, host(UNDERLAY), observed()))[0] == (
        "link_add", "bridge", "cnm-fab", "02:42:0a:63:00:01", 1450)
    assert plan[:3] == [("link_add", "bridge", "cnm-fab"), ("sysctl_set", "net/ipv6/conf/cnm-fab/disable_ipv6", 1),
                        ("addr_add", "cnm-fab", "10.99.0.1/24")]
    assert plan[3] == ("vxlan_add", "cnmxabc", 42, 4789, "192.0.2.1", "eth0", 1450, "cnm-fab")
    assert sorted(plan[4:]) == sorted([("fdb_add", "cnmxabc") + e for e in WANT_FDB]
                                      + [("neigh_set", "cnmxabc", "10.99.0.3", "02:42:0a:63:00:03")])


def test_a_missing_underlay_is_an_error_naming_it():
    with pytest.raises(KernelError) as e:
        overlay.create_network(NET, host(), observed())
    assert e.value.option == "overlay.underlay_interface" and "eth0" in e.value.msg


def test_converged_network_plans_nothing():
    assert overlay.create_network(NET, host(UNDERLAY, BR, VX), observed(WANT_FDB, WANT_ARP)) == []


def test_a_changed_vni_makes_the_device_again_with_its_entries():
    old = dataclasses.replace(VX, vxlan=VxlanInfo(41, 4789, "192.0.2.1", 2, False, True))
    plan = ops(overlay.create_network(NET, host(UNDERLAY, BR, old), observed(WANT_FDB, WANT_ARP)))
    assert plan[0] == ("link_del", "cnmxabc") and plan[1][0] == "vxlan_add"
    assert len([p for p in plan if p[0] == "fdb_add"]) == 3, "a new device starts empty"


def test_peer_changes_remove_first_and_move_a_mac():
    fdb = {(ZERO, "192.0.2.2"), ("02:42:0a:63:00:03", "192.0.2.9"), (ZERO, "192.0.2.9")}
    arp = {"10.99.0.3": "02:42:0a:63:00:03", "10.99.0.8": "02:42:0a:63:00:08"}
    assert ops(overlay.peer_changes(NET, host(UNDERLAY, BR, VX), observed(fdb, arp), PEERS)) == [
        ("fdb_del", "cnmxabc", "00:00:00:00:00:00", "192.0.2.9"),
        ("fdb_del", "cnmxabc", "02:42:0a:63:00:03", "192.0.2.9"),
        ("neigh_del", "cnmxabc", "10.99.0.8"),
        ("fdb_add", "cnmxabc", "00:00:00:00:00:00", "192.0.2.3"),
        ("fdb_add", "cnmxabc", "02:42:0a:63:00:03", "192.0.2.2"),
    ]


def test_remote_endpoints_are_in_the_hosts_files():
    endpoints = {"fab/web": {"name": "web", "network": "fab", "sandbox": "web", "ipv4_address": "10.99.0.2",
                             "aliases": []}}
    text = render_hosts(endpoints, "web", networks={"fab": NET})
    assert text.endswith("10.99.0.2\tweb\n10.99.0.3\tdb\n")


def network_spec(params):
    return spec.network_spec(params, drivers.DRIVERS)


def test_network_options():
    net = network_spec({"name": "fab", "driver": "overlay", "state": "present", "subnet": "10.99.0.0/24",
                        "overlay": {"vni": "42"}})
    assert net.options.vni == 42 and net.options.port == 4789 and net.mtu is None
    assert net.options.bridge.interface == "cnm-fab" and isinstance(net.options, OverlayOptions)
    for params, option in [
        ({"overlay": {"vni": 1, "port": 0}}, "overlay.port"),
        ({"overlay": {"vni": 1, "local_ip": "x"}}, "overlay.local_ip"),
        ({"overlay": {"vni": 1, "underlay_interface": "a/b"}}, "overlay.underlay_interface"),
        ({"overlay": {"vni": 1}, "mtu": 40}, "mtu"),
    ]:
        with pytest.raises(SpecError) as e:
            network_spec(dict({"name": "fab", "driver": "overlay", "state": "present",
                               "subnet": "10.99.0.0/24"}, **params))
        assert e.value.option == option
    gone = network_spec({"name": "fab", "driver": "overlay", "state": "absent"})
    assert gone.options is None, "removing needs no VNI"


def test_peer_options():
    peers = spec.peers_spec({"network": "fab", "state": "present", "exclusive": True, "peers": [
        {"vtep": "192.0.2.2", "endpoints": [{"name": "db", "ip": "10.99.0.3", "aliases": ["database"]}]}]})
    assert peers.peers[0].endpoints[0] == {"name": "db", "ip": "10.99.0.3", "mac": "02:42:0a:63:00:03",
                                           "aliases": ["database"]}
    assert spec.peers_spec({"network": "fab", "state": "absent"}).peers is None
    for items, option in [
        ([{"vtep": "2001:db8::1"}], "peers[0].vtep"),
        ([{"vtep": "192.0.2.2", "endpoints": [{"name": "a", "ip": "10.0.0.1"}, {"name": "b", "ip": "10.0.0.1"}]}],
         "peers[0].endpoints[1].ip"),
        ([{"vtep": "192.0.2.2", "endpoints": [{"name": "a", "ip": "10.0.0.1"}, {"name": "a", "ip": "10.0.0.2"}]}],
         "peers[0].endpoints[1].name"),
        ([{"vtep": "192.0.2.2", "endpoints": [{"name": "a", "ip": "10.0.0.1", "aliases": ["-x"]}]}],
         "peers[0].endpoints[0].aliases[0]"),
    ]:
        with pytest.raises(SpecError) as e:
            spec.peers_spec({"network": "fab", "state": "present", "peers": items})
        assert e.value.option == option


def test_a_peers_host_address_is_recorded_and_never_another_address():
    def merge(*items):
        want = spec.peers_spec({"network": "fab", "state": "present", "peers": list(items)})
        return overlay.merge_peers(NET, want, [{"name": "web", "ipv4_address": "10.99.0.2"}])
    (part,) = merge({"vtep": "192.0.2.3", "host_address": "10.99.0.253"})
    assert part.peer_hosts == {"192.0.2.3": "10.99.0.253"} and part.peers["192.0.2.2"] == NET_FLAT["peers"]["192.0.2.2"]
    for address, option, text in [("10.99.0.3", "peers", "also taken behind VTEP 192.0.2.2"),
                                  ("10.99.0.1", "peers[0].host_address", "the gateway"),
                                  ("10.99.0.2", "peers[0].host_address", "a local endpoint's"),
                                  ("10.98.0.9", "peers[0].host_address", "10.99.0.0/24")]:
        with pytest.raises(SpecError) as e:
            merge({"vtep": "192.0.2.3", "host_address": address})
        assert e.value.option == option and text in e.value.msg, (address, e.value)


HOSTVARS = {
    "h1": {"overlay_network_endpoints": [{"name": "web", "network": "fab", "aliases": ["www"]},
                                         {"name": "x", "network": "other"}],
           "overlay_network_vteps": {"fab": "192.0.2.1"},
           "overlay_network_addresses": {"fab": {"web": "10.99.0.2", "db": "10.99.0.3"}}},
    "h2": {"overlay_network_endpoints": [{"name": "db", "network": "fab", "mac_address": "02:00:00:00:00:09"}],
           "overlay_network_vteps": {"fab": "192.0.2.2"}},
    "h3": {"overlay_network_vteps": {"fab": "192.0.2.3"}},
    "h4": {},  # the network is not on it yet
}


def test_filters_build_the_lists_from_the_inventory():
    assert filters.overlay_addresses(HOSTVARS, "fab", ["h1", "h2", "h3"]) == [
        {"owner": "web", "address": None}, {"owner": "db", "address": None}]
    assert filters.overlay_endpoints(HOSTVARS, "fab", "h1") == [
        {"name": "web", "aliases": ["www"], "ipv4_address": "10.99.0.2"}]
    assert filters.overlay_peers(HOSTVARS, "fab", ["h1", "h2", "h3", "h4"], "h1") == [
        {"vtep": "192.0.2.2", "endpoints": [{"name": "db", "ip": "10.99.0.3", "aliases": [],
                                             "mac": "02:00:00:00:00:09"}]},
        {"vtep": "192.0.2.3", "endpoints": []}]


def test_one_hosts_call_gathers_every_network_and_leaves_out_those_skipped():
    services = [{"name": "api", "network": "fab", "ports": [{"port": 80}], "endpoints": ["web"]}]
    allocated = dict(HOSTVARS, h1=dict(HOSTVARS["h1"], overlay_network_addresses={"fab": {
        "web": "10.99.0.2", "db": "10.99.0.3", "service.api": "10.99.0.250", "host.h1": "10.99.0.251"}},
        overlay_network_pools={"fab": {"subnet": "10.99.0.0/24", "gateway": "10.99.0.1"}}))
    mine = filters.overlay_host(allocated, [{"name": "fab", "encrypted": True, "vni": 42, "mtu": 1400,
                                             "ipv6": True, "ipv6_subnet": "fd00:42::/64"}],
                                ["h1", "h2"], "h1", services=services, encryption_keys={"fab": ["0x01"]},
                                local_ip="192.0.2.1")
    assert mine["networks"] == [{"name": "fab", "driver": "overlay", "subnet": ["10.99.0.0/24", "fd00:42::/64"],
                                 "gateway": "10.99.0.1", "ipv6": True, "mtu": 1400,
                                 "overlay": {"vni": 42, "encrypted": True, "local_ip": "192.0.2.1",
                                             "host_address": "10.99.0.251"}}]
    assert mine["endpoints"] == [{"network": "fab", "exclusive": True,
                                  "endpoints": filters.overlay_endpoints(allocated, "fab", "h1")}]
    assert mine["peers"] == [{"network": "fab", "exclusive": True, "encryption_keys": ["0x01"],
                              "encryption_stage": "inbound",
                              "peers": filters.overlay_peers(allocated, "fab", ["h1", "h2"], "h1")}]
    assert mine["services"] == [{"name": "api", "network": "fab", "vip": "10.99.0.250", "ports": [{"port": 80}],
                                 "endpoints": ["web"], "aliases": []}]
    assert filters.overlay_host(allocated, [{"name": "fab"}], ["h1"], "h1", services=services, skip=["fab"]) == {
        "networks": [], "endpoints": [], "peers": [], "services": []}
    with pytest.raises(AnsibleFilterError, match="network fab has no subnet in overlay_network_pools"):
        filters.overlay_host(HOSTVARS, [{"name": "fab"}], ["h1"], "h1")
    assert "encryption_keys" not in filters.overlay_host(allocated, [{"name": "fab"}], ["h1"], "h1")["peers"][0]
    with pytest.raises(AnsibleFilterError, match="service api of network fab has no VIP"):
        filters.overlay_host(dict(allocated, h1=dict(allocated["h1"], overlay_network_addresses={"fab": {
            "web": "10.99.0.2"}})), [{"name": "fab"}], ["h1"], "h1", services=services)


def test_a_published_service_gives_every_host_an_address_which_its_peers_get():
    published = [{"name": "api", "network": "fab", "ports": [{"port": 80, "published": 8000}]}]
    plain = [{"name": "api", "network": "fab", "ports": [{"port": 80}]}]
    assert filters.overlay_addresses(HOSTVARS, "fab", ["h1", "h2"], services=plain) == [
        {"owner": "service.api", "address": None}, {"owner": "web", "address": None}, {"owner": "db", "address": None}]
    assert filters.overlay_addresses(HOSTVARS, "fab", ["h1", "h2"], services=published) == [
        {"owner": "service.api", "address": None}, {"owner": "host.h1", "address": None},
        {"owner": "web", "address": None}, {"owner": "host.h2", "address": None}, {"owner": "db", "address": None}]
    allocated = dict(HOSTVARS, h1=dict(HOSTVARS["h1"], overlay_network_addresses={"fab": {
        "web": "10.99.0.2", "db": "10.99.0.3", "host.h1": "10.99.0.250", "host.h2": "10.99.0.251"}}))
    assert [(p["vtep"], p.get("host_address")) for p in filters.overlay_peers(allocated, "fab", ["h1", "h2", "h3"], "h1")] \
        == [("192.0.2.2", "10.99.0.251"), ("192.0.2.3", None)]
    with pytest.raises(AnsibleFilterError, match="hosts' own"):
        filters.overlay_addresses({"h1": {"overlay_network_endpoints": [{"name": "host.x", "network": "fab"}]}},
                                  "fab", ["h1"])


def test_filters_explain_what_is_missing():
    with pytest.raises(AnsibleFilterError, match="declared on h1 and on h2"):
        filters.overlay_addresses(dict(HOSTVARS, h2={"overlay_network_endpoints": [{"name": "web", "network": "fab"}]}),
                                  "fab", ["h1", "h2"])
    with pytest.raises(AnsibleFilterError, match="has no address"):
        filters.overlay_endpoints(HOSTVARS, "other", "h1")
    with pytest.raises(AnsibleFilterError, match="not a host of the inventory"):
        filters.overlay_peers(HOSTVARS, "fab", ["h9"], "h1")
    with pytest.raises(AnsibleFilterError, match="needs a name and a network"):
        filters.overlay_addresses({"h1": {"overlay_network_endpoints": [{"name": "a"}]}}, "fab", ["h1"])
