# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Correct kernel state while endpoints come and go: the gateway's MAC address, the connections
the host tracks, the default route of internal networks. Real packets, throwaway namespaces."""

from __future__ import annotations

import sys
import textwrap

from ansible_collections.cnm.fabric.plugins.module_utils import names

# A UDP client that always sends from the same port, as a resolver or a game client does.
STICKY_CLIENT = textwrap.dedent("""
    import socket, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 40123))
    s.settimeout(2)
    try:
        s.sendto(b"?", (sys.argv[1], int(sys.argv[2])))
        print(s.recvfrom(64)[0].decode())
    except OSError as e:
        print("ERROR", e)
""")


def sticky(host, address, port):
    return host.sh([sys.executable, "-c", STICKY_CLIENT, address, str(port)]).stdout.strip()


def test_internal_networks_give_no_default_route(host):
    host.converge("cnm_network", name="vault", subnet="10.71.0.0/24", internal=True)
    host.converge("cnm_network", name="front", subnet="10.72.0.0/24")
    v, both, asked = host.sb("v"), host.sb("both"), host.sb("asked")
    made = host.converge("cnm_endpoint", name="v", network="vault", sandbox=v)
    assert made["endpoint"]["default_route"] is False
    assert "default" not in host.sh(["ip", "route"], v).stdout
    # Fails at once, as on Docker, with no packet sent (ip route get only asks the kernel).
    assert "Network is unreachable" in host.sh(["ip", "route", "get", "198.51.100.7"], v).stderr
    assert host.ping(v, "10.71.0.1"), "the gateway still answers on the network"
    # A sandbox whose first network is internal takes its default route from the next one.
    host.converge("cnm_endpoint", name="b1", network="vault", sandbox=both)
    host.converge("cnm_endpoint", name="b2", network="front", sandbox=both)
    assert "default via 10.72.0.1" in host.sh(["ip", "route"], both).stdout
    # Asked for, an internal network gives one.
    host.converge("cnm_endpoint", name="a", network="vault", sandbox=asked, default_route=True)
    assert "default via 10.71.0.1" in host.sh(["ip", "route"], asked).stdout


def test_the_bridge_keeps_its_mac_address_as_endpoints_come_and_go(host):
    net = host.converge("cnm_network", name="pets", subnet="10.73.0.0/24")["network"]
    mac = names.mac_from_ipv4("10.73.0.1")

    def bridge_mac():
        return host.sh(["ip", "-o", "link", "show", net["bridge"]["interface"]]).stdout.split("link/ether ")[1].split()[0]

    assert bridge_mac() == mac
    sbs = dict((n, host.sb(n)) for n in ("a", "b", "c"))
    for name, sb in sbs.items():
        host.converge("cnm_endpoint", name=name, network="pets", sandbox=sb)
        assert host.ping(sb, "10.73.0.1") and bridge_mac() == mac
    for name in ("a", "b"):
        host.converge("cnm_endpoint", name=name, network="pets", state="absent")
        assert bridge_mac() == mac
        assert host.ping(sbs["c"], "10.73.0.1"), "c's neighbour entry for the gateway is still right"
    # A bridge whose address was changed (or made by an earlier release) gets it back in place.
    host.sh(["ip", "link", "set", net["bridge"]["interface"], "address", "02:00:00:00:00:99"])
    fixed = host.converge("cnm_network", name="pets", subnet="10.73.0.0/24")
    assert fixed["changes"] == ["set mac %s on %s (was 02:00:00:00:00:99)" % (mac, net["bridge"]["interface"])]
    assert bridge_mac() == mac


def test_connections_to_a_removed_endpoint_are_forgotten(host):
    host.converge("cnm_network", name="dns", subnet="10.74.0.0/24")
    publish = [{"host_port": 15353, "container_port": 53, "protocol": "udp"}]
    old, new = host.sb("old"), host.sb("new")
    host.converge("cnm_endpoint", name="old", network="dns", sandbox=old, publish=publish)
    host.serve(old, 53, "old", proto="udp")
    assert sticky(host, "127.0.0.1", 15353) == "old"
    host.converge("cnm_endpoint", name="old", network="dns", state="absent")
    host.converge("cnm_endpoint", name="new", network="dns", sandbox=new, publish=publish)
    host.serve(new, 53, "new", proto="udp")
    assert sticky(host, "127.0.0.1", 15353) == "new", "the same client, from the same port, reaches the new one"

    # A port mapping that changes: the old host port no longer leads to the endpoint.
    moved = [{"host_port": 15354, "container_port": 53, "protocol": "udp"}]
    host.converge("cnm_endpoint", name="new", network="dns", sandbox=new, publish=moved)
    assert sticky(host, "127.0.0.1", 15353).startswith("ERROR")
    assert sticky(host, "127.0.0.1", 15354) == "new"


def test_a_port_published_through_a_second_network_answers(host):
    host.converge("cnm_network", name="first", subnet="10.75.0.0/24")
    host.converge("cnm_network", name="second", subnet="10.76.0.0/24")
    app, other = host.sb("app"), host.sb("other")
    host.converge("cnm_endpoint", name="app1", network="first", sandbox=app)
    host.converge("cnm_endpoint", name="app2", network="second", sandbox=app,
                  publish=[{"host_port": 18001, "container_port": 80}])
    host.converge("cnm_endpoint", name="other", network="second", sandbox=other)
    assert "default via 10.75.0.1" in host.sh(["ip", "route"], app).stdout, "the default route is first's"
    host.serve(app, 80, "app")
    # A host with strict reverse-path filtering, as many are hardened.
    host.sh(["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1", "net.ipv4.conf.default.rp_filter=1"])
    client = host.outside("client", "10.252.0.2", "10.252.0.1")
    assert host.fetch(None, "127.0.0.1", 18001) == "app", "from the host"
    assert host.fetch(client, "10.252.0.1", 18001) == "app", "from a neighbour, through the host"
    assert host.fetch(other, "10.252.0.1", 18001) == "app", "from a sandbox of the same network"


def test_icc_false_still_lets_a_sandbox_reach_a_neighbours_published_port(host):
    """As Docker (with its default userland proxy): icc: false stops what the bridge forwards
    between two endpoints, not a connection to a port the host publishes."""
    host.converge("cnm_network", name="quiet", subnet="10.77.0.0/24", bridge={"icc": False})
    web, job = host.sb("web"), host.sb("job")
    host.converge("cnm_endpoint", name="web", network="quiet", sandbox=web,
                  publish=[{"host_port": 18002, "container_port": 80}])
    host.converge("cnm_endpoint", name="job", network="quiet", sandbox=job)
    host.serve(web, 80, "web")
    assert host.fetch(job, "web", 80).startswith("ERROR"), "icc: false"
    assert host.fetch(job, "10.77.0.1", 18002) == "web", "through the host's published port"
