# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bridge driver's plans, from hand-made snapshots: no root, no kernel."""

from __future__ import annotations

import dataclasses

import pytest

from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import Observed
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.bridge import DRIVER as bridge
from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError
from ansible_collections.cnm.fabric.plugins.module_utils.model import Link, NsView, Route
from ansible_collections.cnm.fabric.tests.unit.plans import nested, ops

NET_FLAT = {"name": "pets", "driver": "bridge", "subnet": "172.17.0.0/16", "gateway": "172.17.0.1", "mtu": 1500,
            "internal": False, "interface": "cnm-pets", "hairpin": False}
NET = nested(NET_FLAT)
EP_FLAT = {"name": "web", "network": "pets", "sandbox": "web", "ifname": "eth0", "ipv4_address": "172.17.0.3",
           "mac_address": "02:42:ac:11:00:03", "default_route": True, "host_interface": "cnmvabc"}
EP = nested(EP_FLAT)
SYSCTLS = Observed(sysctls={"net/ipv4/ip_forward": "1", "net/ipv4/conf/cnm-pets/route_localnet": "1",
                            "net/ipv4/conf/cnm-pets/rp_filter": "2"})


def view(links=(), addresses=None, gateway=None, dev=None):
    routes = [Route("0.0.0.0/0", ((gateway, dev),))] if gateway else []
    return NsView({lk.name: lk for lk in links}, addresses or {}, routes)


BR = Link("cnm-pets", 5, "bridge", 1500, True, "02:42:ac:11:00:01", None)  # its MAC derived from the gateway
HOST_END = Link("cnmvabc", 6, "veth", 1500, True, "bb:bb:bb:bb:bb:bb", 5, False)
INNER = Link("eth0", 2, "veth", 1500, True, "02:42:ac:11:00:03", None)
HOST = view([BR, HOST_END], {"cnm-pets": {"172.17.0.1/16"}})
SANDBOX = view([INNER], {"eth0": {"172.17.0.3/16"}}, "172.17.0.1", 2)


def test_create_network_from_nothing_then_nothing_to_do():
    plan = bridge.create_network(NET, view(), Observed())
    assert ops(plan) == [("link_add", "bridge", "cnm-pets", "02:42:ac:11:00:01", 1500), ("sysctl_set", "net/ipv6/conf/cnm-pets/disable_ipv6", 1),
                         ("addr_add", "cnm-pets", "172.17.0.1/16"),
                         ("sysctl_set", "net/ipv4/conf/cnm-pets/route_localnet", 1),
                         ("sysctl_set", "net/ipv4/conf/cnm-pets/rp_filter", 2),
                         ("sysctl_set", "net/ipv4/ip_forward", 1)]
    assert plan[0].undo == ("link_del", ("cnm-pets",))
    assert bridge.create_network(NET, HOST, SYSCTLS) == []


def test_network_changes_in_place():
    plan = bridge.create_network(nested(NET_FLAT, mtu=9000, gateway="172.17.0.254"), HOST, SYSCTLS)
    assert ops(plan) == [("link_set", "cnm-pets", 9000), ("link_set", "cnm-pets", "02:42:ac:11:00:fe"),
                         ("addr_del", "cnm-pets", "172.17.0.1/16"), ("addr_add", "cnm-pets", "172.17.0.254/16")]
    moved = bridge.create_network(NET, view([dataclasses.replace(BR, mac="aa:aa:aa:aa:aa:aa")], HOST.addresses), SYSCTLS)
    assert ops(moved) == [("link_set", "cnm-pets", "02:42:ac:11:00:01")], "a bridge's MAC set in place"
    adopted = nested(NET_FLAT, adopted=True)
    assert bridge.create_network(adopted, view([dataclasses.replace(BR, mac="aa:aa:aa:aa:aa:aa")], HOST.addresses),
                                 SYSCTLS) == [], "an adopted bridge's MAC is its owner's"
    internal = nested(NET_FLAT, internal=True)
    assert bridge.create_network(internal, HOST, Observed({"net/ipv4/conf/cnm-pets/route_localnet": "1",
                                                           "net/ipv4/conf/cnm-pets/rp_filter": "2"})) == []
    with pytest.raises(KernelError) as e:
        bridge.create_network(NET, view([Link("cnm-pets", 5, "veth", 1500, True, None, None)]), SYSCTLS)
    assert e.value.option == "bridge.name"


