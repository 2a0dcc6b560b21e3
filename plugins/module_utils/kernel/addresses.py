# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Addresses and routes, of the host and of sandboxes."""

from __future__ import annotations

import errno
from typing import Iterable, List, Optional, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils.kernel.base import KernelBase, immediate
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.messages import FAMILIES, RT_TABLE_MAIN, addr, \
    read_routes, route
from ansible_collections.cnm.fabric.plugins.module_utils.model import Route
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.sockets import (
    NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, RTM_DELADDR, RTM_DELROUTE, RTM_NEWADDR, RTM_NEWROUTE, Key)


class Addresses(KernelBase):
    @immediate
    def link_addresses(self, name: str, cidrs: Iterable[str], routes: Iterable[Tuple[int, Optional[str], int]] = (),
                       ns: Key = None) -> None:
        """The addresses ``cidrs`` of a new link ``name`` and the default routes ``routes``
        through it ((IP version, gateway or None for on-link, metric) triples): one batch, kept
        for the first write to a sandbox this run made."""
        idx = self._must(name, ns)
        requests = [(addr(idx, cidr.split("/")[0], int(cidr.split("/")[1])), RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL)
                    for cidr in cidrs]
        requests += [(route(gateway, idx, family=FAMILIES[version], metric=metric), RTM_NEWROUTE,
                      NLM_F_CREATE | NLM_F_REPLACE) for version, gateway, metric in routes]
        self.batch.keep(ns, "addressing %s" % name, requests)

    @immediate
    def addr_add(self, name: str, cidr: str, ns: Key = None) -> None:
        address, plen = cidr.split("/")
        msg = addr(self._must(name, ns), address, int(plen))
        self._do(ns, "adding %s to %s" % (cidr, name), [(msg, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL)],
                 ignore=(errno.EEXIST,))

    @immediate
    def addr_del(self, name: str, cidr: str, ns: Key = None) -> None:
        address, plen = cidr.split("/")
        idx = self.index(name, ns)
        if idx is not None:
            self._do(ns, "removing %s from %s" % (cidr, name), [(addr(idx, address, int(plen)), RTM_DELADDR, 0)],
                     ignore=(errno.EADDRNOTAVAIL,))

    @immediate
    def default_route_set(self, gateway: Optional[str], name: str, ns: Key = None, version: int = 4,
                          metric: int = 0) -> None:
        """Replace the main table's default route of IP ``version`` and ``metric`` by one via
        ``gateway`` (None: on-link) on ``name``."""
        msg = route(gateway, self._must(name, ns), family=FAMILIES[version], metric=metric)
        self._do(ns, "setting the default route via %s" % (gateway or name),
                 [(msg, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE)])

    @immediate
    def default_route_del(self, name: str, ns: Key = None, version: int = 4, metric: Optional[int] = None) -> None:
        """Remove the default route of IP ``version`` (and ``metric``; None: any) through link
        ``name``, and only that one."""
        idx = self.index(name, ns)
        if idx is not None:
            self._do(ns, "removing the default route via %s" % name,
                     [(route(oif=idx, delete=True, family=FAMILIES[version], metric=metric), RTM_DELROUTE, 0)],
                     ignore=(errno.ESRCH,))

    @immediate
    def route_set(self, dst: str, name: str, ns: Key = None, gateway: Optional[str] = None,
                  metric: Optional[int] = None, table: int = RT_TABLE_MAIN) -> None:
        """A route to ``dst`` (CIDR) through ``name``, via ``gateway`` (None: on-link), of
        ``metric`` in ``table``, replacing the one of that destination and metric there was (kept
        for the first write to a sandbox this run made)."""
        self.batch.keep(ns, "adding the route to %s via %s" % (dst, gateway or name),
                        [(route(gateway, self._must(name, ns), dst=dst, metric=metric, table=table), RTM_NEWROUTE,
                          NLM_F_CREATE | NLM_F_REPLACE)])

    @immediate
    def route_del(self, dst: str, name: str, ns: Key = None, metric: Optional[int] = None,
                  table: int = RT_TABLE_MAIN) -> None:
        """Remove the route to ``dst`` of ``metric`` in ``table`` through link ``name``."""
        idx = self.index(name, ns)
        if idx is not None:
            self._do(ns, "removing the route to %s via %s" % (dst, name),
                     [(route(oif=idx, delete=True, dst=dst, metric=metric, table=table), RTM_DELROUTE, 0)],
                     ignore=(errno.ESRCH,))

    def routes_in(self, ns: Key, tables: Iterable[int]) -> List[Route]:
        """The unicast routes of ``tables`` in namespace ``ns`` (those of the main table are in its view)."""
        self.batch.send_setup(ns)
        return [r for table in tables for r in read_routes(self.nl(ns), table)]
