# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the inventory into an overlay network's fleet-wide lists.

Each host declares its endpoints in ``overlay_network_endpoints`` (items with ``name``,
``network`` and optionally the other options of cnm_endpoint: ``sandbox``, ``aliases``,
``ipv4_address``, ``ipv6_address``, ``mac_address``, ``publish``, ``default_route``,
``default_route_metric``, ``routes``, ``bandwidth``, ``dns``, ``dns_search``, ``dns_options``,
``extra_hosts``, ``sysctls``). The fleet's addresses, allocated once on the controller, are in
``overlay_network_addresses`` ({network: {endpoint: address}}), and each host's VTEP, once its
network exists, in ``overlay_network_vteps`` ({network: address}). The variable names can be
changed with keyword arguments.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

ENDPOINTS_VAR = "overlay_network_endpoints"
ADDRESSES_VAR = "overlay_network_addresses"
VTEPS_VAR = "overlay_network_vteps"
POOLS_VAR = "overlay_network_pools"
NETWORK_KEYS = ("mtu", "internal", "bridge")  # the options of a network item passed as they are
OVERLAY_KEYS = ("vni", "port")
SERVICE_OWNER = "service."  # the owner of a service's VIP in the fleet pool is service.NAME
HOST_OWNER = "host."  # and of a host's own address on a network (the routing mesh's) host.INVENTORY_HOSTNAME
ENDPOINT_KEYS = ("name", "sandbox", "ifname", "aliases", "ipv4_address", "ipv6_address", "mac_address", "publish",
                 "default_route", "default_route_metric", "routes", "bandwidth", "dns", "dns_search", "dns_options",
                 "extra_hosts", "sysctls")


def _vars(hostvars, host):
    """One host's variables. Each lookup makes Ansible gather them anew, so callers look
    each host up once per filter call."""
    try:
        return hostvars[host]
    except KeyError:
        raise AnsibleFilterError("cnm.fabric overlay filters: %r is not a host of the inventory" % (host,))


def _declared(host_vars, network, host, endpoints_var):
    items = host_vars.get(endpoints_var) or []
    if not isinstance(items, list):
        raise AnsibleFilterError("%s of host %s must be a list, not %s" % (endpoints_var, host, type(items).__name__))
    out = []
    for item in items:
        if not isinstance(item, dict) or not item.get("name") or not item.get("network"):
            raise AnsibleFilterError("every item of %s of host %s needs a name and a network: %r"
                                     % (endpoints_var, host, item))
        if item["network"] == network:
            out.append(item)
    return out


def _key(ipv4):
    """The option of an endpoint's fleet address: its IPv4 one, or on an IPv6-only network
    (``ipv4`` false) its IPv6 one."""
    return "ipv4_address" if ipv4 else "ipv6_address"


def _address(allocated, network, item, host, addresses_var, ipv4=True):
    if item.get(_key(ipv4)):
        return item[_key(ipv4)]
    if item["name"] not in allocated:
        raise AnsibleFilterError("endpoint %s of network %s on host %s has no address: give it %s, or "
                                 "allocate the fleet's addresses into %s first"
                                 % (item["name"], network, host, _key(ipv4), addresses_var))
    return allocated[item["name"]]


def _allocated(host_vars, network, addresses_var):
    return (host_vars.get(addresses_var) or {}).get(network) or {}


def overlay_addresses(hostvars, network, hosts, endpoints_var=ENDPOINTS_VAR, services=(), ipv4=True):
    """What cnm_ipam_pool's ``addresses`` needs for ``network``: one owner per endpoint of ``hosts``,
    one per service of ``services`` (items with ``name``, ``network`` and maybe ``vip``) on it, and,
    when one of those services publishes a port (the routing mesh), one per host. On an IPv6-only
    network (``ipv4`` false) the fleet pool is its IPv6 one, and the endpoints' addresses the IPv6 ones."""
    out, seen, mesh = [], {}, False
    for svc in services or []:
        if svc.get("network") == network:
            out.append({"owner": SERVICE_OWNER + svc["name"], "address": svc.get("vip")})
            mesh = mesh or any(port.get("published") for port in svc.get("ports") or [])
    for host in hosts:
        if mesh:
            out.append({"owner": HOST_OWNER + host, "address": None})
        for item in _declared(_vars(hostvars, host), network, host, endpoints_var):
            if item["name"].startswith((SERVICE_OWNER, HOST_OWNER)):
                raise AnsibleFilterError("endpoint %s of network %s on host %s: names starting with %r or %r are "
                                         "the services' and hosts' own"
                                         % (item["name"], network, host, SERVICE_OWNER, HOST_OWNER))
            if item["name"] in seen:
                raise AnsibleFilterError("endpoint %s of network %s is declared on %s and on %s; names are "
                                         "unique in a network" % (item["name"], network, seen[item["name"]], host))
            seen[item["name"]] = host
            out.append({"owner": item["name"], "address": item.get(_key(ipv4))})
    return out


def overlay_endpoints(hostvars, network, host, endpoints_var=ENDPOINTS_VAR, addresses_var=ADDRESSES_VAR, ipv4=True):
    """The endpoints of ``network`` that ``host`` declares, as cnm_endpoint's ``endpoints`` items,
    each with its fleet address (an IPv6 one on an IPv6-only network: ``ipv4`` false)."""
    host_vars = _vars(hostvars, host)
    allocated = _allocated(host_vars, network, addresses_var)
    out = []
    for item in _declared(host_vars, network, host, endpoints_var):
        ep = dict((k, item[k]) for k in ENDPOINT_KEYS if item.get(k) is not None)
        ep[_key(ipv4)] = _address(allocated, network, item, host, addresses_var, ipv4)
        out.append(ep)
    return out


