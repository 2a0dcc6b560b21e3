# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Services: one name and VIP balanced across endpoints, in each client sandbox, with real
connections - on one bridge, and across two hosts of an overlay network."""

from __future__ import annotations

import collections

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
