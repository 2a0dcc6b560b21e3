# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the unit tests of plans share."""

from __future__ import annotations

from ansible_collections.cnm.fabric.plugins.module_utils import migrate


def ops(changes, keywords=True):
    """Changes as tuples a test compares: (Kernel method, *arguments[, *keyword values])."""
    return [(c.op,) + c.args + (tuple(kv[1] for kv in c.kwargs) if keywords else ()) for c in changes]


def nested(flat, **fields):
    """A record from ``flat`` fields and ``fields`` over them: a network's (it names its driver)
    or an endpoint's, with a driver's own fields moved into its parts as the records of schema 3
    hold them (migrate.py)."""
    record = dict(flat, **fields)
    return migrate.nest_network(record) if "driver" in record else migrate.nest_endpoint(record)
