# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault injection: SIGKILL a bulk run inside its apply window, where it creates and removes;
the next run must converge exactly, leaving no record, address, namespace or file behind."""

from __future__ import annotations

import glob
import json
import os
import random
import signal
import time

ROUNDS = int(os.environ.get("CNM_FAULT_ROUNDS", "16"))
SIZE = 24


def declared(host, names):
    return [{"name": n, "sandbox": host.sb(n)} for n in names]


def no_files_left(host, sandboxes):
    """Sandbox directories exactly for ``sandboxes``; no journal, no temporary file anywhere."""
    dirs = sorted(d for d in os.listdir("/etc/netns") if d.startswith(host.prefix)) \
        if os.path.isdir("/etc/netns") else []
    assert dirs == sorted(sandboxes), "no directory of a removed sandbox"
    assert not os.path.exists(os.path.join(host.state_dir, "journal.json")), "removals finished"
    tmp = glob.glob(os.path.join(host.state_dir, ".tmp-*")) + \
        [p for d in dirs for p in glob.glob(os.path.join("/etc/netns", d, ".tmp-*"))]
    assert tmp == [], "no file of a killed write"


def assert_exactly(host, names):
    """Records, kernel, IPAM and files hold exactly the declared endpoints, and agree."""
    info = host.ok("cnm_info")
    assert info["drift"] == [], info["drift"]
    assert sorted(info["endpoints"]) == sorted("crash/%s" % n for n in names)
    assert sorted(info["sandboxes"]) == sorted(host.sb(n) for n in names)
    netns = sorted(n for n in os.listdir("/run/netns") if n.startswith(host.prefix) and n != host.ns)
    assert netns == sorted(host.sb(n) for n in names), "no orphan namespace"
    veths = sorted(lk for lk in host.links() if lk.startswith("cnmv"))
    assert veths == sorted(e["veth"]["host_interface"] for e in info["endpoints"].values()), "no orphan veth"
    held = info["pools"]["local"]["crash"]["addresses"]
    assert sorted(held) == sorted(names), "IPAM holds exactly the requested owners"
    assert len(set(held.values())) == len(held), "no duplicate address"
    for e in info["endpoints"].values():
        assert held[e["name"]] == e["ipv4_address"]
        addr = host.sh(["ip", "-o", "-4", "addr", "show", "eth0"], e["sandbox"]).stdout
        assert e["ipv4_address"] + "/24" in addr, "the kernel has the recorded address"
    no_files_left(host, [host.sb(n) for n in names])


def start_and_wait_for_first_write(host, module, **args):
    """Start a module run and return it once its first record write lands (its apply begins right
    after), or once it ended."""
    records = os.path.join(host.state_dir, "endpoints.json")

    def stamp():
        return os.stat(records).st_mtime_ns if os.path.exists(records) else 0
    before = stamp()
    proc = host.start(module, **args)
    while proc.poll() is None and stamp() == before:
        time.sleep(0.0005)
    return proc


def kill_in_apply(host, rng, window, module, **args):
    """Kill a module run at a random point of its apply window. Returns whether it was killed."""
    proc = start_and_wait_for_first_write(host, module, **args)
    time.sleep(rng.uniform(0.0, window))
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return killed


def apply_window(host, **args):
    """How long a whole run goes on after its first record write."""
    proc = start_and_wait_for_first_write(host, "cnm_endpoint", **args)
    start = time.monotonic()
    proc.communicate()
    return time.monotonic() - start


def test_sigkill_in_the_apply_window_then_converge(host):
    seed = int(os.environ.get("CNM_FAULT_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    print("fault injection seed", seed)
    host.converge("cnm_network", name="crash", subnet="10.98.0.0/24")
    everyone = ["c%02d" % i for i in range(SIZE)]
    window = apply_window(host, network="crash", endpoints=declared(host, everyone), exclusive=True)
    host.converge("cnm_endpoint", network="crash", endpoints=[], exclusive=True)
    assert_exactly(host, [])

    killed = 0
    current = []
    for round_no in range(ROUNDS):
        # Keep about half, add others: every run both removes and creates.
        names = sorted(set(rng.sample(current, len(current) // 2)) |
                       set(rng.sample(everyone, rng.randint(SIZE // 4, SIZE // 2))))
        args = dict(network="crash", endpoints=declared(host, names), exclusive=True)
        # A round changes about half as much as the run the window was measured on.
        killed += kill_in_apply(host, rng, window / 2, "cnm_endpoint", **args)
        result = host.ok("cnm_endpoint", **args)
        assert not result.get("failed"), (round_no, seed, result)
        assert_exactly(host, names)
        again = host.ok("cnm_endpoint", **args)
        assert again["changed"] is False, (round_no, seed, again["changes"])
        current = names
    print("killed %d of %d rounds" % (killed, ROUNDS))
    assert killed >= ROUNDS // 3, "rounds must really be interrupted (seed %d)" % seed

    # A network removed with its endpoints (force), killed the same way.
    kill_in_apply(host, rng, window, "cnm_network", name="crash", state="absent", force=True)
    host.ok("cnm_network", name="crash", state="absent", force=True)
    info = host.ok("cnm_info")
    assert info["drift"] == [] and info["endpoints"] == {} and info["sandboxes"] == {} and info["networks"] == {}
    assert [n for n in os.listdir("/run/netns") if n.startswith(host.prefix) and n != host.ns] == []
    no_files_left(host, [])


def test_leftovers_of_an_interrupted_run_are_reported_and_pruned(host):
    """What a run killed between its record writes leaves is drift for cnm_info, and cnm_prune
    (like any run) finishes it."""
    host.converge("cnm_network", name="crash", subnet="10.98.0.0/24")
    a, b = host.sb("a"), host.sb("b")
    host.converge("cnm_endpoint", network="crash", endpoints=declared(host, ["a", "b"]))
    # As a kill after the endpoint records were written but before the rest: b's endpoint is
    # gone, its address, its sandbox record and its files are not, and the journal says so.
    ep_file = os.path.join(host.state_dir, "endpoints.json")
    with open(ep_file) as f:
        records = json.load(f)
    del records["crash/b"]
    with open(ep_file, "w") as f:
        json.dump(records, f)
    with open(os.path.join(host.state_dir, "journal.json"), "w") as f:
        json.dump({"endpoints": ["crash/b"], "sandboxes": [b]}, f)
    open(os.path.join(host.state_dir, ".tmp-killed"), "w").close()
    open(os.path.join("/etc/netns", a, ".tmp-killed"), "w").close()
    drift = host.ok("cnm_info")["drift"]
    kinds = sorted(set((d["kind"], d["name"]) for d in drift))
    assert ("address", "crash/b") in kinds and ("run", "journal.json") in kinds
    assert ("file", os.path.join("/etc/netns", a, ".tmp-killed")) in kinds
    pruned = host.converge("cnm_prune")
    assert "remove sandbox %s" % b in pruned["changes"], "the journal's removal finished first"
    # The state_dir's own stale file goes when any run takes the lock; the rest with prune.
    assert pruned["removed"]["files"] == [os.path.join("/etc/netns", b), os.path.join("/etc/netns", a, ".tmp-killed")]
    assert host.ok("cnm_info")["drift"] == []
    assert not os.path.exists("/run/netns/" + b) and os.path.exists("/run/netns/" + a)
    assert host.ping(a, "10.98.0.1")
    no_files_left(host, [a])


def test_a_half_made_sandbox_is_removed_with_its_endpoint(host):
    """A run killed inside netns_add leaves /run/netns/NAME as a plain file: removing the
    endpoint removes it, and asking for the endpoint again makes the namespace on it."""
    host.converge("cnm_network", name="crash", subnet="10.98.0.0/24")
    a = host.sb("a")
    host.converge("cnm_endpoint", network="crash", endpoints=declared(host, ["a"]))
    assert host.sh(["umount", "/run/netns/" + a]).returncode == 0  # what the kill leaves
    assert os.path.isfile("/run/netns/" + a) and not os.path.ismount("/run/netns/" + a)
    host.converge("cnm_endpoint", network="crash", endpoints=[], exclusive=True)
    assert not os.path.lexists("/run/netns/" + a)
    assert_exactly(host, [])
    host.converge("cnm_endpoint", network="crash", endpoints=declared(host, ["a"]))
    assert_exactly(host, ["a"])
