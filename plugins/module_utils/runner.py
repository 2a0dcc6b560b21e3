# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One module run: spec -> observe -> plan -> apply -> record -> files and firewall.

Check mode takes the same path and skips only the steps that write (kernel
changes, store, files, nftables), so what it reports is what a real run does.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.cnm.fabric.plugins.module_utils import drivers, firewall, names, plan, sandbox
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.bridge import IP_FORWARD, route_localnet
from ansible_collections.cnm.fabric.plugins.module_utils.errors import CnmError, SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.ipam.file import FileBackend
from ansible_collections.cnm.fabric.plugins.module_utils.kernel import Kernel
from ansible_collections.cnm.fabric.plugins.module_utils.spec import BRIDGED, VXLAN_OVERHEAD, check_in_subnet, \
    parse_address, parse_address_pools
from ansible_collections.cnm.fabric.plugins.module_utils.store import ENDPOINTS, NETWORKS, SANDBOXES, Store

LOCAL_SPACE = "local"
NETWORK_FIELDS = ("name", "driver", "subnet", "gateway", "ip_range", "mtu", "internal", "interface",
                  "icc", "masquerade", "host_binding_ip", "hairpin", "vni", "port", "local_ip",
                  "underlay_interface", "vxlan_interface", "peers")
ENDPOINT_FIELDS = ("name", "network", "sandbox", "ifname", "ipv4_address", "mac_address",
                   "default_route", "aliases", "publish", "host_interface")


class Run(object):
    def __init__(self, state_dir, check_mode):
        self.state_dir = state_dir
        self.check = check_mode
        self.store = Store(state_dir, read_only=check_mode)
        self._kernel = None
        self.log = []
        self.pending = []
        self.sandboxes_touched = set()
        self.networks_touched = set()
        self.sandboxes_made = set()
        self._members = None
        self._ipam = {}

    def __enter__(self):
        self.store.__enter__()
        return self

    def __exit__(self, *exc):
        if self._kernel is not None:
            self._kernel.close()
        return self.store.__exit__(*exc)

    @property
    def kernel(self):
        if self._kernel is None:
            self._kernel = Kernel()
        return self._kernel

    @property
    def networks(self):
        return self.store.get(NETWORKS)

    @property
    def endpoints(self):
        return self.store.get(ENDPOINTS)

    @property
    def sandboxes(self):
        return self.store.get(SANDBOXES)

    def ipam(self, space=LOCAL_SPACE):
        if space not in self._ipam:
            self._ipam[space] = FileBackend(self.store, space)
        return self._ipam[space]

    def execute(self, changes):
        """Queue kernel changes; ``finish`` applies them all after recording them."""
        self.log.extend(plan.texts(changes))
        self.pending.extend(changes)

    def sandbox_view(self, key):
        return self.kernel.view(key) if key else None

    def avoid_routes(self):
        """Host routes an automatic subnet must not overlap (ours excepted)."""
        ours = set(n.get("interface") for n in self.networks.values())
        return [ipaddress.ip_network(dst, strict=False)
                for dst, dev in self.kernel.view(None).routes if dev not in ours]

    def finish(self, firewall_sync=True):
        """Record, then bring sandbox files and the firewall in line; return ``changed``."""
        dirty = bool(self.store.dirty())
        if not self.check:
            self.store.save(keep_removed=True)
            try:
                plan.apply(self.kernel, self.pending)
            except Exception:
                self.store.rollback()  # apply undid its changes: so do the records
                raise
            self.store.save()
        keys = set(self.sandboxes_touched)
        keys.update(ep["sandbox"] for ep in self.endpoints.values()
                    if ep["network"] in self.networks_touched and ep["sandbox"] in self.sandboxes)
        files = sandbox.sync(self.state_dir, self.endpoints, self.sandboxes, keys, self.check, self.networks)
        self.log.extend("write %s" % path for path in files)
        if firewall_sync and firewall.sync(self.state_dir, self.networks, self.endpoints, self.check):
            self.log.append("load the nftables tables inet cnm and bridge cnm")
        return dirty or bool(self.log)

    def members(self, sandbox):
        """Keys of the endpoints in ``sandbox`` (an index kept in step with the records)."""
        if self._members is None:
            self._members = {}
            for key, ep in self.endpoints.items():
                self._members.setdefault(ep["sandbox"], set()).add(key)
        return self._members.setdefault(sandbox, set())

    def set_endpoint(self, key, record):
        old = self.endpoints.get(key)
        if old is not None:
            self.members(old["sandbox"]).discard(key)
        self.members(record["sandbox"]).add(key)
        self.endpoints[key] = record
        self.networks_touched.add(record["network"])

    def del_endpoint(self, key):
        record = self.endpoints.pop(key)
        self.members(record["sandbox"]).discard(key)
        self.networks_touched.add(record["network"])
        if record["sandbox"] in self.sandboxes:  # it may still be on other networks
            self.sandboxes_touched.add(record["sandbox"])


