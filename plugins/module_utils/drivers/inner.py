# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An endpoint's link inside its sandbox, planned alike by every driver that gives it one:
the inner end of a veth pair (bridge, overlay), or a link made whole in the sandbox
(macvlan, ipvlan, dummy: ``join_link``).

Each function compares the endpoint's record with the sandbox's snapshot and returns
only the Changes that differ.
"""

from __future__ import annotations

import ipaddress
from typing import Callable, Dict, List, Optional, Set, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError
from ansible_collections.cnm.fabric.plugins.module_utils.model import DEFAULT_DST, Link, NsView
from ansible_collections.cnm.fabric.plugins.module_utils.plan import Change, change
from ansible_collections.cnm.fabric.plugins.module_utils.records import EndpointRecord, NetworkRecord
from ansible_collections.cnm.fabric.plugins.module_utils.spec import route_metric


def cidrs(network: NetworkRecord, endpoint: EndpointRecord) -> Set[str]:
    """The endpoint's addresses (IPv4, IPv6 or both, as its network has them) with the network's
    prefix lengths."""
    out = set()
    for address, subnet in ((endpoint.get("ipv4_address"), network.get("subnet")),
                            (endpoint.get("ipv6_address"), network.get("ipv6_subnet"))):
        if address and subnet:
            out.add("%s/%d" % (address, ipaddress.ip_network(subnet).prefixlen))
    return out


def disable_ipv6_key(ifname: str) -> str:
    return "net/ipv6/conf/%s/disable_ipv6" % ifname


def ipv6_setting(network: NetworkRecord, ifname: str, link: Optional[Link], ns: Optional[str] = None,
                 port: bool = False) -> List[Change]:
    """IPv6 on the link as the network has it: on for a dual-stack network, off for the others
    (so an IPv4 network's links have no IPv6 at all, not even link-local), and off on a bridge
    ``port``, which forwards frames and needs no address of its own (its link-local address,
    duplicate address detection and multicast reports would be flooded to every other port).
    ``link`` None: new, and set either way (the namespace's default may be either)."""
    want = port or not (network.get("ipv6") or network.get("cni_ipam"))  # an IPAM plugin's may have IPv6
    if link is not None and (link.ipv6_disabled is None or link.ipv6_disabled == want):
        return []
    where = "" if ns is None else " in %s" % ns
    return [change("set %s = %d%s" % (disable_ipv6_key(ifname), want, where), "sysctl_set",
                   disable_ipv6_key(ifname), int(want), *((ns,) if ns else ()))]


def current_name(endpoint: EndpointRecord, old: Optional[EndpointRecord]) -> str:
    """The link's name now: its former one (``old``: the previous record) while the endpoint
    stays in the same sandbox."""
    return ifname_of(old if old and old.get("sandbox") == endpoint["sandbox"] else endpoint)


def ifname_of(endpoint: EndpointRecord) -> str:
    """The endpoint's interface in its sandbox (those of drivers that give it one have one)."""
    ifname = endpoint["ifname"]
    if ifname is None:
        raise KernelError("endpoint %s/%s has no interface name in its record; remove it and join it again"
                          % (endpoint["network"], endpoint["name"]), "ifname")
    return ifname


def check_free(view: Optional[NsView], ifname: str, ns: str) -> None:
    """Refuse a name another link of the sandbox has (``view`` None: the sandbox is new)."""
    if view is not None and view.link(ifname) is not None:
        raise KernelError("%s already exists in sandbox %s; choose another ifname" % (ifname, ns), "ifname")


def rename(endpoint: EndpointRecord, current: str, view: Optional[NsView]) -> List[Change]:
    """The link renamed to the endpoint's ifname, if it has another (which takes it down, and
    so flushes the routes through it)."""
    ifname, ns = ifname_of(endpoint), endpoint["sandbox"]
    if current == ifname:
        return []
    check_free(view, ifname, ns)
    return [change("rename %s to %s in %s" % (current, ifname, ns), "link_rename", current, ifname, ns)]


def addressing(endpoint: EndpointRecord, link: Optional[Link], have: Set[str],
               addresses: Set[str]) -> Tuple[List[Change], bool]:
    """The link's MAC (when the endpoint has one of its own) and its ``addresses`` (a set of
    CIDRs) among those it ``have``s; returns (changes, whether they flush its routes)."""
    ifname, ns, mac = ifname_of(endpoint), endpoint["sandbox"], endpoint["mac_address"]
    out: List[Change] = []
    if link is not None and mac and (link.mac or "").lower() != mac:
        out.append(change("set mac %s on %s in %s" % (mac, ifname, ns), "link_set", ifname, ns, address=mac))
    stale = sorted(have - addresses)
    for old in stale:  # first: removing a primary address takes the secondaries of its subnet
        out.append(change("remove %s from %s in %s" % (old, ifname, ns), "addr_del", ifname, old, ns))
    for address in sorted(addresses - have):
        out.append(change("add %s to %s in %s" % (address, ifname, ns), "addr_add", ifname, address, ns))
    return out, bool(stale)


def new_link(endpoint: EndpointRecord, addresses: Set[str], gateway: Optional[str],
             gateway6: Optional[str] = None) -> List[Change]:
    """A new link's ``addresses`` and, as the endpoint's ``default_route`` says, its default
    routes via ``gateway`` and ``gateway6`` (None: on-link), of each family it has an address of:
    one Change, sent to the kernel as one batch."""
    ifname, ns = ifname_of(endpoint), endpoint["sandbox"]
    routes: Tuple[Tuple[int, Optional[str], int], ...] = ()
    if endpoint["default_route"]:
        routes = tuple((version, via, default_metric(endpoint, version))
                       for version, via in ((4, gateway), (6, gateway6)) if address_of(endpoint, version))
    if not addresses and not routes:
        return []  # an IPAM plugin's, set when it has run (cni_ipam)
    text = "add %s to %s in %s" % (", ".join(sorted(addresses)), ifname, ns)
    if routes:
        text += "; route default via %s%s" % (" and ".join(via or ifname for _version, via, _metric in routes),
                                              _metric_text(endpoint))
    return [change(text, "link_addresses", ifname, tuple(sorted(addresses)), routes, ns)]


def default_metric(endpoint: EndpointRecord, version: int) -> int:
    """The metric of the endpoint's default route of IP ``version``, as the kernel keeps it."""
    return route_metric(endpoint.get("default_route_metric") or 0, version)


def _metric_text(endpoint: EndpointRecord) -> str:
    metric = endpoint.get("default_route_metric")
    return " (metric %d)" % metric if metric else ""


def default_route(endpoint: EndpointRecord, gateway: Optional[str], view: NsView, lost: bool,
                  index: Optional[int] = None, gateway6: Optional[str] = None) -> List[Change]:
    """The sandbox's default routes through the existing link ``index``: via ``gateway`` and
    ``gateway6`` (None: on-link), of each family the endpoint has an address of, as its
    ``default_route`` says; ``lost``: earlier changes flush them."""
    out: List[Change] = []
    for version, via in ((4, gateway), (6, gateway6)):
        out += _default_route(endpoint, version, via, view, lost, index)
    return out


def _default_route(endpoint: EndpointRecord, version: int, gateway: Optional[str], view: NsView, lost: bool,
                   index: Optional[int]) -> List[Change]:
    """The endpoint's default route of IP ``version``: the one of its metric through its link, and
    no other through it (``lost``: earlier changes flush them)."""
    ifname, ns, metric = ifname_of(endpoint), endpoint["sandbox"], default_metric(endpoint, version)
    # The default routes through the link, by metric (a multipath route is not the endpoint's).
    mine = dict((r.metric, r.gateways[0][0]) for r in ([] if lost else view.routes)
                if r.dst == DEFAULT_DST[version] and len(r.gateways) == 1 and r.gateways[0][1] == index)
    family = "" if version == 4 else "IPv6 "
    out: List[Change] = []
    wanted = endpoint["default_route"] and bool(address_of(endpoint, version))
    if wanted and (metric not in mine or mine[metric] != gateway):
        out.append(change("route %sdefault via %s in %s%s" % (family, gateway or ifname, ns, _metric_text(endpoint)),
                          "default_route_set", gateway, ifname, ns, metric=metric, **_version(version)))
    for stale in sorted(m for m in mine if m != metric or not wanted):
        out.append(change("remove the %sdefault route via %s in %s%s" % (
            family, ifname, ns, " (metric %d)" % stale if stale else ""), "default_route_del", ifname, ns,
            metric=stale, **_version(version)))
    return out


ADDRESS_OPTION = {4: "ipv4_address", 6: "ipv6_address"}  # an endpoint's option (and field) of each IP version


def address_of(endpoint: EndpointRecord, version: int) -> Optional[str]:
    """The endpoint's address of IP ``version`` (None: it has none)."""
    return endpoint.get("ipv4_address") if version == 4 else endpoint.get("ipv6_address")


def _version(version: int) -> Dict[str, int]:
    return {} if version == 4 else {"version": version}


def join_link(network: NetworkRecord, endpoint: EndpointRecord, old: Optional[EndpointRecord], view: Optional[NsView],
              create: Change, foreign: Callable[[Link], Optional[str]], gateway: Optional[str] = None,
              gateway6: Optional[str] = None, addresses: Optional[Set[str]] = None) -> List[Change]:
    """The plan of an endpoint whose link its driver makes whole inside the sandbox: ``create``,
    the Change that makes it; ``foreign(link)``, why a link of its name is not the endpoint's
    (None: it is, and is brought in line); ``view``, the sandbox's snapshot (None: new);
    ``gateway`` and ``gateway6``, those of its default routes (None: on-link); ``addresses``, its
    CIDRs when they are not those of the network's pools (cidrs)."""
    ifname, ns, mtu = ifname_of(endpoint), endpoint["sandbox"], network["mtu"]
    current = current_name(endpoint, old)
    addresses = cidrs(network, endpoint) if addresses is None else addresses
    link = view.link(current) if view else None
    out: List[Change] = []
    why = foreign(link) if link is not None else None
    if why:
        if old is None:
            check_free(view, current, ns)
        out.append(change("delete %s in %s (%s)" % (current, ns, why), "link_del", current, ns))
        link = None
    if link is None or view is None:
        if current != ifname:
            check_free(view, ifname, ns)
        return out + [create] + ipv6_setting(network, ifname, None, ns) + \
            new_link(endpoint, addresses, gateway, gateway6)
    out += rename(endpoint, current, view)
    lost = bool(out) or not link.up  # taking a link down flushes its routes
    if mtu is not None and link.mtu != mtu:
        out.append(change("set mtu %d on %s in %s" % (mtu, ifname, ns), "link_set", ifname, ns, mtu=mtu))
    if not link.up:
        out.append(change("set %s up in %s" % (ifname, ns), "link_set", ifname, ns, state="up"))
    out += ipv6_setting(network, ifname, link, ns)
    changes, flushed = addressing(endpoint, link, view.addresses.get(current, set()), addresses)
    return out + changes + default_route(endpoint, gateway, view, lost or flushed, link.index, gateway6=gateway6)


def leave_link(endpoint: EndpointRecord, kind: str, view: Optional[NsView]) -> List[Change]:
    """The removal of an endpoint's link of ``kind`` made whole in its sandbox."""
    ifname, ns = endpoint["ifname"], endpoint["sandbox"]
    link = view.link(ifname) if view and ifname else None
    if link is not None and link.kind == kind:
        return [change("delete %s in %s" % (ifname, ns), "link_del", ifname, ns)]
    return []
