# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A CNI IPAM plugin as the IPAM of a network of the collection's (its ``cni_ipam``, on the drivers
whose ``ipam_plugin`` says so: macvlan).

The collection's driver makes the endpoint's link; the IPAM plugin (the reference ``dhcp``, which
asks the DHCP server on the parent's wire through its daemon, ``host-local``, ``static``, or a third
party's) gives its addresses and routes, as it does for a CNI main plugin: it is run with the
network's configuration (``ipam`` the plugin's object) on stdin, for the endpoint's interface in
its sandbox, and what it returns is set on the link as the reference plugins set it. The network
takes no pool of the collection's.

Each endpoint is one attachment of the plugin, recorded as ``cni_ipam_attachment`` like a cni
network's endpoint (drivers/cni.py): its ADD runs once the link is up, the result is recorded
after the apply (Kernel.learned) and its addresses become the endpoint's; DEL gives the lease back
when the endpoint leaves, whatever becomes of its sandbox. The attachment is made again (DEL, then
ADD) when its ADD did not finish, the configuration or the interface changed, the sandbox or the
link is new, or the plugin's CHECK fails. A change of the network's ``cni_ipam`` reaches each
endpoint at its next cnm_endpoint run (its attachment is then made again).
"""

from __future__ import annotations

from typing import Any, Dict, Final, List, Mapping, Optional

from ansible_collections.cnm.fabric.plugins.module_utils import cni, names, plan
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import GcList
from ansible_collections.cnm.fabric.plugins.module_utils.kernel import netns_path
from ansible_collections.cnm.fabric.plugins.module_utils.model import NsView
from ansible_collections.cnm.fabric.plugins.module_utils.plan import Change
from ansible_collections.cnm.fabric.plugins.module_utils.records import EndpointRecord, NetworkRecord
from ansible_collections.cnm.fabric.plugins.module_utils.spec import route_metric

FIELD: Final = "cni_ipam_attachment"
OPTION_SPEC = dict(type="dict", options=dict(
    plugin=dict(type="dict", required=True),
    cni_version=dict(type="str", choices=list(cni.VERSIONS), default=cni.VERSIONS[0]),
    path=dict(type="list", elements="path"),
))
REFUSED = ("ipv4_address", "ipv6_address", "routes")  # endpoint options the plugin's result answers


def check(value: Dict[str, Any], old: Optional[NetworkRecord]) -> None:
    """The network's plugin (spec.parse_cni_ipam's ``value``) must be on its path and, when new or
    changed, support its version."""
    asked = old is not None and old.get("cni_ipam") == value
    cni.check_found([("cni_ipam.plugin.type", value["plugin"]["type"])], value["path"], None if asked else value["cni_version"])


def of(network: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """A network record's CNI IPAM plugin (None: it has none)."""
    return network.get("cni_ipam") if network else None


def conf(network: NetworkRecord) -> Dict[str, Any]:
    """The configuration the plugin is run with: the network's, as its main plugin would have it."""
    value = network["cni_ipam"]
    return {"cniVersion": value["cni_version"], "name": network["name"], "type": network["driver"], "ipam": value["plugin"]}


# -- endpoints ---------------------------------------------------------------------------

def carry(network: NetworkRecord, record: EndpointRecord, old: Optional[EndpointRecord]) -> None:
    """Give a new record of an endpoint on such a network its attachment and the addresses of its
    result: the old one's, until the run makes it again, or one with no ADD finished (so a run
    killed before it learns the result leaves the next one a DEL to send)."""
    had = old.get(FIELD) if old else None
    record[FIELD] = had or {"container_id": cni.container_id("ipam", network["id"], record["name"]),
                            "config": None, "result": None}
    _addresses(record)


def _addresses(record: EndpointRecord) -> None:
    ipv4, ipv6, _mac = cni.addresses(record[FIELD]["result"] or {}, record["ifname"] or "")
    record["ipv4_address"], record["ipv6_address"] = ipv4, ipv6


