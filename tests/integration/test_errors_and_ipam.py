# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input fails before any change and names the option; cnm_ipam_pool end to end."""

from __future__ import annotations

import os

import pytest

NET = dict(name="pets", subnet="10.60.0.0/24")

BAD = [
    ("cnm_network", dict(name="x", subnet="10.0.0.0/33"), "subnet", "not a valid CIDR"),
    ("cnm_network", dict(name="x", subnet="10.1.2.3/24"), "subnet", "did you mean 10.1.2.0/24?"),
    ("cnm_network", dict(name="x", subnet="10.1.2.0"), "subnet", "no prefix length"),
    ("cnm_network", dict(name="x", subnet="10.61.0.0/24", gateway="10.62.0.1"), "gateway",
     "outside the subnet 10.61.0.0/24"),
    ("cnm_network", dict(name="x", subnet="10.61.0.0/24", ip_range="10.61.1.0/25"), "ip_range",
     "not inside the subnet"),
    ("cnm_network", dict(name="x", gateway="10.61.0.1"), "gateway", "needs an explicit subnet"),
    ("cnm_network", dict(name="x", subnet="10.60.0.128/25"), "subnet", "overlaps 10.60.0.0/24, the subnet of 'pets'"),
    ("cnm_network", dict(name="bad name!"), "name", "not a valid name"),
    ("cnm_network", dict(name="n" * 64), "name", "not a valid name"),
    ("cnm_network", dict(name="x", driver="vlan"), None, "value of driver must be one of: bridge, overlay, macvlan, ipvlan, host, null"),
    ("cnm_network", dict(name="x", bridge={"name": "a-very-long-bridge-name"}), "bridge.name",
     "at most 15 bytes"),
    ("cnm_network", dict(name="x", mtu=10), "mtu", "out of range"),
    ("cnm_network", dict(name="x", driver="null", subnet="10.61.0.0/24"), "subnet",
     "not supported by the null driver"),
    ("cnm_network", dict(name="pets", driver="host"), "driver", "remove it first"),
    ("cnm_endpoint", dict(name="a", network="nope", sandbox="S"), "network", "no network named 'nope'"),
    ("cnm_endpoint", dict(name="a", network="pets"), "sandbox", "one of sandbox or sandbox_path"),
    ("cnm_endpoint", dict(name="a", network="pets", sandbox="S", ipv4_address="10.99.0.5"),
     "ipv4_address", "outside the subnet"),
    ("cnm_endpoint", dict(name="a", network="pets", sandbox="S", ipv4_address="10.60.0.1"),
     "ipv4_address", "reserved"),
    ("cnm_endpoint", dict(name="a", network="pets", sandbox="S", ipv4_address="10.60.0.2"),
     "ipv4_address", "already held by 'first'"),
    ("cnm_endpoint", dict(name="a", network="pets", sandbox="S", ipv4_address="10.60.0.300"),
     "ipv4_address", "not a valid IP address"),
    ("cnm_endpoint", dict(name="a", network="pets", sandbox="S", mac_address="01:00:5e:00:00:01"),
     "mac_address", "multicast"),
    ("cnm_endpoint", dict(name="a", network="pets", sandbox="S", ifname="x" * 16), "ifname", "15 bytes"),
    ("cnm_endpoint", dict(name="a", network="pets", sandbox="S", aliases=["no spaces"]), "aliases[0]",
     "not a valid host name"),
    ("cnm_endpoint", dict(name="a", network="pets", sandbox_path="/proc/999999999/ns/net"),
     "sandbox_path", "does not exist"),
    ("cnm_endpoint", dict(name="a", network="pets", sandbox="S",
                          publish=[{"container_port": 80}, {"container_port": 80}]),
     "publish[1].host_port", "listed twice"),
    ("cnm_endpoint", dict(name="a", network="pets", sandbox="S", publish=[{"container_port": 70000}]),
     "publish[0].container_port", "out of range"),
    ("cnm_ipam_pool", dict(pool="p", subnet="10.70.0.0/24", addresses=[{"owner": "a", "address": "10.71.0.1"}]),
     "addresses[0].address", "outside the subnet"),
    ("cnm_ipam_pool", dict(pool="p", address_pools=[{"base": "10.0.0.0/8", "size": 4}]),
     "address_pools[0].size", "between the base's prefix length"),
    ("cnm_ipam_pool", dict(pool="pets", state="absent"), "pool", "belongs to network 'pets'"),
    ("cnm_network", dict(name="x", driver="dummy", subnet="10.63.0.0/24", gateway="10.63.0.1"), "gateway",
     "a dummy network has no gateway"),
    # This kernel has no dummy module: the network is refused before anything is made, checked without
    # making a link (the kernel's probe names a link no link may be named).
    ("cnm_network", dict(name="x", driver="dummy", subnet="10.63.0.0/24"), "driver", "cannot make dummy links"),
    ("cnm_network", dict(name="x", driver="dummy", subnet="10.63.0.0/24", check=True), "driver",
     "cannot make dummy links"),
]


