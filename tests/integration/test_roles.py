# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles as a user runs them: ansible-playbook against hosts of a namespace fleet."""

from __future__ import annotations

import json
import os
import re
import subprocess

from helpers import ROOT, fleet_pid, playbook  # pylint: disable=import-error

from ansible_collections.cnm.fabric.plugins.module_utils import names

BRIDGE_PLAY = """
- hosts: fleet
  gather_facts: false
  roles:
    - role: cnm.fabric.bridge_network
"""


def changed(output):
    return re.findall(r"^host\d+\s+: ok=\d+\s+changed=(\d+)", output, re.M)


def in_host(pid, *cmd):
    return subprocess.run(["nsenter", "-t", str(pid), "-n", "-m"] + list(cmd), capture_output=True, text=True,
                          check=False).stdout


def test_both_roles_with_a_state_dir_of_their_own(tmp_path, fleet):
    """The roles set state_dir for every module through module_defaults, cnm_overlay_peer included."""
    name, hosts = fleet(2)
    for k, host in enumerate(sorted(hosts), 1):
        hosts[host]["overlay_network_endpoints"] = [{"name": "ep%d" % k, "network": "fabric",
                                                     "dns_search": ["fabric.example"],
                                                     "sysctls": {"net.ipv4.conf.IFNAME.arp_ignore": 1},
                                                     "routes": [{"dst": "10.250.0.0/24", "table": 100}],
                                                     "bandwidth": {"ingress_rate": "100mbit"}},
                                                    {"name": "six%d" % k, "network": "six"}]
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"fleet": {"hosts": hosts, "vars": {
        "overlay_network_networks": [{"name": "fabric", "vni": 901, "ipv6": True, "ipv6_subnet": "fd00:901::/64"},
                                     {"name": "six", "vni": 902, "ipv4": False, "ipv6_subnet": "fd00:902::/64"}],
        "overlay_network_services": [{"name": "web", "network": "fabric", "ports": [{"port": 80}],
                                      "endpoints": ["ep1", "ep2"], "aliases": ["www"]}],
        "overlay_network_state_dir": "/var/lib/cnm/overlay-elsewhere",
        "overlay_network_ipam_state_dir": str(tmp_path / "controller"),
        "bridge_network_state_dir": "/var/lib/cnm/bridge-elsewhere",
        "bridge_network_networks": [{"name": "local", "subnet": ["10.93.0.0/24", "fd00:93::/64"], "ipv6": True,
                                     "labels": {"role": "bridge"},
                                     "endpoints": [{"name": "app", "dns": ["192.0.2.53"], "extra_hosts": {"db": "192.0.2.7"},
                                                    "sysctls": {"net.ipv4.tcp_syncookies": 0},
                                                    "routes": [{"dst": "10.251.0.0/24", "gateway": "10.93.0.254"}],
                                                    "default_route_metric": 10, "bandwidth": {"egress_rate": "1gbit"},
                                                    "publish": [{"host_port": "8000-8001", "container_port": "8000-8001"}]}]},
                                    {"name": "local6", "subnet": "fd00:94::/64", "ipv4": False, "ipv6": True,
                                     "endpoints": [{"name": "app6"}]}]}}}))
    overlay = os.path.join(ROOT, "playbooks", "overlay.yml")
    bridge = tmp_path / "bridge.yml"
    bridge.write_text(BRIDGE_PLAY)
    for play in (overlay, bridge):
        playbook(inventory, play)
        assert changed(playbook(inventory, play)) == ["0", "0"]
    pid = fleet_pid(name, 1)
    records = json.loads(in_host(pid, "cat", "/var/lib/cnm/overlay-elsewhere/networks.json"))
    assert list(records["fabric"]["overlay"]["peers"].values())[0][0]["name"] == "ep2", "the peers went to that directory"
    assert "local" in json.loads(in_host(pid, "cat", "/var/lib/cnm/bridge-elsewhere/networks.json"))
    assert not in_host(pid, "ls", "/var/lib/cnm/networks.json"), "nothing in the default directory"
    assert "ep2" in in_host(pid, "ip", "netns", "exec", "ep1", "getent", "hosts", "ep2")
    # Dual-stack across the fleet: ep2's IPv6 address is its IPv4 one in the network's prefix.
    address = records["fabric"]["overlay"]["peers"][list(records["fabric"]["overlay"]["peers"])[0]][0]["ip6"]
    assert address.startswith("fd00:901::") and address in in_host(pid, "ip", "netns", "exec", "ep1", "getent",
                                                                   "ahosts", "ep2")
    assert in_host(pid, "ip", "netns", "exec", "ep1", "ping", "-6", "-c", "1", "-W", "2", address).count("1 received")
    # IPv6-only across the fleet: addresses from the IPv6 fleet pool, peers known by them, reached by name.
    six = records["six"]["overlay"]["peers"][list(records["six"]["overlay"]["peers"])[0]][0]
    assert records["six"]["ipv4"] is False and six["ip"].startswith("fd00:902::") and six["mac"].startswith("06:")
    assert in_host(pid, "ip", "netns", "exec", "six1", "ping", "-c", "1", "-W", "2", "six2").count("1 received")
    assert "inet " not in in_host(pid, "ip", "-n", "app6", "addr", "show", "eth0")
    assert "search fabric.example" in in_host(pid, "cat", "/etc/netns/ep1/resolv.conf")
    # The service's VIP came from the fleet pool, the same on both hosts, balanced to both endpoints.
    vip = in_host(pid, "ip", "netns", "exec", "ep1", "getent", "hosts", "www").split()[0]
    assert vip == in_host(fleet_pid(name, 2), "ip", "netns", "exec", "ep2", "getent", "hosts", "web").split()[0]
    table = in_host(pid, "ip", "netns", "exec", "ep1", "nft", "list", "table", "inet", "cnm_svc")
    assert "ip daddr %s tcp dport 80 dnat ip to numgen random mod 2 map" % vip in table, table
    assert "nameserver 192.0.2.53" in in_host(pid, "cat", "/etc/netns/app/resolv.conf")
    assert "192.0.2.7\tdb" in in_host(pid, "cat", "/etc/netns/app/hosts")
    assert in_host(pid, "ip", "netns", "exec", "app", "cat", "/proc/sys/net/ipv4/tcp_syncookies").strip() == "0"
    assert in_host(pid, "ip", "netns", "exec", "ep1", "cat", "/proc/sys/net/ipv4/conf/eth0/arp_ignore").strip() == "1"
    assert "10.250.0.0/24 dev eth0" in in_host(pid, "ip", "-n", "ep1", "route", "show", "table", "100")
    routes = in_host(pid, "ip", "-n", "app", "route", "show")
    assert "10.251.0.0/24 via 10.93.0.254 dev eth0" in routes and "default via 10.93.0.1 dev eth0 proto static metric 10" \
        in routes, routes
    qdiscs = in_host(pid, "tc", "qdisc", "show")
    assert "rate 100Mbit" in qdiscs and "rate 1Gbit" in qdiscs, qdiscs
    # Each state_dir has tables of its own: the bridge role's published ports are in its state_dir's.
    table = names.table_name("/var/lib/cnm/bridge-elsewhere")
    listed = in_host(pid, "nft", "list", "table", "inet", table)
    assert "tcp . 8000 : fd00:93::2 . 8000" in listed and "tcp . 8001 : fd00:93::2 . 8001" in listed, listed
    # Each role installed the restore unit of its state_dir (the host has no systemd to run them).
    units = ["cnm-fabric@var-lib-cnm-bridge\\x2delsewhere.service", "cnm-fabric@var-lib-cnm-overlay\\x2delsewhere.service"]
    assert in_host(pid, "ls", "/etc/systemd/system/multi-user.target.wants").split() == units
    assert in_host(pid, "ls", "/usr/local/lib/cnm-fabric").split() == ["ansible_collections", "cnm-fabric-restore"]
    done = subprocess.run(["nsenter", "-t", str(pid), "-n", "-m", "/usr/bin/python3", "-I",
                           "/usr/local/lib/cnm-fabric/cnm-fabric-restore",
                           "/var/lib/cnm/overlay-elsewhere"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "nothing to restore" in done.stdout, done
    playbook(inventory, overlay, "-e", "overlay_network_state=absent")
    assert in_host(pid, "ls", "/etc/systemd/system/multi-user.target.wants").split() == units[:1], "the bridge's stays"
    playbook(inventory, bridge, "-e", "bridge_network_state=absent")
    assert json.loads(in_host(pid, "cat", "/var/lib/cnm/overlay-elsewhere/networks.json")) == {}
    left = in_host(pid, "ls", "/etc/systemd/system", "/usr/local/lib").split()
    assert left == ["/etc/systemd/system:", "multi-user.target.wants", "/usr/local/lib:"], "all gone"


def test_overlay_role_with_every_vtep_declared_converges_each_host_in_one_call(tmp_path, fleet):
    """With overlay_network_local_ip on every host, no host reports its VTEP first: one cnm_host
    call per host makes the network, the endpoints, the peers and the service, check mode included."""
    name, hosts = fleet(3)
    for k, host in enumerate(sorted(hosts), 1):
        hosts[host].update(overlay_network_local_ip="198.18.0.%d" % k,  # fleet.sh's underlay address of host K
                           overlay_network_endpoints=[{"name": "d%d" % k, "network": "flat"}])
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"fleet": {"hosts": hosts, "vars": {
        "overlay_network_networks": [{"name": "flat", "vni": 902}],
        "overlay_network_services": [{"name": "api", "network": "flat", "ports": [{"port": 80}], "endpoints": ["d3"]}],
        "overlay_network_ipam_state_dir": str(tmp_path / "controller")}}}))
    overlay = os.path.join(ROOT, "playbooks", "overlay.yml")
    pid = fleet_pid(name, 1)
    checked = playbook(inventory, overlay, "--check")
    assert "0" not in changed(checked) and not in_host(pid, "ls", "/var/lib/cnm"), "check mode made nothing"
    made = playbook(inventory, overlay)
    assert re.search(r"TASK \[cnm.fabric.overlay_network : Networks [^\n]*\n(skipping: \[host\d\]\n){3}\n", made), \
        "no first call"
    assert changed(playbook(inventory, overlay)) == ["0", "0", "0"]
    assert in_host(pid, "ip", "netns", "exec", "d1", "ping", "-c", "1", "-W", "2", "d3").count("1 received")
    assert in_host(pid, "ip", "netns", "exec", "d1", "getent", "hosts", "api")
    # A limited run takes the VTEPs of the hosts it leaves out from the inventory: nothing changes.
    assert changed(playbook(inventory, overlay, "--limit", "host1")) == ["0"]
    playbook(inventory, overlay, "-e", "overlay_network_state=absent")
    assert json.loads(in_host(pid, "cat", "/var/lib/cnm/networks.json")) == {}


