# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module parameters -> validated, frozen desired-state objects.

This is the only place that judges user input: every error names the option and
says what would be right. Nothing here touches the kernel or the disk.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Union

from ansible_collections.cnm.fabric.plugins.module_utils import cni, names
from ansible_collections.cnm.fabric.plugins.module_utils.errors import SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.records import BandwidthRecord, PortRecord, RemoteEndpointRecord, \
    RouteRecord

if TYPE_CHECKING:  # drivers.base imports this module
    from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import Driver

Params = Dict[str, Any]  # a module's parameters, as Ansible validated them
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
AddressPools = Tuple[Tuple[IPNetwork, int], ...]  # (base, size) pairs for automatic subnets

MTU_MIN, MTU_MAX = 68, 65535
MAX_PREFIX = {4: 30, 6: 126}  # the smallest subnet a network may have, by IP version

# dockerd's default-address-pools for the local scope: 31 pools in all.
DEFAULT_LOCAL_POOLS = (
    ("172.17.0.0/16", 16),
    ("172.18.0.0/16", 16),
    ("172.19.0.0/16", 16),
    ("172.20.0.0/14", 16),
    ("172.24.0.0/14", 16),
    ("172.28.0.0/14", 16),
    ("192.168.0.0/16", 20),
)


# --- helpers -----------------------------------------------------------------

def check_name(value: Any, option: str) -> str:
    if not isinstance(value, str) or not names.NAME_RE.fullmatch(value):
        raise SpecError(
            "%r is not a valid name: use 1 to 63 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit" % (value,), option)
    return value


def _family_ok(value: Any, version: int, versions: Sequence[int], what: str, option: str) -> None:
    if version not in versions:
        raise SpecError("%r is an IPv%d %s; an IPv%d one is expected here" % (value, version, what, versions[0]),
                        option)


def check_ifname(value: str, option: str) -> str:
    """An interface name a user gives (names.ifname_problem says what is taken)."""
    problem = names.ifname_problem(value)
    if problem:
        raise SpecError(problem, option)
    return value


def _address_text(value: Any, option: str) -> str:
    """The text of an address or a CIDR, refused when it holds an IPv6 zone id or anything but
    the address: Python's parser keeps whatever follows a '%', new lines included, and the
    address is written into resolv.conf, hosts files and nftables rules as it is."""
    text = str(value).strip()
    if "%" in text:
        raise SpecError("%r has an IPv6 zone id (the part from '%%'); zone ids are not taken here: give the "
                        "address alone" % (value,), option)
    if not text.isascii() or not text.isprintable() or any(c.isspace() for c in text):
        raise SpecError("%r is not a valid IP address or CIDR (it holds spaces or other characters that are not "
                        "part of one)" % (value,), option)
    return text


def parse_subnet(value: Any, option: str, versions: Sequence[int] = (4,)) -> Optional[IPNetwork]:
    """A network in CIDR form, of one of the IP ``versions``; host bits set is an error that
    names the fix."""
    if value is None:
        return None
    text = _address_text(value, option)
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise SpecError("%r is not a valid CIDR (expected e.g. 172.30.0.0/24 or fd00:1::/64)" % (value,), option)
    if "/" not in text:
        raise SpecError("%r has no prefix length (expected e.g. %s/%d)" % (value, text, 24 if net.version == 4 else 64),
                        option)
    _family_ok(value, net.version, versions, "subnet", option)
    if ipaddress.ip_interface(text).ip != net.network_address:
        raise SpecError("%r has host bits set; did you mean %s?" % (value, net), option)
    return net


def parse_address(value: Any, option: str, versions: Sequence[int] = (4,)) -> Optional[IPAddress]:
    if value is None:
        return None
    try:
        addr = ipaddress.ip_address(_address_text(value, option))
    except ValueError:
        raise SpecError("%r is not a valid IP address" % (value,), option)
    _family_ok(value, addr.version, versions, "address", option)
    return addr


def check_in_subnet(addr: Any, subnet: Any, option: str, allow_edges: bool = False) -> None:
    if addr not in subnet:
        raise SpecError("%s is outside the subnet %s" % (addr, subnet), option)
    if not allow_edges and addr in (subnet.network_address, subnet.broadcast_address):
        raise SpecError("%s is the network or broadcast address of %s" % (addr, subnet), option)


def parse_mac(value: Any, option: str) -> Optional[str]:
    if value is None:
        return None
    text = str(value).strip().lower().replace("-", ":")
    parts = text.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts):
        raise SpecError("%r is not a MAC address (expected e.g. 02:42:ac:11:00:02)" % (value,), option)
    if int(parts[0], 16) & 1:
        raise SpecError("%s is a multicast MAC address; the first octet must be even" % text, option)
    return text


# --- IPAM ----------------------------------------------------------------------

@dataclass(frozen=True)
class PoolRequest:
    """What a network or a cnm_ipam_pool call asks of a pool."""
    name: str
    subnet: Optional[IPNetwork] = None
    gateway: Optional[IPAddress] = None
    ip_range: Optional[IPNetwork] = None
    aux_addresses: Tuple[Tuple[str, str], ...] = ()
    vrf: Optional[str] = None  # the VRF of its network: its subnet may overlap those of other VRFs' pools