def public(record, fields):
    return dict((k, record.get(k)) for k in fields) if record else {}


# --- networks -------------------------------------------------------------------

def endpoints_of(run, network):
    return [run.endpoints[k] for k in sorted(run.endpoints) if run.endpoints[k]["network"] == network]


def network_present(run, spec):
    old = run.networks.get(spec.name)
    if old and old["driver"] != spec.driver:
        raise SpecError("network %r exists with driver %s; remove it first (state: absent) to "
                        "change the driver" % (spec.name, old["driver"]), "driver")
    drv = drivers.get(spec.driver)
    record = {"name": spec.name, "driver": spec.driver, "mtu": spec.mtu, "internal": spec.internal}
    if spec.driver in BRIDGED:
        view = run.kernel.view(None)
        eps = endpoints_of(run, spec.name)
        ipam = run.ipam()
        current = ipam.pools().get(spec.name)
        if current and spec.pool.subnet and str(spec.pool.subnet) != current["subnet"]:
            if eps:
                raise SpecError("network %r has endpoints (%s); remove them before changing its "
                                "subnet from %s" % (spec.name, ", ".join(e["name"] for e in eps),
                                                    current["subnet"]), "subnet")
            ipam.release_pool(spec.name)
        pool = ipam.request_pool(spec.pool, parse_address_pools(None), run.avoid_routes())[0]
        b = spec.bridge
        record.update(subnet=pool["subnet"], gateway=pool["gateway"], ip_range=pool["ip_range"],
                      interface=b.interface, icc=b.icc, masquerade=b.masquerade,
                      host_binding_ip=b.host_binding_ip, hairpin=b.hairpin)
        if spec.driver == "overlay":
            record.update(_overlay_fields(run, spec, view, old))
        if old and old["interface"] != b.interface:
            if eps:
                raise SpecError("network %r has endpoints; remove them before renaming its bridge "
                                "from %s" % (spec.name, old["interface"]), "bridge.name")
            run.execute(drv.delete_network(old, view))
        sysctls = dict((k, run.kernel.sysctl_get(k))
                       for k in (IP_FORWARD, route_localnet(b.interface)))
        if spec.driver == "overlay":
            run.execute(drv.create_network(record, view, sysctls, run.kernel.neighbours(record["vxlan_interface"])))
        else:
            run.execute(drv.create_network(record, view, sysctls))
        if old and any(old.get(k) != record[k] for k in ("mtu", "hairpin", "gateway")):
            for ep in eps:  # endpoints follow the network's MTU, hairpin and gateway in place
                run.execute(drv.join(record, ep, ep, run.kernel.view(None),
                                     run.sandbox_view(ep["sandbox"])))
    run.networks[spec.name] = record
    return record


def _overlay_fields(run, spec, view, old):
    """The overlay part of a network's record: VXLAN settings, MTU and the recorded peers."""
    o = spec.overlay
    for name, net in sorted(run.networks.items()):
        if name != spec.name and net["driver"] == "overlay" and net["vni"] == o.vni:
            raise SpecError("VNI %d is already used by network %r on this host" % (o.vni, name), "overlay.vni")
    underlay, local_ip = _underlay(view, o)
    limit = view.link(underlay).mtu - VXLAN_OVERHEAD
    mtu = spec.mtu or limit
    if mtu > limit:
        raise SpecError("%d does not fit: the underlay %s has MTU %d and VXLAN takes %d bytes of it; use at "
                        "most %d" % (mtu, underlay, limit + VXLAN_OVERHEAD, VXLAN_OVERHEAD, limit), "mtu")
    return {"mtu": mtu, "vni": o.vni, "port": o.port, "local_ip": local_ip, "underlay_interface": underlay,
            "vxlan_interface": names.vxlan_name(spec.name), "peers": (old or {}).get("peers") or {}}


