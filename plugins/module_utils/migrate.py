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

from typing import Callable, Dict

from ansible_collections.cnm.fabric.plugins.module_utils import drivers
from ansible_collections.cnm.fabric.plugins.module_utils.errors import StoreError
from ansible_collections.cnm.fabric.plugins.module_utils.store import NETWORKS, Store

CURRENT = 2


def _network_ids(store: Store) -> None:
    """1 -> 2: each network gets its ``id`` and ``scope`` (as Docker's ``network ls`` shows them)."""
    for record in store.get(NETWORKS).values():
        record["id"] = drivers.network_id(record, store.state_dir, record)
        record["scope"] = drivers.get(record["driver"]).scope


STEPS: Dict[int, Callable[[Store], None]] = {1: _network_ids}  # from version N to N + 1


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
