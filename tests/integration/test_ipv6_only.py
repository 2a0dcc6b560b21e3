# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPv6-only networks (ipv4: false) against the real kernel, with real IPv6 packets: no IPv4
pool, address or rule anywhere, MACs derived from the IPv6 addresses, and NAT66, published
ports, isolation and hosts files as on a dual-stack network. ipvlan is proven in the VMs."""

from __future__ import annotations


from helpers import UNDERLAY, peers  # pylint: disable=import-error
from test_macvlan import wire  # pylint: disable=import-error

NET = dict(name="six", subnet="fd00:81::/64", ipv4=False, ipv6=True)


def test_an_ipv6_only_bridge_network(host):
    before = host.snapshot()
    planned = host.ok("cnm_network", check=True, diff=True, **NET)
    assert planned["changed"] and host.snapshot() == before, "check mode changes nothing"
    net = host.converge("cnm_network", **NET)["network"]
    assert net == planned["network"] and planned["diff"]["after"]["ipv4"] is False
    assert (net["ipv4"], net["subnet"], net["gateway"], net["ipv6_subnet"], net["ipv6_gateway"]) == \
        (False, None, None, "fd00:81::/64", "fd00:81::1")
    br = net["bridge"]["interface"]
    assert "inet " not in host.sh(["ip", "addr", "show", br]).stdout, "no IPv4 address on the bridge"
    assert "link/ether 06:00:00:00:00:01" in host.sh(["ip", "link", "show", br]).stdout, "a MAC from its address"
    assert "six" not in host.ok("cnm_info")["pools"]["local"], "no IPv4 pool taken"

    a, b = host.sb("a"), host.sb("b")
    made = host.converge("cnm_endpoint", network="six", endpoints=[dict(name="a", sandbox=a, aliases=["web"]),
                                                                   dict(name="b", sandbox=b)])["endpoints"]
    assert [(e["ipv4_address"], e["ipv6_address"], e["mac_address"]) for e in made] == [
        (None, "fd00:81::2", "06:00:00:00:00:02"), (None, "fd00:81::3", "06:00:00:00:00:03")]
    assert host.sh(["ip", "-4", "addr", "show", "dev", "eth0"], a).stdout == "", "no IPv4 in the sandbox"
    assert "default via fd00:81::1 dev eth0" in host.sh(["ip", "-6", "route"], a).stdout
    assert "06:00:00:00:00:02" in host.sh(["ip", "link", "show", "eth0"], a).stdout
    assert "fd00:81::3\tb\n" in open("/etc/netns/%s/hosts" % a).read()
    assert host.sh(["ping", "-6", "-c", "1", "-W", "2", "b"], a).returncode == 0, "by name"
    host.serve(a, 5000, "PEER")
    assert host.fetch(b, "web", 5000) == "fd00:81::3", "TCP by alias, no NAT inside"

    # Published ports (on every address: IPv6 ones, there being no IPv4) and NAT66 to the outside.
    host.converge("cnm_endpoint", name="a", network="six", sandbox=a, aliases=["web"],
                  publish=[{"host_port": 8080, "container_port": 5000}])
    client = host.outside("client", "198.51.100.2", "198.51.100.1", "2001:db8:81::2", "2001:db8:81::1")
    assert host.fetch(client, "2001:db8:81::1", 8080) == "2001:db8:81::2", "a published port, from outside"
    assert host.fetch(None, "2001:db8:81::1", 8080).startswith("2001:db8:81::1"), "from the host"
    assert host.fetch(client, "fd00:81::2", 5000).startswith("ERROR"), "only published ports"
    host.serve(client, 7000, "PEER")
    assert host.fetch(b, "2001:db8:81::2", 7000) == "2001:db8:81::1", "out, masqueraded (NAT66)"
    rules = host.nft()
    assert "tcp . 8080 : fd00:81::2 . 5000" in rules and "published_ip " not in rules, rules
    assert "ip saddr" not in rules and 'ip6 saddr fd00:81::/64 oifname != "%s" masquerade' % br in rules

    # Isolated from another IPv6-only network, whose bridge's MAC differs by its own gateway.
    other = host.converge("cnm_network", name="other", subnet="fd00:82::/64", gateway="fd00:82::fe", ipv4=False,
                          ipv6=True)["network"]
    assert "06:00:00:00:00:fe" in host.sh(["ip", "link", "show", other["bridge"]["interface"]]).stdout
    c = host.sb("c")
    host.converge("cnm_endpoint", name="c", network="other", sandbox=c)
    assert host.ping(c, "fd00:82::fe") and not host.ping(c, "fd00:81::2"), "networks stay apart"
    assert host.ok("cnm_info")["drift"] == []

    # IPv4 turned on only without endpoints; with none, off again, its pool released.
    refused = host.run("cnm_network", name="other", subnet=["10.82.0.0/24", "fd00:82::/64"], ipv6=True)
    assert refused["failed"] and refused["option"] == "ipv4" and "has endpoints (c)" in refused["msg"], refused
    host.converge("cnm_endpoint", name="c", network="other", sandbox=c, state="absent")
    dual = host.converge("cnm_network", name="other", subnet=["10.82.0.0/24", "fd00:82::/64"], ipv6=True)
    assert dual["network"]["ipv4"] and "other" in host.ok("cnm_info")["pools"]["local"]
    host.converge("cnm_network", name="other", subnet="fd00:82::/64", ipv4=False, ipv6=True)
    assert "10.82.0.1" not in host.sh(["ip", "addr"]).stdout and "other" not in host.ok("cnm_info")["pools"]["local"]


def test_an_address_far_into_a_subnet_needs_a_mac(host):
    host.converge("cnm_network", **NET)
    far = host.run("cnm_endpoint", name="far", network="six", sandbox=host.sb("far"), ipv6_address="fd00:81::1:0:0:5")
    assert far["failed"] and far["option"] == "ipv6_address" and "mac_address" in far["msg"], far
    made = host.converge("cnm_endpoint", name="far", network="six", sandbox=host.sb("far"),
                         ipv6_address="fd00:81::1:0:0:5", mac_address="06:aa:00:00:00:05")["endpoint"]
    assert made["mac_address"] == "06:aa:00:00:00:05"
    near = host.converge("cnm_endpoint", name="near", network="six", sandbox=host.sb("near"),
                         ipv6_address="fd00:81::ff:0:5")["endpoint"]
    assert near["mac_address"] == "06:ff:00:00:00:05", "the last 40 bits"


def test_ipv6_only_input_is_refused_naming_the_option(host):
    wire(host)
    host.converge("cnm_network", **NET)
    host.converge("cnm_network", name="v4", subnet="10.83.0.0/24")
    host.converge("cnm_endpoint", name="e", network="v4", sandbox=host.sb("e"))
    before = host.snapshot()
    for module, args, option, words in (
            ("cnm_network", dict(name="x", ipv4=False), "ipv4", "needs ipv6: true"),
            ("cnm_network", dict(NET, name="x", subnet=["10.84.0.0/24", "fd00:84::/64"]), "subnet", "IPv6-only"),
            ("cnm_network", dict(NET, name="x", subnet="fd00:84::/64", gateway="10.84.0.1"), "gateway", "IPv6-only"),
            ("cnm_network", dict(NET, name="x", address_pools=[{"base": "10.84.0.0/16", "size": 24}]),
             "address_pools[0].base", "IPv6"),
            ("cnm_network", dict(name="x", driver="null", ipv4=False), "ipv4", "no addresses"),
            ("cnm_network", dict(name="v4", subnet="fd00:83::/64", ipv4=False, ipv6=True), "ipv4", "has endpoints (e)"),
            ("cnm_network", dict(NET, name="x", driver="macvlan", macvlan={"parent": "trunk0", "host_access": True}),
             "macvlan.host_access", "IPv6-only"),
            ("cnm_network", dict(NET, name="x", driver="overlay", subnet="10.84.0.0/24", overlay={"vni": 84}),
             "subnet", "IPv6-only"),
            ("cnm_network", dict(NET, name="x", driver="overlay", overlay={"vni": 84, "host_address": "10.84.0.9"}),
             "overlay.host_address", "IPv6"),
            ("cnm_endpoint", dict(name="x", network="six", sandbox=host.sb("x"), ipv4_address="10.84.0.5"),
             "ipv4_address", "IPv6-only"),
            ("cnm_endpoint", dict(name="x", network="six", sandbox=host.sb("x"),
                                  publish=[{"host_port": 80, "container_port": 80, "host_ip": "127.0.0.1"}]),
             "publish[0].host_ip", "has no IPv4"),
            ("cnm_endpoint", dict(name="x", network="six", sandbox=host.sb("x"), routes=[{"dst": "10.9.0.0/16"}]),
             "routes[0].dst", "has no IPv4"),
            ("cnm_service", dict(name="api", network="six", endpoints=["x"], ports=[{"port": 80}]), "network",
             "IPv6-only")):
        failed = host.run(module, **args)
        assert failed["failed"] and failed["option"] == option and words in failed["msg"], (args, failed)
    assert host.snapshot() == before, "nothing half-done"


def test_ipv6_only_macvlan_endpoints_reach_the_router(host):
    router = wire(host)
    host.sh(["ip", "-6", "addr", "add", "fd00:85::1/64", "dev", "wire0", "nodad"], router)
    args = dict(name="lan", driver="macvlan", subnet="fd00:85::/64", gateway="fd00:85::1", ipv4=False, ipv6=True,
                macvlan={"parent": "trunk0"})
    before = host.snapshot()
    assert host.ok("cnm_network", check=True, **args)["changed"] and host.snapshot() == before
    net = host.converge("cnm_network", **args)["network"]
    assert (net["subnet"], net["ipv6_gateway"]) == (None, "fd00:85::1")
    eps = host.converge("cnm_endpoint", network="lan", endpoints=[dict(name=n, sandbox=host.sb(n)) for n in "ab"])
    (a, a6, mac), (_b, b6, _mac) = ((e["ipv4_address"], e["ipv6_address"], e["mac_address"]) for e in eps["endpoints"])
    assert (a, a6, b6, mac) == (None, "fd00:85::2", "fd00:85::3", "06:00:00:00:00:02")
    assert host.ping(host.sb("a"), "fd00:85::1") and host.ping(host.sb("a"), b6), "on the wire, over IPv6"
    assert "default via fd00:85::1 dev eth0" in host.sh(["ip", "-6", "route"], host.sb("a")).stdout
    assert host.sh(["ip", "-4", "addr", "show", "dev", "eth0"], host.sb("a")).stdout == ""
    assert "fd00:85::2 dev wire0 lladdr 06:00:00:00:00:02" in host.sh(["ip", "-6", "neigh"], router).stdout
    assert host.ok("cnm_info")["drift"] == []


def test_an_ipv6_only_overlay_across_hosts(pair):
    """IPv6-only inside VXLAN over the IPv4 underlay: the hosts know each endpoint by its IPv6
    address (their peers' ip), its MAC derived from it on both sides."""
    h1, h2 = pair
    net = dict(name="fab", driver="overlay", subnet="fd00:86::/64", ipv4=False, ipv6=True,
               overlay={"vni": 4686, "host_address": "fd00:86::f1"})
    made = h1.converge("cnm_network", **net)["network"]
    vx, br = made["overlay"]["vxlan_interface"], made["bridge"]["interface"]
    h2.converge("cnm_network", **dict(net, overlay={"vni": 4686, "local_ip": UNDERLAY["h2"]}))
    assert "fd00:86::f1/128" in h1.sh(["ip", "addr", "show", br]).stdout
    web, db = h1.sb("web"), h2.sb("db")
    missing = h1.run("cnm_endpoint", name="web", network="fab", sandbox=web)
    assert missing["failed"] and missing["option"] == "ipv6_address" and "fleet pool" in missing["msg"], missing
    h1.converge("cnm_endpoint", name="web", network="fab", sandbox=web, ipv6_address="fd00:86::2")
    db_made = h2.converge("cnm_endpoint", name="db", network="fab", sandbox=db, ipv6_address="fd00:86::3")["endpoint"]
    assert db_made["mac_address"] == "06:00:00:00:00:03"
    planned = h1.ok("cnm_overlay_peer", network="fab", check=True,
                    peers=peers({"name": "db", "ip": "fd00:86::3"}, vtep=UNDERLAY["h2"]))
    assert "add neighbour fd00:86::3 -> 06:00:00:00:00:03 to %s" % vx in planned["changes"], planned
    h1.converge("cnm_overlay_peer", network="fab", peers=peers({"name": "db", "ip": "fd00:86::3"}, vtep=UNDERLAY["h2"]))
    h2.converge("cnm_overlay_peer", network="fab", peers=[{"vtep": UNDERLAY["h1"], "host_address": "fd00:86::f1",
                                                           "endpoints": [{"name": "web", "ip": "fd00:86::2"}]}])
    assert "fd00:86::f1 dev %s lladdr 06:00:00:00:00:f1 PERMANENT" % vx in h2.sh(["ip", "-6", "neigh", "show"]).stdout
    assert "fd00:86::3\tdb\n" in open("/etc/netns/%s/hosts" % web).read()
    assert h1.sh(["ping", "-6", "-c", "1", "-W", "2", "db"], web).returncode == 0, "by name, across hosts"
    h2.serve(db, 6379, "PEER")
    assert h1.fetch(web, "fd00:86::3", 6379) == "fd00:86::2", "TCP across hosts, no NAT"
    assert h1.fetch(None, "fd00:86::3", 6379) == "fd00:86::f1", "the host, from its own address on the network"
    for h in (h1, h2):
        assert h.ok("cnm_info")["drift"] == []
    bad = h1.run("cnm_overlay_peer", network="fab", peers=peers({"name": "db", "ip": "10.86.0.3"}, vtep=UNDERLAY["h2"]))
    assert bad["failed"] and bad["option"] == "peers[0].endpoints[0].ip", bad
    bad = h1.run("cnm_overlay_peer", network="fab",
                 peers=peers({"name": "db", "ip": "fd00:86::3", "ip6": "fd00:86::4"}, vtep=UNDERLAY["h2"]))
    assert bad["failed"] and bad["option"] == "peers[0].endpoints[0].ip6" and "IPv6-only" in bad["msg"], bad


def test_no_ipv4_forwarding_for_an_ipv6_only_network(host):
    """The host's IPv4 forwarding is not the business of a network without IPv4."""
    host.sh(["sysctl", "-qw", "net.ipv4.ip_forward=0"])
    host.converge("cnm_network", **NET)
    assert host.sh(["cat", "/proc/sys/net/ipv4/ip_forward"]).stdout.strip() == "0"
    assert host.sh(["cat", "/proc/sys/net/ipv6/conf/all/forwarding"]).stdout.strip() == "1"


def test_an_isolated_ipv4_side_leaves_the_ipv6_default_route(host):
    """Gateway mode isolated on IPv4 only: the sandbox's way out is IPv6's gateway alone."""
    host.converge("cnm_network", name="half", subnet=["10.87.0.0/24", "fd00:87::/64"], ipv6=True,
                  bridge={"gateway_mode": "isolated"})
    sb = host.sb("e")
    made = host.converge("cnm_endpoint", name="e", network="half", sandbox=sb)["endpoint"]
    assert made["default_route"] and made["ipv4_address"] == "10.87.0.2"
    assert "default" not in host.sh(["ip", "-4", "route"], sb).stdout
    assert "default via fd00:87::1 dev eth0" in host.sh(["ip", "-6", "route"], sb).stdout
    assert host.ping(sb, "fd00:87::1") and not host.ping(sb, "10.87.0.1")
