# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The records of older releases, brought to this release's layout on first read.

``store.SCHEMA`` holds a state_dir's layout version (none: version 1, what releases 0.1.0 and
0.2.0 before it wrote). Every run takes the lock, then ``upgrade`` runs each step from the
state_dir's version to ``CURRENT`` and writes the records and the new version
(``Store.migrated``); check mode changes them in memory only, so cnm_info and check runs see
the new layout and report no change. A step touches records, never the kernel, and gives the
same result when run again on its own output (a run killed halfway repeats it).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, Iterable, Type, cast

from ansible_collections.cnm.fabric.plugins.module_utils import drivers
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import Part
from ansible_collections.cnm.fabric.plugins.module_utils.errors import StoreError
from ansible_collections.cnm.fabric.plugins.module_utils.records import NetworkRecord
from ansible_collections.cnm.fabric.plugins.module_utils.store import ENDPOINTS, NETWORKS, Store

CURRENT = 3


def _network_ids(store: Store) -> None:
    """1 -> 2: each network gets its ``id`` and ``scope`` (as Docker's ``network ls`` shows them)."""
    for record in store.get(NETWORKS).values():
        # An older layout: the current one is lent to network_id, which reads it.
        record["id"] = drivers.network_id(cast(NetworkRecord, nest_network(dict(record))), store.state_dir,
                                          cast(NetworkRecord, record))
        record["scope"] = drivers.get(record["driver"]).scope


def _driver_parts(store: Store) -> None:
    """2 -> 3: a driver's own fields, which were beside the common ones, move into its parts
    (``bridge``, ``overlay``, ``macvlan``, ``ipvlan``, and an endpoint's ``veth``)."""
    for record in store.get(NETWORKS).values():
        nest_network(record)
    for record in store.get(ENDPOINTS).values():
        nest_endpoint(record)


def nest_network(record: Dict[str, Any]) -> Dict[str, Any]:
    """A network record of schema 2 in the layout of schema 3, in place."""
    return _nested(record, drivers.get(record["driver"]).network_parts)


def nest_endpoint(record: Dict[str, Any]) -> Dict[str, Any]:
    """An endpoint record of schema 2 in the layout of schema 3, in place. It has a part where it
    has the part's required fields (its network record may be gone, so no driver is asked)."""
    kinds = drivers.endpoint_part_kinds()
    _nested(record, [part for part in kinds
                     if all(record.get(f.name) is not None for f in dataclasses.fields(part)
                            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)])
    for part in kinds:  # the null flat fields of a part it has not
        for name in part.names():
            record.pop(name, None)
    return record


def _nested(record: Dict[str, Any], parts: Iterable[Type[Part]]) -> Dict[str, Any]:
    """``record`` with the flat fields of each of ``parts`` moved under its key (missing or null
    ones take the part's default); a part already there stays as it is."""
    for part in parts:
        if isinstance(record.get(part.KEY), dict):
            continue
        given = dict((name, record.pop(name)) for name in part.names() if name in record)
        fields = dict((name, value) for name, value in given.items() if value is not None)
        record[part.KEY] = part(**fields).json()
    return record


STEPS: Dict[int, Callable[[Store], None]] = {1: _network_ids, 2: _driver_parts}  # from version N to N + 1


def upgrade(store: Store) -> None:
    """Bring ``store``'s records to ``CURRENT`` (nothing when they are)."""
    version = store.schema()
    if version > CURRENT:
        raise StoreError("the records in %s are of schema %d, written by a newer release of cnm.fabric than this one "
                         "(which reads up to %d): run that release, or restore the state_dir from a backup"
                         % (store.state_dir, version, CURRENT), "state_dir")
    if version == CURRENT:
        return
    for step in range(version, CURRENT):
        STEPS[step](store)
    store.migrated(CURRENT)
