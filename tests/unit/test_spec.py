# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.cnm.fabric.plugins.module_utils import drivers, names, spec
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.bridge import BridgeOptions
from ansible_collections.cnm.fabric.plugins.module_utils.errors import SpecError


def net(**kw):
    params = dict(name="pets", driver="bridge", state="present", subnet=None, gateway=None,
                  ip_range=None, aux_addresses=None, mtu=1500, internal=False, force=False, bridge=None)
    params.update(kw)
    return spec.network_spec(params, drivers.DRIVERS)


def ep(**kw):
    params = dict(name="web", network="pets", sandbox="web", sandbox_path=None, ifname=None,
                  ipv4_address=None, mac_address=None, default_route=None, aliases=[], publish=[],
                  state="present")
    params.update(kw)
    return spec.endpoint_spec(params)


def error(fn, **kw):
    with pytest.raises(SpecError) as e:
        fn(**kw)
    return e.value


@pytest.mark.parametrize("value,text", [
    ("10.0.0.0/33", "not a valid CIDR"),
    ("10.1.2.3/24", "did you mean 10.1.2.0/24?"),
    ("10.1.2.0", "no prefix length"),
    ("fd00::/64", "set ipv6: true"),
    ("10.0.0.0/31", "at least a /30"),
])
def test_subnet_errors_name_the_option_and_the_fix(value, text):
    e = error(net, subnet=value)
    assert e.option == "subnet" and text in e.msg


def test_network_defaults_and_bridge_names():
    n = net()
    assert n.options.interface == "cnm-pets" and n.mtu == 1500 and n.pool.subnet is None
    assert n.options.icc and n.options.masquerade and not n.options.hairpin
    long = net(name="a-rather-long-network-name")
    assert len(long.options.interface) <= 15 and long.options.interface.startswith("cnm-a-rat")
    assert names.bridge_name("a-rather-long-network-name") != names.bridge_name("a-rather-long-network-nam")
    assert net(bridge={"name": "br0", "icc": False}).options == BridgeOptions("br0", icc=False)


def test_network_option_errors():
    assert error(net, subnet="10.0.0.0/24", gateway="10.0.1.1").option == "gateway"
    assert error(net, subnet="10.0.0.0/24", gateway="10.0.0.255").option == "gateway"
    assert error(net, subnet="10.0.0.0/24", ip_range="10.0.0.0/23").option == "ip_range"
    assert error(net, subnet="10.0.0.0/24", aux_addresses={"r": "10.9.0.1"}).option == "aux_addresses.r"
    assert error(net, mtu=65536).option == "mtu"
    assert error(net, name="-x").option == "name"
    assert error(net, driver="nosuch").option == "driver"
    assert error(net, driver="host", internal=True).option == "internal"
    assert error(net, bridge={"name": "x" * 16}).option == "bridge.name"


def test_ipv6_only_networks_take_no_ipv4_pool():
    six = net(ipv4=False, ipv6=True, subnet="fd00:5::/64")
    assert (six.ipv4, six.ipv6, six.pool, str(six.pool6.subnet)) == (False, True, None, "fd00:5::/64")
    assert net().ipv4 and not net().ipv6
    assert "needs ipv6: true" in error(net, ipv4=False).msg
    for option, value in (("subnet", ["10.0.0.0/24", "fd00:5::/64"]), ("gateway", "10.0.0.1"),
                          ("aux_addresses", {"r": "10.0.0.9"})):
        e = error(net, ipv4=False, ipv6=True, **{option: value})
        assert e.option.startswith(option) and "IPv6-only" in e.msg, (option, e.msg)
    assert error(net, ipv4=False, ipv6=True, address_pools=[{"base": "10.9.0.0/16", "size": 24}]).option == \
        "address_pools[0].base"
    assert error(net, driver="null", ipv4=False).option == "ipv4"


def test_macs_derive_from_the_ipv4_else_the_last_40_bits_of_the_ipv6_address():
    assert names.mac_from_address("10.1.0.2") == "02:42:0a:01:00:02"
    assert names.mac_from_address("fd00:5::2") == names.mac_from_ipv6("fd00:5::2") == "06:00:00:00:00:02"
    assert names.mac_from_ipv6("fd00:5::ab:cdef:1234") == "06:ab:cd:ef:12:34"
    assert names.mac_from_ipv6("fd00:5::1:ab:cdef:1234") == "06:ab:cd:ef:12:34", "past 40 bits: the caller refuses"


