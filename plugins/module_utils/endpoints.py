# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnm_endpoint's planner: endpoints, their addresses, and the sandboxes they live in.

A sandbox's lifecycle Changes come from two functions only: ``sandbox_join`` (made
with its first endpoint) and ``sandbox_release`` (removed with its last).
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils import chain, cni_ipam, drivers, names, plan, sandbox, shaping
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import Driver, set_parts
from ansible_collections.cnm.fabric.plugins.module_utils.errors import CnmError, SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.model import NsView
from ansible_collections.cnm.fabric.plugins.module_utils.plan import LINK_MADE, Change
from ansible_collections.cnm.fabric.plugins.module_utils.records import EndpointRecord, NetworkRecord, PortRecord, \
    RouteRecord
from ansible_collections.cnm.fabric.plugins.module_utils.run import Run, endpoint_public
from ansible_collections.cnm.fabric.plugins.module_utils.services import endpoint_publishing, published_in
from ansible_collections.cnm.fabric.plugins.module_utils.spec import DIRECTIONS, MAIN_TABLE, SANDBOX_OPTIONS, \
    EndpointSpec, port_text, recorded_port, route_text, sandbox_wide, sysctl_path, sysctl_text

ETHERNET_HEADER = 14  # bytes of a frame beside its MTU's, counted by a token bucket


# --- sandboxes -------------------------------------------------------------------------

def sandbox_join(run: Run, key: str, given_by_path: bool) -> List[Change]:
    """Changes that make sandbox ``key`` exist for a new endpoint, and its record."""
    option = "sandbox_path" if given_by_path else "sandbox"
    if key not in run.sandboxes and key not in run.sandboxes_made:
        _check_new_sandbox(run, key, option)
    run.sandboxes_touched.add(key)
    if run.kernel.netns_exists(key) and key not in run.sandboxes_doomed:
        run.sandboxes.setdefault(key, {"created": False})
        return []
    if given_by_path:
        raise SpecError("%s does not exist (is the container running?)" % key, "sandbox_path")
    run.sandboxes[key] = {"created": True}
    if key in run.sandboxes_made:  # an earlier endpoint of this run makes it
        return []
    run.sandboxes_made.add(key)
    run.sandboxes_doomed.discard(key)  # removed earlier in this run: made again after that
    return [plan.change("create sandbox %s" % key, "netns_add", key, undo=("netns_del", (key,)))]


def _check_new_sandbox(run: Run, key: str, option: str) -> None:
    """A sandbox this state_dir has no record of yet must be neither the host's own network
    namespace nor a symbolic link under /run/netns, and its files must be the collection's to write."""
    problem = run.kernel.netns_problem(key)
    if problem:
        raise SpecError(problem, option)
    sandbox.check_files(run.state_dir, key, option)


def sandbox_release(run: Run, key: str) -> List[Change]:
    """Changes that remove sandbox ``key`` once no endpoint uses it (if the collection made it),
    and the end of its record."""
    if key not in run.sandboxes or run.members(key):
        return []
    out: List[Change] = []
    if run.sandboxes[key].get("created") and (run.kernel.netns_exists(key) or run.kernel.netns_half_made(key)):
        out.append(plan.change("remove sandbox %s" % key, "netns_del", key))
        run.sandboxes_doomed.add(key)
    del run.sandboxes[key]
    run.sandboxes_touched.add(key)
    return out


# --- endpoints -------------------------------------------------------------------------

