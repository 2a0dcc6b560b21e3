# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnm_prune's planner: what belongs to nothing, found and removed."""

from __future__ import annotations

import os
from typing import Dict, List, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils import cni, cni_ipam, drivers, names, plan, sandbox, services, vrfs
from ansible_collections.cnm.fabric.plugins.module_utils.endpoints import endpoint_remove, host_links, sandbox_release
from ansible_collections.cnm.fabric.plugins.module_utils.model import Link
from ansible_collections.cnm.fabric.plugins.module_utils.run import Run


def orphan_links(run: Run) -> Dict[str, Link]:
    """Host links made for this state_dir (their alias says so: names.owner_tag) that no record
    owns: {name: Link}. Links of other state_dirs, and any the collection did not make, are never
    taken for leftovers."""
    owned = vrfs.owned(run.networks.values())
    for net in run.networks.values():
        owned.update(drivers.get(net["driver"]).owned_links(net))
    for e in run.endpoints.values():
        owned |= host_links(e)
    tag = names.owner_tag(run.state_dir)
    return dict((name, link) for name, link in run.kernel.host_view().links.items()
                if link.alias == tag and name not in owned)


def orphan_addresses(run: Run) -> List[Tuple[str, str]]:
    """(pool, owner) of the addresses in a network's pools (its own, named after it, and its
    IPv6 one) that no endpoint of it holds."""
    out: List[Tuple[str, str]] = []
    pools = run.ipam().pools()
    for name, net in sorted(run.networks.items()):
        drv = drivers.get(net["driver"])
        own = set(drv.reserved_addresses(net)) | set(services.owner(s) for s in net.get("services") or {})
        for pool in (name, names.ipv6_pool(name)) if drv.pooled(net) else ():
            held = pools[pool].get("addresses") or {} if pool in pools else {}
            out.extend((pool, owner) for owner in sorted(held)
                       if names.endpoint_key(name, owner) not in run.endpoints and owner not in own)
    return out


def prune(run: Run) -> Dict[str, List[str]]:
    """Remove what belongs to nothing: returns what was (or would be) removed, by kind.

    - endpoint records whose network is gone (their links and sandbox too);
    - links with the collection's naming that no record owns;
    - records of sandboxes that no endpoint uses;
    - addresses in a network's pool whose owner is no endpoint of that network;
    - sandbox files of no recorded sandbox, and temporary files of killed writes.

    An interrupted run's removals were finished when the run began (store.py's journal).
    """
    removed: Dict[str, List[str]] = {"endpoints": [], "links": [], "sandboxes": [], "addresses": [], "files": []}
    before = set(run.sandboxes)
    for key in sorted(run.endpoints):
        if run.endpoints[key]["network"] not in run.networks:
            endpoint_remove(run, run.endpoints[key])
            removed["endpoints"].append(key)
    for name in sorted(orphan_links(run)):
        run.queue([plan.change("delete %s (no record owns it)" % name, "link_del_batch", name)])
        removed["links"].append(name)
    for key in sorted(run.sandboxes):
        run.queue(sandbox_release(run, key))
    removed["sandboxes"] = sorted(before - set(run.sandboxes))
    for network, owner in orphan_addresses(run):
        run.ipam().release_address(network, owner)
        removed["addresses"].append("%s/%s" % (network, owner))
    dirs, tmp = sandbox.leftovers(run.state_dir, run.sandboxes)
    removed["files"] = dirs + tmp
    if not run.check:
        for directory in dirs:
            sandbox.remove_files(directory, run.state_dir)
        for path in tmp:
            os.unlink(path)
    return removed


def cni_gc(run: Run) -> List[str]:
    """GC (CNI 1.1.0) sent to the plugins of each network that runs them at that version (a cni
    network's, a cni_ipam's), given its endpoints' attachments as the valid ones, so that a plugin
    frees what it holds for any other (a lease left by a runtime that died). Returns the networks
    (in check mode: those it would be sent for). The plugins say nothing of what they freed: GC is
    no change of the run's."""
    out = []
    for name, net in sorted(run.networks.items()):
        endpoints = run.endpoints_of(name)
        for conflist, path, valid in drivers.get(net["driver"]).gc_lists(net, endpoints) + cni_ipam.gc_lists(net, endpoints):
            if conflist["cniVersion"] in cni.STATUS_VERSIONS:
                if not run.check:
                    cni.gc(conflist, path, valid)
                out.append(name)
    return out