def test_endpoint_spec():
    dns = {"host_port": 53, "container_port": 53, "protocol": "udp", "host_ip": "127.0.0.1"}
    e = ep(aliases=["www", "web.local"], publish=[{"container_port": 80}, dns])
    assert e.key == "pets/web" and e.sandbox_key == "web"
    assert e.publish == (spec.PortSpec(80, 80, "tcp", None), spec.PortSpec(53, 53, "udp", "127.0.0.1"))
    assert ep(sandbox=None, sandbox_path="/proc/1/ns/net").sandbox_key == "/proc/1/ns/net"
    assert ep(mac_address="02-42-AC-11-00-02").mac_address == "02:42:ac:11:00:02"
    assert error(ep, sandbox=None).option == "sandbox"
    assert error(ep, sandbox=None, sandbox_path="relative").option == "sandbox_path"
    assert error(ep, mac_address="03:00:00:00:00:01").option == "mac_address"
    assert error(ep, publish=[{"container_port": 0}]).option == "publish[0].container_port"
    assert error(ep, aliases=["a b"]).option == "aliases[0]"
    assert ep(sandbox=None, state="absent").sandbox_key is None


def test_pool_spec():
    p = spec.pool_spec(dict(space="fleet", address_pools=[{"base": "10.0.0.0/16", "size": 24}], pool="ov",
                            subnet=None, gateway=None, ip_range=None, aux_addresses=None,
                            addresses=[{"owner": "a", "address": None}], exclusive=False, state="present"))
    assert p.address_pools[0][1] == 24 and p.addresses == (("a", None),)
    assert len(list(spec.parse_address_pools(None))) == 7
    with pytest.raises(SpecError) as e:
        spec.pool_spec(dict(space="local", address_pools=None, pool=None, subnet="10.0.0.0/24", gateway=None,
                            ip_range=None, aux_addresses=None, addresses=[], exclusive=False, state="present"))
    assert e.value.option == "subnet" and "requires pool" in e.value.msg


def test_derived_names_fit_the_kernel():
    assert names.mac_from_ipv4("172.17.0.3") == "02:42:ac:11:00:03"
    assert len(names.veth_name("n" * 60, "e" * 60)) == 15
    assert names.veth_name("a", "b") != names.veth_name("a", "c")
    assert names.ifname_problem("a/b") and names.ifname_problem("") and names.ifname_problem("x" * 16)
    assert names.ifname_problem("eth0") is None and names.ifname_problem("bond0.100") is None


def test_sysctls_are_net_keys_of_the_sandbox_or_of_the_endpoints_interface():
    got = spec.parse_sysctls({"net.ipv4.conf.IFNAME.rp_filter": 2, "net.ipv6.conf.all.forwarding": True,
                              "net.ipv4.ip_local_port_range": " 20000\t 30000 ", "net.core.somaxconn": "512"})
    assert got == (("net.core.somaxconn", "512"), ("net.ipv4.conf.IFNAME.rp_filter", "2"),
                   ("net.ipv4.ip_local_port_range", "20000 30000"), ("net.ipv6.conf.all.forwarding", "1"))
    assert spec.sysctl_path("net.ipv4.conf.IFNAME.rp_filter", "eth0.10") == "net/ipv4/conf/eth0.10/rp_filter"
    assert spec.sysctl_path("net.ipv4.conf.IFNAME.rp_filter", "eth0", ".") == "net.ipv4.conf.eth0.rp_filter"
    assert spec.sandbox_wide("net.ipv4.conf.all.rp_filter") and not spec.sandbox_wide("net.ipv4.conf.IFNAME.rp_filter")