def check_pool_request(name: str, subnet_given: Any, gateway_given: Any, ip_range_given: Any,
                       aux_addresses: Optional[Mapping[str, Any]], prefix: str = "",
                       versions: Sequence[int] = (4,)) -> PoolRequest:
    """Validate the subnet/gateway/ip_range/aux_addresses quartet shared by modules."""
    subnet = parse_subnet(subnet_given, prefix + "subnet", versions)
    gateway = parse_address(gateway_given, prefix + "gateway", versions)
    ip_range = parse_subnet(ip_range_given, prefix + "ip_range", versions)
    if subnet is None:
        for opt, val in (("gateway", gateway), ("ip_range", ip_range)):
            if val is not None:
                raise SpecError("needs an explicit subnet to be checked against", prefix + opt)
        if aux_addresses:
            raise SpecError("needs an explicit subnet to be checked against", prefix + "aux_addresses")
    else:
        if subnet.prefixlen > MAX_PREFIX[subnet.version]:
            raise SpecError("%s is too small: a network needs at least a /%d" % (subnet, MAX_PREFIX[subnet.version]),
                            prefix + "subnet")
        if gateway is not None:
            check_in_subnet(gateway, subnet, prefix + "gateway")
        if ip_range is not None and (ip_range.version != subnet.version or not ip_range.subnet_of(subnet)):  # type: ignore[arg-type]
            raise SpecError("%s is not inside the subnet %s" % (ip_range, subnet), prefix + "ip_range")
    aux = []
    for key, val in sorted((aux_addresses or {}).items()):
        addr = parse_address(val, "%saux_addresses.%s" % (prefix, key), versions)
        check_in_subnet(addr, subnet, "%saux_addresses.%s" % (prefix, key))
        aux.append((key, str(addr)))
    return PoolRequest(name=name, subnet=subnet, gateway=gateway, ip_range=ip_range,
                       aux_addresses=tuple(aux))


def parse_address_pools(value: Any, option: str = "address_pools", versions: Sequence[int] = (4,)) -> AddressPools:
    """(base, size) pairs; with none given, dockerd's IPv4 pools."""
    if not value:
        return tuple((ipaddress.ip_network(b), s) for b, s in DEFAULT_LOCAL_POOLS)
    pools: List[Tuple[IPNetwork, int]] = []
    for i, item in enumerate(value):
        where = "%s[%d]" % (option, i)
        base = parse_subnet(item.get("base"), where + ".base", versions)
        if base is None:
            raise SpecError("is required", where + ".base")
        size = number(item["size"], where + ".size", 1, 128)
        if not base.prefixlen <= size <= MAX_PREFIX[base.version]:
            raise SpecError("%d must be between the base's prefix length (%d) and %d"
                            % (size, base.prefixlen, MAX_PREFIX[base.version]), where + ".size")
        pools.append((base, size))
    return tuple(pools)


@dataclass(frozen=True)
class PoolSpec:
    space: str
    address_pools: AddressPools
    request: Optional[PoolRequest]
    addresses: Tuple[Tuple[str, Optional[str]], ...]
    exclusive: bool
    state: str
    backend: str = "file"
    backend_options: Tuple[Tuple[str, object], ...] = ()


def pool_spec(params: Params) -> PoolSpec:
    space = check_name(params["space"], "space")
    pools = parse_address_pools(params.get("address_pools"), versions=(4, 6))
    request = None
    if params.get("pool"):
        request = check_pool_request(check_name(params["pool"], "pool"), params.get("subnet"),
                                     params.get("gateway"), params.get("ip_range"),
                                     params.get("aux_addresses"), versions=(4, 6))
    else:
        for opt in ("subnet", "gateway", "ip_range", "aux_addresses", "addresses"):
            if params.get(opt):
                raise SpecError("requires pool (the name of the pool it applies to)", opt)
    addresses, seen = [], set()
    for i, item in enumerate(params.get("addresses") or []):
        owner = check_name(item.get("owner"), "addresses[%d].owner" % i)
        if owner in seen:
            raise SpecError("owner %r is listed twice" % owner, "addresses[%d].owner" % i)
        seen.add(owner)
        addr = parse_address(item.get("address"), "addresses[%d].address" % i, versions=(4, 6))
        if addr is not None and request is not None and request.subnet is not None:
            check_in_subnet(addr, request.subnet, "addresses[%d].address" % i)
        addresses.append((owner, str(addr) if addr else None))
    backend = params.get("backend") or "file"
    options = dict((k, v) for k, v in (params.get("backend_options") or {}).items() if v is not None)
    if backend == "file" and options:
        raise SpecError("is only used with backend: etcd", "backend_options")
    if backend == "etcd" and space == "local":
        raise SpecError("the local space belongs to this host's networks and stays in its state_dir; "
                        "name another space (for example fleet) for etcd", "space")
    return PoolSpec(space=space, address_pools=pools, request=request,
                    addresses=tuple(addresses), exclusive=bool(params.get("exclusive")),
                    state=params["state"], backend=backend, backend_options=tuple(sorted(options.items())))


# --- networks ------------------------------------------------------------------

@dataclass(frozen=True)
class NetworkSpec:
    name: str
    driver: str
    state: str
    pool: Optional[PoolRequest]  # for drivers with IPAM
    mtu: Optional[int]  # None: the driver's default
    internal: bool
    force: bool
    options: Any = None  # the driver's own options, as its network_options hook returns them
    pool6: Optional[PoolRequest] = None  # the IPv6 pool of a dual-stack or IPv6-only network
    address_pools: AddressPools = ()  # () for the defaults
    labels: Tuple[Tuple[str, str], ...] = ()
    vrf: Optional[str] = None  # the VRF device its host devices go in
    cni_ipam: Optional[Dict[str, Any]] = None  # parse_cni_ipam's: a CNI IPAM plugin gives the addresses, not pools

    @property
    def ipv4(self) -> bool:
        return self.pool is not None

    @property
    def ipv6(self) -> bool:
        return self.pool6 is not None

    @property
    def pooled(self) -> bool:
        """Whether the network takes pools of the collection's (Driver.pooled): of one IP version at least."""
        return self.ipv4 or self.ipv6


