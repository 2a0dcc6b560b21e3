# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPAM backends: an address space's records, kept in a file or in etcd.

Both hold a space as one plain dict and run the pure allocator on it; they differ in
where the dict lives and how concurrent runs are kept apart. The file backend shares
the run's Store, so the run's single flock covers allocations too.
"""

from __future__ import annotations

from typing import Optional

from ansible_collections.cnm.fabric.plugins.module_utils.ipam import allocator
from ansible_collections.cnm.fabric.plugins.module_utils.store import ipam_file


class SpaceBackend(object):
    """The allocator's operations over ``self.data``, a space's records."""

    data: dict = {}
    _used: Optional[dict] = None

    def _used_of(self, pool_name):
        """Held addresses of a pool as a set, built once per backend and kept in step."""
        if self._used is None:
            self._used = {}
        used = self._used
        if pool_name not in used:
            used[pool_name] = allocator.used_set(self.pool(pool_name))
        return used[pool_name]

    def pools(self):
        return self.data["pools"]

    def pool(self, name, option="pool"):
        return allocator.get_pool(self.data, name, option)

    def request_pool(self, req, address_pools=(), avoid=(), option="subnet"):
        return allocator.request_pool(self.data, req, address_pools, avoid, option)

    def release_pool(self, name):
        if self._used:
            self._used.pop(name, None)
        return allocator.release_pool(self.data, name)

    def request_address(self, pool_name, owner, address=None, option="ipv4_address"):
        pool = self.pool(pool_name, option)
        return allocator.request_address(pool, owner, address, option, self._used_of(pool_name))

    def release_address(self, pool_name, owner):
        pool = self.pools().get(pool_name)
        return pool is not None and allocator.release_address(pool, owner, self._used_of(pool_name))

    def commit(self):
        """Make this run's allocations durable (the file backend does it with the store)."""


class FileBackend(SpaceBackend):
    def __init__(self, store, space):
        self.space = space
        self.data = store.get(ipam_file(space), empty={"pools": {}})
