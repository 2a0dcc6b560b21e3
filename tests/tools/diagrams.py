# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Draw the guides' examples from real runs: diagrams.py OUT writes OUT/bridge.svg and OUT/overlay.svg.

Three throwaway hosts (tests/tools/fleet.sh: namespaces with their own /run/netns, /etc/netns and
/var/lib/cnm) run the guides' playbooks: the overlay example on host1 and host2, the bridge
example on host3. cnm_info (graph: true) on host1 and host3 gives the DOT text, and Graphviz
draws it. The fleet is removed afterwards, pass or fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLEET = os.path.join(ROOT, "tests", "tools", "fleet.sh")
NAME = "cnmdoc%d" % os.getpid()
PLAY = """
- hosts: overlay
  gather_facts: false
  roles: [{role: cnm.fabric.overlay_network}]
- hosts: bridge
  gather_facts: false
  roles: [{role: cnm.fabric.bridge_network}]
- hosts: overlay[0], bridge
  gather_facts: false
  tasks:
    - cnm.fabric.cnm_info: {graph: true}
      register: drawing
    - ansible.builtin.copy:
        content: "{{ drawing.graph }}"
        dest: "{{ out }}/{{ 'overlay' if inventory_hostname in groups.overlay else 'bridge' }}.dot"
        mode: "0644"
      delegate_to: localhost
"""


def main(out):
    os.makedirs(out, exist_ok=True)
    subprocess.run([FLEET, "up", NAME, "3"], check=True)
    try:
        hosts = json.loads(subprocess.run([FLEET, "hosts", NAME], capture_output=True, text=True, check=True).stdout)
        names = sorted(hosts)
        # The guides' examples (guide_overlay.rst, guide_bridge.rst).
        hosts[names[0]]["overlay_network_endpoints"] = [{"name": "web", "network": "backbone", "aliases": ["www"]}]
        hosts[names[1]]["overlay_network_endpoints"] = [{"name": "db", "network": "backbone"}]
        hosts[names[2]]["bridge_network_networks"] = [{"name": "pets", "subnet": "172.30.0.0/24", "endpoints": [
            {"name": "db"}, {"name": "web", "aliases": ["www"], "publish": [{"host_port": 8000, "container_port": 5000}]}]}]
        with tempfile.TemporaryDirectory() as tmp:
            inventory = {"overlay": {"hosts": dict((h, hosts[h]) for h in names[:2]), "vars": {
                "overlay_network_networks": [{"name": "backbone", "vni": 4100}],
                "overlay_network_ipam_state_dir": os.path.join(tmp, "fleet")}},
                "bridge": {"hosts": {names[2]: hosts[names[2]]}}}
            with open(os.path.join(tmp, "inventory.json"), "w") as f:
                json.dump(inventory, f)
            with open(os.path.join(tmp, "play.yml"), "w") as f:
                f.write(PLAY)
            bindir = os.path.dirname(sys.executable)
            subprocess.run([os.path.join(bindir, "ansible-playbook"), "-i", os.path.join(tmp, "inventory.json"),
                            os.path.join(tmp, "play.yml"), "-e", "out=" + os.path.abspath(out)],
                           check=True, stdout=subprocess.DEVNULL)
        for topology in ("bridge", "overlay"):
            dot = os.path.join(out, topology + ".dot")
            subprocess.run(["dot", "-Tsvg", "-o", os.path.join(out, topology + ".svg"), dot], check=True)
    finally:
        subprocess.run([FLEET, "down", NAME], check=False)


if __name__ == "__main__":
    main(sys.argv[1])
