# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A driver written outside the collection: one module, registered by the test that uses it.

Its network is a link of kind ``toy`` on the host; an endpoint is a ``toy`` link in its
sandbox with the address IPAM gives it. It uses only the driver interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import Driver, Part
from ansible_collections.cnm.fabric.plugins.module_utils.errors import SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.plan import change


@dataclass(frozen=True)
class ToyOptions:
    link: str


@dataclass(frozen=True)
class ToyPart(Part):
    """The toy network's own field."""
    KEY: ClassVar[str] = "toy"
    link: str  # the host's toy link


class ToyDriver(Driver):
    option_groups = ("toy",)
    network_parts = (ToyPart,)
    endpoint_options = ("ipv4_address", "aliases")
    ipam = True

    def network_options(self, params):
        link = (params.get("toy") or {}).get("link")
        if not link:
            raise SpecError("is required with driver: toy", "toy.link")
        return ToyOptions(link)

    def network_record(self, spec, old, host_view, networks, endpoints):
        return {ToyPart.KEY: ToyPart(link=spec.options.link)}

    def create_network(self, record, host_view, observed):
        link = ToyPart.of(record).link
        if host_view.link(link) is not None:
            return []
        return [change("create toy %s" % link, "toy_add", link, undo=("link_del", (link,)))]

    def delete_network(self, record, host_view, networks=(), observed=None):
        link = ToyPart.of(record).link
        return [change("delete toy %s" % link, "link_del", link)]

    def owned_links(self, record):
        return {ToyPart.of(record).link}

    def join(self, network, endpoint, old, host_view, sandbox_view):
        if sandbox_view is not None and sandbox_view.link("toy0") is not None:
            return []
        return [change("create toy0 in %s" % endpoint["sandbox"], "toy_add", "toy0", endpoint["sandbox"]),
                change("address toy0 in %s" % endpoint["sandbox"], "addr_add", "toy0",
                       endpoint["ipv4_address"] + "/24", endpoint["sandbox"])]

    def leave(self, network, endpoint, host_view, sandbox_view):
        return [change("delete toy0 in %s" % endpoint["sandbox"], "link_del", "toy0", endpoint["sandbox"])]


DRIVER = ToyDriver()