def _network_for(run: Run, spec: EndpointSpec) -> Tuple[NetworkRecord, Driver]:
    net = run.networks.get(spec.network)
    if net is None:
        raise SpecError("no network named %r on this host; create it first with "
                        "cnm.fabric.cnm_network" % spec.network, "network")
    drv = drivers.get(net["driver"])
    given: Dict[str, Any] = {
        "ifname": spec.ifname, "ipv4_address": spec.ipv4_address, "mac_address": spec.mac_address,
        "publish": spec.publish, "default_route": spec.default_route, "ipv6_address": spec.ipv6_address,
        "routes": spec.routes, "default_route_metric": spec.default_route_metric, "bandwidth": spec.bandwidth}
    for option, value in sorted(given.items()):
        if value not in (None, ()) and option not in drv.endpoint_options:
            why = drv.endpoint_refusals.get(option)
            raise SpecError("is not supported on network %r (driver %s)%s" % (
                net["name"], net["driver"], ": " + why % net["driver"] if why else ""), option)
    for option in cni_ipam.REFUSED if cni_ipam.of(net) else ():
        if given[option] not in (None, ()):
            raise SpecError("comes from network %r's IPAM plugin (cni_ipam), with the endpoint's other addresses and "
                            "routes" % net["name"], option)
    if spec.ipv6_address and not net.get("ipv6"):
        raise SpecError("network %r has no IPv6 (it was made without ipv6: true)" % net["name"], "ipv6_address")
    if spec.ipv4_address and drv.pooled(net) and not net.get("subnet"):
        raise SpecError("network %r is IPv6-only (ipv4: false)" % net["name"], "ipv4_address")
    given_sandbox = [option for option, _value in spec.sandbox_options] + (["sysctls"] if spec.sysctls else [])
    if given_sandbox and not drv.creates_sandbox:
        raise SpecError("is not supported on network %r (driver %s): its endpoints have no sandbox of their own"
                        % (net["name"], net["driver"]), given_sandbox[0])
    if spec.cni_chain and "ifname" not in drv.endpoint_options:
        raise SpecError("is not supported on network %r (driver %s): its endpoints have no interface of their own "
                        "for the plugins to act on" % (net["name"], net["driver"]), "cni_chain")
    if spec.cni_chain:
        chain.check(spec.cni_chain)
    own = [key for key, _value in spec.sysctls if not sandbox_wide(key)]
    if own and "ifname" not in drv.endpoint_options:
        raise SpecError("network %r (driver %s) gives its endpoints no interface of their own: only the sandbox's "
                        "sysctls can be set" % (net["name"], net["driver"]), "sysctls.%s" % own[0])
    for key, _value in spec.sysctls:  # a new namespace has the keys of the module's own: IFNAME's are default's
        if run.kernel.sysctl_get(sysctl_path(key, "default")) is None:
            raise SpecError("this kernel has no sysctl %s that can be read (each is read back, to be set only when it "
                            "differs)" % key, "sysctls.%s" % key)
    _check_routes(net, spec)
    for _rate, burst_key in DIRECTIONS:  # a frame larger than the bucket would never leave it
        burst = (spec.bandwidth or {}).get(burst_key)
        if burst is None:
            continue
        frame = net["mtu"] + ETHERNET_HEADER
        if burst < frame:
            raise SpecError("%d bytes is less than a frame of network %r (its MTU, %d, and an Ethernet header): "
                            "nothing would pass; give at least %d" % (burst, net["name"], net["mtu"], frame),
                            "bandwidth.%s" % burst_key)
    for i, port in enumerate(spec.publish):
        v6 = ":" in (port.host_ip or "")
        if port.host_ip and not net.get("ipv6_subnet" if v6 else "subnet"):
            raise SpecError("%s is an IPv%d address and network %r has no IPv%d"
                            % (port.host_ip, 6 if v6 else 4, net["name"], 6 if v6 else 4), "publish[%d].host_ip" % i)
    return net, drv


def _check_routes(net: NetworkRecord, spec: EndpointSpec) -> None:
    """A route's family must be one the network has, and its gateway on the network."""
    for i, route in enumerate(spec.routes):
        version = 6 if ":" in route["dst"] else 4
        subnet = net.get("ipv6_subnet" if version == 6 else "subnet")
        if not subnet:
            raise SpecError("%s is an IPv%d route and network %r has no IPv%d"
                            % (route["dst"], version, net["name"], version), "routes[%d].dst" % i)
        gateway = route["gateway"]
        if gateway and not _on_link(gateway, subnet):
            raise SpecError("%s is outside network %r's subnet %s: a route's gateway is a neighbour on the "
                            "endpoint's link" % (gateway, net["name"], subnet), "routes[%d].gateway" % i)


@functools.lru_cache(maxsize=None)  # a bulk call gives many endpoints the same routes
def _on_link(gateway: str, subnet: str) -> bool:
    """Whether ``gateway`` is in ``subnet``, or an IPv6 link-local address (on every link)."""
    address = ipaddress.ip_address(gateway)
    return address in ipaddress.ip_network(subnet) or address.is_link_local


