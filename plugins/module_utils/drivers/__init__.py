# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CNM drivers: one module each, holding one ``base.Driver`` subclass.

The registry below is the only place that lists them; a new driver is one new module
and one line here. Everything that depends on the driver is a hook of ``base.Driver``.
"""

from __future__ import annotations

import hashlib

from ansible_collections.cnm.fabric.plugins.module_utils import names
from ansible_collections.cnm.fabric.plugins.module_utils.drivers import bridge, dummy, host, ipvlan, macvlan, null, overlay
from ansible_collections.cnm.fabric.plugins.module_utils.errors import SpecError

DRIVERS = {"bridge": bridge.DRIVER, "overlay": overlay.DRIVER, "macvlan": macvlan.DRIVER, "ipvlan": ipvlan.DRIVER,
           "host": host.DRIVER, "null": null.DRIVER, "dummy": dummy.DRIVER}
DEFAULT = "bridge"  # the driver of a network that names none, as in Docker


def get(name, option="driver"):
    try:
        return DRIVERS[name]
    except KeyError:
        raise SpecError("%r is not a known driver; choose one of %s" % (name, ", ".join(DRIVERS)), option)


def register(name, driver):
    """Add a driver (tests use it for a driver of their own)."""
    DRIVERS[name] = driver


def option_spec():
    """cnm_network's driver option groups, as the drivers declare them, in registry order."""
    out: dict = {}
    for drv in DRIVERS.values():
        out.update((group, spec) for group, spec in drv.option_spec.items() if group not in out)
    return out


def record_fields():
    """Every driver's network record fields, each once, in registry order."""
    out: list = []
    for drv in DRIVERS.values():
        out.extend(f for f in drv.record_fields if f not in out)
    return tuple(out)


def network_id(record, state_dir, old=None):
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
