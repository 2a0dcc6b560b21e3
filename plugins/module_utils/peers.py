# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cnm_overlay_peer's planner: a network's remote endpoints, recorded and programmed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ansible_collections.cnm.fabric.plugins.module_utils import drivers
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import set_parts
from ansible_collections.cnm.fabric.plugins.module_utils.errors import SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.records import NetworkRecord
from ansible_collections.cnm.fabric.plugins.module_utils.spec import PeersSpec
from ansible_collections.cnm.fabric.plugins.module_utils.store import SECRETS

if TYPE_CHECKING:
    from ansible_collections.cnm.fabric.plugins.module_utils.run import Run


def peers_converge(run: Run, spec: PeersSpec) -> Optional[NetworkRecord]:
    """Record the peers, program their entries, and have the hosts files rewritten.

    Returns the network's record (None for state: absent on a network that is gone).
    """
    net = run.networks.get(spec.network)
    if net is None and spec.state == "absent":
        return None
    drv = drivers.get(net["driver"]) if net else None
    if net is None or drv is None or not drv.has_peers:
        raise SpecError("no overlay network named %r on this host (one whose driver takes peers); create it first with "
                        "cnm.fabric.cnm_network" % spec.network, "network")
    parts = drv.merge_peers(net, spec, run.endpoints_of(net["name"]))
    observed = run.observe(drv.observe(net))
    if set_parts(net, parts):
        run.networks_touched.add(net["name"])
    run.queue(drv.peer_changes(net, run.kernel.host_view(), observed, spec))
    if spec.encryption_keys is not None:  # for the restore unit (restore.py), which has no playbook
        run.store.get(SECRETS)[net["name"]] = {"keys": list(spec.encryption_keys)}
    return net
