# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnm_network's planner: a network's record, its pool, and its driver's plan."""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
from typing import Any, Dict, Iterable, List, Optional, Set, cast

from ansible_collections.cnm.fabric.plugins.module_utils import cni_ipam, drivers, names, vrfs
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import Driver, Part
from ansible_collections.cnm.fabric.plugins.module_utils.endpoints import endpoint_remove
from ansible_collections.cnm.fabric.plugins.module_utils.errors import SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.records import EndpointRecord, NetworkRecord
from ansible_collections.cnm.fabric.plugins.module_utils.run import Run
from ansible_collections.cnm.fabric.plugins.module_utils.spec import AddressPools, IPNetwork, NetworkSpec, Params, \
    network_spec, parse_address_pools
from ansible_collections.cnm.fabric.plugins.module_utils.store import SECRETS

IPV6_SUBNET_SIZE = 64


def spec_of(params: Params) -> NetworkSpec:
    return network_spec(params, drivers.DRIVERS)


def avoid_routes(run: Run) -> List[str]:
    """Host routes an automatic subnet must not overlap (those of our own networks excepted)."""
    ours: Set[str] = set()
    for net in run.networks.values():
        ours.update(drivers.get(net["driver"]).owned_links(net))
    return [dst for dst, dev in run.kernel.host_view().routed_dsts() if dev not in ours]


def _names(records: Iterable[EndpointRecord]) -> str:
    return ", ".join(r["name"] for r in records)


def network_present(run: Run, spec: NetworkSpec) -> NetworkRecord:
    old = run.networks.get(spec.name)
    if old and old["driver"] != spec.driver:
        raise SpecError("network %r exists with driver %s; remove it first (state: absent) to "
                        "change the driver" % (spec.name, old["driver"]), "driver")
    drv = drivers.get(spec.driver)
    view = run.kernel.host_view()
    eps = run.endpoints_of(spec.name)
    record: NetworkRecord = {"name": spec.name, "driver": spec.driver, "internal": spec.internal,
                             "labels": dict(spec.labels)}
    mtu = spec.mtu or drv.default_mtu
    if mtu is not None:  # else network_record sets it (the parent's, the underlay's)
        record["mtu"] = mtu
    if spec.pooled:
        for family, was, now in (("ipv4", bool(old.get("ipv4", True)) if old else True, spec.ipv4),
                                 ("ipv6", bool(old and old.get("ipv6")), spec.ipv6)):
            if old and eps and was != now:
                raise SpecError("network %r has endpoints (%s); remove them before turning %s %s"
                                % (spec.name, _names(eps), family.replace("ip", "IP"), "on" if now else "off"), family)
        _pools(run, spec, eps, record)
    elif old and drv.pooled(old):  # it no longer takes pools (replaces() says when that may be)
        run.ipam().release_pool(spec.name)
        run.ipam().release_pool(names.ipv6_pool(spec.name))
    if spec.cni_ipam:  # recorded only when given, as records of earlier releases have no such field
        cni_ipam.check(spec.cni_ipam, old)
        record["cni_ipam"] = spec.cni_ipam
    record.update(as_record(drv.network_record(spec, old, view, run.networks, eps)))
    vrf = vrfs.vrf_record(spec.vrf, spec.name, old, view, run.networks)
    if vrf:
        record["vrf"] = vrf
    record["id"] = drivers.network_id(record, run.state_dir, old)
    record["scope"] = drv.scope
    if old and old.get("services"):
        record["services"] = old["services"]  # cnm_service's
    if spec.pooled:
        _reserve(run, drv, record, old)
    if old:
        option = drv.replaces(old, record) or ("cni_ipam" if bool(old.get("cni_ipam")) != bool(spec.cni_ipam) else None)
        if option:
            if eps:
                raise SpecError("network %r has endpoints (%s); remove them before changing it"
                                % (spec.name, _names(eps)), option)
            run.queue(drv.delete_network(old, view, run.networks.values()))
    run.queue(drv.create_network(record, view, run.observe(drv.observe(record))))
    run.queue((vrfs.leave(old, record, view, run.networks.values()) if old else []) +
              vrfs.changes(record, view, run.vrfs_made, run.kernel))
    if old and drv.rejoin(old, record):
        for ep in eps:
            run.queue(drv.join(record, ep, ep, view, run.sandbox_view(ep["sandbox"])))
    run.networks[spec.name] = record
    return record