def number(value: Any, option: str, low: int, high: int) -> int:
    try:
        result = int(value)
    except (TypeError, ValueError):
        raise SpecError("%r is not a number" % (value,), option)
    if not low <= result <= high:
        raise SpecError("%d is out of range (%d to %d)" % (result, low, high), option)
    return result


def network_spec(params: Params, registry: Mapping[str, Driver]) -> NetworkSpec:
    """cnm_network's params, judged with the help of their driver (``registry``: name -> Driver)."""
    name = check_name(params["name"], "name")
    driver = params.get("driver") or next(iter(registry))  # the first one is the default
    if driver not in registry:
        raise SpecError("%r is not a known driver; choose one of %s" % (driver, ", ".join(registry)), "driver")
    drv = registry[driver]
    mtu = params.get("mtu")
    if mtu is not None:
        mtu = number(mtu, "mtu", MTU_MIN, MTU_MAX)
    for group in sorted(set(g for other in registry.values() for g in other.option_groups)):
        if params.get(group) and group not in drv.option_groups:
            owners = [n for n, other in registry.items() if group in other.option_groups]
            raise SpecError("is only used with driver: %s" % " or ".join(owners), group)
    pool = pool6 = None
    ipv4 = params.get("ipv4") is not False
    if drv.pooled(params):
        given = dict((opt, by_family(params.get(opt), opt)) for opt in ("subnet", "gateway", "ip_range"))
        aux = by_family(params.get("aux_addresses"), "aux_addresses")
        if params.get("ipv6") and not drv.ipv6:
            raise SpecError("is not supported by the %s driver" % driver, "ipv6")
        if not (ipv4 or params.get("ipv6")):
            raise SpecError("false needs ipv6: true: a network has addresses of one IP version at least", "ipv4")
        for opt, values in sorted(dict(given, aux_addresses=aux).items()):
            if 6 in values and not params.get("ipv6"):
                raise SpecError("has an IPv6 value (%s); set ipv6: true for a dual-stack network"
                                % values[6][1], opt)
            if 4 in values and not ipv4:
                raise SpecError("has an IPv4 value (%s) and the network is IPv6-only (ipv4: false)"
                                % values[4][1], opt)
        if ipv4:
            pool = check_pool_request(name, _given(given["subnet"], 4), _given(given["gateway"], 4),
                                      _given(given["ip_range"], 4), aux_addresses=dict(aux.get(4, ((), {}))[1]))
        if params.get("ipv6"):
            pool6 = check_pool_request(names.ipv6_pool(name), _given(given["subnet"], 6), _given(given["gateway"], 6),
                                       _given(given["ip_range"], 6), aux_addresses=dict(aux.get(6, ((), {}))[1]),
                                       versions=(6,))
    else:
        unless = " with cni_ipam (its plugin gives the endpoints their addresses)" if params.get("cni_ipam") else \
            " without %s" % drv.pool_option if drv.pool_option else ""
        for opt in ("subnet", "gateway", "ip_range", "aux_addresses", "internal", "ipv6", "address_pools"):
            if params.get(opt):
                raise SpecError("is not supported by the %s driver%s" % (driver, unless), opt)
        if not ipv4:
            raise SpecError("is not supported by the %s driver%s, whose networks then have no addresses of the "
                            "collection's" % (driver, unless), "ipv4")
    pools = parse_address_pools(params.get("address_pools"), versions=(4, 6) if ipv4 else (6,)) \
        if params.get("address_pools") else ()
    ipam_plugin = parse_cni_ipam(params.get("cni_ipam"))
    if ipam_plugin and not drv.ipam_plugin:
        raise SpecError("is not supported by the %s driver (a macvlan network takes it)" % driver, "cni_ipam")
    vrf = params.get("vrf")
    if vrf is not None:
        if not drv.vrf:
            raise SpecError("is not supported by the %s driver" % driver, "vrf")
        check_ifname(vrf, "vrf")
    return NetworkSpec(name=name, driver=driver, state=params["state"], pool=pool, mtu=mtu,
                       internal=bool(params.get("internal")), force=bool(params.get("force")),
                       options=drv.network_options(params), pool6=pool6, address_pools=pools,
                       labels=parse_labels(params.get("labels")), vrf=vrf, cni_ipam=ipam_plugin)


def _given(values: Dict[int, Tuple[str, Any]], version: int) -> Any:
    return values[version][1] if version in values else None


def by_family(value: Any, option: str) -> Dict[int, Tuple[str, Any]]:
    """A list of CIDRs or addresses (or an ``aux_addresses`` dict) split by IP version:
    {version: (option of the first item, value)}; at most one per version, except in a dict."""
    out: Dict[int, Tuple[str, Any]] = {}
    if isinstance(value, dict):
        for key, item in sorted(value.items()):
            version = _version_of(item, "%s.%s" % (option, key))
            out.setdefault(version, (option, {}))[1][key] = item
        return out
    if value is not None and not isinstance(value, (list, tuple)):
        value = [value]
    for i, item in enumerate(value or []):
        where = "%s[%d]" % (option, i) if len(value) > 1 else option
        version = _version_of(item, where)
        if version in out:
            raise SpecError("has two IPv%d values (%s and %s): give one per IP version"
                            % (version, out[version][1], item), option)
        out[version] = (where, item)
    return out


def _version_of(value: Any, option: str) -> int:
    """The IP version of an address or CIDR; 4 for a value of neither, which the parser of
    the option then refuses, saying why."""
    try:
        return ipaddress.ip_interface(str(value).strip()).version
    except ValueError:
        return 4


