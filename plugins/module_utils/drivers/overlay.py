# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The overlay driver: a bridge network whose bridge also holds a VXLAN device.

Endpoints join exactly as on a bridge network. The VXLAN device has learning off
and answers ARP from its own neighbour table (proxy), so the only way a frame
reaches another host is through the static entries ``peer_changes`` programs from
the inventory: per remote VTEP a flood entry (all-zero MAC), per remote endpoint a
forwarding entry (MAC -> VTEP) and an ARP entry (IP -> MAC). As flannel and Calico
do it: no multicast, no learning.

Every host's bridge carries the network's gateway address (one anycast gateway per
host). ARP requests never cross the overlay (the proxy answers or drops them), so
each sandbox reaches the outside through its own host, masqueraded there.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from typing import Any, Callable, ClassVar, Dict, Iterable, List, Mapping, Optional, Set, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils import names
from ansible_collections.cnm.fabric.plugins.module_utils.drivers import esp, inner
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import (
    FirewallPart, ObserveRequest, Observed, Part, Peers)
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.bridge import BridgeDriver, BridgePart, bridge_options, \
    bridge_record
from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError, SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.model import Link, NsView, ZERO_MAC
from ansible_collections.cnm.fabric.plugins.module_utils.plan import Change, change
from ansible_collections.cnm.fabric.plugins.module_utils.records import EndpointRecord, NetworkRecord, RemoteEndpointRecord
from ansible_collections.cnm.fabric.plugins.module_utils.spec import (
    EndpointSpec, NetworkSpec, Params, PeersSpec, by_family, check_ifname, check_in_subnet, number, parse_address,
    parse_subnet)

VNI_MAX = 16777215
VXLAN_PORT = 4789
VXLAN_OVERHEAD = 50  # outer Ethernet, IPv4, UDP and VXLAN headers
EMBED_PREFIX = 96  # an IPv6 subnet of this length or shorter has room for an IPv4 address


def embedded_ipv6(subnet6: str, ipv4: str) -> str:
    """An endpoint's default IPv6 address on a dual-stack overlay network: the subnet's prefix
    followed by the IPv4 address, so one fleet-wide IPv4 allocation makes both unique and
    every host works out its peers' addresses alike."""
    return str(ipaddress.ip_address(int(ipaddress.ip_network(subnet6).network_address) | int(ipaddress.ip_address(ipv4))))


@dataclass(frozen=True)
class OverlayPart(Part):
    """An overlay network's own fields beside its bridge's: ``overlay`` in its record and in
    cnm_network's result."""
    KEY: ClassVar[str] = "overlay"
    vni: int                           # the VXLAN network identifier, the same on every host
    vxlan_interface: str               # the VXLAN device, a port of the network's bridge
    local_ip: str                      # this host's VTEP: the address VXLAN is sent from
    underlay_interface: str            # the host interface that holds local_ip
    port: int = VXLAN_PORT             # the UDP port of VXLAN
    encrypted: bool = False            # VXLAN travels in IPsec ESP between the hosts
    host_address: Optional[str] = None  # this host's own address on the network, beside the gateway
    #: remote endpoints by the VTEP they are behind: [{name, ip, ip6, mac, aliases}] (cnm_overlay_peer's)
    peers: Dict[str, List[RemoteEndpointRecord]] = field(default_factory=dict)
    peer_hosts: Dict[str, str] = field(default_factory=dict)  # the other hosts' host_address, by VTEP


@dataclass(frozen=True)
class OverlayOptions:
    bridge: object  # bridge.BridgeOptions
    vni: int
    port: int = VXLAN_PORT
    local_ip: Optional[str] = None
    underlay_interface: Optional[str] = None
    encrypted: bool = False
    host_address: Optional[str] = None


