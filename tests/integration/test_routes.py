# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Endpoint routes and default route metrics: made, read back, changed in place, reported as drift."""

from __future__ import annotations

from test_macvlan import ROUTER, network, wire  # pylint: disable=import-error


def _routes(host, ns, *args):
    return host.sh(["ip", "-o"] + list(args) + ["route", "show"], ns).stdout


def _router(host, net, address, far, address6=None, far6=None):
    """A router sandbox on network ``net`` at ``address`` that owns ``far`` (and ``far6``), an
    address no other route leads to."""
    made = host.converge("cnm_endpoint", name="router", network=net, sandbox=host.sb("router"), ipv4_address=address,
                         default_route=False, **({"ipv6_address": address6} if address6 else {}))
    host.sh(["ip", "addr", "add", far + "/32", "dev", "lo"], host.sb("router"))
    if far6:
        host.sh(["ip", "addr", "add", far6 + "/128", "dev", "lo"], host.sb("router"))
    return made


def test_routes_lead_through_a_neighbour_and_change_in_place(host):
    host.converge("cnm_network", name="lan", subnet="10.81.0.0/24")
    _router(host, "lan", "10.81.0.254", "10.99.0.1")
    sb = host.sb("app")
    route = {"dst": "10.99.0.0/24", "gateway": "10.81.0.254"}
    args = dict(name="app", network="lan", sandbox=sb, default_route=False, routes=[route])

    planned = host.ok("cnm_endpoint", check=True, **args)
    assert "route 10.99.0.0/24 via 10.81.0.254 in %s" % sb in planned["changes"], planned
    assert "lan/app" not in host.ok("cnm_info")["endpoints"] and sb not in host.sh(["ip", "netns", "list"]).stdout

    made = host.converge("cnm_endpoint", **args)
    assert made["endpoint"]["routes"] == [dict(route, metric=0, table=254)], made
    assert "10.99.0.0/24 via 10.81.0.254 dev eth0" in _routes(host, sb)
    assert host.ping(sb, "10.99.0.1"), "the route leads to the router"
    assert not host.ping(sb, "10.98.0.1"), "no other way out"

    # In place: a metric, and a route in a table of its own.
    args["routes"] = [dict(route, metric=50), {"dst": "10.98.0.0/24", "gateway": "10.81.0.254", "table": 100}]
    changed = host.ok("cnm_endpoint", diff=True, **args)
    assert changed["changes"] == [
        "route 10.99.0.0/24 via 10.81.0.254 (metric 50) in %s" % sb,
        "route 10.98.0.0/24 via 10.81.0.254 (table 100) in %s" % sb,
        "remove route 10.99.0.0/24 via 10.81.0.254 in %s" % sb], changed
    assert changed["diff"]["before"]["routes"] == [dict(route, metric=0, table=254)]
    assert changed["diff"]["after"]["routes"][0]["metric"] == 50
    assert "10.99.0.0/24 via 10.81.0.254 dev eth0 proto static metric 50" in _routes(host, sb), _routes(host, sb)
    assert _routes(host, sb).count("10.99.0.0/24") == 1, "the route of metric 0 went"
    assert "10.98.0.0/24 via 10.81.0.254 dev eth0" in host.sh(["ip", "route", "show", "table", "100"], sb).stdout
    assert host.ping(sb, "10.99.0.1"), "the same link, in place"
    assert host.ok("cnm_endpoint", **args)["changed"] is False, "routes of another table are read back too"

    # Removed by hand: cnm_info reports what the next run makes again, and that run does it.
    host.sh(["ip", "route", "del", "10.98.0.0/24", "table", "100"], sb)
    host.sh(["ip", "route", "del", "10.99.0.0/24"], sb)
    drift = sorted(d["problem"] for d in host.ok("cnm_info")["drift"])
    assert drift == ["route 10.98.0.0/24 via 10.81.0.254 (table 100) in %s" % sb,
                     "route 10.99.0.0/24 via 10.81.0.254 (metric 50) in %s" % sb], drift
    assert len(host.ok("cnm_endpoint", **args)["changes"]) == 2
    assert host.ok("cnm_info")["drift"] == [] and host.ping(sb, "10.99.0.1")

    # A link made again gets its routes again; routes taken out of the list go.
    host.sh(["ip", "link", "del", "eth0"], sb)
    again = host.ok("cnm_endpoint", **args)
    assert "route 10.99.0.0/24 via 10.81.0.254 (metric 50) in %s" % sb in again["changes"], again
    assert host.ping(sb, "10.99.0.1")
    gone = host.converge("cnm_endpoint", **dict(args, routes=[]))
    assert sorted(gone["changes"]) == ["remove route 10.98.0.0/24 via 10.81.0.254 (table 100) in %s" % sb,
                                       "remove route 10.99.0.0/24 via 10.81.0.254 (metric 50) in %s" % sb], gone
    assert "10.99.0.0" not in _routes(host, sb) and host.sh(["ip", "route", "show", "table", "100"], sb).stdout == ""
    assert not host.ping(sb, "10.99.0.1")


