# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One module run: spec -> observe -> plan -> apply -> record -> files and firewall.

``Run`` holds what a run shares: the store (under its lock), the kernel, the plan
being built and what it touched. The planners (networks, endpoints, peers, prune)
add Changes with ``queue``; ``finish`` records, applies, and brings the sandbox
files and the firewall in line. Check mode takes the same path and skips only the
steps that write (kernel changes, store, files, nftables), so what it reports is
what a real run does.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, Iterable, List, Literal, Mapping, Optional, Set, Tuple, cast

from ansible_collections.cnm.fabric.plugins.module_utils import drivers, firewall, migrate, names, plan, sandbox, services
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import ObserveRequest, Observed
from ansible_collections.cnm.fabric.plugins.module_utils.errors import CnmWarning, KernelError
from ansible_collections.cnm.fabric.plugins.module_utils.ipam.file import FileBackend
from ansible_collections.cnm.fabric.plugins.module_utils.kernel import Kernel
from ansible_collections.cnm.fabric.plugins.module_utils.model import NsView
from ansible_collections.cnm.fabric.plugins.module_utils.plan import Change
from ansible_collections.cnm.fabric.plugins.module_utils.records import EndpointRecord, NetworkRecord, SandboxRecord
from ansible_collections.cnm.fabric.plugins.module_utils.store import ENDPOINTS, NETWORKS, SANDBOXES, Store

LOCAL_SPACE = "local"
COMMON_NETWORK_FIELDS = ("name", "id", "scope", "driver", "ipv4", "subnet", "gateway", "ip_range", "ipv6", "ipv6_subnet",
                         "ipv6_gateway", "ipv6_ip_range", "mtu", "internal", "labels", "vrf")
ENDPOINT_FIELDS = ("name", "network", "sandbox", "ifname", "ipv4_address", "ipv6_address", "mac_address",
                   "default_route", "default_route_metric", "aliases", "publish", "dns", "dns_search", "dns_options",
                   "extra_hosts", "sysctls", "routes", "bandwidth", "cni_chain", "cni_chain_attachment")


def network_public(record: Optional[NetworkRecord]) -> Dict[str, Any]:
    """What modules return of a network record: the common fields and its driver's parts."""
    if not record:
        return {}
    ipam = ("cni_ipam",) if "cni_ipam" in record else ()  # a CNI IPAM plugin's network
    # A record holds ipv4 only when false: a network has IPv4 exactly when it has a subnet.
    return dict(_public(record, COMMON_NETWORK_FIELDS + ipam + drivers.part_keys(record)),
                ipv4=record.get("ipv4", bool(record.get("subnet"))))


def endpoint_public(record: Optional[EndpointRecord]) -> Dict[str, Any]:
    """What modules return of an endpoint record: the common fields and its driver's parts."""
    if not record:
        return {}
    ipam = ("cni_ipam_attachment",) if "cni_ipam_attachment" in record else ()  # on a CNI IPAM plugin's network
    return _public(record, ENDPOINT_FIELDS + ipam + tuple(p.KEY for p in drivers.endpoint_parts(record)))


def _public(record: Mapping[str, object], fields: Iterable[str]) -> Dict[str, Any]:
    return dict((k, record.get(k)) for k in fields)