@pytest.mark.parametrize("module,args,option,text", BAD, ids=["%s-%s" % (b[0], b[2] or "argspec") for b in BAD])
def test_bad_input_names_the_option_and_changes_nothing(host, module, args, option, text):
    host.converge("cnm_network", **NET)
    host.converge("cnm_endpoint", name="first", network="pets", sandbox=host.sb("first"))
    args = dict(args)
    if args.get("sandbox") == "S":
        args["sandbox"] = host.sb("S")
    before = host.snapshot()
    result = host.run(module, **args)
    assert result.get("failed"), result
    assert result.get("option") == option, result
    assert text in result["msg"], result
    assert host.snapshot() == before


def test_exhausted_pool(host):
    host.converge("cnm_network", name="tiny", subnet="10.64.0.0/30")
    host.converge("cnm_endpoint", name="one", network="tiny", sandbox=host.sb("one"))
    full = host.run("cnm_endpoint", name="two", network="tiny", sandbox=host.sb("two"))
    assert full["failed"] and full["option"] == "ipv4_address"
    assert "no free address left in 10.64.0.0/30" in full["msg"]
    assert host.sb("two") not in os.listdir("/run/netns")


def test_ipam_pool_module(host):
    pools = [{"base": "10.200.0.0/16", "size": 24}]
    first = host.converge("cnm_ipam_pool", space="fleet", address_pools=pools, pool="ov1",
                          addresses=[{"owner": "web"}, {"owner": "db"}, {"owner": "cache", "address": "10.200.0.50"}],
                          diff=True)
    assert first["pool"] == {"name": "ov1", "subnet": "10.200.0.0/24", "gateway": "10.200.0.1",
                             "ip_range": None, "aux_addresses": {}}
    assert first["addresses"] == {"web": "10.200.0.2", "db": "10.200.0.3", "cache": "10.200.0.50"}
    assert first["diff"]["before"] == {} and first["diff"]["after"]["addresses"] == first["addresses"]
    second = host.converge("cnm_ipam_pool", space="fleet", address_pools=pools, pool="ov2",
                           ip_range=None, addresses=[{"owner": "web"}])
    assert second["pool"]["subnet"] == "10.200.1.0/24", "the next free subnet"
    fixed = host.converge("cnm_ipam_pool", space="fleet", pool="ov3", subnet="10.201.0.0/28",
                          gateway="10.201.0.14", ip_range="10.201.0.8/29", aux_addresses={"router": "10.201.0.9"},
                          addresses=[{"owner": "a"}, {"owner": "b"}])
    assert fixed["addresses"] == {"a": "10.201.0.8", "b": "10.201.0.10"}, "skips aux and gateway"
    overlap = host.run("cnm_ipam_pool", space="fleet", pool="ov4", subnet="10.200.0.0/23")
    assert overlap["failed"] and overlap["option"] == "subnet" and "'ov1'" in overlap["msg"]

    # exclusive releases whoever is not listed; check mode previews it and changes nothing.
    plan = host.ok("cnm_ipam_pool", space="fleet", pool="ov1", addresses=[{"owner": "web"}],
                   exclusive=True, check=True)
    assert plan["changed"] and plan["addresses"] == {"web": "10.200.0.2"}
    assert host.ok("cnm_ipam_pool", space="fleet", pool="ov1")["addresses"]["db"] == "10.200.0.3"
    kept = host.converge("cnm_ipam_pool", space="fleet", pool="ov1", addresses=[{"owner": "web"}],
                         exclusive=True)
    assert kept["addresses"] == {"web": "10.200.0.2"}
    # Round robin: released addresses come back only after the rest of the range.
    again = host.ok("cnm_ipam_pool", space="fleet", pool="ov1", addresses=[{"owner": "new"}])
    assert again["addresses"]["new"] == "10.200.0.4", "db's .3 was released but is not reused yet"
    released = host.converge("cnm_ipam_pool", space="fleet", pool="ov1",
                             addresses=[{"owner": "new"}], state="absent")
    assert released["addresses"] == {"web": "10.200.0.2"}
    host.converge("cnm_ipam_pool", space="fleet", pool="ov1", state="absent")
    reuse = host.ok("cnm_ipam_pool", space="fleet", address_pools=pools, pool="ov5", check=True)
    assert reuse["pool"]["subnet"] == "10.200.0.0/24", "a released subnet is free again"

    # Automatic subnets of the local space avoid the host's routes.
    host.sh(["ip", "link", "add", "route0", "type", "veth", "peer", "name", "route1"])
    host.sh(["ip", "addr", "add", "172.17.5.1/24", "dev", "route0"])
    host.sh(["ip", "link", "set", "route0", "up"])
    local = host.ok("cnm_ipam_pool", pool="mine")
    assert local["pool"]["subnet"] == "172.18.0.0/16"


def test_damaged_store_is_named_and_left_alone(host):
    host.converge("cnm_network", **NET)
    path = os.path.join(host.state_dir, "networks.json")
    with open(path, "w") as f:
        f.write('{"pets": ')
    result = host.run("cnm_network", **NET)
    assert result["failed"] and result["option"] == "state_dir"
    assert path in result["msg"] and "damaged" in result["msg"]
    with open(path) as f:
        assert f.read() == '{"pets": '
