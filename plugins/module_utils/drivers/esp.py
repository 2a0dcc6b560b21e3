# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPsec ESP for an encrypted overlay network: keys, SPIs, and the plan of its SAs and policies.

The VXLAN traffic of the network between two VTEPs travels in ESP transport mode with
AES-GCM (rfc4106: a 256-bit key, a 32-bit salt, a 128-bit ICV), as Docker's encrypted
overlay does it. No key or SPI is exchanged: each SA's key, salt and SPI are derived
from the user's key with HKDF-SHA256 (RFC 5869) over the network's VNI and the two
VTEPs in order, so both ends compute the same SA from the same inventory, and no two
directions or networks share a key.

Everything of one network carries one number, its *tag* (``TAG | VNI``): the reqid of
its SAs, and the firewall mark that its nftables rule puts on the network's outgoing
VXLAN packets, which its outbound policies match. So the policy takes only that
network's traffic between the two VTEPs, and the network's objects are found by tag.

Keys rotate without loss the way Docker's key manager does it: of the list, the first
encrypts and all decrypt. A run at stage ``inbound`` adds the SAs that decrypt with every
key and changes no outbound SA that still has a key of the list; the run at stage
``complete`` that follows (on every host, once all had the first) moves the outbound SA
to the first key, new SA before the old one goes, and removes the SAs of keys no longer
listed.

