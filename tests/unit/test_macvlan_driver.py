# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The macvlan and ipvlan drivers' decisions and plans, from hand-made snapshots: no root."""

from __future__ import annotations

import pytest

from ansible_collections.cnm.fabric.plugins.module_utils import drivers, spec
from ansible_collections.cnm.fabric.plugins.module_utils import networks as networks_
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import Observed
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.ipvlan import DRIVER as ipvlan
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.macvlan import DRIVER as macvlan, MacvlanPart
from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError, SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.model import Link, NsView, Route
from ansible_collections.cnm.fabric.tests.unit.plans import nested, ops

TRUNK = Link("eth1", 2, "veth", 1500, True, "52:54:00:00:01:01", None)
HOST = NsView({"eth1": TRUNK}, {})
EP = {"name": "a", "network": "lan", "sandbox": "a", "ifname": "eth0", "ipv4_address": "10.10.0.11",
      "mac_address": "02:42:0a:0a:00:0b", "default_route": True}
KINDS = Observed(kinds={"macvlan": True, "vlan": True, "ipvlan": True})


def net_spec(driver="macvlan", **params):
    base = {"name": "lan", "driver": driver, "state": "present", "subnet": "10.10.0.0/24"}
    base.update(params)
    return spec.network_spec(base, drivers.DRIVERS)


def record(drv, host=HOST, networks=None, **params):
    s = net_spec(drv.kind, **params)
    out = {"name": "lan", "driver": drv.kind, "subnet": "10.10.0.0/24", "gateway": "10.10.0.1", "ip_range": None}
    out.update(networks_.as_record(drv.network_record(s, None, host, networks or {}, [])))
    return out


def part(network):
    return MacvlanPart.of(network)


def test_a_vid_parent_is_made_and_owned_and_a_found_one_is_not():
    made = record(macvlan, macvlan={"parent": "eth1.10"})
    assert part(made).parent_created and made["mtu"] == 1500 and macvlan.observe(made).kinds == ("macvlan", "vlan")
    assert ops(macvlan.create_network(made, HOST, KINDS)) == [("link_add", "vlan", "eth1.10", (("IFLA_VLAN_ID", 10),), "eth1")]
    assert ops(macvlan.delete_network(made, NsView({"eth1": TRUNK, "eth1.10": TRUNK}, {}), [made])) == \
        [("link_del", "eth1.10")]
    found = record(macvlan, macvlan={"parent": "eth1"})
    assert not part(found).parent_created and macvlan.create_network(found, HOST, KINDS) == []
    assert macvlan.delete_network(found, HOST, [found]) == []


def test_a_made_parent_stays_while_another_network_uses_it():
    first = record(macvlan, macvlan={"parent": "eth1.10"})
    other = dict(first, name="lan2")
    host = NsView({"eth1": TRUNK, "eth1.10": TRUNK}, {})
    assert macvlan.delete_network(first, host, [first, other]) == []
    # A second network on it shares the ownership, so whichever goes last removes it.
    second = record(macvlan, host=host, networks={"lan2": other}, macvlan={"parent": "eth1.10"})
    assert part(second).parent_created


@pytest.mark.parametrize("params,option,text", [
    ({"macvlan": {"parent": "eth9"}}, "macvlan.parent", "eth9 does not exist"),
    ({"macvlan": {"parent": "eth9.10"}}, "macvlan.parent", "eth9 is not on this host"),
    ({"macvlan": {"parent": "eth1.0"}}, "macvlan.parent", "VLAN ID 0 of eth1.0 is out of range (1 to 4094)"),
    ({"macvlan": {"parent": "eth1.4095"}}, "macvlan.parent", "out of range"),
    ({"macvlan": {"parent": "eth1"}, "mtu": 9000}, "mtu", "9000 is above the MTU of parent eth1 (1500)"),
    ({"macvlan": {"parent": "eth1", "mode": "tunnel"}}, "macvlan.mode", "not a macvlan mode"),
    ({"macvlan": {"parent": "eth1", "mode": "private", "host_access": True}}, "macvlan.host_access", "bridge"),
    ({"macvlan": {"parent": "eth1"}, "internal": True}, "internal", "has no parent"),
])
def test_bad_networks_name_the_option(params, option, text):
    with pytest.raises(SpecError) as e:
        record(macvlan, **params)
    assert e.value.option == option and text in str(e.value)


