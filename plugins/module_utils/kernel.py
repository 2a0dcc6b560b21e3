# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The only module that talks to the kernel: links, addresses, routes, neighbours, namespaces.

It speaks rtnetlink itself, with struct, over one NETLINK_ROUTE socket per namespace:
the collection needs a dozen message kinds, and doing them directly costs a few
microseconds of Python each, where a general library's request machinery costs about
a millisecond (measured with pyroute2 0.9: 8.5 ms per bulk endpoint, against 1.5 ms).

Namespaces are named by a *sandbox key*: ``None`` for the host (the namespace the
module runs in), a bare name for ``/run/netns/NAME``, or an absolute path (such as
``/proc/PID/ns/net``). A namespace is never created unless ``netns_add`` is called.
A socket of another namespace is made by entering it with setns(2) in this thread
and coming back: a socket belongs to the namespace it was made in.

Observation (``view``) dumps each namespace once per run, for planning. Changes
address links by name through a small index cache, never by re-dumping.
"""

from __future__ import annotations

import collections
import ctypes
import errno
import os
import random
import socket
import struct
from dataclasses import dataclass
from typing import Optional

from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError

NETNS_DIR = "/run/netns"


def netns_path(key):
    return key if key.startswith("/") else os.path.join(NETNS_DIR, key)


@dataclass(frozen=True)
class VxlanInfo:
    """The settings of a VXLAN device that the overlay driver manages."""
    vni: int
    port: int
    local: Optional[str]
    underlay: Optional[int]  # ifindex of the underlay device
    learning: bool
    proxy: bool


@dataclass(frozen=True)
class Link:
    name: str
    index: int
    kind: Optional[str]
    mtu: int
    up: bool
    mac: Optional[str]
    master: Optional[int]
    hairpin: Optional[bool] = None
    vxlan: Optional[VxlanInfo] = None


@dataclass
class NsView:
    """One dump of a namespace: links by name, IPv4 addresses by link, the default route."""
    links: dict
    addresses: dict
    default_gateway: Optional[str]
    default_dev: Optional[int]
    routes: list

    def link(self, name):
        return self.links.get(name)


CLONE_NEWNET = 0x40000000
MS_REC, MS_BIND, MS_SHARED, MNT_DETACH = 16384, 4096, 1 << 20, 2
MAX_SOCKETS = 256  # open netlink sockets, well under the usual limit of 1024 descriptors
_LIBC = []


def _libc():
    if not _LIBC:
        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    return _LIBC[0]


def _check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


# -- rtnetlink messages -----------------------------------------------------------------

RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE = 18, 22, 26
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST_DUMP = 0x1 | 0x300
# The kernel caps a dump's buffers at 32 KiB; reading that much never truncates a message.
RECV_SIZE = 32768
_NLMSGHDR = struct.Struct("=IHHII")
_RTA = struct.Struct("=HH")


def _attrs(data, offset, end):
    out = {}
    while offset + 4 <= end:
        length, kind = _RTA.unpack_from(data, offset)
        if length < 4:
            break
        out[kind & 0x3FFF] = data[offset + 4:offset + length]
        offset += (length + 3) & ~3
    return out


def _text(raw):
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace") if raw is not None else None


def _u32(raw):
    return struct.unpack("=I", raw[:4])[0] if raw is not None else None


def _ipv4(raw):
    return socket.inet_ntoa(raw[:4]) if raw is not None else None


def _dump(sock, msg_type, body, seq):
    sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(body), msg_type, NLM_F_REQUEST_DUMP, seq, 0) + body)
    while True:
        data = sock.recv(RECV_SIZE)
        offset = 0
        while offset + _NLMSGHDR.size <= len(data):
            length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
            if kind == NLMSG_DONE:
                return
            if kind == NLMSG_ERROR:
                code = struct.unpack_from("=i", data, offset + _NLMSGHDR.size)[0]
                if code:
                    raise OSError(-code, os.strerror(-code))
                return
            yield data, offset + _NLMSGHDR.size, offset + length
            offset += (length + 3) & ~3


NLM_F_REQUEST, NLM_F_ACK, NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x100, 0x200, 0x400
RTM_NEWLINK, RTM_DELLINK, RTM_SETLINK, RTM_NEWADDR, RTM_DELADDR, RTM_NEWROUTE, RTM_DELROUTE = 16, 17, 19, 20, 21, 24, 25
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD, IFLA_GROUP = 1, 3, 4, 10, 18, 28, 27
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER, NLA_F_NESTED = 1, 2, 1, 0x8000
IFF_UP = 1


def _rta(kind, payload):
    length = 4 + len(payload)
    return _RTA.pack(length, kind) + payload + b"\0" * (((length + 3) & ~3) - length)


def _rta_str(kind, text):
    return _rta(kind, text.encode("utf-8") + b"\0")


def _rta_u32(kind, value):
    return _rta(kind, struct.pack("=I", value))


def _ifinfo(index=0, up=None, family=0):
    flags = IFF_UP if up else 0
    return struct.pack("=BBHiII", family, 0, 0, index, flags, IFF_UP if up is not None else 0)


def _link_attrs(mtu=None, mac=None, master=None, group=None, ifname=None):
    out = b""
    if ifname is not None:
        out += _rta_str(IFLA_IFNAME, ifname)
    if mtu is not None:
        out += _rta_u32(IFLA_MTU, mtu)
    if mac is not None:
        out += _rta(IFLA_ADDRESS, _mac_bytes(mac))
    if master is not None:
        out += _rta_u32(IFLA_MASTER, master)
    if group is not None:
        out += _rta_u32(IFLA_GROUP, group)
    return out


class Netlink(object):
    """One NETLINK_ROUTE socket in one namespace: dumps, and requests that wait for their ack."""

    def __init__(self, sock):
        self.sock = sock
        self.seq = 10

    def close(self):
        self.sock.close()

    def request(self, msg_type, flags, body):
        """Send one request; return the first reply message's (data, start, end) or None on ack."""
        self.seq += 1
        self.sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(body), msg_type, NLM_F_REQUEST | flags,
                                      self.seq, 0) + body)
        while True:
            data = self.sock.recv(RECV_SIZE)
            offset = 0
            while offset + _NLMSGHDR.size <= len(data):
                length, kind, _flags, seq, _pid = _NLMSGHDR.unpack_from(data, offset)
                if seq == self.seq:
                    if kind == NLMSG_ERROR:
                        code = struct.unpack_from("=i", data, offset + _NLMSGHDR.size)[0]
                        if code:
                            raise OSError(-code, os.strerror(-code))
                        return None
                    return data, offset + _NLMSGHDR.size, offset + length
                offset += (length + 3) & ~3

    def link_index(self, name):
        try:
            data, start, _end = self.request(RTM_GETLINK, 0, _ifinfo() + _rta_str(IFLA_IFNAME, name))
        except OSError as e:
            if e.errno == errno.ENODEV:
                return None
            raise
        return struct.unpack_from("=BBHiII", data, start)[3]

    def link_set(self, index, up=None, **attrs):
        self.request(RTM_NEWLINK, NLM_F_ACK, _ifinfo(index, up) + _link_attrs(**attrs))

    def link_add(self, ifname, kind, up=True, data=b"", **attrs):
        info = _rta_str(IFLA_INFO_KIND, kind) + (_rta(IFLA_INFO_DATA | NLA_F_NESTED, data) if data else b"")
        self.request(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                     _ifinfo(0, up) + _link_attrs(ifname=ifname, **attrs) + _rta(IFLA_LINKINFO | NLA_F_NESTED, info))

    def link_del(self, index=0, group=None):
        self.request(RTM_DELLINK, NLM_F_ACK, _ifinfo(index) + _link_attrs(group=group))

    def hairpin(self, index, on):
        """IFLA_BRPORT_MODE of a bridge port, through the AF_BRIDGE family."""
        body = struct.pack("=BBHiII", 7, 0, 0, index, 0, 0)
        body += _rta(12 | NLA_F_NESTED, _rta(4, struct.pack("=B", 1 if on else 0)))  # IFLA_PROTINFO
        self.request(RTM_SETLINK, NLM_F_ACK, body)

    def addr(self, add, index, address, prefixlen):
        raw = socket.inet_aton(address)
        body = struct.pack("=BBBBI", 2, prefixlen, 0, 0, index) + _rta(2, raw) + _rta(1, raw)  # IFA_LOCAL, IFA_ADDRESS
        if add:
            self.request(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body)
        else:
            self.request(RTM_DELADDR, NLM_F_ACK, body)

    def fdb(self, add, index, mac, vtep):
        """A permanent forwarding entry MAC -> VTEP on a VXLAN device; the all-zero MAC
        (flooding) may have many VTEPs, so it is appended, and others are replaced."""
        body = _NDMSG.pack(AF_BRIDGE, 0, 0, index, NUD_PERMANENT | NUD_NOARP, NTF_SELF, 0)
        body += _rta(NDA_LLADDR, _mac_bytes(mac)) + _rta(NDA_DST, socket.inet_aton(vtep))
        if not add:
            self.request(RTM_DELNEIGH, NLM_F_ACK, body)
        else:
            how = NLM_F_APPEND if mac == ZERO_MAC else NLM_F_REPLACE
            self.request(RTM_NEWNEIGH, NLM_F_ACK | NLM_F_CREATE | how, body)

    def neigh(self, add, index, ip, mac=None):
        """A permanent ARP entry IP -> MAC (or its removal)."""
        body = _NDMSG.pack(socket.AF_INET, 0, 0, index, NUD_PERMANENT, 0, 0) + _rta(NDA_DST, socket.inet_aton(ip))
        if add:
            body += _rta(NDA_LLADDR, _mac_bytes(mac))
            self.request(RTM_NEWNEIGH, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, body)
        else:
            self.request(RTM_DELNEIGH, NLM_F_ACK, body)

    def default_route(self, gateway=None, oif=None):
        """Replace the main table's IPv4 default route (or delete it, without a gateway)."""
        if gateway is None:
            body = struct.pack("=BBBBBBBBI", 2, 0, 0, 0, 254, 0, 0, 0, 0)
            self.request(RTM_DELROUTE, NLM_F_ACK, body)
            return
        body = struct.pack("=BBBBBBBBI", 2, 0, 0, 0, 254, 4, 0, 1, 0)  # static, universe, unicast
        body += _rta(5, socket.inet_aton(gateway)) + _rta_u32(4, oif)  # RTA_GATEWAY, RTA_OIF
        self.request(RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, body)


