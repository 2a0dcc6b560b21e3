# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nftables tables the collection owns, rendered whole from the store.

Each state_dir has a pair of tables of its own (``names.table_name``: ``cnm`` for the default
state_dir), so that two deployments on one host never rewrite or delete each other's rules.
``inet cnm`` holds NAT (masquerade, published ports), the forward filter
(isolation between networks, internal networks) and, for encrypted overlay networks,
the input filter and output marks of their VXLAN traffic; ``bridge cnm`` drops frames
forwarded between the ports of a bridge whose network has ``icc: false`` (bridged
frames never reach the inet forward hook unless br_netfilter is loaded). Both are
replaced in one nft transaction; no other table is ever touched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union

from ansible_collections.cnm.fabric.plugins.module_utils import drivers, names, spec
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import FirewallPart
from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError
from ansible_collections.cnm.fabric.plugins.module_utils.records import EndpointRecord, NetworkRecord
from ansible_collections.cnm.fabric.plugins.module_utils.store import atomic_write, read_text

FAMILIES = ("inet", "bridge")
ICC_MARK = 0x100000  # the packet mark bit of DNATed connections on bridges with icc: false (render)
RULESET_FILE = "firewall.nft"
DIGEST_FILE = "firewall.sha256"  # the tables as the kernel listed them after the last load (listing_digest)

Networks = Mapping[str, NetworkRecord]
Endpoints = Mapping[str, EndpointRecord]
Mesh = Tuple[Sequence[str], Sequence[str]]  # services.mesh's DNAT and SNAT rules


def quote(name: Optional[str]) -> str:
    """An interface name as an nft string. Every name that reaches a rule passed the spec's
    check (names.IFNAME_RE: letters, digits, '_', '.', '-'); one that did not, from a record
    written by hand or by an older release, stops the render rather than change a rule."""
    if name is None or not names.IFNAME_RE.fullmatch(name):
        raise KernelError("the record names interface %r, which cannot be written into an nftables rule safely; "
                          "remove that network (state: absent) and make it again with a valid name" % (name,))
    return '"%s"' % name


def parts(networks: Networks) -> Dict[str, FirewallPart]:
    """Each network's FirewallPart (from its driver), by network name, for those that have one."""
    out: Dict[str, FirewallPart] = {}
    for name, net in sorted(networks.items()):
        part = drivers.get(net["driver"]).firewall(net)
        if part is not None:
            out[name] = part
    return out


ALL_ADDRESSES = ("0.0.0.0", "::")
# The maps of published ports: one lookup per new connection whatever their number, as
# kube-proxy's nftables mode does, where one rule per port made every new connection from or
# through the host walk them all (each with its fib lookup). By name: (key, value) types.
PUBLISHED_MAPS = {
    "published_at_ip": ("ipv4_addr . inet_proto . inet_service", "ipv4_addr . inet_service"),
    "published_at_ip6": ("ipv6_addr . inet_proto . inet_service", "ipv6_addr . inet_service"),
    "published_ip": ("inet_proto . inet_service", "ipv4_addr . inet_service"),
    "published_ip6": ("inet_proto . inet_service", "ipv6_addr . inet_service"),
}
# The ports that gateway mode ``routed`` lets through to its endpoints: (interface, address, port).
ROUTED_SETS = {"routed_ip": "ifname . ipv4_addr . inet_proto . inet_service",
               "routed_ip6": "ifname . ipv6_addr . inet_proto . inet_service"}


def _published(by_network: Mapping[str, FirewallPart], endpoints: Endpoints) -> Dict[str, Dict[str, str]]:
    """The elements of the published-port maps, {map: {key: value}}: for each host address family
    a port is published on (both with 0.0.0.0, the default) and the endpoint has an address of,
    one element per host port. The spec lets a port be published once per address; of two in a
    record written by hand, the first (by network, then endpoint) counts, as the first rule did."""
    maps: Dict[str, Dict[str, str]] = dict((name, {}) for name in PUBLISHED_MAPS)
    for ep in sorted(endpoints.values(), key=lambda e: (e["network"], e["name"])):
        part = by_network.get(ep["network"])
        if part is None or part.internal or not (ep.get("ipv4_address") or ep.get("ipv6_address")):
            continue
        for port in ep.get("publish") or []:
            host_ip = port.get("host_ip") or part.host_binding_ip or "0.0.0.0"
            for family, address, mode in (("ip", ep.get("ipv4_address"), part.modes[0]),
                                          ("ip6", ep.get("ipv6_address"), part.modes[1])):
                v6 = family == "ip6"
                if not (address and mode.startswith("nat") and (host_ip == "0.0.0.0" or (":" in host_ip) == v6)):
                    continue
                everywhere = host_ip in ALL_ADDRESSES
                elements = maps[("published_" if everywhere else "published_at_") + family]
                at = "" if everywhere else "%s . " % host_ip
                ports = spec.recorded_port(port)
                for i in range(ports.count):
                    elements.setdefault("%s%s . %d" % (at, ports.protocol, ports.host_port + i),
                                        "%s . %d" % (address, ports.container_port + i))
    return maps


