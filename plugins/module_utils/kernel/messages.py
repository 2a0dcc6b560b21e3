# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Netlink messages: the requests, built with pyroute2's message classes, and the replies of links
and neighbours, read from the buffer (the attributes used here are few: decoding every one was
most of the cost of reading a host of a thousand links)."""

from __future__ import annotations

import errno
import functools
import socket
import struct
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils.kernel.sockets import (
    HAS_PYROUTE2, NetlinkError, ifaddrmsg, ifinfmsg, ndmsg, rtmsg, tcmsg, RTM_GETADDR, RTM_GETLINK, RTM_GETNEIGH,
    RTM_GETQDISC, RTM_GETROUTE, encoder)
from ansible_collections.cnm.fabric.plugins.module_utils.model import Link, NsView, Route, VxlanInfo

IFF_UP = 1
NLA_F_NESTED = 0x8000  # the bridge reads IFLA_PROTINFO as port attributes only when it is marked nested
NLA_F_NET_BYTEORDER = 0x4000
AF_BRIDGE = 7
NUD_NOARP, NUD_PERMANENT = 0x40, 0x80
IFA_F_NODAD = 0x02
IN6_ADDR_GEN_MODE_NONE = 1
FAMILIES = {4: socket.AF_INET, 6: socket.AF_INET6}
NTF_SELF = 0x02
RTEXT_FILTER_SKIP_STATS = 1 << 3  # link dumps without counters, which nothing here reads
RT_TABLE_MAIN, RTN_UNICAST, RTPROT_STATIC = 254, 1, 4
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_NOWHERE = 0, 253, 255
Span = Tuple[int, int]  # where an attribute's payload starts and ends in a message's buffer
GET_TYPES = (RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, RTM_GETNEIGH) if HAS_PYROUTE2 else ()


def ifinfo(index: int = 0, family: int = 0, up: Optional[bool] = None, attrs: Iterable[Any] = ()) -> Any:
    msg = ifinfmsg()
    msg["family"] = family
    msg["index"] = index
    if up is not None:
        msg["flags"] = IFF_UP if up else 0
        msg["change"] = IFF_UP
    msg["attrs"] = list(attrs)
    return msg


def link_attrs(ifname: Optional[str] = None, mtu: Optional[int] = None, mac: Optional[str] = None,
               master: Optional[int] = None, group: Optional[int] = None, link: Optional[int] = None,
               alias: Optional[str] = None) -> List[Tuple[str, Any]]:
    out = []
    for key, value in (("IFLA_IFNAME", ifname), ("IFLA_MTU", mtu), ("IFLA_ADDRESS", mac),
                       ("IFLA_MASTER", master), ("IFLA_GROUP", group), ("IFLA_LINK", link), ("IFLA_IFALIAS", alias)):
        if value is not None:
            out.append((key, value))
    return out


def linkinfo(kind: str, data: Optional[List[Tuple[str, Any]]] = None) -> Tuple[str, Any]:
    attrs: List[Tuple[str, Any]] = [("IFLA_INFO_KIND", kind)]
    if data:
        attrs.append(("IFLA_INFO_DATA", {"attrs": data}))
    return ("IFLA_LINKINFO", {"attrs": attrs})


PROTOCOLS = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP, "sctp": 132}


def flow_matches(entry: Any, flow: Tuple[str, str, int, int]) -> bool:
    """Whether conntrack ``entry`` is of ``flow`` (Kernel.conntrack_forget)."""
    address, protocol, first, last = flow
    return str(entry.tuple_reply.saddr) == address and entry.tuple_orig.proto == PROTOCOLS[protocol] \
        and first <= (entry.tuple_orig.dport or 0) <= last


def af(address: str) -> int:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def addr(index: int, address: str, prefixlen: int) -> Any:
    """An address of either family; an IPv6 one skips duplicate address detection, so it is
    usable at once rather than tentative for a second or more."""
    msg = ifaddrmsg()
    msg["family"] = af(address)
    msg["prefixlen"] = prefixlen
    msg["index"] = index
    msg["attrs"] = [("IFA_LOCAL", address), ("IFA_ADDRESS", address)]
    if msg["family"] == socket.AF_INET6:
        msg["attrs"] = [("IFA_ADDRESS", address), ("IFA_FLAGS", IFA_F_NODAD)]
    return msg


def route(gateway: Optional[str] = None, oif: Optional[int] = None, delete: bool = False, dst: Optional[str] = None,
          family: int = socket.AF_INET, metric: Optional[int] = None, table: int = RT_TABLE_MAIN) -> Any:
    """A route of ``table`` (default unless ``dst``, a CIDR) of ``family`` (or of the gateway's or
    destination's), of ``metric`` (None: the kernel's default; to delete: any), through link
    ``oif``; one with no gateway is on-link. To delete: one that matches any protocol, scope and
    type. The endpoints of a bulk call mostly have the same routes through links of their own, so
    a route is encoded once and copied with each link's index."""
    if oif is None:
        return _route(gateway, None, delete, dst, family, metric, table)
    return _route_through(gateway, delete, dst, family, metric, table)(oif)