def veth_peer(ifname, netns_fd, mac, mtu):
    """IFLA_INFO_DATA of a veth: its peer, made directly inside another namespace."""
    peer = _ifinfo() + _link_attrs(ifname=ifname, mtu=mtu, mac=mac) + _rta_u32(IFLA_NET_NS_FD, netns_fd)
    return _rta(VETH_INFO_PEER | NLA_F_NESTED, peer)


# IFLA_VXLAN_*: ID, LINK, LOCAL, LEARNING, PROXY, PORT (big-endian)
VXLAN_ID, VXLAN_LINK, VXLAN_LOCAL, VXLAN_LEARNING, VXLAN_PROXY, VXLAN_PORT = 1, 3, 4, 7, 11, 15


def vxlan_data(vni, port, local, underlay):
    """IFLA_INFO_DATA of a VXLAN device with learning off and ARP answered locally (proxy)."""
    return (_rta_u32(VXLAN_ID, vni) + _rta_u32(VXLAN_LINK, underlay) + _rta(VXLAN_LOCAL, socket.inet_aton(local))
            + _rta(VXLAN_LEARNING, b"\0") + _rta(VXLAN_PROXY, b"\1") + _rta(VXLAN_PORT, struct.pack("!H", port)))


def _vxlan_info(a):
    port = a.get(VXLAN_PORT)
    return VxlanInfo(vni=_u32(a.get(VXLAN_ID)), port=struct.unpack("!H", port[:2])[0] if port else None,
                     local=_ipv4(a.get(VXLAN_LOCAL)), underlay=_u32(a.get(VXLAN_LINK)),
                     learning=bool(a.get(VXLAN_LEARNING, b"\0")[0]), proxy=bool(a.get(VXLAN_PROXY, b"\0")[0]))


