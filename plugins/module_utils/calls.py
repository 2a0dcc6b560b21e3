# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The converging modules' options and work, as data, so that one process can run several.

Each module is a ``Call``: its argument spec and the spec's constraints; ``parse``, which
checks the values' form and makes them what the body wants, touching nothing; and ``body``,
which converges and returns the result. A module runs its own call; cnm_host parses all its
items first, then runs them in one process, which on a fleet saves a module process
(interpreter, imports) per host and per call.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Set, Tuple

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError

from ansible_collections.cnm.fabric.plugins.module_utils import cni, cni_ipam, drivers, endpoints, networks, peers, services, spec, unit
from ansible_collections.cnm.fabric.plugins.module_utils.common import STATE_DIR_SPEC, ModuleLike, diff
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import Peers
from ansible_collections.cnm.fabric.plugins.module_utils.errors import CnmError, SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.records import NetworkRecord, ServiceRecord
from ansible_collections.cnm.fabric.plugins.module_utils.run import endpoint_public, network_public, Run
from ansible_collections.cnm.fabric.plugins.module_utils.store import NETWORKS, Store


class Call(NamedTuple):
    spec: Dict[str, Any]
    parse: Callable[[Dict[str, Any]], Any]
    body: Callable[[ModuleLike, Any], Dict[str, Any]]
    constraints: Dict[str, Any] = {}

    def run(self, module: ModuleLike) -> Dict[str, Any]:
        """What a module does with its own parameters."""
        return self.body(module, self.parse(module.params))


class Params(object):
    """What a body reads of its module: validated parameters, check mode and diff mode."""

    def __init__(self, params: Dict[str, Any], check_mode: bool, diff_mode: bool) -> None:
        self.params = params
        self.check_mode = check_mode
        self._diff = diff_mode


# cnm_network

def _network(module: ModuleLike, want: spec.NetworkSpec) -> Dict[str, Any]:
    with Run(module.params["state_dir"], module.check_mode) as run:
        before = network_public(run.networks.get(want.name))
        if want.state == "present":
            record = networks.network_present(run, want)
        else:
            networks.network_absent(run, want)
            record = None
        after = network_public(record)
        changed = run.finish()
        result = dict(changed=changed, network=after, changes=run.log)
    result.update(diff(module, before, after))
    return result


NETWORK = Call(dict(
    name=dict(type="str", required=True),
    driver=dict(type="str", choices=list(drivers.DRIVERS), default=drivers.DEFAULT),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    subnet=dict(type="list", elements="str"),
    gateway=dict(type="list", elements="str"),
    ip_range=dict(type="list", elements="str"),
    aux_addresses=dict(type="dict"),
    vrf=dict(type="str"),
    cni_ipam=cni_ipam.OPTION_SPEC,
    ipv4=dict(type="bool", default=True),
    ipv6=dict(type="bool", default=False),
    address_pools=dict(type="list", elements="dict", options=dict(
        base=dict(type="str", required=True),
        size=dict(type="int", required=True),
    )),
    labels=dict(type="dict", default={}),
    mtu=dict(type="int"),
    internal=dict(type="bool", default=False),
    force=dict(type="bool", default=False),
    state_dir=STATE_DIR_SPEC,
    **drivers.option_spec()  # each driver's option groups, from its own declaration
), networks.spec_of, _network)


# cnm_endpoint

def _endpoint(module: ModuleLike, specs: List[spec.EndpointSpec]) -> Dict[str, Any]:
    state = module.params["state"]
    with Run(module.params["state_dir"], module.check_mode) as run:
        before = dict((s.key, endpoint_public(run.endpoints.get(s.key))) for s in specs)
        scope = [module.params["network"]] if module.params["network"] else []
        records = endpoints.endpoints_converge(run, specs, state, module.params["exclusive"], scope,
                                               bulk=module.params["endpoints"] is not None)
        changed = run.finish()
        facts = [endpoints.endpoint_facts(run, r) for r in records]
        after = dict((s.key, endpoint_public(r)) for s, r in zip(specs, records))
    if module.params["endpoints"] is None:
        key = specs[0].key
        result = dict(changed=changed, endpoint=facts[0], changes=run.log)
        result.update(diff(module, before[key], after[key]))
    else:
        result = dict(changed=changed, endpoints=facts, changes=run.log)
        differ = [k for k in after if before[k] != after[k]]
        result.update(diff(module, dict((k, before[k]) for k in differ), dict((k, after[k]) for k in differ)))
    return result


PUBLISH_SPEC = dict(
    host_port=dict(type="raw"),
    container_port=dict(type="raw", required=True),
    protocol=dict(type="str", choices=["tcp", "udp", "sctp"], default="tcp"),
    host_ip=dict(type="str"),
)

ROUTE_SPEC = dict(
    dst=dict(type="str", required=True),
    gateway=dict(type="str"),
    metric=dict(type="int", default=0),
    table=dict(type="int", default=254),
)

