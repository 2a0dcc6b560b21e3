# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CNM drivers: one module each, holding one ``base.Driver`` subclass.

The registry below is the only place that lists them; a new driver is one new module
and one line here. Everything that depends on the driver is a hook of ``base.Driver``.
"""

from __future__ import annotations

from ansible_collections.cnm.fabric.plugins.module_utils.drivers import bridge, dummy, host, ipvlan, macvlan, null, overlay
from ansible_collections.cnm.fabric.plugins.module_utils.errors import SpecError

DRIVERS = {"bridge": bridge.DRIVER, "overlay": overlay.DRIVER, "macvlan": macvlan.DRIVER, "ipvlan": ipvlan.DRIVER,
           "host": host.DRIVER, "null": null.DRIVER, "dummy": dummy.DRIVER}


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
