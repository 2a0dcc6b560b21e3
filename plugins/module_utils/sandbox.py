# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Name resolution for sandboxes: a hosts file and a resolv.conf for each.

A named sandbox gets ``/etc/netns/NAME/hosts`` and ``resolv.conf``, which
``ip netns exec NAME`` bind-mounts over /etc. A sandbox given by path (a real
container's) gets them under ``state_dir/sandboxes/``, to be mounted by its runtime.
"""

from __future__ import annotations

import concurrent.futures
import errno
import ipaddress
import os
from typing import Callable, Collection, Dict, FrozenSet, Iterable, List, Literal, Mapping, Optional, Sequence, Set, \
    Tuple, TypedDict, TypeVar

from ansible_collections.cnm.fabric.plugins.module_utils import drivers, names, services
from ansible_collections.cnm.fabric.plugins.module_utils.errors import SpecError, StoreError
from ansible_collections.cnm.fabric.plugins.module_utils.kernel import netns_path
from ansible_collections.cnm.fabric.plugins.module_utils.records import EndpointRecord, NetworkRecord, SandboxRecord
from ansible_collections.cnm.fabric.plugins.module_utils.store import atomic_write, read_text, remove_stale_tmp, \
    stale_tmp

ETC_NETNS = "/etc/netns"
RULES_FILE = "services.nft"  # the sandbox's service rules as loaded, under the state directory
FILES = ("hosts", "resolv.conf", RULES_FILE)  # what a sandbox's directory may hold of ours
PARALLEL_WRITES, WRITERS = 64, 4  # sandbox files written from threads: from how many, by how many
# The first line names the state_dir whose records the file comes from: two state_dirs on
# one host never take each other's files for leftovers.
HOSTS_HEAD = (
    "# Written by cnm.fabric for %s: endpoints of the networks this sandbox joins.\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
)
RESOLV_HEAD = "# Written by cnm.fabric from "
NAMED_FILES = ("hosts", "resolv.conf")  # the files of a sandbox that `ip netns exec` mounts over /etc

Endpoints = Mapping[str, EndpointRecord]
Networks = Mapping[str, NetworkRecord]
HostsIndex = Tuple[Dict[str, str], Dict[str, Set[str]]]  # hosts_index's
T = TypeVar("T")
ListOption = Literal["dns", "dns_search", "dns_options"]  # Settings' lists
LIST_OPTIONS: Tuple[ListOption, ...] = ("dns", "dns_search", "dns_options")


class Settings(TypedDict, total=False):
    """A sandbox's resolver and hosts-file options, from its endpoints (spec.SANDBOX_OPTIONS)."""
    dns: Tuple[str, ...]
    dns_search: Tuple[str, ...]
    dns_options: Tuple[str, ...]
    extra_hosts: Dict[str, str]


def files_dir(state_dir: str, key: str) -> str:
    if key.startswith("/"):
        return names.sandbox_files_dir(state_dir, key)
    return os.path.join(ETC_NETNS, key)


def render_hosts(endpoints: Endpoints, key: str, index: Optional[HostsIndex] = None,
                 cache: Optional[Dict[FrozenSet[str], str]] = None, networks: Optional[Networks] = None,
                 state_dir: str = "", extra_hosts: Optional[Mapping[str, str]] = None) -> str:
    """Every addressed endpoint of the networks that sandbox ``key`` joins, with the
    remote endpoints of its overlay networks' peers, then the sandbox's ``extra_hosts``.

    Sandboxes on the same networks share one text (``cache``, by set of networks)."""
    blocks, joined = index or hosts_index(endpoints, networks)
    nets = frozenset(joined.get(key, ()))
    if cache is not None and nets in cache:
        text = cache[nets]
    else:
        text = HOSTS_HEAD % state_dir + "".join(blocks.get(net, "") for net in sorted(nets))
        if cache is not None:
            cache[nets] = text
    if extra_hosts:
        text += "# extra_hosts\n" + "".join("%s\t%s\n" % (addr, name) for name, addr in sorted(extra_hosts.items()))
    return text


def hosts_index(endpoints: Endpoints, networks: Optional[Networks] = None) -> HostsIndex:
    """Each network's hosts lines (in address order) and each sandbox's networks: O(endpoints)."""
    lines: Dict[str, List[Tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, str]]] = {}
    joined: Dict[str, Set[str]] = {}

    def add(network: str, name: str, address: str, aliases: Optional[Sequence[str]]) -> None:
        hostnames = [name] + [a for a in aliases or [] if a != name]
        lines.setdefault(network, []).append(
            (ipaddress.ip_address(address), "%s\t%s\n" % (address, " ".join(hostnames))))

    for ep in endpoints.values():
        joined.setdefault(ep["sandbox"], set()).add(ep["network"])
        for address in (ep.get("ipv4_address"), ep.get("ipv6_address")):
            if address:
                add(ep["network"], ep["name"], address, ep.get("aliases"))
    for name, net in (networks or {}).items():
        for remote in drivers.get(net["driver"]).remote_endpoints(net):
            for address in (remote["ip"], remote.get("ip6")):
                if address:
                    add(name, remote["name"], address, remote.get("aliases"))
        for svc in (net.get("services") or {}).values():
            add(name, svc["name"], svc["vip"], svc["aliases"])
    blocks = dict((net, "".join(entry[1] for entry in sorted(items, key=lambda e: (e[0].version, e[0]))))
                  for net, items in lines.items())
    return blocks, joined