@functools.lru_cache(maxsize=1024)
def _route_through(gateway: Optional[str], delete: bool, dst: Optional[str], family: int, metric: Optional[int],
                   table: int) -> Callable[[int], Any]:
    return encoder(lambda oif: _route(gateway, oif, delete, dst, family, metric, table), 1)


def _route(gateway: Optional[str], oif: Optional[int], delete: bool, dst: Optional[str], family: int,
           metric: Optional[int], table: int) -> Any:
    msg = rtmsg()
    target = gateway or dst
    msg["family"] = af(target) if target else family
    msg["table"] = table if table < 256 else 0  # a table past 255 is only in RTA_TABLE
    if not delete:
        msg["proto"] = RTPROT_STATIC
        msg["scope"] = RT_SCOPE_UNIVERSE if gateway else RT_SCOPE_LINK
        msg["type"] = RTN_UNICAST
    else:
        msg["scope"] = RT_SCOPE_NOWHERE
    address = None
    if dst is not None:
        address, plen = dst.split("/")
        msg["dst_len"] = int(plen)
    msg["attrs"] = [(k, v) for k, v in (("RTA_DST", address), ("RTA_GATEWAY", gateway), ("RTA_OIF", oif),
                                        ("RTA_PRIORITY", metric), ("RTA_TABLE", table))
                    if v is not None]
    return msg


def neigh(family: int, index: int, state: int, flags: int = 0, attrs: Iterable[Any] = ()) -> Any:
    msg = ndmsg()
    msg["family"] = family
    msg["ifindex"] = index
    msg["state"] = state
    msg["flags"] = flags
    msg["attrs"] = list(attrs)
    return msg


def family_msg(cls: Any, family: int = socket.AF_UNSPEC) -> Any:
    msg = cls()
    msg["family"] = family
    return msg


@functools.lru_cache(maxsize=None)
def dump_request(build: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """The dump request ``build(*args)``, encoded once: a namespace read takes three dumps, the
    same from one sandbox to the next but for their headers' sequence numbers."""
    return encoder(lambda: build(*args), 0)


def link_dump() -> Any:
    """The request of a dump of every link, without their statistics."""
    return ifinfo(attrs=[("IFLA_EXT_MASK", RTEXT_FILTER_SKIP_STATS)])


def table_dump(table: int) -> Any:
    """The request of a dump of the unicast routes of one routing table (0: of all), which the
    kernel filters (strict checking): not the local table's routes of the namespace's own addresses."""
    msg = family_msg(rtmsg)
    msg["table"] = table if table < 256 else 0
    msg["type"] = RTN_UNICAST
    msg["attrs"] = [("RTA_TABLE", table)] if table >= 256 else []
    return msg


# Modes by their values in IFLA_MACVLAN_MODE and IFLA_IPVLAN_MODE.
MACVLAN_MODES = {"private": 1, "vepa": 2, "bridge": 4, "passthru": 8}
IPVLAN_MODES = {"l2": 0, "l3": 1, "l3s": 2}
CHILD_MODES = {"macvlan": ("IFLA_MACVLAN_MODE", MACVLAN_MODES), "ipvlan": ("IFLA_IPVLAN_MODE", IPVLAN_MODES)}

# Link attributes read by ``link_of``, by their numbers in linux/if_link.h (kernel ABI).
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER, IFLA_LINKINFO, IFLA_IFALIAS, IFLA_AF_SPEC = (
    1, 3, 4, 5, 10, 18, 20, 26)
IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 2, 4, 5
IFLA_VXLAN_ID, IFLA_VXLAN_LINK, IFLA_VXLAN_LOCAL, IFLA_VXLAN_LEARNING, IFLA_VXLAN_PROXY, IFLA_VXLAN_PORT = (
    1, 3, 4, 7, 11, 15)
IFLA_CHILD_MODE = 1  # IFLA_MACVLAN_MODE (u32) and IFLA_IPVLAN_MODE (u16), in CHILD_MODES
IFLA_VRF_TABLE = 1
IFLA_BRPORT_MODE = 4  # hairpin
IFLA_INET6_CONF, DEVCONF_DISABLE_IPV6 = 2, 26  # the IPv6 settings: an s32 array by DEVCONF_* index
IFINFO_END = 32  # a link message's attributes start after its header (16 bytes) and ifinfomsg (16)
NDA_DST, NDA_LLADDR = 1, 2  # neighbour attributes (linux/neighbour.h)
NDMSG_END = 28  # a neighbour message's attributes start after its header and ndmsg (12)
IFA_ADDRESS, IFA_LOCAL = 1, 2  # address attributes (linux/if_addr.h)
IFADDR_END = 24  # an address message's attributes start after its header and ifaddrmsg (8)
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_MULTIPATH, RTA_TABLE = 1, 4, 5, 6, 9, 15  # linux/rtnetlink.h
RTMSG_END = 28  # a route message's attributes start after its header and rtmsg (12)
RTNEXTHOP = struct.Struct("HBBi")  # a multipath route's next hop: length, flags, hops, ifindex, then its attributes
NLA_HEADER = struct.Struct("HH").unpack_from  # an attribute's length and type
NLA_TYPE = 0xFFFF & ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER)  # its type without those flags


