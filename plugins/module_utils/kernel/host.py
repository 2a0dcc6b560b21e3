# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the kernel layer does beside netlink's links and addresses: the host's IPsec (through
``ip xfrm``, xfrm.py), its conntrack entries (pyroute2's conntrack) and sysctls (/proc/sys), and
the CNI plugins' attachments (cni.py)."""

from __future__ import annotations

import errno
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils import cni, xfrm
from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.base import KernelBase, reaching
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.messages import af, flow_matches
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.sockets import (
    NetlinkError, conntrack, error_code, error_text, netns_path, Key)
from ansible_collections.cnm.fabric.plugins.module_utils.model import XfrmView


class HostState(KernelBase):
    _xfrm_read: Optional[dict] = None  # what ip xfrm listed, until the batch changes it

    def xfrm(self, command: str) -> None:
        """An ``ip xfrm`` command, for the batch to run with the others in one process."""
        self.batch.xfrm(command)

    def xfrm_read(self, tags: Iterable[int]) -> Dict[int, XfrmView]:
        """{tag: XfrmView}, from the host's tables listed once per run (every network of a
        cnm_info run asks), and again after the batch changed them."""
        if self._xfrm_read is None or self.batch.xfrm_changed:
            self._xfrm_read, self.batch.xfrm_changed = xfrm.read(), False
        return dict((t, self._xfrm_read.get(t, XfrmView())) for t in tags)

    @staticmethod
    def esp_missing(probe: str) -> str:
        return xfrm.esp_missing(probe)

    # -- conntrack (of the namespace the module runs in) -----------------------------

    @staticmethod
    def conntrack_forget(flows: Iterable[Tuple[str, str, int, int]]) -> int:
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
            families.setdefault(af(flow[0]), []).append(flow)
        gone = 0
        for family, wanted in sorted(families.items()):
            ct = None
            try:
                ct = conntrack(family)  # a dump holds the entries of its request's family
                for entry in list(ct.dump_entries()):
                    if any(flow_matches(entry, flow) for flow in wanted):
                        try:  # entry(): 0.7.2's delete() fails on the empty reply of its own request
                            ct.entry("del", tuple_orig=entry.tuple_orig)
                            gone += 1
                        except NetlinkError as e:  # ENOENT: it timed out meanwhile
                            if error_code(e) != errno.ENOENT:
                                raise
            except (OSError, NetlinkError) as e:
                raise KernelError("deleting the conntrack entries of removed endpoints failed: %s" % error_text(e))
            finally:
                if ct is not None:
                    ct.close()
        return gone

    # -- sysctls (of the namespace the module runs in) ------------------------------

    @staticmethod
    def sysctl_get(key: str) -> Optional[str]:
        try:
            with open("/proc/sys/" + key) as f:
                return f.read().strip()
        except OSError:
            return None

    def sysctls_in(self, ns: str, keys: Iterable[str]) -> Dict[str, Optional[str]]:
        """Sysctls ``keys`` (paths under /proc/sys) of sandbox ``ns``, read with one entry into it:
        {key: value, or None where there is no such key}."""
        self._enter(netns_path(ns))
        try:
            return dict((key, self.sysctl_get(key)) for key in keys)
        finally:
            self._leave()

    @reaching
    def sysctl_set(self, key: str, value: object, ns: Key = None) -> None:
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

    # -- CNI plugins -------------------------------------------------------------------

    @reaching
    def cni_add(self, key: str, net: cni.Conflist, path: Sequence[str], container_id: str, netns: str, ifname: str,
                prev: Optional[Dict[str, Any]] = None, field: str = cni.ATTACHMENT) -> None:
        """ADD an attachment (cni.add): a cni network's endpoint, or with ``prev``, an endpoint's chain.
        What it returned goes to ``learned[key]``, for endpoint ``key``'s record: under ``field``, and
        an endpoint's addresses and MAC as its interface has them in the result."""
        try:
            result = cni.add(net, path, container_id, netns, ifname, prev)
        except cni.PluginError as e:
            e.msg = "endpoint %s of network %s: %s" % (key.split("/", 1)[1], net["name"], e.msg)
            raise
        attachment = {"container_id": container_id, "config": net, "result": result}
        if prev is not None:
            self.learned.setdefault(key, {})[field] = dict(attachment, prev=prev)
            return
        ipv4, ipv6, mac = cni.addresses(result, ifname)
        self.learned.setdefault(key, {}).update({"ipv4_address": ipv4, "ipv6_address": ipv6, "mac_address": mac,
                                                 field: attachment})

    @reaching
    def cni_ipam_add(self, key: str, conf: Dict[str, Any], path: Sequence[str], container_id: str, netns: str,
                     ifname: str, ns: str, metrics: Optional[Dict[int, int]]) -> None:
        """ADD of an IPAM plugin's attachment (cni_ipam.py), then what it returned set on link ``ifname``
        of sandbox ``ns``: its addresses, its default routes (at ``metrics``, by IP version; None: none)
        and its other routes. Learned for endpoint ``key``: the attachment and the addresses. A
        result the link cannot take is given back (DEL)."""
        try:
            result = cni.ipam("ADD", conf, path, container_id, netns, ifname)
        except cni.PluginError as e:
            e.msg = "endpoint %s of network %s: %s" % (key.split("/", 1)[1], conf["name"], e.msg)
            raise
        cidrs, defaults, others = cni.configuration(result)
        routes = [(version, gateway, metrics[version]) for version, gateway in sorted(defaults.items())] if metrics else []
        kernel: Any = self  # a Kernel, with the Addresses' operations
        try:
            kernel.link_addresses(ifname, cidrs, routes, ns)
            for dst, gateway in others:
                kernel.route_set(dst, ifname, ns, gateway=gateway)
            self.batch.send_setup(ns)
        except KernelError:
            cni.ipam("DEL", conf, path, container_id, netns, ifname)
            raise
        ipv4, ipv6, _mac = cni.addresses(result, ifname)
        self.learned.setdefault(key, {}).update({"ipv4_address": ipv4, "ipv6_address": ipv6, "cni_ipam_attachment": {
            "container_id": container_id, "config": conf, "result": result}})

    @reaching
    def cni_ipam_del(self, conf: Dict[str, Any], path: Sequence[str], container_id: str, netns: str, ifname: str) -> None:
        cni.ipam("DEL", conf, path, container_id, netns, ifname)

    @reaching
    def cni_del(self, net: cni.Conflist, path: Sequence[str], container_id: str, netns: str, ifname: str,
                result: Optional[Dict[str, Any]]) -> None:
        cni.delete(net, path, container_id, netns, ifname, result)