def _underlay(view, o):
    """(underlay interface, local address): as given, else the interface of the default route."""
    owner = dict((cidr.split("/")[0], name) for name, cidrs in view.addresses.items() for cidr in cidrs)
    if o.local_ip and o.local_ip not in owner:
        raise SpecError("%s is not an address of this host" % o.local_ip, "overlay.local_ip")
    name = o.underlay_interface or owner.get(o.local_ip)
    if name is None:
        name = next((lk.name for lk in view.links.values() if lk.index == view.default_dev), None)
        if name is None:
            raise SpecError("this host has no default route to find its underlay by; give "
                            "overlay.local_ip or overlay.underlay_interface", "overlay.local_ip")
    if view.link(name) is None:
        raise SpecError("no interface named %r on this host" % name, "overlay.underlay_interface")
    if o.local_ip:
        return name, o.local_ip
    addresses = sorted(ipaddress.ip_interface(c).ip for c in view.addresses.get(name, ()))
    if not addresses:
        raise SpecError("%s has no IPv4 address to send VXLAN from; give overlay.local_ip" % name,
                        "overlay.local_ip")
    return name, str(addresses[0])


def network_absent(run, spec):
    old = run.networks.get(spec.name)
    if old is None:
        return None
    eps = endpoints_of(run, spec.name)
    if eps and not spec.force:
        raise SpecError("network %r still has endpoints (%s); remove them first or set force: true"
                        % (spec.name, ", ".join(e["name"] for e in eps)), "force")
    for ep in eps:
        endpoint_remove(run, ep)
    drv = drivers.get(old["driver"])
    if old["driver"] in BRIDGED:
        run.execute(drv.delete_network(old, run.kernel.view(None)))
        run.ipam().release_pool(spec.name)
    del run.networks[spec.name]
    return old


# --- endpoints -------------------------------------------------------------------

def _network_for(run, spec):
    net = run.networks.get(spec.network)
    if net is None:
        raise SpecError("no network named %r on this host; create it first with "
                        "cnm.fabric.cnm_network" % spec.network, "network")
    drv = drivers.get(net["driver"])
    given = {"ifname": spec.ifname, "ipv4_address": spec.ipv4_address,
             "mac_address": spec.mac_address, "publish": spec.publish,
             "default_route": spec.default_route}
    for option, value in sorted(given.items()):
        if value not in (None, ()) and option not in drv.ENDPOINT_OPTIONS:
            raise SpecError("is not supported on network %r (driver %s)" % (net["name"], net["driver"]),
                            option)
    return net, drv


def _check_publish(run, spec, key):
    """A host port (and protocol) may be published once per host address."""
    mine_default = run.networks[spec.network].get("host_binding_ip")
    for i, port in enumerate(spec.publish):
        mine_ip = port.host_ip or mine_default
        for other_key, other in sorted(run.endpoints.items()):
            if other_key == key:
                continue
            their_default = run.networks.get(other["network"], {}).get("host_binding_ip")
            for theirs in other.get("publish") or []:
                their_ip = theirs.get("host_ip") or their_default
                if (theirs["host_port"], theirs["protocol"]) == (port.host_port, port.protocol) \
                        and (mine_ip == their_ip or "0.0.0.0" in (mine_ip, their_ip)):
                    raise SpecError("host port %d/%s is already published by endpoint %r of "
                                    "network %r" % (port.host_port, port.protocol, other["name"],
                                                    other["network"]),
                                    "publish[%d].host_port" % i)


def _free_ifname(run, key, sandbox_key, view):
    used = set(view.links) if view else set()
    used.update(run.endpoints[k]["ifname"] for k in run.members(sandbox_key)
                if k != key and run.endpoints[k].get("ifname"))
    i = 0
    while "eth%d" % i in used:
        i += 1
    return "eth%d" % i