def _pools(run: Run, spec: NetworkSpec, eps: List[EndpointRecord], record: NetworkRecord) -> None:
    """The network's pools (its IPv4 one, its IPv6 one, or both), in ``record``."""
    ipam, avoid = run.ipam(), None
    record["ipv6"] = spec.ipv6
    if not spec.ipv4:  # recorded only then, as records of earlier releases have no such field
        record["ipv4"] = False
    for version, req in ((4, spec.pool), (6, spec.pool6)):
        pool_name = names.ipv6_pool(spec.name) if version == 6 else spec.name
        current = ipam.pools().get(pool_name)
        if req is None:
            if current is not None:
                ipam.release_pool(pool_name)
            if version == 4:
                record["subnet"] = record["gateway"] = record["ip_range"] = None
            else:
                record["ipv6_subnet"] = record["ipv6_gateway"] = record["ipv6_ip_range"] = None
            continue
        if current and req.subnet and str(req.subnet) != current["subnet"]:
            if eps:
                raise SpecError("network %r has endpoints (%s); remove them before changing its subnet from %s"
                                % (spec.name, _names(eps), current["subnet"]), "subnet")
            ipam.release_pool(req.name)
        pools: AddressPools = ()
        if current is None and req.subnet is None:  # an automatic subnet: only then are pools and routes read
            pools = address_pools(spec.address_pools, version)
            avoid = avoid_routes(run) if avoid is None else avoid
        pool = ipam.request_pool(dataclasses.replace(req, vrf=spec.vrf), pools, avoid or ())[0]
        if version == 4:
            record["subnet"], record["gateway"], record["ip_range"] = pool["subnet"], pool["gateway"], pool.get("ip_range")
        else:
            record["ipv6_subnet"], record["ipv6_gateway"] = pool["subnet"], pool["gateway"]
            record["ipv6_ip_range"] = pool.get("ip_range")


def address_pools(given: AddressPools, version: int) -> AddressPools:
    """The pools automatic subnets of IP ``version`` come from: those of ``given`` of that
    version, else the defaults: dockerd's for IPv4, and for IPv6 the /48 of fd00::/8 whose
    40-bit global ID is a digest of the host's machine-id (RFC 4193), split into /64s."""
    mine = tuple((base, size) for base, size in given if base.version == version)
    if mine:
        return mine
    if version == 4:
        return parse_address_pools(None)
    return ((default_ula(), IPV6_SUBNET_SIZE),)


def default_ula(machine_id: Optional[str] = None) -> IPNetwork:
    """fdXX:XXXX:XXXX::/48, from this host's machine-id (its host name when it has none)."""
    seed = machine_id or names.machine_identity()
    global_id = int(hashlib.sha256(seed.encode("utf-8")).hexdigest()[:10], 16)
    return ipaddress.ip_network(((0xfd << 40 | global_id) << 80, 48))


def as_record(fields: Dict[str, Any]) -> NetworkRecord:
    """A driver's ``network_record`` (common fields, and its parts as base.Part), as the record holds it."""
    return cast(NetworkRecord, dict((key, value.json() if isinstance(value, Part) else value)
                                    for key, value in fields.items()))


def _reserve(run: Run, drv: Driver, record: NetworkRecord, old: Optional[NetworkRecord]) -> None:
    """The addresses the network takes from its own pool (such as a host shim's), and the
    release of those it no longer needs."""
    ipam, want = run.ipam(), drv.reserved_addresses(record)
    if want:
        drv.reserve(record, dict((owner, ipam.request_address(record["name"], owner)[0]) for owner in want))
    for owner in set(drv.reserved_addresses(old) if old else ()) - set(want):
        ipam.release_address(record["name"], owner)


def network_absent(run: Run, spec: NetworkSpec) -> Optional[NetworkRecord]:
    old = run.networks.get(spec.name)
    if old is None:
        return None
    eps = run.endpoints_of(spec.name)
    if eps and not spec.force:
        raise SpecError("network %r still has endpoints (%s); remove them first or set force: true"
                        % (spec.name, _names(eps)), "force")
    for ep in eps:
        endpoint_remove(run, ep)
    drv = drivers.get(old["driver"])
    view = run.kernel.host_view()
    run.queue(drv.delete_network(old, view, run.networks.values(), run.observe(drv.observe_removal(old))))
    if drv.pooled(old):
        run.ipam().release_pool(spec.name)
        run.ipam().release_pool(names.ipv6_pool(spec.name))
    del run.networks[spec.name]
    run.queue(vrfs.leave(old, None, view, run.networks.values()))
    run.store.get(SECRETS).pop(spec.name, None)
    return old