# One endpoint's options: at the top level, and for each item of endpoints.
ENDPOINT_SPEC = dict(
    sandbox=dict(type="str"),
    sandbox_path=dict(type="path"),
    ifname=dict(type="str"),
    ipv4_address=dict(type="str"),
    ipv6_address=dict(type="str"),
    mac_address=dict(type="str"),
    default_route=dict(type="bool"),
    aliases=dict(type="list", elements="str", default=[]),
    publish=dict(type="list", elements="dict", default=[], options=PUBLISH_SPEC),
    dns=dict(type="list", elements="str"),
    dns_search=dict(type="list", elements="str"),
    dns_options=dict(type="list", elements="str"),
    extra_hosts=dict(type="dict"),
    sysctls=dict(type="dict"),
    routes=dict(type="list", elements="dict", options=ROUTE_SPEC),
    default_route_metric=dict(type="int"),
    bandwidth=dict(type="dict", options=dict((key, dict(type="str")) for key in (
        "ingress_rate", "ingress_burst", "egress_rate", "egress_burst"))),
    cni_chain=dict(type="dict", options=dict(
        plugins=dict(type="list", elements="dict", required=True),
        cni_version=dict(type="str", choices=list(cni.VERSIONS), default=cni.VERSIONS[0]),
        path=dict(type="list", elements="path"))),
)
_SANDBOX_OR_PATH = [("sandbox", "sandbox_path")]

ENDPOINT = Call(dict(
    name=dict(type="str"),
    network=dict(type="str"),
    endpoints=dict(type="list", elements="dict", mutually_exclusive=_SANDBOX_OR_PATH,
                   options=dict(name=dict(type="str", required=True), network=dict(type="str"), **ENDPOINT_SPEC)),
    exclusive=dict(type="bool", default=False),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    state_dir=STATE_DIR_SPEC,
    **ENDPOINT_SPEC
), spec.endpoint_specs, _endpoint, dict(mutually_exclusive=_SANDBOX_OR_PATH + [("name", "endpoints")],
                                        required_one_of=[("name", "endpoints")]))


# cnm_overlay_peer

def _overlay_peer(module: ModuleLike, want: spec.PeersSpec) -> Dict[str, Any]:
    with Run(module.params["state_dir"], module.check_mode) as run:
        before = _peers(run.networks.get(want.network))
        after = _peers(peers.peers_converge(run, want))
        changed = run.finish()
    result = dict(changed=changed, peers=after.peers, peer_hosts=after.peer_hosts, changes=run.log)
    result.update(diff(module, before.peers, after.peers))
    return result


def _peers(network: Optional[NetworkRecord]) -> Peers:
    """The recorded peers of an overlay network (none for a network that is gone), as they are now."""
    if network is None:
        return Peers({}, {})
    now = drivers.get(network["driver"]).peers(network)
    return Peers(dict(now.peers), dict(now.peer_hosts))


OVERLAY_PEER = Call(dict(
    network=dict(type="str", required=True),
    peers=dict(type="list", elements="dict", options=dict(
        vtep=dict(type="str", required=True),
        host_address=dict(type="str"),
        endpoints=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            ip=dict(type="str", required=True),
            ip6=dict(type="str"),
            mac=dict(type="str"),
            aliases=dict(type="list", elements="str", default=[]),
        )),
    )),
    encryption_keys=dict(type="list", elements="str", no_log=True),
    encryption_stage=dict(type="str", choices=["inbound", "complete"], default="complete"),
    exclusive=dict(type="bool", default=False),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    state_dir=STATE_DIR_SPEC,
), spec.peers_spec, _overlay_peer, dict(required_if=[("state", "present", ["peers"])]))


# cnm_service

def _service(module: ModuleLike, want: spec.ServiceSpec) -> Dict[str, Any]:
    with Run(module.params["state_dir"], module.check_mode) as run:
        net = run.networks.get(want.network)
        before = dict((net and net.get("services") or {}).get(want.name) or {})
        after: Optional[ServiceRecord] = None
        facts: Dict[str, Any] = {}
        if want.state == "present":
            after = services.service_present(run, want)
            facts = services.facts(run.networks[want.network], after, run.endpoints)
        else:
            services.service_absent(run, want)
        changed = run.finish()
    result = dict(changed=changed, service=facts, changes=run.log)
    result.update(diff(module, before, dict(after or {})))
    return result


SERVICE = Call(dict(
    name=dict(type="str", required=True),
    network=dict(type="str", required=True),
    vip=dict(type="str"),
    ports=dict(type="list", elements="dict", default=[], options=dict(
        port=dict(type="int", required=True),
        target_port=dict(type="int"),
        protocol=dict(type="str", choices=["tcp", "udp"], default="tcp"),
        published=dict(type="int"),
    )),
    endpoints=dict(type="list", elements="str", default=[]),
    aliases=dict(type="list", elements="str", default=[]),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    state_dir=STATE_DIR_SPEC,
), spec.service_spec, _service)


# cnm_restore_unit

