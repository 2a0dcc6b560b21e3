#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cnm_info
short_description: Report the networks, endpoints, sandboxes and pools on a host, and drift
version_added: 0.1.0
description:
  - Reads what the collection recorded under O(state_dir) and compares it with the kernel.
  - Reports drift both ways - a record whose kernel object is gone (a bridge, a VXLAN device,
    a veth, a namespace, the nftables tables), an overlay network whose forwarding or ARP
    entries differ from its recorded peers, and a link with the collection's naming
    (C(cnm-*), C(cnmv*), C(cnmx*)) that no record owns.
  - Also reports what an interrupted run left - the journal of removals it had not
    finished, an address in a network's pool that no endpoint holds, sandbox files of no
    recorded sandbox, and temporary files of killed writes. The next run of any other module
    of the collection finishes the journaled removals; M(cnm.fabric.cnm_prune) removes the rest.
  - Reports whether the unit that restores the state_dir after a reboot (M(cnm.fabric.cnm_restore_unit))
    is in place, and warns about a state_dir with records whose unit is missing or not enabled.
  - Changes nothing. A later M(cnm.fabric.cnm_network), M(cnm.fabric.cnm_endpoint) or
    M(cnm.fabric.cnm_overlay_peer) run repairs the drift of the objects it manages.
author:
  - cnm.fabric maintainers (@cnm-fabric)
options:
  graph:
    description:
      - Also return RV(graph), the host's topology as a Graphviz DOT text - networks with their
        bridge and VXLAN device, sandboxes, endpoints with their addresses, the remote VTEPs and
        endpoints of overlay networks, and published ports.
      - Render it with C(dot -Tsvg) (Debian package C(graphviz)); the collection's guides are drawn
        this way.
    type: bool
    default: false
extends_documentation_fragment:
  - cnm.fabric.common
attributes:
  check_mode:
    description: Changes nothing, in check mode or not.
    support: full
  diff_mode:
    description: Changes nothing, so has nothing to show.
    support: none
  platform:
    description: Runs on Linux hosts only.
    support: full
    platforms: [linux]
  action_group:
    description: Part of the action group C(cnm.fabric.cnm), for setting O(state_dir) once with C(module_defaults).
    support: full
    membership: [cnm.fabric.cnm]
seealso:
  - module: cnm.fabric.cnm_network
  - module: cnm.fabric.cnm_endpoint
"""

EXAMPLES = r"""
- name: What does this host have?
  cnm.fabric.cnm_info:
  register: cnm

- name: Fail when something drifted
  ansible.builtin.assert:
    that: cnm.drift | length == 0
    fail_msg: "{{ cnm.drift }}"

- name: Draw the host
  cnm.fabric.cnm_info:
    graph: true
  register: cnm_drawing

- name: As SVG, on the controller
  ansible.builtin.command:
    argv: [dot, -Tsvg, -o, "{{ inventory_hostname }}.svg"]
    stdin: "{{ cnm_drawing.graph }}"
  delegate_to: localhost
  changed_when: true
"""

RETURN = r"""
networks:
  description:
    - Recorded networks by name, as M(cnm.fabric.cnm_network) returns them (the common fields, with
      C(id) and C(scope), and the parts of the driver, such as C(bridge)), each with C(present) (the
      kernel holds it as recorded, so a run would change nothing of it).
  returned: always
  type: dict
  sample: {pets: {name: pets, id: 4f0c8e1b9d2a7c3e5f6a8b0d1c2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e, scope: local,
                  driver: bridge, subnet: 172.17.0.0/16, bridge: {interface: cnm-pets, icc: true}, present: true}}
endpoints:
  description:
    - Recorded endpoints by C(network/name), as M(cnm.fabric.cnm_endpoint) returns them (with the parts
      of their network's driver, such as C(veth)), each with C(present) (in place as recorded, in its
      sandbox).
  returned: always
  type: dict