def endpoint_present(run, spec):
    net, drv = _network_for(run, spec)
    key, sb = spec.key, spec.sandbox_key
    old = run.endpoints.get(key)
    if old and old["sandbox"] != sb:
        endpoint_remove(run, old)  # moving to another sandbox is a leave and a join
        old = None
    record = {"name": spec.name, "network": spec.network, "sandbox": sb,
              "aliases": list(spec.aliases), "publish": [p.as_dict() for p in spec.publish],
              "ifname": None, "ipv4_address": None, "mac_address": None,
              "default_route": False, "host_interface": None}
    changes = []
    sb_view = None
    if drv.CREATES_SANDBOX:
        if not run.kernel.netns_exists(sb):
            if spec.sandbox_path:
                raise SpecError("%s does not exist (is the container running?)" % sb, "sandbox_path")
            if sb not in run.sandboxes_made:  # else an earlier endpoint of this run makes it
                run.sandboxes_made.add(sb)
                changes.append(plan.change("create sandbox %s" % sb, "netns_add", sb,
                                           undo=("netns_del", (sb,))))
            run.sandboxes[sb] = {"created": True}
        elif sb not in run.sandboxes:
            run.sandboxes[sb] = {"created": False}
        sb_view = run.sandbox_view(sb)
        run.sandboxes_touched.add(sb)
    if net["driver"] in BRIDGED:
        if net["driver"] == "overlay":
            _check_overlay_address(net, spec, old)
        address = run.ipam().request_address(net["name"], spec.name, spec.ipv4_address)[0]
        _check_publish(run, spec, key)
        if spec.default_route is not None:
            default_route = spec.default_route
        elif old:
            default_route = old["default_route"]
        else:
            default_route = not any(run.endpoints[k]["default_route"] for k in run.members(sb) if k != key)
        record.update(
            ifname=spec.ifname or (old and old["ifname"]) or _free_ifname(run, key, sb, sb_view),
            ipv4_address=address, mac_address=spec.mac_address or names.mac_from_ipv4(address),
            default_route=default_route,
            host_interface=names.veth_name(spec.network, spec.name))
        changes += drv.join(net, record, old, run.kernel.view(None), sb_view)
    run.execute(changes)
    run.set_endpoint(key, record)
    return record


def _check_overlay_address(net, spec, old):
    """An overlay endpoint's address comes from the fleet pool, and no peer may hold it."""
    if spec.ipv4_address is None and old is None:
        raise SpecError("endpoints of overlay network %r take their address from the fleet pool: give "
                        "ipv4_address (the cnm.fabric.overlay_network role allocates it)" % net["name"],
                        "ipv4_address")
    for vtep, remote in sorted((net.get("peers") or {}).items()):
        for ep in remote:
            if ep["ip"] == (spec.ipv4_address or old["ipv4_address"]) or ep["name"] == spec.name:
                raise SpecError("%s (%s) is the remote endpoint %r behind VTEP %s"
                                % (ep["ip"], spec.name, ep["name"], vtep), "ipv4_address")


def endpoint_remove(run, record):
    net = run.networks.get(record["network"])
    sb = record["sandbox"]
    changes = []
    # The last endpoint of a sandbox this collection made, with no process inside: removing
    # the namespace removes its veth pairs too, in one kernel batch (as `ip netns del` does).
    goes_with_sandbox = run.sandboxes.get(sb, {}).get("created") and run.members(sb) == {
        names.endpoint_key(record["network"], record["name"])} and not run.kernel.netns_busy(sb)
    if net is not None:
        if not goes_with_sandbox:
            host_view = run.kernel.view(None)
            # The sandbox is looked into only when the host end is gone (its dump is the cost).
            missing = host_view.link(record.get("host_interface") or "") is None
            changes += drivers.get(net["driver"]).leave(net, record, host_view,
                                                        run.sandbox_view(sb) if missing else None)
        if net["driver"] in BRIDGED:
            run.ipam().release_address(net["name"], record["name"])
    run.del_endpoint(names.endpoint_key(record["network"], record["name"]))
    if sb in run.sandboxes and not run.members(sb):
        if run.sandboxes[sb].get("created") and run.kernel.netns_exists(sb):
            changes.append(plan.change("remove sandbox %s" % sb, "netns_del", sb))
        del run.sandboxes[sb]
        run.sandboxes_touched.add(sb)
    run.execute(changes)


def endpoint_absent(run, spec):
    old = run.endpoints.get(spec.key)
    if old is not None:
        endpoint_remove(run, old)
    return old


