# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VRF a network's host devices are in (cnm_network's ``vrf``), planned alike for every
driver that has host devices to put there (Driver.vrf_devices: a bridge; a macvlan or ipvlan
network's VLAN sub-interface and shim).

A VRF device of that name that exists is used as it is and never changed or deleted: it is its
maker's. One that does not is made, with a routing table of its own (the lowest from
TABLE_FIRST that no VRF of the host and no record has), marked as the state_dir's, made again
when it is gone (after a reboot, with the same table), and deleted with the last network of the
state_dir in it. Networks of one state_dir in one VRF share one record of it.
"""

from __future__ import annotations

import itertools
from typing import Iterable, List, Mapping, Optional, Set

from ansible_collections.cnm.fabric.plugins.module_utils import drivers
from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError, SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.kernel import Kernel
from ansible_collections.cnm.fabric.plugins.module_utils.model import NsView
from ansible_collections.cnm.fabric.plugins.module_utils.plan import Change, change
from ansible_collections.cnm.fabric.plugins.module_utils.records import NetworkRecord, VrfRecord

TABLE_FIRST = 1000  # above the tables iproute2 names and those a host's own configuration numbers by hand


def vrf_record(name: Optional[str], network: str, old: Optional[NetworkRecord], view: NsView,
               networks: Mapping[str, NetworkRecord]) -> Optional[VrfRecord]:
    """The VRF record of network ``network`` put in VRF ``name`` (None: in none): its previous one
    (``old``: its record before), another network's of the same VRF (``networks``), or a new one
    from the host's ``view``: a VRF found there, or one to make."""
    if name is None:
        return None
    was = old.get("vrf") if old else None
    if was and was["name"] == name:
        return was.copy()
    for other in networks.values():
        vrf = other.get("vrf")
        if other["name"] != network and vrf and vrf["name"] == name:
            return vrf.copy()
    link = view.link(name)
    if link is not None:
        if link.kind != "vrf":
            raise SpecError("%s exists and is not a VRF device; name another" % name, "vrf")
        return {"name": name, "table": link.vrf_table or 0, "created": False}
    used = set(lk.vrf_table for lk in view.links.values() if lk.kind == "vrf")
    used.update(n["vrf"]["table"] for n in networks.values() if n.get("vrf"))
    table = next(t for t in itertools.count(TABLE_FIRST) if t not in used)
    return {"name": name, "table": table, "created": True}


def changes(record: NetworkRecord, view: NsView, made: Set[str], kernel: Kernel) -> List[Change]:
    """The network's VRF, made if it is the collection's and missing (unless already in ``made``,
    the VRFs this run makes, which it joins; ``kernel`` tells whether it can), and each of the
    network's host devices enslaved to it. Planned after the driver's create_network, which makes
    those devices."""
    vrf = record.get("vrf")
    if not vrf:
        return []
    name, table = vrf["name"], vrf["table"]
    link = view.link(name)
    out: List[Change] = []
    if link is None and name not in made:
        if not vrf["created"]:
            raise KernelError("the VRF %s of network %r does not exist, and it is not the collection's to make: "
                              "make it again (table %d), or name another" % (name, record["name"], table), "vrf")
        if not kernel.kind_supported("vrf"):
            raise KernelError("the kernel cannot make VRF devices: load its module (modprobe vrf)", "vrf")
        made.add(name)
        out.append(change("create VRF %s (table %d)" % (name, table), "link_add", "vrf", name,
                          data=(("IFLA_VRF_TABLE", table),), undo=("link_del", (name,))))
    elif link is not None and link.kind != "vrf":
        raise KernelError("%s exists and is not a VRF device; remove it, or name another VRF" % name, "vrf")
    elif link is not None and vrf["created"] and not link.up:
        out.append(change("set VRF %s up" % name, "link_set", name, state="up"))
    for device in drivers.get(record["driver"]).vrf_devices(record):
        found = view.link(device)
        if link is None or found is None or found.master != link.index:
            out.append(change("attach %s to VRF %s" % (device, name), "link_attach", device, name))
    return out


def leave(old: NetworkRecord, record: Optional[NetworkRecord], view: NsView,
          networks: Iterable[NetworkRecord]) -> List[Change]:
    """What a network (``old``: its record before) leaving its VRF undoes: its host devices
    detached when it stays (``record``: its record now) out of any VRF, and the VRF deleted when the
    collection made it and no other network of ``networks`` (those staying) is in it."""
    was = old.get("vrf")
    now = record.get("vrf") if record else None
    if not was or (now and now["name"] == was["name"]):
        return []
    out: List[Change] = []
    link = view.link(was["name"])
    if record is not None and not now and link is not None:
        for device in drivers.get(record["driver"]).vrf_devices(record):
            found = view.link(device)
            if found is not None and found.master == link.index:
                out.append(change("detach %s from VRF %s" % (device, was["name"]), "link_attach", device, None))
    others = [n for n in networks if n["name"] != old["name"] and _name(n) == was["name"]]
    if was["created"] and not others and link is not None and link.kind == "vrf":
        out.append(change("delete VRF %s" % was["name"], "link_del", was["name"]))
    return out


def _name(network: NetworkRecord) -> Optional[str]:
    vrf = network.get("vrf")
    return vrf["name"] if vrf else None


def owned(networks: Iterable[NetworkRecord]) -> Set[str]:
    """The VRF devices the records say the collection made."""
    return set(n["vrf"]["name"] for n in networks if n.get("vrf") and n["vrf"]["created"])
