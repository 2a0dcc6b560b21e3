# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dual-stack input, plans, rules and files, from hand-made records: no root, no kernel."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.cnm.fabric.plugins.module_utils import drivers, firewall, sandbox, spec
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import Observed
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.bridge import DRIVER as bridge
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.overlay import embedded_ipv6
from ansible_collections.cnm.fabric.plugins.module_utils.errors import SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.model import Link, NsView, Route
from ansible_collections.cnm.fabric.plugins.module_utils.networks import address_pools, default_ula
from ansible_collections.cnm.fabric.tests.unit.plans import nested, ops

NET_FLAT = {"name": "web", "driver": "bridge", "subnet": "10.1.0.0/24", "gateway": "10.1.0.1", "ipv6": True,
            "ipv6_subnet": "fd00:1::/64", "ipv6_gateway": "fd00:1::1", "mtu": 1500, "internal": False,
            "interface": "cnm-web", "hairpin": False, "icc": True, "masquerade": True, "masquerade_ipv6": True,
            "host_binding_ip": "0.0.0.0"}
NET = nested(NET_FLAT)
EP_FLAT = {"name": "a", "network": "web", "sandbox": "a", "ifname": "eth0", "ipv4_address": "10.1.0.2",
           "ipv6_address": "fd00:1::2", "mac_address": "02:42:0a:01:00:02", "default_route": True,
           "host_interface": "cnmva", "publish": []}
EP = nested(EP_FLAT)


def params(**kw):
    out = dict(name="web", driver="bridge", state="present", subnet=None, gateway=None, ip_range=None,
               aux_addresses=None, mtu=None, internal=False, force=False, bridge=None, ipv6=False)
    out.update(kw)
    return out


def test_subnets_split_by_ip_version():
    s = spec.network_spec(params(subnet=["10.1.0.0/24", "fd00:1::/64"], gateway=["fd00:1::fe"], ipv6=True,
                                 aux_addresses={"r4": "10.1.0.9", "r6": "fd00:1::9"}), drivers.DRIVERS)
    assert str(s.pool.subnet) == "10.1.0.0/24" and s.pool.gateway is None and s.pool.aux_addresses == (("r4", "10.1.0.9"),)
    six = (str(s.pool6.subnet), str(s.pool6.gateway), s.pool6.aux_addresses)
    assert six == ("fd00:1::/64", "fd00:1::fe", (("r6", "fd00:1::9"),))
    assert s.pool6.name == "web:ipv6" and s.ipv6
    only4 = spec.network_spec(params(subnet="10.1.0.0/24"), drivers.DRIVERS)
    assert only4.pool6 is None and not only4.ipv6


@pytest.mark.parametrize("kw,option,text", [
    (dict(subnet=["fd00:1::/64"]), "subnet", "set ipv6: true"),
    (dict(subnet=["10.1.0.0/24", "10.2.0.0/24"]), "subnet", "one per IP version"),
    (dict(ipv6=True, subnet=["fd00:1::/127"]), "subnet", "at least a /126"),
    (dict(ipv6=True, subnet=["fd00:1::1/64"]), "subnet", "did you mean fd00:1::/64?"),
    (dict(ipv6=True, subnet=["fd00:1::/64"], ip_range=["fd00:2::/80"]), "ip_range", "not inside"),
    (dict(aux_addresses={"r": "fd00::9"}), "aux_addresses", "set ipv6: true"),
    (dict(driver="host", ipv6=True), "ipv6", "not supported by the host driver"),
    (dict(labels={"a": {"b": 1}}), "labels.a", "must be a string"),
    (dict(address_pools=[{"base": "fd00::/48", "size": 127}]), "address_pools[0].size", "and 126"),
    (dict(bridge={"host_binding_ip": "::1"}), "bridge.host_binding_ip", "route_localnet"),
])
def test_dual_stack_errors_name_the_option(kw, option, text):
    with pytest.raises(SpecError) as e:
        spec.network_spec(params(**kw), drivers.DRIVERS)
    assert e.value.option == option and text in e.value.msg, e.value


