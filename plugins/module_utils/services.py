# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnm_service's planner, and the services' rules inside each sandbox.

A service is a name and a virtual IP (VIP) on a network, backed by endpoints of that
network on any host: local endpoints, and remote ones from the network's peers. It is
recorded in its network's record, under ``services``.

Every sandbox with an endpoint on the network resolves the service's name and aliases to
the VIP (hosts files, sandbox.py), and balances its own connections to the VIP across the
live backends in an nftables table of its own, ``inet cnm_svc``: DNAT in the sandbox's
output hook to ``numgen random`` over a map of the backends, as kube-proxy's nftables mode
picks an endpoint. The packet leaves the sandbox addressed to the backend, so its replies
come back to the sandbox wherever the backend runs, and the sandbox's conntrack undoes the
DNAT: Docker's per-sandbox IPVS load balancing, in nftables. A port of a service with no
live backend is rejected (a TCP reset, an ICMP port unreachable), never blackholed.

The table of a sandbox is written whole, in one nft transaction run inside the sandbox,
only when its text changed (the applied text is kept beside the sandbox's hosts file); no
other table is touched.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Dict, Iterable, List, Mapping, Optional, Set, Tuple, cast

from ansible_collections.cnm.fabric.plugins.module_utils import drivers, firewall
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import Driver
from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError, SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.kernel import netns_path
from ansible_collections.cnm.fabric.plugins.module_utils.records import (
    EndpointRecord, NetworkRecord, ServicePortRecord, ServiceRecord)
from ansible_collections.cnm.fabric.plugins.module_utils.spec import PortSpec, ServiceSpec, check_in_subnet, \
    ports_overlap, recorded_port

if TYPE_CHECKING:
    from ansible_collections.cnm.fabric.plugins.module_utils.run import Run

Networks = Mapping[str, NetworkRecord]
Endpoints = Mapping[str, EndpointRecord]

TABLE = ("inet", "cnm_svc")
OWNER = "@service:"  # a service's VIP in its network's pool: owners with "@" are no endpoint's


def owner(name: str) -> str:
    return OWNER + name


def published_in(networks: Networks, protocol: str, first: int, last: int,
                 skip: Optional[Tuple[str, str]] = None) -> Optional[str]:
    """A sentence naming the service that publishes a host port of ``first``..``last`` for
    ``protocol``, or None (``skip``: a (network, service) to leave out, the one being changed)."""
    for net in sorted(networks.values(), key=lambda n: n["name"]):
        for name, svc in sorted((net.get("services") or {}).items()):
            for port in svc["ports"]:
                if (net["name"], name) != skip and port.get("published") and port["protocol"] == protocol \
                        and first <= port["published"] <= last:
                    return "host port %d/%s is published by service %r of network %r" % (
                        port["published"], protocol, name, net["name"])
    return None


def endpoint_publishing(networks: Networks, endpoints: Endpoints, port: PortSpec, ip: Optional[str] = "0.0.0.0",
                        skip: Optional[str] = None) -> Optional[EndpointRecord]:
    """The record of an endpoint (other than key ``skip``) that publishes a host port of ``port``
    (a PortSpec) for its protocol on address ``ip``, where 0.0.0.0 is every address; or None."""
    for key, other in sorted(endpoints.items()):
        if key == skip:
            continue
        net = networks.get(other["network"])
        default = drivers.get(net["driver"]).host_binding_ip(net) if net else None
        for theirs in (recorded_port(p) for p in other.get("publish") or []):
            their_ip = theirs.host_ip or default
            if theirs.protocol == port.protocol and ports_overlap(port, theirs) \
                    and (ip == their_ip or "0.0.0.0" in (ip, their_ip)):
                return other
    return None


# --- planner ------------------------------------------------------------------------

def _network(run: Run, spec: ServiceSpec) -> Tuple[NetworkRecord, Driver]:
    net = run.networks.get(spec.network)
    if net is None:
        raise SpecError("no network named %r on this host; create it first with cnm.fabric.cnm_network"
                        % spec.network, "network")
    drv = drivers.get(net["driver"])
    if not (drv.ipam and drv.creates_sandbox):
        raise SpecError("network %r (driver %s) has no addresses of its own for a service's VIP"
                        % (net["name"], net["driver"]), "network")
    if not net.get("subnet"):
        raise SpecError("network %r is IPv6-only (ipv4: false), and a service's VIP and its backends are IPv4 "
                        "addresses" % net["name"], "network")
    return net, drv


def service_present(run: Run, spec: ServiceSpec) -> ServiceRecord:
    net, drv = _network(run, spec)
    services = net.setdefault("services", {})
    old = services.get(spec.name)
    if spec.vip is None and drv.has_peers and old is None:
        raise SpecError("services of network %r span hosts, so the VIP must be the same on every host: give vip "
                        "(the cnm.fabric.overlay_network role allocates it from the fleet pool)" % net["name"], "vip")
    vip = spec.vip or (old["vip"] if old else None)
    if vip is not None:
        check_in_subnet(ipaddress.ip_address(vip), ipaddress.ip_network(net["subnet"] or ""), "vip")
        for ep in drv.remote_endpoints(net):
            if ep["ip"] == vip:
                raise SpecError("%s is the remote endpoint %r" % (vip, ep["name"]), "vip")
    for other, svc in sorted(services.items()):
        if other != spec.name and set([spec.name] + list(spec.aliases)) & set([other] + svc["aliases"]):
            raise SpecError("service %r of network %r has that name or alias" % (other, net["name"]), "aliases")
    _check_published(run, net, drv, spec)
    vip = run.ipam().request_address(net["name"], owner(spec.name), vip, "vip")[0]
    record: ServiceRecord = {"name": spec.name, "vip": vip,
                             "ports": [cast(ServicePortRecord, dict(p)) for p in spec.ports],
                             "endpoints": list(spec.endpoints), "aliases": list(spec.aliases)}
    if old != record:
        services[spec.name] = record
        run.networks_touched.add(net["name"])
    return record


def _check_published(run: Run, net: NetworkRecord, drv: Driver, spec: ServiceSpec) -> None:
    """A published port is the host's: no other service or endpoint may have it, and a
    network with remote backends needs the host's own address to bring their replies back."""
    for i, port in enumerate(cast(ServicePortRecord, dict(p)) for p in spec.ports):
        if not port.get("published"):
            continue
        at = "ports[%d].published" % i
        if drv.has_peers and not drv.host_address(net):
            raise SpecError("a published service of network %r reaches backends on other hosts, whose replies come "
                            "back only to this host's own address on the network: give the network "
                            "overlay.host_address (the cnm.fabric.overlay_network role allocates it)" % net["name"], at)
        taken = published_in(run.networks, port["protocol"], port["published"], port["published"],
                             skip=(net["name"], spec.name))
        if taken:
            raise SpecError(taken, at)
        ep = endpoint_publishing(run.networks, run.endpoints, PortSpec(port["published"], port["target_port"],
                                                                       port["protocol"]))
        if ep:
            raise SpecError("host port %d/%s is published by endpoint %r of network %r"
                            % (port["published"], port["protocol"], ep["name"], ep["network"]), at)


def service_absent(run: Run, spec: ServiceSpec) -> Optional[ServiceRecord]:
    net = run.networks.get(spec.network)
    old = net.get("services", {}).get(spec.name) if net else None
    if net is None or old is None:
        return None
    del net["services"][spec.name]
    run.ipam().release_address(net["name"], owner(spec.name))
    run.networks_touched.add(net["name"])
    return old


def addresses(network: NetworkRecord, endpoints: Endpoints) -> Tuple[Dict[str, str], Set[str]]:
    """Name -> IPv4 address of the endpoints on ``network``: local ones (``endpoints``: every
    endpoint record) and remote ones (its peers); and the set of the remote addresses."""
    where: Dict[str, str] = {}
    for ep in endpoints.values():
        address = ep.get("ipv4_address")
        if address and ep["network"] == network["name"]:
            where[ep["name"]] = address
    remote = dict((ep["name"], ep["ip"]) for ep in drivers.get(network["driver"]).remote_endpoints(network))
    where.update(remote)
    return where, set(remote.values())


def _live(service: ServiceRecord, where: Mapping[str, str]) -> List[str]:
    return [where[name] for name in service["endpoints"] if name in where]


def backends(network: NetworkRecord, service: ServiceRecord, endpoints: Endpoints) -> List[str]:
    """The live backends of ``service``: the addresses of the endpoints it names that exist,
    here or behind a peer, in the order of the service's list."""
    return _live(service, addresses(network, endpoints)[0])


def facts(network: NetworkRecord, service: ServiceRecord, endpoints: Endpoints) -> Dict[str, object]:
    return dict(service, network=network["name"], backends=backends(network, service, endpoints))


# --- the routing mesh: published ports, in the host's table --------------------------------

def _balance(live: List[str], target: int) -> str:
    targets = ", ".join("%d : %s . %d" % (i, address, target) for i, address in enumerate(live))
    return "dnat ip to numgen random mod %d map { %s }" % (len(live), targets)


def mesh(networks: Networks, endpoints: Endpoints) -> Tuple[List[str], List[str]]:
    """The host's rules for published service ports: (DNAT rules, SNAT rules).

    Any local address of the host, on the published port, is DNATed to a live backend. A
    backend behind a peer replies to its own host's gateway unless the connection comes from
    this host's own address on the network (its driver's ``host_address``): so connections
    DNATed to a remote backend are SNATed to it. A local backend sees the client's address."""
    dnat: List[str] = []
    snat: List[str] = []
    for net in sorted(networks.values(), key=lambda n: n["name"]):
        if not net.get("services"):
            continue
        where, remote = addresses(net, endpoints)
        far: Set[str] = set()
        for _name, svc in sorted(net["services"].items()):
            live = _live(svc, where)
            for port in svc["ports"]:
                if port.get("published") and live:
                    dnat.append("meta l4proto %s th dport %d fib daddr type local %s"
                                % (port["protocol"], port["published"], _balance(live, port["target_port"])))
                    far.update(remote.intersection(live))
        drv = drivers.get(net["driver"])
        if far and drv.host_address(net):
            snat.append("oifname %s ct status dnat ip daddr { %s } snat ip to %s"
                        % (firewall.quote(drv.host_device(net)), ", ".join(sorted(far, key=ipaddress.ip_address)),
                           drv.host_address(net)))
    return dnat, snat


# --- rules in a sandbox ---------------------------------------------------------------

def render(networks: Networks, endpoints: Endpoints, joined: Iterable[str]) -> str:
    """The ``inet cnm_svc`` table of a sandbox on networks ``joined``, or '' when none of them
    has a service."""
    nat: List[str] = []
    reject: List[str] = []
    for name in sorted(joined):
        net = networks.get(name)
        if not net or not net.get("services"):
            continue
        where = addresses(net, endpoints)[0]
        for _name, svc in sorted(net["services"].items()):
            live = _live(svc, where)
            for port in svc["ports"]:
                match = "ip daddr %s meta l4proto %s th dport %d" % (svc["vip"], port["protocol"], port["port"])
                if not live:
                    reject.append("%s reject%s" % (match, " with tcp reset" if port["protocol"] == "tcp" else ""))
                    continue
                nat.append("%s %s" % (match, _balance(live, port["target_port"])))
    if not nat and not reject:
        return ""
    return ("table %s %s {\n\tchain nat_output {\n\t\ttype nat hook output priority -100; policy accept;\n%s\t}\n"
            "\tchain filter_output {\n\t\ttype filter hook output priority filter; policy accept;\n%s\t}\n}\n"
            % (TABLE + ("".join("\t\t%s\n" % r for r in nat), "".join("\t\t%s\n" % r for r in reject))))


def load(key: str, text: str) -> None:
    """Replace the sandbox's ``inet cnm_svc`` table by ``text`` (none when ''), in one transaction."""
    head = "table %s %s\ndelete table %s %s\n" % (TABLE + TABLE)
    code, _out, err = firewall.run(["-f", "-"], stdin=head + text, netns=netns_path(key))
    if code != 0:
        raise KernelError("nft rejected the service rules of sandbox %s: %s" % (key, err.strip()), "sandbox")
