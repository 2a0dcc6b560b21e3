# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Name resolution for sandboxes: a hosts file and a resolv.conf for each.

A named sandbox gets ``/etc/netns/NAME/hosts`` and ``resolv.conf``, which
``ip netns exec NAME`` bind-mounts over /etc. A sandbox given by path (a real
container's) gets them under ``state_dir/sandboxes/``, to be mounted by its runtime.
"""

from __future__ import annotations

import ipaddress
import os

from ansible_collections.cnm.fabric.plugins.module_utils import drivers, names
from ansible_collections.cnm.fabric.plugins.module_utils.errors import StoreError
from ansible_collections.cnm.fabric.plugins.module_utils.store import atomic_write, read_text

ETC_NETNS = "/etc/netns"
FILES = ("hosts", "resolv.conf")
HOSTS_HEAD = (
    "# Written by cnm.fabric: endpoints of the networks this sandbox joins.\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
)


def files_dir(state_dir, key):
    if key.startswith("/"):
        return names.sandbox_files_dir(state_dir, key)
    return os.path.join(ETC_NETNS, key)


def render_hosts(endpoints, key, index=None, cache=None, networks=None):
    """Every addressed endpoint of the networks that sandbox ``key`` joins, with the
    remote endpoints of its overlay networks' peers.

    Sandboxes on the same networks share one text (``cache``, by set of networks)."""
    blocks, joined = index or hosts_index(endpoints, networks)
    nets = frozenset(joined.get(key, ()))
    if cache is not None and nets in cache:
        return cache[nets]
    text = HOSTS_HEAD + "".join(blocks.get(net, "") for net in sorted(nets))
    if cache is not None:
        cache[nets] = text
    return text


def hosts_index(endpoints, networks=None):
    """Each network's hosts lines (in address order) and each sandbox's networks: O(endpoints)."""
    lines, joined = {}, {}

    def add(network, name, address, aliases):
        hostnames = [name] + [a for a in aliases or [] if a != name]
        lines.setdefault(network, []).append(
            (ipaddress.ip_address(address), "%s\t%s\n" % (address, " ".join(hostnames))))

    for ep in endpoints.values():
        joined.setdefault(ep["sandbox"], set()).add(ep["network"])
        if ep.get("ipv4_address"):
            add(ep["network"], ep["name"], ep["ipv4_address"], ep.get("aliases"))
    for name, net in (networks or {}).items():
        for ep in drivers.get(net["driver"]).remote_endpoints(net):
            add(name, ep["name"], ep["ip"], ep.get("aliases"))
    blocks = dict((net, "".join(entry[1] for entry in sorted(items))) for net, items in lines.items())
    return blocks, joined


def render_resolv(host_resolv):
    """The host's resolv.conf without loopback resolvers, which a sandbox cannot reach."""
    out = ["# Written by cnm.fabric from the host's resolv.conf (loopback resolvers left out).\n"]
    for line in host_resolv.splitlines():
        words = line.split()
        if not words or words[0].startswith(("#", ";")):
            continue
        if words[0] == "nameserver":
            try:
                if len(words) < 2 or ipaddress.ip_address(words[1].split("%")[0]).is_loopback:
                    continue
            except ValueError:
                continue
        if words[0] in ("nameserver", "search", "domain", "options"):
            out.append(" ".join(words) + "\n")
    return "".join(out)


def _remove(directory):
    """The files this module writes, then the directory if nothing else is left in it."""
    for name in FILES:
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(directory)
    except OSError:
        pass  # someone else's files are in it: leave them


def sync(state_dir, endpoints, sandboxes, keys, check_mode, networks=None, host_resolv="/etc/resolv.conf"):
    """Bring the files of sandboxes ``keys`` up to date; return the paths that changed.

    A sandbox that no longer has a record loses its directory.
    """
    resolv = render_resolv(read_text(host_resolv) or "")
    index = hosts_index(endpoints, networks)
    cache = {}
    changed = []
    for key in sorted(keys):
        directory = files_dir(state_dir, key)
        if key not in sandboxes:
            if os.path.isdir(directory):
                changed.append(directory)
                if not check_mode:
                    _remove(directory)
            continue
        for name, text in (("hosts", render_hosts(endpoints, key, index, cache)), ("resolv.conf", resolv)):
            path = os.path.join(directory, name)
            if read_text(path) != text:
                changed.append(path)
                if not check_mode:
                    try:
                        atomic_write(path, text, mode=0o644, durable=False)
                    except StoreError as e:
                        raise StoreError(e.msg, "sandbox")
    return changed
