# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel layer against the real kernel, in the test's throwaway namespace (never the
machine's own): what it reads, what it changes, and the errors it reports."""

from __future__ import annotations

import socket

import pytest

from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError
from ansible_collections.cnm.fabric.plugins.module_utils.kernel import Kernel, base, messages, sockets
from ansible_collections.cnm.fabric.plugins.module_utils.model import Link, VxlanInfo


@pytest.fixture
def ns(host):
    """The host namespace's key, with two veth pairs (a0-a1, b0-b1) up inside it."""
    for cmd in ("link add a0 type veth peer name a1", "link add b0 type veth peer name b1",
                "link set a0 up", "link set a1 up", "link set b0 up", "link set b1 up",
                "addr add 10.61.0.1/24 dev a0", "addr add 10.62.0.1/24 dev b0"):
        assert host.sh(["ip"] + cmd.split()).returncode == 0, cmd
    return host.ns


def fresh_view(key):
    kernel = Kernel()
    try:
        return kernel.view(key)
    finally:
        kernel.close()


def test_a_point_to_point_address_reads_as_the_local_one(host, ns):
    host.sh("ip addr add 10.63.0.1 peer 10.63.0.2/32 dev a1".split())
    assert "10.63.0.1/32" in fresh_view(ns).addresses["a1"]  # IFA_LOCAL; IFA_ADDRESS is the peer's


def test_the_default_route_is_the_one_of_lowest_metric(host, ns):
    host.sh("ip route add default via 10.61.0.2 metric 100".split())
    host.sh("ip route add default via 10.62.0.2 metric 50".split())
    view = fresh_view(ns)
    assert view.default_gateway == "10.62.0.2" and view.default_dev == view.link("b0").index


def test_a_multipath_default_route_reads_as_a_route(host, ns):
    host.sh("ip route add default nexthop via 10.61.0.2 nexthop via 10.62.0.2".split())
    view = fresh_view(ns)
    assert view.default_gateway == "10.61.0.2" and len(view.default_route.gateways) == 2


def test_routes_of_other_tables_are_read_with_the_view_or_apart(host, ns):
    kernel = Kernel()
    try:
        kernel.route_set("10.70.0.0/16", "a0", ns, gateway="10.61.0.2", metric=5, table=100)
        kernel.route_set("10.70.0.0/16", "a0", ns, table=70000)  # past 255: only in RTA_TABLE
        kernel.route_set("10.71.0.0/16", "b0", ns, gateway="10.62.0.2")
        kernel.read_tables(ns, [100])
        view = kernel.view(ns)
        a0, b0 = view.link("a0").index, view.link("b0").index
        assert [(r.dst, r.gateways, r.metric, r.table) for r in view.tables[100]] == [
            ("10.70.0.0/16", (("10.61.0.2", a0),), 5, 100)]
        assert ("10.71.0.0/16", (("10.62.0.2", b0),), 0, 254) in [(r.dst, r.gateways, r.metric, r.table)
                                                                  for r in view.routes]
        assert [(r.dst, r.table) for r in kernel.routes_in(ns, [70000, 71])] == [("10.70.0.0/16", 70000)]
        kernel.route_del("10.70.0.0/16", "a0", ns, metric=5, table=100)
        kernel.route_del("10.70.0.0/16", "a0", ns, metric=5, table=100)  # already gone: no error
        assert kernel.routes_in(ns, [100]) == []
    finally:
        kernel.close()
    assert "10.70.0.0/16" in host.sh("ip route show table 70000".split()).stdout


def test_removing_the_default_route_of_one_link_leaves_the_others(host, ns):
    host.sh("ip route add default via 10.61.0.2 metric 10".split())
    host.sh("ip route add default via 10.62.0.2 metric 20".split())
    kernel = Kernel()
    try:
        kernel.default_route_del("b0", ns)
        kernel.default_route_del("b0", ns)  # already gone: nothing to do, no error
    finally:
        kernel.close()
    routes = host.sh("ip route show default".split()).stdout
    assert "via 10.61.0.2" in routes and "10.62.0.2" not in routes


def test_errors_carry_the_kernels_reason(host, ns):
    kernel = Kernel()
    try:
        with pytest.raises(KernelError) as e:
            kernel.link_set("a0", ns, mtu=100000)
    finally:
        kernel.close()
    # The errno's text, then the kernel's own reason (its extended ACK).
    assert str(e.value) == "setting mtu 100000 on a0 in sandbox %s failed: Invalid argument: mtu greater " \
        "than device maximum" % ns