def overlay_options(params: Params) -> Optional[OverlayOptions]:
    o, state = params.get("overlay") or {}, params["state"]
    if o.get("vni") is None:
        if state == "present":
            raise SpecError("is required with driver: overlay (1 to %d, the same on every host)" % VNI_MAX,
                            "overlay.vni")
        return None
    subnets = by_family(params.get("subnet"), "subnet")
    version = 4 if params.get("ipv4") is not False else 6  # of the addresses the hosts know endpoints by
    if version not in subnets and state == "present":
        raise SpecError("an overlay network's IPv%d subnet is required: every host must agree on it, so it comes "
                        "from the fleet pool (cnm.fabric.cnm_ipam_pool with space: fleet)" % version, "subnet")
    if params.get("ipv6") and version == 4 and state == "present":
        if 6 not in subnets:
            raise SpecError("an overlay network's IPv6 subnet is required with ipv6: true, the same on every "
                            "host, as its IPv4 one is", "subnet")
        subnet6 = parse_subnet(subnets[6][1], subnets[6][0], versions=(6,))
        if subnet6 is not None and subnet6.prefixlen > EMBED_PREFIX:
            raise SpecError("%s is too small for an overlay network: endpoints' IPv6 addresses embed their IPv4 "
                            "ones, so it must be a /%d or larger" % (subnets[6][1], EMBED_PREFIX), "subnet")
    underlay = o.get("underlay_interface")
    if underlay is not None:
        check_ifname(underlay, "overlay.underlay_interface")
    local = parse_address(o.get("local_ip"), "overlay.local_ip")
    host_address = parse_address(o.get("host_address"), "overlay.host_address", versions=(version,))
    if host_address is not None and state == "present":
        check_in_subnet(host_address, parse_subnet(subnets[version][1], subnets[version][0], versions=(version,)),
                        "overlay.host_address")
    bridge = bridge_options(params)
    given = params.get("bridge") or {}
    for option in ("gateway_mode", "gateway_mode_ipv6"):
        if given.get(option) not in (None, "nat", "nat-unprotected"):
            raise SpecError("%s is not for an overlay network, whose gateway is on every host: use nat or "
                            "nat-unprotected" % given[option], "bridge." + option)
    return OverlayOptions(bridge=bridge, vni=number(o["vni"], "overlay.vni", 1, VNI_MAX),
                          port=number(VXLAN_PORT if o.get("port") is None else o["port"], "overlay.port", 1, 65535),
                          local_ip=str(local) if local else None, underlay_interface=underlay,
                          encrypted=bool(o.get("encrypted")),
                          host_address=str(host_address) if host_address else None)


def underlay(view: NsView, o: OverlayOptions) -> Tuple[Link, str]:
    """(underlay interface, local address): as given, else the interface of the default route."""
    owner = dict((cidr.split("/")[0], name) for name, cidrs in view.addresses.items() for cidr in cidrs)
    if o.local_ip and o.local_ip not in owner:
        raise SpecError("%s is not an address of this host" % o.local_ip, "overlay.local_ip")
    name = o.underlay_interface or owner.get(o.local_ip)
    if name is None:
        link = view.link_by_index(view.default_dev) if view.default_dev else None
        if link is None:
            raise SpecError("this host has no default route to find its underlay by; give "
                            "overlay.local_ip or overlay.underlay_interface", "overlay.local_ip")
        name = link.name
    found = view.link(name)
    if found is None:
        raise SpecError("no interface named %r on this host" % name, "overlay.underlay_interface")
    if o.local_ip:
        return found, o.local_ip
    addresses = sorted(ip for ip in (ipaddress.ip_interface(c).ip for c in view.addresses.get(name, ())) if ip.version == 4)
    if not addresses:
        raise SpecError("%s has no IPv4 address to send VXLAN from; give overlay.local_ip" % name,
                        "overlay.local_ip")
    return found, str(addresses[0])


def _vxlan_matches(link: Link, o: OverlayPart, underlay_index: int) -> bool:
    info = link.vxlan
    return (info is not None and info.vni == o.vni and info.port == o.port and info.local == o.local_ip
            and info.underlay == underlay_index and not info.learning and info.proxy)


