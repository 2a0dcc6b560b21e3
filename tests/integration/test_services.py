# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Services: one name and VIP balanced across endpoints, in each client sandbox, with real
connections - on one bridge, and across two hosts of an overlay network."""

from __future__ import annotations

import collections
import os

from helpers import UNDERLAY, peers  # pylint: disable=import-error


def spread(host, ns, address, port, count):
    """How many of ``count`` new connections from sandbox ``ns`` each backend answered."""
    script = ("import socket,sys\nfor i in range(%d):\n    s=socket.create_connection((%r,%d),2)\n"
              "    print(s.recv(64).decode())\n    s.close()\n" % (count, address, port))
    out = host.sh(["python3", "-c", script], ns)
    return collections.Counter(out.stdout.split())


def test_a_service_on_one_bridge(host):
    host.converge("cnm_network", name="pets", subnet="10.74.0.0/24")
    items = [{"name": n, "sandbox": host.sb(n)} for n in ("web1", "web2", "web3", "client")]
    host.converge("cnm_endpoint", network="pets", endpoints=items)
    for n in ("web1", "web2", "web3"):
        host.serve(host.sb(n), 5000, n)
    before = host.snapshot()
    args = dict(name="web", network="pets", ports=[{"port": 80, "target_port": 5000}],
                endpoints=["web1", "web2", "web3"], aliases=["www"])
    planned = host.ok("cnm_service", check=True, diff=True, **args)
    assert planned["changed"] and host.snapshot() == before, "check mode changes nothing"
    made = host.converge("cnm_service", diff=True, **args)["service"]
    assert made["vip"] == "10.74.0.6" and made["backends"] == ["10.74.0.2", "10.74.0.3", "10.74.0.4"]
    client = host.sb("client")
    assert "10.74.0.6\tweb www\n" in open("/etc/netns/%s/hosts" % client).read()
    # The loaded rules are kept under the state directory: ip netns exec mounts all of /etc/netns/NAME.
    assert sorted(os.listdir("/etc/netns/%s" % client)) == ["hosts", "resolv.conf"]
    assert host.sh(["true"], client).stderr == ""
    counts = spread(host, client, "web", 80, 300)
    assert sorted(counts) == ["web1", "web2", "web3"], counts
    assert all(60 <= c <= 138 for c in counts.values()), counts
    assert host.ok("cnm_info")["services"]["pets/web"]["backends"] == made["backends"]
    # A backend leaves the list: it leaves the rotation, in place.
    host.converge("cnm_service", **dict(args, endpoints=["web1", "web2"]))
    assert set(spread(host, client, "www", 80, 30)) == {"web1", "web2"}
    # No backend: connections are refused at once, not left to time out.
    host.converge("cnm_service", **dict(args, endpoints=[]))
    assert "Connection refused" in host.fetch(client, "web", 80), "rejected"
    # Gone: the name, the table and the VIP.
    host.converge("cnm_service", name="web", network="pets", state="absent")
    assert "web www" not in open("/etc/netns/%s/hosts" % client).read()
    assert "cnm_svc" not in host.sh(["nft", "list", "tables"], client).stdout
    assert not [f for d, _subdirs, f in os.walk(os.path.join(host.state_dir, "sandboxes")) if f], "no rules kept"
    assert "@service:web" not in host.ok("cnm_info")["pools"]["local"]["pets"]["addresses"]
    assert host.ok("cnm_info")["drift"] == []


def test_a_service_across_overlay_hosts(pair):
    h1, h2 = pair
    net = dict(name="fab", driver="overlay", subnet="10.99.0.0/24", overlay={"vni": 4242})
    h1.converge("cnm_network", **net)
    h2.converge("cnm_network", **dict(net, overlay={"vni": 4242, "local_ip": UNDERLAY["h2"]}))
    h1.converge("cnm_endpoint", network="fab", endpoints=[
        {"name": "client", "sandbox": h1.sb("client"), "ipv4_address": "10.99.0.2"},
        {"name": "web1", "sandbox": h1.sb("web1"), "ipv4_address": "10.99.0.3"}])
    h2.converge("cnm_endpoint", network="fab", endpoints=[
        {"name": "web2", "sandbox": h2.sb("web2"), "ipv4_address": "10.99.0.4"},
        {"name": "web3", "sandbox": h2.sb("web3"), "ipv4_address": "10.99.0.5"}])
    h1.converge("cnm_overlay_peer", network="fab", peers=peers({"name": "web2", "ip": "10.99.0.4"},
                                                               {"name": "web3", "ip": "10.99.0.5"}, vtep=UNDERLAY["h2"]))
    h2.converge("cnm_overlay_peer", network="fab", peers=peers({"name": "client", "ip": "10.99.0.2"},
                                                               {"name": "web1", "ip": "10.99.0.3"}, vtep=UNDERLAY["h1"]))
    h1.serve(h1.sb("web1"), 5000, "web1")
    h2.serve(h2.sb("web2"), 5000, "web2")
    h2.serve(h2.sb("web3"), 5000, "web3")
    args = dict(name="web", network="fab", vip="10.99.0.250", ports=[{"port": 80, "target_port": 5000}],
                endpoints=["web1", "web2", "web3"])
    missing = h1.run("cnm_service", **dict(args, vip=None))
    assert missing["failed"] and missing["option"] == "vip" and "same on every host" in missing["msg"]
    made = h1.converge("cnm_service", **args)["service"]
    assert made["backends"] == ["10.99.0.3", "10.99.0.4", "10.99.0.5"], "local and remote backends"
    h2.converge("cnm_service", **args)
    counts = spread(h1, h1.sb("client"), "web", 80, 300)
    assert sorted(counts) == ["web1", "web2", "web3"] and all(60 <= c <= 138 for c in counts.values()), counts
    # web3 leaves its host: the peers say so, and it leaves the rotation on the client's host.
    h2.converge("cnm_endpoint", name="web3", network="fab", state="absent")
    h1.converge("cnm_overlay_peer", network="fab", peers=peers({"name": "web2", "ip": "10.99.0.4"}, vtep=UNDERLAY["h2"]))
    assert set(spread(h1, h1.sb("client"), "10.99.0.250", 80, 30)) == {"web1", "web2"}
    assert h1.ok("cnm_info")["drift"] == []


def test_the_routing_mesh_answers_on_every_host(pair):
    """A published service port answers on each host's own addresses, loopback included, and
    reaches backends on both hosts; a remote backend's replies come back through the host that
    took the connection (its source is that host's address on the network)."""
    h1, h2 = pair
    mine = {"h1": "10.99.0.254", "h2": "10.99.0.253"}
    for name, h in (("h1", h1), ("h2", h2)):
        overlay = {"vni": 4242, "local_ip": UNDERLAY[name], "host_address": mine[name]}
        h.converge("cnm_network", name="fab", driver="overlay", subnet="10.99.0.0/24", overlay=overlay)
    h1.converge("cnm_endpoint", name="web1", network="fab", sandbox=h1.sb("web1"), ipv4_address="10.99.0.3")
    h2.converge("cnm_endpoint", name="web2", network="fab", sandbox=h2.sb("web2"), ipv4_address="10.99.0.4")
    for (me, h), (other, ep) in ((("h1", h1), ("h2", {"name": "web2", "ip": "10.99.0.4"})),
                                 (("h2", h2), ("h1", {"name": "web1", "ip": "10.99.0.3"}))):
        made = h.converge("cnm_overlay_peer", network="fab",
                          peers=[dict(peers(ep, vtep=UNDERLAY[other])[0], host_address=mine[other])])
        assert made["peer_hosts"] == {UNDERLAY[other]: mine[other]}
    assert "10.99.0.253 dev %s lladdr 02:42:0a:63:00:fd PERMANENT" % h1.ok("cnm_info")["networks"]["fab"][
        "overlay"]["vxlan_interface"] in h1.sh(["ip", "neigh", "show", "nud", "permanent"]).stdout
    h1.serve(h1.sb("web1"), 5000, "web1")
    h2.serve(h2.sb("web2"), 5000, "web2")
    args = dict(name="web", network="fab", vip="10.99.0.250", endpoints=["web1", "web2"],
                ports=[{"port": 80, "target_port": 5000, "published": 8000}])
    before = h1.snapshot()
    planned = h1.ok("cnm_service", check=True, **args)
    assert planned["changed"] and h1.snapshot() == before, "check mode changes nothing"
    for h in (h1, h2):
        h.converge("cnm_service", **args)
    rules = h1.nft()
    assert "tcp dport 8000 fib daddr type local dnat ip to numgen random mod 2 map " \
           "{ 0 : 10.99.0.3 . 5000, 1 : 10.99.0.4 . 5000 }" in rules, rules
    assert 'oifname "cnm-fab" ct status dnat ip daddr 10.99.0.4 snat ip to 10.99.0.254' in rules, "the remote one"
    # Each host answers on its underlay address (from the other host) and on its loopback.
    for client, target in ((h2, UNDERLAY["h1"]), (h1, UNDERLAY["h2"]), (h1, "127.0.0.1"), (h2, "127.0.0.1")):
        counts = spread(client, None, target, 8000, 60)
        assert sorted(counts) == ["web1", "web2"] and min(counts.values()) >= 10, (target, counts)
    # web1 sees the client's own address; web2, behind the other host, sees h1's address on the network.
    h1.serve(h1.sb("web1"), 5001, "PEER")
    h2.serve(h2.sb("web2"), 5001, "PEER")
    for h in (h1, h2):
        h.converge("cnm_service", **dict(args, ports=[{"port": 81, "target_port": 5001, "published": 8001}]))
    seen = spread(h2, None, UNDERLAY["h1"], 8001, 40)
    assert set(seen) == {UNDERLAY["h2"], mine["h1"]}, seen
    # A backend that leaves the list leaves the mesh.
    for h in (h1, h2):
        h.converge("cnm_service", **dict(args, endpoints=["web1"]))
    assert set(spread(h2, None, UNDERLAY["h1"], 8000, 20)) == {"web1"}
    assert "snat" not in h1.nft(), "no remote backend, no SNAT"
    assert h1.ok("cnm_info")["drift"] == []
    # The port is the host's: an endpoint may not publish it, nor another service.
    taken = h1.run("cnm_endpoint", name="web3", network="fab", sandbox=h1.sb("web3"), ipv4_address="10.99.0.5",
                   publish=[{"host_port": 8000, "container_port": 80}])
    assert taken["failed"] and taken["option"] == "publish[0].host_port" and "service 'web'" in taken["msg"], taken
    again = h1.run("cnm_service", **dict(args, name="api", vip="10.99.0.249"))
    assert again["failed"] and again["option"] == "ports[0].published" and "service 'web'" in again["msg"], again


def test_a_published_service_of_an_overlay_network_needs_the_hosts_address(pair):
    h1, _h2 = pair
    h1.converge("cnm_network", name="fab", driver="overlay", subnet="10.99.0.0/24", overlay={"vni": 4242})
    result = h1.run("cnm_service", name="web", network="fab", vip="10.99.0.250",
                    ports=[{"port": 80, "published": 8000}])
    assert result["failed"] and result["option"] == "ports[0].published" and "overlay.host_address" in result["msg"]
    bad = h1.run("cnm_network", name="fab", driver="overlay", subnet="10.99.0.0/24",
                 overlay={"vni": 4242, "host_address": "10.98.0.1"})
    assert bad["failed"] and bad["option"] == "overlay.host_address", bad


def test_a_service_may_not_publish_an_endpoints_host_port(host):
    """An endpoint's published port, bound to one address, still belongs to it for a service,
    which answers on every local address; the refused call changes nothing."""
    host.converge("cnm_network", name="pets", subnet="10.74.0.0/24")
    host.converge("cnm_endpoint", name="web1", network="pets", sandbox=host.sb("web1"),
                  publish=[{"host_port": "9000-9002", "container_port": "80-82", "host_ip": "127.0.0.1"}])
    before = host.snapshot()
    for check in (True, False):
        taken = host.run("cnm_service", check=check, name="web", network="pets", endpoints=["web1"],
                         ports=[{"port": 80, "published": 9001}])
        assert taken["failed"] and taken["option"] == "ports[0].published", taken
        assert taken["msg"] == "ports[0].published: host port 9001/tcp is published by endpoint 'web1' of network 'pets'", taken
        assert host.snapshot() == before
    assert host.converge("cnm_service", name="web", network="pets", endpoints=["web1"],
                         ports=[{"port": 80, "published": 9003}])["service"]["backends"] == ["10.74.0.2"]
