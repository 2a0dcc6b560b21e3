# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cni driver: a network whose endpoints are made by CNI plugins (cni.py runs them).

The network is a CNI network configuration list: its name is the network's, its plugins and
version are ``cni``'s options. The plugins own what they make on the host (the reference
``bridge`` plugin's bridge, host-local's leases); the collection owns the attachments: each
endpoint is one (a container ID of its own, its sandbox, its interface), ADDed when it joins and
DELeted when it leaves, whatever becomes of its sandbox (DEL is what gives a lease back).

What an ADD returns is known only once it has run: the kernel layer hands it back to the run
(``Kernel.learned``), which records it in the endpoint's ``cni_attachment`` part with the
configuration it ran, and the addresses and MAC of the endpoint's interface in its common
fields, for the hosts files and cnm_info. Until an attachment is made again, each run keeps
them (``learned``).

An attachment is made again (DEL with what its ADD ran, then ADD) when its ADD did not finish
(a run killed after the record was written and before the result was), when the network's
configuration or the endpoint's interface name changed, when its sandbox was made again (a
reboot), when its interface is gone from the sandbox, or when the plugins' CHECK fails; each is
the reason the change gives, and what cnm_info reports as drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple, Type

from ansible_collections.cnm.fabric.plugins.module_utils import cni, names
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import Driver, GcList, Part
from ansible_collections.cnm.fabric.plugins.module_utils.errors import SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.kernel import netns_path
from ansible_collections.cnm.fabric.plugins.module_utils.model import NsView
from ansible_collections.cnm.fabric.plugins.module_utils.plan import Change, change
from ansible_collections.cnm.fabric.plugins.module_utils.records import EndpointRecord, NetworkRecord
from ansible_collections.cnm.fabric.plugins.module_utils.spec import EndpointSpec, NetworkSpec

GROUP = "cni"
IPAM_MODES = ("plugin", "cnm")  # whose IPAM gives the endpoints their addresses: the plugins', or the collection's
STATIC = "static"  # the reference IPAM plugin the collection's addresses are handed to the plugins with
POOLED_OPTIONS = ("ipv4_address", "ipv6_address", "default_route")  # endpoint options of the collection's IPAM


class CniOptions(NamedTuple):
    plugins: Tuple[Dict[str, Any], ...]
    version: str
    path: Tuple[str, ...]
    ipam: str


@dataclass(frozen=True)
class CniNetwork(Part):
    """The network's configuration list, as given."""
    KEY = "cni"
    cni_version: str
    plugins: list
    path: list  # the directories of CNI_PATH, in order
    ipam: str = IPAM_MODES[0]  # "cnm": the network's pools give the addresses, handed to the first plugin as static IPAM


@dataclass(frozen=True)
class CniAttachment(Part):
    """An endpoint's attachment, as its last ADD made it."""
    KEY = cni.ATTACHMENT
    container_id: str
    config: Optional[dict] = None  # the configuration list its last ADD ran (None: no ADD has finished)
    result: Optional[dict] = None  # what that ADD returned


def conflist(network: NetworkRecord, endpoint: EndpointRecord) -> cni.Conflist:
    """What an endpoint's attachment runs: the network's list, and with the collection's IPAM, the
    endpoint's addresses given to the first plugin as the static IPAM plugin's configuration."""
    part = CniNetwork.of(network)
    net = cni.conflist(network["name"], part.cni_version, part.plugins)
    if part.ipam == "cnm":
        net["plugins"][0]["ipam"] = static_ipam(network, endpoint)
    return net


def static_ipam(network: NetworkRecord, endpoint: EndpointRecord) -> Dict[str, Any]:
    """The static IPAM plugin's configuration of an endpoint's addresses (each with its network's
    gateway) and, with its default_route, the default routes through those gateways."""
    addresses: List[Dict[str, Any]] = []
    routes: List[Dict[str, Any]] = []
    for address, gateway, default in cni.addressing(network, endpoint):
        addresses.append(dict({"address": address}, **({"gateway": gateway} if gateway else {})))
        if gateway and endpoint["default_route"]:
            routes.append({"dst": default, "gw": gateway})
    return dict({"type": STATIC, "addresses": addresses}, **({"routes": routes} if routes else {}))