def wanted_entries(peers: Mapping[str, List[RemoteEndpointRecord]],
                   hosts: Optional[Mapping[str, str]] = None) -> Tuple[Set[Tuple[str, str]], Dict[str, str]]:
    """The forwarding and ARP entries that the recorded ``peers`` ({vtep: [endpoint]}) and the
    peers' own addresses on the network (``hosts``, {vtep: address}) need."""
    fdb: Set[Tuple[str, str]] = set()
    arp: Dict[str, str] = {}
    for vtep, address in (hosts or {}).items():
        fdb.add((names.mac_from_address(address), vtep))
        arp[address] = names.mac_from_address(address)
    for vtep, endpoints in peers.items():
        fdb.add((ZERO_MAC, vtep))
        for ep in endpoints:
            fdb.add((ep["mac"], vtep))
            arp[ep["ip"]] = ep["mac"]
            ip6 = ep.get("ip6")
            if ip6:
                arp[ip6] = ep["mac"]
    return fdb, arp


def entry_changes(network: NetworkRecord, fdb: Set[Tuple[Optional[str], Optional[str]]],
                  arp: Dict[Optional[str], Optional[str]]) -> List[Change]:
    """Changes that turn the device's entries ``fdb``/``arp`` into what the peers need:
    stale entries go first, so a MAC that moved to another VTEP is moved, not doubled."""
    o = OverlayPart.of(network)
    vx = o.vxlan_interface
    want_fdb, want_arp = wanted_entries(o.peers, o.peer_hosts)
    out: List[Change] = []
    for mac, vtep in sorted(fdb - want_fdb, key=lambda entry: (entry[0] or "", entry[1] or "")):  # None: not given
        out.append(change("remove %s -> %s from %s" % (mac, vtep, vx), "fdb_del", vx, mac, vtep))
    for ip in sorted(set(arp) - set(want_arp), key=lambda address: address or ""):
        out.append(change("remove neighbour %s from %s" % (ip, vx), "neigh_del", vx, ip))
    for mac, vtep in sorted(want_fdb - fdb):
        out.append(change("add %s -> %s to %s" % (mac, vtep, vx), "fdb_add", vx, mac, vtep))
    for ip, mac in sorted(want_arp.items()):
        if arp.get(ip) != mac:
            out.append(change("add neighbour %s -> %s to %s" % (ip, mac, vx), "neigh_set", vx, ip, mac))
    return out