def parse_labels(value: Optional[Mapping[Any, Any]], option: str = "labels") -> Tuple[Tuple[str, str], ...]:
    """Labels as sorted (key, value) pairs of strings."""
    out = []
    for key, item in sorted((value or {}).items()):
        if not str(key).strip():
            raise SpecError("a label needs a non-empty key", option)
        if item is None or isinstance(item, (dict, list)):
            raise SpecError("%r must be a string (got %r)" % (key, item), "%s.%s" % (option, key))
        out.append((str(key), str(item)))
    return tuple(out)


# --- endpoints -----------------------------------------------------------------

@dataclass(frozen=True)
class PortSpec:
    """A published port, or a range of them (``count`` ports from each first port)."""
    host_port: int
    container_port: int
    protocol: str = "tcp"
    host_ip: Optional[str] = None
    count: int = 1

    def as_dict(self) -> PortRecord:
        return {"host_port": port_text(self.host_port, self.count),
                "container_port": port_text(self.container_port, self.count),
                "protocol": self.protocol, "host_ip": self.host_ip}


def port_text(first: int, count: int) -> Union[int, str]:
    """A port as recorded: the number, or ``"FIRST-LAST"`` for a range."""
    return first if count == 1 else "%d-%d" % (first, first + count - 1)


def port_span(value: Any, option: str) -> Tuple[int, int]:
    """(first, last) of a port (``8000``) or a range (``"8000-8010"``), each 1 to 65535."""
    text = str(value).strip()
    if "-" in text.strip("-"):
        low, high = text.split("-", 1)
        first, last = number(low, option, 1, 65535), number(high, option, 1, 65535)
        if last < first:
            raise SpecError("%r ends before it starts" % (value,), option)
        return first, last
    first = number(text, option, 1, 65535)
    return first, first


def parse_publish(items: Optional[Sequence[Params]]) -> Tuple[PortSpec, ...]:
    ports: List[PortSpec] = []
    seen: List[Tuple[int, PortSpec]] = []
    for i, item in enumerate(items or []):
        where = "publish[%d]" % i
        cfirst, clast = port_span(item.get("container_port"), where + ".container_port")
        given = item.get("host_port")
        hfirst, hlast = port_span(given, where + ".host_port") if given is not None else (cfirst, clast)
        if hlast - hfirst != clast - cfirst:
            raise SpecError("%s has %d ports and container_port %s has %d; a range maps one to one"
                            % (given, hlast - hfirst + 1, item.get("container_port"), clast - cfirst + 1),
                            where + ".host_port")
        proto = item.get("protocol") or "tcp"
        host_ip = parse_host_ip(item.get("host_ip"), where + ".host_ip")
        port = PortSpec(hfirst, cfirst, proto, str(host_ip) if host_ip else None, hlast - hfirst + 1)
        for j, other in seen:
            if (other.protocol, other.host_ip) == (proto, port.host_ip) and ports_overlap(port, other):
                raise SpecError("host port %s/%s is listed twice (also publish[%d])"
                                % (port_text(hfirst, port.count), proto, j), where + ".host_port")
        seen.append((i, port))
        ports.append(port)
    return tuple(ports)


def parse_host_ip(value: Any, option: str) -> Optional[IPAddress]:
    """A host address to publish ports on; IPv6's loopback is refused, saying why."""
    addr = parse_address(value, option, versions=(4, 6))
    if addr is not None and addr.version == 6 and addr.is_loopback:
        raise SpecError("ports cannot be published on ::1: the kernel drops packets from ::1 on any other "
                        "interface, and IPv6 has no route_localnet to allow it; use 127.0.0.1 or another address",
                        option)
    return addr


def ports_overlap(a: PortSpec, b: PortSpec) -> bool:
    """Whether two PortSpecs (or recorded port dicts made PortSpecs) share a host port."""
    return a.host_port <= b.host_port + b.count - 1 and b.host_port <= a.host_port + a.count - 1


def recorded_port(port: PortRecord) -> PortSpec:
    """A PortSpec from a recorded port dict."""
    first, last = port_span(port["host_port"], "publish")
    cfirst = port_span(port["container_port"], "publish")[0]
    return PortSpec(first, cfirst, port["protocol"], port.get("host_ip"), last - first + 1)


IFNAME = "IFNAME"  # in a sysctl key, the endpoint's interface in its sandbox
SYSCTL_WORD = re.compile(r"[A-Za-z0-9_-]+")
SYSCTL_VALUE_MAX = 256
# The sysctls of one interface: net.FAMILY.TABLE.INTERFACE.NAME (``all`` and ``default`` are the sandbox's).
PER_INTERFACE = (("ipv4", "conf"), ("ipv6", "conf"), ("ipv4", "neigh"), ("ipv6", "neigh"))


def parse_sysctls(value: Optional[Mapping[Any, Any]], option: str = "sysctls") -> Tuple[Tuple[str, str], ...]:
    """An endpoint's sysctls, as sorted (key, value) pairs of strings: ``net.*`` keys only, of the
    sandbox or of the endpoint's own interface (written IFNAME), each value one line of text."""
    out = []
    for key, item in sorted((value or {}).items(), key=lambda kv: str(kv[0])):
        where = "%s.%s" % (option, key)
        words = str(key).split(".")
        if words[0] != "net" or len(words) < 3 or not all(SYSCTL_WORD.fullmatch(w) for w in words):
            raise SpecError("%r is not a net.* sysctl key (such as net.ipv4.conf.IFNAME.rp_filter): only the "
                            "network settings of the endpoint's sandbox can be set" % (key,), option)
        interface = words[3] if tuple(words[1:3]) in PER_INTERFACE and len(words) == 5 else None
        if interface not in (None, IFNAME, "all", "default"):
            raise SpecError("%s names the interface %s; an endpoint sets only its own interface's, written IFNAME "
                            "(net.ipv4.conf.IFNAME.rp_filter), or the whole sandbox's (all, default)"
                            % (key, interface), where)
        if IFNAME in words and interface != IFNAME:
            raise SpecError("IFNAME stands for the endpoint's interface only in net.ipv4.conf.IFNAME.NAME, "
                            "net.ipv6.conf.IFNAME.NAME, net.ipv4.neigh.IFNAME.NAME and net.ipv6.neigh.IFNAME.NAME",
                            where)
        if isinstance(item, bool):
            item = int(item)
        if not isinstance(item, (int, str)):
            raise SpecError("must be a number or a string (got %r)" % (item,), where)
        text = sysctl_text(str(item))
        if not text or len(text) > SYSCTL_VALUE_MAX or not text.isascii() or not text.isprintable():
            raise SpecError("%r is not a sysctl value: give one line of at most %d printable characters"
                            % (item, SYSCTL_VALUE_MAX), where)
        out.append((str(key), text))
    return tuple(out)