def test_passthru_and_mixed_kinds_do_not_share_a_parent():
    other = nested({"name": "lan2", "driver": "macvlan", "parent": "eth1", "mode": "bridge"})
    with pytest.raises(SpecError) as e:
        record(macvlan, networks={"lan2": other}, macvlan={"parent": "eth1", "mode": "passthru"})
    assert e.value.option == "macvlan.mode"
    with pytest.raises(SpecError) as e:
        record(ipvlan, networks={"lan2": other}, ipvlan={"parent": "eth1"})
    assert e.value.option == "ipvlan.parent" and "not both" in str(e.value)


def test_a_missing_kernel_module_is_named_before_anything_is_made():
    made = record(macvlan, macvlan={"parent": "eth1.10"})
    with pytest.raises(KernelError) as e:
        macvlan.create_network(made, HOST, Observed(kinds={"macvlan": True, "vlan": False}))
    assert "modprobe 8021q" in str(e.value)


def test_join_makes_the_child_in_the_sandbox_then_nothing_to_do():
    net = record(macvlan, macvlan={"parent": "eth1"})
    plan = macvlan.join(net, EP, None, HOST, None)
    assert ops(plan) == [("link_add", "macvlan", "eth0", "02:42:0a:0a:00:0b", "bridge", 1500, "a", "eth1"),
                         ("sysctl_set", "net/ipv6/conf/eth0/disable_ipv6", 1, "a"),
                         ("link_addresses", "eth0", ("10.10.0.11/24",), ((4, "10.10.0.1", 0),), "a")]
    inner = Link("eth0", 2, "macvlan", 1500, True, "02:42:0a:0a:00:0b", None, parent=2, mode="bridge")
    sandbox = NsView({"eth0": inner}, {"eth0": {"10.10.0.11/24"}}, [Route("0.0.0.0/0", (("10.10.0.1", 2),))])
    assert macvlan.join(net, EP, EP, HOST, sandbox) == []
    # Another mode (or parent) is another link: made again.
    vepa = dict(net, macvlan=dict(net["macvlan"], mode="vepa"))
    assert ops(macvlan.join(vepa, EP, EP, HOST, sandbox))[0] == ("link_del", "eth0", "a")


def test_ipvlan_l3_routes_on_link_and_has_no_mac_of_its_own():
    net = record(ipvlan, ipvlan={"parent": "eth1", "mode": "l3"})
    ep = dict(EP, mac_address=None)
    assert not ipvlan.own_mac(net)
    assert ops(ipvlan.join(net, ep, None, HOST, None))[-1] == ("link_addresses", "eth0", ("10.10.0.11/24",),
                                                               ((4, None, 0),), "a")
    assert ipvlan.endpoint_refusals["mac_address"] % "ipvlan" == "every endpoint of an ipvlan network has its " \
                                                                 "parent's MAC address"


def test_host_access_shim_then_off():
    net = record(macvlan, macvlan={"parent": "eth1", "host_access": True})
    assert macvlan.reserved_addresses(net) == ("@host_access",)
    macvlan.reserve(net, {"@host_access": "10.10.0.2"})
    assert part(net).shim_address == "10.10.0.2"
    plan = macvlan.create_network(net, HOST, KINDS)
    shim = part(net).shim
    assert ops(plan) == [("link_add", "macvlan", shim, "bridge", 1500, "eth1"),
                         ("addr_add", shim, "10.10.0.2/32"), ("route_set", "10.10.0.0/24", shim)]
    link = Link(shim, 9, "macvlan", 1500, True, None, None, parent=2, mode="bridge")
    host = NsView({"eth1": TRUNK, shim: link}, {shim: {"10.10.0.2/32"}}, [Route("10.10.0.0/24", ((None, 9),))])
    assert macvlan.create_network(net, host, KINDS) == []
    off = record(macvlan, macvlan={"parent": "eth1"})
    assert ops(macvlan.create_network(off, host, KINDS)) == [("link_del", shim)]