def sandbox_settings(endpoints: Endpoints, members: Iterable[str]) -> Settings:
    """The resolver and hosts-file options (spec.SANDBOX_OPTIONS) of a sandbox, from the
    endpoints ``members`` (keys) that give them; endpoint_present made sure they agree."""
    out: Settings = {}
    for key in sorted(members):
        ep = endpoints[key]
        for option in LIST_OPTIONS:
            value = ep.get(option)
            if value:
                out[option] = tuple(value)
        extra = ep.get("extra_hosts")
        if extra:
            out.setdefault("extra_hosts", {}).update(extra)
    return out


HOST_RESOLV = "/etc/resolv.conf"
# systemd-resolved's list of the real upstream servers, behind its stub on 127.0.0.53.
RESOLVED_RESOLV = "/run/systemd/resolve/resolv.conf"


def _loopback(word: str) -> bool:
    try:
        return ipaddress.ip_address(word.split("%")[0]).is_loopback
    except ValueError:
        return True  # not an address a sandbox could use either


def _nameservers(text: str) -> List[str]:
    return [line.split()[1] for line in text.splitlines() if line.split()[:1] == ["nameserver"]
            and len(line.split()) > 1]


def host_resolv(primary: str = HOST_RESOLV, fallback: str = RESOLVED_RESOLV) -> Tuple[str, str]:
    """(path, text) of the resolv.conf sandboxes copy: the host's, or, when it lists only
    loopback resolvers (systemd-resolved's stub), the one behind them, as Docker does."""
    text = read_text(primary) or ""
    servers = _nameservers(text)
    if servers and all(_loopback(s) for s in servers):
        behind = read_text(fallback)
        if behind is not None:
            return fallback, behind
    return primary, text


def render_resolv(text: str, source: str = HOST_RESOLV, settings: Optional[Settings] = None) -> str:
    """A resolv.conf for sandboxes: ``text`` without loopback resolvers, which a sandbox cannot
    reach, where the sandbox's own ``settings`` (dns, dns_search, dns_options) replace the
    host's nameservers, search domains and options, as Docker's --dns options do."""
    settings = settings or {}
    out = [RESOLV_HEAD + "%s (loopback resolvers left out%s).\n"
           % (source, "; " + ", ".join(sorted(settings)) + " from the endpoints" if settings else "")]
    own = {"nameserver": "dns", "search": "dns_search", "domain": "dns_search", "options": "dns_options"}
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith(("#", ";")):
            continue
        if words[0] == "nameserver" and (len(words) < 2 or _loopback(words[1])):
            continue
        if words[0] in own and own[words[0]] not in settings:
            out.append(" ".join(words) + "\n")
    out += ["nameserver %s\n" % server for server in settings.get("dns", ())]
    for word, value in (("search", settings.get("dns_search")), ("options", settings.get("dns_options"))):
        if value:
            out.append("%s %s\n" % (word, " ".join(value)))
    return "".join(out)


