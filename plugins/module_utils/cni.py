# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CNI protocol (spec 1.1.0, 1.0.0 and 0.4.0), run as a container runtime runs it.

A network configuration list is ``{"cniVersion", "name", "plugins": [...]}``. Each plugin is an
executable found on the CNI path by its ``type``, run with the command and the attachment in its
environment (``CNI_COMMAND``, ``CNI_CONTAINERID``, ``CNI_NETNS``, ``CNI_IFNAME``, ``CNI_PATH``) and
its own configuration on stdin: the plugin's object with the list's ``name`` and ``cniVersion``, and
``prevResult``, what the plugin before it returned (``ADD``) or the attachment's final result
(``CHECK``, ``DEL``). ``ADD`` runs the list in order, ``CHECK`` too, ``DEL`` in reverse. A plugin that
fails exits non-zero with a CNI error on stdout (``code``, ``msg``, ``details``). At spec 1.1.0,
``STATUS`` asks each plugin whether it can take an ADD (it is asked before each), and ``GC`` tells
each the attachments that are still valid (``cni.dev/valid-attachments``), so that it frees what it
holds for any other (cnm_prune sends it).

Nothing here goes through a shell: the plugin is executed by its path, with an environment of its
own, and the only user text it reads is the configuration on stdin, JSON-encoded.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import json
import os
import re
import subprocess
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError, SpecError

VERSIONS = ("1.0.0", "1.1.0", "0.4.0")  # those with CHECK: what a plugin's version is judged by
STATUS_VERSIONS = ("1.1.0",)  # those with STATUS and GC
DEFAULT_PATH = ("/usr/lib/cni", "/opt/cni/bin")  # Debian's package, then the upstream tarball's place
TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # a file name: no path, nothing a shell or CNI_PATH reads
RUNTIME_KEYS = ("name", "cniVersion", "prevResult")  # set for each plugin by the runtime, never by the user
TIMEOUT = 120  # seconds a plugin may take (dhcp waits for a lease)
ATTACHMENT = "cni_attachment"  # the endpoint record's part that holds what its ADD ran and returned
ENV_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"  # where plugins find their tools (iptables, for ipMasq)

Conflist = Dict[str, Any]


class PluginError(KernelError):
    """A plugin that failed: ``code`` is its CNI error code (None when it gave no CNI error)."""

    def __init__(self, msg: str, code: Optional[int] = None) -> None:
        super().__init__(msg)
        self.code = code


# -- input -------------------------------------------------------------------------------

def check_path(value: Any, option: str) -> Tuple[str, ...]:
    """The CNI path: absolute directories, none with a colon (CNI_PATH's separator)."""
    if value is None:
        return DEFAULT_PATH
    out = []
    for i, item in enumerate(value):
        text = str(item)
        if not text.startswith("/") or ":" in text or "\0" in text or "\n" in text:
            raise SpecError("%r is not an absolute directory without a colon (CNI_PATH separates its directories "
                            "with colons)" % text, "%s[%d]" % (option, i))
        out.append(os.path.normpath(text))
    if not out:
        raise SpecError("needs at least one directory", option)
    return tuple(out)


def check_plugins(value: Any, option: str) -> Tuple[Dict[str, Any], ...]:
    """The plugins of a configuration list: objects, each with a ``type`` that names a file."""
    if not value:
        raise SpecError("needs at least one plugin", option)
    out = []
    for i, plugin in enumerate(value):
        where = "%s[%d]" % (option, i)
        if not isinstance(plugin, dict):
            raise SpecError("is not a plugin's configuration (an object with a type)", where)
        for key, kind in plugin_types(plugin):
            if not isinstance(kind, str) or not TYPE.match(kind):
                raise SpecError("%r is not a plugin name: a plugin is an executable named by its type, found on the "
                                "CNI path" % (kind,), "%s.%s" % (where, key))
        for key in RUNTIME_KEYS:
            if key in plugin:
                raise SpecError("is set by the runtime for each plugin (the network's name and cni.cni_version)",
                                "%s.%s" % (where, key))
        try:
            out.append(json.loads(json.dumps(plugin)))  # plain JSON data, a copy of its own
        except (TypeError, ValueError) as e:
            raise SpecError("cannot be written as JSON: %s" % e, where)
    return tuple(out)


