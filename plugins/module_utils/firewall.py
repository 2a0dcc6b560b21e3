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

from ansible_collections.cnm.fabric.plugins.module_utils import drivers, names
from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError
from ansible_collections.cnm.fabric.plugins.module_utils.store import atomic_write, read_text

FAMILIES = ("inet", "bridge")
ICC_MARK = 0x100000  # the packet mark bit of DNATed connections on bridges with icc: false (render)
RULESET_FILE = "firewall.nft"
DIGEST_FILE = "firewall.sha256"  # the tables as the kernel listed them after the last load (listing_digest)


def quote(name):
    """An interface name as an nft string. Every name that reaches a rule passed the spec's
    check (names.IFNAME_RE: letters, digits, '_', '.', '-'); one that did not, from a record
    written by hand or by an older release, stops the render rather than change a rule."""
    if not names.IFNAME_RE.fullmatch(name):
        raise KernelError("the record names interface %r, which cannot be written into an nftables rule safely; "
                          "remove that network (state: absent) and make it again with a valid name" % (name,))
    return '"%s"' % name


def parts(networks):
    """Each network's FirewallPart (from its driver), by network name, for those that have one."""
    out = {}
    for name, net in sorted(networks.items()):
        part = drivers.get(net["driver"]).firewall(net)
        if part is not None:
            out[name] = part
    return out


ALL_ADDRESSES = ("0.0.0.0", "::")


def _published(by_network, endpoints):
    """The DNAT rules of every published port: for each host address family the port is
    published on (both with 0.0.0.0, the default) and the endpoint has an address of."""
    rules = []
    for ep in sorted(endpoints.values(), key=lambda e: (e["network"], e["name"])):
        part = by_network.get(ep["network"])
        if part is None or part.internal or not ep.get("ipv4_address"):
            continue
        for port in ep.get("publish") or []:
            host_ip = port.get("host_ip") or part.host_binding_ip or "0.0.0.0"
            for family, field, mode in (("ip", "ipv4_address", part.modes[0]), ("ip6", "ipv6_address", part.modes[1])):
                v6 = family == "ip6"
                if ep.get(field) and mode.startswith("nat") and (host_ip == "0.0.0.0" or (":" in host_ip) == v6):
                    rules += _dnat(family, host_ip, port, ep[field])
    return rules


def _protection(name, part, endpoints):
    """The forward rules of each family's gateway mode (drivers/bridge.py): ``nat`` drops new
    connections to the endpoints' addresses from anywhere but the bridge itself and the trusted
    host interfaces, unless the host DNATed them (a published port); ``routed`` lets through, besides,
    those to the published ports of the endpoints; ``isolated`` lets nothing in or out;
    ``nat-unprotected`` lets everything through."""
    br, rules = quote(part.interface), []
    inside = "{ %s }" % ", ".join([br] + [quote(t) for t in part.trusted])
    families = (("ip", "ipv4", part.subnet, part.modes[0], "ipv4_address"),
                ("ip6", "ipv6", part.subnet6, part.modes[1], "ipv6_address"))
    for family, nfproto, subnet, mode, field in families:
        if subnet is None or mode == "nat-unprotected":
            continue
        if mode == "isolated":
            rules.append("meta nfproto %s iifname %s oifname != %s drop" % (nfproto, br, br))
            rules.append("meta nfproto %s oifname %s iifname != %s drop" % (nfproto, br, br))
            continue
        if mode == "routed":
            for ep in sorted(endpoints.values(), key=lambda e: e["name"]):
                if ep["network"] == name and ep.get(field):
                    rules += ["oifname %s %s daddr %s meta l4proto %s th dport %s accept"
                              % (br, family, ep[field], port["protocol"], port["container_port"])
                              for port in ep.get("publish") or []]
        rules.append("oifname %s %s daddr %s iifname != %s ct state new ct status & dnat == 0 drop"
                     % (br, family, subnet, inside))
    return rules


def _dnat(family, host_ip, port, address):
    """The DNAT rules of one published port (or range) to ``address``."""
    if host_ip in ALL_ADDRESSES:
        match = "fib daddr type local" if family == "ip" else "meta nfproto ipv6 fib daddr type local"
    else:
        match = "%s daddr %s" % (family, host_ip)
    to = address if family == "ip" else "[%s]" % address
    host, container = str(port["host_port"]), str(port["container_port"])
    head = "%s meta l4proto %s th dport " % (match, port["protocol"])
    if "-" not in host:
        return ["%s%s dnat %s to %s:%s" % (head, host, family, to, container)]
    if host == container:  # a range to the same ports: the port is left as it is
        return ["%s%s dnat %s to %s" % (head, host, family, to)]
    first, last = (int(p) for p in host.split("-"))
    offset = int(container.split("-", 1)[0]) - first
    return ["%s%d dnat %s to %s:%d" % (head, p, family, to, p + offset) for p in range(first, last + 1)]


def tables(state_dir):
    """The (family, name) of the tables of ``state_dir``."""
    return tuple((family, names.table_name(state_dir)) for family in FAMILIES)