@pytest.mark.parametrize("sysctls,option,words", [
    ({"kernel.core_pattern": "x"}, "sysctls", "not a net.* sysctl key"),
    ({"net": 1}, "sysctls", "not a net.* sysctl key"),
    ({"net..ipv4.x": 1}, "sysctls", "not a net.* sysctl key"),
    ({"net.ipv4.conf.eth0/../x.y": 1}, "sysctls", "not a net.* sysctl key"),
    ({"net.ipv6.neigh.eth1.proxy_delay": 1}, "sysctls.net.ipv6.neigh.eth1.proxy_delay", "names the interface eth1"),
    ({"net.ipv4.route.IFNAME": 1}, "sysctls.net.ipv4.route.IFNAME", "IFNAME stands for"),
    ({"net.ipv4.ip_forward": None}, "sysctls.net.ipv4.ip_forward", "a number or a string"),
    ({"net.ipv4.ip_forward": ""}, "sysctls.net.ipv4.ip_forward", "not a sysctl value"),
    ({"net.ipv4.ip_forward": "1\x00"}, "sysctls.net.ipv4.ip_forward", "not a sysctl value"),
    ({"net.ipv4.ip_forward": "1\nnet.ipv4.x=1"}, "sysctls.net.ipv4.ip_forward", "not a sysctl value"),
    ({"net.ipv4.ip_forward": "x" * 257}, "sysctls.net.ipv4.ip_forward", "not a sysctl value"),
])
def test_bad_sysctls_name_the_option(sysctls, option, words):
    with pytest.raises(SpecError) as e:
        spec.parse_sysctls(sysctls)
    assert e.value.option == option and words in e.value.msg


def test_routes_are_distinct_with_the_kernels_metrics():
    got = spec.parse_routes([{"dst": "10.9.0.0/16", "gateway": "10.1.0.9"},
                             {"dst": "fd00:9::/64", "metric": 0, "table": 100},
                             {"dst": "0.0.0.0/0", "gateway": "10.1.0.9", "table": 100}])
    assert got == ({"dst": "10.9.0.0/16", "gateway": "10.1.0.9", "metric": 0, "table": 254},
                   {"dst": "fd00:9::/64", "gateway": None, "metric": 1024, "table": 100},
                   {"dst": "0.0.0.0/0", "gateway": "10.1.0.9", "metric": 0, "table": 100})
    assert spec.route_text(got[1]) == "fd00:9::/64 via the link (metric 1024, table 100)"
    assert spec.route_text(got[0]) == "10.9.0.0/16 via 10.1.0.9"


@pytest.mark.parametrize("routes,option,words", [
    ([{"dst": None}], "routes[0].dst", "is required"),
    ([{"dst": "10.9.0.0"}], "routes[0].dst", "no prefix length"),
    ([{"dst": "::/0"}], "routes[0].dst", "is the default route"),
    ([{"dst": "10.9.0.0/16", "table": 0}], "routes[0].table", "out of range"),
    ([{"dst": "fd00::/64", "metric": 1024}, {"dst": "fd00::/64"}], "routes[1].dst", "by routes[0] already"),
])
def test_bad_routes_name_the_option(routes, option, words):
    with pytest.raises(SpecError) as e:
        spec.parse_routes(routes)
    assert e.value.option == option and words in e.value.msg


def test_bandwidth_is_read_as_tc_writes_it():
    got = spec.parse_bandwidth({"ingress_rate": "10mbit", "egress_rate": "1.5Gbit", "egress_burst": "1mb"})
    assert got == {"ingress_rate": 10 ** 7, "ingress_burst": 32 * 1024, "egress_rate": 15 * 10 ** 8,
                   "egress_burst": 2 ** 20}, "a burst not given is 10 ms of the rate, at least 32 KiB"
    assert spec.parse_bandwidth({"ingress_rate": "100mbps"})["ingress_burst"] == 10 ** 6, "bytes per second: 10 ms"
    assert spec.parse_bandwidth({"ingress_rate": "1kibit", "ingress_burst": "2kbit"}) == {
        "ingress_rate": 1024, "ingress_burst": 256}
    assert spec.parse_bandwidth({}) is None and spec.parse_bandwidth(None) is None
    assert [spec.rate_text(n) for n in (10 ** 7, 1500, 8, 15 * 10 ** 8)] == ["10mbit", "1500bit", "8bit", "1500mbit"]
    assert [spec.size_text(n) for n in (32768, 1514, 2 ** 20)] == ["32kb", "1514b", "1mb"]
