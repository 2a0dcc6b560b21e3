# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CNM drivers, one module each, with libnetwork's API shape.

Each driver module provides:

- ``ENDPOINT_OPTIONS``: the cnm_endpoint options it supports;
- ``CREATES_SANDBOX``: whether an endpoint needs a network namespace of its own;
- ``create_network(network, view, sysctls)``: Changes that make or update the network
  (``network`` is the record as it should be, ``view`` the host's snapshot); the overlay
  driver also takes the VXLAN device's current neighbour entries;
- ``delete_network(network, view)``: Changes that remove it;
- ``join(network, endpoint, old, host_view, sandbox_view)``: Changes that make or update
  an endpoint and join it to its sandbox (``old``: its previous record, if any);
- ``leave(network, endpoint, host_view, sandbox_view)``: Changes that remove it.

All of them are pure: they read snapshots and return plan.Change records. A new
driver (macvlan, ipvlan) is one new module and one line in DRIVERS.
"""

from __future__ import annotations

from ansible_collections.cnm.fabric.plugins.module_utils.drivers import bridge, host, null, overlay

DRIVERS = {"bridge": bridge, "overlay": overlay, "host": host, "null": null}


def get(name):
    return DRIVERS[name]
