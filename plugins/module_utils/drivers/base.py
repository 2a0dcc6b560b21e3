# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The driver interface: every question whose answer depends on the driver.

A driver is one module holding one ``Driver`` subclass; the registry in
``drivers/__init__.py`` maps its name to an instance. The core (networks, endpoints,
peers, prune, firewall, info) calls these hooks and never asks which driver it has.
The defaults describe a network with no kernel object, no addresses and no firewall
rules: the ``null`` driver is this class unchanged.

Hooks are pure: they read records and snapshots (model.NsView) and return
plan.Change records, or raise SpecError/KernelError naming the option at fault.
What a driver needs observed beyond the host's and sandboxes' snapshots, it asks for
with ``observe`` and receives as an ``Observed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, ClassVar, Dict, Iterable, List, Mapping, NamedTuple, Optional, Set, Tuple, Type, TypeVar, Union, cast

from ansible_collections.cnm.fabric.plugins.module_utils.model import NsView, XfrmView
from ansible_collections.cnm.fabric.plugins.module_utils.plan import Change
from ansible_collections.cnm.fabric.plugins.module_utils.records import EndpointRecord, NetworkRecord, RemoteEndpointRecord
from ansible_collections.cnm.fabric.plugins.module_utils.spec import EndpointSpec, NetworkSpec, PeersSpec

P = TypeVar("P", bound="Part")


@dataclass(frozen=True)
class Part:
    """A driver's own fields of a record, kept in the record under ``KEY`` as a JSON object
    (a network's parts are named after the option groups they come from, such as ``bridge``;
    an endpoint's after what it is, such as ``veth``). Each driver declares its parts as
    subclasses in its own module; the core copies them whole and never reads inside one."""
    KEY: ClassVar[str] = ""

    @classmethod
    def of(cls: Type[P], record: Mapping[str, Any]) -> P:
        """The part as ``record`` (a NetworkRecord or an EndpointRecord) holds it."""
        return cls(**record[cls.KEY])

    @classmethod
    def held_by(cls, record: Mapping[str, Any]) -> bool:
        """Whether ``record`` holds this part."""
        return bool(record.get(cls.KEY))

    @classmethod
    def names(cls) -> Tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def json(self) -> Dict[str, Any]:
        """The part as the record holds it (a shallow copy of its fields)."""
        return dict((name, getattr(self, name)) for name in self.names())

    def host_links(self) -> Set[str]:
        """Host links an endpoint part owns (a veth's host end), for removal and garbage collection."""
        return set()


def set_parts(record: Union[NetworkRecord, EndpointRecord], parts: Iterable[Part]) -> bool:
    """Put ``parts`` in ``record``, each under its key (records.py declares no part's key);
    return whether any was not there already as it is."""
    fields, changed = cast(Dict[str, Any], record), False
    for part in parts:
        value = part.json()
        if fields.get(part.KEY) != value:
            fields[part.KEY] = value
            changed = True
    return changed


#: A CNI configuration list, its CNI path, and the (container ID, interface) pairs of its valid attachments.
GcList = Tuple[Dict[str, Any], List[str], List[Tuple[str, str]]]


class Peers(NamedTuple):
    """What cnm_overlay_peer returns of a network's recorded peers."""
    peers: Dict[str, List[RemoteEndpointRecord]]  # remote endpoints by the VTEP they are behind
    peer_hosts: Dict[str, str]              # the other hosts' own addresses on the network, by VTEP


@dataclass(frozen=True)
class ObserveRequest:
    """What a driver asks the core to read before planning a network."""
    sysctls: tuple = ()     # keys under /proc/sys
    neighbours: tuple = ()  # host devices whose forwarding and ARP entries are read
    kinds: tuple = ()       # link kinds the kernel must be able to make (vlan, macvlan, ...)
    xfrm: tuple = ()        # tags of the IPsec objects to read (drivers/esp.py)
    esp: str = ""           # an ``xfrm state add`` line the kernel must be able to run (tried aside)


