# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnm_network's planner: a network's record, its pool, and its driver's plan."""

from __future__ import annotations

from ansible_collections.cnm.fabric.plugins.module_utils import drivers
from ansible_collections.cnm.fabric.plugins.module_utils.endpoints import endpoint_remove
from ansible_collections.cnm.fabric.plugins.module_utils.errors import SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.spec import network_spec, parse_address_pools


def spec_of(params):
    return network_spec(params, drivers.DRIVERS)


def avoid_routes(run):
    """Host routes an automatic subnet must not overlap (those of our own networks excepted)."""
    ours = set()
    for net in run.networks.values():
        ours.update(drivers.get(net["driver"]).owned_links(net))
    return [dst for dst, dev in run.kernel.view(None).routed_dsts() if dev not in ours]


def _names(records):
    return ", ".join(r["name"] for r in records)


def network_present(run, spec):
    old = run.networks.get(spec.name)
    if old and old["driver"] != spec.driver:
        raise SpecError("network %r exists with driver %s; remove it first (state: absent) to "
                        "change the driver" % (spec.name, old["driver"]), "driver")
    drv = drivers.get(spec.driver)
    view = run.kernel.view(None)
    eps = run.endpoints_of(spec.name)
    record = {"name": spec.name, "driver": spec.driver, "mtu": spec.mtu or drv.default_mtu,
              "internal": spec.internal}
    if drv.ipam:
        ipam = run.ipam()
        current = ipam.pools().get(spec.name)
        if current and spec.pool.subnet and str(spec.pool.subnet) != current["subnet"]:
            if eps:
                raise SpecError("network %r has endpoints (%s); remove them before changing its subnet from %s"
                                % (spec.name, _names(eps), current["subnet"]), "subnet")
            ipam.release_pool(spec.name)
        pool = ipam.request_pool(spec.pool, parse_address_pools(None), avoid_routes(run))[0]
        record.update(subnet=pool["subnet"], gateway=pool["gateway"], ip_range=pool["ip_range"])
    record.update(drv.network_record(spec, old, view, run.networks, eps))
    if drv.ipam:
        _reserve(run, drv, record, old)
    if old:
        option = drv.replaces(old, record)
        if option:
            if eps:
                raise SpecError("network %r has endpoints (%s); remove them before changing it"
                                % (spec.name, _names(eps)), option)
            run.execute(drv.delete_network(old, view, run.networks.values()))
    run.execute(drv.create_network(record, view, run.observe(drv.observe(record))))
    if old and drv.rejoin(old, record):
        for ep in eps:
            run.execute(drv.join(record, ep, ep, view, run.sandbox_view(ep["sandbox"])))
    run.networks[spec.name] = record
    return record


def _reserve(run, drv, record, old):
    """The addresses the network takes from its own pool (such as a host shim's), and the
    release of those it no longer needs."""
    ipam, want = run.ipam(), drv.reserved_addresses(record)
    for field, owner in want.items():
        record[field] = ipam.request_address(record["name"], owner)[0]
    for owner in set(drv.reserved_addresses(old).values() if old else ()) - set(want.values()):
        ipam.release_address(record["name"], owner)


def network_absent(run, spec):
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
    run.execute(drv.delete_network(old, run.kernel.view(None), run.networks.values()))
    if drv.ipam:
        run.ipam().release_pool(spec.name)
    del run.networks[spec.name]
    return old