def test_links_read_back_as_written(host, ns):
    kernel = Kernel()
    try:
        kernel.link_rename("a1", "eth7", ns)
        kernel.link_set("eth7", ns, mtu=1400, address="02:42:0a:3d:00:07")
    finally:
        kernel.close()
    link = fresh_view(ns).link("eth7")
    assert link.up and link.mtu == 1400 and link.mac == "02:42:0a:3d:00:07" and link.kind == "veth"


def test_a_bridge_port_reads_its_hairpin_and_no_macvlan_mode(host, ns):
    for cmd in ("link add br7 type bridge", "link set a0 master br7", "link set b0 master br7",
                "link set a0 type bridge_slave hairpin on"):
        assert host.sh(["ip"] + cmd.split()).returncode == 0, cmd
    view = fresh_view(ns)
    assert view.link("a0").hairpin is True and view.link("b0").hairpin is False
    assert view.link("a0").mode is None and view.link("b0").mode is None  # mode is a macvlan's or ipvlan's


def _decoded_by_pyroute2(msg):
    """The Link of a link message as pyroute2's own decoder reads it: the oracle of ``_link``."""
    m = ifinfmsg(msg.data, offset=msg.offset)
    m.decode()
    info, kind, hairpin, vxlan, mode = m.get_attr("IFLA_LINKINFO"), None, None, None, None
    if info is not None:
        kind, data = info.get_attr("IFLA_INFO_KIND"), info.get_attr("IFLA_INFO_DATA")
        if kind in messages.CHILD_MODES:
            attr, modes = messages.CHILD_MODES[kind]
            value = data.get_attr(attr)  # by name or by number, as pyroute2's version has it
            mode = value if value in modes else next(name for name, v in modes.items() if v == value)
        if kind == "vxlan":
            vxlan = VxlanInfo(vni=data.get_attr("IFLA_VXLAN_ID"), port=data.get_attr("IFLA_VXLAN_PORT"),
                              local=data.get_attr("IFLA_VXLAN_LOCAL"), underlay=data.get_attr("IFLA_VXLAN_LINK"),
                              learning=bool(data.get_attr("IFLA_VXLAN_LEARNING")),
                              proxy=bool(data.get_attr("IFLA_VXLAN_PROXY")))
        if info.get_attr("IFLA_INFO_SLAVE_KIND") == "bridge":
            hairpin = bool(info.get_attr("IFLA_INFO_SLAVE_DATA").get_attr("IFLA_BRPORT_MODE"))
    inet6 = (m.get_attr("IFLA_AF_SPEC") or ifinfmsg()).get_attr("AF_INET6")
    conf = inet6.get_attr("IFLA_INET6_CONF") if inet6 is not None else None
    return Link(name=m.get_attr("IFLA_IFNAME"), index=m["index"], kind=kind, mtu=m.get_attr("IFLA_MTU"),
                up=bool(m["flags"] & 1), mac=m.get_attr("IFLA_ADDRESS"), master=m.get_attr("IFLA_MASTER"),
                hairpin=hairpin, vxlan=vxlan, parent=m.get_attr("IFLA_LINK"), mode=mode,
                ipv6_disabled=bool(conf["disable_ipv6"]) if conf else None, alias=m.get_attr("IFLA_IFALIAS"))


def test_links_read_from_the_buffer_as_pyroute2_decodes_them(host, ns):
    """``_link`` reads ten attributes straight from a link message; pyroute2's full decoding of
    the same bytes is its oracle, over every kind of link the collection reads."""
    for cmd in ("link add br7 type bridge", "link set a0 master br7", "link set b0 master br7",
                "link set a0 type bridge_slave hairpin on", "link set br7 mtu 1400 up",
                "link set b1 alias cnm:owner-7", "link add vx7 type vxlan id 4242 local 10.61.0.1 dev a1 dstport 4790 "
                "nolearning proxy", "link add vx8 type vxlan id 17 dstport 4789 learning",
                "link add mv0 link a1 type macvlan mode bridge", "link add mv1 link a1 type macvlan mode private",
                "link add mv2 link b1 type macvlan mode vepa", "link set mv0 address 02:42:0a:3d:00:09"):
        assert host.sh(["ip"] + cmd.split()).returncode == 0, cmd
    host.sh(["sysctl", "-qw", "net.ipv6.conf.mv1.disable_ipv6=1"])
    kernel = Kernel()
    try:
        msgs = kernel.nl(ns).dump(messages.ifinfo, sockets.RTM_GETLINK)
        links = [messages.link_of(msg) for msg in msgs]
    finally:
        kernel.close()
    assert links == [_decoded_by_pyroute2(msg) for msg in msgs]
    by_name = dict((link.name, link) for link in links)
    assert by_name["vx7"].vxlan == VxlanInfo(vni=4242, port=4790, local="10.61.0.1", underlay=by_name["a1"].index,
                                             learning=False, proxy=True)
    assert by_name["vx8"].vxlan.learning and by_name["vx8"].vxlan.local is None
    assert [by_name[n].mode for n in ("mv0", "mv1", "mv2")] == ["bridge", "private", "vepa"]
    assert by_name["mv0"].mac == "02:42:0a:3d:00:09" and by_name["mv0"].parent == by_name["a1"].index
    assert by_name["mv1"].ipv6_disabled is True and by_name["mv0"].ipv6_disabled is False
    assert (by_name["a0"].hairpin, by_name["b0"].hairpin, by_name["a1"].hairpin) == (True, False, None)
    assert by_name["b0"].master == by_name["br7"].index and by_name["br7"].mtu == 1400
    assert by_name["b1"].alias == "cnm:owner-7" and by_name["lo"].kind is None