# Neighbour messages (struct ndmsg) and their attributes.
RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 28, 29, 30
NDA_DST, NDA_LLADDR, NDA_IFINDEX = 1, 2, 8
NTF_SELF = 0x02
NUD_NOARP, NUD_PERMANENT = 0x40, 0x80
NLM_F_APPEND = 0x800
AF_BRIDGE = 7
_NDMSG = struct.Struct("=BBHiHBB")
ZERO_MAC = "00:00:00:00:00:00"


def _mac(raw):
    return ":".join("%02x" % b for b in raw[:6]) if raw is not None else None


def _mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def read_neighbours(sock, index):
    """The forwarding (MAC -> VTEP) and ARP (IP -> MAC) entries of device ``index``:
    ``({(mac, vtep)}, {ip: mac})``, from one dump of each table.

    The kernel filters both dumps to the device (a forwarding dump asked with an ifinfomsg
    names the port, as ``bridge fdb show dev`` does; NDA_IFINDEX filters the ARP table),
    so the cost does not grow with the host's other bridge ports and neighbours."""
    fdb, arp = set(), {}
    requests = ((AF_BRIDGE, _ifinfo(index, family=AF_BRIDGE), 4),
                (socket.AF_INET, _NDMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0) + _rta_u32(NDA_IFINDEX, index), 5))
    for family, body, seq in requests:
        for data, start, end in _dump(sock, RTM_GETNEIGH, body, seq):
            _fam, _p1, _p2, ifindex, _state, _flags, _type = _NDMSG.unpack_from(data, start)
            if ifindex != index:
                continue
            a = _attrs(data, start + _NDMSG.size, end)
            if family == AF_BRIDGE and NDA_DST in a:  # the device's own (self) entries carry a VTEP
                fdb.add((_mac(a.get(NDA_LLADDR)), _ipv4(a[NDA_DST])))
            elif family == socket.AF_INET and NDA_LLADDR in a:
                arp[_ipv4(a.get(NDA_DST))] = _mac(a[NDA_LLADDR])
    return fdb, arp