def test_default_pools_by_version_and_the_host_ula():
    ula = default_ula("0123456789abcdef")
    assert ula.prefixlen == 48 and ula.subnet_of(ipaddress.ip_network("fd00::/8"))
    assert ula == default_ula("0123456789abcdef") != default_ula("fedcba9876543210")
    given = spec.parse_address_pools([{"base": "fd00:99::/56", "size": 64}], versions=(4, 6))
    assert address_pools(given, 6) == given and address_pools(given, 4) == spec.parse_address_pools(None)


def test_port_ranges():
    ports = spec.parse_publish([{"host_port": "8000-8010", "container_port": "8000-8010"},
                                {"host_port": 9000, "container_port": "5000", "protocol": "sctp"}])
    assert ports[0].as_dict() == {"host_port": "8000-8010", "container_port": "8000-8010", "protocol": "tcp",
                                  "host_ip": None}
    assert ports[1].as_dict()["host_port"] == 9000 and ports[1].count == 1
    for items, option, text in (
            ([{"host_port": "8000-8002", "container_port": "80-81"}], "publish[0].host_port", "one to one"),
            ([{"container_port": "90-80"}], "publish[0].container_port", "ends before it starts"),
            ([{"container_port": "80-70000"}], "publish[0].container_port", "out of range"),
            ([{"container_port": "8000-8005"}, {"host_port": 8003, "container_port": 1}], "publish[1].host_port",
             "listed twice")):
        with pytest.raises(SpecError) as e:
            spec.parse_publish(items)
        assert e.value.option == option and text in e.value.msg


def test_sandbox_options_are_validated_and_kept_as_given():
    opts = dict(spec.sandbox_options({"dns": ["192.0.2.1", "2001:db8::1"], "dns_search": ["a.example"],
                                      "dns_options": ["ndots:2"], "extra_hosts": {"r": "192.0.2.9"}}))
    assert opts == {"dns": ["192.0.2.1", "2001:db8::1"], "dns_search": ["a.example"], "dns_options": ["ndots:2"],
                    "extra_hosts": {"r": "192.0.2.9"}}
    assert spec.sandbox_options({"dns": [], "extra_hosts": {}}) == ()
    for given, option in (({"dns": ["x"]}, "dns[0]"), ({"dns_options": ["two words"]}, "dns_options[0]"),
                          ({"dns_search": ["bad name!"]}, "dns_search[0]"), ({"extra_hosts": {"r": "x"}}, "extra_hosts.r")):
        with pytest.raises(SpecError) as e:
            spec.sandbox_options(given)
        assert e.value.option == option


def test_resolv_and_hosts_with_the_sandboxs_own_settings():
    host = "nameserver 10.0.0.2\nsearch corp.example\noptions edns0\n"
    own = sandbox.render_resolv(host, settings={"dns": ("192.0.2.53",), "dns_options": ("ndots:2",)})
    assert own.splitlines()[1:] == ["search corp.example", "nameserver 192.0.2.53", "options ndots:2"]
    eps = {"web/a": EP, "web/b": nested(EP_FLAT, name="b", ipv4_address="10.1.0.3", ipv6_address="fd00:1::3", sandbox="b",
                                        extra_hosts={"r": "192.0.2.9"})}
    hosts = sandbox.render_hosts(eps, "a", extra_hosts={"r": "192.0.2.9"})
    assert "10.1.0.2\ta\n10.1.0.3\tb\nfd00:1::2\ta\nfd00:1::3\tb\n" in hosts
    assert hosts.endswith("192.0.2.9\tr\n")
    assert sandbox.sandbox_settings(eps, ["web/a", "web/b"]) == {"extra_hosts": {"r": "192.0.2.9"}}