def unmade(network: NetworkRecord, record: EndpointRecord, old: Optional[EndpointRecord],
           view: Optional[NsView]) -> Optional[str]:
    """Why ``old``'s attachment must be made again (None: it stands). A new attachment has no result,
    and is made with its link."""
    had = old.get(FIELD) if old else None
    if not had or not old:
        return None
    if had["config"] is None or had["result"] is None:
        return "its last ADD did not finish"
    if had["config"] != conf(network):
        return "the network's cni_ipam changed"
    if old["ifname"] != record["ifname"]:
        return "its interface is now %s" % record["ifname"]
    if view is None:
        return "its sandbox was made again"
    if view.link(old["ifname"] or "") is None:
        return "its interface %s is gone from its sandbox" % old["ifname"]
    try:
        cni.ipam("CHECK", had["config"], network["cni_ipam"]["path"], had["container_id"], netns_path(old["sandbox"]),
                 old["ifname"] or "")
    except cni.PluginError as e:
        return "CHECK failed: %s" % e.msg
    return None


def forget(record: EndpointRecord) -> None:
    """The record of an endpoint whose attachment is to be made again: no result, so no addresses."""
    record[FIELD] = dict(record[FIELD], config=None, result=None)
    _addresses(record)


def changes(network: NetworkRecord, record: EndpointRecord) -> List[Change]:
    """The ADD of an attachment with no result (new, or to be made again: unmade), after the join: it
    runs the plugin and sets what it returns on the link. A link the join makes again while its
    attachment stands (one not the endpoint's, in its place) takes the recorded result's addresses
    from the join, as a link drifted does: the lease is still the endpoint's."""
    attachment = record[FIELD]
    if attachment["result"] is not None:
        return []
    want, path, ifname = conf(network), network["cni_ipam"]["path"], record["ifname"] or ""
    ns, cid = netns_path(record["sandbox"]), attachment["container_id"]
    metric = record.get("default_route_metric") or 0
    metrics = dict((version, route_metric(metric, version)) for version in (4, 6)) if record["default_route"] else None
    return [plan.change(
        "CNI ADD of endpoint %s's addresses (%s in %s) by %s" % (record["name"], ifname, record["sandbox"], want["ipam"]["type"]),
        "cni_ipam_add", names.endpoint_key(record["network"], record["name"]), want, path, cid, ns, ifname, record["sandbox"],
        metrics, undo=("cni_ipam_del", (want, path, cid, ns, ifname)))]


def delete(network: Optional[NetworkRecord], record: EndpointRecord, why: str = "") -> List[Change]:
    """DEL of an endpoint's attachment, with what its ADD ran (the network's configuration when that
    ADD did not finish; nothing to send when neither is known)."""
    had, value = record.get(FIELD), of(network)
    ran = had and (had["config"] or (conf(network) if network and value else None))
    if not had or not ran:
        return []
    path = value["path"] if value else list(cni.DEFAULT_PATH)
    text = "CNI DEL of endpoint %s's addresses (%s in %s)" % (record["name"], record["ifname"], record["sandbox"])
    return [plan.change(text + (" (%s)" % why if why else ""), "cni_ipam_del", ran, path, had["container_id"],
                        netns_path(record["sandbox"]), record["ifname"] or "")]


def gateways(record: EndpointRecord) -> Dict[int, Optional[str]]:
    """The gateway of the default route of each IP version the result gives one of."""
    return cni.configuration(record[FIELD]["result"] or {})[1]


def cidrs(record: EndpointRecord) -> List[str]:
    return cni.configuration(record[FIELD]["result"] or {})[0]


def gc_lists(network: NetworkRecord, endpoints: List[EndpointRecord]) -> List[GcList]:
    """The IPAM plugin as a list of its own for cnm_prune's GC, with the attachments of ``endpoints``."""
    value = of(network)
    if not value:
        return []
    valid = [(ep[FIELD]["container_id"], ep["ifname"] or "") for ep in endpoints if ep.get(FIELD)]
    return [(cni.ipam_list(conf(network)), value["path"], valid)]