def render(networks, endpoints, mesh=((), ()), table="cnm"):
    """The whole ruleset as nft text, or '' when no network brings rules. ``mesh``: the DNAT and
    SNAT rules of published service ports (services.mesh); ``table``: the tables' name."""
    by_network = parts(networks)
    if not by_network:
        return ""
    raw, forward, dnat, post, icc, inbound, mark, quiet, protect = [], [], [], [], [], [], [], [], []
    for name, part in sorted(by_network.items()):
        br, subnet = quote(part.interface), part.subnet
        inbound.extend(part.input)
        mark.extend(part.mark)
        raw.append("iifname %s ip daddr 127.0.0.0/8 drop" % br)
        post.append("oifname %s ip saddr 127.0.0.0/8 masquerade" % br)
        if part.subnet6:
            raw.append("iifname %s ip6 daddr ::1 drop" % br)
        if part.internal:
            forward.append("iifname %s oifname != %s drop" % (br, br))
            forward.append("oifname %s iifname != %s drop" % (br, br))
            continue
        protect.extend(_protection(name, part, endpoints))
        if part.masquerade and part.modes[0].startswith("nat"):
            post.append("ip saddr %s oifname != %s masquerade" % (subnet, br))
        if part.subnet6 and part.masquerade6 and part.modes[1].startswith("nat"):
            post.append("ip6 saddr %s oifname != %s masquerade" % (part.subnet6, br))
        # A container reaching a published port of its own network through the host.
        post.append("oifname %s ip saddr %s ct status dnat masquerade" % (br, subnet))
        if part.subnet6:
            post.append("oifname %s ip6 saddr %s ct status dnat masquerade" % (br, part.subnet6))
        ports = sorted(quote(e["host_interface"]) for e in endpoints.values()
                       if e["network"] == name and e.get("host_interface"))
        if not part.icc and ports:
            # Every frame the bridge forwards between two of its own ports.
            icc.append("iifname { %s } drop" % ", ".join(ports))
            quiet.append(br)
    dnat_mark = []
    if icc:
        # But a connection to a port the host publishes, as Docker's default userland proxy lets one
        # through: where br_netfilter is loaded (Docker and Kubernetes load it), the host DNATs it
        # and the bridge then forwards it between the two ports. The bridge family sees no conntrack
        # state, so the inet table marks the packets of DNATed connections of those bridges (one bit).
        icc.insert(0, "meta mark & 0x%x == 0x%x accept" % (ICC_MARK, ICC_MARK))
        dnat_mark = ["iifname { %s } ct status dnat meta mark set meta mark | 0x%x" % (", ".join(quiet), ICC_MARK)]
    others = [p for n, p in sorted(by_network.items()) if not p.internal]
    if len(others) > 1:
        # Published ports are open to every network; anything else stays in its own.
        forward.append("ct status dnat accept")
        for part in others:
            rest = ", ".join(quote(o.interface) for o in others if o is not part)
            forward.append("iifname %s oifname { %s } drop" % (quote(part.interface), rest))
    forward += protect
    dnat = _published(by_network, endpoints) + list(mesh[0])
    # A packet from elsewhere to a loopback address is the host's own business: never DNATed, so a
    # port published on 127.0.0.1 (or on every address) answers only to the host itself.
    guard = ['iifname != "lo" ip daddr 127.0.0.0/8 return', 'iifname != "lo" ip6 daddr ::1 return']
    post = list(mesh[1]) + post  # before any masquerade: the first NAT rule that matches decides

    def chain(name, hook, priority, rules, kind=None):
        body = "".join("\t\t%s\n" % r for r in rules)
        return "\tchain %s {\n\t\ttype %s hook %s priority %s; policy accept;\n%s\t}\n" % (
            name, kind or ("filter" if priority in ("raw", "filter") else "nat"), hook, priority, body)

    # Strict reverse-path filtering of new connections from the bridges, where the kernel's is loose
    # (drivers/bridge.py): a sandbox may not open one from an address its network does not route to
    # it, while its replies to one that came in through another of its networks pass.
    # Not on a bridge with no IPv4 address (gateway mode isolated): the host has no route back there,
    # and where br_netfilter is loaded the frames its endpoints exchange pass this hook too.
    routed = [quote(p.interface) for n, p in sorted(by_network.items()) if p.modes[0] != "isolated"]
    source = ["meta nfproto ipv4 iifname { %s } ct state new fib saddr . iif oif missing drop" % ", ".join(routed)] \
        if routed else []

    text = "table inet %s {\n" % table
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


def _nft():
    path = shutil.which("nft") or ("/usr/sbin/nft" if os.path.exists("/usr/sbin/nft") else None)
    if path is None:
        raise KernelError("the nft command (Debian package nftables) is required on the managed host")
    return path


def run(args, stdin=None, netns=None):
    """nft with ``args``: in the module's namespace, or in the one at path ``netns`` (entered
    by nsenter, part of util-linux, which every Debian has)."""
    enter = ["nsenter", "--net=" + netns] if netns else []
    proc = subprocess.run(enter + [_nft()] + args, input=stdin, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def present_tables(state_dir):
    """The tables of ``state_dir`` the kernel has now, from one `nft list tables`."""
    code, out, err = run(["list", "tables"])
    if code != 0:
        raise KernelError("nft could not list the tables: %s" % err.strip())
    listed = set(tuple(line.split()[1:3]) for line in out.splitlines() if line.startswith("table "))
    return [t for t in tables(state_dir) if t in listed]


def tables_present(state_dir):
    return len(present_tables(state_dir)) == len(FAMILIES)


def listing_digest(state_dir):
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


def sync(state_dir, networks, endpoints, check_mode, mesh=((), ())):
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
        if digest is not None and digest == known.strip():
            return False
    if not check_mode:
        # Declaring then deleting makes the delete safe when the table is absent;
        # the whole script is one transaction, so the swap is atomic.
        head = "".join("table %s %s\ndelete table %s %s\n" % (t + t) for t in tables(state_dir))
        _apply(head + text)
        atomic_write(saved_path, text)
        atomic_write(digest_path, (listing_digest(state_dir) or "") + "\n")
    return True


def _apply(script):
    code, _out, err = run(["-f", "-"], stdin=script)
    if code != 0:
        raise KernelError("nft rejected the cnm ruleset: %s" % err.strip())