The SAs have no anti-replay window. An SA is the same whenever it is made, so one made again
on one host (after a reboot, or a key put right) starts its sequence numbers at 1, and a
peer's SA that had counted them would drop its packets as replays. For the same reason they
have 32-bit sequence numbers: an SA carries 2^32 packets, and a key rotation makes new ones.
"""

from __future__ import annotations

import hashlib
import hmac
import string
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Set, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils.errors import SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.model import XfrmView
from ansible_collections.cnm.fabric.plugins.module_utils.plan import Change, change

if TYPE_CHECKING:  # overlay.py imports this module
    from ansible_collections.cnm.fabric.plugins.module_utils.drivers.overlay import OverlayPart

State = Tuple[str, str, int]   # an SA: (src, dst, spi)
Policy = Tuple[str, str, int]  # an outbound policy: (src, dst, VXLAN port)

TAG = 0xE5000000
KEY_BYTES = 32
AEAD = "rfc4106(gcm(aes))"
ICV_BITS = 128
# ESP in transport mode with AES-GCM adds at most 37 bytes to a packet: its header (SPI and
# sequence number, 8), the IV (8), padding to a multiple of 4 (up to 3), the pad length and
# next header (2), and the ICV (16).
ESP_OVERHEAD = 37
PROBE_KEY = "00" * (KEY_BYTES + 4)


def tag(vni: int) -> int:
    return TAG | vni


def parse_keys(keys: Optional[Sequence[str]], option: str = "encryption_keys") -> Tuple[bytes, ...]:
    """The keys as bytes, in order (the first encrypts). SpecError names the one at fault."""
    if not keys:
        raise SpecError("at least one key is required: %d bytes as %d hex digits, the same on every host (make one "
                        "with: openssl rand -hex %d)" % (KEY_BYTES, 2 * KEY_BYTES, KEY_BYTES), option)
    out: List[bytes] = []
    for i, key in enumerate(keys):
        text = str(key).strip().lower()
        text = text[2:] if text.startswith("0x") else text
        hexadecimal = all(c in string.hexdigits for c in text)
        if len(text) != 2 * KEY_BYTES or not hexadecimal:
            raise SpecError("a key is %d bytes written as %d hex digits (openssl rand -hex %d); this one has %d "
                            "characters%s" % (KEY_BYTES, 2 * KEY_BYTES, KEY_BYTES, len(text),
                                              "" if hexadecimal else ", not all hex"), "%s[%d]" % (option, i))
        value = bytes.fromhex(text)
        if value in out:
            raise SpecError("the key is listed twice (also as %s[%d])" % (option, out.index(value)),
                            "%s[%d]" % (option, i))
        out.append(value)
    return tuple(out)


def derive(key: bytes, vni: int, src: str, dst: str) -> Tuple[int, str]:
    """(SPI, hex of the AEAD key and salt) of the SA carrying network ``vni``'s traffic from
    VTEP ``src`` to VTEP ``dst`` under ``key`` (bytes): HKDF-SHA256, 40 bytes of output."""
    prk = hmac.new(b"cnm.fabric esp", key, hashlib.sha256).digest()
    info = ("vxlan %d %s>%s" % (vni, src, dst)).encode("ascii")
    first = hmac.new(prk, info + b"\x01", hashlib.sha256).digest()
    okm = first + hmac.new(prk, first + info + b"\x02", hashlib.sha256).digest()
    spi = 0x100 + int.from_bytes(okm[36:40], "big") % (0xFFFFFFFF - 0x100)  # SPIs below 256 are reserved
    return spi, okm[:KEY_BYTES + 4].hex()


def _state_add(src: str, dst: str, spi: int, material: Optional[str], t: int, port: int) -> str:
    return ("xfrm state add src %s dst %s proto esp spi 0x%08x reqid %d mode transport "
            "aead %s 0x%s %d sel src %s/32 dst %s/32 proto 17 dport %d"
            % (src, dst, spi, t, AEAD, material, ICV_BITS, src, dst, port))


def probe() -> str:
    """An ``xfrm state add`` line of the kind an encrypted network needs, to try on the kernel."""
    return _state_add("127.0.0.1", "127.0.0.1", 0x100, PROBE_KEY, TAG, 1)


def _policy(verb: str, src: str, dst: str, port: int, t: int) -> str:
    return ("xfrm policy %s src %s/32 dst %s/32 proto 17 dport %d dir out mark 0x%08x mask 0xffffffff"
            % (verb, src, dst, port, t))


def _policy_add(src: str, dst: str, port: int, t: int) -> str:
    return _policy("add", src, dst, port, t) + " tmpl src %s dst %s proto esp reqid %d mode transport" % (src, dst, t)


def wanted(o: OverlayPart, keys: Optional[Sequence[bytes]], stage: str,
           view: XfrmView) -> Tuple[Dict[State, Optional[str]], Set[Policy]]:
    """The states ({(src, dst, spi): material}) and policies ({(src, dst, port)}) the network
    (its overlay.OverlayPart ``o``) should have, given its peers, ``keys`` (bytes; None: no key
    given, so only what belongs to peers that are gone is removed), the ``stage`` and what the
    kernel has (``view``)."""
    vni, local, port = o.vni, o.local_ip, o.port
    peers = set(o.peers) if o.encrypted else set()
    if keys is None:
        return (dict((s, None) for s in view.states if {s[0], s[1]} - {local} <= peers),
                set(p for p in view.policies if p[1] in peers and p[2] == port))
    states: Dict[State, Optional[str]] = {}
    for vtep in sorted(peers):
        for key in keys:
            spi, material = derive(key, vni, vtep, local)
            states[(vtep, local, spi)] = material
        spi, material = derive(keys[0], vni, local, vtep)
        sending = [s for s in view.states if s[:2] == (local, vtep)]
        if stage == "inbound":  # keep what still sends and decrypts; make what is missing
            states.update((s, None) for s in view.states if s[:2] == (vtep, local))
            current = [s for s in sending if any(derive(k, vni, local, vtep)[0] == s[2] for k in keys)]
            if current:
                states.update((s, None) for s in current)
                continue
        states[(local, vtep, spi)] = material
    return states, set((local, vtep, port) for vtep in peers)


def changes(name: str, o: OverlayPart, keys: Optional[Sequence[bytes]], stage: str, view: XfrmView) -> List[Change]:
    """Changes that give the IPsec objects of network ``name`` (its overlay.OverlayPart ``o``)
    the shape ``wanted`` describes: new states first (a new outbound SA is used the moment it
    exists, as the newest), then new policies, then what goes."""
    t = tag(o.vni)
    states, policies = wanted(o, keys, stage, view)
    out: List[Change] = []
    for src, dst, spi in sorted(set(states) - view.states):
        out.append(change("add ESP SA %s -> %s (spi 0x%08x) of network %s" % (src, dst, spi, name), "xfrm",
                          _state_add(src, dst, spi, states[(src, dst, spi)], t, o.port)))
    for src, dst, port in sorted(policies - view.policies):
        out.append(change("add IPsec policy %s -> %s (VXLAN port %d, mark 0x%08x) of network %s"
                          % (src, dst, port, t, name), "xfrm", _policy_add(src, dst, port, t)))
    for src, dst, port in sorted(view.policies - policies):
        out.append(change("remove IPsec policy %s -> %s of network %s" % (src, dst, name), "xfrm",
                          _policy("delete", src, dst, port, t)))
    for src, dst, spi in sorted(view.states - set(states)):
        out.append(change("remove ESP SA %s -> %s (spi 0x%08x) of network %s" % (src, dst, spi, name), "xfrm",
                          "xfrm state delete src %s dst %s proto esp spi 0x%08x" % (src, dst, spi)))
    return out


def firewall_rules(o: OverlayPart) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """(input, mark) nftables rules of an encrypted network (its overlay.OverlayPart ``o``): its
    VXLAN packets that did not arrive through IPsec are dropped (fail closed), and those this host
    sends are marked for its policies. The VNI is the 24 bits after the first 4 bytes of the VXLAN
    header."""
    match = "udp dport %d @th,96,24 %d" % (o.port, o.vni)
    return ("%s meta ipsec missing drop" % match,), ("%s meta mark set 0x%08x" % (match, tag(o.vni)),)
