# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault injection: SIGKILL a bulk apply at random points; the next run must converge exactly."""

from __future__ import annotations

import os
import random
import signal
import time

ROUNDS = int(os.environ.get("CNM_FAULT_ROUNDS", "16"))
SIZE = 24


def declared(host, names):
    return [{"name": n, "sandbox": host.sb(n)} for n in names]


def assert_exactly(host, names):
    """Records, kernel and IPAM hold exactly the declared endpoints, and agree."""
    info = host.ok("cnm_info")
    assert info["drift"] == [], info["drift"]
    assert sorted(info["endpoints"]) == sorted("crash/%s" % n for n in names)
    assert sorted(info["sandboxes"]) == sorted(host.sb(n) for n in names)
    netns = sorted(n for n in os.listdir("/run/netns") if n.startswith(host.prefix) and n != host.ns)
    assert netns == sorted(host.sb(n) for n in names), "no orphan namespace"
    veths = sorted(lk for lk in host.links() if lk.startswith("cnmv"))
    assert veths == sorted(e["host_interface"] for e in info["endpoints"].values()), "no orphan veth"
    held = info["pools"]["local"]["crash"]["addresses"]
    assert sorted(held) == sorted(names), "no address held by an owner that does not exist"
    assert len(set(held.values())) == len(held), "no duplicate address"
    for e in info["endpoints"].values():
        assert held[e["name"]] == e["ipv4_address"]
        addr = host.sh(["ip", "-o", "-4", "addr", "show", "eth0"], e["sandbox"]).stdout
        assert e["ipv4_address"] + "/24" in addr, "the kernel has the recorded address"


def test_sigkill_at_random_points_then_converge(host):
    seed = int(os.environ.get("CNM_FAULT_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    print("fault injection seed", seed)
    host.converge("cnm_network", name="crash", subnet="10.98.0.0/24")
    everyone = ["c%02d" % i for i in range(SIZE)]

    start = time.monotonic()
    host.ok("cnm_endpoint", network="crash", endpoints=declared(host, everyone), exclusive=True)
    full = time.monotonic() - start  # one whole run, process start included: kills land inside it
    host.converge("cnm_endpoint", network="crash", endpoints=[], exclusive=True)
    assert_exactly(host, [])

    killed = 0
    for round_no in range(ROUNDS):
        names = sorted(rng.sample(everyone, rng.randint(SIZE // 3, SIZE)))
        args = dict(network="crash", endpoints=declared(host, names), exclusive=True)
        proc = host.start("cnm_endpoint", **args)
        time.sleep(rng.uniform(0.0, full))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.communicate()
        result = host.ok("cnm_endpoint", **args)
        assert not result.get("failed"), (round_no, seed, result)
        assert_exactly(host, names)
        again = host.ok("cnm_endpoint", **args)
        assert again["changed"] is False, (round_no, seed, again["changes"])
    print("killed %d of %d rounds" % (killed, ROUNDS))
    assert killed >= ROUNDS // 4, "rounds must really be interrupted (seed %d)" % seed
