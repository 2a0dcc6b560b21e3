# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dual-stack bridge networks against the real kernel, checked with real IPv6 packets."""

from __future__ import annotations

import concurrent.futures
import ipaddress


def _outside6(host, name, address, peer):
    """Another namespace routed to the test host over IPv6 (and IPv4): addresses the test chose,
    from the documentation prefixes, on a veth of the host's."""
    ns = host.sb(name)
    assert host.sh(["ip", "netns", "add", ns]).returncode == 0
    host.sh(["ip", "link", "add", "out6", "type", "veth", "peer", "name", "eth0", "netns", ns])
    host.sh(["ip", "-6", "addr", "add", peer + "/64", "dev", "out6", "nodad"])
    host.sh(["ip", "link", "set", "out6", "up"])
    for cmd in (["ip", "-6", "addr", "add", address + "/64", "dev", "eth0", "nodad"],
                ["ip", "link", "set", "eth0", "up"], ["ip", "link", "set", "lo", "up"],
                ["ip", "-6", "route", "add", "default", "via", peer]):
        host.sh(cmd, ns)
    host.wait_link(ns, peer)
    return ns


def test_dual_stack_endpoints_reach_each_other_by_name_at_once(host):
    before = host.snapshot()
    planned = host.ok("cnm_network", name="web", subnet=["10.61.0.0/24", "fd00:61::/64"], ipv6=True, check=True,
                      diff=True)
    assert planned["changed"] and host.snapshot() == before, "check mode changes nothing"
    net = host.converge("cnm_network", name="web", subnet=["10.61.0.0/24", "fd00:61::/64"], ipv6=True)["network"]
    assert net == planned["network"]
    assert (net["ipv6"], net["ipv6_subnet"], net["ipv6_gateway"]) == (True, "fd00:61::/64", "fd00:61::1")
    bridge = host.sh(["ip", "-o", "addr", "show", "cnm-web"]).stdout
    assert "10.61.0.1/24" in bridge and "fd00:61::1/64" in bridge
    assert host.sh(["cat", "/proc/sys/net/ipv6/conf/all/forwarding"]).stdout.strip() == "1"

    a, b = host.sb("a"), host.sb("b")
    first = host.ok("cnm_endpoint", name="a", network="web", sandbox=a, diff=True)
    # Usable the moment the module returns: not tentative, no wait for duplicate address detection.
    assert host.ping(a, "fd00:61::1"), "the IPv6 gateway, right away"
    assert "tentative" not in host.sh(["ip", "-6", "addr", "show", "dev", "eth0", "scope", "global"], a).stdout
    assert first["endpoint"]["ipv6_address"] == "fd00:61::2"
    assert first["diff"]["after"]["ipv6_address"] == "fd00:61::2"
    again = host.ok("cnm_endpoint", name="a", network="web", sandbox=a)
    assert again["changed"] is False and again["changes"] == []
    host.converge("cnm_endpoint", name="b", network="web", sandbox=b, ipv6_address="fd00:61::b")
    routes = host.sh(["ip", "-6", "route", "show", "default"], b).stdout
    assert "via fd00:61::1 dev eth0" in routes
    assert host.ping(a, "fd00:61::b") and host.ping(b, "10.61.0.2")
    hosts = open("/etc/netns/%s/hosts" % a).read()
    assert "10.61.0.3\tb\n" in hosts and "fd00:61::b\tb\n" in hosts, hosts
    host.serve(b, 5000, "PEER")
    assert host.fetch(a, "fd00:61::b", 5000) == "fd00:61::2", "TCP over IPv6"
    assert host.fetch(a, "10.61.0.3", 5000) == "10.61.0.2", "and over IPv4, to the same socket"
    assert host.fetch(a, "b", 5000) in ("fd00:61::2", "10.61.0.2"), "by name"

    # The address moves in place; the old one goes.
    moved = host.converge("cnm_endpoint", name="b", network="web", sandbox=b, ipv6_address="fd00:61::c")
    assert moved["endpoint"]["ipv6_address"] == "fd00:61::c"
    addrs = host.sh(["ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "global"], b).stdout
    assert "fd00:61::c/64" in addrs and "fd00:61::b" not in addrs
    assert host.ping(a, "fd00:61::c")
    assert host.ok("cnm_info")["drift"] == []


def test_ipv4_networks_have_no_ipv6_and_the_default_ula_pool(host):
    host.converge("cnm_network", name="v4", subnet="10.62.0.0/24")
    host.converge("cnm_endpoint", name="e", network="v4", sandbox=host.sb("e"))
    assert host.sh(["cat", "/proc/sys/net/ipv6/conf/cnm-v4/disable_ipv6"]).stdout.strip() == "1"
    assert host.sh(["cat", "/proc/sys/net/ipv6/conf/eth0/disable_ipv6"], host.sb("e")).stdout.strip() == "1"
    assert "inet6" not in host.sh(["ip", "addr", "show", "dev", "eth0"], host.sb("e")).stdout

    made = host.converge("cnm_network", name="auto", ipv6=True)["network"]
    subnet = ipaddress.ip_network(made["ipv6_subnet"])
    assert subnet.prefixlen == 64 and subnet.subnet_of(ipaddress.ip_network("fd00::/8"))
    other = host.converge("cnm_network", name="auto2", ipv6=True)["network"]
    assert ipaddress.ip_network(other["ipv6_subnet"]).supernet(16) == subnet.supernet(16), "one /48 per host"
    assert other["ipv6_subnet"] != made["ipv6_subnet"]
    pooled = host.converge("cnm_network", name="pooled", ipv6=True,
                           address_pools=[{"base": "fd00:99::/56", "size": 64}, {"base": "10.63.0.0/16", "size": 24}])
    assert (pooled["network"]["ipv6_subnet"], pooled["network"]["subnet"]) == ("fd00:99::/64", "10.63.0.0/24")

    # IPv6 is turned on and off only while the network has no endpoints.
    refused = host.run("cnm_network", name="v4", subnet="10.62.0.0/24", ipv6=True)
    assert refused["failed"] and refused["option"] == "ipv6" and "has endpoints (e)" in refused["msg"]
    host.converge("cnm_network", name="auto", ipv6=False)
    pools = host.ok("cnm_info")["pools"]["local"]
    assert "auto:ipv6" not in pools and "auto2:ipv6" in pools


def test_published_ports_over_ipv6_and_port_ranges(host):
    host.converge("cnm_network", name="pub", subnet=["10.64.0.0/24", "fd00:64::/64"], ipv6=True)
    web, other = host.sb("web"), host.sb("other")
    ranged = [{"host_port": "8100-8102", "container_port": "8100-8102"}]
    before = host.snapshot()
    planned = host.ok("cnm_endpoint", name="web", network="pub", sandbox=web, publish=ranged, check=True, diff=True)
    assert planned["diff"]["after"]["publish"][0]["host_port"] == "8100-8102" and host.snapshot() == before
    host.converge("cnm_endpoint", name="web", network="pub", sandbox=web,
                  publish=[{"host_port": 8000, "container_port": 5000},
                           {"host_port": "8100-8102", "container_port": "8100-8102"},
                           {"host_port": "8200-8201", "container_port": "5000-5001"},
                           {"host_port": 8300, "container_port": 5000, "host_ip": "2001:db8:64::1"},
                           {"host_port": 9000, "container_port": 9000, "protocol": "sctp"}])
    host.converge("cnm_endpoint", name="other", network="pub", sandbox=other)
    for port, reply in ((5000, "five"), (5001, "five-one"), (8101, "eight-one-one")):
        host.serve(web, port, reply)
    client = _outside6(host, "client", "2001:db8:64::2", "2001:db8:64::1")
    assert host.fetch(client, "2001:db8:64::1", 8000) == "five", "a global IPv6 address of the host"
    assert host.fetch(None, "2001:db8:64::1", 8000) == "five", "the host itself, on that address"
    assert host.fetch(None, "127.0.0.1", 8000) == "five", "IPv4 still, on loopback"
    assert host.fetch(client, "2001:db8:64::1", 8101) == "eight-one-one", "a range, port for port"
    assert host.fetch(client, "2001:db8:64::1", 8201) == "five-one", "a range onto another range"
    assert host.fetch(client, "2001:db8:64::1", 8300) == "five", "bound to one IPv6 address"
    assert host.fetch(None, "127.0.0.1", 8300).startswith("ERROR"), "and to no IPv4 one"
    assert host.fetch(other, "2001:db8:64::1", 8000) == "five", "another container, through the host"
    rules = host.nft()
    assert "sctp . 9000 : 10.64.0.2 . 9000" in rules
    assert all("tcp . %d : fd00:64::2 . %d" % (p, p) in rules for p in (8100, 8101, 8102)), rules
    assert host.fetch(client, "2001:db8:64::1", 5000).startswith("ERROR"), "only published ports"

    overlap = host.run("cnm_endpoint", name="other", network="pub", sandbox=other,
                       publish=[{"host_port": "8102-8103", "container_port": "80-81"}])
    assert overlap["failed"] and overlap["option"] == "publish[0].host_port"
    assert "8102-8103/tcp is already published by endpoint 'web'" in overlap["msg"]
    uneven = host.run("cnm_endpoint", name="other", network="pub", sandbox=other,
                      publish=[{"host_port": "8500-8502", "container_port": "80-81"}])
    assert uneven["failed"] and uneven["option"] == "publish[0].host_port" and "one to one" in uneven["msg"]
    loopback = host.run("cnm_endpoint", name="other", network="pub", sandbox=other,
                        publish=[{"host_port": 8600, "container_port": 80, "host_ip": "::1"}])
    assert loopback["failed"] and loopback["option"] == "publish[0].host_ip" and "route_localnet" in loopback["msg"]


def test_isolation_and_internal_networks_over_ipv6(host):
    host.converge("cnm_network", name="a", subnet=["10.65.0.0/24", "fd00:65::/64"], ipv6=True)
    host.converge("cnm_network", name="b", subnet=["10.66.0.0/24", "fd00:66::/64"], ipv6=True)
    host.converge("cnm_network", name="vault", subnet=["10.67.0.0/24", "fd00:67::/64"], ipv6=True, internal=True)
    host.converge("cnm_network", name="quiet", subnet=["10.68.0.0/24", "fd00:68::/64"], ipv6=True,
                  bridge={"icc": False})
    sbs = dict((name, host.sb(name)) for name in ("a1", "a2", "b1", "v1", "v2", "q1", "q2"))
    for name, sb in sorted(sbs.items()):
        net = {"a": "a", "b": "b", "v": "vault", "q": "quiet"}[name[0]]
        host.converge("cnm_endpoint", name=name, network=net, sandbox=sb)
    client = _outside6(host, "client", "2001:db8:65::2", "2001:db8:65::1")
    assert host.ping(sbs["a1"], "fd00:65::3"), "same network"
    assert not host.ping(sbs["a1"], "fd00:66::2") and not host.ping(sbs["b1"], "fd00:65::2"), "isolated"
    assert host.ping(sbs["a1"], "2001:db8:65::2"), "out, masqueraded (NAT66)"
    assert host.ping(sbs["v1"], "fd00:67::3"), "inside an internal network"
    assert not host.ping(sbs["v1"], "2001:db8:65::2"), "no IPv6 way out of an internal network"
    assert not host.ping(sbs["v1"], "fd00:65::2") and not host.ping(sbs["a1"], "fd00:67::2")
    assert not host.ping(client, "fd00:67::2")
    assert host.ping(sbs["q1"], "fd00:68::1") and not host.ping(sbs["q1"], "fd00:68::3"), "icc: false over IPv6"

    # NAT66 off: the endpoint's own address is what the outside sees.
    host.serve(client, 7000, "PEER")
    assert host.fetch(sbs["a1"], "2001:db8:65::2", 7000) == "2001:db8:65::1"
    host.converge("cnm_network", name="a", subnet=["10.65.0.0/24", "fd00:65::/64"], ipv6=True,
                  bridge={"masquerade_ipv6": False})
    host.sh(["ip", "-6", "route", "add", "fd00:65::/64", "via", "2001:db8:65::1"], client)
    assert host.fetch(sbs["a1"], "2001:db8:65::2", 7000) == "fd00:65::2"


def test_sandbox_resolver_and_hosts_options(host):
    host.converge("cnm_network", name="n1", subnet="10.68.0.0/24")
    host.converge("cnm_network", name="n2", subnet="10.69.0.0/24")
    sb = host.sb("app")
    before = host.snapshot()
    planned = host.ok("cnm_endpoint", name="app", network="n1", sandbox=sb, dns=["192.0.2.53"], check=True, diff=True)
    assert planned["changed"] and planned["diff"]["after"]["dns"] == ["192.0.2.53"]
    assert host.snapshot() == before, "check mode writes no file"
    first = host.converge("cnm_endpoint", name="app", network="n1", sandbox=sb, dns=["192.0.2.53", "2001:db8::53"],
                          dns_search=["corp.example"], dns_options=["ndots:2", "edns0"],
                          extra_hosts={"registry.corp.example": "192.0.2.10"}, diff=True)
    assert first["endpoint"]["dns"] == ["192.0.2.53", "2001:db8::53"] == first["diff"]["after"]["dns"]
    resolv = open("/etc/netns/%s/resolv.conf" % sb).read()
    assert "nameserver 192.0.2.53\nnameserver 2001:db8::53\n" in resolv
    assert "search corp.example\n" in resolv and "options ndots:2 edns0\n" in resolv
    assert resolv.count("\nnameserver ") == 2 and resolv.count("\nsearch ") == 1, "the host's are replaced"
    assert "192.0.2.10\tregistry.corp.example\n" in open("/etc/netns/%s/hosts" % sb).read()
    assert "192.0.2.10" in host.sh(["getent", "hosts", "registry.corp.example"], sb).stdout

    # A second endpoint of the sandbox agrees or says nothing; it may add host names.
    host.converge("cnm_endpoint", name="app", network="n2", sandbox=sb, extra_hosts={"cache": "192.0.2.11"})
    hosts = open("/etc/netns/%s/hosts" % sb).read()
    assert "192.0.2.10\tregistry.corp.example\n" in hosts and "192.0.2.11\tcache\n" in hosts
    clash = host.run("cnm_endpoint", name="app", network="n2", sandbox=sb, dns=["192.0.2.54"])
    assert clash["failed"] and clash["option"] == "dns" and "must agree" in clash["msg"]
    clash = host.run("cnm_endpoint", name="app", network="n2", sandbox=sb, extra_hosts={"registry.corp.example": "192.0.2.9"})
    assert clash["failed"] and clash["option"] == "extra_hosts.registry.corp.example"
    bad = host.run("cnm_endpoint", name="x", network="n1", sandbox=host.sb("x"), dns=["resolver"])
    assert bad["failed"] and bad["option"] == "dns[0]" and "not a valid IP address" in bad["msg"]

    # In bulk items too; dropping the options gives the sandbox the host's resolvers again.
    items = [{"name": "j%d" % i, "sandbox": host.sb("j%d" % i), "dns_search": ["jobs.example"]} for i in range(2)]
    host.converge("cnm_endpoint", network="n1", endpoints=items)
    assert "search jobs.example\n" in open("/etc/netns/%s/resolv.conf" % host.sb("j1")).read()
    host.converge("cnm_endpoint", name="app", network="n1", sandbox=sb)
    assert "192.0.2.53" not in open("/etc/netns/%s/resolv.conf" % sb).read()


def test_labels_and_errors_of_the_new_options(host):
    made = host.converge("cnm_network", name="lab", subnet="10.70.0.0/24", labels={"team": "web", "tier": 2})
    assert made["network"]["labels"] == {"team": "web", "tier": "2"}
    changed = host.converge("cnm_network", name="lab", subnet="10.70.0.0/24", labels={"team": "api"}, diff=True)
    assert changed["diff"]["before"]["labels"] == {"team": "web", "tier": "2"}
    assert changed["diff"]["after"]["labels"] == {"team": "api"} and changed["changes"] == []
    assert host.ok("cnm_info")["networks"]["lab"]["labels"] == {"team": "api"}
    host.converge("cnm_endpoint", name="e", network="lab", sandbox=host.sb("e"))
    before = host.snapshot()
    for args, option, text in (
            (dict(name="x", subnet="fd00:71::/64"), "subnet", "set ipv6: true"),
            (dict(name="x", subnet=["10.71.0.0/24", "10.72.0.0/24"]), "subnet", "one per IP version"),
            (dict(name="x", ipv6=True, subnet=["10.71.0.0/24", "fd00:71::/127"]), "subnet", "at least a /126"),
            (dict(name="x", ipv6=True, gateway=["fd00:71::1"]), "gateway", "needs an explicit subnet"),
            (dict(name="x", driver="null", ipv6=True), "ipv6", "not supported by the null driver"),
            (dict(name="x", labels={"team": ["a"]}), "labels.team", "must be a string"),
            (dict(name="x", address_pools=[{"base": "fd00::/64", "size": 48}]), "address_pools[0].size",
             "between the base's prefix length")):
        failed = host.run("cnm_network", **args)
        assert failed["failed"] and failed["option"] == option and text in failed["msg"], (args, failed)
    failed = host.run("cnm_endpoint", name="y", network="lab", sandbox=host.sb("y"), ipv6_address="fd00::5")
    assert failed["failed"] and failed["option"] == "ipv6_address" and "has no IPv6" in failed["msg"]
    failed = host.run("cnm_endpoint", name="y", network="lab", sandbox=host.sb("y"), ipv6_address="10.70.0.9")
    assert failed["failed"] and failed["option"] == "ipv6_address" and "IPv6 one is expected" in failed["msg"]
    assert host.snapshot() == before, "nothing half-done"


def test_parallel_runs_never_share_an_ipv6_address(host):
    host.converge("cnm_network", name="busy6", subnet=["10.73.0.0/24", "fd00:73::/120"], ipv6=True)

    def endpoint(i):
        return host.run("cnm_endpoint", name="e%d" % i, network="busy6", sandbox=host.sb("e%d" % i))

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        eps = list(pool.map(endpoint, range(8)))
    assert all(not r.get("failed") for r in eps), eps
    assert len(set(r["endpoint"]["ipv6_address"] for r in eps)) == 8
    assert host.ok("cnm_info")["drift"] == []


def test_check_mode_reports_what_each_new_option_makes(host):
    """Check mode of every option new with dual-stack: nothing changes, and the plan is what a real
    run then makes (and a second run changes nothing)."""
    pools = [{"base": "fd00:77::/56", "size": 64}, {"base": "10.77.0.0/16", "size": 24}]
    network = dict(name="n6", ipv6=True, address_pools=pools, labels={"team": "web"},
                   bridge={"masquerade_ipv6": False, "host_binding_ip": "::"})
    endpoint = dict(name="e", network="n6", sandbox=host.sb("e"), ipv6_address="fd00:77::e", dns=["192.0.2.53"],
                    dns_search=["a.example"], dns_options=["ndots:2"], extra_hosts={"r": "192.0.2.9"},
                    publish=[{"host_port": "9000-9001", "container_port": "9000-9001"}])
    for module, key, args in (("cnm_network", "network", network), ("cnm_endpoint", "endpoint", endpoint)):
        before = host.snapshot()
        planned = host.ok(module, check=True, diff=True, **args)
        assert planned["changed"] and host.snapshot() == before, (module, "check mode changes nothing")
        made = host.converge(module, diff=True, **args)
        assert made[key] == planned[key] and made["diff"]["after"] == planned["diff"]["after"], module
    assert made["endpoint"]["ipv6_address"] == "fd00:77::e"
    assert "tcp . 9001 : fd00:77::e . 9001" in host.nft() and "published_ip " not in host.nft(), \
        "published on IPv6 addresses only (host_binding_ip ::)"
