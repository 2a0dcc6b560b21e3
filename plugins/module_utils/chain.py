# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CNI plugins chained onto an endpoint of the collection's own drivers (its ``cni_chain``).

Meta-plugins (the reference ``bandwidth``, ``tuning``, ``sbr``, ``firewall``, or a third party's)
change an interface something else made. They are run as a runtime runs a chain after its main
plugin: ADD once the endpoint is joined, given as ``prevResult`` what the join made (the
endpoint's host links, its interface in the sandbox with its MAC, its addresses with their
prefixes and gateways), and DEL when the endpoint leaves or the chain is taken off, given the
chain's result. The chain is its own attachment (a container ID of its own), recorded as
``cni_chain_attachment`` like a cni network's endpoint (drivers/cni.py), and made again (DEL, then
ADD) for the same reasons: an ADD that did not finish, a changed chain or endpoint, its link or
sandbox made again, or a failed CHECK.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible_collections.cnm.fabric.plugins.module_utils import cni, drivers, names, plan
from ansible_collections.cnm.fabric.plugins.module_utils.kernel import netns_path
from ansible_collections.cnm.fabric.plugins.module_utils.model import NsView
from ansible_collections.cnm.fabric.plugins.module_utils.plan import Change
from ansible_collections.cnm.fabric.plugins.module_utils.records import EndpointRecord, NetworkRecord
from ansible_collections.cnm.fabric.plugins.module_utils.run import Run

FIELD = "cni_chain_attachment"


def prev_result(network: NetworkRecord, record: EndpointRecord) -> Dict[str, Any]:
    """What the endpoint's join made, as a CNI result of the chain's version."""
    interfaces: List[Dict[str, Any]] = [{"name": link} for link in sorted(drivers.host_links(record))]
    mine: Dict[str, Any] = {"name": record["ifname"], "sandbox": netns_path(record["sandbox"])}
    if record.get("mac_address"):
        mine["mac"] = record["mac_address"]
    interfaces.append(mine)
    ips = [dict({"interface": len(interfaces) - 1, "address": address}, **({"gateway": gateway} if gateway else {}))
           for address, gateway, _default in cni.addressing(network, record)]
    return {"cniVersion": record["cni_chain"]["cni_version"], "interfaces": interfaces, "ips": ips, "dns": {}}


def conflist(record: EndpointRecord) -> cni.Conflist:
    chain = record["cni_chain"]
    return cni.conflist(record["network"], chain["cni_version"], chain["plugins"])


def check(value: Dict[str, Any], option: str = "cni_chain") -> None:
    """Every plugin the chain names must be on its path (before anything is changed)."""
    cni.check_found([("%s.plugins[%d].%s" % (option, i, key), kind) for i, plugin in enumerate(value["plugins"])
                     for key, kind in cni.plugin_types(plugin)], value["path"], None)


def carry(network: NetworkRecord, record: EndpointRecord, old: Optional[EndpointRecord]) -> None:
    """Give a new record of an endpoint with a chain its attachment: the old one's, until the run makes
    it again (Kernel.learned), or one with no ADD finished, so a run killed before it learns the result
    leaves the next one a DEL to send."""
    if not record.get("cni_chain"):
        return
    had = old.get("cni_chain_attachment") if old else None
    fresh = {"container_id": cni.container_id("chain", network["id"], record["name"]), "config": None, "result": None}
    record["cni_chain_attachment"] = had or fresh


def unmade(network: NetworkRecord, record: EndpointRecord, old: Optional[EndpointRecord], view: Optional[NsView]) -> Optional[str]:
    """Why ``old``'s chain must be DELeted while the endpoint's link stays (taken off, or to be made
    again), or None. A meta-plugin's DEL may leave what its ADD set on the link (the reference
    bandwidth plugin's qdiscs and redirect stay on the host end, to an ifb it deletes): the link is
    then made again too (endpoints.join_endpoint), as a runtime makes a chain with its interface."""
    had = old.get("cni_chain_attachment") if old else None
    if not old or not had or view is None or view.link(old["ifname"] or "") is None:
        return None  # no chain, or its link is gone anyway: changes() sends its DEL
    if not record.get("cni_chain"):
        return "taken off"
    if had["config"] is None or had["result"] is None:
        return "its last ADD did not finish"
    if had["config"] != conflist(record):
        return "the chain changed"
    if had.get("prev") != prev_result(network, record):
        return "the endpoint changed"
    problem = cni.check(had["config"], record["cni_chain"]["path"], had["container_id"], netns_path(record["sandbox"]),
                        record["ifname"] or "", had["result"])
    return "CHECK failed: %s" % problem if problem else None


def changes(run: Run, record: EndpointRecord, old: Optional[EndpointRecord], joined: List[Change],
            deleted: bool) -> List[Change]:
    """The chain's ADD, after its join's changes ``joined``; with ``deleted``, its DEL is already
    planned (unmade). Where the join made the link again, or ``old``'s chain is taken off after its
    link went, the DEL of ``old``'s chain first."""
    had = old.get("cni_chain_attachment") if old else None
    delete_old = [delete(old, "its link was made again")] if old and had and not deleted else []
    if not record.get("cni_chain"):
        return delete_old
    if had and not deleted and not any(c.op in plan.LINK_MADE for c in joined):
        return []
    network = run.networks[record["network"]]
    net, prev, attachment = conflist(record), prev_result(network, record), record["cni_chain_attachment"]
    ifname, key = record["ifname"] or "", names.endpoint_key(record["network"], record["name"])
    path, ns = record["cni_chain"]["path"], netns_path(record["sandbox"])
    return delete_old + [plan.change(
        "CNI ADD of endpoint %s's chain (%s in %s) by %s" % (record["name"], ifname, record["sandbox"], cni.types_text(net)),
        "cni_add", key, net, path, attachment["container_id"], ns, ifname, prev=prev, field=FIELD,
        undo=("cni_del", (net, path, attachment["container_id"], ns, ifname, None)))]


def delete(record: EndpointRecord, why: str = "") -> Change:
    """DEL of an endpoint's chain, with what its ADD ran (the chain as recorded, when that ADD did not finish)."""
    had = record["cni_chain_attachment"]
    net = had["config"] or conflist(record)
    path = (record.get("cni_chain") or {}).get("path") or list(cni.DEFAULT_PATH)
    text = "CNI DEL of endpoint %s's chain (%s in %s) by %s" % (record["name"], record["ifname"], record["sandbox"], cni.types_text(net))
    return plan.change(text + (" (%s)" % why if why else ""), "cni_del", net, path, had["container_id"],
                       netns_path(record["sandbox"]), record["ifname"] or "", had["result"] or had.get("prev"))
