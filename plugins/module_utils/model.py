# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the kernel layer observes, as plain frozen data: no I/O here.

Drivers plan from these snapshots and never import the kernel layer, so their plans
are unit-tested from hand-made snapshots without root.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Tuple

ZERO_MAC = "00:00:00:00:00:00"  # a VXLAN device's flood entry


@dataclass(frozen=True)
class VxlanInfo:
    """The settings of a VXLAN device."""
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
    hairpin: Optional[bool] = None  # as a bridge port; None when not one
    vxlan: Optional[VxlanInfo] = None
    parent: Optional[int] = None  # ifindex of the lower device (IFLA_LINK: VLAN, macvlan, ipvlan)
    mode: Optional[str] = None    # a macvlan's or ipvlan's mode, by name
    ipv6_disabled: Optional[bool] = None  # its disable_ipv6 setting (None: the kernel has no IPv6)
    alias: Optional[str] = None  # IFLA_IFALIAS: names.owner_tag of the state_dir that made it, on the host's links
    vrf_table: Optional[int] = None  # a VRF's routing table


@dataclass(frozen=True)
class Route:
    """A unicast route: ``dst`` in CIDR form; ``gateways`` holds (gateway, ifindex) pairs, one
    for a plain route and one per hop for a multipath route."""
    dst: str
    gateways: tuple
    metric: int = 0
    table: int = 254  # main


DEFAULT_DST = {4: "0.0.0.0/0", 6: "::/0"}


@dataclass
class NsView:
    """One dump of a namespace: links by name, addresses (IFA_LOCAL, both families, no IPv6
    link-local ones) by link name, its main-table routes of both families, and the routes of the
    other tables it was asked for, by table."""
    links: dict
    addresses: dict
    routes: list = field(default_factory=list)
    tables: dict = field(default_factory=dict)

    def link(self, name: str) -> Optional[Link]:
        return self.links.get(name)

    def link_by_index(self, index: Optional[int]) -> Optional[Link]:
        return next((lk for lk in self.links.values() if lk.index == index), None)

    def without(self, names: Iterable[str]) -> NsView:
        """The view as it is once links ``names`` are deleted (their addresses and routes with them)."""
        gone = set(names)
        indexes = set(lk.index for name, lk in self.links.items() if name in gone)

        def kept(route: Route) -> bool:
            return not any(oif in indexes for _gateway, oif in route.gateways)
        return NsView(links=dict((n, lk) for n, lk in self.links.items() if n not in gone),
                      addresses=dict((n, a) for n, a in self.addresses.items() if n not in gone),
                      routes=[r for r in self.routes if kept(r)],
                      tables=dict((t, [r for r in routes if kept(r)]) for t, routes in self.tables.items()))

    def default(self, version: int = 4) -> Optional[Route]:
        """The default route of IP ``version`` the kernel uses: the one with the lowest metric, or None."""
        defaults = [r for r in self.routes if r.dst == DEFAULT_DST[version]]
        return min(defaults, key=lambda r: r.metric) if defaults else None

    def gateway_of(self, version: int = 4) -> Tuple[Optional[str], Optional[int]]:
        """(gateway, ifindex) of the default route's (first) hop, or (None, None)."""
        route = self.default(version)
        return route.gateways[0] if route and route.gateways else (None, None)

    @property
    def default_route(self) -> Optional[Route]:
        return self.default(4)

    @property
    def default_gateway(self) -> Optional[str]:
        return self.gateway_of(4)[0]

    @property
    def default_dev(self) -> Optional[int]:
        """The ifindex of the IPv4 default route's (first) hop."""
        return self.gateway_of(4)[1]

    def routed_dsts(self) -> List[Tuple[str, Optional[str]]]:
        """(destination, link name) of every route that is not a default route."""
        return [(r.dst, getattr(self.link_by_index(hop[1]), "name", None))
                for r in self.routes if r.dst not in DEFAULT_DST.values() for hop in r.gateways[:1]]


@dataclass(frozen=True)
class XfrmView:
    """The IPsec objects of one encrypted network (found by its tag, drivers/esp.py): its
    security associations as (src, dst, spi) and its outbound policies as (src, dst, port)."""
    states: frozenset = frozenset()
    policies: frozenset = frozenset()
