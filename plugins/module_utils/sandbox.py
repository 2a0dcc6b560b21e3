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
from ansible_collections.cnm.fabric.plugins.module_utils.store import atomic_write, read_text, remove_stale_tmp, \
    stale_tmp

ETC_NETNS = "/etc/netns"
FILES = ("hosts", "resolv.conf")
# The first line names the state_dir whose records the file comes from: two state_dirs on
# one host never take each other's files for leftovers.
HOSTS_HEAD = (
    "# Written by cnm.fabric for %s: endpoints of the networks this sandbox joins.\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
)


def files_dir(state_dir, key):
    if key.startswith("/"):
        return names.sandbox_files_dir(state_dir, key)
    return os.path.join(ETC_NETNS, key)


def render_hosts(endpoints, key, index=None, cache=None, networks=None, state_dir=""):
    """Every addressed endpoint of the networks that sandbox ``key`` joins, with the
    remote endpoints of its overlay networks' peers.

    Sandboxes on the same networks share one text (``cache``, by set of networks)."""
    blocks, joined = index or hosts_index(endpoints, networks)
    nets = frozenset(joined.get(key, ()))
    if cache is not None and nets in cache:
        return cache[nets]
    text = HOSTS_HEAD % state_dir + "".join(blocks.get(net, "") for net in sorted(nets))
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


HOST_RESOLV = "/etc/resolv.conf"
# systemd-resolved's list of the real upstream servers, behind its stub on 127.0.0.53.
RESOLVED_RESOLV = "/run/systemd/resolve/resolv.conf"


def _loopback(word):
    try:
        return ipaddress.ip_address(word.split("%")[0]).is_loopback
    except ValueError:
        return True  # not an address a sandbox could use either


def _nameservers(text):
    return [line.split()[1] for line in text.splitlines() if line.split()[:1] == ["nameserver"]
            and len(line.split()) > 1]


def host_resolv(primary=HOST_RESOLV, fallback=RESOLVED_RESOLV):
    """(path, text) of the resolv.conf sandboxes copy: the host's, or, when it lists only
    loopback resolvers (systemd-resolved's stub), the one behind them, as Docker does."""
    text = read_text(primary) or ""
    servers = _nameservers(text)
    if servers and all(_loopback(s) for s in servers):
        behind = read_text(fallback)
        if behind is not None:
            return fallback, behind
    return primary, text


def render_resolv(text, source=HOST_RESOLV):
    """A resolv.conf for sandboxes: ``text`` without loopback resolvers, which a sandbox cannot reach."""
    out = ["# Written by cnm.fabric from %s (loopback resolvers left out).\n" % source]
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith(("#", ";")):
            continue
        if words[0] == "nameserver" and (len(words) < 2 or _loopback(words[1])):
            continue
        if words[0] in ("nameserver", "search", "domain", "options"):
            out.append(" ".join(words) + "\n")
    return "".join(out)


def remove_files(directory):
    """The files this module writes (and those of its killed writes), then the directory if
    nothing else is left in it."""
    remove_stale_tmp(directory)
    for name in FILES:
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(directory)
    except OSError:
        pass  # someone else's files are in it: leave them


def _ours(directory, state_dir):
    return (read_text(os.path.join(directory, "hosts")) or "").startswith((HOSTS_HEAD % state_dir).split("\n", 1)[0])


def leftovers(state_dir, sandboxes):
    """Directories of sandbox files that belong to no recorded sandbox, and temporary files
    of killed writes in those that do: (directories, files)."""
    wanted = set(files_dir(state_dir, key) for key in sandboxes)
    dirs = []
    for top in (ETC_NETNS, os.path.join(state_dir, "sandboxes")):
        try:
            names = sorted(os.listdir(top))
        except OSError:
            continue
        for name in names:
            directory = os.path.join(top, name)
            if directory not in wanted and os.path.isdir(directory) and (top != ETC_NETNS or _ours(directory, state_dir)):
                dirs.append(directory)
    tmp = [path for directory in sorted(wanted) for path in stale_tmp(directory)]
    return dirs, tmp


def sync(state_dir, endpoints, sandboxes, keys, check_mode, networks=None, resolv_files=(HOST_RESOLV, RESOLVED_RESOLV)):
    """Bring the files of sandboxes ``keys`` up to date; return what was done, as sentences.

    A sandbox that no longer has a record loses its directory.
    """
    source, text = host_resolv(*resolv_files)
    resolv = render_resolv(text, source)
    index = hosts_index(endpoints, networks)
    cache = {}
    changed = []
    for key in sorted(keys):
        directory = files_dir(state_dir, key)
        if key not in sandboxes:
            if os.path.isdir(directory):
                changed.append("remove %s" % directory)
                if not check_mode:
                    remove_files(directory)
            continue
        for path in stale_tmp(directory):
            changed.append("remove %s (left by a killed write)" % path)
            if not check_mode:
                os.unlink(path)
        for name, text in (("hosts", render_hosts(endpoints, key, index, cache, state_dir=state_dir)),
                           ("resolv.conf", resolv)):
            path = os.path.join(directory, name)
            if read_text(path) != text:
                changed.append("write %s" % path)
                if not check_mode:
                    try:
                        atomic_write(path, text, mode=0o644, durable=False)
                    except StoreError as e:
                        raise StoreError(e.msg, "sandbox")
    return changed
