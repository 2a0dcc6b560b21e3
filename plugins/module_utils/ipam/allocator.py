# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPAM as pure logic over one address space's records (a plain dict), on netaddr.

A space holds named pools; a pool holds a subnet, its gateway, an optional
ip_range for dynamic addresses, auxiliary (reserved) addresses, the addresses
handed out by owner, and a cursor. Requests are keyed by owner, so asking twice
returns the same answer. The cursor makes allocation round-robin: a released
address is handed out again only after the rest of the range has been.
Backends (file, etcd) load a space, call these functions, and store it.
Addresses and subnets may be of either family; netaddr does the arithmetic.
"""

from __future__ import annotations

try:
    from netaddr import IPAddress, IPNetwork, IPSet
except ImportError:  # reported by common.run_module, with the install hint
    pass

from typing import Any, Iterable, Iterator, Optional, Set, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils.errors import IpamError
from ansible_collections.cnm.fabric.plugins.module_utils.records import PoolRecord, SpaceRecord
from ansible_collections.cnm.fabric.plugins.module_utils.spec import AddressPools, PoolRequest


def _net(value: Any) -> Any:
    return IPNetwork(str(value)) if value else None


def candidates(address_pools: AddressPools) -> Iterator[Any]:
    """Subnets to try, in dockerd's order: each base split into subnets of its size."""
    for base, size in address_pools:
        yield from _net(base).subnet(size)


def request_pool(space: SpaceRecord, req: PoolRequest, address_pools: AddressPools = (), avoid: Iterable[Any] = (),
                 option: str = "subnet") -> Tuple[PoolRecord, bool]:
    """Create or update the pool ``req.name``; return (pool dict, changed).

    ``avoid`` lists networks (e.g. the host's routes) an automatic subnet must not overlap.
    """
    pools = space.setdefault("pools", {})
    current = pools.get(req.name)
    # Pools of one VRF (or of none) may not overlap; those of different VRFs may.
    others = dict((name, _net(p["subnet"])) for name, p in pools.items() if name != req.name and p.get("vrf") == req.vrf)
    if current is not None:
        subnet = _net(current["subnet"])
        if req.subnet is not None and _net(req.subnet) != subnet:
            raise IpamError("pool %r already has the subnet %s; release it before asking for %s"
                            % (req.name, subnet, req.subnet), option)
    elif req.subnet is not None:
        subnet = _net(req.subnet)
    else:
        taken = IPSet(list(others.values()) + [_net(a) for a in avoid])
        subnet = next((c for c in candidates(address_pools) if taken.isdisjoint(IPSet([c]))), None)
        if subnet is None:
            raise IpamError("every subnet of the address pools is in use or overlaps a host "
                            "route; add address_pools or give a subnet", option)
    if (current is None and req.subnet is not None) or (current is not None and current.get("vrf") != req.vrf):
        for other, net in sorted(others.items()):
            if not IPSet([net]).isdisjoint(IPSet([subnet])):
                raise IpamError("%s overlaps %s, the subnet of %r%s" % (
                    subnet, net, other, " in VRF %s" % req.vrf if req.vrf else ""), option)

    aux_addresses = dict(req.aux_addresses)
    desired: PoolRecord = {
        "subnet": str(subnet),
        "gateway": str(req.gateway or IPAddress(subnet.first + 1, subnet.version)),
        "ip_range": str(req.ip_range) if req.ip_range else None,
        "aux_addresses": aux_addresses,
    }
    if req.vrf:
        desired["vrf"] = req.vrf
    if current is not None:
        old = {k: current.get(k) for k in desired}
        old["aux_addresses"] = old["aux_addresses"] or {}
        if old == dict(desired) and current.get("vrf") == req.vrf:
            return current, False
        current.pop("vrf", None)
        reserved = set(aux_addresses.values()) | {desired["gateway"]}
        for owner, addr in sorted((current.get("addresses") or {}).items()):
            if addr in reserved:
                raise IpamError("%s is held by %r and cannot become the gateway or an auxiliary "
                                "address" % (addr, owner), "gateway")
        current.update(desired)
        return current, True
    desired.update({"addresses": {}, "cursor": None})
    pools[req.name] = desired
    return desired, True


def release_pool(space: SpaceRecord, name: str) -> bool:
    return space.get("pools", {}).pop(name, None) is not None


def get_pool(space: SpaceRecord, name: str, option: str = "pool") -> PoolRecord:
    pool = space.get("pools", {}).get(name)
    if pool is None:
        raise IpamError("no pool named %r in this address space" % name, option)
    return pool


def _reserved(pool: PoolRecord, subnet: Any) -> Set[int]:
    """The subnet's network address (and IPv4's broadcast), the gateway and the auxiliary addresses."""
    edges = [subnet.network] + ([subnet.broadcast] if subnet.version == 4 else [])
    return set(int(IPAddress(a)) for a in edges + [pool["gateway"]] + list((pool.get("aux_addresses") or {}).values()))


def used_set(pool: PoolRecord) -> Set[int]:
    """The held addresses as integers; a caller allocating many may keep it between calls."""
    return set(int(IPAddress(a)) for a in pool.get("addresses", {}).values())


def request_address(pool: PoolRecord, owner: str, address: Optional[str] = None, option: str = "ipv4_address",
                    used: Optional[Set[int]] = None) -> Tuple[str, bool]:
    """Return (address, changed): the owner's address, allocating or moving it as asked.

    ``used`` is ``used_set(pool)``, kept up to date here, for callers making many requests.
    """
    if used is None:
        used = used_set(pool)
    held = pool.setdefault("addresses", {})
    current = held.get(owner)
    subnet = _net(pool["subnet"])
    if address is not None:
        if current == address:
            return address, False
        addr = IPAddress(address)
        if addr not in subnet:
            raise IpamError("%s is outside the subnet %s" % (address, subnet), option)
        if int(addr) in _reserved(pool, subnet):
            raise IpamError("%s is reserved in %s (network, broadcast, gateway or auxiliary)"
                            % (address, subnet), option)
        if int(addr) in used:
            other = next(o for o, value in held.items() if value == address)
            raise IpamError("%s is already held by %r" % (address, other), option)
        if current is not None:
            used.discard(int(IPAddress(current)))
        held[owner] = address
        used.add(int(addr))
        return address, True
    if current is not None:
        return current, False

    rng = _net(pool.get("ip_range")) or subnet
    reserved = _reserved(pool, subnet)
    cursor = pool.get("cursor")
    start = int(IPAddress(cursor)) + 1 if cursor else rng.first
    if not rng.first <= start <= rng.last:
        start = rng.first
    for candidate in _ring(start, rng.first, rng.last):
        if candidate not in used and candidate not in reserved:
            text = str(IPAddress(candidate, subnet.version))
            held[owner] = text
            used.add(candidate)
            pool["cursor"] = text
            return text, True
    raise IpamError("no free address left in %s (%d in use); widen ip_range or release addresses"
                    % (rng, len(held)), option)


def _ring(start: int, lo: int, hi: int) -> Iterator[int]:
    """Every integer of [lo, hi], starting at ``start`` and wrapping around."""
    yield from range(start, hi + 1)
    yield from range(lo, start)


def release_address(pool: PoolRecord, owner: str, used: Optional[Set[int]] = None) -> bool:
    address = pool.setdefault("addresses", {}).pop(owner, None)
    if address is not None and used is not None:
        used.discard(int(IPAddress(address)))
    return address is not None