TRUNK_PLAY = """
- hosts: fleet
  gather_facts: false
  roles:
    - role: cnm.fabric.macvlan_trunk
"""


def test_macvlan_trunk_role_converges_a_host_in_one_call(tmp_path, fleet):
    """The role on an untagged trunk (fleet.sh's underlay, eth0; its VLANs are proven in the VMs):
    check mode makes nothing, one module process makes the networks, the endpoints and the unit,
    a rerun changes nothing, an endpoint no longer listed leaves, and the teardown leaves the trunk."""
    name, hosts = fleet(1)
    pid = fleet_pid(name, 1)
    vlans = [{"name": "flat", "subnet": "198.18.0.0/24", "gateway": "198.18.0.254", "ip_range": "198.18.0.128/28",
              "host_access": True, "endpoints": [{"name": "m1"}, {"name": "m2", "ipv4_address": "198.18.0.140"}]}]
    inventory = tmp_path / "inventory.json"

    def run(*extra):
        inventory.write_text(json.dumps({"fleet": {"hosts": hosts, "vars": {"macvlan_trunk_interface": "eth0",
                                                                            "macvlan_trunk_vlans": vlans}}}))
        return playbook(inventory, play, *extra)

    play = tmp_path / "trunk.yml"
    play.write_text(TRUNK_PLAY)
    links = in_host(pid, "ip", "-o", "link", "show")
    checked = run("--check")
    assert "0" not in changed(checked) and not in_host(pid, "ls", "/var/lib/cnm"), "check mode made nothing"
    made = run()
    ran = [task for task, status in re.findall(r"TASK \[cnm.fabric.macvlan_trunk : ([^\]]+)\][^\n]*\n(\w+):", made)
           if status != "skipping" and not task.startswith("Validating")]
    assert len(ran) == 1, "one module process: %s" % ran
    assert changed(run()) == ["0"]
    for peer in ("198.18.0.254", "198.18.0.140"):
        assert in_host(pid, "ip", "netns", "exec", "m1", "ping", "-c", "1", "-W", "2", peer).count("1 received")
    assert in_host(pid, "ping", "-c", "1", "-W", "2", "198.18.0.140").count("1 received"), "the host reaches it"
    assert in_host(pid, "ls", "/etc/systemd/system").count("cnm-fabric@")
    vlans[0]["endpoints"] = vlans[0]["endpoints"][1:]
    run()
    assert "eth0" not in in_host(pid, "ip", "netns", "exec", "m1", "ip", "-o", "link", "show"), "m1 left the VLAN"
    run("-e", "macvlan_trunk_state=absent")
    assert json.loads(in_host(pid, "cat", "/var/lib/cnm/networks.json")) == {}
    assert not in_host(pid, "ls", "/etc/systemd/system").count("cnm-fabric@"), "the unit went with the last network"
    assert in_host(pid, "ip", "-o", "link", "show") == links, "the trunk as it was"