def endpoints_converge(run, specs, state, exclusive, networks=(), bulk=True):
    """Many endpoints in one run: one observation per namespace, one apply, one write.

    With ``exclusive``, endpoints of ``networks`` (and of the networks the specs name)
    that are not listed are removed. Returns the records of the listed endpoints.
    In ``bulk``, errors name the item: ``endpoints[3].ipv4_address``.
    """
    records = []
    for i, spec in enumerate(specs):
        try:
            if state == "present":
                records.append(endpoint_present(run, spec))
            else:
                endpoint_absent(run, spec)
                records.append(None)
        except CnmError as e:
            if bulk and e.option:
                e.option = "endpoints[%d].%s" % (i, e.option)
            raise
    if exclusive and state == "present":
        listed = set(spec.key for spec in specs)
        scope = set(networks) | set(spec.network for spec in specs)
        for key in sorted(run.endpoints):
            if run.endpoints[key]["network"] in scope and key not in listed:
                endpoint_remove(run, run.endpoints[key])
    return records


def endpoint_facts(run, record):
    if not record:
        return {}
    facts = public(record, ENDPOINT_FIELDS)
    if record["sandbox"] in run.sandboxes:
        facts["hosts_file"] = sandbox.files_dir(run.state_dir, record["sandbox"]) + "/hosts"
    return facts


# --- address pools -----------------------------------------------------------------

def ipam_converge(run, spec, ipam):
    """cnm_ipam_pool on ``ipam`` (a backend): returns (pool view or {}, {owner: address}).

    ``run`` is None for a backend outside this host (etcd): the local space's checks
    (host routes, networks' pools) do not apply there.
    """
    req = spec.request
    if req is None:
        return {}, {}
    if spec.state == "absent" and not spec.addresses:
        net = run.networks.get(req.name) if run and spec.space == LOCAL_SPACE else None
        if net is not None:
            raise SpecError("pool %r belongs to network %r; remove the network instead"
                            % (req.name, req.name), "pool")
        ipam.release_pool(req.name)
        return {}, {}
    if spec.state == "absent":
        for owner, _addr in spec.addresses:
            ipam.release_address(req.name, owner)
        pool = ipam.pools().get(req.name)
        return (pool_facts(req.name, pool), dict(pool["addresses"])) if pool else ({}, {})
    avoid = run.avoid_routes() if run and spec.space == LOCAL_SPACE and req.subnet is None \
        and req.name not in ipam.pools() else ()
    pool = ipam.request_pool(req, spec.address_pools, avoid)[0]
    for i, (owner, addr) in enumerate(spec.addresses):
        ipam.request_address(req.name, owner, addr, option="addresses[%d].address" % i)
    if spec.exclusive:
        listed = set(item[0] for item in spec.addresses)
        for owner in sorted(set(pool["addresses"]) - listed):
            ipam.release_address(req.name, owner)
    return pool_facts(req.name, pool), dict(pool["addresses"])


def pool_facts(name, pool):
    return {"name": name, "subnet": pool["subnet"], "gateway": pool["gateway"],
            "ip_range": pool.get("ip_range"), "aux_addresses": dict(pool.get("aux_addresses") or {})}


def pool_record(name, pool):
    """A pool's facts with the addresses it handed out, as cnm_info and diffs show it."""
    return dict(pool_facts(name, pool), addresses=dict(pool["addresses"]))


def orphan_links(run):
    """Host links with the collection's naming that no record owns: {name: Link}."""
    owned = set(n.get("interface") for n in run.networks.values())
    owned.update(n.get("vxlan_interface") for n in run.networks.values())
    owned.update(e.get("host_interface") for e in run.endpoints.values())
    return dict((name, link) for name, link in run.kernel.view(None).links.items()
                if name.startswith((names.BRIDGE_PREFIX, names.VETH_PREFIX, names.VXLAN_PREFIX))
                and name not in owned)


# --- garbage collection ---------------------------------------------------------------

