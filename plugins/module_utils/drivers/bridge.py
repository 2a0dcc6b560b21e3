# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bridge driver: a Linux bridge per network, a veth pair per endpoint.

Its plans compare what is wanted with a snapshot and return only the Changes that
differ, so a second run plans nothing and an option changes in place.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, ClassVar, Dict, Iterable, List, Mapping, Optional, Set, Tuple, Type

from ansible_collections.cnm.fabric.plugins.module_utils import names
from ansible_collections.cnm.fabric.plugins.module_utils.drivers import inner
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import (
    Driver, FirewallPart, ObserveRequest, Observed, Part)
from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError, SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.model import NsView
from ansible_collections.cnm.fabric.plugins.module_utils.plan import Change, change
from ansible_collections.cnm.fabric.plugins.module_utils.records import EndpointRecord, NetworkRecord
from ansible_collections.cnm.fabric.plugins.module_utils.spec import NetworkSpec, Params, check_ifname, parse_host_ip

IP_FORWARD = "net/ipv4/ip_forward"
IPV6_FORWARD = "net/ipv6/conf/all/forwarding"


def route_localnet(interface: str) -> str:
    # Lets the host reach published ports on 127.0.0.1: DNAT to a container sends a
    # packet with a loopback source out of the bridge (the firewall drops the reverse).
    return "net/ipv4/conf/%s/route_localnet" % interface


GATEWAY_MODES = ("nat", "nat-unprotected", "routed", "isolated")


@dataclass(frozen=True)
class BridgePart(Part):
    """A bridge network's own fields: ``bridge`` in its record and in cnm_network's result
    (an overlay network has them too)."""
    KEY: ClassVar[str] = "bridge"
    interface: str                  # the bridge's name
    icc: bool = True                # endpoints of the network may reach one another
    masquerade: bool = True         # IPv4 traffic leaving the host is masqueraded
    masquerade_ipv6: bool = True    # IPv6 traffic leaving the host is masqueraded (NAT66)
    host_binding_ip: str = "0.0.0.0"  # the address published ports listen on when they name none
    hairpin: bool = False           # frames may go back out of the port they came in by
    adopted: bool = False           # the bridge was there before the network, and stays after it
    gateway_mode: str = "nat"       # how IPv4 traffic crosses the gateway (GATEWAY_MODES)
    gateway_mode_ipv6: str = "nat"  # the same for IPv6
    trusted_host_interfaces: Tuple[str, ...] = ()  # host interfaces that reach endpoints directly

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> BridgePart:
        part = dict(record[cls.KEY])
        part["trusted_host_interfaces"] = tuple(part.get("trusted_host_interfaces") or ())
        return cls(**part)

    def json(self) -> Dict[str, Any]:
        return dict(Part.json(self), trusted_host_interfaces=list(self.trusted_host_interfaces))


@dataclass(frozen=True)
class VethPart(Part):
    """An endpoint's veth pair, as far as the host sees it: ``veth`` in its record and in
    cnm_endpoint's result."""
    KEY: ClassVar[str] = "veth"
    host_interface: str  # the pair's end on the host, a port of the network's bridge

    def host_links(self) -> Set[str]:
        return {self.host_interface}


def gateway_cidrs(network: NetworkRecord, host_address: Optional[str] = None) -> Set[str]:
    """The bridge's addresses: the gateway of each family the network has (none for a family in
    gateway mode ``isolated``), and ``host_address``, the host's own address on the network
    when it has one (an overlay's)."""
    out = set()
    for gateway, subnet in ((network.get("gateway"), network.get("subnet")),
                            (network.get("ipv6_gateway"), network.get("ipv6_subnet"))):
        if gateway and subnet:
            out.add("%s/%d" % (gateway, ipaddress.ip_network(subnet).prefixlen))
    if host_address:
        out.add(host_address + ("/128" if ":" in host_address else "/32"))
    return out


def bridge_mac(network: NetworkRecord, b: BridgePart, host_address: Optional[str] = None) -> Optional[str]:
    """The bridge's own MAC address, derived from its address on the network (``host_address``,
    the host's own on an overlay that has one, else the gateway) as endpoints' are from theirs;
    None for an adopted bridge, whose address is its owner's business. Without one, a bridge
    takes the lowest MAC of its ports, and changes it as they come and go: neighbours then hold
    a stale entry for the gateway."""
    if b.adopted:
        return None
    # An IPv6-only network's derives from its IPv6 addresses, as its endpoints' MACs do. An isolated
    # network's bridge has no address: its subnet's own, which no endpoint takes, stands in.
    gateway, subnet = (network.get("gateway"), network.get("subnet")) if network.get("subnet") else \
        (network.get("ipv6_gateway"), network.get("ipv6_subnet"))
    return names.mac_from_address(host_address or gateway or ipaddress.ip_network(subnet or "").network_address)


