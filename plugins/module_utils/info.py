# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnm_info: what the store records, what the kernel has, and where they disagree."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils import drivers, firewall, names, plan, restore, sandbox, services
from ansible_collections.cnm.fabric.plugins.module_utils.endpoints import endpoint_facts
from ansible_collections.cnm.fabric.plugins.module_utils.pools import pool_record
from ansible_collections.cnm.fabric.plugins.module_utils.prune import orphan_addresses, orphan_links
from ansible_collections.cnm.fabric.plugins.module_utils.run import Run, network_public


def gather(run: Run) -> Dict[str, Any]:
    """The records, each with whether the kernel holds it as recorded, and the drift: what a run of
    the recorded state would change (the planner's own comparison, as the restore unit plans it),
    listed per object, one entry per change, and what cnm_prune would remove."""
    planned: Dict[Tuple[str, str], List[str]] = {}

    def report(kind: str, name: str, changes: List[plan.Change]) -> None:
        planned.setdefault((kind, name), []).extend(plan.texts(changes))

    problems, waiting = restore.converge(run, report)
    planned_lines = len(run.log)
    run.finish()  # check mode: the files and tables a run would write, judged as a run judges them
    drift = [{"kind": kind, "name": name, "problem": text}
             for (kind, name), texts in sorted(planned.items()) for text in texts]
    drift += [{"kind": kind, "name": name, "problem": text} for kind, name, text in problems + waiting]
    failed = set((kind, name) for kind, name, _text in problems + waiting)
    wrong = set(planned) | failed
    networks = dict((name, dict(network_public(net), present=("network", name) not in wrong))
                    for name, net in sorted(run.networks.items()))
    services_ = dict(("%s/%s" % (name, svc_name), services.facts(net, svc, run.endpoints))
                     for name, net in sorted(run.networks.items())
                     for svc_name, svc in sorted((net.get("services") or {}).items()))
    endpoints = {}
    for key, ep in sorted(run.endpoints.items()):
        present = ep["network"] in networks and ("endpoint", key) not in wrong and \
            not {("network", ep["network"]), ("sandbox", ep["sandbox"])} & failed
        endpoints[key] = dict(endpoint_facts(run, ep), present=present)
    sandboxes = {}
    for key, sb in sorted(run.sandboxes.items()):
        sandboxes[key] = {"name": key, "created": bool(sb.get("created")), "present": run.kernel.netns_exists(key),
                          "endpoints": sorted(run.members(key))}
    for name in sorted(orphan_links(run)):
        drift.append({"kind": "link", "name": name, "problem": "made for this state_dir, and no record owns it"})
    for network, owner in orphan_addresses(run):
        drift.append({"kind": "address", "name": "%s/%s" % (network, owner),
                      "problem": "held in the network's pool by no endpoint"})
    dirs, tmp = sandbox.leftovers(run.state_dir, run.sandboxes)
    drift.extend({"kind": "file", "name": d, "problem": "sandbox files of no recorded sandbox"} for d in dirs)
    drift.extend({"kind": "file", "name": t, "problem": "left by a killed write"} for t in tmp)
    fw = None
    table = names.table_name(run.state_dir)
    ruleset = firewall.render(run.networks, run.endpoints, services.mesh(run.networks, run.endpoints), table)
    if ruleset:  # '' when no network brings rules
        fw = {"present": firewall.tables_present(run.state_dir), "ruleset": ruleset, "table": table}
    for text in run.log[planned_lines:]:
        kind, name = _finish_change(text, table)
        if kind == "firewall":
            text += ": they " + ("differ from the records or were changed since their last load"
                                 if fw is None or fw["present"] else "are missing")
        if name not in tmp:  # reported above
            drift.append({"kind": kind, "name": name, "problem": text})
    journal = run.store.journal()
    if journal is not None:
        drift.append({"kind": "run", "name": "journal.json",
                      "problem": "an interrupted run was removing endpoints %s and sandboxes %s; the next run of a "
                                 "module finishes it" % (journal["endpoints"], journal["sandboxes"])})
    pools = {}
    if os.path.isdir(run.state_dir):
        for fname in sorted(os.listdir(run.state_dir)):
            if fname.startswith("ipam-") and fname.endswith(".json"):
                space = fname[len("ipam-"):-len(".json")]
                pools[space] = dict((name, pool_record(name, pool))
                                    for name, pool in sorted(run.ipam(space).pools().items()))
    return {"networks": networks, "endpoints": endpoints, "sandboxes": sandboxes, "services": services_,
            "pools": pools, "firewall": fw, "drift": drift}


