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

from ansible_collections.cnm.fabric.plugins.module_utils.drivers import bridge
from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError
from ansible_collections.cnm.fabric.plugins.module_utils.kernel import ZERO_MAC
from ansible_collections.cnm.fabric.plugins.module_utils.plan import change

ENDPOINT_OPTIONS = bridge.ENDPOINT_OPTIONS
CREATES_SANDBOX = True
join = bridge.join
leave = bridge.leave


def _vxlan_matches(link, network, underlay_index):
    info = link.vxlan
    return (info is not None and info.vni == network["vni"]
            and info.port == network["port"] and info.local == network["local_ip"]
            and info.underlay == underlay_index and not info.learning and info.proxy)


def create_network(network, view, sysctls, neighbours):
    """The bridge (as the bridge driver makes it), its VXLAN device and the peers' entries.

    ``neighbours`` is the device's current ``(fdb, arp)``, as Kernel.neighbours reads it.
    """
    out = bridge.create_network(network, view, sysctls)
    vx, br, mtu = network["vxlan_interface"], network["interface"], network["mtu"]
    link = view.link(vx)
    if link is not None and link.kind != "vxlan":
        raise KernelError("%s exists and is not a VXLAN device; remove it" % vx)
    if link is None or not _vxlan_matches(link, network, view.link(network["underlay_interface"]).index):
        if link is not None:  # settings a VXLAN device cannot change in place
            out.append(change("delete %s (its VNI, port or underlay changed)" % vx, "link_del", vx))
        out.append(change("create VXLAN %s (VNI %d, %s:%d via %s, mtu %d) on %s"
                          % (vx, network["vni"], network["local_ip"], network["port"],
                             network["underlay_interface"], mtu, br),
                          "vxlan_add", vx, network["vni"], network["port"], network["local_ip"],
                          network["underlay_interface"], mtu, br, undo=("link_del", (vx,))))
        neighbours = (set(), {})
    else:
        bridge_link = view.link(br)
        if bridge_link is None or link.master != bridge_link.index:
            out.append(change("attach %s to %s" % (vx, br), "link_attach", vx, br))
        if link.mtu != mtu:
            out.append(change("set mtu %d on %s (was %d)" % (mtu, vx, link.mtu), "link_set", vx, mtu=mtu))
        if not link.up:
            out.append(change("set %s up" % vx, "link_set", vx, state="up"))
    return out + peer_changes(network, *neighbours)


def delete_network(network, view):
    out = []
    if view.link(network["vxlan_interface"]) is not None:
        out.append(change("delete VXLAN %s" % network["vxlan_interface"], "link_del", network["vxlan_interface"]))
    return out + bridge.delete_network(network, view)


def wanted_entries(peers):
    """The forwarding and ARP entries that the recorded ``peers`` ({vtep: [endpoint]}) need."""
    fdb, arp = set(), {}
    for vtep, endpoints in peers.items():
        fdb.add((ZERO_MAC, vtep))
        for ep in endpoints:
            fdb.add((ep["mac"], vtep))
            arp[ep["ip"]] = ep["mac"]
    return fdb, arp


def peer_changes(network, fdb, arp):
    """Changes that turn the device's entries ``fdb``/``arp`` into what the peers need:
    stale entries go first, so a MAC that moved to another VTEP is moved, not doubled."""
    vx = network["vxlan_interface"]
    want_fdb, want_arp = wanted_entries(network.get("peers") or {})
    out = []
    for mac, vtep in sorted(fdb - want_fdb):
        out.append(change("remove %s -> %s from %s" % (mac, vtep, vx), "fdb_del", vx, mac, vtep))
    for ip in sorted(set(arp) - set(want_arp)):
        out.append(change("remove neighbour %s from %s" % (ip, vx), "neigh_del", vx, ip))
    for mac, vtep in sorted(want_fdb - fdb):
        out.append(change("add %s -> %s to %s" % (mac, vtep, vx), "fdb_add", vx, mac, vtep))
    for ip, mac in sorted(want_arp.items()):
        if arp.get(ip) != mac:
            out.append(change("add neighbour %s -> %s to %s" % (ip, mac, vx), "neigh_set", vx, ip, mac))
    return out