def sysctl_text(value: str) -> str:
    """A sysctl's value as it is compared: the values of a list one space apart (the kernel
    shows them separated by tabs), with no space around."""
    return re.sub(r"[ \t]+", " ", value).strip(" \t\n")


def sysctl_path(key: str, ifname: str, sep: str = "/") -> str:
    """A sysctl key's path under /proc/sys (``sep`` "." : as sysctl(8) shows it), with IFNAME
    standing for ``ifname`` (which may hold dots)."""
    return sep.join(ifname if word == IFNAME else word for word in key.split("."))


def sandbox_wide(key: str) -> bool:
    """Whether a sysctl key is its sandbox's, which every endpoint there that gives it must give alike."""
    return IFNAME not in key.split(".")


MAIN_TABLE, LOCAL_TABLE = 254, 255  # the kernel's routing tables (linux/rtnetlink.h)
IPV6_METRIC = 1024  # the kernel's metric of an IPv6 route given 0 (IP6_RT_PRIO_USER)
U32_MAX = 2 ** 32 - 1


def route_metric(metric: int, version: int) -> int:
    """A route's metric as the kernel keeps it: an IPv6 route's 0 is 1024."""
    return (metric or IPV6_METRIC) if version == 6 else metric


def parse_routes(items: Optional[Sequence[Params]], option: str = "routes") -> Tuple[RouteRecord, ...]:
    """An endpoint's static routes, validated: each a distinct (destination, table, metric), with
    a gateway of the destination's family; the main table's default routes are default_route's."""
    return _parse_routes(tuple((item.get("dst"), item.get("gateway"), item.get("metric"), item.get("table"))
                               for item in items or ()), option)


@functools.lru_cache(maxsize=None)  # a bulk call gives many endpoints the same routes
def _parse_routes(items: Tuple[Tuple[Any, Any, Any, Any], ...], option: str) -> Tuple[RouteRecord, ...]:
    out: List[RouteRecord] = []
    seen: Dict[Tuple[str, int, int], int] = {}
    for i, (given_dst, given_gateway, given_metric, given_table) in enumerate(items):
        where = "%s[%d]" % (option, i)
        dst = parse_subnet(given_dst, where + ".dst", versions=(4, 6))
        if dst is None:
            raise SpecError("is required", where + ".dst")
        gateway = parse_address(given_gateway, where + ".gateway", versions=(dst.version,))
        metric = number(given_metric or 0, where + ".metric", 0, U32_MAX)
        table = number(MAIN_TABLE if given_table is None else given_table, where + ".table", 1, U32_MAX)
        if table == LOCAL_TABLE:
            raise SpecError("255 is the kernel's local table, which holds the host's own addresses; choose another",
                            where + ".table")
        if dst.prefixlen == 0 and table == MAIN_TABLE:
            raise SpecError("%s is the default route, which default_route and default_route_metric give; a default "
                            "route here needs another table" % dst, where + ".dst")
        route: RouteRecord = {"dst": str(dst), "gateway": str(gateway) if gateway else None,
                              "metric": route_metric(metric, dst.version), "table": table}
        key = (route["dst"], table, route["metric"])
        if key in seen:
            raise SpecError("%s is routed in table %d at metric %d by %s[%d] already; a destination has one route "
                            "of each metric in a table" % (key + (option, seen[key])), where + ".dst")
        seen[key] = i
        out.append(route)
    return tuple(out)


def route_text(route: RouteRecord) -> str:
    """A route as a user reads it in the changes: ``10.9.0.0/16 via 10.1.0.1 (metric 5, table 100)``."""
    notes = ["metric %d" % route["metric"]] if route["metric"] else []
    notes += ["table %d" % route["table"]] if route["table"] != MAIN_TABLE else []
    return "%s via %s%s" % (route["dst"], route["gateway"] or "the link", " (%s)" % ", ".join(notes) if notes else "")


# Rates as tc writes them: bits per second (SI and IEC prefixes), or bytes per second (bps).
_PREFIXES = (("", 1), ("k", 10 ** 3), ("m", 10 ** 6), ("g", 10 ** 9), ("t", 10 ** 12),
             ("ki", 2 ** 10), ("mi", 2 ** 20), ("gi", 2 ** 30), ("ti", 2 ** 40))
