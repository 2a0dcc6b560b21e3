# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gateway modes, both families, with real packets: a neighbour namespace that routes the networks'
subnets through the host, the host itself, and sandboxes of the same and of another network."""

from __future__ import annotations

import pytest

HOST4, HOST6, CLIENT4, CLIENT6 = "10.253.0.1", "fd00:253::1", "10.253.0.2", "fd00:253::2"
PUBLISHED = 18080  # web's container port 8080; its port 9090 is not published


def _network(host, mode, **bridge):
    """A dual-stack network in ``mode`` (both families) with web (8080 published on host port
    18080, 9090 not), a peer on the same network, and a stranger on another network; the neighbour
    routes both subnets through the host. Returns (web's addresses, sandboxes, client)."""
    host.converge("cnm_network", name="net", subnet=["10.91.0.0/24", "fd00:91::/64"], ipv6=True,
                  bridge=dict(gateway_mode=mode, gateway_mode_ipv6=mode, **bridge))
    host.converge("cnm_network", name="other", subnet=["10.92.0.0/24", "fd00:92::/64"], ipv6=True)
    sbs = dict((n, host.sb(n)) for n in ("web", "peer", "stranger"))
    web = host.converge("cnm_endpoint", name="web", network="net", sandbox=sbs["web"],
                        publish=[{"host_port": PUBLISHED, "container_port": 8080}])["endpoint"]
    host.converge("cnm_endpoint", name="peer", network="net", sandbox=sbs["peer"])
    host.converge("cnm_endpoint", name="stranger", network="other", sandbox=sbs["stranger"])
    host.serve(sbs["web"], 8080, "web")
    host.serve(sbs["web"], 9090, "secret")
    client = host.outside("client", CLIENT4, HOST4, CLIENT6, HOST6)
    for subnet, via in (("10.91.0.0/24", HOST4), ("10.92.0.0/24", HOST4), ("fd00:91::/64", HOST6),
                        ("fd00:92::/64", HOST6)):
        host.sh(["ip", "route", "add", subnet, "via", via], client)
    return (web["ipv4_address"], web["ipv6_address"]), sbs, client


def answers(host, ns, address, port):
    return host.fetch(ns, address, port, timeout=3)


def refused(host, ns, address, port):
    """Whether nothing answers (a second is enough where something would)."""
    return host.fetch(ns, address, port, timeout=1).startswith("ERROR")


@pytest.mark.parametrize("mode", ["nat", "nat-unprotected"])
def test_nat_modes(host, mode):
    addresses, sbs, client = _network(host, mode)
    for family, (web, host_address) in enumerate(zip(addresses, (HOST4, HOST6))):
        assert answers(host, client, host_address, PUBLISHED) == "web", "published, through the host (%d)" % family
        assert answers(host, sbs["stranger"], host_address, PUBLISHED) == "web", "from another network's sandbox"
        assert answers(host, sbs["peer"], web, 9090) == "secret", "inside the network"
        assert answers(host, None, web, 9090) == "secret", "the host itself reaches its endpoints"
        if mode == "nat":
            assert refused(host, client, web, 9090), "no direct access from outside: %s" % web
            assert refused(host, client, web, 8080), "not even to the published container port"
        else:
            assert answers(host, client, web, 9090) == "secret", "nat-unprotected: direct access, as before 0.2.0"
    assert answers(host, None, "127.0.0.1", PUBLISHED) == "web"
    # The endpoints' own connections out are masqueraded behind the host.
    host.serve(client, 7000, "PEER")
    assert answers(host, sbs["web"], CLIENT4, 7000) == HOST4


def test_trusted_host_interfaces_reach_the_endpoints_directly(host):
    addresses, sbs, client = _network(host, "nat", trusted_host_interfaces=["out0"])
    assert answers(host, client, addresses[0], 9090) == "secret"
    assert answers(host, client, addresses[1], 9090) == "secret"
    assert refused(host, sbs["stranger"], addresses[0], 9090), "still isolated from other networks"


def test_routed_mode(host):
    addresses, sbs, client = _network(host, "routed")
    for web, host_address in zip(addresses, (HOST4, HOST6)):
        assert answers(host, client, web, 8080) == "web", "the published container port, directly"
        assert refused(host, client, web, 9090), "nothing else"
        assert refused(host, client, host_address, PUBLISHED), "no host port mapping"
        assert answers(host, sbs["peer"], web, 9090) == "secret"
    host.serve(client, 7000, "PEER")
    assert answers(host, sbs["web"], CLIENT4, 7000) == addresses[0], "no NAT: the endpoint's own address"
    assert answers(host, sbs["web"], CLIENT6, 7000) == addresses[1]


def test_isolated_mode(host):
    addresses, sbs, client = _network(host, "isolated")
    net = host.ok("cnm_info")["networks"]["net"]
    assert net["gateway"] is None and net["ipv6_gateway"] is None
    assert "inet " not in host.sh(["ip", "addr", "show", net["bridge"]["interface"]]).stdout, "no address on the bridge"
    assert "default" not in host.sh(["ip", "route"], sbs["web"]).stdout
    for web in addresses:
        assert answers(host, sbs["peer"], web, 9090) == "secret", "the network's endpoints reach each other"
        assert refused(host, client, web, 8080)
        assert refused(host, None, web, 9090), "not even the host"
    assert refused(host, sbs["web"], CLIENT4, 7000), "no way out"


def test_loopback_published_ports_answer_only_the_host(host):
    """A neighbour that sends packets for 127.0.0.0/8 to the host (moby/moby#45610)."""
    host.converge("cnm_network", name="net", subnet="10.93.0.0/24")
    web = host.sb("web")
    host.converge("cnm_endpoint", name="web", network="net", sandbox=web,
                  publish=[{"host_port": 18081, "container_port": 8080, "host_ip": "127.0.0.1"},
                           {"host_port": 18082, "container_port": 8080}])
    host.serve(web, 8080, "web")
    client = host.outside("client", CLIENT4, HOST4)
    assert answers(host, client, HOST4, 18082) == "web", "the neighbour, through the host's address"
    host.sh(["ip", "route", "del", "local", "127.0.0.0/8", "dev", "lo", "table", "local"], client)
    host.sh(["sysctl", "-qw", "net.ipv4.conf.eth0.route_localnet=1"], client)
    host.sh(["ip", "route", "add", "127.0.0.0/8", "via", HOST4], client)
    assert answers(host, None, "127.0.0.1", 18081) == "web", "the host itself"
    for port in (18081, 18082):
        for address in ("127.0.0.1", "127.0.0.2"):
            assert refused(host, client, address, port), (address, port)


def test_an_overlay_network_is_protected_like_a_bridge(pair):
    """Its distributed gateway is a bridge too: from a neighbour, only the published port answers."""
    h1 = pair[0]
    h1.converge("cnm_network", name="fab", driver="overlay", subnet="10.98.0.0/24", overlay={"vni": 4243})
    web = h1.sb("web")
    h1.converge("cnm_endpoint", name="web", network="fab", sandbox=web, ipv4_address="10.98.0.2",
                publish=[{"host_port": PUBLISHED, "container_port": 8080}])
    h1.serve(web, 8080, "web")
    h1.serve(web, 9090, "secret")
    client = h1.outside("client", CLIENT4, HOST4)
    h1.sh(["ip", "route", "add", "10.98.0.0/24", "via", HOST4], client)
    assert answers(h1, client, HOST4, PUBLISHED) == "web"
    assert refused(h1, client, "10.98.0.2", 9090) and refused(h1, client, "10.98.0.2", 8080)
    assert answers(h1, None, "10.98.0.2", 9090) == "secret", "the host itself still reaches it"