def _check_sandbox_options(run: Run, spec: EndpointSpec, key: str, sb: str) -> None:
    """The resolver and hosts-file options of a sandbox, given by several of its endpoints,
    must agree: each is set by one endpoint, or the same by all that set it."""
    mine = dict(spec.sandbox_options)
    for other_key in sorted(run.members(sb) - {key}):
        other = run.endpoints[other_key]
        for option in SANDBOX_OPTIONS:
            theirs = other.get(option)
            if option not in mine or not theirs:
                continue
            if option == "extra_hosts":
                clash = sorted(n for n in set(mine[option]) & set(theirs) if mine[option][n] != theirs[n])
                if clash:
                    raise SpecError("%s is %s here and %s for endpoint %s of the same sandbox"
                                    % (clash[0], mine[option][clash[0]], theirs[clash[0]], other_key),
                                    "extra_hosts.%s" % clash[0])
            elif mine[option] != theirs:
                raise SpecError("sandbox %s already has %s %s from endpoint %s; its endpoints must agree"
                                % (sb, option, theirs, other_key), option)
        theirs_routes = set(_route_key(route) for route in other.get("routes") or [])
        for i, route in enumerate(spec.routes):
            if _route_key(route) in theirs_routes:
                raise SpecError("endpoint %s of the same sandbox routes %s in table %d at metric %d too; a sandbox "
                                "has one route of a destination in a table at each metric"
                                % ((other_key,) + _route_key(route)), "routes[%d].dst" % i)
        theirs_sysctls = other.get("sysctls") or {}
        for name, value in spec.sysctls:
            if sandbox_wide(name) and theirs_sysctls.get(name, value) != value:
                raise SpecError("sandbox %s already has %s = %s from endpoint %s; its endpoints must agree"
                                % (sb, name, theirs_sysctls[name], other_key), "sysctls.%s" % name)


def _check_publish(run: Run, spec: EndpointSpec, key: str) -> None:
    """A host port (and protocol) may be published once per host address."""
    net = run.networks[spec.network]
    mine_default = drivers.get(net["driver"]).host_binding_ip(net)
    for i, port in enumerate(spec.publish):
        other = endpoint_publishing(run.networks, run.endpoints, port, port.host_ip or mine_default, skip=key)
        if other:
            raise SpecError("host port %s/%s is already published by endpoint %r of network %r"
                            % (port_text(port.host_port, port.count), port.protocol, other["name"],
                               other["network"]), "publish[%d].host_port" % i)
        taken = published_in(run.networks, port.protocol, port.host_port, port.host_port + port.count - 1)
        if taken:
            raise SpecError(taken, "publish[%d].host_port" % i)


def _free_ifname(run: Run, key: str, sandbox_key: str, view: Optional[NsView]) -> str:
    used = set(view.links) if view else set()
    used.update(run.endpoints[k]["ifname"] for k in run.members(sandbox_key)
                if k != key and run.endpoints[k].get("ifname"))
    i = 0
    while "eth%d" % i in used:
        i += 1
    return "eth%d" % i