RATE_UNITS = dict([(p + "bit", m) for p, m in _PREFIXES] + [(p + "bps", 8 * m) for p, m in _PREFIXES])
# Sizes as tc writes them: bytes (b; kb or k, mb or m, gb or g: powers of 1024), or bits (kbit, mbit, gbit).
SIZE_UNITS = {"b": 1, "k": 2 ** 10, "kb": 2 ** 10, "m": 2 ** 20, "mb": 2 ** 20, "g": 2 ** 30, "gb": 2 ** 30,
              "kbit": 2 ** 10 // 8, "mbit": 2 ** 20 // 8, "gbit": 2 ** 30 // 8}
QUANTITY = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)\s*")
RATE_MAX = 8 * U32_MAX  # a token bucket's rate is 32 bits of bytes per second (34 Gbit/s)
BURST_MIN, BURST_MAX = 32 * 2 ** 10, 2 ** 30  # the default burst is 10 ms of the rate, at least BURST_MIN
BandwidthKey = Literal["ingress_rate", "ingress_burst", "egress_rate", "egress_burst"]
DIRECTIONS: Tuple[Tuple[BandwidthKey, BandwidthKey], ...] = (("ingress_rate", "ingress_burst"),
                                                             ("egress_rate", "egress_burst"))


def _quantity(value: Any, units: Mapping[str, int], option: str, example: str) -> int:
    match = QUANTITY.fullmatch(value) if isinstance(value, str) else None
    if match is None or match.group(2).lower() not in units:
        raise SpecError("%r is not a quantity with units, as tc writes them (such as %s)" % (value, example), option)
    return int(float(match.group(1)) * units[match.group(2).lower()])