def plugin_types(plugin: Dict[str, Any]) -> List[Tuple[str, Any]]:
    """(key, type) of the executables a plugin's configuration names: its own, and its IPAM plugin's."""
    out = [("type", plugin.get("type"))]
    if isinstance(plugin.get("ipam"), dict) and plugin["ipam"].get("type") is not None:
        out.append(("ipam.type", plugin["ipam"]["type"]))
    return out


def conflist(name: str, version: str, plugins: Sequence[Dict[str, Any]]) -> Conflist:
    return {"cniVersion": version, "name": name, "plugins": [copy.deepcopy(p) for p in plugins]}


def types_text(net: Conflist) -> str:
    """The plugins of a list, as a change's text names them: ``bridge+tuning``."""
    return "+".join(str(plugin.get("type")) for plugin in net["plugins"])


def find(kind: str, path: Sequence[str]) -> Optional[str]:
    """The executable of plugin ``kind`` on ``path`` (the first directory that has it), or None."""
    for directory in path:
        exe = os.path.join(directory, kind)
        if os.path.isfile(exe) and os.access(exe, os.X_OK):
            return exe
    return None


def supported_versions(exe: str) -> Tuple[str, ...]:
    """The spec versions a plugin says it supports (its VERSION command)."""
    out = _exec(exe, "VERSION", {"cniVersion": VERSIONS[0]}, {})
    return tuple(out.get("supportedVersions") or ())


def check_found(kinds: Sequence[Tuple[str, Any]], path: Sequence[str], version: Optional[str]) -> None:
    """Every plugin of ``kinds`` ((option, type) pairs) must be on ``path`` and, unless ``version``
    is None (asked already), support that spec version (its VERSION command)."""
    for option, kind in kinds:
        exe = find(kind, path)
        if exe is None:
            raise SpecError("no plugin %s on the CNI path %s (Debian's containernetworking-plugins package "
                            "puts the reference plugins in /usr/lib/cni)" % (kind, ":".join(path)), option)
        if version is None:
            continue
        try:
            versions = supported_versions(exe)
        except PluginError as e:
            raise SpecError(e.msg, option)
        if version not in versions:
            raise SpecError("plugin %s supports CNI %s, not %s" % (kind, ", ".join(versions) or "no version", version),
                            option)


# -- commands ------------------------------------------------------------------------------