def endpoint_present(run: Run, spec: EndpointSpec) -> EndpointRecord:
    net, drv = _network_for(run, spec)
    key, sb = spec.key, spec.sandbox_key
    if sb is None:
        raise SpecError("one of sandbox or sandbox_path is required", "sandbox")
    old = run.endpoints.get(key)
    if old and old["sandbox"] != sb:
        endpoint_remove(run, old)  # moving to another sandbox is a leave and a join
        old = None
    given = dict(spec.sandbox_options)
    record: EndpointRecord = {
        "name": spec.name, "network": spec.network, "sandbox": sb,
        "aliases": list(spec.aliases), "publish": [p.as_dict() for p in spec.publish],
        "ifname": None, "ipv4_address": None, "ipv6_address": None, "mac_address": None, "default_route": False,
        "dns": given.get("dns"), "dns_search": given.get("dns_search"), "dns_options": given.get("dns_options"),
        "extra_hosts": given.get("extra_hosts")}
    if spec.sysctls:  # recorded only when given, as records of earlier releases have none
        record["sysctls"] = dict(spec.sysctls)
    if spec.routes:
        record["routes"] = [route.copy() for route in spec.routes]

    if spec.default_route_metric is not None:
        record["default_route_metric"] = spec.default_route_metric
    if spec.bandwidth:
        record["bandwidth"] = spec.bandwidth.copy()
    if spec.cni_chain:
        record["cni_chain"] = spec.cni_chain
    changes: List[Change] = []
    sb_view = None
    if drv.creates_sandbox:
        changes += sandbox_join(run, sb, bool(spec.sandbox_path))
        sb_view = None if sb in run.sandboxes_made else run.sandbox_view(sb)
    if "ifname" in drv.endpoint_options:
        record["ifname"] = spec.ifname or (old and old["ifname"]) or _free_ifname(run, key, sb, sb_view)
    drv.check_endpoint(net, spec, old, lambda: [ep for ep in run.endpoints_of(net["name"]) if ep["name"] != spec.name])
    _check_sandbox_options(run, spec, key, sb)
    if drv.pooled(net):
        address = run.ipam().request_address(net["name"], spec.name, spec.ipv4_address)[0] \
            if net.get("subnet") else None
        if net.get("ipv6"):
            wanted6 = spec.ipv6_address or (drv.default_ipv6_address(net, address) if address else None)
            record["ipv6_address"] = run.ipam().request_address(names.ipv6_pool(net["name"]), spec.name, wanted6,
                                                                "ipv6_address")[0]
        _check_publish(run, spec, key)
        routable = bool(net.get("gateway") or net.get("ipv6_gateway"))
        if spec.default_route and not routable:
            raise SpecError("network %r is internal: it has no gateway for a default route" % net["name"],
                            "default_route")
        if spec.default_route is not None:
            default_route = spec.default_route
        elif net["internal"]:
            default_route = False  # its gateway forwards nowhere: fail fast (unreachable) instead
        elif spec.default_route_metric is not None:
            default_route = routable  # a metric asks for a default route
        elif old:
            default_route = old["default_route"]
        else:
            default_route = routable and \
                not any(run.endpoints[k]["default_route"] for k in run.members(sb) if k != key)
        record["ipv4_address"] = address
        record["default_route"] = default_route
        if default_route:
            _check_default_route(run, spec, key, sb)
        record["mac_address"] = (spec.mac_address or _derived_mac(net, address, record["ipv6_address"])) \
            if drv.own_mac(net) else None
    elif cni_ipam.of(net):
        record["default_route"] = _ipam_default_route(run, spec, key, sb, old)
        record["mac_address"] = spec.mac_address if drv.own_mac(net) else None
        cni_ipam.carry(net, record, old)
    set_parts(record, drv.endpoint_record(net, spec.name))
    record.update(drv.learned(net, old))  # type: ignore[typeddict-item]
    chain.carry(net, record, old)
    if old:
        moved = (old.get("ipv4_address"), old.get("ipv6_address")) != (record["ipv4_address"], record["ipv6_address"])
        _forget_connections(run, old, keep=() if moved else record["publish"])
    changes += join_endpoint(run, net, drv, record, old, sb_view)
    run.queue(changes)
    run.set_endpoint(key, record)
    return record


def _ipam_default_route(run: Run, spec: EndpointSpec, key: str, sb: str, old: Optional[EndpointRecord]) -> bool:
    """Whether the default routes of an endpoint whose addresses an IPAM plugin gives (cni_ipam) are
    set, when its result has any: as given, else as before, else when no other endpoint of the
    sandbox gives it one (as on the collection's own pools)."""
    if spec.default_route is not None:
        wanted = spec.default_route
    elif old:
        wanted = old["default_route"]
    else:
        wanted = not any(run.endpoints[k]["default_route"] for k in run.members(sb) if k != key)
    if wanted:
        _check_default_route(run, spec, key, sb)
    return wanted


def _derived_mac(net: NetworkRecord, address: Optional[str], address6: Optional[str]) -> str:
    """The MAC an endpoint without a mac_address takes: from its IPv4 address, or on an IPv6-only
    network from its IPv6 one, which must then be among its subnet's first 2^40 addresses so that no
    other endpoint's derives the same (names.mac_from_ipv6)."""
    if address:
        return names.mac_from_ipv4(address)
    subnet = ipaddress.ip_network(net["ipv6_subnet"] or "")
    if (int(ipaddress.ip_address(address6 or "")) - int(subnet.network_address)) >> names.MAC_IPV6_BITS:
        raise SpecError("%s is too far into %s for a MAC to be derived from it: an endpoint of an IPv6-only network "
                        "takes the last %d bits of its address as its MAC, so give an address among the subnet's "
                        "first 2^%d, or a mac_address" % (address6, subnet, names.MAC_IPV6_BITS, names.MAC_IPV6_BITS),
                        "ipv6_address")
    return names.mac_from_ipv6(address6)


