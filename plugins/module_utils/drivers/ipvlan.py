# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ipvlan driver: the macvlan driver's parent handling, with ipvlan links.

Every endpoint shares the parent's MAC address, which suits a switch port or a cloud NIC
that admits one MAC. In L2 mode the endpoints ARP on the parent's wire and route via
the gateway; in L3 and L3S modes the parent routes for them (no broadcast reaches them),
so their default route is on-link, through the parent, with no gateway.
"""

from __future__ import annotations

from typing import Optional

from ansible_collections.cnm.fabric.plugins.module_utils.drivers.macvlan import IpvlanPart, MacvlanDriver
from ansible_collections.cnm.fabric.plugins.module_utils.records import NetworkRecord


class IpvlanDriver(MacvlanDriver):
    option_groups = ("ipvlan",)
    ipam_plugin = False  # not proven on ipvlan links, which share their parent's MAC address
    part = IpvlanPart
    network_parts = (IpvlanPart,)
    endpoint_options = ("ifname", "ipv4_address", "ipv6_address", "default_route", "default_route_metric", "routes",
                        "aliases")
    endpoint_refusals = dict(MacvlanDriver.endpoint_refusals,
                             mac_address="every endpoint of an %s network has its parent's MAC address")
    kind = "ipvlan"
    modes = ("l2", "l3", "l3s")
    default_mode = "l2"
    option_spec = {"ipvlan": dict(type="dict", options=dict(
        parent=dict(type="str"),
        mode=dict(type="str", choices=list(modes), default=default_mode),
    ))}

    def own_mac(self, network: NetworkRecord) -> bool:
        return False

    def gateway_of(self, network: NetworkRecord, version: int = 4) -> Optional[str]:
        return MacvlanDriver.gateway_of(self, network, version) if self.part.of(network).mode == "l2" else None


DRIVER = IpvlanDriver()
