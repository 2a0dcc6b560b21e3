# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Links: every kind with no peer made by one kind-generic request (``link_add``), on the host or in a
sandbox; the two kinds with special cases fenced off beside it (a veth, whose peer goes to a sandbox,
and a VXLAN device, on an underlay); their settings, and their removal."""

from __future__ import annotations

import errno
import os
import random
from typing import Any, Dict, Iterable, Optional, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils.kernel.base import KernelBase, immediate
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.messages import (
    AF_BRIDGE, CHILD_MODES, IN6_ADDR_GEN_MODE_NONE, NLA_F_NESTED, ifinfo, link_attrs, linkinfo)
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.sockets import (
    NLM_F_CREATE, NLM_F_EXCL, RTM_DELLINK, RTM_NEWLINK, RTM_SETLINK, NetlinkError, error_code, netns_path, Key)


class Links(KernelBase):
    def _link_add(self, what: str, ifname: str, info: Tuple[str, Any], **attrs: Any) -> None:
        """A link of the host, to be marked as the owner's by the batch."""
        msg = ifinfo(up=True, attrs=link_attrs(ifname=ifname, **attrs) + [info])
        self._do(None, what, [(msg, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL)])
        self._mark(ifname)

    def _mark(self, ifname: str) -> None:
        # The kernel ignores IFLA_IFALIAS in a request that creates a link: it is set afterwards,
        # by name, for every link a run made, in the batch's final send.
        if self.owner:
            self.batch.mark(ifname)

    @immediate
    def veth_add(self, name: str, peer: str, ns: str, mtu: int, mac: Optional[str], master: str) -> None:
        """A veth pair: ``name`` on the host (an up port of ``master``), ``peer`` up inside ``ns``.

        The kernel gives ``peer`` no IPv6 link-local address (address generation mode none, set
        while it is still down): it then sends no duplicate address probe and no router
        solicitation when it comes up, which the bridge would flood to every port."""
        fd = os.open(netns_path(ns), os.O_RDONLY)
        try:
            # The peer cannot be made up in the same request: a veth opens only once paired.
            inner: Dict[str, Any] = {"attrs": link_attrs(ifname=peer, mtu=mtu, mac=mac) + [("IFLA_NET_NS_FD", fd)]}
            if ns in self._fresh:
                inner["index"] = self._fresh[ns]
            self._link_add("creating veth %s" % name, name,
                           linkinfo("veth", [("VETH_INFO_PEER", inner)]), mtu=mtu, master=self._must(master))
        finally:
            os.close(fd)
        if ns in self._fresh:
            self._index[ns][peer] = inner["index"]
            self._fresh[ns] += 1
        else:  # a link of that name this run deleted (a pair made again) had another index
            self._index.get(ns, {}).pop(peer, None)
        idx = self._must(peer, ns)
        self.batch.keep(ns, "setting %s up" % peer, [
            (ifinfo(idx, attrs=[("IFLA_AF_SPEC", {"attrs": [("AF_INET6", {"attrs": [
                ("IFLA_INET6_ADDR_GEN_MODE", IN6_ADDR_GEN_MODE_NONE)]})]})]), RTM_NEWLINK, 0),
            (ifinfo(idx, up=True), RTM_NEWLINK, 0)])

    def kind_supported(self, kind: str) -> bool:
        """Whether the kernel makes links of ``kind``, loading its module if it can: a
        request for a link with a name no link may have ('/' in it) is refused with EINVAL by
        a kind the kernel has, and with EOPNOTSUPP by one it has not. Nothing is created either
        way (without a name, the kernel would make a bridge, a veth or a dummy link named for it)."""
        msg = ifinfo(attrs=[("IFLA_IFNAME", "cnm/probe"), linkinfo(kind)])
        try:
            self.nl(None).request(msg, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL)
        except (OSError, NetlinkError) as e:
            return error_code(e) != errno.EOPNOTSUPP
        return True  # not expected: no kind makes a link of that name

    @immediate
    def link_add(self, kind: str, name: str, ns: Key = None, mtu: Optional[int] = None, mac: Optional[str] = None,
                 parent: Optional[str] = None, mode: Optional[str] = None, data: Iterable[Tuple[str, Any]] = ()) -> None:
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
        attrs = link_attrs(ifname=temporary, mtu=mtu, mac=mac, link=self._must(parent) if parent else None) + \
            [linkinfo(kind, data)]
        fd = os.open(netns_path(ns), os.O_RDONLY) if ns is not None else None
        try:
            msg = ifinfo(up=True if ns is None else None, attrs=attrs + ([("IFLA_NET_NS_FD", fd)] if fd else []))
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
                     [(ifinfo(index, up=True, attrs=[("IFLA_IFNAME", name)]), RTM_NEWLINK, 0)])
            self._index[ns].pop(temporary, None)
            self._index[ns][name] = index

    @immediate
    def vxlan_add(self, name: str, vni: int, port: int, local: str, underlay: str, mtu: int, master: str) -> None:
        """A VXLAN device (learning off, ARP answered from its neighbour table), up on ``master``."""
        data = [("IFLA_VXLAN_ID", vni), ("IFLA_VXLAN_LINK", self._must(underlay)), ("IFLA_VXLAN_LOCAL", local),
                ("IFLA_VXLAN_LEARNING", 0), ("IFLA_VXLAN_PROXY", 1), ("IFLA_VXLAN_PORT", port)]
        self._link_add("creating VXLAN device %s" % name, name, linkinfo("vxlan", data), mtu=mtu,
                       master=self._must(master))

    @immediate
    def link_del(self, name: str, ns: Key = None) -> None:
        if ns is None and self.batch.unmake(name):
            return  # never made
        idx = self.index(name, ns)
        if idx is None:
            return
        self._do(ns, "deleting link %s" % name, [(ifinfo(idx), RTM_DELLINK, 0)], ignore=(errno.ENODEV,))
        self._index.get(ns, {}).pop(name, None)

    def link_del_batch(self, name: str, ns: Key = None) -> None:
        """Mark a link for deletion by the batch, which removes every marked link of a
        namespace in one request: the kernel then waits for one RCU grace period, not one
        per link (about 35 ms each), which makes a bulk teardown as fast as deleting netns."""
        if ns is None and self.batch.unmake(name):
            return  # never made
        idx = self.index(name, ns)
        if idx is None:
            return
        self.batch.doom(ns, idx)
        self._index.get(ns, {}).pop(name, None)

    @immediate
    def link_set(self, name: str, ns: Key = None, state: Optional[str] = None, mtu: Optional[int] = None,
                 address: Optional[str] = None) -> None:
        up = None if state is None else state == "up"
        msg = ifinfo(self._must(name, ns), up=up, attrs=link_attrs(mtu=mtu, mac=address))
        self._do(ns, "setting %s on %s" % (state or ("mtu %s" % mtu if mtu else "mac %s" % address), name),
                 [(msg, RTM_NEWLINK, 0)])

    @immediate
    def link_attach(self, name: str, master: Optional[str]) -> None:
        """``name`` made a port of host link ``master`` (None: of none)."""
        self._do(None, "attaching %s to %s" % (name, master) if master else "detaching %s" % name,
                 [(ifinfo(self._must(name), attrs=[("IFLA_MASTER", self._must(master) if master else 0)]),
                   RTM_NEWLINK, 0)])

    @immediate
    def link_rename(self, name: str, new: str, ns: Key = None) -> None:
        """Down, rename, up: one batch (a link is renamed only while down)."""
        idx = self._must(name, ns)
        self._do(ns, "renaming %s to %s" % (name, new),
                 [(ifinfo(idx, up=False), RTM_NEWLINK, 0),
                  (ifinfo(idx, attrs=[("IFLA_IFNAME", new)]), RTM_NEWLINK, 0),
                  (ifinfo(idx, up=True), RTM_NEWLINK, 0)])
        self._index.get(ns, {}).pop(name, None)
        self._index.setdefault(ns, {})[new] = idx

    @immediate
    def hairpin_set(self, name: str, on: bool) -> None:
        """IFLA_BRPORT_MODE of a bridge port, through the AF_BRIDGE family."""
        msg = ifinfo(self._must(name), family=AF_BRIDGE,
                     attrs=[("IFLA_PROTINFO", {"attrs": [("IFLA_BRPORT_MODE", 1 if on else 0)]}, NLA_F_NESTED)])
        self._do(None, "setting hairpin on %s" % name, [(msg, RTM_SETLINK, 0)])