def join_endpoint(run: Run, net: NetworkRecord, drv: Driver, record: EndpointRecord, old: Optional[EndpointRecord],
                  view: Optional[NsView]) -> List[Change]:
    """Changes that make or update an endpoint in its sandbox (``view``: its snapshot; None: made in
    this run), ``old`` being its previous record: its driver's join, then after_join's and its CNI
    chain's. Where the chain must be DELeted while the endpoint stays, its link is deleted and made
    again with it (chain.unmade)."""
    host_view = run.kernel.host_view()
    out: List[Change] = []
    lease = cni_ipam.unmade(net, record, old, view) if cni_ipam.of(net) else None
    if lease is not None and old is not None:
        out += cni_ipam.delete(net, old, lease)
        cni_ipam.forget(record)
    why = chain.unmade(net, record, old, view)
    if why is not None and old is not None and view is not None:
        out += [chain.delete(old, why)] + drv.leave(net, old, host_view, view)
        host_view, view = host_view.without(drivers.host_links(old)), view.without([old["ifname"] or ""])
    joined = drv.join(net, record, old, host_view, view)
    joined += cni_ipam.changes(net, record) if cni_ipam.of(net) else []
    return out + joined + after_join(run, record, old, joined, view) + chain.changes(run, record, old, joined, why is not None)


def after_join(run: Run, record: EndpointRecord, old: Optional[EndpointRecord], joined: List[Change],
               view: Optional[NsView]) -> List[Change]:
    """What every driver's endpoint gets after its join's changes ``joined``, from the sandbox's
    ``view`` (None: made in this run), ``old`` being its previous record: its sysctls, its routes and
    its bandwidth. A run converging an endpoint and cnm_info's drift alike plan it here."""
    return sysctl_changes(run, record, joined) + route_changes(run, record, old, joined, view) + \
        shaping.changes(run, record, old, joined)


def host_links(record: EndpointRecord) -> Set[str]:
    """Every host link an endpoint owns: its driver's parts' and its bandwidth's ifb."""
    return drivers.host_links(record) | shaping.host_links(record)


def _check_default_route(run: Run, spec: EndpointSpec, key: str, sb: str) -> None:
    """The endpoints of a sandbox that give it a default route give each its own metric: the
    kernel keeps one default route of each metric, and the lowest metric's is used."""
    metric = spec.default_route_metric or 0
    for other_key in sorted(run.members(sb) - {key}):
        other = run.endpoints[other_key]
        if other["default_route"] and other.get("default_route_metric", 0) == metric:
            raise SpecError("endpoint %s of the same sandbox gives its default route at metric %d too; give one of "
                            "them another default_route_metric (the lowest metric's route is used)"
                            % (other_key, metric),
                            "default_route" if spec.default_route_metric is None else "default_route_metric")


def sysctl_changes(run: Run, record: EndpointRecord, joined: List[Change]) -> List[Change]:
    """Changes that give the endpoint's sandbox and interface its sysctls, after its join's
    changes ``joined``. Where the sandbox or the link is made in this run, none is read: all are
    set. A key no longer listed keeps its value."""
    wanted, ifname, sb = record.get("sysctls") or {}, record.get("ifname"), record["sandbox"]
    paths = dict((key, sysctl_path(key, ifname or "")) for key in wanted)
    fresh = sb in run.sandboxes_made or any(c.op in LINK_MADE for c in joined)
    have = {} if fresh or not paths else run.kernel.sysctls_in(sb, paths.values())
    out: List[Change] = []
    for key, value in sorted(wanted.items()):
        now = have.get(paths[key])
        if now is not None and sysctl_text(now) == value:
            continue
        shown = sysctl_path(key, ifname or "", ".")
        out.append(plan.change("set %s = %s in %s%s" % (shown, value, sb, "" if now is None else " (was %s)" % now),
                               "sysctl_set", paths[key], value, sb))
    return out


