# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a state_dir records, made true of the kernel again with no playbook and no controller.

The restore unit (unit.py) runs this at boot, and after nftables.service loads its
configuration (whose first line is usually ``flush ruleset``). It plans with the modules'
own code: each network's driver makes its network as ``cnm_network`` does (``create_network``),
each sandbox is made as ``cnm_endpoint`` makes it (``sandbox_join``), each endpoint joins as
it does (``join``, with its record as the old one), an encrypted overlay's SAs come from the
keys ``cnm_overlay_peer`` kept; then ``Run.finish`` applies, writes the sandbox files, loads
the sandboxes' service rules and the firewall. Nothing is allocated and no record changes,
except that a named sandbox made again is recorded as made by the collection.

A sandbox given by path (a container's namespace) that is gone is reported, not made: its
endpoints wait for the playbook that knows the container's new namespace. That is no failure
(containers do not outlive a reboot); a network or endpoint that cannot be made is, and the
command then exits with status 2, once it has made everything else.

    python3 -I /usr/local/lib/cnm-fabric/cnm-fabric-restore [--firewall] [--check] STATE_DIR
"""

from __future__ import annotations

import argparse
import os
import warnings
from typing import Callable, List, Optional, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils import drivers, vrfs
from ansible_collections.cnm.fabric.plugins.module_utils.endpoints import join_endpoint, read_tables, sandbox_join
from ansible_collections.cnm.fabric.plugins.module_utils.errors import CnmError, CnmWarning
from ansible_collections.cnm.fabric.plugins.module_utils.plan import Change
from ansible_collections.cnm.fabric.plugins.module_utils.run import Run
from ansible_collections.cnm.fabric.plugins.module_utils.store import SECRETS


Problem = Tuple[str, str, str]  # (kind, name, sentence)
Report = Callable[[str, str, List[Change]], None]  # (kind, name, changes planned for it)


def converge(run: Run, report: Optional[Report] = None) -> Tuple[List[Problem], List[Problem]]:
    """Plan everything ``run``'s records hold; return (problems that kept a part back, sandboxes
    that wait for their container), each as (kind, name, sentence). The rest goes ahead: one
    network that cannot be made leaves the others. ``report(kind, name, changes)`` is told what is
    planned for each network, sandbox and endpoint (cnm_info's drift)."""
    problems, waiting, failed = [], [], set()

    def queue(kind: str, name: str, changes: List[Change]) -> None:
        run.queue(changes)
        if report is not None and changes:
            report(kind, name, changes)

    view = run.kernel.host_view()
    secrets = run.store.get(SECRETS)
    for name in sorted(run.networks):
        net = run.networks[name]
        drv = drivers.get(net["driver"])
        try:
            observed = run.observe(drv.observe(net))
            queue("network", name, drv.restore(net, view, observed, secrets.get(name)) +
                  vrfs.changes(net, view, run.vrfs_made, run.kernel))
        except CnmError as e:
            problems.append(("network", name, e.msg))
            failed.add(name)
    for key in sorted(run.sandboxes):
        if key.startswith("/") and not run.kernel.netns_exists(key):
            count = len(run.members(key))
            waiting.append(("sandbox", key, "sandbox %s is gone (its container stopped?): its %d %s for the playbook "
                            "that gives its new path" % (key, count, "endpoint waits" if count == 1 else "endpoints wait")))
            failed.add(key)
    for ep in run.endpoints.values():
        read_tables(run, ep["sandbox"], ep.get("routes"))
    run.kernel.prefetch(k for k in run.sandboxes if k not in failed)
    for key in sorted(run.endpoints):
        ep = run.endpoints[key]
        if ep["network"] in failed or ep["sandbox"] in failed or ep["network"] not in run.networks:
            continue
        net = run.networks[ep["network"]]
        drv = drivers.get(net["driver"])
        try:
            if drv.creates_sandbox:  # queued apart: the sandbox is made even if this endpoint cannot be
                queue("sandbox", ep["sandbox"], sandbox_join(run, ep["sandbox"], ep["sandbox"].startswith("/")))
            sb_view = None if ep["sandbox"] in run.sandboxes_made else run.sandbox_view(ep["sandbox"])
            queue("endpoint", key, join_endpoint(run, net, drv, ep, ep, sb_view))
        except CnmError as e:
            problems.append(("endpoint", key, e.msg))
    run.sandboxes_touched.update(run.sandboxes)  # every sandbox's files and service rules
    return problems, waiting


def restore(state_dir: str, firewall_only: bool = False,
            check: bool = False) -> Tuple[List[str], List[Problem], List[Problem]]:
    """(what was done, problems, what waits), as sentences. A state_dir that does not exist (yet:
    not mounted) has nothing to restore."""
    if not os.path.isfile(os.path.join(state_dir, ".lock")):
        return [], [], []
    with Run(state_dir, check, finish_interrupted=not firewall_only) as run:
        if firewall_only:
            run.sync_firewall()
            return run.log, [], []
        problems, waiting = converge(run)
        run.finish()
        return run.log, problems, waiting


def command(argv: List[str]) -> Tuple[int, List[str], List[str]]:
    """The launcher's work (unit.LAUNCHER_TEXT prints and exits): (exit status, lines for standard
    output, lines for standard error)."""
    parser = argparse.ArgumentParser(prog="cnm-fabric-restore",
                                     description="Make the kernel hold what a cnm.fabric state_dir records.")
    parser.add_argument("--firewall", action="store_true", help="only the nftables tables")
    parser.add_argument("--check", action="store_true", help="say what would be done; change nothing")
    parser.add_argument("state_dir")
    args = parser.parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CnmWarning)
        try:
            done, problems, waiting = restore(os.path.abspath(args.state_dir), args.firewall, args.check)
        except CnmError as e:
            return 1, [], ["cnm-fabric-restore: %s: %s" % (args.state_dir, e.msg)]
    out = [("would " if args.check else "") + line for line in done]
    out += ["waiting: %s" % line for _kind, _name, line in waiting]  # containers do not outlive a reboot: not a failure
    if not done and not problems and not waiting:
        out.append("%s: nothing to restore" % args.state_dir)
    err = ["warning: %s" % w.message for w in caught if issubclass(w.category, CnmWarning)] + ["not restored: %s %s: %s" % problem for problem in problems]
    return (2 if problems else 0), out, err
