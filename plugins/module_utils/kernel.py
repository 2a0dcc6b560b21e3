# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The only importer of pyroute2: observe and change links, addresses and routes.

Namespaces are named by a *sandbox key*: ``None`` for the host (the namespace the
module runs in), a bare name for ``/run/netns/NAME``, or an absolute path (such as
``/proc/PID/ns/net``). A namespace is never created unless ``netns_add`` is called.
Each namespace is dumped once per run; the dump is refreshed only after a change.
"""

from __future__ import annotations

import errno
import os
import traceback
from dataclasses import dataclass
from typing import Optional

from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError

try:
    from pyroute2 import IPRoute, NetNS
    from pyroute2 import netns as pyroute2_netns
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


class Kernel(object):
    """Netlink handles per namespace, opened on first use and closed by ``close``."""

    def __init__(self):
        if not HAS_PYROUTE2:
            raise KernelError("the Python library pyroute2 is required on the managed host")
        self._handles = {}
        self._views = {}

    # -- handles and views --------------------------------------------------------

    def handle(self, ns=None):
        if ns not in self._handles:
            try:
                self._handles[ns] = IPRoute() if ns is None else NetNS(netns_path(ns), flags=0)
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

    @staticmethod
    def netns_exists(ns):
        return ns is None or os.path.exists(netns_path(ns))

    def view(self, ns=None):
        """The namespace as it is now (cached until something in it changes)."""
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
        return self._views[ns]

    def _changed(self, ns):
        self._views.pop(ns, None)

    def _call(self, ns, what, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NetlinkError as e:
            where = "the host" if ns is None else "sandbox %s" % ns
            raise KernelError("%s in %s failed: %s" % (what, where, e))
        finally:
            self._changed(ns)

    def index(self, name, ns=None):
        link = self.view(ns).link(name) if self.view(ns) else None
        if link is None:
            raise KernelError("link %s not found in %s" % (name, ns or "the host"))
        return link.index

    # -- namespaces ---------------------------------------------------------------

    def netns_add(self, ns):
        if ns.startswith("/"):
            raise KernelError("%s does not exist and only named sandboxes are created" % ns,
                              "sandbox_path")
        try:
            pyroute2_netns.create(ns)
        except OSError as e:
            if e.errno != errno.EEXIST:
                raise KernelError("cannot create sandbox %s: %s" % (ns, e), "sandbox")
        self._views.pop(ns, None)
        self.link_set("lo", ns, state="up")

    def netns_del(self, ns):
        h = self._handles.pop(ns, None)
        if h is not None:
            h.close()
        self._views.pop(ns, None)
        try:
            pyroute2_netns.remove(ns)
        except OSError as e:
            if e.errno != errno.ENOENT:
                raise KernelError("cannot remove sandbox %s: %s" % (ns, e), "sandbox")

    # -- links --------------------------------------------------------------------

    def bridge_add(self, name, mtu):
        ipr = self.handle(None)
        self._call(None, "creating bridge %s" % name, ipr.link, "add", ifname=name,
                   kind="bridge", mtu=mtu)
        self.link_set(name, None, state="up")

    def veth_add(self, name, peer, ns, mtu, mac, master):
        """A veth pair: ``name`` on the host (a port of ``master``), ``peer`` inside ``ns``."""
        ipr = self.handle(None)
        fd = os.open(netns_path(ns), os.O_RDONLY)
        try:
            self._call(None, "creating veth %s" % name, ipr.link, "add", ifname=name,
                       kind="veth", mtu=mtu,
                       peer={"ifname": peer, "net_ns_fd": fd, "address": mac, "mtu": mtu})
        finally:
            os.close(fd)
            self._changed(ns)
        self.link_set(name, None, master=self.index(master), state="up")
        self.link_set(peer, ns, state="up")

    def link_del(self, name, ns=None):
        view = self.view(ns)
        if view is None or view.link(name) is None:
            return
        self._call(ns, "deleting link %s" % name, self.handle(ns).link, "del",
                   index=view.link(name).index)

    def link_set(self, name, ns=None, **attrs):
        self._call(ns, "setting %s on %s" % (", ".join(sorted(attrs)), name),
                   self.handle(ns).link, "set", index=self.index(name, ns), **attrs)

    def link_attach(self, name, master):
        self.link_set(name, None, master=self.index(master))

    def link_rename(self, name, new, ns=None):
        idx = self.index(name, ns)
        ipr = self.handle(ns)
        self._call(ns, "renaming %s to %s" % (name, new), ipr.link, "set", index=idx, state="down")
        self._call(ns, "renaming %s to %s" % (name, new), ipr.link, "set", index=idx, ifname=new)
        self._call(ns, "renaming %s to %s" % (name, new), ipr.link, "set", index=idx, state="up")

    def hairpin_set(self, name, on):
        self._call(None, "setting hairpin on %s" % name, self.handle(None).brport, "set",
                   index=self.index(name), mode=1 if on else 0)

    # -- addresses and routes -------------------------------------------------------

    def addr_add(self, name, cidr, ns=None):
        addr, plen = cidr.split("/")
        self._call(ns, "adding %s to %s" % (cidr, name), self.handle(ns).addr, "add",
                   index=self.index(name, ns), address=addr, prefixlen=int(plen))

    def addr_del(self, name, cidr, ns=None):
        addr, plen = cidr.split("/")
        view = self.view(ns)
        if view is None or cidr not in view.addresses.get(name, ()):
            return
        self._call(ns, "removing %s from %s" % (cidr, name), self.handle(ns).addr, "del",
                   index=self.index(name, ns), address=addr, prefixlen=int(plen))

    def default_route_set(self, gateway, name, ns=None):
        self._call(ns, "setting the default route via %s" % gateway, self.handle(ns).route,
                   "replace", dst="0.0.0.0/0", gateway=gateway, oif=self.index(name, ns))

    def default_route_del(self, ns=None):
        view = self.view(ns)
        if view is None or view.default_gateway is None:
            return
        self._call(ns, "removing the default route", self.handle(ns).route, "del",
                   dst="0.0.0.0/0", gateway=view.default_gateway)

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