def _published_rules(maps: Mapping[str, Mapping[str, str]]) -> List[str]:
    """The DNAT rules of the published-port maps that have elements: a port published on one
    address first, then one on all, whose port is looked up in the set ``published_ports`` (the
    keys of both maps: Debian 12's kernel, 6.1, refuses a map looked up as a set) before the route lookup
    of the address."""
    rules: List[str] = []
    for family, nfproto in (("ip", "ipv4"), ("ip6", "ipv6")):
        if maps["published_at_" + family]:
            rules.append("meta nfproto %s dnat %s to %s daddr . meta l4proto . th dport map @published_at_%s"
                         % (nfproto, family, family, family))
    for family, nfproto in (("ip", "ipv4"), ("ip6", "ipv6")):
        if maps["published_" + family]:
            rules.append("meta nfproto %s meta l4proto . th dport @published_ports fib daddr type local "
                         "dnat %s to meta l4proto . th dport map @published_%s" % (nfproto, family, family))
    return rules


def _declare(kind: str, name: str, key: str, value: Optional[str], elements: Union[Set[str], Mapping[str, str]]) -> str:
    """An nft set or map with its elements (keys, or key: value pairs)."""
    items = ", ".join("%s : %s" % kv for kv in sorted(elements.items())) if isinstance(elements, Mapping) else \
        ", ".join(sorted(elements))
    return "\t%s %s {\n\t\ttype %s\n\t\telements = { %s }\n\t}\n" % (
        kind, name, key if value is None else "%s : %s" % (key, value), items)


def _protection(name: str, part: FirewallPart, endpoints: Endpoints, routed: Dict[str, Set[str]]) -> List[str]:
    """The forward rules of each family's gateway mode (drivers/bridge.py): ``nat`` drops new
    connections to the endpoints' addresses from anywhere but the bridge itself and the trusted
    host interfaces, unless the host DNATed them (a published port); ``routed`` lets through, besides,
    those to the published ports of the endpoints (the elements it adds to ``routed``); ``isolated``
    lets nothing in or out; ``nat-unprotected`` lets everything through."""
    br, rules = quote(part.interface), []
    inside = "{ %s }" % ", ".join([br] + [quote(t) for t in part.trusted])
    families = (("ip", "ipv4", part.subnet, part.modes[0], 4), ("ip6", "ipv6", part.subnet6, part.modes[1], 6))
    for family, nfproto, subnet, mode, version in families:
        if subnet is None or mode == "nat-unprotected":
            continue
        if mode == "isolated":
            rules.append("meta nfproto %s iifname %s oifname != %s drop" % (nfproto, br, br))
            rules.append("meta nfproto %s oifname %s iifname != %s drop" % (nfproto, br, br))
            continue
        if mode == "routed":
            for ep in sorted(endpoints.values(), key=lambda e: e["name"]):
                address = ep.get("ipv4_address") if version == 4 else ep.get("ipv6_address")
                if ep["network"] == name and address:
                    for port in map(spec.recorded_port, ep.get("publish") or []):
                        routed["routed_" + family].update("%s . %s . %s . %d" % (br, address, port.protocol, p)
                                                          for p in range(port.container_port, port.container_port + port.count))
        rules.append("oifname %s %s daddr %s iifname != %s ct state new ct status & dnat == 0 drop"
                     % (br, family, subnet, inside))
    return rules


def tables(state_dir: str) -> Tuple[Tuple[str, str], ...]:
    """The (family, name) of the tables of ``state_dir``."""
    return tuple((family, names.table_name(state_dir)) for family in FAMILIES)