def _route_key(route: RouteRecord) -> Tuple[str, int, int]:
    """What tells a route from the others of its sandbox (as the kernel replaces them)."""
    return route["dst"], route["table"], route["metric"]


# The operations after which an endpoint's link has lost its routes, or had none: made (again),
# renamed (taken down), an address removed (the last of a family takes its routes), set up.
ROUTES_LOST = LINK_MADE + ("link_rename", "addr_del")


def route_changes(run: Run, record: EndpointRecord, old: Optional[EndpointRecord], joined: List[Change],
                  view: Optional[NsView]) -> List[Change]:
    """Changes that give the endpoint's link its static routes, after its join's changes
    ``joined``, from ``view`` (the sandbox's snapshot; None: made in this run), and remove those
    of ``old`` (its previous record) that are no longer listed. The view holds the routes of the
    other tables the run asked for (read_tables); where the link has lost its routes (ROUTES_LOST),
    none is read."""
    wanted, ifname, sb = record.get("routes") or [], record["ifname"] or "", record["sandbox"]
    keys = set(_route_key(route) for route in wanted)
    dropped = [route for route in (old.get("routes") or [] if old else []) if _route_key(route) not in keys]
    link = view.link(ifname) if view is not None else None
    if view is None or link is None or any(c.op in ROUTES_LOST or dict(c.kwargs).get("state") == "up" for c in joined):
        return [_route_set(route, ifname, sb) for route in wanted]
    if not wanted and not dropped:
        return []
    tables = set(route["table"] for route in wanted + dropped) - {MAIN_TABLE}
    missing = sorted(t for t in tables if t not in view.tables)  # asked for after the view was read
    routes = view.routes + [r for t in sorted(tables - set(missing)) for r in view.tables[t]]
    have: Set[Tuple[str, int, int, Optional[str]]] = set()
    for route in routes + (run.kernel.routes_in(sb, missing) if missing else []):
        for gateway, oif in route.gateways[:1]:
            if oif == link.index and len(route.gateways) == 1:
                have.add((route.dst, route.table, route.metric, gateway))
    out = [_route_set(route, ifname, sb) for route in wanted if _route_key(route) + (route["gateway"],) not in have]
    for route in dropped:
        if any(k[:3] == _route_key(route) for k in have):
            out.append(plan.change("remove route %s in %s" % (route_text(route), sb), "route_del",
                                   route["dst"], ifname, sb, metric=route["metric"], table=route["table"]))
    return out


def read_tables(run: Run, sb: str, *route_lists: Optional[Sequence[RouteRecord]]) -> None:
    """Have sandbox ``sb``'s view hold the routes of the tables the lists name (beside main)."""
    tables = set(route["table"] for routes in route_lists for route in routes or ()) - {MAIN_TABLE}
    if tables:
        run.kernel.read_tables(sb, tables)


def _route_set(route: RouteRecord, ifname: str, sb: str) -> Change:
    return plan.change("route %s in %s" % (route_text(route), sb), "route_set", route["dst"], ifname, sb,
                       gateway=route["gateway"], metric=route["metric"], table=route["table"])


def _forget_connections(run: Run, record: EndpointRecord, keep: Sequence[PortRecord] = ()) -> None:
    """Have the run delete the connections the host tracks to ``record``'s published ports (but those
    in ``keep``): a client that goes on sending to a port that now leads elsewhere must reach it."""
    for port in record.get("publish") or []:
        if port in keep:
            continue
        mapping = recorded_port(port)
        for address in (record.get("ipv4_address"), record.get("ipv6_address")):
            if address:
                run.forget.append((address, mapping.protocol, mapping.host_port, mapping.host_port + mapping.count - 1))