def create_bridge(network: NetworkRecord, view: NsView, sysctls: Mapping[str, Optional[str]],
                  host_address: Optional[str] = None) -> List[Change]:
    """Make or update the bridge of ``network`` (the record as it should be)."""
    b = BridgePart.of(network)
    br, mtu, cidrs, mac = b.interface, network["mtu"], gateway_cidrs(network, host_address), \
        bridge_mac(network, b, host_address)
    link = view.link(br)
    out: List[Change] = []
    if link is None:
        out.append(change("create bridge %s (mtu %d%s)" % (br, mtu, ", " + mac if mac else ""), "link_add", "bridge", br,
                          mtu=mtu, mac=mac, undo=("link_del", (br,))))
        out += inner.ipv6_setting(network, br, None)
        out += [change("add %s to %s" % (cidr, br), "addr_add", br, cidr) for cidr in sorted(cidrs)]
    else:
        if link.kind != "bridge":
            raise KernelError("%s exists and is not a bridge; choose another bridge.name" % br,
                              "bridge.name")
        if link.mtu != mtu:
            out.append(change("set mtu %d on %s (was %d)" % (mtu, br, link.mtu), "link_set", br,
                              mtu=mtu))
        if mac and link.mac != mac:
            out.append(change("set mac %s on %s (was %s)" % (mac, br, link.mac), "link_set", br, address=mac))
        if not link.up:
            out.append(change("set %s up" % br, "link_set", br, state="up"))
        out += inner.ipv6_setting(network, br, link)
        # Stale addresses go first: removing a primary address takes the
        # secondaries of its subnet with it. An adopted bridge's other addresses are not ours.
        have = view.addresses.get(br, set())
        for stale in sorted(have - cidrs if not b.adopted else ()):
            out.append(change("remove %s from %s" % (stale, br), "addr_del", br, stale))
        for cidr in sorted(cidrs - have):
            out.append(change("add %s to %s" % (cidr, br), "addr_add", br, cidr))
    for key, value in forwarding_sysctls(network).items():
        if sysctls.get(key) != str(value):
            out.append(change("set %s = %d" % (key, value), "sysctl_set", key, value))
    return out


def forwarding_sysctls(network: NetworkRecord) -> Dict[str, int]:
    """The sysctls a bridge network needs, with their values: route_localnet on its bridge; loose
    reverse-path filtering there (2), so that a sandbox's reply to a connection that came through
    another of its networks, which leaves by its default route, is not dropped on a host with
    strict filtering (the ``inet`` table checks the source of new connections instead: firewall.py);
    and packet forwarding of each family it routes (not for an internal network)."""
    interface = BridgePart.of(network).interface
    out = {route_localnet(interface): 1, rp_filter(interface): 2}
    if not network["internal"]:
        if network.get("subnet"):
            out[IP_FORWARD] = 1
        if network.get("ipv6"):
            out[IPV6_FORWARD] = 1
    return out


def rp_filter(interface: str) -> str:
    return "net/ipv4/conf/%s/rp_filter" % interface


def delete_bridge(network: NetworkRecord, view: NsView, host_address: Optional[str] = None) -> List[Change]:
    """The bridge goes, unless it was adopted: then only the addresses the network put on it go."""
    b = BridgePart.of(network)
    br = b.interface
    if view.link(br) is None:
        return []
    if b.adopted:
        mine = gateway_cidrs(network, host_address) & view.addresses.get(br, set())
        return [change("remove %s from %s (an adopted bridge stays)" % (cidr, br), "addr_del", br, cidr)
                for cidr in sorted(mine)]
    return [change("delete bridge %s" % br, "link_del", br)]