def render(networks: Networks, endpoints: Endpoints, mesh: Mesh = ((), ()), table: str = "cnm") -> str:
    """The whole ruleset as nft text, or '' when no network brings rules. ``mesh``: the DNAT and
    SNAT rules of published service ports (services.mesh); ``table``: the tables' name."""
    by_network = parts(networks)
    if not by_network:
        return ""
    raw: List[str] = []
    forward: List[str] = []
    post: List[str] = []
    icc: List[str] = []
    inbound: List[str] = []
    mark: List[str] = []
    quiet: List[str] = []
    protect: List[str] = []
    routed_ports: Dict[str, Set[str]] = dict((name, set()) for name in ROUTED_SETS)
    for name, part in sorted(by_network.items()):
        br, subnet = quote(part.interface), part.subnet
        inbound.extend(part.input)
        mark.extend(part.mark)
        if subnet:  # a port published on the host's IPv4 loopback
            post.append("oifname %s ip saddr 127.0.0.0/8 masquerade" % br)
        if part.internal:
            forward.append("iifname %s oifname != %s drop" % (br, br))
            forward.append("oifname %s iifname != %s drop" % (br, br))
            continue
        protect.extend(_protection(name, part, endpoints, routed_ports))
        if subnet and part.masquerade and part.modes[0].startswith("nat"):
            post.append("ip saddr %s oifname != %s masquerade" % (subnet, br))
        if part.subnet6 and part.masquerade6 and part.modes[1].startswith("nat"):
            post.append("ip6 saddr %s oifname != %s masquerade" % (part.subnet6, br))
        # A container reaching a published port of its own network through the host.
        for family, each in (("ip", subnet), ("ip6", part.subnet6)):
            if each:
                post.append("oifname %s %s saddr %s ct status dnat masquerade" % (br, family, each))
        ports = sorted(quote(link) for e in endpoints.values() if e["network"] == name
                       for link in drivers.host_links(e))
        if not part.icc and ports:
            # Every frame the bridge forwards between two of its own ports.
            icc.append("iifname { %s } drop" % ", ".join(ports))
            quiet.append(br)
    dnat_mark: List[str] = []
    if icc:
        # But a connection to a port the host publishes, as Docker's default userland proxy lets one
        # through: where br_netfilter is loaded (Docker and Kubernetes load it), the host DNATs it
        # and the bridge then forwards it between the two ports. The bridge family sees no conntrack
        # state, so the inet table marks the packets of DNATed connections of those bridges (one bit).
        icc.insert(0, "meta mark & 0x%x == 0x%x accept" % (ICC_MARK, ICC_MARK))
        dnat_mark = ["iifname { %s } ct status dnat meta mark set meta mark | 0x%x" % (", ".join(quiet), ICC_MARK)]
    # Loopback addresses are never a bridge's business (each rule one set lookup, as below).
    raw.append("iifname { %s } ip daddr 127.0.0.0/8 drop" % ", ".join(quote(p.interface) for p in by_network.values()))
    v6 = [quote(p.interface) for p in by_network.values() if p.subnet6]
    if v6:
        raw.append("iifname { %s } ip6 daddr ::1 drop" % ", ".join(v6))
    others = [quote(p.interface) for n, p in sorted(by_network.items()) if not p.internal]
    if len(others) > 1:
        # Published ports are open to every network; anything else stays in its own: one rule,
        # whatever the number of networks.
        forward.append("ct status dnat accept")
        forward.append("iifname { %s } oifname { %s } iifname . oifname != { %s } drop" % (
            ", ".join(others), ", ".join(others), ", ".join("%s . %s" % (o, o) for o in others)))
    for family in ("ip", "ip6"):
        if routed_ports["routed_" + family]:
            forward.append("oifname . %s daddr . meta l4proto . th dport @routed_%s accept" % (family, family))
    forward += protect
    published = _published(by_network, endpoints)
    dnat = _published_rules(published) + list(mesh[0])
    # A packet from elsewhere to a loopback address is the host's own business: never DNATed, so a
    # port published on 127.0.0.1 (or on every address) answers only to the host itself.
    guard = ['iifname != "lo" ip daddr 127.0.0.0/8 return', 'iifname != "lo" ip6 daddr ::1 return']
    post = list(mesh[1]) + post  # before any masquerade: the first NAT rule that matches decides

    def chain(name: str, hook: str, priority: str, rules: Sequence[str], kind: Optional[str] = None) -> str:
        body = "".join("\t\t%s\n" % r for r in rules)
        return "\tchain %s {\n\t\ttype %s hook %s priority %s; policy accept;\n%s\t}\n" % (
            name, kind or ("filter" if priority in ("raw", "filter") else "nat"), hook, priority, body)

    # Strict reverse-path filtering of new connections from the bridges, where the kernel's is loose
    # (drivers/bridge.py): a sandbox may not open one from an address its network does not route to
    # it, while its replies to one that came in through another of its networks pass.
    # Not on a bridge with no IPv4 address (gateway mode isolated): the host has no route back there,
    # and where br_netfilter is loaded the frames its endpoints exchange pass this hook too.
    routed = [quote(p.interface) for n, p in sorted(by_network.items()) if p.subnet and p.modes[0] != "isolated"]
    source = ["meta nfproto ipv4 iifname { %s } ct state new fib saddr . iif oif missing drop" % ", ".join(routed)] \
        if routed else []

    text = "table inet %s {\n" % table
    text += "".join(_declare("map", name, key, value, published[name])
                    for name, (key, value) in sorted(PUBLISHED_MAPS.items()) if published[name])
    on_all = set(published["published_ip"]) | set(published["published_ip6"])
    if on_all:
        text += _declare("set", "published_ports", PUBLISHED_MAPS["published_ip"][0], None, on_all)
    text += "".join(_declare("set", name, key, None, routed_ports[name])
                    for name, key in sorted(ROUTED_SETS.items()) if routed_ports[name])
    text += chain("raw_prerouting", "prerouting", "raw", raw)
    text += chain("source_check", "prerouting", "mangle", source, kind="filter")
    text += chain("forward", "forward", "filter", forward)
    text += chain("prerouting", "prerouting", "dstnat", guard + dnat)
    text += chain("output", "output", "-100", dnat)
    text += chain("postrouting", "postrouting", "srcnat", post)
    if inbound:
        text += chain("input", "input", "filter", inbound)
    if dnat_mark:  # after DNAT (dstnat), so that a connection's first packet is marked too
        text += chain("icc_mark", "prerouting", "filter", dnat_mark)
    if mark:  # a route chain: a packet whose mark it sets is routed again, through the IPsec policies
        text += chain("ipsec_mark", "output", "mangle", mark, kind="route")
    text += "}\ntable bridge %s {\n" % table
    text += chain("forward", "forward", "filter", icc)
    text += "}\n"
    return text


