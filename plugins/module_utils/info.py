# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnm_info: what the store records, what the kernel has, and where they disagree."""

from __future__ import annotations

import os

from ansible_collections.cnm.fabric.plugins.module_utils import firewall, runner
from ansible_collections.cnm.fabric.plugins.module_utils.drivers import overlay
from ansible_collections.cnm.fabric.plugins.module_utils.spec import BRIDGED


def gather(run):
    kernel = run.kernel
    host = kernel.view(None)
    drift = []
    networks = {}
    for name, net in sorted(run.networks.items()):
        facts = runner.public(net, runner.NETWORK_FIELDS)
        if net["driver"] in BRIDGED:
            link = host.link(net["interface"])
            facts["present"] = link is not None and link.kind == "bridge"
            if not facts["present"]:
                drift.append({"kind": "network", "name": name,
                              "problem": "bridge %s is missing" % net["interface"]})
            if net["driver"] == "overlay":
                problem = _overlay_drift(kernel, net)
                if problem:
                    facts["present"] = False
                    drift.append({"kind": "network", "name": name, "problem": problem})
        else:
            facts["present"] = True
        networks[name] = facts
    endpoints = {}
    for key, ep in sorted(run.endpoints.items()):
        facts = runner.endpoint_facts(run, ep)
        ok = True
        if ep.get("host_interface"):
            if host.link(ep["host_interface"]) is None:
                ok = False
                drift.append({"kind": "endpoint", "name": key,
                              "problem": "veth %s is missing" % ep["host_interface"]})
            else:  # the sandbox is read only when the host end is there
                sb_view = run.sandbox_view(ep["sandbox"])
                if sb_view is None or sb_view.link(ep["ifname"]) is None:
                    ok = False
                    drift.append({"kind": "endpoint", "name": key,
                                  "problem": "%s is missing in sandbox %s" % (ep["ifname"], ep["sandbox"])})
        facts["present"] = ok
        endpoints[key] = facts
    sandboxes = {}
    for key, sb in sorted(run.sandboxes.items()):
        present = kernel.netns_exists(key)
        sandboxes[key] = {"name": key, "created": bool(sb.get("created")), "present": present,
                          "endpoints": sorted(run.members(key))}
        if not present:
            drift.append({"kind": "sandbox", "name": key, "problem": "network namespace is missing"})
    for name in sorted(runner.orphan_links(run)):
        drift.append({"kind": "link", "name": name, "problem": "has the collection's naming and no record"})
    pools = {}
    if os.path.isdir(run.state_dir):
        for fname in sorted(os.listdir(run.state_dir)):
            if fname.startswith("ipam-") and fname.endswith(".json"):
                space = fname[len("ipam-"):-len(".json")]
                pools[space] = dict((name, runner.pool_record(name, pool))
                                    for name, pool in sorted(run.ipam(space).pools().items()))
    fw = None
    if run.networks:
        fw = {"present": firewall.tables_present(),
              "ruleset": firewall.render(run.networks, run.endpoints)}
        if not fw["present"]:
            drift.append({"kind": "firewall", "name": "inet cnm", "problem": "the nftables tables are missing"})
    return {"networks": networks, "endpoints": endpoints, "sandboxes": sandboxes,
            "pools": pools, "firewall": fw, "drift": drift}


def _overlay_drift(kernel, net):
    """What is wrong with an overlay network's VXLAN device and its peers' entries, if anything."""
    link = kernel.view(None).link(net["vxlan_interface"])
    if link is None or link.kind != "vxlan":
        return "VXLAN device %s is missing" % net["vxlan_interface"]
    wrong = len(overlay.peer_changes(net, *kernel.neighbours(net["vxlan_interface"])))
    if wrong:
        return "%d forwarding or neighbour entries of %s differ from the recorded peers" % (
            wrong, net["vxlan_interface"])
    return None
