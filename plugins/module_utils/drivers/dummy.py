# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dummy driver: each endpoint is a dummy link in its sandbox, holding an address of the
network's pool, as the CNI ``dummy`` plugin makes one.

A dummy link sends nothing anywhere: its address is the sandbox's own, reached from outside
only by the routes something else announces for it (a routing daemon in the sandbox, a
static route through another of its networks). The network has no kernel object on the
host, no gateway and no firewall rules; its endpoints take no default route and publish
no port. The kernel needs the ``dummy`` module (checked before anything is made).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible_collections.cnm.fabric.plugins.module_utils.drivers import inner
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import Driver, ObserveRequest, Observed
from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError, SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.model import NsView
from ansible_collections.cnm.fabric.plugins.module_utils.plan import Change, change
from ansible_collections.cnm.fabric.plugins.module_utils.spec import NetworkSpec
from ansible_collections.cnm.fabric.plugins.module_utils.records import EndpointRecord, NetworkRecord

KIND = "dummy"


class DummyDriver(Driver):
    endpoint_options = ("ifname", "ipv4_address", "ipv6_address", "mac_address", "aliases")
    endpoint_refusals = {"publish": "a %s link carries no traffic to NAT: reach the endpoint at its own address",
                         "bandwidth": "a %s link carries no traffic to shape",
                         "default_route": "a %s link leads nowhere, so no route goes through it",
                         "default_route_metric": "a %s link leads nowhere, so no route goes through it",
                         "routes": "a %s link leads nowhere, so no route goes through it"}
    ipam = True
    ipv6 = True

    def network_options(self, params: Dict[str, Any]) -> Any:
        if params.get("gateway"):
            raise SpecError("a dummy network has no gateway: nothing on it answers for one", "gateway")
        return None

    def network_record(self, spec: NetworkSpec, old: Optional[NetworkRecord], host_view: NsView, networks: Dict[str, NetworkRecord],
                       endpoints: List[EndpointRecord]) -> Dict[str, Any]:
        return {"gateway": None, "ipv6_gateway": None}  # nothing answers on the network: no gateway

    def observe(self, record: NetworkRecord) -> ObserveRequest:
        return ObserveRequest(kinds=(KIND,))

    def create_network(self, record: NetworkRecord, host_view: NsView, observed: Observed) -> List[Change]:
        if observed.kinds.get(KIND) is False:
            raise KernelError("this kernel cannot make dummy links (no dummy module); network %r needs them"
                              % record["name"], "driver")
        return []

    def join(self, network: NetworkRecord, endpoint: EndpointRecord, old: Optional[EndpointRecord], host_view: NsView,
             sandbox_view: Optional[NsView]) -> List[Change]:
        ifname, ns, mtu, mac = endpoint["ifname"], endpoint["sandbox"], network["mtu"], endpoint["mac_address"]
        create = change("create dummy %s in %s (mtu %d, %s)" % (ifname, ns, mtu, mac), "link_add", KIND, ifname,
                        ns=ns, mtu=mtu, mac=mac)
        return inner.join_link(network, endpoint, old, sandbox_view, create,
                               lambda link: None if link.kind == KIND else "not a dummy link")

    def leave(self, network: NetworkRecord, endpoint: EndpointRecord, host_view: NsView, sandbox_view: Optional[NsView]) -> List[Change]:
        return inner.leave_link(endpoint, KIND, sandbox_view)


DRIVER = DummyDriver()