def rules_path(state_dir: str, key: str) -> str:
    """Where the service rules loaded into sandbox ``key`` are kept: under the state directory,
    never in /etc/netns/NAME, whose every file ``ip netns exec`` mounts over /etc."""
    return os.path.join(names.sandbox_files_dir(state_dir, key), RULES_FILE)


def _sync_rules(state_dir: str, key: str, text: str, check_mode: bool, fresh: bool = False) -> List[str]:
    """Load the sandbox's service rules (services.py) when they differ from those it has, as
    recorded in its rules file (``rules_path``), or when its namespace is ``fresh`` (made by
    this run: one made again after a reboot has none, whatever the file says)."""
    path = rules_path(state_dir, key)
    if (read_text(path) or "") == text and not (fresh and text):
        return []
    if not check_mode:
        services.load(key, text)
        _write_rules(path, text)
    return ["load the service rules of sandbox %s" % key]


def _write_rules(path: str, text: str) -> None:
    """Keep ``text`` as the loaded rules, or forget them (and their directory, when it holds
    nothing else) when it is ''."""
    if text:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, text, mode=0o644, durable=False)
        return
    try:
        os.unlink(path)
        os.rmdir(os.path.dirname(path))
    except OSError:
        pass  # gone already, or the directory holds a path sandbox's other files


def _written_here(name: str, text: str, state_dir: str) -> bool:
    """Whether sandbox file ``name`` with ``text`` was written by the collection for ``state_dir``
    (a hosts file names its state_dir; a resolv.conf carries the collection's header)."""
    head = (HOSTS_HEAD % state_dir).split("\n", 1)[0] if name == "hosts" else RESOLV_HEAD
    return text.startswith(head)