def overlay_peers(hostvars, network, hosts, me, endpoints_var=ENDPOINTS_VAR, addresses_var=ADDRESSES_VAR,
                  vteps_var=VTEPS_VAR, ipv4=True):
    """cnm_overlay_peer's ``peers`` for host ``me``: every other host of ``hosts`` that has
    ``network`` (a VTEP in ``vteps_var``), with its endpoints, each known by its fleet address (an
    IPv6 one on an IPv6-only network: ``ipv4`` false). MAC addresses are derived from the addresses
    by the module, unless an endpoint declares one; no facts are needed."""
    allocated = _allocated(_vars(hostvars, me), network, addresses_var)
    peers = []
    for host in hosts:
        if host == me:
            continue
        host_vars = _vars(hostvars, host)
        vtep = (host_vars.get(vteps_var) or {}).get(network)
        if not vtep:
            continue  # the network is not (yet) on that host
        endpoints = []
        for item in _declared(host_vars, network, host, endpoints_var):
            ep = {"name": item["name"], "ip": _address(allocated, network, item, host, addresses_var, ipv4),
                  "aliases": list(item.get("aliases") or [])}
            if item.get("mac_address"):
                ep["mac"] = item["mac_address"]
            if ipv4 and item.get("ipv6_address"):
                ep["ip6"] = item["ipv6_address"]
            endpoints.append(ep)
        peer = {"vtep": vtep, "endpoints": endpoints}
        if allocated.get(HOST_OWNER + host):
            peer["host_address"] = allocated[HOST_OWNER + host]
        peers.append(peer)
    return peers


def _network(net, host_vars, me, underlay, pools_var, addresses_var):
    """cnm_network's options for network item ``net`` on host ``me``, with its fleet subnet."""
    name = net["name"]
    pool = (host_vars.get(pools_var) or {}).get(name)
    if not pool:
        raise AnsibleFilterError("network %s has no subnet in %s: allocate the fleet's pools first" % (name, pools_var))
    overlay = dict((k, net[k]) for k in OVERLAY_KEYS if net.get(k) is not None)
    overlay.update(encrypted=bool(net.get("encrypted")))
    overlay.update((k, v) for k, v in underlay.items() if v)
    host_address = _allocated(host_vars, name, addresses_var).get(HOST_OWNER + me)
    if host_address:
        overlay["host_address"] = host_address
    out = dict((k, net[k]) for k in NETWORK_KEYS if net.get(k) is not None)
    if _ipv4(net):
        out.update(subnet=[pool["subnet"]] + ([net["ipv6_subnet"]] if net.get("ipv6_subnet") else []),
                   ipv6=bool(net.get("ipv6")))
    else:  # the fleet pool is the IPv6 one
        out.update(subnet=[pool["subnet"]], ipv4=False, ipv6=True)
    out.update(name=name, driver="overlay", gateway=pool["gateway"], overlay=overlay)
    return out


def _ipv4(net):
    """Whether network item ``net`` has IPv4 (``ipv4: false``: IPv6-only)."""
    return net.get("ipv4") is not False


def overlay_host(hostvars, networks, hosts, me, services=(), encryption_keys=None, skip=(), local_ip=None,
                 underlay_interface=None, endpoints_var=ENDPOINTS_VAR, addresses_var=ADDRESSES_VAR, vteps_var=VTEPS_VAR,
                 pools_var=POOLS_VAR):
    """cnm_host's ``networks``, ``endpoints``, ``peers`` and ``services`` for host ``me``: each of
    ``networks`` (the role's items) but those named in ``skip``, with its fleet subnet and this host's
    ``local_ip`` and ``underlay_interface`` when given; on each, its
    endpoints (exclusive), its peers (exclusive; an encrypted network's with its keys, stage inbound)
    and the services of ``services`` on it, each with its VIP from the fleet pool."""
    keys = encryption_keys or {}
    host_vars = _vars(hostvars, me)
    out = {"networks": [], "endpoints": [], "peers": [], "services": []}
    kept = [net for net in networks if net["name"] not in skip]
    for net in kept:
        name = net["name"]
        out["networks"].append(_network(net, host_vars, me, {"local_ip": local_ip, "underlay_interface": underlay_interface},
                                        pools_var, addresses_var))
        out["endpoints"].append({"network": name, "exclusive": True, "endpoints": overlay_endpoints(
            hostvars, name, me, endpoints_var, addresses_var, _ipv4(net))})
        peers = {"network": name, "exclusive": True,
                 "peers": overlay_peers(hostvars, name, hosts, me, endpoints_var, addresses_var, vteps_var, _ipv4(net))}
        if net.get("encrypted"):
            peers.update(encryption_keys=list(keys.get(name) or []), encryption_stage="inbound")
        out["peers"].append(peers)
    for svc in services or []:
        if svc.get("network") not in [net["name"] for net in kept]:
            continue
        vip = _allocated(host_vars, svc["network"], addresses_var).get(SERVICE_OWNER + svc["name"])
        if not vip:
            raise AnsibleFilterError("service %s of network %s has no VIP in %s: allocate the fleet's addresses first"
                                     % (svc["name"], svc["network"], addresses_var))
        out["services"].append({"name": svc["name"], "network": svc["network"], "vip": vip,
                                "ports": list(svc.get("ports") or []), "endpoints": list(svc.get("endpoints") or []),
                                "aliases": list(svc.get("aliases") or [])})
    return out


class FilterModule(object):
    def filters(self):
        return {"overlay_peers": overlay_peers, "overlay_endpoints": overlay_endpoints,
                "overlay_addresses": overlay_addresses, "overlay_host": overlay_host}
