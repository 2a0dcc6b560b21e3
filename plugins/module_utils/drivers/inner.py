# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An endpoint's link inside its sandbox, planned alike by every driver that gives it one:
the inner end of a veth pair (bridge, overlay), or the macvlan or ipvlan link itself.

Each function compares the endpoint's record with the sandbox's snapshot and returns
only the Changes that differ.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError
from ansible_collections.cnm.fabric.plugins.module_utils.plan import change


def cidr(network, endpoint):
    """The endpoint's address with the network's prefix length."""
    return "%s/%d" % (endpoint["ipv4_address"], ipaddress.ip_network(network["subnet"]).prefixlen)


def current_name(endpoint, old):
    """The link's name now: its former one (``old``: the previous record) while the endpoint
    stays in the same sandbox."""
    return old["ifname"] if old and old.get("sandbox") == endpoint["sandbox"] else endpoint["ifname"]


def check_free(view, ifname, ns):
    """Refuse a name another link of the sandbox has (``view`` None: the sandbox is new)."""
    if view is not None and view.link(ifname) is not None:
        raise KernelError("%s already exists in sandbox %s; choose another ifname" % (ifname, ns), "ifname")


def rename(endpoint, current, view):
    """The link renamed to the endpoint's ifname, if it has another (which takes it down, and
    so flushes the routes through it)."""
    ifname, ns = endpoint["ifname"], endpoint["sandbox"]
    if current == ifname:
        return []
    check_free(view, ifname, ns)
    return [change("rename %s to %s in %s" % (current, ifname, ns), "link_rename", current, ifname, ns)]


def addressing(endpoint, link, have, address):
    """The link's MAC (when the endpoint has one of its own) and its one address ``address``
    among those it ``have``s; returns (changes, whether they flush its routes)."""
    ifname, ns, mac = endpoint["ifname"], endpoint["sandbox"], endpoint["mac_address"]
    out = []
    if link is not None and mac and (link.mac or "").lower() != mac:
        out.append(change("set mac %s on %s in %s" % (mac, ifname, ns), "link_set", ifname, ns, address=mac))
    stale = sorted(have - {address})
    for old in stale:  # first: removing a primary address takes the secondaries of its subnet
        out.append(change("remove %s from %s in %s" % (old, ifname, ns), "addr_del", ifname, old, ns))
    if address not in have:
        out.append(change("add %s to %s in %s" % (address, ifname, ns), "addr_add", ifname, address, ns))
    return out, bool(stale)


def default_route(endpoint, gateway, view, lost, index=None):
    """The sandbox's default route through link ``index`` via ``gateway`` (None: on-link), as
    the endpoint's ``default_route`` says; ``lost``: earlier changes flush it, ``view`` None:
    the link is new."""
    ifname, ns = endpoint["ifname"], endpoint["sandbox"]
    routed_here = view is not None and view.default_route is not None and view.default_dev == index
    if endpoint["default_route"]:
        if lost or not routed_here or view.default_gateway != gateway:
            return [change("route default via %s in %s" % (gateway or ifname, ns), "default_route_set",
                           gateway, ifname, ns)]
    elif routed_here and not lost:
        return [change("remove the default route via %s in %s" % (ifname, ns), "default_route_del", ifname, ns)]
    return []
