# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnm_prune's planner: what belongs to nothing, found and removed."""

from __future__ import annotations

from ansible_collections.cnm.fabric.plugins.module_utils import drivers, names, plan
from ansible_collections.cnm.fabric.plugins.module_utils.endpoints import endpoint_remove, sandbox_release


def orphan_links(run):
    """Host links with the collection's naming that no record owns: {name: Link}."""
    owned = set()
    for net in run.networks.values():
        owned.update(drivers.get(net["driver"]).owned_links(net))
    owned.update(e.get("host_interface") for e in run.endpoints.values())
    return dict((name, link) for name, link in run.kernel.view(None).links.items()
                if name.startswith(names.PREFIXES) and name not in owned)


def prune(run):
    """Remove what belongs to nothing: returns what was (or would be) removed, by kind.

    - endpoint records whose network is gone (their links and sandbox too);
    - links with the collection's naming that no record owns;
    - records of sandboxes that no endpoint uses;
    - addresses in a network's pool whose owner is no endpoint of that network.
    """
    removed = {"endpoints": [], "links": [], "sandboxes": [], "addresses": []}
    before = set(run.sandboxes)
    for key in sorted(run.endpoints):
        if run.endpoints[key]["network"] not in run.networks:
            endpoint_remove(run, run.endpoints[key])
            removed["endpoints"].append(key)
    for name in sorted(orphan_links(run)):
        run.execute([plan.change("delete %s (no record owns it)" % name, "link_del_batch", name)])
        removed["links"].append(name)
    for key in sorted(run.sandboxes):
        run.execute(sandbox_release(run, key))
    removed["sandboxes"] = sorted(before - set(run.sandboxes))
    ipam = run.ipam()
    for name, net in sorted(run.networks.items()):
        pool = ipam.pools().get(name)
        if not drivers.get(net["driver"]).ipam or pool is None:
            continue
        for owner in sorted(pool["addresses"]):
            if names.endpoint_key(name, owner) not in run.endpoints:
                ipam.release_address(name, owner)
                removed["addresses"].append("%s/%s" % (name, owner))
    return removed