def test_join_new_endpoint_and_idempotent_rerun():
    plan = bridge.join(NET, EP, None, view([BR]), None)
    assert ops(plan) == [("veth_add", "cnmvabc", "eth0", "web", 1500, "02:42:ac:11:00:03", "cnm-pets"),
                         ("sysctl_set", "net/ipv6/conf/cnmvabc/disable_ipv6", 1),
                         ("sysctl_set", "net/ipv6/conf/eth0/disable_ipv6", 1, "web"),
                         ("link_addresses", "eth0", ("172.17.0.3/16",), ((4, "172.17.0.1", 0),), "web")]
    assert bridge.join(NET, EP, EP, HOST, SANDBOX) == []


def test_join_repairs_a_half_deleted_pair():
    plan = bridge.join(NET, EP, EP, view([BR]), SANDBOX)
    assert ops(plan)[0] == ("link_del", "eth0", "web") and ops(plan)[1][0] == "veth_add"
    plan = bridge.join(NET, EP, EP, HOST, view([]))
    assert ops(plan)[0] == ("link_del", "cnmvabc")


def test_join_updates_in_place():
    new = nested(EP_FLAT, ifname="app0", ipv4_address="172.17.0.9", mac_address="02:00:00:00:00:09")
    plan = bridge.join(nested(NET_FLAT, mtu=1400, hairpin=True), new, EP, HOST, SANDBOX)
    assert ops(plan) == [
        ("link_rename", "eth0", "app0", "web"),
        ("link_set", "cnmvabc", 1400), ("link_set", "app0", "web", 1400),
        ("link_set", "app0", "web", "02:00:00:00:00:09"),
        ("addr_del", "app0", "172.17.0.3/16", "web"), ("addr_add", "app0", "172.17.0.9/16", "web"),
        ("hairpin_set", "cnmvabc", True),
        ("default_route_set", "172.17.0.1", "app0", "web", 0)]
    plan = bridge.join(NET, nested(EP_FLAT, default_route=False), EP, HOST, SANDBOX)
    assert ops(plan) == [("default_route_del", "eth0", "web", 0)]


def test_a_default_routes_metric_changes_in_place():
    at100 = nested(EP_FLAT, default_route_metric=100)
    assert ops(bridge.join(NET, at100, EP, HOST, SANDBOX)) == [
        ("default_route_set", "172.17.0.1", "eth0", "web", 100), ("default_route_del", "eth0", "web", 0)]
    both = view([INNER], {"eth0": {"172.17.0.3/16"}})
    both.routes += [Route("0.0.0.0/0", (("172.17.0.1", 2),), 100), Route("0.0.0.0/0", (("172.17.0.1", 3),), 0)]
    assert bridge.join(NET, at100, EP, HOST, both) == [], "another link's default route is not the endpoint's"


def test_join_refuses_to_take_another_interface_name():

    with pytest.raises(KernelError) as e:
        bridge.join(NET, EP, None, view([BR]), view([Link("eth0", 2, "veth", 1500, True, None, None)]))
    assert e.value.option == "ifname"


def test_leave():
    assert ops(bridge.leave(NET, EP, HOST, SANDBOX)) == [("link_del_batch", "cnmvabc")]
    assert ops(bridge.leave(NET, EP, view([BR]), SANDBOX)) == [("link_del", "eth0", "web")]
    assert bridge.leave(NET, EP, view([BR]), None) == []
