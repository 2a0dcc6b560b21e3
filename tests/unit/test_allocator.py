# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.cnm.fabric.plugins.module_utils import spec
from ansible_collections.cnm.fabric.plugins.module_utils.errors import IpamError
from ansible_collections.cnm.fabric.plugins.module_utils.ipam import allocator

DEFAULTS = spec.parse_address_pools(None)


def req(name, subnet=None, **kw):
    return spec.check_pool_request(name, subnet, kw.get("gateway"), kw.get("ip_range"), kw.get("aux"))


def test_default_local_pools_are_dockers_31():
    subnets = [str(s) for s in allocator.candidates(DEFAULTS)]
    assert len(subnets) == 31
    assert subnets[:4] == ["172.17.0.0/16", "172.18.0.0/16", "172.19.0.0/16", "172.20.0.0/16"]
    assert subnets[14] == "172.31.0.0/16" and subnets[15] == "192.168.0.0/20" and subnets[-1] == "192.168.240.0/20"


def test_pools_skip_overlaps_and_routes_and_repeat_their_answer():
    space = {}
    a, changed = allocator.request_pool(space, req("a"), DEFAULTS, avoid=[ipaddress.ip_network("172.18.5.0/24")])
    assert changed and a["subnet"] == "172.17.0.0/16" and a["gateway"] == "172.17.0.1"
    b = allocator.request_pool(space, req("b"), DEFAULTS, avoid=[ipaddress.ip_network("172.18.5.0/24")])[0]
    assert b["subnet"] == "172.19.0.0/16", "skips the subnet a host route uses"
    assert allocator.request_pool(space, req("a"), DEFAULTS) == (a, False)
    with pytest.raises(IpamError) as e:
        allocator.request_pool(space, req("c", "172.17.128.0/24"), DEFAULTS)
    assert "overlaps 172.17.0.0/16, the subnet of 'a'" in e.value.msg and e.value.option == "subnet"
    with pytest.raises(IpamError):
        allocator.request_pool(space, req("a", "10.0.0.0/24"), DEFAULTS)
    tiny = ((ipaddress.ip_network("10.0.0.0/29"), 30),)
    allocator.request_pool(space, req("t1"), tiny)
    allocator.request_pool(space, req("t2"), tiny)
    with pytest.raises(IpamError) as e:
        allocator.request_pool(space, req("t3"), tiny)
    assert "every subnet of the address pools is in use" in e.value.msg


def test_gateway_and_aux_change_in_place_unless_held():
    space = {}
    pool = allocator.request_pool(space, req("p", "10.1.0.0/24"))[0]
    allocator.request_address(pool, "x", "10.1.0.9")
    pool, changed = allocator.request_pool(space, req("p", "10.1.0.0/24", gateway="10.1.0.254"))
    assert changed and pool["gateway"] == "10.1.0.254" and pool["addresses"] == {"x": "10.1.0.9"}
    with pytest.raises(IpamError):
        allocator.request_pool(space, req("p", "10.1.0.0/24", gateway="10.1.0.9"))


def test_addresses_round_robin_and_owner_stable():
    space = {}
    pool = allocator.request_pool(space, req("p", "10.2.0.0/29", aux={"r": "10.2.0.3"}))[0]
    got = [allocator.request_address(pool, o)[0] for o in "abcd"]
    assert got == ["10.2.0.2", "10.2.0.4", "10.2.0.5", "10.2.0.6"]
    assert allocator.request_address(pool, "a") == ("10.2.0.2", False)
    with pytest.raises(IpamError) as e:
        allocator.request_address(pool, "e")
    assert "no free address left" in e.value.msg
    allocator.release_address(pool, "b")
    allocator.release_address(pool, "c")
    assert allocator.request_address(pool, "e")[0] == "10.2.0.4", "the cursor wraps to the first free one"
    assert allocator.request_address(pool, "f")[0] == "10.2.0.5"
    with pytest.raises(IpamError) as e:
        allocator.request_address(pool, "g", "10.2.0.2")
    assert "already held by 'a'" in e.value.msg
    with pytest.raises(IpamError):
        allocator.request_address(pool, "g", "10.2.0.1")
    allocator.release_address(pool, "f")
    assert allocator.request_address(pool, "a", "10.2.0.5") == ("10.2.0.5", True)
    assert "10.2.0.2" not in pool["addresses"].values(), "moving frees the old address"


OPS = st.lists(st.tuples(st.sampled_from(["get", "get", "release", "fixed"]),
                         st.integers(0, 14), st.integers(0, 15)), max_size=80)


@settings(max_examples=300, deadline=None)
@given(OPS)
def test_property_never_one_address_for_two_owners(ops):
    space = {}
    pool = allocator.request_pool(space, req("p", "10.3.0.0/28", ip_range="10.3.0.0/29"))[0]
    model = {}
    last_released = []
    for op, owner_no, host in ops:
        owner = "o%d" % owner_no
        if op == "release":
            if allocator.release_address(pool, owner):
                last_released.append(model.pop(owner))
            continue
        wanted = str(ipaddress.ip_address("10.3.0.0") + host) if op == "fixed" else None
        try:
            addr = allocator.request_address(pool, owner, wanted)[0]
        except IpamError:
            in_use = set(model.values())
            if wanted is None:
                usable = {str(ipaddress.ip_address("10.3.0.0") + i) for i in range(2, 8)}
                assert owner not in model and usable <= in_use, "exhausted only when the range is full"
            continue
        if wanted is None and owner in model:
            assert addr == model[owner], "an owner keeps its address"
        model[owner] = addr
        held = pool["addresses"]
        assert held == model
        assert len(set(held.values())) == len(held), "never one address for two owners"
        assert addr not in ("10.3.0.0", "10.3.0.1", "10.3.0.15")