def _attrs_of(msg: Any, start: int) -> Dict[int, Span]:
    """The attributes of a ``sockets.Reply``, which begin ``start`` bytes into it."""
    return _nlas(msg.data, msg.offset + start, msg.offset + msg["header"]["length"])


def _nlas(data: bytes, start: int, end: int) -> Dict[int, Span]:
    """{type: (start, end)} of the attributes in ``data[start:end]`` (the first of each type). A
    host's link has some fifty: this loop is most of the time a read of 1000 veths takes."""
    out: dict = {}
    while start + 4 <= end:
        length, kind = NLA_HEADER(data, start)
        if length < 4:
            break
        stop = start + length
        out.setdefault(kind & NLA_TYPE, (start + 4, stop if stop < end else end))
        start += (length + 3) & ~3
    return out


def _u(data: bytes, at: Optional[Span], fmt: str = "I") -> Optional[int]:
    return struct.unpack_from(fmt, data, at[0])[0] if at is not None and at[1] - at[0] >= struct.calcsize(fmt) else None


def _mac(data: bytes, at: Optional[Span]) -> Optional[str]:
    return ":".join("%02x" % b for b in data[at[0]:at[1]]) if at is not None else None


def _ip(data: bytes, at: Optional[Span]) -> Optional[str]:
    if at is None:
        return None
    raw = data[at[0]:at[1]]
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def _text(data: bytes, at: Optional[Span]) -> Optional[str]:
    return data[at[0]:at[1]].split(b"\0", 1)[0].decode("utf-8", "replace") if at is not None else None


def link_of(msg: Any) -> Link:
    """The Link of one RTM_NEWLINK message (a ``sockets.Reply``)."""
    data = msg.data
    a = _attrs_of(msg, IFINFO_END)
    kind, hairpin, vxlan, mode, table = None, None, None, None, None
    if IFLA_LINKINFO in a:
        info = _nlas(data, *a[IFLA_LINKINFO])
        kind = _text(data, info.get(IFLA_INFO_KIND))
        inner = _nlas(data, *info[IFLA_INFO_DATA]) if IFLA_INFO_DATA in info else {}
        if kind in CHILD_MODES:
            value = _u(data, inner.get(IFLA_CHILD_MODE), "I" if kind == "macvlan" else "H")
            mode = next((name for name, v in CHILD_MODES[kind][1].items() if v == value), None)
        if kind == "vrf":
            table = _u(data, inner.get(IFLA_VRF_TABLE))
        if kind == "vxlan":
            local = inner.get(IFLA_VXLAN_LOCAL)
            vxlan = VxlanInfo(vni=_u(data, inner.get(IFLA_VXLAN_ID)) or 0, port=_u(data, inner.get(IFLA_VXLAN_PORT), ">H") or 0,
                              local=socket.inet_ntoa(data[local[0]:local[0] + 4]) if local else None,
                              underlay=_u(data, inner.get(IFLA_VXLAN_LINK)),
                              learning=bool(_u(data, inner.get(IFLA_VXLAN_LEARNING), "B")),
                              proxy=bool(_u(data, inner.get(IFLA_VXLAN_PROXY), "B")))
        if _text(data, info.get(IFLA_INFO_SLAVE_KIND)) == "bridge" and IFLA_INFO_SLAVE_DATA in info:
            port_mode = _u(data, _nlas(data, *info[IFLA_INFO_SLAVE_DATA]).get(IFLA_BRPORT_MODE), "B")
            hairpin = bool(port_mode) if port_mode is not None else None
    # The kernel gives every link a name and an MTU.
    return Link(name=_text(data, a.get(IFLA_IFNAME)) or "", index=msg["index"], kind=kind, mtu=_u(data, a.get(IFLA_MTU)) or 0,
                up=bool(msg["flags"] & IFF_UP), mac=_mac(data, a.get(IFLA_ADDRESS)),
                master=_u(data, a.get(IFLA_MASTER)), hairpin=hairpin, vxlan=vxlan, parent=_u(data, a.get(IFLA_LINK)),
                mode=mode, ipv6_disabled=_ipv6_disabled(data, a.get(IFLA_AF_SPEC)), alias=_text(data, a.get(IFLA_IFALIAS)),
                vrf_table=table)