def _finish_change(text: str, table: str) -> Tuple[str, str]:
    """(kind, name) of what ``Run.finish`` would do (its log's sentences): write or remove a
    sandbox's file, load a sandbox's service rules, or load the state_dir's tables."""
    words = text.split()
    if text.startswith("load the nftables tables "):
        return "firewall", "inet " + table
    if text.startswith("load the service rules of sandbox "):
        return "sandbox", words[-1]
    return "file", words[1]


def _dot(text: object) -> str:
    """``text`` inside a DOT double-quoted string: its quotes and backslashes escaped, so no name
    can end the string or give a label an escape of Graphviz's own (such as ``\\N``)."""
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _id(*parts: str) -> str:
    return '"%s"' % _dot("/".join(parts))


def _label(*lines: Optional[str]) -> str:
    """A label of several lines, each escaped."""
    return "\\n".join(_dot(line) for line in lines if line)


def graph(facts: Dict[str, Any]) -> str:
    """The host's topology from ``gather``'s facts, as Graphviz DOT: a cluster per network
    (its bridge, VXLAN device and remote peers), a node per sandbox, an edge per endpoint
    labelled with its interface and address, and published ports on the host. Every name and
    address is escaped (``_dot``)."""
    lines = ["graph cnm {", "\trankdir=LR; node [fontname=sans, fontsize=10]; edge [fontname=sans, fontsize=9];",
             '\thost [label="host", shape=box3d];']
    for name, net in sorted(facts["networks"].items()):
        lines.append("\tsubgraph %s {" % _id("cluster_" + name))
        title = _label("%s (%s)" % (name, net["driver"]), net.get("subnet"), net.get("ipv6_subnet"))
        lines.append('\t\tlabel="%s"; style=rounded;' % title)
        drv = drivers.get(net["driver"])
        device = drv.host_device(net) or name
        lines.append('\t\t%s [label="%s", shape=box];' % (_id("net", name), _label(device, net.get("gateway"))))
        tunnel = _id("net", name)  # where the remote peers hang: the network's last device
        for other, what in drv.graph_devices(net):
            lines.append('\t\t%s [label="%s", shape=cds];' % (_id("dev", name, other), _label(other, what)))
            lines.append("\t\t%s -- %s;" % (tunnel, _id("dev", name, other)))
            tunnel = _id("dev", name, other)
        for vtep, remote in sorted(drv.peers(net).peers.items()):
            lines.append('\t\t%s [label="%s", shape=box, style=dashed];' % (
                _id("peer", name, vtep), _label("VTEP " + vtep, *("%s %s" % (ep["name"], ep["ip"]) for ep in remote))))
            lines.append('\t\t%s -- %s [style=dashed, label="VXLAN"];' % (tunnel, _id("peer", name, vtep)))
        lines.append("\t}")
        lines.append('\thost -- %s [style=dotted];' % _id("net", name))
    for key, sb in sorted(facts["sandboxes"].items()):
        lines.append('\t%s [label="%s", shape=ellipse];' % (_id("sb", key), _label(key)))
    for key, ep in sorted(facts["endpoints"].items()):
        label = " ".join(x for x in (ep.get("ifname"), ep.get("ipv4_address"), ep.get("ipv6_address")) if x) or ep["name"]
        lines.append('\t%s -- %s [label="%s"];' % (_id("sb", ep["sandbox"]), _id("net", ep["network"]), _label(label)))
        for port in ep.get("publish") or []:
            text = "%s:%s/%s -> %s" % (port.get("host_ip") or "*", port["host_port"], port["protocol"],
                                       port["container_port"])
            lines.append('\thost -- %s [label="%s", color=blue, fontcolor=blue];' % (_id("sb", ep["sandbox"]), _label(text)))
    lines.append("}")
    return "\n".join(lines) + "\n"
