# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The forwarding (FDB) and neighbour entries of the host's VXLAN devices: read with the kernel's
own filter, written through the batch (thousands for a network of many peers)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Set, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.base import KernelBase
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.messages import (
    AF_BRIDGE, NTF_SELF, NUD_NOARP, NUD_PERMANENT, af, neigh, read_neighbours)
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.sockets import (
    NLM_F_APPEND, NLM_F_CREATE, NLM_F_REPLACE, RTM_DELNEIGH, RTM_NEWNEIGH, NetlinkError, error_text)
from ansible_collections.cnm.fabric.plugins.module_utils.model import ZERO_MAC


class Neighbours(KernelBase):
    def neighbours(self, name: str) -> Tuple[Set[Tuple[Optional[str], Optional[str]]], Dict[Optional[str], Optional[str]]]:
        """``(fdb, arp)`` of host device ``name`` (see read_neighbours), or empty ones if it is absent."""
        idx = self.index(name)
        if idx is None:
            return set(), {}
        try:
            return read_neighbours(self.nl(None), idx)
        except (OSError, NetlinkError) as e:
            raise KernelError("cannot read the neighbour entries of %s: %s" % (name, error_text(e)))

    def _fdb(self, index: int, mac: str, vtep: str) -> Any:
        return neigh(AF_BRIDGE, index, NUD_PERMANENT | NUD_NOARP, NTF_SELF, [("NDA_LLADDR", mac), ("NDA_DST", vtep)])

    def fdb_add(self, name: str, mac: str, vtep: str) -> None:
        """A permanent forwarding entry MAC -> VTEP on a VXLAN device; the all-zero MAC
        (flooding) may have many VTEPs, so it is appended, and others are replaced."""
        how = NLM_F_APPEND if mac == ZERO_MAC else NLM_F_REPLACE
        self.batch.hold("adding %s -> %s to %s" % (mac, vtep, name),
                        (self._fdb(self._must(name), mac, vtep), RTM_NEWNEIGH, NLM_F_CREATE | how))

    def fdb_del(self, name: str, mac: str, vtep: str) -> None:
        idx = self.index(name)
        if idx is not None:
            self.batch.hold("removing %s -> %s from %s" % (mac, vtep, name), (self._fdb(idx, mac, vtep), RTM_DELNEIGH, 0))

    def neigh_set(self, name: str, ip: str, mac: str) -> None:
        """A permanent neighbour entry IP -> MAC (ARP for IPv4, NDP for IPv6)."""
        msg = neigh(af(ip), self._must(name), NUD_PERMANENT, attrs=[("NDA_DST", ip), ("NDA_LLADDR", mac)])
        self.batch.hold("adding %s -> %s to %s" % (ip, mac, name), (msg, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE))

    def neigh_del(self, name: str, ip: str) -> None:
        idx = self.index(name)
        if idx is not None:
            msg = neigh(af(ip), idx, NUD_PERMANENT, attrs=[("NDA_DST", ip)])
            self.batch.hold("removing %s from %s" % (ip, name), (msg, RTM_DELNEIGH, 0))