def _foreign(path: str, state_dir: str) -> Optional[str]:
    """Why the file at ``path`` is not the collection's to replace or remove (None: it is, or it is
    absent). One open that follows no link and one read of its first line."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "%s is a symbolic link" % path
        return "%s cannot be read (%s)" % (path, e.strerror)
    try:
        head = os.read(fd, 512).decode("utf-8", "replace")
    finally:
        os.close(fd)
    if not _written_here(os.path.basename(path), head, state_dir):
        return "%s was not written by cnm.fabric for %s (it lacks the collection's first line)" % (path, state_dir)
    return None


def check_files(state_dir: str, key: str, option: str) -> None:
    """Refuse, before anything is changed, a sandbox whose files cannot be the collection's: its
    directory (or /etc/netns) a symbolic link, which would send the writes elsewhere, or a hosts
    file or resolv.conf already there that the collection did not write (a user's)."""
    directory = files_dir(state_dir, key)
    for path in (os.path.dirname(directory), directory):
        if os.path.islink(path):
            raise SpecError("%s is a symbolic link; the collection writes a sandbox's files only into a directory "
                            "of its own: replace the link with a directory" % path, option)
    for name in NAMED_FILES:
        problem = _foreign(os.path.join(directory, name), state_dir)
        if problem:
            raise SpecError("%s; move it aside (the collection writes this sandbox's %s, as Docker does for a "
                            "container) or give the endpoint another sandbox" % (problem, name), option)


def remove_files(directory: str, state_dir: str) -> None:
    """The files this module writes (and those of its killed writes), then the directory if
    nothing else is left in it. In /etc/netns, only the files the collection wrote for
    ``state_dir`` go, and a directory that is a symbolic link is left as it is."""
    if os.path.islink(directory):
        return
    remove_stale_tmp(directory)
    for name in FILES:
        path = os.path.join(directory, name)
        if name in NAMED_FILES and directory.startswith(ETC_NETNS + "/") and _foreign(path, state_dir):
            continue
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    try:
        os.rmdir(directory)
    except OSError:
        pass  # someone else's files are in it: leave them


def _ours(directory: str, state_dir: str) -> bool:
    """Whether a sandbox directory holds a hosts file the collection wrote for ``state_dir``."""
    return _written_here("hosts", read_text(os.path.join(directory, "hosts")) or "", state_dir)


def leftovers(state_dir: str, sandboxes: Iterable[str]) -> Tuple[List[str], List[str]]:
    """Directories of sandbox files that belong to no recorded sandbox, and temporary files
    of killed writes in those that do: (directories, files)."""
    wanted = set(files_dir(state_dir, key) for key in sandboxes)
    wanted.update(os.path.dirname(rules_path(state_dir, key)) for key in sandboxes)
    dirs: List[str] = []
    for top in (ETC_NETNS, os.path.join(state_dir, "sandboxes")):
        try:
            names = sorted(os.listdir(top))
        except OSError:
            continue
        for name in names:
            directory = os.path.join(top, name)
            if directory not in wanted and os.path.isdir(directory) and not os.path.islink(directory) \
                    and (top != ETC_NETNS or _ours(directory, state_dir)):
                dirs.append(directory)
    tmp = [path for directory in sorted(wanted) for path in stale_tmp(directory)]
    return dirs, tmp


def sync(state_dir: str, endpoints: Endpoints, sandboxes: Mapping[str, SandboxRecord], keys: Iterable[str],
         check_mode: bool, networks: Optional[Networks] = None,
         resolv_files: Tuple[str, str] = (HOST_RESOLV, RESOLVED_RESOLV), fresh: Collection[str] = ()) -> List[str]:
    """Bring the files of sandboxes ``keys`` up to date; return what was done, as sentences.

    A sandbox that no longer has a record loses its directory. Those in ``fresh`` (namespaces
    made by this run) have their service rules loaded whatever their rules file says.
    """
    source, host_text = host_resolv(*resolv_files)
    resolv = render_resolv(host_text, source)
    index = hosts_index(endpoints, networks)
    cache: Dict[FrozenSet[str], str] = {}
    rules: Dict[FrozenSet[str], str] = {}
    members: Dict[str, List[str]] = {}
    for ep_key, ep in endpoints.items():
        if ep["sandbox"] in keys:
            members.setdefault(ep["sandbox"], []).append(ep_key)
    changed: List[str] = []
    writes: List[Tuple[str, str]] = []
    removals: List[str] = []
    for key in sorted(keys):
        directory = files_dir(state_dir, key)
        if key not in sandboxes:
            if os.path.exists(netns_path(key)):  # a namespace that outlives its record keeps no service rules
                changed += _sync_rules(state_dir, key, "", check_mode)
            elif not check_mode:
                _write_rules(rules_path(state_dir, key), "")
            if os.path.isdir(directory):
                changed.append("remove %s" % directory)
                removals.append(directory)
            continue
        for path in stale_tmp(directory):
            changed.append("remove %s (left by a killed write)" % path)
            if not check_mode:
                os.unlink(path)
        settings = sandbox_settings(endpoints, members.get(key, ()))
        hosts = render_hosts(endpoints, key, index, cache, state_dir=state_dir, extra_hosts=settings.pop("extra_hosts", None))
        joined = frozenset(index[1].get(key, ()))
        if joined not in rules:
            rules[joined] = services.render(networks or {}, endpoints, joined)
        changed += _sync_rules(state_dir, key, rules[joined], check_mode, key in fresh)
        for name, text in (("hosts", hosts), ("resolv.conf", render_resolv(host_text, source, settings) if settings else resolv)):
            path = os.path.join(directory, name)
            current = read_text(path)
            if current != text:
                if current is not None and not _written_here(name, current, state_dir):  # put there since the join
                    raise StoreError("%s was not written by cnm.fabric for %s; it was left as it is: move it aside "
                                     "and run again" % (path, state_dir), "sandbox")
                changed.append("write %s" % path)
                writes.append((path, text))
    if not check_mode:
        _in_threads(lambda directory: remove_files(directory, state_dir), removals)
        _in_threads(_write, writes)
    return changed


def _write(item: Tuple[str, str]) -> None:
    try:
        atomic_write(item[0], item[1], mode=0o644, durable=False)
    except StoreError as e:
        raise StoreError(e.msg, "sandbox")


def _in_threads(work: Callable[[T], None], items: Sequence[T]) -> None:
    """``work(item)`` for each item; many from a few threads at once: making and removing files is
    the kernel's work (with the GIL released), which a bulk run of a thousand sandboxes waits for
    otherwise."""
    if len(items) < PARALLEL_WRITES:
        for item in items:
            work(item)
        return
    with concurrent.futures.ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(work, items))
