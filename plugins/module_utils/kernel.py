# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The only importer of pyroute2: observe and change links, addresses and routes.

Namespaces are named by a *sandbox key*: ``None`` for the host (the namespace the
module runs in), a bare name for ``/run/netns/NAME``, or an absolute path (such as
``/proc/PID/ns/net``). A namespace is never created unless ``netns_add`` is called.

Observation (``view``) dumps each namespace once per run, for planning. Changes
address links by name through a small index cache, never by re-dumping, so a bulk
apply costs a handful of netlink messages per endpoint. Netlink sockets for other
namespaces are opened by entering them with setns(2) in this thread and coming back,
which costs a few system calls instead of the helper process pyroute2 would fork.
"""

from __future__ import annotations

import collections
import ctypes
import errno
import os
import traceback
from dataclasses import dataclass
from typing import Optional

from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError

try:
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError
    HAS_PYROUTE2 = True
    PYROUTE2_IMPORT_ERROR = None
except ImportError:
    HAS_PYROUTE2 = False
    PYROUTE2_IMPORT_ERROR = traceback.format_exc()

    class NetlinkError(Exception):  # type: ignore[no-redef]
        code = 0

NETNS_DIR = "/run/netns"


def netns_path(key):
    return key if key.startswith("/") else os.path.join(NETNS_DIR, key)


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

    def name_of(self, index):
        for link in self.links.values():
            if link.index == index:
                return link.name
        return None


def _link(msg):
    info = msg.get_attr("IFLA_LINKINFO")
    kind = info.get_attr("IFLA_INFO_KIND") if info else None
    hairpin = None
    if info is not None and info.get_attr("IFLA_INFO_SLAVE_KIND") == "bridge":
        data = info.get_attr("IFLA_INFO_SLAVE_DATA")
        if data is not None:
            mode = data.get_attr("IFLA_BRPORT_MODE")
            hairpin = bool(mode) if mode is not None else None
    return Link(name=msg.get_attr("IFLA_IFNAME"), index=msg["index"], kind=kind,
                mtu=msg.get_attr("IFLA_MTU"), up=bool(msg["flags"] & 1),
                mac=msg.get_attr("IFLA_ADDRESS"), master=msg.get_attr("IFLA_MASTER"),
                hairpin=hairpin)


CLONE_NEWNET = 0x40000000
MS_REC, MS_BIND, MS_SHARED, MNT_DETACH = 16384, 4096, 1 << 20, 2
ENODEV, EEXIST_, EADDRNOTAVAIL, ESRCH = 19, 17, 99, 3
MAX_HANDLES = 256  # open netlink sockets, well under the usual limit of 1024 descriptors
_LIBC = []


def _libc():
    if not _LIBC:
        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    return _LIBC[0]


def _check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


class Kernel(object):
    """Netlink handles per namespace, opened on first use and closed by ``close``."""

    def __init__(self):
        if not HAS_PYROUTE2:
            raise KernelError("the Python library pyroute2 is required on the managed host")
        self._handles = collections.OrderedDict()
        self._views = {}
        self._index = {}
        self._home = None

    # -- handles and views --------------------------------------------------------

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

    def handle(self, ns=None):
        if ns in self._handles:
            self._handles.move_to_end(ns)
        else:
            if len(self._handles) >= MAX_HANDLES:  # a bulk run visits many namespaces: keep a few open
                oldest = next(k for k in self._handles if k is not None)
                self._handles.pop(oldest).close()
            try:
                if ns is None:
                    self._handles[ns] = IPRoute()
                else:
                    self._enter(netns_path(ns))
                    try:
                        self._handles[ns] = IPRoute()  # the socket belongs to the namespace it is made in
                    finally:
                        self._leave()
            except (OSError, NetlinkError) as e:
                raise KernelError("cannot enter the network namespace %s: %s" % (ns, e), "sandbox")
        return self._handles[ns]

    def close(self):
        for h in self._handles.values():
            try:
                h.close()
            except Exception:  # pylint: disable=broad-except
                pass
        self._handles.clear()
        if self._home is not None:
            os.close(self._home)
            self._home = None

    @staticmethod
    def netns_exists(ns):
        """A named sandbox exists once its file is a mount point (a run killed between
        creating the file and mounting the namespace on it leaves a plain file)."""
        if ns is None:
            return True
        path = netns_path(ns)
        return os.path.ismount(path) if not ns.startswith("/") else os.path.exists(path)

    def view(self, ns=None):
        """The namespace as it was when first observed in this run (None if it does not exist)."""
        if ns not in self._views:
            if not self.netns_exists(ns):
                return None
            ipr = self.handle(ns)
            links = {}
            for msg in ipr.get_links():
                link = _link(msg)
                links[link.name] = link
            by_index = dict((lk.index, lk.name) for lk in links.values())
            addresses = {}
            for msg in ipr.get_addr(family=2):
                name = by_index.get(msg["index"])
                addresses.setdefault(name, set()).add(
                    "%s/%d" % (msg.get_attr("IFA_ADDRESS"), msg["prefixlen"]))
            gateway, dev, routes = None, None, []
            for msg in ipr.get_routes(family=2, table=254):
                dst = msg.get_attr("RTA_DST")
                oif = msg.get_attr("RTA_OIF")
                if dst is None and msg["dst_len"] == 0:
                    gateway, dev = msg.get_attr("RTA_GATEWAY"), oif
                else:
                    routes.append(("%s/%d" % (dst, msg["dst_len"]), by_index.get(oif)))
            self._views[ns] = NsView(links, addresses, gateway, dev, routes)
            for link in links.values():
                self._index[(ns, link.name)] = link.index
        return self._views[ns]

    def _call(self, ns, what, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NetlinkError as e:
            where = "the host" if ns is None else "sandbox %s" % ns
            raise KernelError("%s in %s failed: %s" % (what, where, e))

    def index(self, name, ns=None):
        """A link's index, from the cache or one RTM_GETLINK; None when it does not exist."""
        key = (ns, name)
        if key not in self._index:
            try:
                self._index[key] = self.handle(ns).link("get", ifname=name)[0]["index"]
            except NetlinkError as e:
                if e.code != ENODEV:
                    raise KernelError("looking up %s in %s failed: %s" % (name, ns or "the host", e))
                return None
        return self._index[key]

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
        self.link_set("lo", ns, state="up")

    def netns_del(self, ns):
        h = self._handles.pop(ns, None)
        if h is not None:
            h.close()
        for key in [k for k in self._index if k[0] == ns]:
            del self._index[key]
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
        self._call(None, "creating bridge %s" % name, self.handle(None).link, "add", ifname=name,
                   kind="bridge", mtu=mtu, state="up")

    def veth_add(self, name, peer, ns, mtu, mac, master):
        """A veth pair: ``name`` on the host (an up port of ``master``), ``peer`` up inside ``ns``."""
        fd = os.open(netns_path(ns), os.O_RDONLY)
        try:
            self._call(None, "creating veth %s" % name, self.handle(None).link, "add", ifname=name,
                       kind="veth", mtu=mtu, master=self._must(master), state="up",
                       peer={"ifname": peer, "net_ns_fd": fd, "address": mac, "mtu": mtu})
        finally:
            os.close(fd)
        self.link_set(peer, ns, state="up")

    def link_del(self, name, ns=None):
        idx = self.index(name, ns)
        if idx is None:
            return
        try:
            self.handle(ns).link("del", index=idx)
        except NetlinkError as e:
            if e.code != ENODEV:
                raise KernelError("deleting link %s in %s failed: %s" % (name, ns or "the host", e))
        self._index.pop((ns, name), None)

    def link_set(self, name, ns=None, **attrs):
        self._call(ns, "setting %s on %s" % (", ".join(sorted(attrs)), name),
                   self.handle(ns).link, "set", index=self._must(name, ns), **attrs)

    def link_attach(self, name, master):
        self.link_set(name, None, master=self._must(master))

    def link_rename(self, name, new, ns=None):
        idx = self._must(name, ns)
        ipr = self.handle(ns)
        what = "renaming %s to %s" % (name, new)
        self._call(ns, what, ipr.link, "set", index=idx, state="down")
        self._call(ns, what, ipr.link, "set", index=idx, ifname=new)
        self._call(ns, what, ipr.link, "set", index=idx, state="up")
        self._index.pop((ns, name), None)
        self._index[(ns, new)] = idx

    def hairpin_set(self, name, on):
        self._call(None, "setting hairpin on %s" % name, self.handle(None).brport, "set",
                   index=self._must(name), mode=1 if on else 0)

    # -- addresses and routes -------------------------------------------------------

    def addr_add(self, name, cidr, ns=None):
        addr, plen = cidr.split("/")
        try:
            self.handle(ns).addr("add", index=self._must(name, ns), address=addr, prefixlen=int(plen))
        except NetlinkError as e:
            if e.code != EEXIST_:
                raise KernelError("adding %s to %s in %s failed: %s" % (cidr, name, ns or "the host", e))

    def addr_del(self, name, cidr, ns=None):
        addr, plen = cidr.split("/")
        idx = self.index(name, ns)
        if idx is None:
            return
        try:
            self.handle(ns).addr("del", index=idx, address=addr, prefixlen=int(plen))
        except NetlinkError as e:
            if e.code != EADDRNOTAVAIL:
                raise KernelError("removing %s from %s in %s failed: %s" % (cidr, name, ns or "the host", e))

    def default_route_set(self, gateway, name, ns=None):
        self._call(ns, "setting the default route via %s" % gateway, self.handle(ns).route,
                   "replace", dst="0.0.0.0/0", gateway=gateway, oif=self._must(name, ns))

    def default_route_del(self, ns=None):
        try:
            self.handle(ns).route("del", dst="0.0.0.0/0")
        except NetlinkError as e:
            if e.code != ESRCH:
                raise KernelError("removing the default route in %s failed: %s" % (ns or "the host", e))

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