def read_namespace(sock):
    """Links, IPv4 addresses and main-table IPv4 routes of the socket's namespace, as an NsView."""
    links = {}
    for data, start, end in _dump(sock, RTM_GETLINK, struct.pack("=BBHiII", 0, 0, 0, 0, 0, 0), 1):
        _fam, _pad, _type, index, flags, _change = struct.unpack_from("=BBHiII", data, start)
        a = _attrs(data, start + 16, end)
        kind, hairpin, vxlan = None, None, None
        if 18 in a:  # IFLA_LINKINFO
            info = _attrs(a[18], 0, len(a[18]))
            kind = _text(info.get(1))
            if kind == "vxlan" and 2 in info:
                vxlan = _vxlan_info(_attrs(info[2], 0, len(info[2])))
            if _text(info.get(4)) == "bridge" and 5 in info:  # slave kind, slave data
                mode = _attrs(info[5], 0, len(info[5])).get(4)  # IFLA_BRPORT_MODE
                hairpin = bool(mode[0]) if mode else None
        name = _text(a.get(3))
        links[name] = Link(name=name, index=index, kind=kind, mtu=_u32(a.get(4)), up=bool(flags & 1),
                           mac=_mac(a.get(1)),
                           master=_u32(a.get(10)), hairpin=hairpin, vxlan=vxlan)
    by_index = dict((lk.index, lk.name) for lk in links.values())
    addresses = {}
    for data, start, end in _dump(sock, RTM_GETADDR, struct.pack("=BBBBI", 2, 0, 0, 0, 0), 2):
        _fam, plen, _flags, _scope, index = struct.unpack_from("=BBBBI", data, start)
        a = _attrs(data, start + 8, end)
        addresses.setdefault(by_index.get(index), set()).add("%s/%d" % (_ipv4(a.get(1)), plen))
    gateway, dev, routes = None, None, []
    for data, start, end in _dump(sock, RTM_GETROUTE, struct.pack("=BBBBBBBBI", 2, 0, 0, 0, 0, 0, 0, 0, 0), 3):
        _fam, dst_len, _src, _tos, table, _proto, _scope, rtype, _flags = struct.unpack_from("=BBBBBBBBI", data, start)
        a = _attrs(data, start + 12, end)
        if (_u32(a.get(15)) or table) != 254 or rtype != 1:  # main table, unicast
            continue
        oif = _u32(a.get(4))
        if dst_len == 0:
            gateway, dev = _ipv4(a.get(5)), oif
        else:
            routes.append(("%s/%d" % (_ipv4(a.get(1)), dst_len), by_index.get(oif)))
    return NsView(links, addresses, gateway, dev, routes)


