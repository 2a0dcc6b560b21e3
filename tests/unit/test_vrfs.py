# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""VRFs (vrfs.py) as pure planning over host snapshots, their pools, and the request that makes
one; the kernel's VRF devices themselves are proven in the VMs (molecule/vm_fleet)."""

from __future__ import annotations

import pytest

from ansible_collections.cnm.fabric.plugins.module_utils import vrfs
from ansible_collections.cnm.fabric.plugins.module_utils.errors import IpamError, KernelError, SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.ipam import allocator
from ansible_collections.cnm.fabric.plugins.module_utils.kernel import messages, sockets
from ansible_collections.cnm.fabric.plugins.module_utils.model import Link, NsView
from ansible_collections.cnm.fabric.plugins.module_utils.spec import PoolRequest, parse_subnet


def link(name, index, kind="bridge", master=None, table=None, up=True):
    return Link(name=name, index=index, kind=kind, mtu=1500, up=up, mac=None, master=master, vrf_table=table)


def view(*links):
    return NsView(links=dict((lk.name, lk) for lk in links), addresses={})


def network(name, vrf=None):
    record = {"name": name, "driver": "bridge", "bridge": {"interface": "cnm-" + name}}
    if vrf:
        record["vrf"] = vrf
    return record


class Kernel(object):
    def __init__(self, vrf=True):
        self.vrf = vrf

    def kind_supported(self, kind):
        return self.vrf


def ops(changes):
    return [(c.op, c.args) for c in changes]


def test_a_new_vrf_takes_the_lowest_free_table_and_is_shared():
    host = view(link("user", 3, "vrf", table=1000), link("other", 4, "vrf", table=1002))
    red = vrfs.vrf_record("red", "a", None, host, {})
    assert red == {"name": "red", "table": 1001, "created": True}
    nets = {"a": network("a", red)}
    assert vrfs.vrf_record("blue", "b", None, host, nets)["table"] == 1003, "nor a table a record holds"
    assert vrfs.vrf_record("red", "b", None, host, nets) == red, "another network of the VRF shares its record"
    assert vrfs.vrf_record("user", "b", None, host, nets) == {"name": "user", "table": 1000, "created": False}
    assert vrfs.vrf_record(None, "b", None, host, nets) is None
    with pytest.raises(SpecError) as e:
        vrfs.vrf_record("cnm-a", "b", None, view(link("cnm-a", 5)), nets)
    assert e.value.option == "vrf" and "not a VRF" in e.value.msg


def test_a_vrf_is_made_once_per_run_and_each_network_attached():
    red = {"name": "red", "table": 1001, "created": True}
    host, made = view(link("cnm-a", 5), link("cnm-b", 6)), set()
    first = vrfs.changes(network("a", red), host, made, Kernel())
    assert ops(first) == [("link_add", ("vrf", "red")), ("link_attach", ("cnm-a", "red"))]
    assert dict(first[0].kwargs)["data"] == (("IFLA_VRF_TABLE", 1001),)
    assert ops(vrfs.changes(network("b", red), host, made, Kernel())) == [("link_attach", ("cnm-b", "red"))]
    done = view(link("red", 9, "vrf", table=1001), link("cnm-a", 5, master=9), link("cnm-b", 6, master=9))
    assert vrfs.changes(network("a", red), done, set(), Kernel()) == [], "idempotent"
    down = view(link("red", 9, "vrf", table=1001, up=False), link("cnm-a", 5, master=9))
    assert ops(vrfs.changes(network("a", red), down, set(), Kernel())) == [("link_set", ("red",))]
    with pytest.raises(KernelError) as e:
        vrfs.changes(network("a", red), host, set(), Kernel(vrf=False))
    assert e.value.option == "vrf" and "modprobe vrf" in e.value.msg
    with pytest.raises(KernelError) as e:
        vrfs.changes(network("a", dict(red, created=False)), host, set(), Kernel())
    assert "not the collection's to make" in e.value.msg, "a found VRF that is gone is never made"


def test_a_vrf_goes_with_the_last_network_in_it_and_only_if_the_collection_made_it():
    red = {"name": "red", "table": 1001, "created": True}
    host = view(link("red", 9, "vrf", table=1001), link("cnm-a", 5, master=9), link("cnm-b", 6, master=9))
    a, b = network("a", red), network("b", red)
    assert vrfs.leave(a, None, host, [b]) == [], "b is still in it"
    assert ops(vrfs.leave(a, None, host, [])) == [("link_del", ("red",))]
    assert vrfs.leave(network("a", dict(red, created=False)), None, host, []) == [], "never a found one"
    assert ops(vrfs.leave(a, network("a"), host, [b])) == [("link_attach", ("cnm-a", None))], "taken out"
    blue = {"name": "blue", "table": 1002, "created": True}
    assert ops(vrfs.leave(a, network("a", blue), host, [])) == [("link_del", ("red",))], "moved: the old one goes"
    assert vrfs.leave(a, a, host, []) == []
    assert vrfs.owned([a, network("c", dict(red, name="user", created=False)), network("d")]) == {"red"}


def test_pools_overlap_only_across_vrfs():
    space = {"pools": {}}

    def request(name, subnet, vrf=None):
        return allocator.request_pool(space, PoolRequest(name=name, subnet=parse_subnet(subnet, "subnet"), vrf=vrf))

    request("red", "10.60.0.0/24", "red")
    assert request("blue", "10.60.0.0/24", "blue")[0]["vrf"] == "blue"
    assert "vrf" not in request("plain", "10.60.0.0/24")[0]
    with pytest.raises(IpamError) as e:
        request("red2", "10.60.0.128/25", "red")
    assert "overlaps 10.60.0.0/24, the subnet of 'red' in VRF red" in e.value.msg
    with pytest.raises(IpamError):
        request("blue", "10.60.0.0/24", "red")  # moved into a VRF where its subnet is taken
    assert request("plain", "10.60.0.0/24", "green") == (space["pools"]["plain"], True), "moved in place"
    assert request("plain", "10.60.0.0/24") == (space["pools"]["plain"], True) and "vrf" not in space["pools"]["plain"]
    auto = allocator.request_pool(space, PoolRequest(name="auto", vrf="red"),
                                  ((parse_subnet("10.60.0.0/16", "base"), 24),))[0]
    assert auto["subnet"] == "10.60.1.0/24", "an automatic subnet avoids those of its own VRF"


def test_the_request_that_makes_a_vrf_reads_back_as_its_table():
    msg = messages.ifinfo(index=7, attrs=[("IFLA_IFNAME", "red"), messages.linkinfo("vrf", [("IFLA_VRF_TABLE", 1001)])])
    msg["header"]["type"] = sockets.RTM_NEWLINK
    msg.encode()
    data = bytes(msg.data)
    read = messages.link_of(sockets.Reply(data, 0, sockets.HEADER.unpack_from(data), sockets.LAYOUTS[sockets.RTM_NEWLINK]))
    assert (read.name, read.kind, read.vrf_table) == ("red", "vrf", 1001)