sandboxes:
  description: Sandboxes with endpoints, each with C(created) (made by the collection), C(present) and its C(endpoints).
  returned: always
  type: dict
services:
  description: Services (M(cnm.fabric.cnm_service)) by C(network/name), each with its live C(backends).
  returned: always
  type: dict
  version_added: 0.2.0
  sample: {pets/web: {name: web, network: pets, vip: 172.17.0.5, ports: [{port: 80, target_port: 5000, protocol: tcp}],
                      endpoints: [web1, web2], aliases: [], backends: [172.17.0.2, 172.17.0.3]}}
pools:
  description: Address pools by space and name, with the addresses they handed out.
  returned: always
  type: dict
firewall:
  description:
    - Whether the nftables tables of O(state_dir) are loaded (C(present)), their name (C(table), which is
      C(cnm) for the default O(state_dir), C(cnm_) and a digest of the path for any other) and the ruleset
      they should hold (C(ruleset)); null without networks.
  returned: always
  type: dict
drift:
  description:
    - What a run would change, one entry per change, each with its C(kind), C(name) and C(problem).
    - The planner decides, as for the modules' own runs (and the restore unit's), comparing the records
      with the kernel and the files. For a C(network), C(endpoint) or C(sandbox) the problem is the change
      a run makes, as the modules list it in C(changes) (C(set mtu 1500 on cnm-pets (was 1400))), or
      why the run cannot make it; for a C(file), the file a run rewrites; for the C(firewall), a load
      of the tables (missing, or changed by hand since the last load).
    - What M(cnm.fabric.cnm_prune) removes is listed too, with kind C(link), C(address) or C(file), and an
      interrupted run's removals with kind C(run).
    - Nothing that a run would leave as it is shows here.
  returned: always
  type: list
  elements: dict
  sample: [{kind: endpoint, name: pets/web, problem: link cnmv3f1c2d9a0b7 is missing}]
restore_unit:
  description:
    - The systemd unit that brings O(state_dir)'s networks back after a reboot or a firewall reload
      (see M(cnm.fabric.cnm_restore_unit)), and what keeps it from doing so (C(problems)), such as
      C(the restore unit is not installed), C(... is not enabled) or C(systemd is not running on this host).
    - When the state_dir records networks and there is a problem, the module also warns.
  returned: always
  type: dict
  version_added: 0.2.0
  sample: {unit: cnm-fabric@var-lib-cnm.service, problems: []}
graph:
  description: The host's topology in Graphviz DOT.
  returned: when O(graph=true)
  type: str
  sample: "graph cnm { ... }"
"""

import warnings

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cnm.fabric.plugins.module_utils import info, unit
from ansible_collections.cnm.fabric.plugins.module_utils.common import STATE_DIR_SPEC, run_module
from ansible_collections.cnm.fabric.plugins.module_utils.errors import CnmWarning
from ansible_collections.cnm.fabric.plugins.module_utils.run import Run


def gather(module):
    state_dir = module.params["state_dir"]
    with Run(state_dir, check_mode=True, finish_interrupted=False) as run:
        facts = info.gather(run)
    facts["restore_unit"] = dict(unit=unit.instance(state_dir), problems=unit.status(state_dir))
    if facts["networks"] and facts["restore_unit"]["problems"]:
        warnings.warn("%s: after a reboot, nothing brings these networks back until a playbook runs (install the "
                      "unit with cnm.fabric.cnm_restore_unit)" % "; ".join(facts["restore_unit"]["problems"]),
                      CnmWarning)
    if module.params["graph"]:
        facts["graph"] = info.graph(facts)
    return dict(changed=False, **facts)


def main():
    module = AnsibleModule(argument_spec=dict(graph=dict(type="bool", default=False), state_dir=STATE_DIR_SPEC),
                           supports_check_mode=True)
    run_module(module, gather)


if __name__ == "__main__":
    main()
