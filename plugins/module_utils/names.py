# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place that derives the names the kernel sees (IFNAMSIZ: 15 bytes), and what names
this host."""

from __future__ import annotations

import hashlib
import os
import re
from typing import Optional

from ansible_collections.cnm.fabric.plugins.module_utils.store import read_text

try:
    from netaddr import EUI, IPAddress, mac_unix_expanded
except ImportError:  # reported by common.run_module, with the install hint
    pass

MACHINE_ID = "/etc/machine-id"
HOSTNAME = "/proc/sys/kernel/hostname"

IFNAMSIZ = 15
BRIDGE_PREFIX = "cnm-"
VETH_PREFIX = "cnmv"
VXLAN_PREFIX = "cnmx"
SHIM_PREFIX = "cnms"
IFB_PREFIX = "cnmb"
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")  # matched whole (fullmatch): no trailing newline
# Interface names the collection takes from users: what every tool that reads them (nft, ip, sysctl paths,
# hosts and unit files) takes as one plain word. The kernel takes more (anything but '/', ':' and white space).
IFNAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,%d}" % (IFNAMSIZ - 1))
# Names the kernel gives a meaning of its own: /proc/sys/net/*/conf/{all,default}, the loopback device,
# and the bonding driver's control file beside the devices in /sys/class/net.
RESERVED_IFNAMES = ("all", "default", "lo", "bonding_masters")


def _digest(text: str, size: int) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:size]


def bridge_name(network: str) -> str:
    """``cnm-<network>`` when it fits, else a prefix of it and a short digest."""
    name = BRIDGE_PREFIX + network
    if len(name.encode("utf-8")) <= IFNAMSIZ:
        return name
    return BRIDGE_PREFIX + network[:5] + "-" + _digest(network, 5)


def veth_name(network: str, endpoint: str) -> str:
    """Host end of an endpoint's veth pair: stable, unique per (network, endpoint)."""
    return VETH_PREFIX + _digest(network + "/" + endpoint, IFNAMSIZ - len(VETH_PREFIX))


def ifb_name(network: str, endpoint: str) -> str:
    """The ifb device that shapes what an endpoint's sandbox sends (shaping.py)."""
    return IFB_PREFIX + _digest(network + "/" + endpoint, IFNAMSIZ - len(IFB_PREFIX))


def vxlan_name(network: str) -> str:
    """The VXLAN device of an overlay network."""
    return VXLAN_PREFIX + _digest(network, IFNAMSIZ - len(VXLAN_PREFIX))


def shim_name(network: str) -> str:
    """The host's own macvlan of a network with host access."""
    return SHIM_PREFIX + _digest(network, IFNAMSIZ - len(SHIM_PREFIX))


DEFAULT_STATE_DIR = "/var/lib/cnm"
IFALIASZ = 255  # bytes of a link's alias (IFLA_IFALIAS), less its terminating NUL


def owner_tag(state_dir: str) -> str:
    """The alias the collection gives every host link it makes for ``state_dir``, so that no other
    state_dir takes it for a leftover of its own."""
    tag = "cnm.fabric " + _canonical(state_dir)
    return tag if len(tag.encode("utf-8")) <= IFALIASZ else "cnm.fabric sha1:" + _digest(_canonical(state_dir), 40)


def table_name(state_dir: str) -> str:
    """The name of a state_dir's nftables tables (``inet`` and ``bridge``): ``cnm`` for the default
    state_dir, ``cnm_`` and a digest of the path for any other, so each state_dir has tables of its own."""
    path = _canonical(state_dir)
    return "cnm" if path == DEFAULT_STATE_DIR else "cnm_" + _digest(path, 8)


def _canonical(state_dir: str) -> str:
    return os.path.normpath(os.path.abspath(state_dir))


def endpoint_key(network: str, endpoint: str) -> str:
    return network + "/" + endpoint


def sandbox_key(sandbox: Optional[str], sandbox_path: Optional[str]) -> Optional[str]:
    """A named netns is recorded by name, an existing one by its path (None: neither given)."""
    return sandbox if sandbox else sandbox_path


def sandbox_files_dir(state_dir: str, key: str) -> str:
    """Where hosts/resolv.conf of a sandbox given by path are written."""
    return "%s/sandboxes/%s" % (state_dir, _digest(key, 12))


def mac_from_ipv4(address: object) -> str:
    """Docker's convention: 02:42 followed by the four octets of the address."""
    return str(EUI(0x0242 << 32 | int(IPAddress(str(address))), dialect=mac_unix_expanded))


MAC_IPV6_BITS = 40  # the bits of an IPv6 address an address-derived MAC carries


def mac_from_ipv6(address: object) -> str:
    """An IPv6-only network's convention: 06 (locally administered, unicast, never Docker's 02:42)
    followed by the address's last 40 bits. Two addresses of a subnet whose host parts are below
    2^40 (every automatic one) differ there, so their MACs differ."""
    low = int(IPAddress(str(address))) & ((1 << MAC_IPV6_BITS) - 1)
    return str(EUI(0x06 << MAC_IPV6_BITS | low, dialect=mac_unix_expanded))


def mac_from_address(address: object) -> str:
    """The MAC an endpoint or a bridge takes from its address: IPv4's, else IPv6's convention."""
    return mac_from_ipv6(address) if ":" in str(address) else mac_from_ipv4(address)


def ifname_problem(name: str) -> Optional[str]:
    """Why ``name`` cannot be an interface name the collection takes from a user (None: it can)."""
    if not isinstance(name, str) or not IFNAME_RE.fullmatch(name):
        return ("%r is not a valid interface name: use at most %d bytes of ASCII letters, digits, '_', '.' or "
                "'-', starting with a letter, digit or '_'" % (name, IFNAMSIZ))
    if name in RESERVED_IFNAMES:
        return "%r is reserved by the kernel (%s are never taken)" % (name, ", ".join(RESERVED_IFNAMES))
    return None


def ipv6_pool(network: str) -> str:
    """The name of a dual-stack network's IPv6 pool in the local address space (``:`` is in
    no network's name, so it names no other pool)."""
    return network + ":ipv6"


def machine_identity() -> str:
    """This host's machine-id (its host name when it has none): what tells it from other hosts."""
    return (read_text(MACHINE_ID) or read_text(HOSTNAME) or "").strip()