def adopted(b: BridgeOptions, old: Optional[NetworkRecord], view: NsView) -> bool:
    """Whether the network's bridge (BridgeOptions ``b``) is one the collection did not make. A bridge
    that exists with no record of this state_dir naming it is someone else's (a user's, or another
    state_dir's): it is taken only with ``bridge.adopt``, and then never deleted."""
    link = view.link(b.interface)
    was = BridgePart.of(old) if old is not None else None
    if was is not None and was.interface == b.interface:
        return was.adopted and link is not None  # one made again after it vanished is ours
    if link is None:
        return False
    if not b.adopt:
        raise SpecError("%s already exists and this state_dir did not make it; set bridge.adopt: true to use it "
                        "(an adopted bridge is never deleted, and only the addresses the network adds are removed)"
                        % b.interface, "bridge.name")
    if link.kind != "bridge":
        raise SpecError("%s exists and is not a bridge; choose another bridge.name" % b.interface, "bridge.name")
    return True


def join_veth(network: NetworkRecord, endpoint: EndpointRecord, old: Optional[EndpointRecord], host_view: NsView,
              sandbox_view: Optional[NsView]) -> List[Change]:
    """Make or update ``endpoint``'s veth pair and its addressing inside the sandbox.

    ``old`` is the endpoint's previous record (None when new): it tells the inner
    interface's former name. ``sandbox_view`` is None when the sandbox is to be made.
    """
    veth, ifname, ns = VethPart.of(endpoint).host_interface, inner.ifname_of(endpoint), endpoint["sandbox"]
    b = BridgePart.of(network)
    br, mtu, gateway = b.interface, network["mtu"], network.get("gateway")
    addresses, mac = inner.cidrs(network, endpoint), endpoint["mac_address"]
    routing = _routing(network, endpoint)
    current = inner.current_name(endpoint, old)
    host = host_view.link(veth)
    link = sandbox_view.link(current) if sandbox_view else None
    hairpin = b.hairpin
    out: List[Change] = []

    if host is None or link is None or sandbox_view is None or host.kind != "veth" or link.kind != "veth":
        # New, or half of it is gone (drift): make the pair again from scratch.
        ours = link is not None and link.kind == "veth" and old is not None
        if host is not None:  # its peer, if any, goes with it
            out.append(change("delete the broken half %s" % veth, "link_del", veth))
        elif ours:
            out.append(change("delete the broken half %s in %s" % (current, ns), "link_del", current, ns))
        if not (ours and current == ifname):
            inner.check_free(sandbox_view, ifname, ns)
        out.append(change("create veth %s <-> %s in %s (mtu %d, %s)" % (veth, ifname, ns, mtu, mac),
                          "veth_add", veth, ifname, ns, mtu, mac, br, undo=("link_del", (veth,))))
        out += inner.ipv6_setting(network, veth, None, port=True) + inner.ipv6_setting(network, ifname, None, ns)
        if hairpin:
            out.append(change("set hairpin on %s" % veth, "hairpin_set", veth, True))
        return out + inner.new_link(routing, addresses, gateway, network.get("ipv6_gateway"))

    out += inner.rename(endpoint, current, sandbox_view)
    lost = bool(out) or not link.up  # taking a link down flushes the routes through it
    bridge_link = host_view.link(br)
    if bridge_link is None or host.master != bridge_link.index:
        out.append(change("attach %s to %s" % (veth, br), "link_attach", veth, br))
    if host.mtu != mtu:
        out.append(change("set mtu %d on %s" % (mtu, veth), "link_set", veth, mtu=mtu))
    if link.mtu != mtu:
        out.append(change("set mtu %d on %s in %s" % (mtu, ifname, ns), "link_set", ifname, ns, mtu=mtu))
    if not host.up:
        out.append(change("set %s up" % veth, "link_set", veth, state="up"))
    if not link.up:
        out.append(change("set %s up in %s" % (ifname, ns), "link_set", ifname, ns, state="up"))
    out += inner.ipv6_setting(network, veth, host, port=True) + inner.ipv6_setting(network, ifname, link, ns)
    changes, flushed = inner.addressing(endpoint, link, sandbox_view.addresses.get(current, set()), addresses)
    out += changes
    if bool(host.hairpin) != hairpin:
        out.append(change("set hairpin %s on %s" % ("on" if hairpin else "off", veth), "hairpin_set", veth, hairpin))
    return out + inner.default_route(routing, gateway, sandbox_view, lost or flushed, link.index,
                                     gateway6=network.get("ipv6_gateway"))


def _routing(network: NetworkRecord, endpoint: EndpointRecord) -> EndpointRecord:
    """The endpoint as its default routes see it: none through a family without a gateway (gateway
    mode ``isolated``, or no such family: None would mean an on-link route)."""
    out = endpoint.copy()
    if not network.get("gateway"):
        out["ipv4_address"] = None
    if not network.get("ipv6_gateway"):
        out["ipv6_address"] = None
    return out


