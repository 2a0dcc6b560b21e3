# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The macvlan driver: endpoints are macvlan links of a parent device, on its wire.

The parent is a host NIC, or an 802.1Q sub-interface ``IFACE.VID`` that the driver makes
(and removes with the last network using it) when it does not exist. With no parent the
network is internal: its parent is a bridge with no ports that the driver makes, so the
endpoints reach one another and nothing else (a port-less bridge is in every kernel that
has bridges; the dummy driver is not).

The gateway is the external router's address: each sandbox's default route goes via it,
and it is never put on the host. A host cannot reach its own macvlan endpoints through
the parent; ``host_access`` adds a macvlan of the parent on the host (a shim, in bridge
mode) with an address from the network's pool and a route to the network's range.

ipvlan.py reuses all of this; what differs is a class attribute or a hook.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, ClassVar, Dict, Iterable, List, Optional, Set, Tuple, Type, cast

from ansible_collections.cnm.fabric.plugins.module_utils import cni_ipam, names
from ansible_collections.cnm.fabric.plugins.module_utils.drivers import inner
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import (
    Driver, ObserveRequest, Observed, Part, set_parts)
from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError, SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.model import Link, NsView
from ansible_collections.cnm.fabric.plugins.module_utils.plan import Change, change
from ansible_collections.cnm.fabric.plugins.module_utils.records import EndpointRecord, NetworkRecord
from ansible_collections.cnm.fabric.plugins.module_utils.spec import EndpointSpec, NetworkSpec, check_ifname

VID_MIN, VID_MAX = 1, 4094
SHIM_OWNER = "@host_access"  # its pool address's owner: no endpoint name starts with "@"
MODULES = {"vlan": "8021q", "macvlan": "macvlan", "ipvlan": "ipvlan"}  # to load, when the kernel lacks a kind


@dataclass(frozen=True)
class MacvlanPart(Part):
    """A macvlan network's own fields: ``macvlan`` in its record and in cnm_network's result."""
    KEY: ClassVar[str] = "macvlan"
    parent: str                        # the host device the endpoints' links hang from
    mode: str                          # the links' mode
    parent_created: bool = False       # the collection made the parent (a VLAN, or an isolated bridge)
    host_access: bool = False          # the host reaches the endpoints through a shim
    shim: Optional[str] = None         # that shim, a link of the parent on the host
    shim_address: Optional[str] = None  # its address, from the network's pool


@dataclass(frozen=True)
class IpvlanPart(MacvlanPart):
    """An ipvlan network's own fields: ``ipvlan`` in its record and in cnm_network's result."""
    KEY: ClassVar[str] = "ipvlan"


def parent_part(network: NetworkRecord) -> Optional[MacvlanPart]:
    """The MacvlanPart (or IpvlanPart) of a network record, or None for a network of another driver."""
    return next((cls.of(network) for cls in (MacvlanPart, IpvlanPart) if cls.held_by(network)), None)


@dataclass(frozen=True)
class ParentOptions:
    parent: Optional[str]  # None: internal, on a parent of the driver's own
    lower: Optional[str]   # for IFACE.VID: IFACE
    vid: Optional[int]
    mode: str
    host_access: bool = False


def parse_parent(group: str, value: Optional[str]) -> Tuple[Optional[str], Optional[str], Optional[int]]:
    """``IFACE`` or ``IFACE.VID`` -> (parent, lower, vid)."""
    option = group + ".parent"
    if value is None:
        return None, None, None
    check_ifname(value, option)
    lower, dot, digits = value.rpartition(".")
    if not dot or not digits.isdigit() or not lower:
        return value, None, None
    vid = int(digits)
    if not VID_MIN <= vid <= VID_MAX:
        raise SpecError("VLAN ID %d of %s is out of range (%d to %d)" % (vid, value, VID_MIN, VID_MAX), option)
    return value, lower, vid