class OverlayDriver(BridgeDriver):
    option_groups = ("bridge", "overlay")
    option_spec = {"overlay": dict(type="dict", options=dict(
        vni=dict(type="int"),
        port=dict(type="int", default=4789),
        local_ip=dict(type="str"),
        underlay_interface=dict(type="str"),
        encrypted=dict(type="bool", default=False),
        host_address=dict(type="str"),
    ))}
    network_parts = (BridgePart, OverlayPart)
    has_peers = True
    vrf = False  # its bridge holds the VXLAN device, and the fleet its gateway
    default_mtu = None  # the underlay's, less VXLAN's overhead
    scope = "fleet"

    def network_options(self, params: Dict[str, Any]) -> Any:
        return overlay_options(params)

    def network_record(self, spec: NetworkSpec, old: Optional[NetworkRecord], host_view: NsView, networks: Dict[str, NetworkRecord],
                       endpoints: List[EndpointRecord]) -> Dict[str, Any]:
        o = spec.options
        for name, net in sorted(networks.items()):
            if name != spec.name and net.get(OverlayPart.KEY) and OverlayPart.of(net).vni == o.vni:
                raise SpecError("VNI %d is already used by network %r on this host" % (o.vni, name), "overlay.vni")
        underlay_link, local_ip = underlay(host_view, o)
        underlay_name = underlay_link.name
        overhead = VXLAN_OVERHEAD + (esp.ESP_OVERHEAD if o.encrypted else 0)
        limit = underlay_link.mtu - overhead
        mtu = spec.mtu or limit
        if mtu > limit:
            raise SpecError("%d does not fit: the underlay %s has MTU %d and VXLAN%s takes %d bytes of it; use at "
                            "most %d" % (mtu, underlay_name, limit + overhead, " in ESP" if o.encrypted else "",
                                         overhead, limit), "mtu")
        was = OverlayPart.of(old) if old else None
        part = OverlayPart(vni=o.vni, port=o.port, local_ip=local_ip, underlay_interface=underlay_name,
                           vxlan_interface=names.vxlan_name(spec.name), encrypted=o.encrypted,
                           host_address=o.host_address, peers=was.peers if was else {},
                           peer_hosts=was.peer_hosts if was else {})
        if o.host_address:
            taken = dict((known_address(ep), "local endpoint %r" % ep["name"]) for ep in endpoints)
            taken.update((ep["ip"], "remote endpoint %r" % ep["name"]) for remote in part.peers.values()
                         for ep in remote)
            taken.update((ip, "the host address of VTEP %s" % vtep) for vtep, ip in part.peer_hosts.items())
            if o.host_address in taken:
                raise SpecError("%s is %s" % (o.host_address, taken[o.host_address]), "overlay.host_address")
        return dict(bridge_record(o.bridge, mtu, old, host_view), **{OverlayPart.KEY: part})

    def observe(self, record: NetworkRecord) -> ObserveRequest:
        base, o = BridgeDriver.observe(self, record), OverlayPart.of(record)
        return ObserveRequest(sysctls=base.sysctls, neighbours=(o.vxlan_interface,), xfrm=(esp.tag(o.vni),),
                              esp=esp.probe() if o.encrypted else "")

    def observe_removal(self, record: NetworkRecord) -> ObserveRequest:
        return ObserveRequest(xfrm=(esp.tag(OverlayPart.of(record).vni),))

    def _devices(self, record: NetworkRecord, host_view: NsView, observed: Observed) -> List[Change]:
        if observed.esp:
            raise KernelError("network %r is encrypted (overlay.encrypted), and this kernel cannot make IPsec ESP "
                              "security associations with AES-GCM: load module esp4 (and aes, gcm); ip xfrm said: %s"
                              % (record["name"], observed.esp))
        # The bridge's MAC address derives from host_address where it has one: the other hosts'
        # devices answer ARP for that address with it.
        out = BridgeDriver.create_network(self, record, host_view, observed)
        o = OverlayPart.of(record)
        vx, br, mtu = o.vxlan_interface, BridgePart.of(record).interface, record["mtu"]
        link, underlay = host_view.link(vx), host_view.link(o.underlay_interface)
        entries = observed.entries(vx)
        if underlay is None:  # gone since the network was made (at boot, not yet made by the host's configuration)
            raise KernelError("the underlay interface %s of network %r does not exist"
                              % (o.underlay_interface, record["name"]), "overlay.underlay_interface")
        if link is not None and link.kind != "vxlan":
            raise KernelError("%s exists and is not a VXLAN device; remove it" % vx)
        if link is None or not _vxlan_matches(link, o, underlay.index):
            if link is not None:  # settings a VXLAN device cannot change in place
                out.append(change("delete %s (its VNI, port or underlay changed)" % vx, "link_del", vx))
            out.append(change("create VXLAN %s (VNI %d, %s:%d via %s, mtu %d) on %s"
                              % (vx, o.vni, o.local_ip, o.port, o.underlay_interface, mtu, br),
                              "vxlan_add", vx, o.vni, o.port, o.local_ip, o.underlay_interface, mtu, br,
                              undo=("link_del", (vx,))))
            entries = (set(), {})
        else:
            bridge_link = host_view.link(br)
            if bridge_link is None or link.master != bridge_link.index:
                out.append(change("attach %s to %s" % (vx, br), "link_attach", vx, br))
            if link.mtu != mtu:
                out.append(change("set mtu %d on %s (was %d)" % (mtu, vx, link.mtu), "link_set", vx, mtu=mtu))
            if not link.up:
                out.append(change("set %s up" % vx, "link_set", vx, state="up"))
        return out + entry_changes(record, *entries)

    def create_network(self, record: NetworkRecord, host_view: NsView, observed: Observed) -> List[Change]:
        """The bridge (as the bridge driver makes it), its VXLAN device and the peers' entries.
        IPsec objects of peers that are gone (or of all, when the network is no longer
        encrypted) are removed; cnm_overlay_peer, which has the keys, makes them."""
        return self._devices(record, host_view, observed) + _ipsec(record["name"], OverlayPart.of(record), observed)

    def restore(self, record: NetworkRecord, host_view: NsView, observed: Observed, secret: Optional[Dict[str, Any]]) -> List[Change]:
        """With the keys cnm_overlay_peer kept, an encrypted network's SAs and policies too, at
        stage ``inbound``: every key decrypts, and an SA that still sends under a listed key goes
        on sending (a host in the middle of a rotation loses nothing); a new one sends under the
        first key, as after a reboot."""
        o = OverlayPart.of(record)
        if not (o.encrypted and secret):
            return self.create_network(record, host_view, observed)
        return self._devices(record, host_view, observed) + esp.changes(
            record["name"], o, esp.parse_keys(secret["keys"]), "inbound", observed.ipsec(esp.tag(o.vni)))

    def delete_network(self, record: NetworkRecord, host_view: NsView, networks: Iterable[NetworkRecord] = (),
                       observed: Optional[Observed] = None) -> List[Change]:
        o = OverlayPart.of(record)
        out = _ipsec(record["name"], replace(o, peers={}), observed or Observed())
        if host_view.link(o.vxlan_interface) is not None:
            out.append(change("delete VXLAN %s" % o.vxlan_interface, "link_del", o.vxlan_interface))
        return out + BridgeDriver.delete_network(self, record, host_view, networks)

    def owned_links(self, record: NetworkRecord) -> Set[str]:
        return {BridgePart.of(record).interface, OverlayPart.of(record).vxlan_interface}

    def host_address(self, record: NetworkRecord) -> Optional[str]:
        return OverlayPart.of(record).host_address

    def graph_devices(self, record: NetworkRecord) -> Tuple[Tuple[str, str], ...]:
        o = OverlayPart.of(record)
        return ((o.vxlan_interface, "VNI %d, %s" % (o.vni, o.local_ip)),)

    def fleet_identity(self, record: NetworkRecord) -> str:
        return "overlay %s, VNI %d" % (record["name"], OverlayPart.of(record).vni)

    def check_endpoint(self, network: NetworkRecord, spec: EndpointSpec, old: Optional[EndpointRecord],
                       others: Callable[[], List[EndpointRecord]]) -> None:
        """An overlay endpoint's address comes from the fleet pool, and no peer may hold it."""
        version = 4 if network.get("subnet") else 6  # of the address the other hosts know it by
        option = inner.ADDRESS_OPTION[version]
        address = (spec.ipv4_address if version == 4 else spec.ipv6_address) or \
            (inner.address_of(old, version) if old else None)
        if address is None:
            raise SpecError("endpoints of overlay network %r take their address from the fleet pool: give "
                            "%s (the cnm.fabric.overlay_network role allocates it)" % (network["name"], option),
                            option)
        address6 = address if version == 6 else spec.ipv6_address or self.default_ipv6_address(network, address)
        o = OverlayPart.of(network)
        hosts = dict((ip, "the host address of VTEP %s" % vtep) for vtep, ip in o.peer_hosts.items())
        if o.host_address:
            hosts[o.host_address] = "this host's address on the network (overlay.host_address)"
        if address in hosts:
            raise SpecError("%s (%s) is %s" % (address, spec.name, hosts[address]), option)
        for vtep, remote in sorted(o.peers.items()):
            for ep in remote:
                if ep["ip"] == address or ep["name"] == spec.name:
                    raise SpecError("%s (%s) is the remote endpoint %r behind VTEP %s"
                                    % (ep["ip"], spec.name, ep["name"], vtep), option)
                if address6 and ep.get("ip6") == address6:
                    raise SpecError("%s (%s) is the remote endpoint %r behind VTEP %s"
                                    % (address6, spec.name, ep["name"], vtep), "ipv6_address")

    def default_ipv6_address(self, network: NetworkRecord, ipv4_address: str) -> Optional[str]:
        subnet6 = network.get("ipv6_subnet")
        return embedded_ipv6(subnet6, ipv4_address) if network.get("ipv6") and subnet6 else None

    def merge_peers(self, network: NetworkRecord, spec: PeersSpec, local_endpoints: List[EndpointRecord]) -> Tuple[Part, ...]:
        """The peers after cnm_overlay_peer ``spec`` (PeersSpec), checked against the network
        and its local endpoints (records)."""
        _check_keys(network, spec)
        o = OverlayPart.of(network)
        peers, hosts = dict(o.peers), dict(o.peer_hosts)
        if spec.state == "absent":
            for vtep in [p.vtep for p in spec.peers] if spec.peers is not None else list(peers):
                peers.pop(vtep, None)
                hosts.pop(vtep, None)
            return (replace(o, peers=peers, peer_hosts=hosts),)
        if spec.exclusive:
            peers, hosts = {}, {}
        locals_ = dict((ep["name"], known_address(ep)) for ep in local_endpoints)
        locals6 = set(ep.get("ipv6_address") for ep in local_endpoints) - {None}
        subnet = ipaddress.ip_network(network.get("subnet") or network.get("ipv6_subnet") or "")
        gateway = network.get("gateway") if network.get("subnet") else network.get("ipv6_gateway")
        for i, peer in enumerate(spec.peers or ()):  # given with state present
            if peer.vtep == o.local_ip:
                raise SpecError("%s is this host's own VTEP" % peer.vtep, "peers[%d].vtep" % i)
            for j, ep in enumerate(peer.endpoints):
                at = "peers[%d].endpoints[%d].ip" % (i, j)
                check_in_subnet(parse_address(ep["ip"], at, versions=(subnet.version,)), subnet, at)
                ip6 = self._remote_ipv6(network, ep, at + "6", locals6)
                if ip6:
                    ep["ip6"] = ip6
                if ep["ip"] == gateway:
                    raise SpecError("%s is the gateway of network %r" % (ep["ip"], network["name"]), at)
                for name, address in sorted(locals_.items()):
                    if address == ep["ip"] or name == ep["name"]:
                        raise SpecError("%s (%s) is the local endpoint %r" % (ep["ip"], ep["name"], name), at)
            peers[peer.vtep] = sorted((ep.copy() for ep in peer.endpoints),
                                      key=lambda ep: ipaddress.ip_address(ep["ip"]))
            hosts.pop(peer.vtep, None)
            if peer.host_address:
                at = "peers[%d].host_address" % i
                check_in_subnet(ipaddress.ip_address(peer.host_address), subnet, at)
                if peer.host_address in (gateway, o.host_address) or \
                        peer.host_address in locals_.values():
                    raise SpecError("%s is the gateway, this host's address or a local endpoint's"
                                    % peer.host_address, at)
                hosts[peer.vtep] = peer.host_address
        seen: Dict[str, str] = {}
        for vtep, remote in sorted(peers.items()):
            for ep in remote:
                if seen.setdefault(ep["ip"], vtep) != vtep:
                    raise SpecError("%s is behind two VTEPs, %s and %s (one of them recorded earlier): list "
                                    "both peers, or set exclusive: true" % (ep["ip"], seen[ep["ip"]], vtep), "peers")
        for vtep, address in sorted(hosts.items()):
            if address in seen:
                raise SpecError("%s is the host address of VTEP %s and also taken behind VTEP %s"
                                % (address, vtep, seen[address]), "peers")
            seen[address] = vtep
        return (replace(o, peers=peers, peer_hosts=hosts),)

    def peers(self, network: NetworkRecord) -> Peers:
        o = OverlayPart.of(network)
        return Peers(o.peers, o.peer_hosts)

    def _remote_ipv6(self, network: NetworkRecord, ep: RemoteEndpointRecord, at: str,
                     locals6: Set[Optional[str]]) -> Optional[str]:
        """A remote endpoint's IPv6 address (None on a network without IPv6): as given, else
        embedded in the network's prefix like the local ones."""
        subnet6 = network.get("ipv6_subnet")
        if not network.get("ipv6") or not subnet6 or not network.get("subnet"):
            if ep.get("ip6"):
                raise SpecError("network %r has no IPv6 (it was made without ipv6: true)" % network["name"]
                                if network.get("subnet") else "network %r is IPv6-only: its endpoints' IPv6 address "
                                "is their ip" % network["name"], at)
            return None
        address = ep.get("ip6") or embedded_ipv6(subnet6, ep["ip"])
        check_in_subnet(ipaddress.ip_address(address), ipaddress.ip_network(subnet6), at)
        if address in locals6 or address == network.get("ipv6_gateway"):
            raise SpecError("%s (%s) is the gateway or a local endpoint" % (address, ep["name"]), at)
        return address

    def peer_changes(self, network: NetworkRecord, host_view: NsView, observed: Observed, spec: PeersSpec) -> List[Change]:
        o = OverlayPart.of(network)
        vx = o.vxlan_interface
        if host_view.link(vx) is None:
            raise KernelError("the VXLAN device %s of network %r is missing; run cnm.fabric.cnm_network to repair "
                              "it" % (vx, network["name"]))
        keys = esp.parse_keys(spec.encryption_keys) if spec.encryption_keys is not None else None
        return esp.changes(network["name"], o, keys, spec.encryption_stage, observed.ipsec(esp.tag(o.vni))) + \
            entry_changes(network, *observed.entries(vx))

    def firewall(self, network: NetworkRecord) -> FirewallPart:
        part, o = BridgeDriver.firewall(self, network), OverlayPart.of(network)
        if not o.encrypted:
            return part
        drop, mark = esp.firewall_rules(o)
        return replace(part, input=drop, mark=mark)


