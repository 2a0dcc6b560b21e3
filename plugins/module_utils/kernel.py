# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel layer: links, addresses, routes, neighbours and namespaces, over pyroute2.

The only importer of pyroute2. Its message classes (ifinfmsg, ifaddrmsg, rtmsg, ndmsg)
encode every request and decode every reply but those of links and neighbours (pyroute2 frames
them, and the few attributes used here are read from the buffer), and its sockets check
sequence numbers, report the kernel's extended ACK, and raise the errors of acks and of NLMSG_DONE.
What stays here is how pyroute2 is used, which is where the speed is:

- one socket per namespace, made in that namespace with setns(2) in this thread (no
  helper process), and handed to pyroute2;
- one dump per namespace per run for planning (``view``), then link indexes from a
  cache, never a lookup per call;
- many requests sent as one batch where they go together (``link_rename``; in a sandbox
  this run made, lo up and a new link's settings with its addresses and routes), and one
  RTM_DELLINK for a whole link group (``flush``);
- the neighbour dumps of a VXLAN device filtered by the kernel, not in Python;
- dumps sent and read to their end on the plain socket (``_Dumper``), parsed by pyroute2's
  marshal, apart from its request machinery; link and neighbour replies read from the buffer.

pyroute2 0.7 (Debian 12) is synchronous; 0.8 and later have an asyncio core, and
their synchronous wrappers spin an event loop per call. ``_Socket`` is the one
place that knows the difference: on 0.8+ it drives the async socket on one event
loop kept for the run.

What pyroute2 does not provide, written here: making a named namespace in-process
(pyroute2's ``netns.create`` forks a child; ``netns_add`` unshares and bind-mounts as
``ip netns add`` does), entering one for a socket (setns), and sysctls (/proc/sys).
pyroute2 has no xfrm: IPsec goes through ``ip xfrm`` (xfrm.py), as nftables goes
through ``nft`` (firewall.py).

Namespaces are named by a *sandbox key*: ``None`` for the host (the namespace the
module runs in), a bare name for ``/run/netns/NAME``, or an absolute path (such as
``/proc/PID/ns/net``). A namespace is never created unless ``netns_add`` is called.
"""

from __future__ import annotations

import collections
import ctypes
import errno
import gc
import os
import pickle
import random
import socket
import struct
import traceback
from typing import Any

from ansible_collections.cnm.fabric.plugins.module_utils import xfrm
from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError, NamespaceLost
from ansible_collections.cnm.fabric.plugins.module_utils.model import Link, NsView, Route, VxlanInfo, XfrmView, ZERO_MAC

try:
    from pyroute2.netlink import (NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP, NLM_F_DUMP_INTR,
                                  NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, NLMSG_DONE, nlmsg)
    from pyroute2.netlink.exceptions import NetlinkError
    from pyroute2.netlink.rtnl import (RTM_DELADDR, RTM_DELLINK, RTM_DELNEIGH, RTM_DELROUTE, RTM_GETADDR,
                                       RTM_GETLINK, RTM_GETNEIGH, RTM_GETROUTE, RTM_NEWADDR, RTM_NEWLINK,
                                       RTM_NEWNEIGH, RTM_NEWROUTE, RTM_SETLINK)
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
    from pyroute2.netlink.rtnl.marshal import MarshalRtnl
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
    from pyroute2.netlink.rtnl.ndmsg import ndmsg
    from pyroute2.netlink.rtnl.rtmsg import rtmsg
    try:  # pyroute2 0.8 and later: an asyncio core
        from pyroute2.netlink.rtnl.iprsocket import AsyncIPRSocket
        import asyncio
        IPRSocket: Any = None
    except ImportError:  # pyroute2 0.7
        from pyroute2.netlink.rtnl.iprsocket import IPRSocket  # type: ignore[no-redef]  # the other version's name
        AsyncIPRSocket = None
    from pyroute2.conntrack import Conntrack
    HAS_PYROUTE2 = True
    PYROUTE2_IMPORT_ERROR = None
except ImportError:
    HAS_PYROUTE2 = False
    PYROUTE2_IMPORT_ERROR = traceback.format_exc()

    class NetlinkError(Exception):  # type: ignore[no-redef]
        code = 0

NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
MS_REC, MS_BIND, MS_SHARED, MNT_DETACH = 16384, 4096, 1 << 20, 2
IFF_UP = 1
SOL_NETLINK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK = 270, 11, 12
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
MAX_SOCKETS = 256  # open netlink sockets, well under the usual limit of 1024 descriptors
DUMP_RETRIES = 5   # a dump the kernel marks interrupted (NLM_F_DUMP_INTR) is taken again
PREFETCH_MIN = 32  # sandboxes per reader process, at the least, for prefetch to fork one
GET_TYPES = (RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, RTM_GETNEIGH) if HAS_PYROUTE2 else ()
DUMP_READ = 1 << 17  # bytes per read of a dump: more than the kernel puts in one reply
HELD_BATCH = 200  # requests per write (pyroute2 0.9 stops reading the acks of a batch of some 300)
_LIBC: list = []


def netns_path(key):
    return key if key.startswith("/") else os.path.join(NETNS_DIR, key)


def _stat(path):
    """os.stat of ``path``, or None where it cannot be read (init's namespace, in a container)."""
    try:
        return os.stat(path)
    except OSError:
        return None


def _libc():
    if not _LIBC:
        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    return _LIBC[0]


def _check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


def _code(error):
    return getattr(error, "code", None) or getattr(error, "errno", None)


def error_text(error):
    """An OSError or NetlinkError as a user reads it: the kernel's extended ACK, when it gave
    one, after the errno's own text ("File exists: ...")."""
    code = _code(error)
    base = os.strerror(code) if code else str(error)
    args: tuple = getattr(error, "args", ())
    reason = args[1] if len(args) > 1 and isinstance(args[1], str) else None
    return "%s: %s" % (base, reason) if reason and reason != base else base


# -- the socket: the one place that knows pyroute2's versions ---------------------------

class _Socket(object):
    """One rtnetlink socket of one namespace, driven through pyroute2.

    ``sock`` is a plain AF_NETLINK socket made in the namespace; pyroute2 takes it over.
    """

    _loop: Any = None  # pyroute2 0.8+: one event loop for every socket of the process

    def __init__(self, sock):
        _prepare(sock)
        if AsyncIPRSocket is not None:
            if _Socket._loop is None:
                _Socket._loop = asyncio.new_event_loop()
            self._nl = AsyncIPRSocket(use_socket=sock, use_event_loop=_Socket._loop, groups=0)
            self._run(self._nl.setup_endpoint())
            self._dumper = _Dumper(sock)
        else:
            port = sock.getsockname()[0]
            self._dumper = _Dumper(sock.dup())  # the same socket, for dumps
            self._nl = IPRSocket(fileno=sock.detach())  # pyroute2 owns the descriptor from here
            self._nl.epid = port
        _read_raw(self._nl.marshal)

    def _run(self, coro):
        return _Socket._loop.run_until_complete(coro)

    def request(self, msg, msg_type, flags):
        """Send one request; return its reply messages. NetlinkError on a NACK."""
        if AsyncIPRSocket is None:
            return list(self._nl.nlm_request(msg, msg_type, NLM_F_REQUEST | flags))

        async def collect():
            return [m async for m in await self._nl.nlm_request(msg, msg_type, NLM_F_REQUEST | flags)]
        return self._run(collect())

    def dump(self, make, msg_type):
        return self._dumper.dump(make, msg_type)

    def batch(self, requests):
        """Send ``[(msg, type, flags)]`` in one write; the kernel runs them in order and acks
        each. NetlinkError on the first NACK."""
        msgs = []
        for msg, msg_type, flags in requests:
            msg["header"]["type"] = msg_type
            msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK | flags
            msgs.append(msg)
        if AsyncIPRSocket is None:
            return list(self._nl.nlm_request_batch(msgs))

        async def collect():
            return [m async for m in self._nl.nlm_request_batch(msgs)]
        return self._run(collect())

    def close(self):
        """Close the socket (on 0.8+, its transport does so on the loop's next turn: the next
        request's, or ``settle``'s)."""
        self._nl.close()
        if AsyncIPRSocket is None:
            self._dumper.close()  # its duplicate descriptor (on 0.8+ the one socket is the transport's to close)

    @staticmethod
    def settle():
        if _Socket._loop is not None:
            _Socket._loop.run_until_complete(asyncio.sleep(0))


def _prepare(sock):
    """Settings of every rtnetlink socket here, then its bind."""
    # The kernel's reason for a NACK (extended ACK), which pyroute2 puts in its NetlinkError.
    sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
    # Strict checking: the kernel filters dumps by the request's own fields (routes by
    # table, neighbours by device), so no message is decoded only to be dropped.
    sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
    # pyroute2's bind() tries fixed port ids one by one (0.7 re-creates the socket when one
    # is taken, which a socket it was handed cannot survive): the kernel picks the id instead.
    sock.bind((0, 0))


def _read_raw(marshal):
    """Link and neighbour replies framed by pyroute2 and read here from the buffer (``_link``,
    ``read_neighbours``), in a map of this marshal's own (0.7 shares the class's)."""
    marshal.msg_map = dict(marshal.msg_map)
    marshal.msg_map.update({RTM_NEWLINK: _LinkMessage, RTM_NEWNEIGH: _NeighMessage})
    return marshal


class _Interrupted(OSError):
    """The kernel marked a dump interrupted (NLM_F_DUMP_INTR: its table changed meanwhile)."""


class _Dumper(object):
    """Dumps over a plain rtnetlink socket, parsed by pyroute2's marshal. A dump is sent and read to
    its end in one go, so it needs none of a pyroute2 socket's request bookkeeping nor, on 0.8+,
    its event loop: those cost about 40 µs a message (a second for the 20,000 entries of a VXLAN
    device of 10,000 remote endpoints) and more than the reading itself in a namespace of two links.
    The reader processes (``prefetch``) use it alone, a ``_Socket`` for its dumps, on the socket
    pyroute2 drives for everything else. A NACK is raised as pyroute2 raises it (NetlinkError); a dump
    still interrupted after DUMP_RETRIES tries as OSError EINTR, and a reader leaves that namespace to
    ``view``."""

    def __init__(self, sock):
        # A sequence space of its own, apart from pyroute2's on a shared socket.
        self._sock, self._seq, self._marshal = sock, random.getrandbits(30) | 1 << 30, _read_raw(MarshalRtnl())

    def dump(self, make, msg_type):
        """A dump of the messages ``make()`` asks for, taken again while the kernel marks it
        interrupted (NLM_F_DUMP_INTR: its table changed meanwhile)."""
        for _attempt in range(DUMP_RETRIES):
            try:
                return self._dump_once(make(), msg_type)
            except _Interrupted:
                continue
        raise OSError(errno.EINTR, "the dump was interrupted by changes %d times" % DUMP_RETRIES)

    def _dump_once(self, msg, msg_type):
        """The replies of one dump; _Interrupted when the kernel marks it so, after reading it whole."""
        self._seq = (self._seq + 1) & 0x7FFFFFFF
        msg["header"].update(type=msg_type, flags=NLM_F_REQUEST | NLM_F_DUMP, sequence_number=self._seq)
        msg.encode()
        self._sock.send(msg.data)
        out: list = []
        interrupted = False
        while True:
            for reply in self._marshal.parse(self._sock.recv(DUMP_READ)):
                header = reply["header"]
                if header["sequence_number"] != self._seq:
                    continue
                if _code(header.get("error")):
                    raise header["error"]
                interrupted = interrupted or bool(header["flags"] & NLM_F_DUMP_INTR)
                if header["type"] == NLMSG_DONE:
                    if interrupted:
                        raise _Interrupted(errno.EINTR, "the dump was interrupted")
                    return out
                out.append(reply)

    def close(self):
        self._sock.close()


# -- messages ------------------------------------------------------------------------

def _ifinfo(index=0, family=0, up=None, attrs=()):
    msg = ifinfmsg()
    msg["family"] = family
    msg["index"] = index
    if up is not None:
        msg["flags"] = IFF_UP if up else 0
        msg["change"] = IFF_UP
    msg["attrs"] = list(attrs)
    return msg


def _link_attrs(ifname=None, mtu=None, mac=None, master=None, group=None, link=None, alias=None):
    out = []
    for key, value in (("IFLA_IFNAME", ifname), ("IFLA_MTU", mtu), ("IFLA_ADDRESS", mac),
                       ("IFLA_MASTER", master), ("IFLA_GROUP", group), ("IFLA_LINK", link), ("IFLA_IFALIAS", alias)):
        if value is not None:
            out.append((key, value))
    return out


def _linkinfo(kind, data=None):
    attrs = [("IFLA_INFO_KIND", kind)]
    if data:
        attrs.append(("IFLA_INFO_DATA", {"attrs": data}))
    return ("IFLA_LINKINFO", {"attrs": attrs})


PROTOCOLS = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP, "sctp": 132}


def _flow_matches(entry, flow):
    """Whether conntrack ``entry`` is of ``flow`` (Kernel.conntrack_forget)."""
    address, protocol, first, last = flow
    return str(entry.tuple_reply.saddr) == address and entry.tuple_orig.proto == PROTOCOLS[protocol] \
        and first <= (entry.tuple_orig.dport or 0) <= last


def _af(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _addr(index, address, prefixlen):
    """An address of either family; an IPv6 one skips duplicate address detection, so it is
    usable at once rather than tentative for a second or more."""
    msg = ifaddrmsg()
    msg["family"] = _af(address)
    msg["prefixlen"] = prefixlen
    msg["index"] = index
    msg["attrs"] = [("IFA_LOCAL", address), ("IFA_ADDRESS", address)]
    if msg["family"] == socket.AF_INET6:
        msg["attrs"] = [("IFA_ADDRESS", address), ("IFA_FLAGS", IFA_F_NODAD)]
    return msg


def _route(gateway=None, oif=None, delete=False, dst=None, family=socket.AF_INET):
    """A main-table route (default unless ``dst``, a CIDR) of ``family`` (or of the gateway's or
    destination's); one with no gateway is on-link. To delete: one that matches any protocol,
    scope and type."""
    msg = rtmsg()
    msg["family"] = _af(gateway or dst) if gateway or dst else family
    msg["table"] = RT_TABLE_MAIN
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
    msg["attrs"] = [(k, v) for k, v in (("RTA_DST", address), ("RTA_GATEWAY", gateway), ("RTA_OIF", oif))
                    if v is not None]
    return msg


def _neigh(family, index, state, flags=0, attrs=()):
    msg = ndmsg()
    msg["family"] = family
    msg["ifindex"] = index
    msg["state"] = state
    msg["flags"] = flags
    msg["attrs"] = list(attrs)
    return msg


def _family(cls, family=socket.AF_UNSPEC):
    msg = cls()
    msg["family"] = family
    return msg


def _main_table():
    msg = _family(rtmsg)
    msg["table"] = RT_TABLE_MAIN
    return msg


def _attrs(msg, names):
    """The attributes ``names`` of a message, from one pass over its attributes (``get_attr``
    scans them all on every call)."""
    out = {}
    for nla in msg["attrs"]:
        if nla[0] in names and nla[0] not in out:
            out[nla[0]] = nla[1]
    return out


# Modes by their values in IFLA_MACVLAN_MODE and IFLA_IPVLAN_MODE.
MACVLAN_MODES = {"private": 1, "vepa": 2, "bridge": 4, "passthru": 8}
IPVLAN_MODES = {"l2": 0, "l3": 1, "l3s": 2}
CHILD_MODES = {"macvlan": ("IFLA_MACVLAN_MODE", MACVLAN_MODES), "ipvlan": ("IFLA_IPVLAN_MODE", IPVLAN_MODES)}
ROUTE_ATTRS = frozenset(("RTA_TABLE", "RTA_DST", "RTA_MULTIPATH", "RTA_GATEWAY", "RTA_OIF", "RTA_PRIORITY"))

# Link attributes read by ``_link``, by their numbers in linux/if_link.h (kernel ABI).
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER, IFLA_LINKINFO, IFLA_IFALIAS, IFLA_AF_SPEC = (
    1, 3, 4, 5, 10, 18, 20, 26)
IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 2, 4, 5
IFLA_VXLAN_ID, IFLA_VXLAN_LINK, IFLA_VXLAN_LOCAL, IFLA_VXLAN_LEARNING, IFLA_VXLAN_PROXY, IFLA_VXLAN_PORT = (
    1, 3, 4, 7, 11, 15)
IFLA_CHILD_MODE = 1  # IFLA_MACVLAN_MODE (u32) and IFLA_IPVLAN_MODE (u16), in CHILD_MODES
IFLA_BRPORT_MODE = 4  # hairpin
IFLA_INET6_CONF, DEVCONF_DISABLE_IPV6 = 2, 26  # the IPv6 settings: an s32 array by DEVCONF_* index
IFINFO_END = 32  # a link message's attributes start after its header (16 bytes) and ifinfomsg (16)
NDA_DST, NDA_LLADDR = 1, 2  # neighbour attributes (linux/neighbour.h)
NDMSG_END = 28  # a neighbour message's attributes start after its header and ndmsg (12)


if HAS_PYROUTE2:
    class _LinkMessage(nlmsg):
        """A link reply as pyroute2 frames it (header, ifinfomsg, errors), with its attributes left
        undecoded: ``_link`` reads the ten it needs from the buffer. pyroute2 makes an object of
        every attribute of a link (some fifty, the bridge port's and IPv6 settings nested), which
        made reading a host of 1000 veths take about a second."""
        fields = ifinfmsg.fields
        nla_map = ()

    class _NeighMessage(nlmsg):
        """A neighbour or forwarding entry, framed by pyroute2 and read by ``read_neighbours``: a
        VXLAN device of 10,000 remote endpoints has 20,000 of them."""
        fields = ndmsg.fields
        nla_map = ()


def _nlas(data, start, end):
    """{type: (start, end)} of the attributes in ``data[start:end]`` (the first of each type)."""
    out: dict = {}
    while start + 4 <= end:
        length, kind = struct.unpack_from("HH", data, start)
        if length < 4:
            break
        out.setdefault(kind & ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER), (start + 4, min(start + length, end)))
        start += (length + 3) & ~3
    return out


def _u(data, at, fmt="I"):
    return struct.unpack_from(fmt, data, at[0])[0] if at is not None and at[1] - at[0] >= struct.calcsize(fmt) else None


def _mac(data, at):
    return ":".join("%02x" % b for b in data[at[0]:at[1]]) if at is not None else None


def _ip(data, at):
    if at is None:
        return None
    raw = data[at[0]:at[1]]
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def _text(data, at):
    return data[at[0]:at[1]].split(b"\0", 1)[0].decode("utf-8", "replace") if at is not None else None


def _link(msg):
    """The Link of one RTM_NEWLINK message (a ``_LinkMessage``)."""
    data = msg.data
    a = _nlas(data, msg.offset + IFINFO_END, msg.offset + msg["header"]["length"])
    kind, hairpin, vxlan, mode = None, None, None, None
    if IFLA_LINKINFO in a:
        info = _nlas(data, *a[IFLA_LINKINFO])
        kind = _text(data, info.get(IFLA_INFO_KIND))
        inner = _nlas(data, *info[IFLA_INFO_DATA]) if IFLA_INFO_DATA in info else {}
        if kind in CHILD_MODES:
            value = _u(data, inner.get(IFLA_CHILD_MODE), "I" if kind == "macvlan" else "H")
            mode = next((name for name, v in CHILD_MODES[kind][1].items() if v == value), None)
        if kind == "vxlan":
            local = inner.get(IFLA_VXLAN_LOCAL)
            vxlan = VxlanInfo(vni=_u(data, inner.get(IFLA_VXLAN_ID)), port=_u(data, inner.get(IFLA_VXLAN_PORT), ">H"),
                              local=socket.inet_ntoa(data[local[0]:local[0] + 4]) if local else None,
                              underlay=_u(data, inner.get(IFLA_VXLAN_LINK)),
                              learning=bool(_u(data, inner.get(IFLA_VXLAN_LEARNING), "B")),
                              proxy=bool(_u(data, inner.get(IFLA_VXLAN_PROXY), "B")))
        if _text(data, info.get(IFLA_INFO_SLAVE_KIND)) == "bridge" and IFLA_INFO_SLAVE_DATA in info:
            port_mode = _u(data, _nlas(data, *info[IFLA_INFO_SLAVE_DATA]).get(IFLA_BRPORT_MODE), "B")
            hairpin = bool(port_mode) if port_mode is not None else None
    return Link(name=_text(data, a.get(IFLA_IFNAME)), index=msg["index"], kind=kind, mtu=_u(data, a.get(IFLA_MTU)),
                up=bool(msg["flags"] & IFF_UP), mac=_mac(data, a.get(IFLA_ADDRESS)),
                master=_u(data, a.get(IFLA_MASTER)), hairpin=hairpin, vxlan=vxlan, parent=_u(data, a.get(IFLA_LINK)),
                mode=mode, ipv6_disabled=_ipv6_disabled(data, a.get(IFLA_AF_SPEC)), alias=_text(data, a.get(IFLA_IFALIAS)))


def _ipv6_disabled(data, spec):
    """The link's disable_ipv6 (from IFLA_AF_SPEC's IPv6 settings), or None when the kernel
    gives none (no IPv6 at all)."""
    inet6 = _nlas(data, *spec).get(socket.AF_INET6) if spec is not None else None
    conf = _nlas(data, *inet6).get(IFLA_INET6_CONF) if inet6 is not None else None
    value = _u(data, (conf[0] + 4 * DEVCONF_DISABLE_IPV6, conf[1]), "i") if conf is not None else None
    return bool(value) if value is not None else None


def _route_of(msg):
    """A main-table unicast route as a model Route, or None for any other."""
    a = _attrs(msg, ROUTE_ATTRS)
    if (a.get("RTA_TABLE") or msg["table"]) != RT_TABLE_MAIN or msg["type"] != RTN_UNICAST:
        return None
    dst = "%s/%d" % (a.get("RTA_DST") or ("::" if msg["family"] == socket.AF_INET6 else "0.0.0.0"), msg["dst_len"])
    hops = a.get("RTA_MULTIPATH")
    if hops:
        gateways = tuple((hop.get_attr("RTA_GATEWAY"), hop["oif"]) for hop in hops)
    else:
        gateways = ((a.get("RTA_GATEWAY"), a.get("RTA_OIF")),)
    return Route(dst=dst, gateways=gateways, metric=a.get("RTA_PRIORITY") or 0)


def read_namespace(nl):
    """Links, addresses and main-table routes of a namespace (both families), as an NsView.
    IPv6 link-local and loopback addresses are left out: the kernel makes them, never the
    collection."""
    links = {}
    for msg in nl.dump(lambda: _ifinfo(attrs=[("IFLA_EXT_MASK", RTEXT_FILTER_SKIP_STATS)]), RTM_GETLINK):
        link = _link(msg)
        links[link.name] = link
    by_index = dict((lk.index, lk.name) for lk in links.values())
    addresses: dict = {}
    for reply in nl.dump(lambda: _family(ifaddrmsg), RTM_GETADDR):
        # IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on a point-to-point link.
        a = _attrs(reply, ("IFA_LOCAL", "IFA_ADDRESS"))
        local = a.get("IFA_LOCAL") or a.get("IFA_ADDRESS")
        if reply["family"] == socket.AF_INET6 and reply["scope"] != RT_SCOPE_UNIVERSE:
            continue
        addresses.setdefault(by_index.get(reply["index"]), set()).add("%s/%d" % (local, reply["prefixlen"]))
    try:
        replies = nl.dump(_main_table, RTM_GETROUTE)
    except NetlinkError as e:
        if e.code != errno.ENOENT:
            raise
        replies = []  # a namespace with no route yet has no main table
    routes = [r for r in (_route_of(m) for m in replies) if r is not None]
    return NsView(links, addresses, routes)


def read_neighbours(nl, index):
    """The forwarding (MAC -> VTEP) and permanent neighbour (IP -> MAC, ARP and NDP) entries
    of device ``index``: ``({(mac, vtep)}, {ip: mac})``, from one dump of each table.

    The kernel filters the dumps to the device (strict checking: the forwarding dump by
    the request's ifindex, the neighbour dumps by NDA_IFINDEX), so the cost does not grow
    with the host's other bridge ports and neighbours."""
    fdb, arp = set(), {}
    for msg in nl.dump(lambda: _neigh(AF_BRIDGE, index, 0), RTM_GETNEIGH):
        a = _nlas(msg.data, msg.offset + NDMSG_END, msg.offset + msg["header"]["length"])
        if msg["ifindex"] == index and NDA_DST in a:  # the device's own entries carry a VTEP
            fdb.add((_mac(msg.data, a.get(NDA_LLADDR)), _ip(msg.data, a[NDA_DST])))
    # One dump of both families' tables (ARP and NDP).
    for msg in nl.dump(lambda: _neigh(socket.AF_UNSPEC, 0, 0, attrs=[("NDA_IFINDEX", index)]), RTM_GETNEIGH):
        a = _nlas(msg.data, msg.offset + NDMSG_END, msg.offset + msg["header"]["length"])
        if msg["ifindex"] == index and NDA_LLADDR in a and msg["state"] & NUD_PERMANENT:
            arp[_ip(msg.data, a.get(NDA_DST))] = _mac(msg.data, a[NDA_LLADDR])
    return fdb, arp


def _fork_reader(keys):
    """Fork a process that reads the namespaces ``keys`` and sends back {key: NsView}
    (pickled) through a pipe; return (pid, the pipe's read end)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(wfd)
        return pid, rfd
    # The reader: its own sockets and event loop (the parent's are left untouched), and
    # os._exit, so nothing of the parent's (open sockets, the module's temp files) is
    # closed or cleaned up from here.
    status = 1
    try:
        os.close(rfd)
        gc.disable()  # a short life: its garbage goes with it
        _Socket._loop = None  # a loop of its own; the parent's sockets keep theirs, never run here
        kernel, views = Kernel(), {}
        for key in keys:
            try:
                with kernel.netlink_socket(key) as sock:
                    _prepare(sock)
                    views[key] = read_namespace(_Dumper(sock))
            except Exception:
                pass
        with os.fdopen(wfd, "wb") as f:
            pickle.dump(views, f, pickle.HIGHEST_PROTOCOL)
        status = 0
    finally:
        os._exit(status)


class Kernel(object):
    """Netlink sockets per namespace, opened on first use and closed by ``close``."""

    def __init__(self, owner=None):
        """``owner``: the alias of the host links it makes (names.owner_tag of the state_dir)."""
        if not HAS_PYROUTE2:
            raise KernelError("the Python library pyroute2 is required on the managed host")
        self.owner = owner
        self._socks = collections.OrderedDict()
        self._views = {}
        self._index = {}
        self._home = None
        self._doomed = set()  # namespaces with links marked for one batched deletion
        self._held = []  # neighbour requests for flush to send in batches
        self._marks = []  # host links this run made, for the final flush to mark as the owner's
        # Sandbox -> ([what], [request]) kept for its next batch (lo up, a new veth's settings),
        # for the namespaces this run made: a new endpoint's sandbox is set up by one batch.
        self._setup = {}
        self._xfrm = []  # ip xfrm commands for flush to run as one batch
        self._xfrm_read = None  # what ip xfrm listed, until flush changes it
        self._busy = None
        self._host_ns = None  # (device, inode) of the host's network namespaces: this run's and init's
        self._exists = {}
        # Namespaces this run created -> the next free link index there: veth_add names the
        # index of each peer it moves in (any other way of adding a link there must drop the entry).
        self._fresh = {}
        self._group = 0x40000000 | random.getrandbits(24)

    # -- sockets and views ----------------------------------------------------------

    def _home_fd(self):
        if self._home is None:
            self._home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        return self._home

    def _enter(self, path):
        """Switch this thread into the namespace at ``path``; ``_leave`` comes back."""
        self._home_fd()
        fd = os.open(path, os.O_RDONLY)
        try:
            _check(_libc().setns(fd, CLONE_NEWNET), "setns")
        finally:
            os.close(fd)

    def _leave(self):
        # Coming back must not fail silently: the thread would go on in the sandbox.
        if _libc().setns(self._home, CLONE_NEWNET) != 0:
            raise NamespaceLost("cannot return to the host's network namespace (%s); the run stopped "
                                "there, before anything more was done" % os.strerror(ctypes.get_errno()))

    def netlink_socket(self, ns):
        """A plain rtnetlink socket of namespace ``ns``: a socket belongs to the namespace it is made in."""
        if ns is None:
            return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE)
        self._enter(netns_path(ns))
        try:
            return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE)
        finally:
            self._leave()

    def nl(self, ns=None):
        if ns in self._socks:
            self._socks.move_to_end(ns)
        else:
            if len(self._socks) >= MAX_SOCKETS:  # a bulk run visits many namespaces: keep a few open
                oldest = next(k for k in self._socks if k is not None)
                self._socks.pop(oldest).close()
            try:
                self._socks[ns] = _Socket(self.netlink_socket(ns))
            except OSError as e:
                raise KernelError("cannot enter the network namespace %s: %s" % (ns, e), "sandbox")
        return self._socks[ns]

    def close(self):
        for nl in self._socks.values():
            nl.close()
        self._socks.clear()
        _Socket.settle()
        if self._home is not None:
            os.close(self._home)
            self._home = None

    def netns_exists(self, ns):
        """A named sandbox exists once its file is a mount point (a run killed between
        creating the file and mounting the namespace on it leaves a plain file)."""
        if ns is None:
            return True
        if ns not in self._exists:
            path = netns_path(ns)
            self._exists[ns] = os.path.ismount(path) if not ns.startswith("/") else os.path.exists(path)
        return self._exists[ns]

    def netns_problem(self, ns):
        """Why ``ns`` cannot be a sandbox (None: it can, or it is yet to be made): a name whose
        /run/netns entry is a symbolic link (mounting on it would cover the link's target), or a
        namespace that is the host's own, this run's or init's (an endpoint there would take the
        host's links and default route)."""
        path = netns_path(ns)
        if not ns.startswith("/") and os.path.islink(path):
            return "%s is a symbolic link, not a namespace the collection made or can make; remove it" % path
        try:
            st = os.stat(path)
        except OSError:
            return None
        if self._host_ns is None:
            self._host_ns = {(s.st_dev, s.st_ino) for s in (os.fstat(self._home_fd()), _stat("/proc/1/ns/net")) if s}
        if (st.st_dev, st.st_ino) in self._host_ns:
            return ("%s is the host's own network namespace; an endpoint needs a sandbox of its own "
                    "(a container's namespace, such as /proc/PID/ns/net, or a named sandbox)" % ns)
        return None

    def netns_half_made(self, ns):
        """Whether a named sandbox is only the plain file a killed ``netns_add`` left."""
        return not ns.startswith("/") and not self.netns_exists(ns) and os.path.lexists(netns_path(ns))

    def view(self, ns=None):
        """The namespace as it was when first observed in this run (None if it does not exist)."""
        if ns not in self._views:
            self._send_setup(ns)
            if not self.netns_exists(ns):
                return None
            try:
                view = read_namespace(self.nl(ns))
            except (OSError, NetlinkError) as e:
                raise KernelError("cannot read the network namespace %s: %s" % (ns or "of the host", error_text(e)),
                                  "sandbox" if ns else None)
            self._keep(ns, view)
        return self._views[ns]

    def _keep(self, ns, view):
        self._views[ns] = view
        self._index[ns] = dict((lk.name, lk.index) for lk in view.links.values())

    def prefetch(self, keys):
        """Read many namespaces at once, before ``view`` asks for them one by one.

        Decoding replies is CPU-bound Python, so the sandboxes are shared out among forked
        reader processes, one per CPU, while this process reads the host. A sandbox a reader
        could not read is left to ``view``, which reports the error where it is needed.
        """
        todo = sorted(set(k for k in keys if k and k not in self._views and self.netns_exists(k)))
        workers = min(os.cpu_count() or 1, len(todo) // PREFETCH_MIN)
        if workers < 2:
            return
        readers = [_fork_reader(todo[i::workers]) for i in range(workers)]
        self.view(None)
        for pid, fd in readers:
            with os.fdopen(fd, "rb") as f:
                data = f.read()
            os.waitpid(pid, 0)
            try:
                views = pickle.loads(data)
            except Exception:  # a reader that died early: view() reads its share
                continue
            for key, view in views.items():
                self._keep(key, view)

    def netns_busy(self, ns):
        """Whether a process lives in sandbox ``ns`` (one scan of /proc per run)."""
        if self._busy is None:
            self._busy = set()
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        self._busy.add(os.stat("/proc/%s/ns/net" % pid).st_ino)
                    except OSError:
                        pass
        try:
            return os.stat(netns_path(ns)).st_ino in self._busy
        except OSError:
            return False

    def _do(self, ns, what, requests, ignore=()):
        """Send ``[(msg, type, flags)]`` to namespace ``ns``: one request, or one batch of
        several (after the requests kept for the sandbox, in the same batch when these are
        changes that must all succeed). Errors become KernelError, except the codes in
        ``ignore`` (the ones that mean the work is already done)."""
        if ns in self._setup:
            if ignore or any(msg_type in GET_TYPES for _msg, msg_type, _flags in requests):
                self._send_setup(ns)
            else:
                whats, kept = self._setup.pop(ns)
                what, requests = "; ".join(whats + [what]), kept + list(requests)
        try:
            nl = self.nl(ns)
            if len(requests) == 1:
                msg, msg_type, flags = requests[0]
                return nl.request(msg, msg_type, NLM_F_ACK | flags)
            return nl.batch(requests)
        except (OSError, NetlinkError) as e:
            if _code(e) in ignore:
                return None
            raise KernelError("%s in %s failed: %s" % (what, "the host" if ns is None else "sandbox %s" % ns,
                                                       error_text(e)))

    def index(self, name, ns=None):
        """A link's index, from the cache or one RTM_GETLINK; None when it does not exist."""
        known = self._index.setdefault(ns, {})
        if name not in known:
            reply = self._do(ns, "looking up %s" % name,
                             [(_ifinfo(attrs=[("IFLA_IFNAME", name)]), RTM_GETLINK, 0)], ignore=(errno.ENODEV,))
            if not reply:
                return None
            known[name] = reply[0]["index"]
        return known[name]

    def _must(self, name, ns=None):
        idx = self.index(name, ns)
        if idx is None:
            raise KernelError("link %s not found in %s" % (name, ns or "the host"))
        return idx

    # -- namespaces ---------------------------------------------------------------

    def netns_add(self, ns):
        """Make /run/netns/NAME as ``ip netns add`` does, without a helper process."""
        if ns.startswith("/"):
            raise KernelError("%s does not exist and only named sandboxes are created" % ns,
                              "sandbox_path")
        path = netns_path(ns)
        libc = _libc()
        try:
            os.makedirs(NETNS_DIR, mode=0o755, exist_ok=True)
            # Like iproute2: a shared mount point, so sandboxes show in other mount namespaces.
            if libc.mount(b"", NETNS_DIR.encode(), b"none", MS_SHARED | MS_REC, None) != 0:
                _check(libc.mount(NETNS_DIR.encode(), NETNS_DIR.encode(), b"none", MS_BIND | MS_REC, None),
                       "bind " + NETNS_DIR)
                _check(libc.mount(b"", NETNS_DIR.encode(), b"none", MS_SHARED | MS_REC, None),
                       "share " + NETNS_DIR)
            try:
                os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444))
            except FileExistsError:
                if os.path.islink(path):  # the mount would cover the link's target
                    raise KernelError("cannot create sandbox %s: %s is a symbolic link" % (ns, path), "sandbox")
                if os.path.ismount(path):
                    self._exists[ns] = True
                    return
            self._home_fd()
            _check(libc.unshare(CLONE_NEWNET), "unshare")
            try:
                _check(libc.mount(b"/proc/thread-self/ns/net", path.encode(), b"none", MS_BIND, None),
                       "bind " + path)
            finally:
                self._leave()
        except OSError as e:
            raise KernelError("cannot create sandbox %s: %s" % (ns, e), "sandbox")
        self._exists[ns] = True
        # A new namespace holds only lo, always ifindex 1: this run knows every index in it
        # from here on, so it assigns the indexes of the links it adds (no lookups).
        self._index[ns] = {"lo": 1}
        self._fresh[ns] = 2
        self._setup[ns] = (["setting lo up"], [(_ifinfo(1, up=True), RTM_NEWLINK, 0)])

    def netns_del(self, ns):
        self._fresh.pop(ns, None)
        self._setup.pop(ns, None)
        nl = self._socks.pop(ns, None)
        if nl is not None:
            nl.close()
        self._doomed.discard(ns)
        self._index.pop(ns, None)
        self._exists[ns] = False
        path = netns_path(ns).encode()
        if _libc().umount2(path, MNT_DETACH) != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
            raise KernelError("cannot unmount sandbox %s: %s" % (ns, os.strerror(ctypes.get_errno())), "sandbox")
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise KernelError("cannot remove sandbox %s: %s" % (ns, e), "sandbox")

    # -- links --------------------------------------------------------------------

    def _link_add(self, what, ifname, linkinfo, **attrs):
        """A link of the host, to be marked as the owner's by the final ``flush``."""
        msg = _ifinfo(up=True, attrs=_link_attrs(ifname=ifname, **attrs) + [linkinfo])
        self._do(None, what, [(msg, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL)])
        self._mark(ifname)

    def _mark(self, ifname):
        # The kernel ignores IFLA_IFALIAS in a request that creates a link: it is set afterwards,
        # by name, for every link a run made, in the batches of the final flush.
        if self.owner:
            self._marks.append(ifname)

    def veth_add(self, name, peer, ns, mtu, mac, master):
        """A veth pair: ``name`` on the host (an up port of ``master``), ``peer`` up inside ``ns``.

        The kernel gives ``peer`` no IPv6 link-local address (address generation mode none, set
        while it is still down): it then sends no duplicate address probe and no router
        solicitation when it comes up, which the bridge would flood to every port."""
        fd = os.open(netns_path(ns), os.O_RDONLY)
        try:
            # The peer cannot be made up in the same request: a veth opens only once paired.
            inner = {"attrs": _link_attrs(ifname=peer, mtu=mtu, mac=mac) + [("IFLA_NET_NS_FD", fd)]}
            if ns in self._fresh:
                inner["index"] = self._fresh[ns]
            self._link_add("creating veth %s" % name, name,
                           _linkinfo("veth", [("VETH_INFO_PEER", inner)]), mtu=mtu, master=self._must(master))
        finally:
            os.close(fd)
        if ns in self._fresh:
            self._index[ns][peer] = inner["index"]
            self._fresh[ns] += 1
        idx = self._must(peer, ns)
        self._keep_setup(ns, "setting %s up" % peer, [
            (_ifinfo(idx, attrs=[("IFLA_AF_SPEC", {"attrs": [("AF_INET6", {"attrs": [
                ("IFLA_INET6_ADDR_GEN_MODE", IN6_ADDR_GEN_MODE_NONE)]})]})]), RTM_NEWLINK, 0),
            (_ifinfo(idx, up=True), RTM_NEWLINK, 0)])

    def kind_supported(self, kind):
        """Whether the kernel makes links of ``kind``, loading its module if it can: a
        request for a link with a name no link may have ('/' in it) is refused with EINVAL by
        a kind the kernel has, and with EOPNOTSUPP by one it has not. Nothing is created either
        way (without a name, the kernel would make a bridge, a veth or a dummy link named for it)."""
        msg = _ifinfo(attrs=[("IFLA_IFNAME", "cnm/probe"), _linkinfo(kind)])
        try:
            self.nl(None).request(msg, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)
        except (OSError, NetlinkError) as e:
            return _code(e) != errno.EOPNOTSUPP
        return True  # not expected: no kind makes a link of that name

    def link_add(self, kind, name, ns=None, mtu=None, mac=None, parent=None, mode=None, data=()):
        """A link of ``kind``, up, on the host or inside sandbox ``ns``: every kind with no peer is
        made here, from a description (its kind, ``parent``: its lower device on the host, ``mode``:
        a macvlan or ipvlan mode by name, ``data``: other IFLA_INFO_DATA attributes as pairs).

        The kernel checks a new link's name and index in the namespace of the request, the
        host's, even when the link is made in another: so one for a sandbox is made there under
        a name of its own that no host link has, then renamed and brought up there.
        """
        data = list(data)
        if mode is not None:
            attr, modes = CHILD_MODES[kind]
            data.append((attr, modes[mode]))
        temporary = name if ns is None else "cnmtmp%08x" % random.getrandbits(32)
        attrs = _link_attrs(ifname=temporary, mtu=mtu, mac=mac, link=self._must(parent) if parent else None) + \
            [_linkinfo(kind, data)]
        fd = os.open(netns_path(ns), os.O_RDONLY) if ns is not None else None
        try:
            msg = _ifinfo(up=True if ns is None else None, attrs=attrs + ([("IFLA_NET_NS_FD", fd)] if fd else []))
            self._do(None, "creating %s %s" % (kind, name), [(msg, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL)])
        finally:
            if fd is not None:
                os.close(fd)
        if ns is None:
            self._mark(name)
        else:
            self._fresh.pop(ns, None)  # the kernel picked its index
            index = self._must(temporary, ns)
            self._do(ns, "renaming %s to %s" % (temporary, name),
                     [(_ifinfo(index, up=True, attrs=[("IFLA_IFNAME", name)]), RTM_NEWLINK, 0)])
            self._index[ns].pop(temporary, None)
            self._index[ns][name] = index

    def route_set(self, dst, name, ns=None):
        """An on-link route to ``dst`` (CIDR) through ``name``, replacing one there was."""
        self._do(ns, "adding the route to %s via %s" % (dst, name),
                 [(_route(oif=self._must(name, ns), dst=dst), RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE)])

    def vxlan_add(self, name, vni, port, local, underlay, mtu, master):
        """A VXLAN device (learning off, ARP answered from its neighbour table), up on ``master``."""
        data = [("IFLA_VXLAN_ID", vni), ("IFLA_VXLAN_LINK", self._must(underlay)), ("IFLA_VXLAN_LOCAL", local),
                ("IFLA_VXLAN_LEARNING", 0), ("IFLA_VXLAN_PROXY", 1), ("IFLA_VXLAN_PORT", port)]
        self._link_add("creating VXLAN device %s" % name, name, _linkinfo("vxlan", data), mtu=mtu,
                       master=self._must(master))

    def link_del(self, name, ns=None):
        idx = self.index(name, ns)
        if idx is None:
            return
        self._do(ns, "deleting link %s" % name, [(_ifinfo(idx), RTM_DELLINK, 0)], ignore=(errno.ENODEV,))
        self._index.get(ns, {}).pop(name, None)

    def link_del_batch(self, name, ns=None):
        """Mark a link for deletion by ``flush``, which removes every marked link of a
        namespace in one request: the kernel then waits for one RCU grace period, not one
        per link (about 35 ms each), which makes a bulk teardown as fast as deleting netns."""
        idx = self.index(name, ns)
        if idx is None:
            return
        # ENODEV: gone already (with its peer, or with the namespace of its peer).
        self._do(ns, "marking %s for deletion" % name, [(_ifinfo(idx, attrs=[("IFLA_GROUP", self._group)]),
                                                         RTM_NEWLINK, 0)], ignore=(errno.ENODEV,))
        self._doomed.add(ns)
        self._index.get(ns, {}).pop(name, None)

    def _keep_setup(self, ns, what, requests):
        """Keep requests to a sandbox this run made for its next batch, or send them now."""
        if ns in self._setup:
            self._setup[ns][0].append(what)
            self._setup[ns][1].extend(requests)
        else:
            self._do(ns, what, requests)

    def _send_setup(self, ns):
        if ns in self._setup:
            whats, kept = self._setup.pop(ns)
            self._do(ns, "; ".join(whats), kept)

    def _hold(self, what, request):
        """Keep a request to the host's neighbour tables for ``flush``, which sends those kept
        in batches (the forwarding and neighbour entries of many peers are thousands)."""
        self._held.append((what, request))

    def flush(self, final=False):
        """Run the IPsec commands kept by ``xfrm``, send the neighbour requests kept by
        ``_hold``, then delete the links marked by ``link_del_batch``; ``final`` (the end of
        a run's changes): also send what is kept for new sandboxes."""
        if final:
            for ns in list(self._setup):
                self._send_setup(ns)
            marks, self._marks = self._marks, []
            for start in range(0, len(marks), HELD_BATCH):
                chunk = marks[start:start + HELD_BATCH]
                # ENODEV: a link made and removed again in this run (the kernel still runs the rest).
                self._do(None, "marking %s as made for this state_dir" % ", ".join(chunk),
                         [(_ifinfo(0, attrs=[("IFLA_IFNAME", name), ("IFLA_IFALIAS", self.owner)]), RTM_NEWLINK, 0)
                          for name in chunk], ignore=(errno.ENODEV,))
        commands, self._xfrm = self._xfrm, []
        if commands:
            self._xfrm_read = None
            xfrm.apply(commands)
        held, self._held = self._held, []
        for start in range(0, len(held), HELD_BATCH):
            chunk = held[start:start + HELD_BATCH]
            what = chunk[0][0] if len(chunk) == 1 else "%s and %d more" % (chunk[0][0], len(chunk) - 1)
            self._do(None, what, [request for _what, request in chunk])
        for ns in sorted(self._doomed, key=str):
            if self.netns_exists(ns):  # ENODEV: gone already, with a namespace removed meanwhile
                self._do(ns, "deleting links", [(_ifinfo(0, attrs=[("IFLA_GROUP", self._group)]), RTM_DELLINK, 0)],
                         ignore=(errno.ENODEV,))
        self._doomed.clear()

    def link_set(self, name, ns=None, state=None, mtu=None, address=None):
        up = None if state is None else state == "up"
        msg = _ifinfo(self._must(name, ns), up=up, attrs=_link_attrs(mtu=mtu, mac=address))
        self._do(ns, "setting %s on %s" % (state or ("mtu %s" % mtu if mtu else "mac %s" % address), name),
                 [(msg, RTM_NEWLINK, 0)])

    def link_attach(self, name, master):
        self._do(None, "attaching %s to %s" % (name, master),
                 [(_ifinfo(self._must(name), attrs=[("IFLA_MASTER", self._must(master))]), RTM_NEWLINK, 0)])

    def link_rename(self, name, new, ns=None):
        """Down, rename, up: one batch (a link is renamed only while down)."""
        idx = self._must(name, ns)
        self._do(ns, "renaming %s to %s" % (name, new),
                 [(_ifinfo(idx, up=False), RTM_NEWLINK, 0),
                  (_ifinfo(idx, attrs=[("IFLA_IFNAME", new)]), RTM_NEWLINK, 0),
                  (_ifinfo(idx, up=True), RTM_NEWLINK, 0)])
        self._index.get(ns, {}).pop(name, None)
        self._index.setdefault(ns, {})[new] = idx

    def hairpin_set(self, name, on):
        """IFLA_BRPORT_MODE of a bridge port, through the AF_BRIDGE family."""
        msg = _ifinfo(self._must(name), family=AF_BRIDGE,
                      attrs=[("IFLA_PROTINFO", {"attrs": [("IFLA_BRPORT_MODE", 1 if on else 0)]}, NLA_F_NESTED)])
        self._do(None, "setting hairpin on %s" % name, [(msg, RTM_SETLINK, 0)])

    # -- neighbours ------------------------------------------------------------------

    def neighbours(self, name):
        """``(fdb, arp)`` of host device ``name`` (see read_neighbours), or empty ones if it is absent."""
        idx = self.index(name)
        if idx is None:
            return set(), {}
        try:
            return read_neighbours(self.nl(None), idx)
        except (OSError, NetlinkError) as e:
            raise KernelError("cannot read the neighbour entries of %s: %s" % (name, error_text(e)))

    def _fdb(self, index, mac, vtep):
        return _neigh(AF_BRIDGE, index, NUD_PERMANENT | NUD_NOARP, NTF_SELF,
                      [("NDA_LLADDR", mac), ("NDA_DST", vtep)])

    def fdb_add(self, name, mac, vtep):
        """A permanent forwarding entry MAC -> VTEP on a VXLAN device; the all-zero MAC
        (flooding) may have many VTEPs, so it is appended, and others are replaced."""
        how = NLM_F_APPEND if mac == ZERO_MAC else NLM_F_REPLACE
        self._hold("adding %s -> %s to %s" % (mac, vtep, name),
                   (self._fdb(self._must(name), mac, vtep), RTM_NEWNEIGH, NLM_F_CREATE | how))

    def fdb_del(self, name, mac, vtep):
        idx = self.index(name)
        if idx is not None:
            self._hold("removing %s -> %s from %s" % (mac, vtep, name), (self._fdb(idx, mac, vtep), RTM_DELNEIGH, 0))

    def neigh_set(self, name, ip, mac):
        """A permanent neighbour entry IP -> MAC (ARP for IPv4, NDP for IPv6)."""
        msg = _neigh(_af(ip), self._must(name), NUD_PERMANENT, attrs=[("NDA_DST", ip), ("NDA_LLADDR", mac)])
        self._hold("adding %s -> %s to %s" % (ip, mac, name), (msg, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE))

    def neigh_del(self, name, ip):
        idx = self.index(name)
        if idx is not None:
            msg = _neigh(_af(ip), idx, NUD_PERMANENT, attrs=[("NDA_DST", ip)])
            self._hold("removing %s from %s" % (ip, name), (msg, RTM_DELNEIGH, 0))

    # -- addresses and routes -------------------------------------------------------

    def link_addresses(self, name, cidrs, routes=(), ns=None):
        """The addresses ``cidrs`` of a new link ``name`` and the default routes ``routes``
        through it ((IP version, gateway or None for on-link) pairs): one batch."""
        idx = self._must(name, ns)
        requests = [(_addr(idx, cidr.split("/")[0], int(cidr.split("/")[1])), RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL)
                    for cidr in cidrs]
        requests += [(_route(gateway, idx, family=FAMILIES[version]), RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE)
                     for version, gateway in routes]
        self._do(ns, "addressing %s" % name, requests)

    def addr_add(self, name, cidr, ns=None):
        addr, plen = cidr.split("/")
        msg = _addr(self._must(name, ns), addr, int(plen))
        self._do(ns, "adding %s to %s" % (cidr, name), [(msg, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL)],
                 ignore=(errno.EEXIST,))

    def addr_del(self, name, cidr, ns=None):
        addr, plen = cidr.split("/")
        idx = self.index(name, ns)
        if idx is not None:
            self._do(ns, "removing %s from %s" % (cidr, name), [(_addr(idx, addr, int(plen)), RTM_DELADDR, 0)],
                     ignore=(errno.EADDRNOTAVAIL,))

    def default_route_set(self, gateway, name, ns=None, version=4):
        """Replace the main table's default route of IP ``version`` (of metric 0) by one via
        ``gateway`` (None: on-link) on ``name``."""
        msg = _route(gateway, self._must(name, ns), family=FAMILIES[version])
        self._do(ns, "setting the default route via %s" % (gateway or name),
                 [(msg, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE)])

    def default_route_del(self, name, ns=None, version=4):
        """Remove the default route of IP ``version`` through link ``name``, and only that one."""
        idx = self.index(name, ns)
        if idx is not None:
            self._do(ns, "removing the default route via %s" % name,
                     [(_route(oif=idx, delete=True, family=FAMILIES[version]), RTM_DELROUTE, 0)],
                     ignore=(errno.ESRCH,))

    # -- IPsec (the host's; through ip xfrm) -------------------------------------------

    def xfrm(self, command):
        """Keep an ``ip xfrm`` command for ``flush``, which runs those kept in one batch."""
        self._xfrm.append(command)

    def xfrm_read(self, tags):
        """{tag: XfrmView}, from the host's tables listed once per run (every network of a
        cnm_info run asks), and again after flush changed them."""
        if self._xfrm_read is None:
            self._xfrm_read = xfrm.read()
        return dict((t, self._xfrm_read.get(t, XfrmView())) for t in tags)

    @staticmethod
    def esp_missing(probe):
        return xfrm.esp_missing(probe)

    # -- conntrack (of the namespace the module runs in) -----------------------------

    @staticmethod
    def conntrack_forget(flows):
        """Delete the host's conntrack entries of ``flows``, each (address, protocol, first, last):
        the connections of ``protocol`` to host ports ``first`` to ``last`` whose replies come from
        ``address`` (DNATed to it: a port mapping that went). Otherwise a client that keeps sending
        from the same port (UDP) goes on reaching an endpoint that is gone until its entry times
        out, which Docker's own flush prevents too.

        The kernel filters a dump by reply tuple reliably only in recent releases, so one dump
        per family is filtered here; it is taken only for a run that removed something. Returns
        how many entries went."""
        families: dict = {}
        for flow in flows:
            families.setdefault(_af(flow[0]), []).append(flow)
        gone = 0
        for family, wanted in sorted(families.items()):
            ct = Conntrack(nfgen_family=family)  # a dump holds the entries of its request's family
            try:
                for entry in list(ct.dump_entries()):
                    if any(_flow_matches(entry, flow) for flow in wanted):
                        try:  # entry(): 0.7.2's delete() fails on the empty reply of its own request
                            ct.entry("del", tuple_orig=entry.tuple_orig)
                            gone += 1
                        except NetlinkError as e:  # ENOENT: it timed out meanwhile
                            if _code(e) != errno.ENOENT:
                                raise
            except (OSError, NetlinkError) as e:
                raise KernelError("deleting the conntrack entries of removed endpoints failed: %s" % error_text(e))
            finally:
                ct.close()
        return gone

    # -- sysctls (of the namespace the module runs in) ------------------------------

    @staticmethod
    def sysctl_get(key):
        try:
            with open("/proc/sys/" + key) as f:
                return f.read().strip()
        except OSError:
            return None

    def sysctl_set(self, key, value, ns=None):
        """Write a sysctl of the host, or of sandbox ``ns``: /proc/sys/net belongs to the
        namespace of the thread that opens it, so this thread enters ``ns`` to open it."""
        path = "/proc/sys/" + key
        if ns is not None:
            self._enter(netns_path(ns))
        try:
            with open(path, "w") as f:
                f.write(str(value))
        except OSError as e:
            raise KernelError("cannot set %s%s: %s" % (key, "" if ns is None else " in sandbox %s" % ns, e))
        finally:
            if ns is not None:
                self._leave()
