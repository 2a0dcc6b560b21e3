# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The macvlan driver on this kernel, with real packets: the parent is one end of a veth
pair whose other end is a router namespace of the test (the wire). 802.1Q and ipvlan are
not in this kernel, so here they are the clear errors a user of such a kernel meets; the
vm_fleet scenario proves them in VMs."""

from __future__ import annotations

import subprocess

ROUTER = "10.70.0.1"


def wire(host):
    """trunk0 in the host, its other end in a router namespace with the gateway address."""
    router = host.sb("router")
    # eth0 takes ifindex 2 in the host, as a real host's first NIC does: a request that named
    # the new link's index or name in the sandbox would find this one instead.
    for cmd in (["ip", "-n", host.ns, "link", "add", "eth0", "type", "bridge"],
                ["ip", "netns", "add", router],
                ["ip", "-n", router, "link", "set", "lo", "up"],
                ["ip", "-n", host.ns, "link", "add", "trunk0", "type", "veth", "peer", "name", "wire0",
                 "netns", router],
                ["ip", "-n", host.ns, "link", "set", "trunk0", "up"],
                ["ip", "-n", router, "link", "set", "wire0", "up"],
                ["ip", "-n", router, "addr", "add", ROUTER + "/24", "dev", "wire0"]):
        subprocess.run(cmd, check=True)
    return router


def network(host, **extra):
    args = dict(name="lan", driver="macvlan", subnet="10.70.0.0/24", gateway=ROUTER, ip_range="10.70.0.128/25",
                macvlan=dict(parent="trunk0"))
    args.update(extra)
    return args


def endpoints(host, *names, **extra):
    return dict(network="lan", endpoints=[dict(name=n, sandbox=host.sb(n)) for n in names], **extra)


def test_macvlan_endpoints_reach_each_other_and_the_router(host):
    router = wire(host)
    host.converge("cnm_network", **network(host))
    result = host.converge("cnm_endpoint", **endpoints(host, "a", "b"))
    a, b = (ep["ipv4_address"] for ep in result["endpoints"])
    assert host.ping(host.sb("a"), b) and host.ping(host.sb("b"), a)
    assert host.ping(host.sb("a"), ROUTER)  # on the parent's wire
    assert "default via %s dev eth0" % ROUTER in host.sh(["ip", "route"], host.sb("a")).stdout
    link = host.sh(["ip", "-d", "link", "show", "eth0"], host.sb("a")).stdout
    assert "macvlan mode bridge" in link and result["endpoints"][0]["mac_address"] in link
    assert ROUTER not in host.sh(["ip", "-o", "addr"]).stdout  # the gateway is the router's, never the host's
    # The router sees each endpoint at its own MAC: no NAT, no proxy.
    neigh = host.sh(["ip", "neigh"], router).stdout
    assert a in neigh and result["endpoints"][0]["mac_address"] in neigh
    # The host cannot reach its own macvlan endpoints through their parent.
    assert not host.ping(None, a)


def test_dual_stack_macvlan_endpoints_route_via_the_routers_ipv6_address(host):
    router = wire(host)
    host.sh(["ip", "-6", "addr", "add", "fd00:70::1/64", "dev", "wire0", "nodad"], router)
    net = host.converge("cnm_network", **network(host, ipv6=True, subnet=["10.70.0.0/24", "fd00:70::/64"],
                                                 gateway=[ROUTER, "fd00:70::1"]))["network"]
    assert net["ipv6_gateway"] == "fd00:70::1" and "fd00:70::1" not in host.sh(["ip", "-o", "addr"]).stdout
    result = host.converge("cnm_endpoint", **endpoints(host, "a", "b"))
    a6, b6 = (ep["ipv6_address"] for ep in result["endpoints"])
    assert (a6, b6) == ("fd00:70::2", "fd00:70::3")
    assert host.ping(host.sb("a"), b6) and host.ping(host.sb("a"), "fd00:70::1"), "on the wire, over IPv6"
    assert "default via fd00:70::1 dev eth0" in host.sh(["ip", "-6", "route"], host.sb("a")).stdout
    assert host.sh(["cat", "/proc/sys/net/ipv6/conf/eth0/disable_ipv6"], host.sb("a")).stdout.strip() == "0"
    internal = host.converge("cnm_network", name="iso", driver="macvlan", ipv6=True)["network"]
    assert internal["internal"] and internal["gateway"] is None and internal["ipv6_gateway"] is None


def test_host_access_is_a_shim_with_a_pool_address(host):
    wire(host)
    host.converge("cnm_network", **network(host))
    host.converge("cnm_endpoint", **endpoints(host, "a"))
    address = host.ok("cnm_info")["endpoints"]["lan/a"]["ipv4_address"]
    assert not host.ping(None, address)
    net = host.converge("cnm_network", **network(host, macvlan=dict(parent="trunk0", host_access=True)))["network"]["macvlan"]
    assert net["shim"].startswith("cnms") and net["shim_address"].startswith("10.70.0.")
    assert host.ping(None, address)
    assert "10.70.0.128/25 dev %s" % net["shim"] in host.sh(["ip", "route"]).stdout
    # Turned off again: the shim and its address go.
    host.converge("cnm_network", **network(host))
    assert net["shim"] not in host.links() and not host.ping(None, address)
    pool = host.ok("cnm_info")["pools"]["local"]["lan"]
    assert "@host_access" not in pool["addresses"]


def test_an_internal_macvlan_network_has_its_own_parent_and_no_way_out(host):
    host.converge("cnm_network", name="lan", driver="macvlan", subnet="10.71.0.0/24")
    info = host.ok("cnm_info")["networks"]["lan"]
    assert info["internal"] and info["gateway"] is None
    assert info["macvlan"]["parent"] == "cnm-lan" and info["macvlan"]["parent_created"] and "ipvlan" not in info
    result = host.converge("cnm_endpoint", **endpoints(host, "a", "b"))
    assert host.ping(host.sb("a"), result["endpoints"][1]["ipv4_address"])
    assert "default" not in host.sh(["ip", "route"], host.sb("a")).stdout
    host.converge("cnm_network", name="lan", state="absent", force=True)
    assert "cnm-lan" not in host.links()


def test_networks_share_a_found_parent_which_outlives_them(host):
    router = wire(host)
    assert host.sh(["ip", "addr", "add", "10.72.0.1/24", "dev", "wire0"], router).returncode == 0
    host.converge("cnm_network", **network(host))
    host.converge("cnm_network", **dict(network(host), name="lan2", subnet="10.72.0.0/24", gateway="10.72.0.1",
                                        ip_range=None))
    host.converge("cnm_endpoint", **endpoints(host, "a"))
    host.converge("cnm_endpoint", network="lan2", endpoints=[dict(name="b", sandbox=host.sb("b"))])
    host.converge("cnm_network", name="lan", state="absent", force=True)
    assert "trunk0" in host.links() and host.ping(host.sb("b"), "10.72.0.1")  # lan2 goes on, on the same wire
    host.converge("cnm_network", name="lan2", state="absent", force=True)
    assert "trunk0" in host.links()  # found there, so never removed


def test_check_mode_and_diff_change_nothing(host):
    wire(host)
    before = host.snapshot()
    result = host.ok("cnm_network", check=True, diff=True, **network(host, macvlan=dict(parent="trunk0",
                                                                                        host_access=True)))
    assert result["changed"] and result["diff"]["after"]["macvlan"]["parent"] == "trunk0" and host.snapshot() == before
    host.converge("cnm_network", **network(host))
    before = host.snapshot()
    result = host.ok("cnm_endpoint", check=True, diff=True, **endpoints(host, "a"))
    assert result["changed"] and host.snapshot() == before


def test_bad_input_is_refused_naming_the_option_and_nothing_changes(host):
    wire(host)
    host.sh(["ip", "link", "set", "trunk0", "mtu", "1400"])
    host.ok("cnm_network", name="none", driver="null")  # the state_dir and its lock, as any run leaves them
    before = host.snapshot()
    cases = [
        (dict(macvlan=dict(parent="nosuch0")), "macvlan.parent", "nosuch0 does not exist"),
        (dict(macvlan=dict(parent="trunk0.5000")), "macvlan.parent", "VLAN ID 5000 of trunk0.5000 is out of range"),
        (dict(mtu=1500), "mtu", "1500 is above the MTU of parent trunk0 (1400)"),
        (dict(macvlan=dict(parent="trunk0", mode="vepa", host_access=True)), "macvlan.host_access", "bridge"),
        (dict(internal=True), "internal", "has no parent"),
        (dict(ipvlan=dict(parent="trunk0")), "ipvlan", "is only used with driver: ipvlan"),
    ]
    for extra, option, text in cases:
        result = host.run("cnm_network", **network(host, **extra))
        assert result.get("failed") and result.get("option") == option and text in result["msg"], (extra, result)
    result = host.run("cnm_network", **network(host, macvlan=dict(parent="trunk0", mode="tunnel")))
    assert result.get("failed") and "macvlan" in result["msg"] and "mode" in result["msg"]
    # This kernel has no 802.1Q and no ipvlan: the error names the module to load.
    result = host.run("cnm_network", **network(host, macvlan=dict(parent="trunk0.10")))
    assert result.get("failed") and "modprobe 8021q" in result["msg"], result
    result = host.run("cnm_network", name="lan", driver="ipvlan", subnet="10.70.0.0/24", ipvlan=dict(parent="trunk0"))
    assert result.get("failed") and "modprobe ipvlan" in result["msg"], result
    assert host.snapshot() == before
    # Passthru takes the parent for one network and one endpoint.
    host.converge("cnm_network", **network(host, mtu=1400, macvlan=dict(parent="trunk0", mode="passthru")))
    result = host.run("cnm_network", **dict(network(host, mtu=1400), name="lan2", subnet="10.72.0.0/24",
                                            gateway="10.72.0.1", ip_range=None))
    assert result.get("failed") and result["option"] == "macvlan.mode" and "passthru" in result["msg"]
    host.converge("cnm_endpoint", **endpoints(host, "a"))
    result = host.run("cnm_endpoint", **endpoints(host, "a", "b"))
    assert result.get("failed") and "passthru" in result["msg"] and result["option"].endswith("network")
    result = host.run("cnm_endpoint", network="lan", name="c", sandbox=host.sb("c"),
                      publish=[dict(container_port=80)])
    assert result.get("failed") and result["option"] == "publish" and "no NAT" in result["msg"]
