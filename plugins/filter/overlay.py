# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the inventory into an overlay network's fleet-wide lists.

Each host declares its endpoints in ``overlay_network_endpoints`` (items with ``name``,
``network`` and optionally the other options of cnm_endpoint: ``sandbox``, ``aliases``,
``ipv4_address``, ``ipv6_address``, ``mac_address``, ``publish``, ``default_route``, ``dns``,
``dns_search``, ``dns_options``, ``extra_hosts``). The fleet's addresses, allocated once on the controller,
are in ``overlay_network_addresses`` ({network: {endpoint: address}}), and each host's
VTEP, once its network exists, in ``overlay_network_vteps`` ({network: address}). The
variable names can be changed with keyword arguments.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

ENDPOINTS_VAR = "overlay_network_endpoints"
ADDRESSES_VAR = "overlay_network_addresses"
VTEPS_VAR = "overlay_network_vteps"
SERVICE_OWNER = "service."  # the owner of a service's VIP in the fleet pool is service.NAME
HOST_OWNER = "host."  # and of a host's own address on a network (the routing mesh's) host.INVENTORY_HOSTNAME
ENDPOINT_KEYS = ("name", "sandbox", "ifname", "aliases", "ipv4_address", "ipv6_address", "mac_address", "publish",
                 "default_route", "dns", "dns_search", "dns_options", "extra_hosts")


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


def _address(allocated, network, item, host, addresses_var):
    if item.get("ipv4_address"):
        return item["ipv4_address"]
    if item["name"] not in allocated:
        raise AnsibleFilterError("endpoint %s of network %s on host %s has no address: give it ipv4_address, or "
                                 "allocate the fleet's addresses into %s first"
                                 % (item["name"], network, host, addresses_var))
    return allocated[item["name"]]


def _allocated(host_vars, network, addresses_var):
    return (host_vars.get(addresses_var) or {}).get(network) or {}


def overlay_addresses(hostvars, network, hosts, endpoints_var=ENDPOINTS_VAR, services=()):
    """What cnm_ipam_pool's ``addresses`` needs for ``network``: one owner per endpoint of ``hosts``,
    one per service of ``services`` (items with ``name``, ``network`` and maybe ``vip``) on it, and,
    when one of those services publishes a port (the routing mesh), one per host."""
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
            out.append({"owner": item["name"], "address": item.get("ipv4_address")})
    return out


def overlay_endpoints(hostvars, network, host, endpoints_var=ENDPOINTS_VAR, addresses_var=ADDRESSES_VAR):
    """The endpoints of ``network`` that ``host`` declares, as cnm_endpoint's ``endpoints`` items,
    each with its fleet address."""
    host_vars = _vars(hostvars, host)
    allocated = _allocated(host_vars, network, addresses_var)
    out = []
    for item in _declared(host_vars, network, host, endpoints_var):
        ep = dict((k, item[k]) for k in ENDPOINT_KEYS if item.get(k) is not None)
        ep["ipv4_address"] = _address(allocated, network, item, host, addresses_var)
        out.append(ep)
    return out


def overlay_peers(hostvars, network, hosts, me, endpoints_var=ENDPOINTS_VAR, addresses_var=ADDRESSES_VAR,
                  vteps_var=VTEPS_VAR):
    """cnm_overlay_peer's ``peers`` for host ``me``: every other host of ``hosts`` that has
    ``network`` (a VTEP in ``vteps_var``), with its endpoints. MAC addresses are derived from
    the addresses by the module, unless an endpoint declares one; no facts are needed."""
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
            ep = {"name": item["name"], "ip": _address(allocated, network, item, host, addresses_var),
                  "aliases": list(item.get("aliases") or [])}
            if item.get("mac_address"):
                ep["mac"] = item["mac_address"]
            if item.get("ipv6_address"):
                ep["ip6"] = item["ipv6_address"]
            endpoints.append(ep)
        peer = {"vtep": vtep, "endpoints": endpoints}
        if allocated.get(HOST_OWNER + host):
            peer["host_address"] = allocated[HOST_OWNER + host]
        peers.append(peer)
    return peers


class FilterModule(object):
    def filters(self):
        return {"overlay_peers": overlay_peers, "overlay_endpoints": overlay_endpoints,
                "overlay_addresses": overlay_addresses}
