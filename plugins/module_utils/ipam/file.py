# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPAM backends: an address space's records, kept in a file or in etcd.

Both hold a space as one plain dict and run the pure allocator on it; they differ in
where the dict lives and how concurrent runs are kept apart. The file backend shares
the run's Store, so the run's single flock covers allocations too.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Optional, Set, Tuple, cast

from ansible_collections.cnm.fabric.plugins.module_utils.ipam import allocator
from ansible_collections.cnm.fabric.plugins.module_utils.records import PoolRecord, SpaceRecord
from ansible_collections.cnm.fabric.plugins.module_utils.spec import AddressPools, PoolRequest
from ansible_collections.cnm.fabric.plugins.module_utils.store import Store, ipam_file


class SpaceBackend(object):
    """The allocator's operations over ``self.data``, a space's records."""

    data: SpaceRecord = {"pools": {}}
    _used: Optional[Dict[str, Set[int]]] = None

    def _used_of(self, pool_name: str) -> Set[int]:
        """Held addresses of a pool as a set, built once per backend and kept in step."""
        if self._used is None:
            self._used = {}
        used = self._used
        if pool_name not in used:
            used[pool_name] = allocator.used_set(self.pool(pool_name))
        return used[pool_name]

    def pools(self) -> Dict[str, PoolRecord]:
        return self.data["pools"]

    def pool(self, name: str, option: str = "pool") -> PoolRecord:
        return allocator.get_pool(self.data, name, option)

    def request_pool(self, req: PoolRequest, address_pools: AddressPools = (), avoid: Iterable[Any] = (),
                     option: str = "subnet") -> Tuple[PoolRecord, bool]:
        return allocator.request_pool(self.data, req, address_pools, avoid, option)

    def release_pool(self, name: str) -> bool:
        if self._used:
            self._used.pop(name, None)
        return allocator.release_pool(self.data, name)

    def request_address(self, pool_name: str, owner: str, address: Optional[str] = None,
                        option: str = "ipv4_address") -> Tuple[str, bool]:
        pool = self.pool(pool_name, option)
        return allocator.request_address(pool, owner, address, option, self._used_of(pool_name))

    def release_address(self, pool_name: str, owner: str) -> bool:
        pool = self.pools().get(pool_name)
        return pool is not None and allocator.release_address(pool, owner, self._used_of(pool_name))

    def commit(self) -> None:
        """Make this run's allocations durable (the file backend does it with the store)."""


class FileBackend(SpaceBackend):
    def __init__(self, store: Store, space: str) -> None:
        self.space = space
        self.data = cast(SpaceRecord, store.get(ipam_file(space), empty={"pools": {}}))