def endpoint_remove(run: Run, record: EndpointRecord) -> None:
    _forget_connections(run, record)
    net = run.networks.get(record["network"])
    sb = record["sandbox"]
    key = names.endpoint_key(record["network"], record["name"])
    changes = [chain.delete(record)] if record.get("cni_chain_attachment") else []  # first: the chain acts on the link
    changes += cni_ipam.delete(net, record)  # whatever becomes of the sandbox: DEL gives the lease back
    # The last endpoint of a sandbox this collection made, with no process inside: removing
    # the namespace removes its links too, in one kernel batch (as `ip netns del` does).
    goes_with_sandbox = sb in run.sandboxes and run.sandboxes[sb]["created"] and run.members(sb) == {key} \
        and not run.kernel.netns_busy(sb)
    if net is not None:
        drv = drivers.get(net["driver"])
        if not goes_with_sandbox or not drv.leaves_with_sandbox:
            host_view = run.kernel.host_view()
            # The sandbox is looked into only when the host end is gone (its dump is the cost).
            links = drivers.host_links(record)
            missing = not links or any(host_view.link(link) is None for link in links)
            changes += drv.leave(net, record, host_view, run.sandbox_view(sb) if missing else None)
        changes += [plan.change("delete ifb %s" % link, "link_del_batch", link)
                    for link in sorted(shaping.host_links(record)) if run.kernel.host_view().link(link) is not None]
        if drv.pooled(net):
            _release_addresses(run, net["name"], record["name"])
    else:  # its network's record is gone: no driver to ask, but its parts name its host links
        changes += [plan.change("delete %s" % link, "link_del_batch", link) for link in sorted(host_links(record))]
    run.del_endpoint(key)
    run.queue(changes + sandbox_release(run, sb))


def _release_addresses(run: Run, network: str, name: str) -> None:
    """The endpoint's addresses in its network's pools (its IPv6 one, if any, too)."""
    run.ipam().release_address(network, name)
    run.ipam().release_address(names.ipv6_pool(network), name)


def finish_interrupted(run: Run) -> None:
    """Finish the removals an interrupted run journaled (store.py): the endpoints' records,
    addresses and kernel objects, and the sandboxes' records, namespaces and files."""
    journal = run.store.journal()
    if journal is None:
        return
    for key in journal["endpoints"]:
        if key in run.endpoints:
            endpoint_remove(run, run.endpoints[key])
            continue
        network, name = key.split("/", 1)  # its record went: its address and its name in the hosts files may not have
        run.networks_touched.add(network)
        net = run.networks.get(network)
        if net is not None and drivers.get(net["driver"]).pooled(net):
            _release_addresses(run, network, name)
    for key in journal["sandboxes"]:
        run.queue(sandbox_release(run, key))
        run.sandboxes_touched.add(key)


def endpoint_absent(run: Run, spec: EndpointSpec) -> Optional[EndpointRecord]:
    old = run.endpoints.get(spec.key)
    if old is not None:
        endpoint_remove(run, old)
    return old


def endpoints_converge(run: Run, specs: Sequence[EndpointSpec], state: str, exclusive: bool,
                       networks: Iterable[str] = (), bulk: bool = True) -> List[Optional[EndpointRecord]]:
    """Many endpoints in one run: one observation per namespace, one apply, one write.

    With ``exclusive``, endpoints of ``networks`` (and of the networks the specs name)
    that are not listed are removed. Returns the records of the listed endpoints.
    In ``bulk``, errors name the item: ``endpoints[3].ipv4_address``.
    """
    records: List[Optional[EndpointRecord]] = []
    if state == "present":
        for spec in specs:
            old = run.endpoints.get(spec.key)
            if spec.sandbox_key:
                read_tables(run, spec.sandbox_key, spec.routes, old.get("routes") if old else None)
        run.kernel.prefetch(spec.sandbox_key for spec in specs)
    for i, spec in enumerate(specs):
        try:
            if state == "present":
                records.append(endpoint_present(run, spec))
            else:
                endpoint_absent(run, spec)
                records.append(None)
        except CnmError as e:
            if bulk and e.option:
                e.option = "endpoints[%d].%s" % (i, e.option)
            raise
    if exclusive and state == "present":
        listed = set(spec.key for spec in specs)
        scope = set(networks) | set(spec.network for spec in specs)
        for key in sorted(run.endpoints):
            if run.endpoints[key]["network"] in scope and key not in listed:
                endpoint_remove(run, run.endpoints[key])
    return records


def endpoint_facts(run: Run, record: Optional[EndpointRecord]) -> Dict[str, Any]:
    if not record:
        return {}
    facts = endpoint_public(record)
    if record["sandbox"] in run.sandboxes:
        facts["hosts_file"] = sandbox.files_dir(run.state_dir, record["sandbox"]) + "/hosts"
    return facts
