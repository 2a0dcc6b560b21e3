#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cnm_prune
short_description: Remove records and kernel objects that belong to nothing declared
version_added: 0.1.0
description:
  - Garbage collection for what M(cnm.fabric.cnm_info) reports as drift and no declaration
    will repair. It removes endpoint records whose network is gone (with their veth), links
    named like the collection's (C(cnm-*), C(cnmv*), C(cnmx*)) that no record owns, records of sandboxes
    no endpoint uses (and those namespaces, when the collection made them), addresses in a
    network's pool whose owner is no endpoint of that network, sandbox files (hosts,
    resolv.conf) of no recorded sandbox, and temporary files of writes that were killed.
  - With O(cni_gc), it sends C(GC) to the CNI plugins of the networks that run them at CNI version
    C(1.1.0) (RV(cni_gc)).
  - Like every module of the collection, it first finishes the removals a killed run had
    journaled (their records, addresses, namespaces and files).
  - To purge endpoints that are recorded but no longer declared, use
    M(cnm.fabric.cnm_endpoint) with O(cnm.fabric.cnm_endpoint#module:endpoints) and
    O(cnm.fabric.cnm_endpoint#module:exclusive=true) instead; this module never removes
    anything a record still owns.
  - Check mode reports what would go.
author:
  - cnm.fabric maintainers (@cnm-fabric)
options:
  cni_gc:
    description:
      - Send C(GC) (CNI 1.1.0) to the plugins of each C(cni) network, and each network's C(cni_ipam)
        plugin, of that version, with the network's endpoints in this state_dir as the valid
        attachments (C(cni.dev/valid-attachments)), so that a plugin frees what it holds for any other
        attachment, such as a lease left by a runtime that died.
      - A plugin frees everything of the network's name that is not in that list (the reference
        C(host-local) keeps its leases by network name), so turn this on only where no other runtime
        or state_dir has a CNI network of the same name with the same plugin data.
    type: bool
    default: false
    version_added: 0.2.0
extends_documentation_fragment:
  - cnm.fabric.common
  - cnm.fabric.common.attributes
seealso:
  - module: cnm.fabric.cnm_info
  - module: cnm.fabric.cnm_endpoint
"""

EXAMPLES = r"""
- name: See what would go
  cnm.fabric.cnm_prune:
  check_mode: true
  register: leftovers

- name: Collect the garbage
  cnm.fabric.cnm_prune:
"""

RETURN = r"""
removed:
  description: What was removed (or would be, in check mode), by kind.
  returned: always
  type: dict
  sample: {endpoints: [], links: [cnmv3f1c2d9a0b7], sandboxes: [], addresses: [pets/old], files: [/etc/netns/old]}
cni_gc:
  description:
    - With O(cni_gc), the networks whose CNI plugins were sent C(GC) (or would be, in check mode);
      empty without it.
    - Sent at CNI version C(1.1.0) only (O(cnm.fabric.cnm_network#module:cni.cni_version),
      O(cnm.fabric.cnm_network#module:cni_ipam.cni_version)), which defines C(GC). A plugin says
      nothing of what it freed, so sending it is not a change.
  returned: always
  type: list
  elements: str
  version_added: 0.2.0
changes:
  description: The kernel changes, in order.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cnm.fabric.plugins.module_utils import prune
from ansible_collections.cnm.fabric.plugins.module_utils.common import STATE_DIR_SPEC, diff, run_module
from ansible_collections.cnm.fabric.plugins.module_utils.run import Run


def collect(module):
    with Run(module.params["state_dir"], module.check_mode) as run:
        removed = prune.prune(run)
        changed = run.finish()
        result = dict(changed=changed, removed=removed, changes=run.log,
                      cni_gc=prune.cni_gc(run) if module.params["cni_gc"] else [])
    result.update(diff(module, removed, dict((k, []) for k in removed)))
    return result


def main():
    module = AnsibleModule(argument_spec=dict(state_dir=STATE_DIR_SPEC, cni_gc=dict(type="bool", default=False)),
                           supports_check_mode=True)
    run_module(module, collect)


if __name__ == "__main__":
    main()