def leave_veth(network: NetworkRecord, endpoint: EndpointRecord, host_view: NsView,
               sandbox_view: Optional[NsView]) -> List[Change]:
    veth, ifname, ns = VethPart.of(endpoint).host_interface, endpoint["ifname"], endpoint["sandbox"]
    if host_view.link(veth) is not None:
        return [change("delete veth %s (and %s in %s)" % (veth, ifname, ns), "link_del_batch", veth)]
    link = sandbox_view.link(ifname) if sandbox_view and ifname else None
    if link is not None and link.kind == "veth":
        return [change("delete %s in %s" % (ifname, ns), "link_del", ifname, ns)]
    return []


@dataclass(frozen=True)
class BridgeOptions:
    interface: str
    icc: bool = True
    masquerade: bool = True
    host_binding_ip: str = "0.0.0.0"
    hairpin: bool = False
    masquerade_ipv6: bool = True
    adopt: bool = False
    gateway_mode: str = "nat"
    gateway_mode_ipv6: str = "nat"
    trusted_host_interfaces: Tuple[str, ...] = ()


def bridge_options(params: Params) -> BridgeOptions:
    """cnm_network's ``bridge`` group, validated."""
    b = params.get("bridge") or {}
    interface = b.get("name") or names.bridge_name(params["name"])
    check_ifname(interface, "bridge.name")
    host_ip = parse_host_ip(b.get("host_binding_ip") or "0.0.0.0", "bridge.host_binding_ip")
    if host_ip is not None and host_ip.version == 6 and not params.get("ipv6"):
        raise SpecError("%s is an IPv6 address; set ipv6: true for a dual-stack network" % host_ip,
                        "bridge.host_binding_ip")
    if b.get("adopt") and params.get("vrf"):
        raise SpecError("an adopted bridge stays its owner's: put it in a VRF yourself", "vrf")
    masquerade6 = b.get("masquerade_ipv6", True) is not False
    modes = []
    for option in ("gateway_mode", "gateway_mode_ipv6"):
        mode = b.get(option) or "nat"
        if mode not in GATEWAY_MODES:
            raise SpecError("%r is not a gateway mode; choose one of %s" % (mode, ", ".join(GATEWAY_MODES)),
                            "bridge." + option)
        modes.append(mode)
    trusted = tuple(check_ifname(name, "bridge.trusted_host_interfaces[%d]" % i)
                    for i, name in enumerate(b.get("trusted_host_interfaces") or []))
    return BridgeOptions(interface=interface, icc=b.get("icc", True) is not False,
                         masquerade=b.get("masquerade", True) is not False, host_binding_ip=str(host_ip),
                         hairpin=bool(b.get("hairpin")), masquerade_ipv6=masquerade6, adopt=bool(b.get("adopt")),
                         gateway_mode=modes[0], gateway_mode_ipv6=modes[1], trusted_host_interfaces=trusted)


def bridge_record(b: BridgeOptions, mtu: Optional[int], old: Optional[NetworkRecord], view: NsView) -> Dict[str, Any]:
    """The fields of a network record that BridgeOptions ``b`` and ``mtu`` decide (None: that of
    an adopted bridge, else the default), with the previous record ``old`` and the host's ``view``:
    ``mtu``, the bridge part, and no gateway for a family in gateway mode ``isolated`` (no address
    on the bridge, no default route, no way out)."""
    adopt = adopted(b, old, view)
    link = view.link(b.interface)
    if mtu is None:
        mtu = link.mtu if adopt and link is not None else Driver.default_mtu
    part = BridgePart(interface=b.interface, icc=b.icc, masquerade=b.masquerade, masquerade_ipv6=b.masquerade_ipv6,
                      host_binding_ip=b.host_binding_ip, hairpin=b.hairpin, adopted=adopt,
                      gateway_mode=b.gateway_mode, gateway_mode_ipv6=b.gateway_mode_ipv6,
                      trusted_host_interfaces=b.trusted_host_interfaces)
    out: Dict[str, Any] = {"mtu": mtu, BridgePart.KEY: part}
    if b.gateway_mode == "isolated":
        out["gateway"] = None
    if b.gateway_mode_ipv6 == "isolated":
        out["ipv6_gateway"] = None
    return out


