#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cnm_host
short_description: Converge a host's networks, endpoints, overlay peers, services and restore unit in one module call
version_added: 0.2.0
description:
  - Runs, in one module process on the managed host, what a play would otherwise run as one task
    per object. Each item of O(networks) runs as M(cnm.fabric.cnm_network), each item of O(endpoints)
    as M(cnm.fabric.cnm_endpoint), each item of O(peers) as M(cnm.fabric.cnm_overlay_peer), each
    item of O(services) as M(cnm.fabric.cnm_service), then O(restore_unit) as
    M(cnm.fabric.cnm_restore_unit).
  - Each item takes the options of its module, with the same defaults, and does exactly what
    that module does, with check mode and diff mode. Only the module process is shared, so a
    host pays for one interpreter and one import of the collection's code instead of one per
    task; on a fleet, where every task is a process on every host, that is most of what a run
    that changes nothing costs.
  - O(state_dir) is the state_dir of every item that does not give its own.
  - Every item is checked against its module's options before any item runs; an error names the
    item and the option at fault, as in C(endpoints[1].ipv4_address).
  - Items run in the order above, each in turn, as a play's tasks would. When one fails, the
    items before it stay done, as the tasks before a failed task do, and the result says which
    item failed; no item is left half-done, since each is converged as its own module does it.
  - In check mode, an item on a network that an earlier item of O(networks) would make or
    change is not checked (there is nothing to check it against yet) and is reported as
    skipped, as a play skips tasks on a network that check mode has not made.
author:
  - cnm.fabric maintainers (@cnm-fabric)
options:
  networks:
    description:
      - Networks, each a dict of the options of M(cnm.fabric.cnm_network).
    type: list
    elements: dict
    default: []
  endpoints:
    description:
      - Endpoints, each a dict of the options of M(cnm.fabric.cnm_endpoint) (one endpoint, or a
        bulk O(cnm.fabric.cnm_endpoint#module:endpoints) list).
    type: list
    elements: dict
    default: []
  peers:
    description:
      - The remote endpoints of overlay networks, each a dict of the options of
        M(cnm.fabric.cnm_overlay_peer). Its O(cnm.fabric.cnm_overlay_peer#module:encryption_keys)
        are kept out of the module's output and logs, as that module keeps them.
    type: list
    elements: dict
    default: []
  services:
    description:
      - Services, each a dict of the options of M(cnm.fabric.cnm_service).
    type: list
    elements: dict
    default: []
  restore_unit:
    description:
      - The options of M(cnm.fabric.cnm_restore_unit), when the state_dir's restore unit is
        to be managed too (V({}) installs it with its defaults).
    type: dict
extends_documentation_fragment:
  - cnm.fabric.common
  - cnm.fabric.common.attributes
notes:
  - Ansible checks the items' options here, in the module, not before it sends it; a loop over
    one module per item remains the way to get one result per task.
  - The C(cnm.fabric.overlay_network) role converges each host with two calls of this module
    (networks first, since every host's VTEP must be known before peers are programmed; then
    endpoints, peers, services and the restore unit), or with one when the inventory declares
    every host's VTEP; an encrypted network's second key stage is one more task. The
    C(cnm.fabric.bridge_network) role converges a host with one call.
seealso:
  - module: cnm.fabric.cnm_network
  - module: cnm.fabric.cnm_endpoint
  - module: cnm.fabric.cnm_overlay_peer
  - module: cnm.fabric.cnm_service
  - module: cnm.fabric.cnm_restore_unit
"""

EXAMPLES = r"""
- name: A bridge network, two containers on it and the restore unit, in one module call
  cnm.fabric.cnm_host:
    networks:
      - name: pets
        subnet: [10.90.0.0/24]
    endpoints:
      - network: pets
        exclusive: true
        endpoints:
          - {name: web, sandbox: web, publish: [{host_port: 8080, container_port: 80}]}
          - {name: db, sandbox: db, aliases: [database]}
    services:
      - name: www
        network: pets
        ports: [{port: 80}]
        endpoints: [web]
    restore_unit: {}
"""

RETURN = r"""
networks:
  description: The result of each item of O(networks), in order, as M(cnm.fabric.cnm_network) returns it (without C(diff)).
  returned: always
  type: list
  elements: dict
  sample: [{changed: true, network: {name: pets, driver: bridge, subnet: 10.90.0.0/24}, changes: [add bridge cnm-pets]}]
endpoints:
  description:
    - The result of each item of O(endpoints), as M(cnm.fabric.cnm_endpoint) returns it.
    - In check mode, an item on a network still to be made has C(skipped=true), C(changed=false) and a C(msg).
  returned: always
  type: list
  elements: dict
peers:
  description: The result of each item of O(peers), as M(cnm.fabric.cnm_overlay_peer) returns it.
  returned: always
  type: list
  elements: dict
services:
  description: The result of each item of O(services), as M(cnm.fabric.cnm_service) returns it.
  returned: always
  type: list
  elements: dict
restore_unit:
  description: The result of O(restore_unit), as M(cnm.fabric.cnm_restore_unit) returns it.
  returned: when O(restore_unit) is given
  type: dict
changes:
  description: What every item did, in the order it was done.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cnm.fabric.plugins.module_utils.calls import HOST as CALL
from ansible_collections.cnm.fabric.plugins.module_utils.common import run_module


def main():
    module = AnsibleModule(argument_spec=CALL.spec, supports_check_mode=True, **CALL.constraints)
    run_module(module, CALL.run)


if __name__ == "__main__":
    main()