def prune(run):
    """Remove what belongs to nothing: returns what was (or would be) removed, by kind.

    - endpoint records whose network is gone (their veth and sandbox too);
    - links with the collection's naming that no record owns;
    - records of sandboxes that no endpoint uses;
    - addresses in a network's pool whose owner is no endpoint of that network.
    """
    removed = {"endpoints": [], "links": [], "sandboxes": [], "addresses": []}
    for key in sorted(run.endpoints):
        if run.endpoints[key]["network"] not in run.networks:
            record = run.endpoints[key]
            changes = []
            if record.get("host_interface"):
                changes.append(plan.change("delete veth %s" % record["host_interface"], "link_del_batch",
                                           record["host_interface"]))
            run.execute(changes)
            run.del_endpoint(key)
            removed["endpoints"].append(key)
    for name, link in sorted(orphan_links(run).items()):
        op = "link_del" if link.kind == "bridge" else "link_del_batch"
        run.execute([plan.change("delete %s (no record owns it)" % name, op, name)])
        removed["links"].append(name)
    for sb in sorted(run.sandboxes):
        if not run.members(sb):
            if run.sandboxes[sb].get("created") and run.kernel.netns_exists(sb):
                run.execute([plan.change("remove sandbox %s" % sb, "netns_del", sb)])
            del run.sandboxes[sb]
            run.sandboxes_touched.add(sb)
            removed["sandboxes"].append(sb)
    ipam = run.ipam()
    for name, net in sorted(run.networks.items()):
        pool = ipam.pools().get(name)
        if net["driver"] not in BRIDGED or pool is None:
            continue
        for owner in sorted(pool["addresses"]):
            if names.endpoint_key(name, owner) not in run.endpoints:
                ipam.release_address(name, owner)
                removed["addresses"].append("%s/%s" % (name, owner))
    return removed


# --- overlay peers ---------------------------------------------------------------------

def peers_converge(run, spec):
    """cnm_overlay_peer: record the peers, program their entries, rewrite the hosts files.

    Returns the network's record (None for state: absent on a network that is gone).
    """
    net = run.networks.get(spec.network)
    if net is None and spec.state == "absent":
        return None
    if net is None or net["driver"] != "overlay":
        raise SpecError("no overlay network named %r on this host; create it first with "
                        "cnm.fabric.cnm_network (driver: overlay)" % spec.network, "network")
    peers = dict(net.get("peers") or {})
    if spec.state == "absent":
        for vtep in [p.vtep for p in spec.peers] if spec.peers is not None else list(peers):
            peers.pop(vtep, None)
    else:
        if spec.exclusive:
            peers = {}
        locals_ = dict((ep["name"], ep["ipv4_address"]) for ep in endpoints_of(run, net["name"]))
        subnet = ipaddress.ip_network(net["subnet"])
        for i, peer in enumerate(spec.peers):
            if peer.vtep == net["local_ip"]:
                raise SpecError("%s is this host's own VTEP" % peer.vtep, "peers[%d].vtep" % i)
            for j, ep in enumerate(peer.endpoints):
                at = "peers[%d].endpoints[%d]" % (i, j)
                check_in_subnet(parse_address(ep["ip"], at + ".ip"), subnet, at + ".ip")
                if ep["ip"] == net["gateway"]:
                    raise SpecError("%s is the gateway of network %r" % (ep["ip"], net["name"]), at + ".ip")
                for name, address in sorted(locals_.items()):
                    if address == ep["ip"] or name == ep["name"]:
                        raise SpecError("%s (%s) is the local endpoint %r" % (ep["ip"], ep["name"], name),
                                        at + ".ip")
            peers[peer.vtep] = sorted((dict(ep) for ep in peer.endpoints),
                                      key=lambda ep: ipaddress.ip_address(ep["ip"]))
        seen = {}
        for vtep, remote in sorted(peers.items()):
            for ep in remote:
                if seen.setdefault(ep["ip"], vtep) != vtep:
                    raise SpecError("%s is behind two VTEPs, %s and %s (one of them recorded earlier): list "
                                    "both peers, or set exclusive: true" % (ep["ip"], seen[ep["ip"]], vtep), "peers")
    if run.kernel.index(net["vxlan_interface"]) is None:
        raise CnmError("the VXLAN device %s of network %r is missing; run cnm.fabric.cnm_network to repair "
                       "it" % (net["vxlan_interface"], net["name"]))
    if peers != (net.get("peers") or {}):
        net["peers"] = peers
        run.networks_touched.add(net["name"])
    run.execute(drivers.get("overlay").peer_changes(net, *run.kernel.neighbours(net["vxlan_interface"])))
    return net