def parse_bandwidth(value: Optional[Mapping[str, Any]], option: str = "bandwidth") -> Optional[BandwidthRecord]:
    """An endpoint's rates (bits per second) and bursts (bytes), each direction given or not: a rate
    and a burst need units; a burst without its rate is refused. None when none is given."""
    out: BandwidthRecord = {}
    for rate_key, burst_key in DIRECTIONS:
        rate, burst = (value or {}).get(rate_key), (value or {}).get(burst_key)
        if rate is None:
            if burst is not None:
                raise SpecError("is given without %s.%s" % (option, rate_key), "%s.%s" % (option, burst_key))
            continue
        bits = _quantity(rate, RATE_UNITS, "%s.%s" % (option, rate_key), "10mbit or 1gbit")
        if not 8 <= bits <= RATE_MAX:
            raise SpecError("%s is out of range (8bit to %dbit)" % (rate, RATE_MAX), "%s.%s" % (option, rate_key))
        size = max(bits // 800, BURST_MIN) if burst is None else \
            _quantity(burst, SIZE_UNITS, "%s.%s" % (option, burst_key), "32kb or 1mb")
        if size > BURST_MAX:
            raise SpecError("%s is out of range (at most 1gb)" % burst, "%s.%s" % (option, burst_key))
        out[rate_key], out[burst_key] = bits, size
    return out or None


def rate_text(bits: int) -> str:
    """A rate as tc writes it: ``10mbit``."""
    for unit, factor in (("gbit", 10 ** 9), ("mbit", 10 ** 6), ("kbit", 10 ** 3)):
        if bits % factor == 0:
            return "%d%s" % (bits // factor, unit)
    return "%dbit" % bits


def size_text(size: int) -> str:
    """A size as tc writes it: ``32kb``."""
    for unit, factor in (("gb", 2 ** 30), ("mb", 2 ** 20), ("kb", 2 ** 10)):
        if size % factor == 0:
            return "%d%s" % (size // factor, unit)
    return "%db" % size


SandboxOption = Literal["dns", "dns_search", "dns_options", "extra_hosts"]  # shared by a sandbox's endpoints
SANDBOX_OPTIONS: Tuple[SandboxOption, ...] = ("dns", "dns_search", "dns_options", "extra_hosts")


@dataclass(frozen=True)
class EndpointSpec:
    name: str
    network: str
    sandbox: Optional[str]
    sandbox_path: Optional[str]
    ifname: Optional[str]
    ipv4_address: Optional[str]
    mac_address: Optional[str]
    default_route: Optional[bool]
    aliases: Tuple[str, ...]
    publish: Tuple[PortSpec, ...]
    state: str
    ipv6_address: Optional[str] = None
    sandbox_options: Tuple[Tuple[SandboxOption, Any], ...] = ()  # as given (a list of strings; extra_hosts: a dict)
    sysctls: Tuple[Tuple[str, str], ...] = ()  # parse_sysctls's
    routes: Tuple[RouteRecord, ...] = ()  # parse_routes's
    default_route_metric: Optional[int] = None
    bandwidth: Optional[BandwidthRecord] = None  # parse_bandwidth's
    cni_chain: Optional[Dict[str, Any]] = None  # parse_cni_chain's

    @property
    def key(self) -> str:
        return names.endpoint_key(self.network, self.name)

    @property
    def sandbox_key(self) -> Optional[str]:
        return names.sandbox_key(self.sandbox, self.sandbox_path)


def endpoint_specs(params: Params) -> List[EndpointSpec]:
    """The endpoints of a cnm_endpoint call: one (``name``) or a list (``endpoints``).

    Ansible has checked the options (types, choices, exclusions) of the call and of each
    item. Items take ``network`` from the call when they do not name one, and a sandbox
    named after them unless they say; errors name the item, as in ``endpoints[3].ipv4_address``.
    """
    if params.get("endpoints") is None:
        if not params.get("network"):
            raise SpecError("is required with name", "network")
        return [endpoint_spec(params)]
    specs: List[EndpointSpec] = []
    seen: Dict[str, int] = {}
    for i, item in enumerate(params["endpoints"]):
        one = dict(item, state=params["state"], network=item["network"] or params.get("network"))
        if not one["sandbox_path"]:
            one["sandbox"] = one["sandbox"] or one["name"]
        try:
            if not one["network"]:
                raise SpecError("is required (here or at the top level)", "network")
            spec = endpoint_spec(one)
        except SpecError as e:
            raise SpecError(e.msg, "endpoints[%d].%s" % (i, e.option))
        if spec.key in seen:
            raise SpecError("endpoint %s is listed twice (also endpoints[%d])" % (spec.key, seen[spec.key]),
                            "endpoints[%d].name" % i)
        seen[spec.key] = i
        specs.append(spec)
    return specs


def endpoint_spec(params: Params) -> EndpointSpec:
    name = check_name(params["name"], "name")
    network = check_name(params["network"], "network")
    sandbox, path = params.get("sandbox"), params.get("sandbox_path")
    if sandbox:
        check_name(sandbox, "sandbox")
    elif path:
        if not str(path).startswith("/"):
            raise SpecError("%r must be an absolute path, e.g. /proc/PID/ns/net" % path,
                            "sandbox_path")
    elif params["state"] == "present":
        raise SpecError("one of sandbox or sandbox_path is required", "sandbox")
    ifname = params.get("ifname")
    if ifname is not None:
        check_ifname(ifname, "ifname")
    addr = parse_address(params.get("ipv4_address"), "ipv4_address")
    addr6 = parse_address(params.get("ipv6_address"), "ipv6_address", versions=(6,))
    aliases = []
    for i, alias in enumerate(params.get("aliases") or []):
        aliases.append(check_hostname(alias, "aliases[%d]" % i))
    return EndpointSpec(
        name=name, network=network, sandbox=sandbox, sandbox_path=path, ifname=ifname,
        ipv4_address=str(addr) if addr else None,
        mac_address=parse_mac(params.get("mac_address"), "mac_address"),
        default_route=params.get("default_route"),
        aliases=tuple(aliases), publish=parse_publish(params.get("publish")),
        state=params["state"], ipv6_address=str(addr6) if addr6 else None,
        sandbox_options=sandbox_options(params), sysctls=parse_sysctls(params.get("sysctls")),
        routes=parse_routes(params.get("routes")),
        default_route_metric=None if params.get("default_route_metric") is None else
        number(params["default_route_metric"], "default_route_metric", 0, U32_MAX),
        bandwidth=parse_bandwidth(params.get("bandwidth")), cni_chain=parse_cni_chain(params.get("cni_chain")))


def parse_cni_chain(value: Optional[Mapping[str, Any]], option: str = "cni_chain") -> Optional[Dict[str, Any]]:
    """An endpoint's chain of CNI plugins: {plugins, cni_version, path}, checked (cni.py), or None."""
    if not value:
        return None
    return {"plugins": list(cni.check_plugins(value.get("plugins"), option + ".plugins")),
            "cni_version": value.get("cni_version") or cni.VERSIONS[0],
            "path": list(cni.check_path(value.get("path"), option + ".path"))}


def parse_cni_ipam(value: Optional[Mapping[str, Any]], option: str = "cni_ipam") -> Optional[Dict[str, Any]]:
    """A network's CNI IPAM plugin: {plugin, cni_version, path}, checked (its presence on the path is
    cni_ipam.check's to judge), or None."""
    if not value:
        return None
    path = list(cni.check_path(value.get("path"), option + ".path"))
    plugin = value.get("plugin")
    if not isinstance(plugin, dict) or not plugin:
        raise SpecError("needs the IPAM plugin's configuration, with its type (dhcp, for one)", option + ".plugin")
    kind = plugin.get("type")
    if not isinstance(kind, str) or not cni.TYPE.match(kind):
        raise SpecError("%r is not a plugin name: a plugin is an executable named by its type, found on the CNI path"
                        % (kind,), option + ".plugin.type")
    try:
        plugin = json.loads(json.dumps(plugin))  # plain JSON data, a copy of its own
    except (TypeError, ValueError) as e:
        raise SpecError("cannot be written as JSON: %s" % e, option + ".plugin")
    return {"plugin": plugin, "cni_version": value.get("cni_version") or cni.VERSIONS[0], "path": path}


def sandbox_options(params: Params) -> Tuple[Tuple[SandboxOption, Any], ...]:
    """The sandbox's resolver and hosts-file options an endpoint gives, validated: pairs of
    (option, value) for those given (an empty list or dict is not given)."""
    out: List[Tuple[SandboxOption, Any]] = []
    servers = [str(parse_address(v, "dns[%d]" % i, versions=(4, 6))) for i, v in enumerate(params.get("dns") or [])]
    if servers:
        out.append(("dns", servers))
    search = [check_hostname(v, "dns_search[%d]" % i) for i, v in enumerate(params.get("dns_search") or [])]
    if search:
        out.append(("dns_search", search))
    options = []
    for i, v in enumerate(params.get("dns_options") or []):
        text = str(v).strip()
        if not text or not text.isascii() or not text.isprintable() or any(c.isspace() for c in text):
            raise SpecError("%r is not a resolver option (one word, such as ndots:2 or edns0)" % (v,),
                            "dns_options[%d]" % i)
        options.append(text)
    if options:
        out.append(("dns_options", options))
    hosts = dict((check_hostname(k, "extra_hosts"), str(parse_address(v, "extra_hosts.%s" % k, versions=(4, 6))))
                 for k, v in sorted((params.get("extra_hosts") or {}).items()))
    if hosts:
        out.append(("extra_hosts", hosts))
    return tuple(out)


HOSTNAME_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def check_hostname(value: Any, option: str) -> str:
    """A host name as RFC 1123 writes it (ASCII letters, digits and '-', in labels of at most 63
    characters that neither start nor end with '-'), and '_', which Docker's names allow. An
    internationalized name is given in its ASCII form (``xn--``), as DNS carries it."""
    text = str(value)
    if not 0 < len(text) <= 253 or not all(HOSTNAME_LABEL.fullmatch(label) for label in text.split(".")):
        hint = " (write an internationalized name in its ASCII form, xn--...)" if not text.isascii() else ""
        raise SpecError("%r is not a valid host name: use labels of ASCII letters, digits, '-' and '_', "
                        "separated by dots%s" % (value, hint), option)
    return text


# --- overlay peers ----------------------------------------------------------------

@dataclass(frozen=True)
class PeerSpec:
    """A remote VTEP and the endpoints behind it, each as a record dict (name, ip, mac, aliases)."""
    vtep: str
    endpoints: Tuple[RemoteEndpointRecord, ...]
    host_address: Optional[str] = None  # the remote host's own address on the network


@dataclass(frozen=True)
class PeersSpec:
    network: str
    peers: Optional[Tuple[PeerSpec, ...]]  # None: not given (with state: absent, every peer)
    exclusive: bool
    state: str
    encryption_keys: Optional[Tuple[str, ...]] = None  # as given; the driver reads them
    encryption_stage: str = "complete"


def _unique_address(value: Any, option: str, seen: Dict[str, str], versions: Sequence[int] = (4,)) -> str:
    """An address not listed before in ``seen`` ({address: option})."""
    addr = parse_address(value, option, versions)
    if str(addr) in seen:
        raise SpecError("%s is listed twice (also %s)" % (addr, seen[str(addr)]), option)
    seen[str(addr)] = option
    return str(addr)


def peers_spec(params: Params) -> PeersSpec:
    network = check_name(params["network"], "network")
    given = params.get("peers")
    peers: List[PeerSpec] = []
    vteps: Dict[str, str] = {}
    ips: Dict[str, str] = {}
    hostnames: Dict[str, str] = {}
    for i, item in enumerate(given or []):
        where = "peers[%d]" % i
        vtep = _unique_address(item.get("vtep"), where + ".vtep", vteps)
        endpoints: List[RemoteEndpointRecord] = []
        for j, ep in enumerate(item.get("endpoints") or []):
            at = "%s.endpoints[%d]" % (where, j)
            name = check_name(ep.get("name"), at + ".name")
            ip = _unique_address(ep.get("ip"), at + ".ip", ips, versions=(4, 6))
            aliases = [check_hostname(a, "%s.aliases[%d]" % (at, k)) for k, a in enumerate(ep.get("aliases") or [])]
            for hostname in [name] + aliases:
                if hostname in hostnames and hostnames[hostname] != ip:
                    raise SpecError("%r names two addresses (%s and %s)" % (hostname, hostnames[hostname], ip),
                                    at + ".name")
                hostnames[hostname] = ip
            endpoint: RemoteEndpointRecord = {
                "name": name, "ip": ip, "mac": parse_mac(ep.get("mac"), at + ".mac") or names.mac_from_address(ip),
                "aliases": aliases}
            if ep.get("ip6"):
                endpoint["ip6"] = _unique_address(ep["ip6"], at + ".ip6", ips, versions=(6,))
            endpoints.append(endpoint)
        host_address = None
        if item.get("host_address"):
            host_address = _unique_address(item["host_address"], where + ".host_address", ips, versions=(4, 6))
        peers.append(PeerSpec(vtep=vtep, endpoints=tuple(endpoints), host_address=host_address))
    if params.get("exclusive") and params["state"] == "absent":
        raise SpecError("is only used with state: present", "exclusive")
    keys = params.get("encryption_keys")
    return PeersSpec(network=network, peers=tuple(peers) if given is not None else None,
                     exclusive=bool(params.get("exclusive")), state=params["state"],
                     encryption_keys=tuple(keys) if keys is not None else None,
                     encryption_stage=params.get("encryption_stage") or "complete")


# --- services -------------------------------------------------------------------------

@dataclass(frozen=True)
class ServiceSpec:
    name: str
    network: str
    vip: Optional[str]
    ports: Tuple[Tuple[Tuple[str, object], ...], ...]  # each port as sorted (key, value) pairs
    endpoints: Tuple[str, ...]
    aliases: Tuple[str, ...]
    state: str


def service_spec(params: Params) -> ServiceSpec:
    name = check_hostname(check_name(params["name"], "name"), "name")
    network = check_name(params["network"], "network")
    vip = parse_address(params.get("vip"), "vip")
    ports: List[Tuple[Tuple[str, object], ...]] = []
    seen: Dict[Tuple[object, ...], int] = {}
    for i, item in enumerate(params.get("ports") or []):
        where = "ports[%d]" % i
        port = number(item.get("port"), where + ".port", 1, 65535)
        target = number(item.get("target_port") or port, where + ".target_port", 1, 65535)
        protocol = item.get("protocol") or "tcp"
        if (port, protocol) in seen:
            raise SpecError("%d/%s is listed twice (also ports[%d])" % (port, protocol, seen[(port, protocol)]),
                            where + ".port")
        seen[(port, protocol)] = i
        entry: Dict[str, object] = {"port": port, "target_port": target, "protocol": protocol}
        if item.get("published") is not None:
            published = number(item["published"], where + ".published", 1, 65535)
            if ("published", published, protocol) in seen:
                raise SpecError("%d/%s is published twice" % (published, protocol), where + ".published")
            seen[("published", published, protocol)] = i
            entry["published"] = published
        ports.append(tuple(sorted(entry.items())))
    if params["state"] == "present" and not ports:
        raise SpecError("a service needs at least one port", "ports")
    endpoints = []
    for i, ep in enumerate(params.get("endpoints") or []):
        endpoints.append(check_name(ep, "endpoints[%d]" % i))
        if endpoints[-1] in endpoints[:-1]:
            raise SpecError("%r is listed twice" % ep, "endpoints[%d]" % i)
    aliases = tuple(check_hostname(a, "aliases[%d]" % i) for i, a in enumerate(params.get("aliases") or []))
    return ServiceSpec(name=name, network=network, vip=str(vip) if vip else None, ports=tuple(ports),
                       endpoints=tuple(endpoints), aliases=aliases, state=params["state"])