def test_addresses_and_routes_read_from_the_buffer_as_pyroute2_decodes_them(host, ns):
    """Addresses and routes are read straight from their messages too; pyroute2's decoding of the
    same bytes is the oracle, over both families, a point-to-point address, gateways, metrics,
    a table past 255 and multipath routes."""
    for cmd in ("addr add 10.63.0.1 peer 10.63.0.2/32 dev a1", "addr add fd00:61::1/64 dev a0 nodad",
                "addr add fd00:62::1/64 dev b0 nodad", "route add default via 10.61.0.2 metric 7",
                "route add 10.80.0.0/16 nexthop via 10.61.0.2 nexthop via 10.62.0.2",
                "route add 10.81.0.0/16 via 10.62.0.2 table 70000", "route add 10.82.0.0/16 dev b1 metric 30",
                "-6 route add fd00:90::/48 via fd00:61::2 metric 9",
                "-6 route add fd00:91::/48 nexthop via fd00:61::2 dev a0 nexthop via fd00:62::2 dev b0"):
        assert host.sh(["ip"] + cmd.split()).returncode == 0, cmd
    kernel = Kernel()
    try:
        nl = kernel.nl(ns)
        routes = nl.dump(messages.dump_request(messages.table_dump, 0), sockets.RTM_GETROUTE)
        addresses = nl.dump(messages.dump_request(messages.family_msg, sockets.ifaddrmsg), sockets.RTM_GETADDR)
        view = messages.read_namespace(nl)
    finally:
        kernel.close()
    decoded = []
    for msg in routes:
        m = rtmsg(msg.data, offset=msg.offset)
        m.decode()
        if m["type"] == messages.RTN_UNICAST:
            hops = m.get_attr("RTA_MULTIPATH")
            decoded.append((
                "%s/%d" % (m.get_attr("RTA_DST") or ("::" if m["family"] == socket.AF_INET6 else "0.0.0.0"), m["dst_len"]),
                tuple((hop.get_attr("RTA_GATEWAY"), hop["oif"]) for hop in hops) if hops else
                ((m.get_attr("RTA_GATEWAY"), m.get_attr("RTA_OIF")),),
                m.get_attr("RTA_PRIORITY") or 0, m.get_attr("RTA_TABLE")))
    read = [(r.dst, r.gateways, r.metric, r.table) for r in map(messages.route_of, routes) if r is not None]
    assert read == decoded and len([r for r in read if len(r[1]) == 2]) == 2, read
    assert (("10.81.0.0/16", (("10.62.0.2", view.link("b0").index),), 0, 70000)) in read
    names, expected = dict((link.index, name) for name, link in view.links.items()), {}
    for msg in addresses:  # IPv6 link-local and loopback addresses are left out
        m = ifaddrmsg(msg.data, offset=msg.offset)
        m.decode()
        if m["family"] == socket.AF_INET or m["scope"] == 0:
            expected.setdefault(names[m["index"]], set()).add(
                "%s/%d" % (m.get_attr("IFA_LOCAL") or m.get_attr("IFA_ADDRESS"), m["prefixlen"]))
    assert view.addresses == expected, view.addresses
    assert view.addresses["a1"] == {"10.63.0.1/32"} and "fd00:62::1/64" in view.addresses["b0"]


