# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CNM drivers: one module each, holding one ``base.Driver`` subclass.

The registry below is the only place that lists them; a new driver is one new module
and one line here. Everything that depends on the driver is a hook of ``base.Driver``.
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict, List, Optional, Set, Tuple, Type

from ansible_collections.cnm.fabric.plugins.module_utils import names
from ansible_collections.cnm.fabric.plugins.module_utils.drivers import bridge, cni, dummy, host, ipvlan, macvlan, null, overlay
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import Driver, Part
from ansible_collections.cnm.fabric.plugins.module_utils.errors import SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.records import EndpointRecord, NetworkRecord

DRIVERS: Dict[str, Driver] = {
    "bridge": bridge.DRIVER, "overlay": overlay.DRIVER, "macvlan": macvlan.DRIVER, "ipvlan": ipvlan.DRIVER,
    "host": host.DRIVER, "null": null.DRIVER, "dummy": dummy.DRIVER, "cni": cni.DRIVER}
DEFAULT = "bridge"  # the driver of a network that names none, as in Docker


def get(name: str, option: str = "driver") -> Driver:
    try:
        return DRIVERS[name]
    except KeyError:
        raise SpecError("%r is not a known driver; choose one of %s" % (name, ", ".join(DRIVERS)), option)


def register(name: str, driver: Driver) -> None:
    """Add a driver (tests use it for a driver of their own)."""
    DRIVERS[name] = driver


def option_spec() -> Dict[str, Dict[str, Any]]:
    """cnm_network's driver option groups, as the drivers declare them, in registry order."""
    out: Dict[str, Dict[str, Any]] = {}
    for drv in DRIVERS.values():
        out.update((group, spec) for group, spec in drv.option_spec.items() if group not in out)
    return out


def part_keys(record: NetworkRecord) -> Tuple[str, ...]:
    """The keys of the parts of a network record's driver."""
    return tuple(part.KEY for part in get(record["driver"]).network_parts)


def endpoint_part_kinds() -> List[Type[Part]]:
    """Every driver's endpoint parts (base.Part subclasses), each once, in the order of their keys."""
    kinds = dict((part.KEY, part) for drv in DRIVERS.values() for part in drv.endpoint_parts)
    return [kinds[key] for key in sorted(kinds)]


def endpoint_parts(endpoint: EndpointRecord) -> List[Type[Part]]:
    """The parts an endpoint record holds, found by their keys: so an endpoint whose network record
    is gone can still be removed."""
    return [part for part in endpoint_part_kinds() if part.held_by(endpoint)]


def host_links(endpoint: EndpointRecord) -> Set[str]:
    """The host links an endpoint record owns, as its parts say."""
    out: Set[str] = set()
    for part in endpoint_parts(endpoint):
        out |= part.of(endpoint).host_links()
    return out


def network_id(record: NetworkRecord, state_dir: str, old: Optional[NetworkRecord] = None) -> str:
    """A network's ID, 64 hex digits as Docker's. A fleet-scoped network's is derived from its
    driver's ``fleet_identity``, so it is the same on every host that declares it alike. A local
    one's is unique to this host (its machine-id, the state_dir and the name) and is kept once
    made (``old``: its record), so a moved state_dir or a new machine-id does not change it."""
    drv = get(record["driver"])
    if drv.scope == "fleet":
        seed = "fleet\0" + drv.fleet_identity(record)
    elif old and old.get("id"):
        return old["id"]
    else:
        seed = "local\0%s\0%s\0%s" % (names.machine_identity(), names.owner_tag(state_dir), record["name"])
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()
