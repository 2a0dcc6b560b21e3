# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnm_ipam_pool's planner: pools and addresses in an address space, on any backend."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils.errors import SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.ipam.file import SpaceBackend
from ansible_collections.cnm.fabric.plugins.module_utils.networks import avoid_routes
from ansible_collections.cnm.fabric.plugins.module_utils.records import PoolRecord
from ansible_collections.cnm.fabric.plugins.module_utils.run import LOCAL_SPACE, Run
from ansible_collections.cnm.fabric.plugins.module_utils.spec import PoolSpec


def ipam_converge(run: Optional[Run], spec: PoolSpec, ipam: SpaceBackend) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """cnm_ipam_pool on ``ipam`` (a backend): returns (pool view or {}, {owner: address}).

    ``run`` is None for a backend outside this host (etcd): the local space's checks
    (host routes, networks' pools) do not apply there.
    """
    req = spec.request
    if req is None:
        return {}, {}
    if spec.state == "absent" and not spec.addresses:
        net = run.networks.get(req.name) if run and spec.space == LOCAL_SPACE else None
        if net is not None:
            raise SpecError("pool %r belongs to network %r; remove the network instead"
                            % (req.name, req.name), "pool")
        ipam.release_pool(req.name)
        return {}, {}
    if spec.state == "absent":
        for owner, _addr in spec.addresses:
            ipam.release_address(req.name, owner)
        pool = ipam.pools().get(req.name)
        return (pool_facts(req.name, pool), dict(pool["addresses"])) if pool else ({}, {})
    avoid = avoid_routes(run) if run and spec.space == LOCAL_SPACE and req.subnet is None \
        and req.name not in ipam.pools() else ()
    pool = ipam.request_pool(req, spec.address_pools, avoid)[0]
    for i, (owner, addr) in enumerate(spec.addresses):
        ipam.request_address(req.name, owner, addr, option="addresses[%d].address" % i)
    if spec.exclusive:
        listed = set(item[0] for item in spec.addresses)
        for owner in sorted(set(pool["addresses"]) - listed):
            ipam.release_address(req.name, owner)
    return pool_facts(req.name, pool), dict(pool["addresses"])


def pool_facts(name: str, pool: PoolRecord) -> Dict[str, Any]:
    return {"name": name, "subnet": pool["subnet"], "gateway": pool["gateway"],
            "ip_range": pool.get("ip_range"), "aux_addresses": dict(pool.get("aux_addresses") or {})}


def pool_record(name: str, pool: PoolRecord) -> Dict[str, Any]:
    """A pool's facts with the addresses it handed out, as cnm_info and diffs show it."""
    return dict(pool_facts(name, pool), addresses=dict(pool["addresses"]))