def test_firewall_covers_both_versions():
    eps = {"web/a": nested(EP_FLAT, publish=[{"host_port": 8000, "container_port": 80, "protocol": "tcp", "host_ip": None},
                                             {"host_port": "9000-9001", "container_port": "5000-5001", "protocol": "udp",
                                              "host_ip": "2001:db8::1"}])}
    text = firewall.render({"web": NET}, eps)
    assert 'ip6 saddr fd00:1::/64 oifname != "cnm-web" masquerade' in text
    assert 'iifname { "cnm-web" } ip6 daddr ::1 drop' in text
    assert "elements = { tcp . 8000 : 10.1.0.2 . 80 }" in text and "elements = { tcp . 8000 : fd00:1::2 . 80 }" in text
    assert "meta nfproto ipv6 meta l4proto . th dport @published_ports fib daddr type local dnat ip6 to" in text
    assert "elements = { 2001:db8::1 . udp . 9000 : fd00:1::2 . 5000, 2001:db8::1 . udp . 9001 : fd00:1::2 . 5001 }" \
        in text and "10.1.0.2 . 5000" not in text
    no66 = firewall.render({"web": nested(NET_FLAT, masquerade_ipv6=False)}, eps)
    assert "ip6 saddr fd00:1::/64 oifname" not in no66


def test_bridge_plans_both_gateways_and_a_new_endpoint_in_one_batch():
    plan = ops(bridge.create_network(NET, NsView({}, {}), Observed()))
    assert ("addr_add", "cnm-web", "fd00:1::1/64") in plan and ("addr_add", "cnm-web", "10.1.0.1/24") in plan
    assert ("sysctl_set", "net/ipv6/conf/cnm-web/disable_ipv6", 0) in plan
    assert ("sysctl_set", "net/ipv6/conf/all/forwarding", 1) in plan
    br = Link("cnm-web", 5, "bridge", 1500, True, "aa:aa:aa:aa:aa:aa", None, ipv6_disabled=False)
    plan = ops(bridge.join(NET, EP, None, NsView({"cnm-web": br}, {}), None))
    assert plan[-1] == ("link_addresses", "eth0", ("10.1.0.2/24", "fd00:1::2/64"),
                        ((4, "10.1.0.1", 0), (6, "fd00:1::1", 1024)), "a")
    assert ("sysctl_set", "net/ipv6/conf/cnmva/disable_ipv6", 1) in plan, "a bridge port has no IPv6"
    assert ("sysctl_set", "net/ipv6/conf/eth0/disable_ipv6", 0, "a") in plan

    port = Link("cnmva", 6, "veth", 1500, True, "bb:bb:bb:bb:bb:bb", 5, False, ipv6_disabled=True)
    host = NsView({"cnm-web": br, "cnmva": port}, {"cnm-web": {"10.1.0.1/24", "fd00:1::1/64"}})
    inner = Link("eth0", 2, "veth", 1500, True, EP["mac_address"], None, ipv6_disabled=False)
    sb = NsView({"eth0": inner}, {"eth0": {"10.1.0.2/24", "fd00:1::2/64"}},
                [Route("0.0.0.0/0", (("10.1.0.1", 2),)), Route("::/0", (("fd00:1::1", 2),), 1024)])
    assert bridge.join(NET, EP, EP, host, sb) == [], "nothing to do"
    lost6 = NsView(sb.links, sb.addresses, sb.routes[:1])
    assert ops(bridge.join(NET, EP, EP, host, lost6)) == [("default_route_set", "fd00:1::1", "eth0", "a", 1024, 6)]


def test_overlay_ipv6_addresses_embed_the_ipv4_ones():
    assert embedded_ipv6("fd00:98::/64", "10.98.0.2") == "fd00:98::a62:2"
    assert embedded_ipv6("fd00:98::/96", "10.98.0.3") == "fd00:98::a62:3"
