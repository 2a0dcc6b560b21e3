# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Endpoint sysctls: set in the sandbox, read back, changed in place, reported as drift."""

from __future__ import annotations

from test_macvlan import network, wire  # pylint: disable=import-error


def _sysctl(host, ns, path):
    return host.sh(["cat", "/proc/sys/" + path], ns).stdout.strip()


def test_sysctls_are_set_in_the_sandbox_read_back_and_changed_in_place(host):
    host.converge("cnm_network", name="pets", subnet="10.77.0.0/24")
    sb = host.sb("web")
    quiet = {"net.ipv4.icmp_echo_ignore_all": True, "net.ipv4.conf.IFNAME.arp_ignore": 1,
             "net.ipv4.ip_local_port_range": "20000\t30000"}
    args = dict(name="web", network="pets", sandbox=sb, sysctls=quiet)

    planned = host.ok("cnm_endpoint", check=True, **args)
    assert planned["changed"] and "set net.ipv4.icmp_echo_ignore_all = 1 in %s" % sb in planned["changes"], planned
    assert sb not in host.sh(["ip", "netns", "list"]).stdout, "check mode made nothing"
    assert "pets/web" not in host.ok("cnm_info")["endpoints"], "and recorded nothing"

    made = host.converge("cnm_endpoint", **args)  # the second run changes nothing
    address = made["endpoint"]["ipv4_address"]
    assert made["endpoint"]["sysctls"] == {"net.ipv4.icmp_echo_ignore_all": "1", "net.ipv4.conf.IFNAME.arp_ignore": "1",
                                           "net.ipv4.ip_local_port_range": "20000 30000"}
    assert "set net.ipv4.conf.eth0.arp_ignore = 1 in %s" % sb in made["changes"], made
    assert _sysctl(host, sb, "net/ipv4/conf/eth0/arp_ignore") == "1"
    assert _sysctl(host, sb, "net/ipv4/ip_local_port_range").split() == ["20000", "30000"]
    assert _sysctl(host, None, "net/ipv4/icmp_echo_ignore_all") == "0", "the host's own is left alone"
    assert not host.ping(None, address), "the sandbox ignores echo requests"

    args["sysctls"] = dict(quiet, **{"net.ipv4.icmp_echo_ignore_all": 0})
    changed = host.ok("cnm_endpoint", diff=True, **args)
    assert changed["changes"] == ["set net.ipv4.icmp_echo_ignore_all = 0 in %s (was 1)" % sb], changed
    assert changed["diff"]["before"]["sysctls"]["net.ipv4.icmp_echo_ignore_all"] == "1"
    assert changed["diff"]["after"]["sysctls"]["net.ipv4.icmp_echo_ignore_all"] == "0"
    assert host.ping(None, address), "in place: the same link now answers"
    assert host.ok("cnm_endpoint", **args)["changed"] is False

    # Changed by hand: cnm_info reports what the next run sets again, and that run does it.
    host.sh(["sysctl", "-qw", "net.ipv4.conf.eth0.arp_ignore=0"], sb)
    drift = [(d["kind"], d["name"], d["problem"]) for d in host.ok("cnm_info")["drift"]]
    assert drift == [("endpoint", "pets/web", "set net.ipv4.conf.eth0.arp_ignore = 1 in %s (was 0)" % sb)], drift
    repaired = host.ok("cnm_endpoint", **args)
    assert repaired["changes"] == ["set net.ipv4.conf.eth0.arp_ignore = 1 in %s (was 0)" % sb], repaired
    assert host.ok("cnm_info")["drift"] == []

    # A renamed interface keeps its settings; one made again gets them again.
    renamed = host.ok("cnm_endpoint", **dict(args, ifname="lan0"))
    assert _sysctl(host, sb, "net/ipv4/conf/lan0/arp_ignore") == "1", renamed
    host.sh(["ip", "link", "del", "lan0"], sb)
    again = host.ok("cnm_endpoint", **dict(args, ifname="lan0"))
    assert "set net.ipv4.conf.lan0.arp_ignore = 1 in %s" % sb in again["changes"], again
    assert _sysctl(host, sb, "net/ipv4/conf/lan0/arp_ignore") == "1"


def test_a_sandboxs_own_sysctls_must_agree_between_its_endpoints(host):
    host.converge("cnm_network", name="a", subnet="10.78.0.0/24")
    host.converge("cnm_network", name="b", subnet="10.79.0.0/24")
    sb = host.sb("shared")
    host.converge("cnm_endpoint", name="one", network="a", sandbox=sb,
                  sysctls={"net.ipv4.tcp_syncookies": 0, "net.ipv4.conf.IFNAME.rp_filter": 2})
    before = host.snapshot()
    refused = host.run("cnm_endpoint", name="two", network="b", sandbox=sb, sysctls={"net.ipv4.tcp_syncookies": 1})
    assert refused["failed"] and refused["option"] == "sysctls.net.ipv4.tcp_syncookies", refused
    assert "its endpoints must agree" in refused["msg"]
    assert host.snapshot() == before
    # Each endpoint's own interface is its own business.
    two = host.converge("cnm_endpoint", name="two", network="b", sandbox=sb,
                        sysctls={"net.ipv4.tcp_syncookies": 0, "net.ipv4.conf.IFNAME.rp_filter": 0})
    ifname = two["endpoint"]["ifname"]
    assert _sysctl(host, sb, "net/ipv4/conf/%s/rp_filter" % ifname) == "0"
    assert _sysctl(host, sb, "net/ipv4/conf/eth0/rp_filter") == "2"
    assert _sysctl(host, sb, "net/ipv4/tcp_syncookies") == "0"


def test_a_link_made_whole_in_the_sandbox_gets_its_sysctls(host):
    """A macvlan endpoint's link is made in the sandbox (not moved there as a veth's end is)."""
    router = wire(host)
    host.converge("cnm_network", **network(host))
    sb = host.sb("m")
    args = dict(name="m", network="lan", sandbox=sb,
                sysctls={"net.ipv4.conf.IFNAME.arp_ignore": 2, "net.ipv4.icmp_echo_ignore_all": 1})
    made = host.converge("cnm_endpoint", **args)
    assert _sysctl(host, sb, "net/ipv4/conf/eth0/arp_ignore") == "2", made
    assert not host.ping(router, made["endpoint"]["ipv4_address"]), "the router's echo requests are ignored"
    quiet = dict(args["sysctls"], **{"net.ipv4.icmp_echo_ignore_all": 0})
    host.converge("cnm_endpoint", **dict(args, sysctls=quiet))
    assert host.ping(router, made["endpoint"]["ipv4_address"])


def test_sysctls_need_a_sandbox_of_the_endpoints_own(host):
    host.converge("cnm_network", name="h", driver="host")
    refused = host.run("cnm_endpoint", name="e", network="h", sandbox=host.sb("x"),
                       sysctls={"net.ipv4.tcp_syncookies": 0})
    assert refused["failed"] and refused["option"] == "sysctls" and "no sandbox of their own" in refused["msg"], refused