def test_ipv6_routes(host):
    host.converge("cnm_network", name="six", subnet=["10.84.0.0/24", "fd00:84::/64"], ipv6=True)
    _router(host, "six", "10.84.0.254", "10.97.0.1", "fd00:84::fe", "fd00:97::1")
    sb = host.sb("app")
    made = host.converge("cnm_endpoint", name="app", network="six", sandbox=sb, default_route=False,
                         routes=[{"dst": "fd00:97::/64", "gateway": "fd00:84::fe"}])
    assert made["endpoint"]["routes"] == [{"dst": "fd00:97::/64", "gateway": "fd00:84::fe", "metric": 1024,
                                           "table": 254}], "the kernel's metric of an IPv6 route"
    assert "fd00:97::/64 via fd00:84::fe dev eth0" in _routes(host, sb, "-6")
    assert host.sh(["ping", "-6", "-c", "1", "-W", "2", "fd00:97::1"], sb).returncode == 0


def test_the_lowest_default_route_metric_wins_and_ties_are_refused(host):
    for name, subnet in (("a", "10.82.0.0/24"), ("b", "10.83.0.0/24"), ("c", "10.85.0.0/24")):
        host.converge("cnm_network", name=name, subnet=subnet)
    host.sh(["ip", "addr", "add", "10.99.0.1/32", "dev", "lo"])  # the host, reached by either default route
    host.serve(None, 7001, "PEER")
    sb = host.sb("app")
    host.converge("cnm_endpoint", name="app", network="a", sandbox=sb, default_route_metric=200)
    made = host.converge("cnm_endpoint", name="app", network="b", sandbox=sb, default_route_metric=100)
    assert made["endpoint"]["default_route"] is True, "a metric asks for a default route"
    defaults = _routes(host, sb, "-4").count("default via")
    assert defaults == 2, _routes(host, sb, "-4")
    assert host.fetch(sb, "10.99.0.1", 7001).startswith("10.83.0."), "metric 100 (b) is used"

    swapped = host.converge("cnm_endpoint", name="app", network="a", sandbox=sb, default_route_metric=50)
    assert swapped["changes"] == ["route default via 10.82.0.1 in %s (metric 50)" % sb,
                                  "remove the default route via eth0 in %s (metric 200)" % sb], swapped
    assert host.fetch(sb, "10.99.0.1", 7001).startswith("10.82.0."), "now metric 50 (a) is"

    before = host.snapshot()
    tie = host.run("cnm_endpoint", name="app", network="c", sandbox=sb, default_route_metric=100)
    assert tie["failed"] and tie["option"] == "default_route_metric" and "app" in tie["msg"], tie
    assert host.snapshot() == before
    plain = host.converge("cnm_endpoint", name="app", network="c", sandbox=sb)
    assert plain["endpoint"]["default_route"] is False, "a third network gives none unless asked"

    host.converge("cnm_endpoint", name="app", network="a", sandbox=sb, default_route=False)
    assert host.fetch(sb, "10.99.0.1", 7001).startswith("10.83.0."), "b's route is left"
    assert _routes(host, sb, "-4").count("default via") == 1


def test_routes_of_a_link_made_whole_in_the_sandbox(host):
    """A macvlan endpoint (its link is made in the sandbox): routes through the router on its wire."""
    router = wire(host)
    host.converge("cnm_network", **network(host))
    host.sh(["ip", "addr", "add", "10.96.0.1/32", "dev", "lo"], router)
    sb = host.sb("m")
    made = host.converge("cnm_endpoint", name="m", network="lan", sandbox=sb, default_route=False,
                         routes=[{"dst": "10.96.0.0/24", "gateway": ROUTER, "metric": 7}])
    assert "10.96.0.0/24 via %s dev eth0 proto static metric 7" % ROUTER in _routes(host, sb), made

    assert host.ping(sb, "10.96.0.1")
