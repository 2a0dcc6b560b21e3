# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The file IPAM backend: one JSON file per address space under state_dir.

It shares the run's Store, so the run's single flock covers allocations too:
two processes never hand out one address twice. The etcd backend will offer the
same methods over compare-and-swap transactions.
"""

from __future__ import annotations

from ansible_collections.cnm.fabric.plugins.module_utils.ipam import allocator
from ansible_collections.cnm.fabric.plugins.module_utils.store import ipam_file


class FileBackend(object):
    def __init__(self, store, space):
        self.space = space
        self.data = store.get(ipam_file(space), empty={"pools": {}})

    def pools(self):
        return self.data["pools"]

    def pool(self, name, option="pool"):
        return allocator.get_pool(self.data, name, option)

    def request_pool(self, req, address_pools=(), avoid=(), option="subnet"):
        return allocator.request_pool(self.data, req, address_pools, avoid, option)

    def release_pool(self, name):
        return allocator.release_pool(self.data, name)

    def request_address(self, pool_name, owner, address=None, option="ipv4_address"):
        return allocator.request_address(self.pool(pool_name), owner, address, option)

    def release_address(self, pool_name, owner):
        pool = self.pools().get(pool_name)
        return pool is not None and allocator.release_address(pool, owner)