def known_address(endpoint: EndpointRecord) -> str:
    """The address other hosts know a local endpoint by (its peers' ``ip``): its IPv4 one, or on an
    IPv6-only network its IPv6 one."""
    return endpoint.get("ipv4_address") or endpoint.get("ipv6_address") or ""


def _ipsec(name: str, o: OverlayPart, observed: Observed) -> List[Change]:
    """Removal of the IPsec objects of peers that are gone, or of every one when network
    ``name`` (its OverlayPart ``o``) is not (or no longer) encrypted: what needs no key."""
    return esp.changes(name, o, None, "complete", observed.ipsec(esp.tag(o.vni)))


def _check_keys(network: NetworkRecord, spec: PeersSpec) -> None:
    """Keys are given exactly when the network is encrypted and peers are added."""
    encrypted = OverlayPart.of(network).encrypted
    if spec.encryption_keys is not None and not encrypted:
        raise SpecError("network %r is not encrypted (overlay.encrypted): it takes no keys" % network["name"],
                        "encryption_keys")
    if encrypted and spec.state == "present":
        if spec.encryption_keys is None:
            raise SpecError("network %r is encrypted (overlay.encrypted): give its keys, the same list on every "
                            "host" % network["name"], "encryption_keys")
        esp.parse_keys(spec.encryption_keys)


DRIVER = OverlayDriver()