class Kernel(object):
    """Netlink sockets per namespace, opened on first use and closed by ``close``."""

    def __init__(self):
        self._socks = collections.OrderedDict()
        self._views = {}
        self._index = {}
        self._home = None
        self._doomed = set()  # namespaces with links marked for one batched deletion
        self._busy = None
        self._exists = {}
        self._group = 0x40000000 | random.getrandbits(24)

    # -- sockets and views ----------------------------------------------------------

    def _enter(self, path):
        """Switch this thread into the namespace at ``path``; ``_leave`` comes back."""
        if self._home is None:
            self._home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        fd = os.open(path, os.O_RDONLY)
        try:
            _check(_libc().setns(fd, CLONE_NEWNET), "setns")
        finally:
            os.close(fd)

    def _leave(self):
        _check(_libc().setns(self._home, CLONE_NEWNET), "setns back")

    def _socket(self, ns):
        """A NETLINK_ROUTE socket of namespace ``ns``: it belongs to the namespace it is made in."""
        if ns is not None:
            self._enter(netns_path(ns))
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
        finally:
            if ns is not None:
                self._leave()
        sock.bind((0, 0))
        return sock

    def nl(self, ns=None):
        if ns in self._socks:
            self._socks.move_to_end(ns)
        else:
            if len(self._socks) >= MAX_SOCKETS:  # a bulk run visits many namespaces: keep a few open
                oldest = next(k for k in self._socks if k is not None)
                self._socks.pop(oldest).close()
            try:
                self._socks[ns] = Netlink(self._socket(ns))
            except OSError as e:
                raise KernelError("cannot enter the network namespace %s: %s" % (ns, e), "sandbox")
        return self._socks[ns]

    def close(self):
        for nl in self._socks.values():
            nl.close()
        self._socks.clear()
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

    def view(self, ns=None):
        """The namespace as it was when first observed in this run (None if it does not exist)."""
        if ns not in self._views:
            if not self.netns_exists(ns):
                return None
            try:
                view = read_namespace(self.nl(ns).sock)
            except OSError as e:
                raise KernelError("cannot read the network namespace %s: %s" % (ns or "of the host", e),
                                  "sandbox" if ns else None)
            self._views[ns] = view
            self._index[ns] = dict((lk.name, lk.index) for lk in view.links.values())
        return self._views[ns]

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

    def _do(self, ns, what, fn, *args, **kwargs):
        """Run one netlink call; errors become KernelError, except the codes in ``ignore``
        (the ones that mean the call's work is already done)."""
        ignore = kwargs.pop("ignore", ())
        try:
            return fn(*args, **kwargs)
        except OSError as e:
            if e.errno in ignore:
                return None
            raise KernelError("%s in %s failed: %s" % (what, "the host" if ns is None else "sandbox %s" % ns,
                                                       e.strerror or e))

    def index(self, name, ns=None):
        """A link's index, from the cache or one RTM_GETLINK; None when it does not exist."""
        known = self._index.setdefault(ns, {})
        if name not in known:
            idx = self._do(ns, "looking up %s" % name, self.nl(ns).link_index, name)
            if idx is None:
                return None
            known[name] = idx
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
                if os.path.ismount(path):
                    self._exists[ns] = True
                    return
            if self._home is None:
                self._home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            _check(libc.unshare(CLONE_NEWNET), "unshare")
            try:
                _check(libc.mount(b"/proc/thread-self/ns/net", path.encode(), b"none", MS_BIND, None),
                       "bind " + path)
            finally:
                self._leave()
        except OSError as e:
            raise KernelError("cannot create sandbox %s: %s" % (ns, e), "sandbox")
        self._exists[ns] = True
        self.link_set("lo", ns, state="up")

    def netns_del(self, ns):
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

    def bridge_add(self, name, mtu):
        self._do(None, "creating bridge %s" % name, self.nl(None).link_add, name, "bridge", mtu=mtu)

    def veth_add(self, name, peer, ns, mtu, mac, master):
        """A veth pair: ``name`` on the host (an up port of ``master``), ``peer`` up inside ``ns``."""
        fd = os.open(netns_path(ns), os.O_RDONLY)
        try:
            self._do(None, "creating veth %s" % name, self.nl(None).link_add, name, "veth",
                     data=veth_peer(peer, fd, mac, mtu), mtu=mtu, master=self._must(master))
        finally:
            os.close(fd)
        self.link_set(peer, ns, state="up")

    def link_del(self, name, ns=None):
        idx = self.index(name, ns)
        if idx is None:
            return
        self._do(ns, "deleting link %s" % name, self.nl(ns).link_del, idx, ignore=(errno.ENODEV,))
        self._index.get(ns, {}).pop(name, None)

    def link_del_batch(self, name, ns=None):
        """Mark a link for deletion by ``flush``, which removes every marked link of a
        namespace in one request: the kernel then waits for one RCU grace period, not one
        per link (about 35 ms each), which makes a bulk teardown as fast as deleting netns."""
        idx = self.index(name, ns)
        if idx is None:
            return
        self._do(ns, "marking %s for deletion" % name, self.nl(ns).link_set, idx, group=self._group)
        self._doomed.add(ns)
        self._index.get(ns, {}).pop(name, None)

    def flush(self):
        for ns in sorted(self._doomed, key=str):
            if self.netns_exists(ns):  # ENODEV: gone already, with a namespace removed meanwhile
                self._do(ns, "deleting links", self.nl(ns).link_del, 0, group=self._group,
                         ignore=(errno.ENODEV,))
        self._doomed.clear()

    def link_set(self, name, ns=None, state=None, mtu=None, address=None):
        up = None if state is None else state == "up"
        self._do(ns, "setting %s on %s" % (state or ("mtu %s" % mtu if mtu else "mac %s" % address), name),
                 self.nl(ns).link_set, self._must(name, ns), up=up, mtu=mtu, mac=address)

    def link_attach(self, name, master):
        self._do(None, "attaching %s to %s" % (name, master), self.nl(None).link_set, self._must(name),
                 master=self._must(master))

    def link_rename(self, name, new, ns=None):
        idx = self._must(name, ns)
        what = "renaming %s to %s" % (name, new)
        self._do(ns, what, self.nl(ns).link_set, idx, up=False)
        self._do(ns, what, self.nl(ns).link_set, idx, ifname=new)
        self._do(ns, what, self.nl(ns).link_set, idx, up=True)
        self._index.get(ns, {}).pop(name, None)
        self._index.setdefault(ns, {})[new] = idx

    def hairpin_set(self, name, on):
        self._do(None, "setting hairpin on %s" % name, self.nl(None).hairpin, self._must(name), on)

    def vxlan_add(self, name, vni, port, local, underlay, mtu, master):
        """A VXLAN device (learning off, ARP answered from its neighbour table), up on ``master``."""
        self._do(None, "creating VXLAN device %s" % name, self.nl(None).link_add, name, "vxlan",
                 data=vxlan_data(vni, port, local, self._must(underlay)), mtu=mtu, master=self._must(master))

    def neighbours(self, name):
        """``(fdb, arp)`` of host device ``name`` (see read_neighbours), or empty ones if it is absent."""
        idx = self.index(name)
        if idx is None:
            return set(), {}
        try:
            return read_neighbours(self.nl(None).sock, idx)
        except OSError as e:
            raise KernelError("cannot read the neighbour entries of %s: %s" % (name, e))

    def fdb_add(self, name, mac, vtep):
        self._do(None, "adding %s -> %s to %s" % (mac, vtep, name), self.nl(None).fdb, True, self._must(name),
                 mac, vtep, ignore=(errno.EEXIST,))

    def fdb_del(self, name, mac, vtep):
        idx = self.index(name)
        if idx is not None:
            self._do(None, "removing %s -> %s from %s" % (mac, vtep, name), self.nl(None).fdb, False, idx,
                     mac, vtep, ignore=(errno.ENOENT,))

    def neigh_set(self, name, ip, mac):
        self._do(None, "adding %s -> %s to %s" % (ip, mac, name), self.nl(None).neigh, True, self._must(name),
                 ip, mac)

    def neigh_del(self, name, ip):
        idx = self.index(name)
        if idx is not None:
            self._do(None, "removing %s from %s" % (ip, name), self.nl(None).neigh, False, idx, ip,
                     ignore=(errno.ENOENT,))

    # -- addresses and routes -------------------------------------------------------

    def addr_add(self, name, cidr, ns=None):
        addr, plen = cidr.split("/")
        self._do(ns, "adding %s to %s" % (cidr, name), self.nl(ns).addr, True, self._must(name, ns), addr,
                 int(plen), ignore=(errno.EEXIST,))

    def addr_del(self, name, cidr, ns=None):
        addr, plen = cidr.split("/")
        idx = self.index(name, ns)
        if idx is None:
            return
        self._do(ns, "removing %s from %s" % (cidr, name), self.nl(ns).addr, False, idx, addr, int(plen),
                 ignore=(errno.EADDRNOTAVAIL,))

    def default_route_set(self, gateway, name, ns=None):
        self._do(ns, "setting the default route via %s" % gateway, self.nl(ns).default_route,
                 gateway, self._must(name, ns))

    def default_route_del(self, ns=None):
        self._do(ns, "removing the default route", self.nl(ns).default_route, ignore=(errno.ESRCH,))

    # -- sysctls (of the namespace the module runs in) ------------------------------

    @staticmethod
    def sysctl_get(key):
        try:
            with open("/proc/sys/" + key) as f:
                return f.read().strip()
        except OSError:
            return None

    @staticmethod
    def sysctl_set(key, value):
        path = "/proc/sys/" + key
        try:
            with open(path, "w") as f:
                f.write(str(value))
        except OSError as e:
            raise KernelError("cannot set %s: %s" % (key, e))
