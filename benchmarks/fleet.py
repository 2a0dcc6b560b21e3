# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The overlay across a fleet on this machine: playbooks/overlay.yml on N hosts.

Hosts are namespaces made by tests/tools/fleet.sh (as in molecule/netns_fleet), reached
through community.docker's nsenter connection, each with E endpoints on one overlay
network. Timed, in one run:
  - baseline: a play of the same shape whose tasks do nothing (ansible.builtin.ping
    and set_fact), which is Ansible's own cost for it;
  - converge from nothing; a second converge that must change nothing; a host that
    leaves the group (every other host's peers change); the host coming back; teardown;
    first with each host's VTEP found by the role (two module calls per host), then with
    every VTEP declared in the inventory (overlay_network_local_ip: one call per host);
  - where the no-op converge's time goes, task by task (callbacks/task_times.py).
A ping by name from the first host's sandbox to the last host's checks the fabric works.

Usage: python benchmarks/fleet.py [--hosts 20] [--endpoints 2] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLEET = os.path.join(ROOT, "tests", "tools", "fleet.sh")
NAME = "cnmbench"
BIN = os.path.dirname(sys.executable)
CALLBACKS = os.path.join(ROOT, "benchmarks", "callbacks")
MODES = ("", "declared_")  # each host's VTEP found by the role's first call, or declared in the inventory

BASELINE = """- name: Ansible's own cost for the overlay play's shape
  hosts: fleet
  gather_facts: false
  tasks:
    - name: Once, on the controller
      ansible.builtin.ping:
      run_once: true
      delegate_to: localhost
    - name: A fact
      ansible.builtin.set_fact:
        baseline_a: 1
    - name: Network
      ansible.builtin.ping:
    - name: Another fact
      ansible.builtin.set_fact:
        baseline_b: 1
    - name: Endpoints
      ansible.builtin.ping:
    - name: Peers
      ansible.builtin.ping:
"""


def inventory(endpoints, ipam_dir, declared):
    """The fleet as fleet.sh describes its hosts, each with ``endpoints`` on network fabric;
    ``declared``: each with its underlay address as overlay_network_local_ip."""
    hosts = json.loads(subprocess.run([FLEET, "hosts", NAME], capture_output=True, text=True, check=True).stdout)
    for name, host_vars in hosts.items():
        k = name[len("host"):]
        host_vars["overlay_network_endpoints"] = [{"name": "h%se%d" % (k, e), "network": "fabric"}
                                                  for e in range(endpoints)]
        if declared:
            host_vars["overlay_network_local_ip"] = "198.18.0.%s" % k  # fleet.sh's address of host K
    return {"fleet": {"hosts": hosts, "vars": {
        "overlay_network_ipam_state_dir": ipam_dir,
        "overlay_network_networks": [{"name": "fabric", "vni": 7000, "subnet": "10.250.0.0/16"}]}}}


def play(args, inv, playbook, *extra, times=None):
    """Run a playbook; return (seconds, {host: changed count}). ``times``: a file each task's
    seconds are appended to."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH="%s/.build:%s/.build/deps" % (ROOT, ROOT),
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_HOST_KEY_CHECKING="0")
    if times:
        env.update(ANSIBLE_CALLBACK_PLUGINS=CALLBACKS, ANSIBLE_CALLBACKS_ENABLED="task_times", CNM_TASK_TIMES=times)
    start = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inv, "-f", str(args.hosts), playbook]
                          + list(extra), capture_output=True, text=True, env=env, check=False)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit("%s failed:\n%s\n%s" % (playbook, proc.stdout[-4000:], proc.stderr[-2000:]))
    changed = dict((m.group(1), int(m.group(2)))
                   for m in re.finditer(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", proc.stdout, re.M))
    return seconds, changed


def scenario(args, inv, mode, times):
    """converge, no-op, leave, rejoin and teardown on the fleet; ``mode`` prefixes the keys."""
    overlay = os.path.join(ROOT, "playbooks", "overlay.yml")
    r = {}
    r["converge_s"], changed = play(args, inv, overlay)
    assert all(changed.get("host%d" % k) for k in range(1, args.hosts + 1)), changed
    r["noop_s"], changed = play(args, inv, overlay, times=times)
    assert not any(changed.values()), "the second converge must change nothing: %s" % changed
    with open(times) as f:  # tasks of a tenth of a second or more
        r["noop_tasks"] = [[name, round(s, 2)] for name, s in json.loads(f.readline()) if s >= 0.1]
    pid = subprocess.run([FLEET, "pid", NAME, "1"], capture_output=True, text=True, check=True).stdout.strip()
    far = "h%de0" % args.hosts
    ping = subprocess.run(["nsenter", "-t", pid, "-n", "-m", "ip", "netns", "exec", "h1e0", "ping", "-c", "1",
                           "-W", "2", far], capture_output=True, text=True, check=False)
    assert ping.returncode == 0, "h1e0 must reach %s by name: %s" % (far, ping.stdout + ping.stderr)
    r["leave_s"], changed = play(args, inv, overlay, "-e", "overlay_group=fleet:!host%d" % args.hosts)
    r["leave_hosts_changed"] = sum(1 for v in changed.values() if v)
    r["rejoin_s"] = play(args, inv, overlay)[0]
    r["teardown_s"] = play(args, inv, overlay, "-e", "overlay_network_state=absent")[0]
    return dict((mode + k, v) for k, v in r.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--endpoints", type=int, default=2, help="endpoints per host")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"))
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="cnm-fleet-bench-")
    inv = os.path.join(tmp, "inventory.json")
    baseline_play = os.path.join(tmp, "baseline.yml")
    with open(baseline_play, "w") as f:
        f.write(BASELINE)
    r = {"hosts": args.hosts, "endpoints_per_host": args.endpoints, "cores": os.cpu_count()}
    subprocess.run([FLEET, "up", NAME, str(args.hosts)], check=True)
    try:
        for mode in MODES:
            with open(inv, "w") as f:
                json.dump(inventory(args.endpoints, os.path.join(tmp, "ipam"), declared=bool(mode)), f)
            if "baseline_s" not in r:
                r["baseline_s"] = play(args, inv, baseline_play)[0]
            r.update(scenario(args, inv, mode, os.path.join(tmp, mode + "times.jsonl")))
    finally:
        subprocess.run([FLEET, "down", NAME], check=False)
    keys = ("converge", "noop", "leave", "rejoin", "teardown")
    for key in keys:
        for mode in MODES:
            r[mode + key + "_vs_baseline"] = r[mode + key + "_s"] / r["baseline_s"]
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "fleet.json"), "w") as f:
        json.dump(r, f, indent=1, sort_keys=True)
    print("Overlay fleet: %d hosts, %d endpoints each, %d cores; baseline (same play shape, tasks that do "
          "nothing) %.1f s" % (args.hosts, args.endpoints, r["cores"], r["baseline_s"]))
    print("%-36s %17s %17s" % ("playbooks/overlay.yml: s (ratio)", "VTEPs found", "VTEPs declared"))
    for key, label in zip(keys, ("converge from nothing", "converge again (no change)",
                                 "one host leaves (%d changed)" % r["leave_hosts_changed"], "it comes back", "teardown")):
        print("%-36s %s" % (label, " ".join("%9.1f (%4.2f)" % (r[m + key + "_s"], r[m + key + "_vs_baseline"])
                                            for m in MODES)))
    print("ratio = time / baseline; written to %s" % os.path.join(args.out, "fleet.json"))
    for mode in MODES:
        print("Where the no-op converge's time goes, VTEPs %s (tasks of 0.1 s or more, all hosts):"
              % ("declared" if mode else "found"))
        for name, seconds in r[mode + "noop_tasks"]:
            print("%8.2f  %s" % (seconds, name))


if __name__ == "__main__":
    main()