def _unit_paths(params: Dict[str, Any]) -> Tuple[str, Optional[str]]:
    """(state_dir, python) of the unit, as its files can name them."""
    python = params["python"] or sys.executable if params["state"] == "present" else None
    return unit.check_path(params["state_dir"], "state_dir"), python and unit.check_path(python, "python")


def _restore_unit(module: ModuleLike, paths: Tuple[str, Optional[str]]) -> Dict[str, Any]:
    p = module.params
    state_dir, python = paths
    if p["state"] == "present":
        done = unit.install(state_dir, python or "", module.check_mode)
    else:
        with Store(state_dir, read_only=True) as store:
            recorded = sorted(store.get(NETWORKS))
        if recorded and not p["force"]:
            raise SpecError("state_dir %s still records networks (%s): remove them first, or set force: true"
                            % (state_dir, ", ".join(recorded)), "force")
        done = unit.remove(state_dir, module.check_mode)
    result = dict(changed=bool(done), unit=unit.instance(state_dir), changes=done)
    result.update(diff(module, {"changes": []}, {"changes": done}))
    return result


RESTORE_UNIT = Call(dict(
    state_dir=STATE_DIR_SPEC,
    state=dict(type="str", choices=["present", "absent"], default="present"),
    python=dict(type="path"),
    force=dict(type="bool", default=False),
), _unit_paths, _restore_unit)


# cnm_host: its options, in the order it runs them, and the call of each item.
HOST_STEPS = (("networks", NETWORK), ("endpoints", ENDPOINT), ("peers", OVERLAY_PEER), ("services", SERVICE))


def _secrets(call: Call, params: Dict[str, Any]) -> List[str]:
    """The values of an item's no_log options, to be masked in the module's output."""
    out: List[str] = []
    for name, option in call.spec.items():
        value = params.get(name) if option.get("no_log") else None
        out.extend(value if isinstance(value, list) else [value] if value else [])
    return [str(v) for v in out]


def _networks_of(params: Dict[str, Any]) -> Set[Optional[str]]:
    return set([params.get("network")] + [e.get("network") for e in params.get("endpoints") or []
                                          if isinstance(e, dict)])


def _host(module: Any, params: Dict[str, Any]) -> Dict[str, Any]:
    items = [(option, "%s[%d]" % (option, k), call, item)
             for option, call in HOST_STEPS for k, item in enumerate(params[option])]
    if params["restore_unit"] is not None:
        items.append(("restore_unit", "restore_unit", RESTORE_UNIT, params["restore_unit"]))
    for option, where, call, item in items:  # no secret in the output, whatever fails
        module.no_log_values.update(_secrets(call, item))
    parsed: List[Tuple[str, str, Call, Dict[str, Any], Any]] = []
    for option, where, call, item in items:  # every item is checked before any is run
        checked = ArgumentSpecValidator(call.spec, **call.constraints).validate(
            dict(item, state_dir=item.get("state_dir") or params["state_dir"]))
        if checked.errors.errors:
            raise SpecError("; ".join(("unsupported option %s" if isinstance(e, UnsupportedError) else "%s") % e.msg
                                      for e in checked.errors.errors), where)
        with _naming(where):
            parsed.append((option, where, call, checked.validated_parameters, call.parse(checked.validated_parameters)))
    out: Dict[str, Any] = dict((option, []) for option, _call in HOST_STEPS)
    out.update(changed=False, changes=[])
    diffs: List[Dict[str, Any]] = []
    planned: Set[Optional[str]] = set()  # networks check mode would make or change: nothing on them can be checked yet
    for option, where, call, item, want in parsed:
        done: Dict[str, Any]
        if module.check_mode and option != "networks" and _networks_of(item) & planned:
            done = dict(changed=False, skipped=True, changes=[],
                        msg="left for the real run: a network of this item is still to be made or changed")
        else:
            with _naming(where):
                done = call.body(Params(item, module.check_mode, module._diff), want)
        if option == "networks" and done["changed"]:
            planned.add(item["name"])
        if "diff" in done:
            diffs.append(done.pop("diff"))
        out["changed"] = out["changed"] or done["changed"]
        out["changes"].extend(done["changes"])
        if option == "restore_unit":
            out[option] = done
        else:
            out[option].append(done)
    if diffs:
        out["diff"] = diffs
    return out


@contextlib.contextmanager
def _naming(where: str) -> Iterator[None]:
    """An error of an item names the item: ``endpoints[1].ipv4_address``."""
    try:
        yield
    except CnmError as e:
        raise type(e)(e.msg, "%s.%s" % (where, e.option) if e.option else where) from e


HOST = Call(dict(
    networks=dict(type="list", elements="dict", default=[]),
    endpoints=dict(type="list", elements="dict", default=[]),
    peers=dict(type="list", elements="dict", default=[]),
    services=dict(type="list", elements="dict", default=[]),
    restore_unit=dict(type="dict"),
    state_dir=STATE_DIR_SPEC,
), dict, _host)