def _ipv6_disabled(data: bytes, spec: Optional[Span]) -> Optional[bool]:
    """The link's disable_ipv6 (from IFLA_AF_SPEC's IPv6 settings), or None when the kernel
    gives none (no IPv6 at all)."""
    inet6 = _nlas(data, *spec).get(socket.AF_INET6) if spec is not None else None
    conf = _nlas(data, *inet6).get(IFLA_INET6_CONF) if inet6 is not None else None
    value = _u(data, (conf[0] + 4 * DEVCONF_DISABLE_IPV6, conf[1]), "i") if conf is not None else None
    return bool(value) if value is not None else None


def route_of(msg: Any) -> Optional[Route]:
    """A unicast route (a ``sockets.Reply``) as a model Route, or None for any other."""
    if msg["type"] != RTN_UNICAST:
        return None
    data, a = msg.data, _attrs_of(msg, RTMSG_END)
    dst = "%s/%d" % (_ip(data, a.get(RTA_DST)) or ("::" if msg["family"] == socket.AF_INET6 else "0.0.0.0"), msg["dst_len"])
    gateways = tuple(_next_hops(data, *a[RTA_MULTIPATH])) if RTA_MULTIPATH in a else ()
    return Route(dst=dst, gateways=gateways or ((_ip(data, a.get(RTA_GATEWAY)), _u(data, a.get(RTA_OIF))),),
                 metric=_u(data, a.get(RTA_PRIORITY)) or 0, table=_u(data, a.get(RTA_TABLE)) or msg["table"])


def _next_hops(data: bytes, start: int, end: int) -> Iterator[Tuple[Optional[str], int]]:
    """(gateway, ifindex) of each next hop of a multipath route's RTA_MULTIPATH."""
    while start + RTNEXTHOP.size <= end:
        length, _flags, _hops, index = RTNEXTHOP.unpack_from(data, start)
        if length < RTNEXTHOP.size:
            return
        yield _ip(data, _nlas(data, start + RTNEXTHOP.size, start + length).get(RTA_GATEWAY)), index
        start += (length + 3) & ~3


def read_routes(nl: Any, table: int) -> List[Route]:
    """The unicast routes of one routing table (0: of every table), both families."""
    try:
        replies = nl.dump(dump_request(table_dump, table), RTM_GETROUTE)
    except NetlinkError as e:
        if e.code != errno.ENOENT:
            raise
        return []  # no such table yet (a new namespace has no main table either)
    return [r for r in (route_of(m) for m in replies) if r is not None and table in (0, r.table)]