class MacvlanDriver(Driver):
    option_groups: Tuple[str, ...] = ("macvlan",)
    part = MacvlanPart
    network_parts: Tuple[Type[Part], ...] = (MacvlanPart,)
    endpoint_options: Tuple[str, ...] = ("ifname", "ipv4_address", "ipv6_address", "mac_address", "default_route",
                                         "default_route_metric", "routes", "aliases")
    endpoint_refusals = {"bandwidth": "a %s endpoint has no side on the host to shape: its link is a child of the "
                                      "parent, made whole in the sandbox; shape the parent, or the sandbox's own link "
                                      "from inside",
                         "publish": "a %s network has no NAT: its endpoints are on the parent's wire, "
                                    "so reach them at their own addresses"}
    ipam = True
    ipv6 = True
    vrf = True
    default_mtu = None  # the parent's
    kind = "macvlan"
    modes: Tuple[str, ...] = ("bridge", "vepa", "private", "passthru")
    option_spec = {"macvlan": dict(type="dict", options=dict(
        parent=dict(type="str"),
        mode=dict(type="str", choices=list(modes), default="bridge"),
        host_access=dict(type="bool", default=False),
    ))}
    default_mode = "bridge"
    ipam_plugin = True

    # -- input ---------------------------------------------------------------------------

    def network_options(self, params: Dict[str, Any]) -> Any:
        group = self.option_groups[0]
        g = params.get(group) or {}
        mode = g.get("mode") or self.default_mode
        if mode not in self.modes:
            raise SpecError("%r is not a %s mode; choose one of %s" % (mode, self.kind, ", ".join(self.modes)),
                            group + ".mode")
        parent, lower, vid = parse_parent(group, g.get("parent"))
        if parent is not None and params.get("internal"):
            raise SpecError("an internal network has no parent (the driver makes an isolated one); "
                            "leave out %s.parent" % group, "internal")
        host_access = bool(g.get("host_access"))
        if host_access and mode != "bridge":
            raise SpecError("the host reaches its endpoints through a shim in bridge mode, so the network's "
                            "mode must be bridge too (it is %s)" % mode, group + ".host_access")
        if host_access and params.get("ipv4") is False:
            raise SpecError("the host reaches the endpoints through a shim with an IPv4 address of the network, and "
                            "an IPv6-only network (ipv4: false) has none", group + ".host_access")
        if host_access and params.get("cni_ipam"):
            raise SpecError("the host reaches the endpoints through a shim with an address of the network's pool, and "
                            "a network with cni_ipam has none", group + ".host_access")
        return ParentOptions(parent=parent, lower=lower, vid=vid, mode=mode, host_access=host_access)

    # -- networks ------------------------------------------------------------------------

    def network_record(self, spec: NetworkSpec, old: Optional[NetworkRecord], host_view: NsView, networks: Dict[str, NetworkRecord],
                       endpoints: List[EndpointRecord]) -> Dict[str, Any]:
        o, group = spec.options, self.option_groups[0]
        internal = o.parent is None
        parent = o.parent or names.bridge_name(spec.name)
        link = host_view.link(parent)
        sharing = [(n, p) for n, p in ((n, parent_part(n)) for n in networks.values())
                   if p is not None and p.parent == parent and n["name"] != spec.name]
        other_kind = next((n for n, _p in sharing if n["driver"] != spec.driver), None)
        if other_kind is not None:
            raise SpecError("parent %s carries %s network %r, and the kernel lets a device carry macvlan or "
                            "ipvlan links, not both" % (parent, other_kind["driver"], other_kind["name"]),
                            group + ".parent")
        if link is None and o.vid is None and not internal:
            raise SpecError("parent %s does not exist on this host (an 802.1Q sub-interface is written "
                            "IFACE.VID, such as eth1.10)" % parent, group + ".parent")
        lower = host_view.link(o.lower) if o.lower else None
        if link is None and o.vid is not None and lower is None:
            raise SpecError("%s is not on this host, so %s cannot be made on it" % (o.lower, parent),
                            group + ".parent")
        if sharing and "passthru" in [o.mode] + [p.mode for _n, p in sharing]:
            raise SpecError("parent %s is used by network %r; a parent in passthru mode takes one network only"
                            % (parent, sharing[0][0]["name"]), group + ".mode")
        # Ours: made by this network, or by another that still uses it; never one found there.
        was = self.part.of(old) if old is not None else None
        created = (was is not None and was.parent == parent and was.parent_created) or \
            any(p.parent_created for _n, p in sharing) or link is None
        device = link or lower
        top = device.mtu if device is not None else 1500
        mtu = spec.mtu or top
        if not internal and mtu > top:
            raise SpecError("%d is above the MTU of parent %s (%d)" % (mtu, parent, top), "mtu")
        part = self.part(parent=parent, mode=o.mode, parent_created=bool(created), host_access=o.host_access,
                         shim=names.shim_name(spec.name) if o.host_access else None)
        record = {"mtu": mtu, "internal": internal, self.part.KEY: part}
        if internal:
            record.update(gateway=None, ipv6_gateway=None)  # no router on an isolated parent
        return record

    def replaces(self, old: NetworkRecord, record: NetworkRecord) -> Optional[str]:
        was, now = self.part.of(old), self.part.of(record)
        changed = [key for key in ("parent", "mode") if getattr(was, key) != getattr(now, key)]
        return "%s.%s" % (self.option_groups[0], changed[0]) if changed else None

    def rejoin(self, old: NetworkRecord, record: NetworkRecord) -> bool:
        return (old.get("mtu"), old.get("gateway")) != (record.get("mtu"), record.get("gateway"))

    def observe(self, record: NetworkRecord) -> ObserveRequest:
        made_vlan = self.part.of(record).parent_created and not record["internal"]
        return ObserveRequest(kinds=(self.kind, "vlan") if made_vlan else (self.kind,))

    def reserved_addresses(self, record: NetworkRecord) -> Tuple[str, ...]:
        return (SHIM_OWNER,) if self.part.of(record).host_access else ()

    def reserve(self, record: NetworkRecord, addresses: Dict[str, str]) -> None:
        set_parts(record, [replace(self.part.of(record), shim_address=addresses.get(SHIM_OWNER))])

    def create_network(self, record: NetworkRecord, host_view: NsView, observed: Observed) -> List[Change]:
        for kind, ok in sorted(observed.kinds.items()):
            if not ok:
                raise KernelError("the kernel cannot make %s links: load its module (modprobe %s)"
                                  % (kind, MODULES[kind]), self.option_groups[0] + ".parent")
        out = self._parent(record, host_view)
        shim = names.shim_name(record["name"])
        if self.part.of(record).host_access:
            out += self._shim(record, host_view)
        elif host_view.link(shim) is not None:  # host access turned off
            out.append(change("delete shim %s" % shim, "link_del", shim))
        return out

    def _parent(self, record: NetworkRecord, view: NsView) -> List[Change]:
        p = self.part.of(record)
        parent, mtu = p.parent, record["mtu"]
        link = view.link(parent)
        if link is None:
            if record["internal"]:
                return [change("create bridge %s, the isolated parent (mtu %d)" % (parent, mtu), "link_add", "bridge",
                               parent, mtu=mtu, undo=("link_del", (parent,)))]
            lower, dot, vid = parent.rpartition(".")
            if not (p.parent_created and dot and view.link(lower) is not None):
                # Gone since the network was made (a restore after a reboot, where the host's own
                # network configuration has not made it): the collection makes only its own VLANs.
                raise KernelError("the parent %s of network %r does not exist%s" % (
                    parent, record["name"], "; nor does %s, its lower device" % lower if p.parent_created else
                    ""), self.option_groups[0] + ".parent")
            return [change("create VLAN %s on %s (VID %s)" % (parent, lower, vid), "link_add", "vlan", parent,
                           parent=lower, data=(("IFLA_VLAN_ID", int(vid)),), undo=("link_del", (parent,)))]
        out: List[Change] = []
        if p.parent_created:  # only what is ours is changed
            if not link.up:
                out.append(change("set %s up" % parent, "link_set", parent, state="up"))
            if record["internal"] and link.mtu != mtu:
                out.append(change("set mtu %d on %s" % (mtu, parent), "link_set", parent, mtu=mtu))
        return out

    def _shim(self, record: NetworkRecord, view: NsView) -> List[Change]:
        p = self.part.of(record)
        shim, parent, dst = p.shim or names.shim_name(record["name"]), p.parent, record["ip_range"] or record["subnet"]
        cidr = "%s/32" % p.shim_address
        link, lower = view.link(shim), view.link(parent)
        out: List[Change] = []
        if link is not None and (link.kind != self.kind or lower is None or link.parent != lower.index):
            out.append(change("delete %s (not a shim of %s)" % (shim, parent), "link_del", shim))
            link = None
        if link is None:
            out.append(change("create %s shim %s on %s for host access" % (self.kind, shim, parent), "link_add",
                              self.kind, shim, parent=parent, mode="bridge", mtu=record["mtu"], undo=("link_del", (shim,))))
        if link is None or cidr not in view.addresses.get(shim, set()):
            out.append(change("add %s to %s" % (cidr, shim), "addr_add", shim, cidr))
        if link is None or (dst, shim) not in view.routed_dsts():
            out.append(change("route %s dev %s" % (dst, shim), "route_set", dst, shim))
        return out

    def delete_network(self, record: NetworkRecord, host_view: NsView, networks: Iterable[NetworkRecord] = (),
                       observed: Optional[Observed] = None) -> List[Change]:
        out: List[Change] = []
        p = self.part.of(record)
        if p.shim and host_view.link(p.shim) is not None:
            out.append(change("delete shim %s" % p.shim, "link_del", p.shim))
        still_used = any(n["name"] != record["name"] and getattr(parent_part(n), "parent", None) == p.parent
                         for n in networks)
        if p.parent_created and not still_used and host_view.link(p.parent) is not None:
            out.append(change("delete %s, the parent made for %s" % (p.parent, record["name"]), "link_del", p.parent))
        return out

    def owned_links(self, record: NetworkRecord) -> Set[str]:
        p = self.part.of(record)
        return set(n for n in (p.shim, p.parent if p.parent_created else None) if n)

    def vrf_devices(self, record: NetworkRecord) -> Tuple[str, ...]:
        """Its VLAN sub-interface (a found parent stays as its owner has it) and its shim."""
        return tuple(sorted(self.owned_links(record)))

    def host_device(self, record: NetworkRecord) -> Optional[str]:
        return self.part.of(record).parent

    # -- endpoints -----------------------------------------------------------------------

    def check_endpoint(self, network: NetworkRecord, spec: EndpointSpec, old: Optional[EndpointRecord],
                       others: Callable[[], List[EndpointRecord]]) -> None:
        if spec.mac_address and not self.own_mac(network):
            raise SpecError("the endpoint of a passthru network has its parent's MAC address", "mac_address")
        taken = others() if self.part.of(network).mode == "passthru" else []
        if taken:
            raise SpecError("network %r is in passthru mode, which takes one endpoint, and %r has it"
                            % (network["name"], taken[0]["name"]), "network")

    def own_mac(self, network: NetworkRecord) -> bool:
        return self.part.of(network).mode != "passthru"  # the one endpoint takes the parent's

    def join(self, network: NetworkRecord, endpoint: EndpointRecord, old: Optional[EndpointRecord], host_view: NsView,
             sandbox_view: Optional[NsView]) -> List[Change]:
        p = self.part.of(network)
        ifname, ns, mtu, mac, parent, mode = (endpoint["ifname"], endpoint["sandbox"], network["mtu"],
                                              endpoint["mac_address"], p.parent, p.mode)
        lower = host_view.link(parent)

        def foreign(link: Link) -> Optional[str]:
            if link.kind != self.kind or link.mode != mode or \
                    (lower is not None and link.parent != lower.index):
                return "not a %s link of %s" % (self.kind, parent)
            return None
        create = change("create %s %s of %s in %s (mode %s, mtu %d%s)" % (
            self.kind, ifname, parent, ns, mode, mtu, ", " + mac if mac else ""), "link_add", self.kind,
            ifname, ns=ns, parent=parent, mode=mode, mtu=mtu, mac=mac)
        if network.get("cni_ipam"):  # the addresses and default routes of the plugin's result
            gateways = cni_ipam.gateways(endpoint)
            routed = dict(endpoint, **dict((inner.ADDRESS_OPTION[v], None) for v in (4, 6) if v not in gateways))
            return inner.join_link(network, cast(EndpointRecord, routed), old, sandbox_view, create, foreign,
                                   gateways.get(4), gateways.get(6), set(cni_ipam.cidrs(endpoint)))
        return inner.join_link(network, endpoint, old, sandbox_view, create, foreign, self.gateway_of(network),
                               self.gateway_of(network, 6))

    def gateway_of(self, network: NetworkRecord, version: int = 4) -> Optional[str]:
        """The default route's gateway of IP ``version`` (None: on-link, as for ipvlan in L3 mode)."""
        return network.get("gateway") if version == 4 else network.get("ipv6_gateway")

    def leave(self, network: NetworkRecord, endpoint: EndpointRecord, host_view: NsView, sandbox_view: Optional[NsView]) -> List[Change]:
        return inner.leave_link(endpoint, self.kind, sandbox_view)


DRIVER = MacvlanDriver()
