# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the store holds, record by record, as typed dictionaries.

A record is a JSON object: it is written to ``state_dir`` (or etcd), compared with what
was read, migrated in place (migrate.py) and returned in module results as it is. So it
is declared as a ``TypedDict``: mypy checks every key read or written and the type of
its value, and the record stays the plain dict that is stored and returned, with no
conversion on each load and save of thousands of endpoints.

A driver's own fields are not declared here: they live in its parts (drivers/base.Part,
frozen dataclasses declared in the driver's module), each under its key in the record,
read with ``Part.of`` and written with ``drivers.base.set_parts``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, TypedDict, Union

if TYPE_CHECKING:  # read by mypy only: the modules still import on Python 3.9 and 3.10
    from typing import Required


class PortRecord(TypedDict):
    """A published port, or a range of ports, as an endpoint records it."""
    host_port: Union[int, str]       # the number, or "FIRST-LAST" for a range
    container_port: Union[int, str]  # the same, in the sandbox
    protocol: str                    # tcp, udp or sctp
    host_ip: Optional[str]           # the host address it is published on (None: the network's default)


class ServicePortRecord(TypedDict, total=False):
    """A port of a service."""
    port: Required[int]         # on the VIP
    target_port: Required[int]  # on the backends
    protocol: Required[str]     # tcp or udp
    published: int              # the host port of the routing mesh, where there is one


class ServiceRecord(TypedDict):
    """A service (cnm_service) of a network: a VIP and the endpoints behind it."""
    name: str
    vip: str                        # its address, from the network's pool
    ports: List[ServicePortRecord]
    endpoints: List[str]                            # the names of its backends (local or remote)
    aliases: List[str]                              # more names resolving to the VIP


class NetworkRecord(TypedDict, total=False):
    """A network (cnm_network) on this host. The pools' fields are those of an IPAM network."""
    name: Required[str]
    id: str                   # stable: the same on every host of a fleet network, unique per host otherwise
    scope: str                # local or fleet (drivers.base.Driver.scope)
    driver: Required[str]     # a name in the registry (drivers/__init__.py)
    mtu: int                  # the given one, the driver's default, or the parent's (network_record)
    internal: bool            # no route out: no gateway, no NAT
    labels: Dict[str, str]    # the user's, kept as given
    ipv4: bool                # false: IPv6-only, no IPv4 pool (absent: it has one)
    ipv6: bool                # an IPv6 pool, beside the IPv4 one or alone
    subnet: Optional[str]     # the IPv4 pool's CIDR (on a network with IPAM and IPv4)
    gateway: Optional[str]    # its gateway (None on a network without one)
    ip_range: Optional[str]   # the sub-range endpoints' addresses come from
    ipv6_subnet: Optional[str]
    ipv6_gateway: Optional[str]
    ipv6_ip_range: Optional[str]
    services: Dict[str, ServiceRecord]  # cnm_service's, by name
    vrf: VrfRecord            # the VRF its host devices are in (absent: none), as vrfs.py plans it
    cni_ipam: Dict[str, Any]  # the CNI IPAM plugin that gives its endpoints their addresses (absent: pools)


class VrfRecord(TypedDict):
    """The VRF device a network's host devices are enslaved to (vrfs.py)."""
    name: str       # the device's name
    table: int      # its routing table
    created: bool   # made by the collection (deleted with the last network in it), else found and never changed


class RouteRecord(TypedDict):
    """A static route through an endpoint's interface, in its sandbox."""
    dst: str                # the destination, a CIDR
    gateway: Optional[str]  # the next hop, on the endpoint's network (None: on-link)
    metric: int             # as the kernel keeps it (an IPv6 route's 0 is 1024)
    table: int              # the routing table (254: main)


class BandwidthRecord(TypedDict, total=False):
    """An endpoint's shaping, each direction given or not: rates in bits per second, bursts in bytes."""
    ingress_rate: int   # what goes into the sandbox
    ingress_burst: int
    egress_rate: int    # what the sandbox sends
    egress_burst: int


class EndpointRecord(TypedDict, total=False):
    """An endpoint (cnm_endpoint): a network's interface in a sandbox, by ``network/name``."""
    name: Required[str]
    network: Required[str]
    sandbox: Required[str]            # the key of the sandbox it is in (names.sandbox_key)
    aliases: List[str]                # more names of it in the network's hosts files
    publish: List[PortRecord]
    ifname: Optional[str]             # its interface in the sandbox (None: the driver makes none)
    ipv4_address: Optional[str]
    ipv6_address: Optional[str]
    mac_address: Optional[str]        # None: the kernel's own
    default_route: bool               # the sandbox's default route goes through its gateway
    dns: Optional[List[str]]          # the sandbox's resolv.conf (shared by its endpoints)
    dns_search: Optional[List[str]]
    dns_options: Optional[List[str]]
    extra_hosts: Optional[Dict[str, str]]  # more lines of the sandbox's hosts file
    sysctls: Dict[str, str]           # net.* sysctls of its sandbox and interface (IFNAME); absent: none
    routes: List[RouteRecord]         # static routes through its interface; absent: none
    default_route_metric: int         # the metric of its default routes; absent: 0 (IPv6: the kernel's 1024)
    bandwidth: BandwidthRecord        # token buckets on its host side; absent: none
    cni_chain: Dict[str, Any]         # CNI plugins run after its join: {plugins, cni_version, path} (chain.py); absent: none
    cni_chain_attachment: Dict[str, Any]  # what the chain's last ADD ran and returned (chain.py); absent: no chain
    cni_ipam_attachment: Dict[str, Any]  # what its network's IPAM plugin's last ADD ran and returned (cni_ipam.py)


class RemoteEndpointRecord(TypedDict, total=False):
    """An endpoint on another host, as cnm_overlay_peer gives it (a network's peers)."""
    name: Required[str]
    ip: Required[str]     # its IPv4 address
    ip6: Optional[str]    # its IPv6 address, on a dual-stack network
    mac: Required[str]    # its MAC address (given, or derived from ip)
    aliases: List[str]


class SandboxRecord(TypedDict):
    """A sandbox (a network namespace) the collection joined endpoints to."""
    created: bool  # the collection made it (and removes it with its last endpoint)


class PoolRecord(TypedDict, total=False):
    """An IPAM pool (ipam/allocator.py), by name in its address space."""
    subnet: Required[str]
    gateway: Required[str]
    ip_range: Optional[str]
    aux_addresses: Dict[str, str]   # reserved addresses by name
    addresses: Dict[str, str]       # addresses handed out, by owner
    cursor: Optional[str]           # the last address handed out: allocation goes round from there
    vrf: str                        # the VRF of its network (absent: none); only pools of one VRF may not overlap


class SpaceRecord(TypedDict):
    """An IPAM address space: a file under state_dir (``ipam-SPACE.json``) or one etcd key."""
    pools: Dict[str, PoolRecord]