@dataclass(frozen=True)
class Observed:
    sysctls: dict = field(default_factory=dict)      # key -> value (None when absent)
    neighbours: dict = field(default_factory=dict)   # device -> (fdb set, arp dict)
    kinds: dict = field(default_factory=dict)        # link kind -> whether the kernel has it
    xfrm: dict = field(default_factory=dict)         # tag -> model.XfrmView
    esp: Optional[str] = None                        # why ESP cannot be used ('' when it can; None: not asked)

    def entries(self, device: str) -> Tuple[set, dict]:
        return self.neighbours.get(device, (set(), {}))

    def ipsec(self, tag: int) -> XfrmView:
        return self.xfrm.get(tag, XfrmView())


@dataclass(frozen=True)
class FirewallPart:
    """What a network brings to the nftables tables: its interface, subnet and policy."""
    interface: str
    subnet: Optional[str]          # its IPv4 subnet (None: IPv6-only)
    internal: bool
    masquerade: bool
    icc: bool
    host_binding_ip: Optional[str]
    subnet6: Optional[str] = None  # its IPv6 subnet (None: IPv4 only)
    masquerade6: bool = False      # NAT66 of that subnet to the outside
    input: tuple = ()              # rules of the host's input filter (drop what must not arrive)
    mark: tuple = ()               # rules marking the host's own packets, re-routed after (route output)
    modes: tuple = ("nat", "nat")  # the gateway mode of each family (IPv4, IPv6): drivers/bridge.py's GATEWAY_MODES
    trusted: tuple = ()            # host interfaces allowed to reach the endpoints' addresses directly