def read_namespace(nl: Any, tables: Iterable[int] = ()) -> NsView:
    """Links, addresses and main-table routes of a namespace (both families), and the routes of
    ``tables``, as an NsView. IPv6 link-local and loopback addresses are left out: the kernel makes
    them, never the collection."""
    links = {}
    for msg in nl.dump(dump_request(link_dump), RTM_GETLINK):
        link = link_of(msg)
        links[link.name] = link
    by_index = dict((lk.index, lk.name) for lk in links.values())
    addresses: dict = {}
    for reply in nl.dump(dump_request(family_msg, ifaddrmsg), RTM_GETADDR):
        if reply["family"] == socket.AF_INET6 and reply["scope"] != RT_SCOPE_UNIVERSE:
            continue
        # IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on a point-to-point link.
        a = _attrs_of(reply, IFADDR_END)
        local = _ip(reply.data, a.get(IFA_LOCAL)) or _ip(reply.data, a.get(IFA_ADDRESS))
        addresses.setdefault(by_index.get(reply["index"]), set()).add("%s/%d" % (local, reply["prefixlen"]))
    if not tables:
        return NsView(links, addresses, read_routes(nl, RT_TABLE_MAIN))
    by_table: Dict[int, List[Route]] = dict((t, []) for t in set(tables) | {RT_TABLE_MAIN})
    for r in read_routes(nl, 0):  # one dump of every table
        if r.table in by_table:
            by_table[r.table].append(r)
    main = by_table.pop(RT_TABLE_MAIN)
    return NsView(links, addresses, main, by_table)


TC_H_ROOT, TC_H_INGRESS = 0xFFFFFFFF, 0xFFFFFFF1  # a qdisc's parent: the link's root, or its ingress
TCA_KIND, TCA_OPTIONS, TCA_TBF_PARMS = 1, 2, 1
TCMSG_END = 36  # a tc message's attributes start after its header (16 bytes) and tcmsg (20)
Bucket = Tuple[int, int, int]  # a token bucket as the kernel keeps it: (bytes/s, buffer in ticks, limit in bytes)


def read_qdiscs(nl: Any) -> Dict[Tuple[int, str], Tuple[Optional[str], Optional[Bucket]]]:
    """The root and ingress qdiscs of every link of a namespace (the kernel dumps them all):
    {(ifindex, "root" or "ingress"): (kind, its token bucket when a tbf)}, each read from the
    buffer (``sockets.Reply``)."""
    out: Dict[Tuple[int, str], Tuple[Optional[str], Optional[Bucket]]] = {}
    for msg in nl.dump(dump_request(family_msg, tcmsg), RTM_GETQDISC):
        where = {TC_H_ROOT: "root", TC_H_INGRESS: "ingress"}.get(msg["parent"])
        if where is None:
            continue
        data = msg.data
        a = _attrs_of(msg, TCMSG_END)
        kind, bucket = _text(data, a.get(TCA_KIND)), None
        if kind == "tbf" and TCA_OPTIONS in a:
            parms = _nlas(data, *a[TCA_OPTIONS]).get(TCA_TBF_PARMS)
            if parms is not None:  # struct tc_tbf_qopt: two tc_ratespec (12 bytes), limit, buffer, mtu
                rate, limit, buffer = (_u(data, (parms[0] + at, parms[1])) for at in (8, 24, 28))
                bucket = (rate or 0, buffer or 0, limit or 0)
        out[msg["index"], where] = (kind, bucket)
    return out


def read_neighbours(nl: Any, index: int) -> Tuple[Set[Tuple[Optional[str], Optional[str]]], Dict[Optional[str], Optional[str]]]:
    """The forwarding (MAC -> VTEP) and permanent neighbour (IP -> MAC, ARP and NDP) entries
    of device ``index``: ``({(mac, vtep)}, {ip: mac})``, from one dump of each table.

    The kernel filters the dumps to the device (strict checking: the forwarding dump by
    the request's ifindex, the neighbour dumps by NDA_IFINDEX), so the cost does not grow
    with the host's other bridge ports and neighbours."""
    fdb, arp = set(), {}
    for msg in nl.dump(lambda: neigh(AF_BRIDGE, index, 0), RTM_GETNEIGH):
        a = _attrs_of(msg, NDMSG_END)
        if msg["ifindex"] == index and NDA_DST in a:  # the device's own entries carry a VTEP
            fdb.add((_mac(msg.data, a.get(NDA_LLADDR)), _ip(msg.data, a[NDA_DST])))
    # One dump of both families' tables (ARP and NDP).
    for msg in nl.dump(lambda: neigh(socket.AF_UNSPEC, 0, 0, attrs=[("NDA_IFINDEX", index)]), RTM_GETNEIGH):
        a = _attrs_of(msg, NDMSG_END)
        if msg["ifindex"] == index and NDA_LLADDR in a and msg["state"] & NUD_PERMANENT:
            arp[_ip(msg.data, a.get(NDA_DST))] = _mac(msg.data, a[NDA_LLADDR])
    return fdb, arp