class Run(object):
    def __init__(self, state_dir: str, check_mode: bool, kernel: Optional[Kernel] = None,
                 finish_interrupted: bool = True) -> None:
        self.state_dir = state_dir
        self.check = check_mode
        self.store = Store(state_dir, read_only=check_mode)
        self._kernel = kernel
        self.log: List[str] = []
        self.pending: List[Change] = []
        self.sandboxes_touched: Set[str] = set()
        self.networks_touched: Set[str] = set()
        self.sandboxes_made: Set[str] = set()
        self.vrfs_made: Set[str] = set()  # the VRF devices this run makes (vrfs.py)
        self._members: Optional[Dict[str, Set[str]]] = None
        self._ipam: Dict[str, FileBackend] = {}
        self.sandboxes_doomed: Set[str] = set()  # sandboxes whose removal is planned in this run
        self.forget: List[Tuple[str, str, int, int]] = []  # connections for the host's conntrack to forget: Kernel.conntrack_forget's flows
        self._finish_interrupted = finish_interrupted

    def __enter__(self) -> Run:
        self.store.__enter__()
        try:
            migrate.upgrade(self.store)  # records of an older release first, under the lock
            if self._finish_interrupted and self.store.journal() is not None:
                # Every run first finishes what an interrupted one was removing (store.py).
                from ansible_collections.cnm.fabric.plugins.module_utils.endpoints import finish_interrupted
                finish_interrupted(self)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: Any) -> Literal[False]:
        if self._kernel is not None:
            self._kernel.close()
        return self.store.__exit__(*exc)

    @property
    def kernel(self) -> Kernel:
        if self._kernel is None:
            self._kernel = Kernel(names.owner_tag(self.state_dir))
        return self._kernel

    @property
    def networks(self) -> Dict[str, NetworkRecord]:
        return cast(Dict[str, NetworkRecord], self.store.get(NETWORKS))

    @property
    def endpoints(self) -> Dict[str, EndpointRecord]:
        return cast(Dict[str, EndpointRecord], self.store.get(ENDPOINTS))

    @property
    def sandboxes(self) -> Dict[str, SandboxRecord]:
        return cast(Dict[str, SandboxRecord], self.store.get(SANDBOXES))

    def ipam(self, space: str = LOCAL_SPACE) -> FileBackend:
        if space not in self._ipam:
            self._ipam[space] = FileBackend(self.store, space)
        return self._ipam[space]

    def observe(self, want: ObserveRequest) -> Observed:
        """What a driver's ``observe`` hook asked for (a drivers.base.ObserveRequest), read now."""
        xfrm = self.kernel.xfrm_read(want.xfrm) if want.xfrm else {}
        # An ESP state the kernel already holds proves it can make them: no probe then.
        probe = want.esp and not any(view.states for view in xfrm.values())
        return Observed(sysctls=dict((k, self.kernel.sysctl_get(k)) for k in want.sysctls),
                        neighbours=dict((dev, self.kernel.neighbours(dev)) for dev in want.neighbours),
                        kinds=dict((kind, self.kernel.kind_supported(kind)) for kind in want.kinds),
                        xfrm=xfrm, esp=self.kernel.esp_missing(want.esp) if probe else None)

    def queue(self, changes: Iterable[Change]) -> None:
        """Queue kernel changes; ``finish`` applies them all after recording them."""
        self.log.extend(plan.texts(changes))
        self.pending.extend(changes)

    def _in_order(self) -> List[Change]:
        """The pending changes as they are applied: the removal of sandboxes gone for good last. The
        kernel cleans a namespace up in the background, holding the lock that each later link request
        waits for: a bulk teardown would wait for it between every two endpoints (an ifb to delete)."""
        last = [c for c in self.pending if c.op == "netns_del" and c.args[0] in self.sandboxes_doomed]
        moved = set(map(id, last))
        return [c for c in self.pending if id(c) not in moved] + last

    def sandbox_view(self, key: Optional[str]) -> Optional[NsView]:
        return self.kernel.view(key) if key else None

    def finish(self, firewall_sync: bool = True) -> bool:
        """Record, then bring sandbox files and the firewall in line; return ``changed``."""
        dirty = bool(self.store.dirty())
        if not self.check:
            self.store.save(keep_removed=True)
            try:
                plan.apply(self.kernel, self._in_order())
            except Exception:
                self.store.rollback()  # apply undid its changes: so do the records
                raise
            learned = [key for key in self.kernel.learned if key in self.endpoints]
            for key in learned:
                self.endpoints[key].update(self.kernel.learned[key])  # type: ignore[typeddict-item]
                self.networks_touched.add(self.endpoints[key]["network"])  # its names in the hosts files
            if learned:
                self.store.learned(ENDPOINTS)
            self.store.save()
            if self.forget:
                try:
                    self.kernel.conntrack_forget(self.forget)
                except KernelError as e:  # what the run was for is done and recorded: say so, do not fail it
                    warnings.warn("%s; clients of the removed or changed port mappings may reach the old endpoint until "
                                  "their entries time out (conntrack -D removes them)" % e.msg, CnmWarning)
        keys = set(self.sandboxes_touched)
        keys.update(ep["sandbox"] for ep in self.endpoints.values()
                    if ep["network"] in self.networks_touched and ep["sandbox"] in self.sandboxes)
        self.log.extend(sandbox.sync(self.state_dir, self.endpoints, self.sandboxes, keys, self.check, self.networks,
                                     fresh=self.sandboxes_made))
        if firewall_sync:
            self.sync_firewall()
        if self.store.journal() is not None:
            dirty = True  # an interrupted run's removals, finished by this one
        if not self.check:
            self.store.clear_journal()  # last: the removals' records, addresses and files are all gone
        return dirty or bool(self.log)

    def sync_firewall(self) -> None:
        """Load the state_dir's tables when they differ from its records, or are gone."""
        if firewall.sync(self.state_dir, self.networks, self.endpoints, self.check,
                         services.mesh(self.networks, self.endpoints)):
            self.log.append("load the nftables tables inet {0} and bridge {0}".format(names.table_name(self.state_dir)))

    def members(self, sandbox_key: str) -> Set[str]:
        """Keys of the endpoints in a sandbox (an index kept in step with the records)."""
        if self._members is None:
            self._members = {}
            for key, ep in self.endpoints.items():
                self._members.setdefault(ep["sandbox"], set()).add(key)
        return self._members.setdefault(sandbox_key, set())

    def set_endpoint(self, key: str, record: EndpointRecord) -> None:
        old = self.endpoints.get(key)
        if old is not None:
            self.members(old["sandbox"]).discard(key)
        self.members(record["sandbox"]).add(key)
        self.endpoints[key] = record
        self.networks_touched.add(record["network"])

    def del_endpoint(self, key: str) -> None:
        record = self.endpoints.pop(key)
        self.members(record["sandbox"]).discard(key)
        self.networks_touched.add(record["network"])
        if record["sandbox"] in self.sandboxes:  # it may still be on other networks
            self.sandboxes_touched.add(record["sandbox"])

    def endpoints_of(self, network: str) -> List[EndpointRecord]:
        return [self.endpoints[k] for k in sorted(self.endpoints) if self.endpoints[k]["network"] == network]