class Driver(object):
    #: The cnm_network option groups (dicts) this driver reads, such as ``bridge``.
    option_groups: Tuple[str, ...] = ()
    #: The argument spec of the option groups this driver declares (cnm_network takes every
    #: driver's): {group: {"type": "dict", "options": {...}}}. A driver that reads another
    #: driver's group (overlay reads ``bridge``) does not declare it again.
    option_spec: Dict[str, dict] = {}
    #: The parts of its network records (``Part`` subclasses): its own fields, beyond the common
    #: ones (name, id, scope, driver, the pools, mtu, internal, labels), each under its key.
    network_parts: Tuple[Type[Part], ...] = ()
    #: The parts of its endpoint records (such as the veth's host end).
    endpoint_parts: Tuple[Type[Part], ...] = ()
    #: The cnm_endpoint options its endpoints take.
    endpoint_options: Tuple[str, ...] = ("aliases",)
    #: Why an endpoint option it does not take makes no sense here ({option: sentence with
    #: a %s for the driver's name}); the others are refused as merely unsupported.
    endpoint_refusals: Dict[str, str] = {}
    #: Networks take a subnet from the local address space, and endpoints an address.
    ipam = False
    #: The option that gives a network a pool where that is the user's choice (``pooled``), for errors.
    pool_option = ""
    #: Networks may be dual-stack (``ipv6: true``): an IPv6 pool beside the IPv4 one, and
    #: endpoints with an address of each.
    ipv6 = False
    #: Endpoints live in a network namespace of their own (a sandbox).
    creates_sandbox = True
    #: Networks may put their host devices (vrf_devices) in a VRF (``vrf``).
    vrf = False
    #: Networks may take their endpoints' addresses from a CNI IPAM plugin (``cni_ipam``, cni_ipam.py)
    #: instead of pools: its endpoints' links are made whole in the sandbox (inner.join_link).
    ipam_plugin = False
    #: An endpoint goes with its sandbox when the collection removes that (its links do), so
    #: ``leave`` is not asked then. False where what it made lives on outside (a CNI plugin's lease).
    leaves_with_sandbox = True
    #: The network takes remote endpoints from cnm_overlay_peer.
    has_peers = False
    #: The MTU when the user gives none (None: network_record decides).
    default_mtu: Optional[int] = 1500
    #: ``local``: a network of this host alone; ``fleet``: one network across the hosts that
    #: declare it alike (its ``id`` is then the same on each of them, from ``fleet_identity``).
    scope = "local"

    # -- input -------------------------------------------------------------------------

    def pooled(self, network: Mapping[str, Any]) -> bool:
        """Whether ``network`` (its record, or cnm_network's params) takes pools of the collection's
        and gives its endpoints addresses from them: ``ipam``, unless one of the driver's options
        says otherwise (``pool_option``), or it has a CNI IPAM plugin instead (``cni_ipam``)."""
        return self.ipam and not network.get("cni_ipam")

    def network_options(self, params: Dict[str, Any]) -> Any:
        """Validate this driver's option groups of cnm_network's ``params``; return them as
        frozen data (kept in NetworkSpec.options), or None."""
        return None

    # -- networks ----------------------------------------------------------------------

    def network_record(self, spec: NetworkSpec, old: Optional[NetworkRecord], host_view: NsView, networks: Dict[str, NetworkRecord],
                       endpoints: List[EndpointRecord]) -> Dict[str, Any]:
        """What the driver decides of the network record, from ``spec`` (NetworkSpec), its
        previous record ``old``, the host's snapshot, the other network records and the
        network's endpoint records: its parts (``Part`` instances, by key) and the common
        fields it sets (``mtu``, ``gateway``, ...). Raises SpecError for what cannot be."""
        return {}

    def replaces(self, old: NetworkRecord, record: NetworkRecord) -> Optional[str]:
        """The option whose change means the old network's kernel objects must go before the new
        are made (a renamed bridge), or None: allowed only while it has no endpoints, which the
        core checks."""
        return None

    def rejoin(self, old: NetworkRecord, record: NetworkRecord) -> bool:
        """Whether a change of the network must be carried to its endpoints (join again)."""
        return False

    def observe(self, record: NetworkRecord) -> ObserveRequest:
        return ObserveRequest()

    def create_network(self, record: NetworkRecord, host_view: NsView, observed: Observed) -> List[Change]:
        """Changes that make ``record`` (as it should be) true of the host."""
        return []

    def restore(self, record: NetworkRecord, host_view: NsView, observed: Observed, secret: Optional[Dict[str, Any]]) -> List[Change]:
        """Changes that make ``record`` true of the host again with no playbook (restore.py):
        ``create_network``'s, and what only ``secret`` allows (what cnm_overlay_peer kept of its
        call: ``{"keys": [...]}``, or None)."""
        return self.create_network(record, host_view, observed)

    def reserved_addresses(self, record: NetworkRecord) -> Tuple[str, ...]:
        """The owners (in its pool) of the addresses the network itself takes from its pool
        (owners start with "@", which no endpoint name does)."""
        return ()

    def reserve(self, record: NetworkRecord, addresses: Dict[str, str]) -> None:
        """Record the addresses of ``reserved_addresses`` ({owner: address}) in ``record``'s parts."""

    def observe_removal(self, record: NetworkRecord) -> ObserveRequest:
        """What ``delete_network`` needs read (less than ``observe``: nothing is made)."""
        return ObserveRequest()

    def delete_network(self, record: NetworkRecord, host_view: NsView, networks: Iterable[NetworkRecord] = (),
                       observed: Optional[Observed] = None) -> List[Change]:
        """Changes that remove the network's kernel objects (``networks``: every network
        record, so what several networks share goes with the last of them; ``observed``:
        what ``observe_removal`` asked for)."""
        return []

    def owned_links(self, record: NetworkRecord) -> Set[str]:
        """Host link names the network owns, for garbage collection."""
        return set()

    def gc_lists(self, record: NetworkRecord, endpoints: List[EndpointRecord]) -> List[GcList]:
        """The CNI configuration lists whose plugins cnm_prune sends GC to, each with its CNI path and
        the attachments of ``endpoints`` (the network's) that are still valid."""
        return []

    def vrf_devices(self, record: NetworkRecord) -> Tuple[str, ...]:
        """The host devices of the network that its VRF (``vrf``) holds, made by create_network."""
        return ()

    def host_device(self, record: NetworkRecord) -> Optional[str]:
        """The host device the network's endpoints hang from (its bridge, its parent), or None."""
        return None

    def host_address(self, record: NetworkRecord) -> Optional[str]:
        """The host's own address on the network beside its gateway (where replies to what the
        host forwards to other hosts must come back), or None."""
        return None

    def host_binding_ip(self, record: NetworkRecord) -> Optional[str]:
        """The host address a published port of the network's endpoints listens on when the
        port names none (0.0.0.0: every address); None when the network publishes nothing."""
        return None

    def graph_devices(self, record: NetworkRecord) -> Tuple[Tuple[str, str], ...]:
        """The network's other host devices, as (name, what it is), for cnm_info's graph."""
        return ()

    def fleet_identity(self, record: NetworkRecord) -> str:
        """What names a fleet-scoped network alike on every host that declares it (a string)."""
        raise NotImplementedError

    # -- endpoints ---------------------------------------------------------------------

    def check_endpoint(self, network: NetworkRecord, spec: EndpointSpec, old: Optional[EndpointRecord],
                       others: Callable[[], List[EndpointRecord]]) -> None:
        """Reject an endpoint the network cannot take (SpecError naming the option);
        ``others()``: the records of the network's other endpoints (a list, made on demand)."""

    def own_mac(self, network: NetworkRecord) -> bool:
        """Whether endpoints have a MAC address of their own (mac_address, or one derived
        from the address), rather than one the kernel gives them."""
        return True

    def default_ipv6_address(self, network: NetworkRecord, ipv4_address: str) -> Optional[str]:
        """An endpoint's IPv6 address on a dual-stack network when it gives none (None: the next
        free one of the network's IPv6 pool)."""
        return None

    def endpoint_record(self, network: NetworkRecord, name: str) -> Tuple[Part, ...]:
        """The parts of an endpoint's record (``Part`` instances), such as its veth's host end."""
        return ()

    def learned(self, network: NetworkRecord, old: Optional[EndpointRecord]) -> Dict[str, Any]:
        """Fields of an endpoint's record that only making it tells (what a CNI plugin returned),
        kept from its previous record ``old`` until a run makes it again and learns them anew
        (``Kernel.learned``)."""
        return {}

    def join(self, network: NetworkRecord, endpoint: EndpointRecord, old: Optional[EndpointRecord], host_view: NsView,
             sandbox_view: Optional[NsView]) -> List[Change]:
        """Changes that make or update ``endpoint`` in its sandbox (``old``: its previous
        record; ``sandbox_view`` None when the sandbox is yet to be made)."""
        return []

    def leave(self, network: NetworkRecord, endpoint: EndpointRecord, host_view: NsView, sandbox_view: Optional[NsView]) -> List[Change]:
        """Changes that remove ``endpoint`` (``sandbox_view`` given only when the host-side
        link is gone, so the sandbox side may need removing by itself)."""
        return []

    # -- peers ---------------------------------------------------------------------------

    def merge_peers(self, network: NetworkRecord, spec: PeersSpec, local_endpoints: List[EndpointRecord]) -> Tuple[Part, ...]:
        """The network record's parts that hold its peers (``Part`` instances) after a
        cnm_overlay_peer call ``spec``."""
        raise NotImplementedError

    def peers(self, network: NetworkRecord) -> Peers:
        """The recorded peers (a Peers)."""
        return Peers({}, {})

    def peer_changes(self, network: NetworkRecord, host_view: NsView, observed: Observed, spec: PeersSpec) -> List[Change]:
        """Changes that program the recorded peers (``spec``: the cnm_overlay_peer call)."""
        return []

    def remote_endpoints(self, network: NetworkRecord) -> List[RemoteEndpointRecord]:
        """Endpoints of other hosts, as ``{name, ip, aliases}`` (and ``ip6``, their IPv6 address,
        where they have one), for the hosts files."""
        return [ep for remote in self.peers(network).peers.values() for ep in remote]

    # -- firewall -------------------------------------------------------------------------

    def firewall(self, network: NetworkRecord) -> Optional[FirewallPart]:
        """A FirewallPart for the nftables tables, or None when the network has no rules."""
        return None