def _nft() -> str:
    path = shutil.which("nft") or ("/usr/sbin/nft" if os.path.exists("/usr/sbin/nft") else None)
    if path is None:
        raise KernelError("the nft command (Debian package nftables) is required on the managed host")
    return path


def run(args: List[str], stdin: Optional[str] = None, netns: Optional[str] = None) -> Tuple[int, str, str]:
    """nft with ``args``: in the module's namespace, or in the one at path ``netns`` (entered
    by nsenter, part of util-linux, which every Debian has)."""
    enter = ["nsenter", "--net=" + netns] if netns else []
    proc = subprocess.run(enter + [_nft()] + args, input=stdin, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def present_tables(state_dir: str) -> List[Tuple[str, str]]:
    """The tables of ``state_dir`` the kernel has now, from one `nft list tables`."""
    code, out, err = run(["list", "tables"])
    if code != 0:
        raise KernelError("nft could not list the tables: %s" % err.strip())
    listed = set(tuple(line.split()[1:3]) for line in out.splitlines() if line.startswith("table "))
    return [t for t in tables(state_dir) if t in listed]


def tables_present(state_dir: str) -> bool:
    return len(present_tables(state_dir)) == len(FAMILIES)


def listing_digest(state_dir: str) -> Optional[str]:
    """A digest of what the kernel holds in the tables of ``state_dir``, from its stateless listing
    (no counters), or None when one of them is missing. A table flushed or a rule deleted by hand
    changes it; traffic does not."""
    digest = hashlib.sha256()
    for family, name in tables(state_dir):
        code, out, _err = run(["-s", "list", "table", family, name])
        if code != 0:
            return None
        digest.update(out.encode())
    return digest.hexdigest()


def sync(state_dir: str, networks: Networks, endpoints: Endpoints, check_mode: bool, mesh: Mesh = ((), ())) -> bool:
    """Make the kernel's tables of ``state_dir`` match its store; return True when something changed.

    They match when the records render the ruleset last loaded and the kernel lists those tables
    as it did just after that load."""
    text = render(networks, endpoints, mesh, names.table_name(state_dir))
    saved_path, digest_path = (os.path.join(state_dir, f) for f in (RULESET_FILE, DIGEST_FILE))
    saved = read_text(saved_path)
    if not text:
        present = present_tables(state_dir)
        if not present and saved is None:
            return False
        if not check_mode:
            script = "".join("delete table %s %s\n" % t for t in present)
            if script:
                _apply(script)
            for path in (saved_path, digest_path):
                if os.path.exists(path):
                    os.unlink(path)
        return True
    if saved == text:
        digest, known = listing_digest(state_dir), read_text(digest_path)
        if digest is not None and known is None:
            # Loaded by a release that kept no digest: the tables as they are now stand for the load.
            if not check_mode:
                atomic_write(digest_path, digest + "\n")
            return False
        if digest is not None and digest == (known or "").strip():
            return False
    if not check_mode:
        # Declaring then deleting makes the delete safe when the table is absent;
        # the whole script is one transaction, so the swap is atomic.
        head = "".join("table %s %s\ndelete table %s %s\n" % (t + t) for t in tables(state_dir))
        _apply(head + text)
        atomic_write(saved_path, text)
        atomic_write(digest_path, (listing_digest(state_dir) or "") + "\n")
    return True


def _apply(script: str) -> None:
    code, _out, err = run(["-f", "-"], stdin=script)
    if code != 0:
        raise KernelError("nft rejected the cnm ruleset: %s" % err.strip())
