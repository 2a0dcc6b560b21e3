# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dummy driver's decisions and plans, from hand-made snapshots: no root. (This machine's
kernel has no dummy module; the VM fleet sends real packets to a dummy endpoint.)"""

from __future__ import annotations

import pytest

from ansible_collections.cnm.fabric.plugins.module_utils import drivers, spec
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import Observed
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.dummy import DRIVER as dummy
from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError, SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.model import Link, NsView
from ansible_collections.cnm.fabric.tests.unit.plans import ops

NET = {"name": "loop", "driver": "dummy", "subnet": "10.60.0.0/24", "gateway": None, "mtu": 1500, "ipv6": False}
EP = {"name": "a", "network": "loop", "sandbox": "a", "ifname": "eth1", "ipv4_address": "10.60.0.2",
      "mac_address": "02:42:0a:3c:00:02", "default_route": False, "host_interface": None}
HOST = NsView({}, {})


def test_the_network_is_a_pool_with_no_gateway_and_nothing_on_the_host():
    params = {"name": "loop", "driver": "dummy", "state": "present", "subnet": "10.60.0.0/24"}
    net_spec = spec.network_spec(params, drivers.DRIVERS)
    assert dummy.network_record(net_spec, None, HOST, {}, []) == {"gateway": None, "ipv6_gateway": None}
    assert dummy.create_network(NET, HOST, Observed(kinds={"dummy": True})) == []
    assert dummy.observe(NET).kinds == ("dummy",) and dummy.firewall(NET) is None
    with pytest.raises(KernelError) as e:
        dummy.create_network(NET, HOST, Observed(kinds={"dummy": False}))
    assert e.value.option == "driver" and "no dummy module" in e.value.msg
    with pytest.raises(SpecError) as e:
        spec.network_spec(dict(params, gateway=["10.60.0.1"]), drivers.DRIVERS)
    assert e.value.option == "gateway"
    assert "publish" in dummy.endpoint_refusals and "default_route" not in dummy.endpoint_options


def test_an_endpoint_is_a_dummy_link_in_its_sandbox_with_its_address_and_no_route():
    assert ops(dummy.join(NET, EP, None, HOST, None)) == [
        ("link_add", "dummy", "eth1", "02:42:0a:3c:00:02", 1500, "a"),
        ("sysctl_set", "net/ipv6/conf/eth1/disable_ipv6", 1, "a"),
        ("link_addresses", "eth1", ("10.60.0.2/24",), (), "a")]
    made = Link("eth1", 3, "dummy", 1500, True, "02:42:0a:3c:00:02", None, ipv6_disabled=True)
    sandbox = NsView({"eth1": made}, {"eth1": {"10.60.0.2/24"}})
    assert dummy.join(NET, EP, EP, HOST, sandbox) == []
    assert ops(dummy.join(dict(NET, mtu=9000), EP, EP, HOST, sandbox)) == [("link_set", "eth1", "a", 9000)]
    assert ops(dummy.leave(NET, EP, HOST, sandbox)) == [("link_del", "eth1", "a")]


def test_a_link_of_another_kind_in_its_place_is_replaced_only_if_it_was_the_endpoints():
    other = NsView({"eth1": Link("eth1", 3, "veth", 1500, True, None, None)}, {})
    with pytest.raises(KernelError) as e:
        dummy.join(NET, EP, None, HOST, other)
    assert e.value.option == "ifname"
    assert ops(dummy.join(NET, EP, EP, HOST, other))[:2] == [
        ("link_del", "eth1", "a"), ("link_add", "dummy", "eth1", "02:42:0a:3c:00:02", 1500, "a")]
    assert dummy.leave(NET, EP, HOST, other) == []