def _with_static(part: CniNetwork) -> List[Dict[str, Any]]:
    """The network's plugins, the first with the static IPAM plugin where the collection's IPAM hands
    it the addresses (each endpoint's own, in its conflist)."""
    return [dict(plugin, ipam={"type": STATIC}) if i == 0 and part.ipam == "cnm" else plugin
            for i, plugin in enumerate(part.plugins)]


def container_id(network: NetworkRecord, name: str) -> str:
    """An endpoint's CNI container ID: stable for the endpoint, unique to the network (its ID) and name."""
    return cni.container_id("cni", network["id"], name)


class CniDriver(Driver):
    option_groups = (GROUP,)
    option_spec = {GROUP: dict(type="dict", options=dict(
        plugins=dict(type="list", elements="dict"),
        cni_version=dict(type="str", choices=list(cni.VERSIONS), default=cni.VERSIONS[0]),
        path=dict(type="list", elements="path"),
        ipam=dict(type="str", choices=list(IPAM_MODES), default=IPAM_MODES[0]),
    ))}
    network_parts: Tuple[Type[Part], ...] = (CniNetwork,)
    endpoint_parts: Tuple[Type[Part], ...] = (CniAttachment,)
    endpoint_options = ("ifname", "aliases") + POOLED_OPTIONS  # those of the collection's IPAM: check_endpoint
    endpoint_refusals = {
        "mac_address": "give the plugin its mac (the bridge plugin's mac, or tuning's) in the %s configuration",
        "publish": "publish ports with the portmap plugin in the %s configuration",
        "bandwidth": "shape with the bandwidth plugin in the %s configuration",
        "default_route_metric": "the %s plugins' IPAM gives the sandbox its routes",
        "routes": "the %s plugins' IPAM gives the sandbox its routes"}
    default_mtu = None
    leaves_with_sandbox = False
    ipv6 = True  # with the collection's IPAM
    pool_option = "cni.ipam: cnm"

    def pooled(self, network: Mapping[str, Any]) -> bool:
        return (network.get(GROUP) or {}).get("ipam") == "cnm"  # the record's part and the params alike

    def network_options(self, params: Dict[str, Any]) -> Any:
        if params.get("mtu"):
            raise SpecError("is the plugins' to set on a cni network (the bridge plugin's mtu, for one)", "mtu")
        group = params.get(GROUP) or {}
        path = cni.check_path(group.get("path"), GROUP + ".path")
        if params.get("state") != "present":
            return None
        plugins = cni.check_plugins(group.get("plugins"), GROUP + ".plugins")
        ipam = group.get("ipam") or IPAM_MODES[0]
        if ipam == "cnm" and "ipam" in plugins[0]:
            raise SpecError("is the collection's with cni.ipam: cnm (it gives each endpoint its addresses as the static "
                            "IPAM plugin's configuration)", GROUP + ".plugins[0].ipam")
        return CniOptions(plugins, group.get("cni_version") or cni.VERSIONS[0], path, ipam)

    def network_record(self, spec: NetworkSpec, old: Optional[NetworkRecord], host_view: NsView, networks: Dict[str, NetworkRecord],
                       endpoints: List[EndpointRecord]) -> Dict[str, Any]:
        o: CniOptions = spec.options
        part = CniNetwork(o.version, list(o.plugins), list(o.path), o.ipam)
        unchanged = old is not None and CniNetwork.held_by(old) and CniNetwork.of(old) == part
        kinds = [("%s.plugins[%d].%s" % (GROUP, i, key), kind) for i, plugin in enumerate(_with_static(part))
                 for key, kind in cni.plugin_types(plugin)]
        cni.check_found(kinds, o.path, None if unchanged else o.version)  # the versions are asked once, when given
        return {GROUP: part, "mtu": None}

    def replaces(self, old: NetworkRecord, record: NetworkRecord) -> Optional[str]:
        return GROUP + ".ipam" if CniNetwork.of(old).ipam != CniNetwork.of(record).ipam else None

    def gc_lists(self, record: NetworkRecord, endpoints: List[EndpointRecord]) -> List[GcList]:
        part = CniNetwork.of(record)
        valid = [(CniAttachment.of(ep).container_id, ep["ifname"] or "") for ep in endpoints if CniAttachment.held_by(ep)]
        return [(cni.conflist(record["name"], part.cni_version, _with_static(part)), part.path, valid)]

    def rejoin(self, old: NetworkRecord, record: NetworkRecord) -> bool:
        return CniNetwork.of(old) != CniNetwork.of(record) or old.get("gateway") != record.get("gateway")

    def own_mac(self, network: NetworkRecord) -> bool:
        return False  # the plugin's

    def check_endpoint(self, network: NetworkRecord, spec: EndpointSpec, old: Optional[EndpointRecord],
                       others: Any) -> None:
        if spec.cni_chain:
            raise SpecError("is for endpoints of the collection's drivers: add its plugins to network %r's cni.plugins"
                            % network["name"], "cni_chain")
        if self.pooled(network):
            return
        for option in POOLED_OPTIONS:
            if getattr(spec, option) is not None:
                raise SpecError("needs a network with cni.ipam: cnm; network %r's plugins give its endpoints their "
                                "addresses and routes" % network["name"], option)

    # -- endpoints -----------------------------------------------------------------------

    def endpoint_record(self, network: NetworkRecord, name: str) -> Tuple[Part, ...]:
        return (CniAttachment(container_id(network, name)),)

    def learned(self, network: NetworkRecord, old: Optional[EndpointRecord]) -> Dict[str, Any]:
        if old is None or not CniAttachment.held_by(old):
            return {}
        keys = ("mac_address", CniAttachment.KEY) + (() if self.pooled(network) else ("ipv4_address", "ipv6_address"))
        return dict((key, old.get(key)) for key in keys)

    def join(self, network: NetworkRecord, endpoint: EndpointRecord, old: Optional[EndpointRecord], host_view: NsView,
             sandbox_view: Optional[NsView]) -> List[Change]:
        want, path = conflist(network, endpoint), CniNetwork.of(network).path
        cid, ns, ifname = container_id(network, endpoint["name"]), netns_path(endpoint["sandbox"]), endpoint["ifname"] or ""
        key = names.endpoint_key(network["name"], endpoint["name"])
        add = change("CNI ADD of endpoint %s (%s in %s) by %s" % (endpoint["name"], ifname, endpoint["sandbox"], cni.types_text(want)),
                     "cni_add", key, want, path, cid, ns, ifname, undo=("cni_del", (want, path, cid, ns, ifname, None)))
        if old is None or not CniAttachment.held_by(old):
            return [add]
        had = CniAttachment.of(old)
        why = self._stale(want, path, had, old, ifname, sandbox_view)
        if why is None:
            return []
        return [self._delete(network, old, "made again: " + why), add]

    @staticmethod
    def _stale(want: cni.Conflist, path: List[str], had: CniAttachment, old: EndpointRecord, ifname: str,
               sandbox_view: Optional[NsView]) -> Optional[str]:
        """Why an attachment must be made again, or None."""
        if had.config is None or had.result is None:
            return "its last ADD did not finish"
        if had.config != want:
            return "the network's CNI configuration changed"
        if old["ifname"] != ifname:
            return "its interface is now %s" % ifname
        if sandbox_view is None:
            return "its sandbox was made again"
        if sandbox_view.link(ifname) is None:
            return "its interface %s is gone from its sandbox" % ifname
        problem = cni.check(want, path, had.container_id, netns_path(old["sandbox"]), ifname, had.result)
        return "CHECK failed: %s" % problem if problem else None

    def _delete(self, network: NetworkRecord, endpoint: EndpointRecord, why: str = "") -> Change:
        """DEL of the endpoint's attachment, with what its ADD ran (the network's configuration when
        that ADD did not finish)."""
        had = CniAttachment.of(endpoint)
        ran = had.config or conflist(network, endpoint)
        text = "CNI DEL of endpoint %s (%s in %s) by %s" % (endpoint["name"], endpoint["ifname"], endpoint["sandbox"], cni.types_text(ran))
        return change(text + (" (%s)" % why if why else ""),
                      "cni_del", ran, CniNetwork.of(network).path, had.container_id, netns_path(endpoint["sandbox"]),
                      endpoint["ifname"], had.result)

    def leave(self, network: NetworkRecord, endpoint: EndpointRecord, host_view: NsView, sandbox_view: Optional[NsView]) -> List[Change]:
        return [self._delete(network, endpoint)]


DRIVER = CniDriver()