def _exec(exe: str, command: str, conf: Dict[str, Any], attachment: Dict[str, str]) -> Dict[str, Any]:
    """Run one plugin; return what it printed (a JSON object, {} for nothing). Raise PluginError."""
    env = dict(attachment, CNI_COMMAND=command, PATH=ENV_PATH)
    kind = os.path.basename(exe)
    try:
        done = subprocess.run([exe], input=json.dumps(conf).encode("utf-8"), env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise PluginError("CNI plugin %s did not finish %s within %d s" % (kind, command, TIMEOUT))
    except OSError as e:
        raise PluginError("CNI plugin %s cannot be run: %s" % (kind, e))
    text = done.stdout.decode("utf-8", "replace").strip()
    try:
        out = json.loads(text) if text else {}
    except ValueError:
        out = None
    if done.returncode != 0:
        if isinstance(out, dict) and "msg" in out:
            said = out["msg"] + (": %s" % out["details"] if out.get("details") else "")
            raise PluginError("CNI plugin %s failed %s (code %s): %s" % (kind, command, out.get("code"), said),
                              out.get("code"))
        said = (text or done.stderr.decode("utf-8", "replace").strip())[:500]
        raise PluginError("CNI plugin %s failed %s (exit status %d)%s" % (kind, command, done.returncode,
                                                                          ": " + said if said else ""))
    if not isinstance(out, dict):
        raise PluginError("CNI plugin %s answered %s with what is not a JSON object: %s" % (kind, command, text[:200]))
    return out


def _attachment(container_id: str, netns: str, ifname: str, path: Sequence[str]) -> Dict[str, str]:
    return {"CNI_CONTAINERID": container_id, "CNI_NETNS": netns, "CNI_IFNAME": ifname, "CNI_PATH": ":".join(path)}


def _conf(net: Conflist, plugin: Dict[str, Any], prev: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    conf = dict(plugin, cniVersion=net["cniVersion"], name=net["name"])
    if prev is not None:
        conf["prevResult"] = prev
    return conf


def _plugin(plugin: Dict[str, Any], path: Sequence[str]) -> str:
    exe = find(plugin["type"], path)
    if exe is None:
        raise PluginError("CNI plugin %s is not on the CNI path %s" % (plugin["type"], ":".join(path)))
    return exe


def ipam(command: str, conf: Dict[str, Any], path: Sequence[str], container_id: str, netns: str,
         ifname: str) -> Dict[str, Any]:
    """Run the IPAM plugin of network configuration ``conf`` (its ``ipam.type``) as a main plugin
    delegates to it: the same configuration on stdin, the attachment of the interface it is for."""
    exe = _plugin(conf["ipam"], path)
    if command == "ADD":
        status(ipam_list(conf), path)
    attachment = _attachment(container_id, netns if command == "ADD" or os.path.exists(netns) else "", ifname, path)
    return _exec(exe, command, conf, attachment)


def ipam_list(conf: Dict[str, Any]) -> Conflist:
    """A network configuration ``conf`` as the list of its IPAM plugin alone (for STATUS and GC)."""
    plugin = dict((k, v) for k, v in conf.items() if k not in ("cniVersion", "name"))
    return conflist(conf["name"], conf["cniVersion"], [dict(plugin, type=conf["ipam"]["type"])])


def status(net: Conflist, path: Sequence[str]) -> None:
    """At spec 1.1.0, STATUS of each plugin: raise PluginError, saying so, unless every one can take an ADD."""
    if net["cniVersion"] not in STATUS_VERSIONS:
        return
    for plugin in net["plugins"]:
        try:
            _exec(_plugin(plugin, path), "STATUS", _conf(net, plugin, None), {"CNI_PATH": ":".join(path)})
        except PluginError as e:
            e.msg = "not ready for an ADD: " + e.msg
            raise


def gc(net: Conflist, path: Sequence[str], valid: Sequence[Tuple[str, str]]) -> None:
    """GC (spec 1.1.0) of each plugin, given the attachments still valid ((container ID, interface)
    pairs). Every plugin is run even when one fails; the first failure is raised."""
    attachments = [{"containerID": cid, "ifname": ifname} for cid, ifname in valid]
    # cni.dev/attachments: the name of a draft of the spec, which some plugins read
    _every(net, net["plugins"], path, "GC", {"CNI_PATH": ":".join(path)},
           extra={"cni.dev/valid-attachments": attachments, "cni.dev/attachments": attachments})


def add(net: Conflist, path: Sequence[str], container_id: str, netns: str, ifname: str,
        prev: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """ADD the list in order, the first plugin given ``prev`` (a chain's: what made the interface);
    return the last plugin's result. A failed ADD is followed by DEL of the whole list, as the spec
    asks, so that nothing of it is left; its error is raised."""
    status(net, path)
    attachment = _attachment(container_id, netns, ifname, path)
    first = prev
    try:
        for plugin in net["plugins"]:
            prev = _exec(_plugin(plugin, path), "ADD", _conf(net, plugin, prev), attachment)
    except PluginError as e:
        try:
            delete(net, path, container_id, netns, ifname, first)
        except PluginError as undo:
            e.msg += "; the DEL that followed failed too: %s" % undo.msg
        raise
    return prev or {}


def delete(net: Conflist, path: Sequence[str], container_id: str, netns: str, ifname: str,
           result: Optional[Dict[str, Any]]) -> None:
    """DEL the list in reverse, each plugin given the attachment's result (when known). Every plugin
    is run even when one fails; the first failure is raised."""
    attachment = _attachment(container_id, netns if os.path.exists(netns) else "", ifname, path)
    _every(net, reversed(net["plugins"]), path, "DEL", attachment, result)


def _every(net: Conflist, plugins: Iterable[Dict[str, Any]], path: Sequence[str], command: str, attachment: Dict[str, str],
           prev: Optional[Dict[str, Any]] = None, extra: Optional[Dict[str, Any]] = None) -> None:
    """``command`` run by each of ``plugins`` (their configurations with ``prev`` and ``extra``), even
    when one fails; the first failure is raised."""
    failed: List[PluginError] = []
    for plugin in plugins:
        try:
            _exec(_plugin(plugin, path), command, dict(_conf(net, plugin, prev), **(extra or {})), attachment)
        except PluginError as e:
            failed.append(e)
    if failed:
        raise failed[0]


def check(net: Conflist, path: Sequence[str], container_id: str, netns: str, ifname: str,
          result: Dict[str, Any]) -> Optional[str]:
    """CHECK the list in order against the attachment's result; return the first failure's text, or None."""
    attachment = _attachment(container_id, netns, ifname, path)
    for plugin in net["plugins"]:
        try:
            _exec(_plugin(plugin, path), "CHECK", _conf(net, plugin, result), attachment)
        except PluginError as e:
            return e.msg
    return None


# -- attachments ---------------------------------------------------------------------------

def container_id(*parts: str) -> str:
    """A CNI_CONTAINERID of 64 hex digits, stable for what ``parts`` name."""
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def addressing(network: Mapping[str, Any], endpoint: Mapping[str, Any]) -> List[Tuple[str, Optional[str], str]]:
    """(address with its prefix, its network's gateway or None, the family's default destination) of
    each address an endpoint record holds on a network record with a subnet of its family."""
    out = []
    for address, subnet, gateway, default in (
            (endpoint.get("ipv4_address"), network.get("subnet"), network.get("gateway"), "0.0.0.0/0"),
            (endpoint.get("ipv6_address"), network.get("ipv6_subnet"), network.get("ipv6_gateway"), "::/0")):
        if address and subnet:
            out.append(("%s/%d" % (address, ipaddress.ip_network(subnet).prefixlen), gateway, default))
    return out


# -- results -------------------------------------------------------------------------------

def addresses(result: Dict[str, Any], ifname: str) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    """(IPv4 address, IPv6 address, MAC) of interface ``ifname`` in the sandbox, from a result of
    spec 1.0.0 or 0.4.0: the first address of each family on that interface (or on none named)."""
    interfaces = result.get("interfaces") or []
    mine = [i for i, itf in enumerate(interfaces) if itf.get("name") == ifname and itf.get("sandbox")]
    mac = interfaces[mine[0]].get("mac") if mine else None
    found: Dict[int, str] = {}
    for ip in result.get("ips") or []:
        where = ip.get("interface")
        if where is not None and mine and where not in mine:
            continue
        try:
            address = ipaddress.ip_interface(ip.get("address") or "").ip
        except ValueError:
            continue
        found.setdefault(address.version, str(address))
    return found.get(4), found.get(6), mac


def configuration(result: Dict[str, Any]) -> Tuple[List[str], Dict[int, Optional[str]], List[Tuple[str, Optional[str]]]]:
    """What a main plugin sets on its interface from an IPAM plugin's result, as the reference plugins
    do: the addresses (CIDRs); the gateway of the default route of each IP version that has one; the
    other routes (destination, gateway or None for on-link). A route without a gateway goes through
    the gateway of an address of its version, when one has one."""
    cidrs: List[str] = []
    gateways: Dict[int, str] = {}
    for ip in result.get("ips") or []:
        try:
            address = ipaddress.ip_interface(ip.get("address") or "")
        except ValueError:
            continue
        cidrs.append(str(address))
        if ip.get("gateway"):
            gateways[address.version] = ip["gateway"]
    defaults: Dict[int, Optional[str]] = {}
    others: List[Tuple[str, Optional[str]]] = []
    for item in result.get("routes") or []:
        try:
            dst = ipaddress.ip_network(item.get("dst") or "", strict=False)
        except ValueError:
            continue
        gateway = item.get("gw") or gateways.get(dst.version)
        if dst.prefixlen == 0:
            defaults[dst.version] = gateway
        else:
            others.append((str(dst), gateway))
    return cidrs, defaults, others