def test_a_vxlan_devices_forwarding_and_neighbour_entries_read_back(host, ns):
    for cmd in ("ip link add vx9 type vxlan id 99 dstport 4789 local 10.61.0.1 nolearning proxy", "ip link set vx9 up",
                "bridge fdb append 00:00:00:00:00:00 dev vx9 dst 10.61.0.7",
                "bridge fdb add 02:42:0a:63:00:05 dev vx9 dst 10.61.0.7",
                "ip neigh add 10.99.0.5 lladdr 02:42:0a:63:00:05 dev vx9 nud permanent",
                "ip -6 neigh add fd00:99::5 lladdr 02:42:0a:63:00:05 dev vx9 nud permanent",
                "ip neigh add 10.99.0.6 lladdr 02:42:0a:63:00:06 dev vx9 nud reachable",
                "ip neigh add 10.61.0.9 lladdr 02:42:0a:3d:00:09 dev a0 nud permanent"):
        assert host.sh(cmd.split()).returncode == 0, cmd
    kernel = Kernel()
    try:
        index = kernel.view(ns).link("vx9").index
        fdb, arp = messages.read_neighbours(kernel.nl(ns), index)
    finally:
        kernel.close()
    assert fdb == {("00:00:00:00:00:00", "10.61.0.7"), ("02:42:0a:63:00:05", "10.61.0.7")}
    assert arp == {"10.99.0.5": "02:42:0a:63:00:05", "fd00:99::5": "02:42:0a:63:00:05"}, "permanent, of the device"


def test_a_namespace_with_no_route_yet_reads_as_empty(host):
    fresh = host.sb("fresh")
    kernel = Kernel()
    try:
        kernel.netns_add(fresh)
        view = kernel.view(fresh)
    finally:
        kernel.close()
    assert view.routes == [] and view.default_route is None and view.link("lo").up


def test_a_new_sandbox_is_set_up_by_one_batch(host, monkeypatch):
    """What a run does in a sandbox it made (lo up, a new link's settings, its addresses and
    routes) waits for the next read or request there that cannot wait, or for an operation that
    reaches into it otherwise (a sysctl), and goes in one batch; an error names every part of it."""
    sb = host.sb("new")
    kernel = Kernel()
    writes = []
    try:
        kernel.netns_add(sb)
        nl = kernel.nl(sb)
        for name in ("request", "batch"):
            monkeypatch.setattr(nl, name, lambda *a, _real=getattr(nl, name), _name=name: writes.append(_name) or _real(*a))
        kernel.link_addresses("lo", ["10.65.0.1/32"], (), sb)
        kernel.route_set("10.66.0.0/24", "lo", sb)
        assert writes == []
        kernel.sysctl_set("net/ipv4/conf/lo/rp_filter", "2", sb)
        assert writes == ["batch"]
        view = kernel.view(sb)
        kernel.link_set("lo", sb, state="down")  # nothing kept any more: sent at once
        assert writes[-1] == "request"
        kernel.netns_del(sb)
        kernel.netns_add(sb)
        kernel.link_addresses("lo", ["10.65.0.1/32", "10.65.0.1/32"], (), sb)
        with pytest.raises(KernelError) as e:
            kernel.flush(final=True)
    finally:
        kernel.close()
    assert view.link("lo").up and "10.65.0.1/32" in view.addresses["lo"]
    assert [r.dst for r in view.routes] == ["10.66.0.0/24"]
    assert str(e.value).startswith("setting lo up; addressing lo in sandbox %s failed: File exists" % sb)


def test_an_operation_after_a_deferred_one_finds_it_done(host, ns):
    """No caller says which operations defer: a link made after one of its name was marked for
    deletion (a deletion the batch holds) finds the old one gone, and is made anew."""
    host.sh("ip link add x0 type bridge".split())
    old = fresh_view(ns).link("x0").index
    kernel = Kernel()
    try:
        kernel.link_del_batch("x0", ns)
        kernel.link_add("bridge", "x0", ns)
        kernel.flush(final=True)
    finally:
        kernel.close()
    assert fresh_view(ns).link("x0").index != old


def test_what_is_kept_for_a_new_sandbox_is_sent_by_the_final_flush(host):
    sb = host.sb("kept")
    kernel = Kernel()
    try:
        kernel.netns_add(sb)
        kernel.flush(final=True)
    finally:
        kernel.close()
    assert fresh_view(sb).link("lo").up


def test_prefetch_reads_sandboxes_in_reader_processes(host, monkeypatch):
    monkeypatch.setattr(base, "PREFETCH_MIN", 1)  # fork readers for a handful
    keys = [host.sb("p%d" % i) for i in range(4)]
    maker = Kernel()
    try:
        for key in keys:
            maker.netns_add(key)
    finally:
        maker.close()
    host.sh("ip addr add 10.64.0.1/24 dev lo".split(), keys[2])
    kernel = Kernel()
    try:
        kernel.prefetch(keys + [host.sb("absent"), None])
        read = dict((key, kernel._views.get(key)) for key in keys)
        assert kernel.view(host.sb("absent")) is None
    finally:
        kernel.close()
    assert read == dict((key, fresh_view(key)) for key in keys)
    assert "10.64.0.1/24" in read[keys[2]].addresses["lo"]