class BridgeDriver(Driver):
    option_groups: Tuple[str, ...] = ("bridge",)
    option_spec = {"bridge": dict(type="dict", options=dict(
        name=dict(type="str"),
        icc=dict(type="bool", default=True),
        masquerade=dict(type="bool", default=True),
        host_binding_ip=dict(type="str", default="0.0.0.0"),
        hairpin=dict(type="bool", default=False),
        masquerade_ipv6=dict(type="bool", default=True),
        adopt=dict(type="bool", default=False),
        gateway_mode=dict(type="str", choices=list(GATEWAY_MODES), default="nat"),
        gateway_mode_ipv6=dict(type="str", choices=list(GATEWAY_MODES), default="nat"),
        trusted_host_interfaces=dict(type="list", elements="str", default=[]),
    ))}
    network_parts: Tuple[Type[Part], ...] = (BridgePart,)
    endpoint_parts: Tuple[Type[Part], ...] = (VethPart,)
    endpoint_options = ("ifname", "ipv4_address", "ipv6_address", "mac_address", "default_route", "default_route_metric",
                        "routes", "bandwidth", "aliases", "publish")
    ipam = True
    ipv6 = True
    vrf = True

    def network_options(self, params: Dict[str, Any]) -> Any:
        return bridge_options(params)

    def network_record(self, spec: NetworkSpec, old: Optional[NetworkRecord], host_view: NsView, networks: Dict[str, NetworkRecord],
                       endpoints: List[EndpointRecord]) -> Dict[str, Any]:
        return bridge_record(spec.options, spec.mtu, old, host_view)

    def replaces(self, old: NetworkRecord, record: NetworkRecord) -> Optional[str]:
        was, now = BridgePart.of(old), BridgePart.of(record)
        if was.interface != now.interface:
            return "bridge.name"
        # An adopted bridge keeps addresses that are not the network's: the old ones are taken off first.
        changed = gateway_cidrs(old, self.host_address(old)) != gateway_cidrs(record, self.host_address(record))
        return "subnet" if now.adopted and changed else None

    def rejoin(self, old: NetworkRecord, record: NetworkRecord) -> bool:
        return BridgePart.of(old).hairpin != BridgePart.of(record).hairpin or \
            any(old.get(k) != record.get(k) for k in ("mtu", "gateway", "ipv6_gateway"))

    def observe(self, record: NetworkRecord) -> ObserveRequest:
        return ObserveRequest(sysctls=tuple(forwarding_sysctls(record)))

    def create_network(self, record: NetworkRecord, host_view: NsView, observed: Observed) -> List[Change]:
        return create_bridge(record, host_view, observed.sysctls, self.host_address(record))

    def delete_network(self, record: NetworkRecord, host_view: NsView, networks: Iterable[NetworkRecord] = (),
                       observed: Optional[Observed] = None) -> List[Change]:
        return delete_bridge(record, host_view, self.host_address(record))

    def owned_links(self, record: NetworkRecord) -> Set[str]:
        return {BridgePart.of(record).interface}

    def vrf_devices(self, record: NetworkRecord) -> Tuple[str, ...]:
        return (BridgePart.of(record).interface,)

    def host_device(self, record: NetworkRecord) -> Optional[str]:
        return BridgePart.of(record).interface

    def host_binding_ip(self, record: NetworkRecord) -> Optional[str]:
        return BridgePart.of(record).host_binding_ip

    def endpoint_record(self, network: NetworkRecord, name: str) -> Tuple[Part, ...]:
        return (VethPart(host_interface=names.veth_name(network["name"], name)),)

    def join(self, network: NetworkRecord, endpoint: EndpointRecord, old: Optional[EndpointRecord], host_view: NsView,
             sandbox_view: Optional[NsView]) -> List[Change]:
        return join_veth(network, endpoint, old, host_view, sandbox_view)

    def leave(self, network: NetworkRecord, endpoint: EndpointRecord, host_view: NsView, sandbox_view: Optional[NsView]) -> List[Change]:
        return leave_veth(network, endpoint, host_view, sandbox_view)

    def firewall(self, network: NetworkRecord) -> FirewallPart:
        b = BridgePart.of(network)
        return FirewallPart(interface=b.interface, subnet=network["subnet"], internal=network["internal"],
                            masquerade=b.masquerade, icc=b.icc, host_binding_ip=b.host_binding_ip,
                            subnet6=network.get("ipv6_subnet"), masquerade6=b.masquerade_ipv6,
                            modes=(b.gateway_mode, b.gateway_mode_ipv6), trusted=b.trusted_host_interfaces)


DRIVER = BridgeDriver()
