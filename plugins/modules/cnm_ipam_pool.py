#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cnm_ipam_pool
short_description: Allocate subnets and addresses from an address space
version_added: 0.1.0
description:
  - IP address management as Docker's built-in IPAM driver does it, with the allocations
    recorded under O(state_dir) and keyed by owner, so that asking again returns the same answer.
  - An address space (O(space)) holds pools; a pool is a subnet with a gateway, an optional
    O(ip_range) for dynamic addresses and reserved O(aux_addresses). Addresses are handed out
    round-robin, so a released address is not reused before the rest of the range has been.
    The network, broadcast and gateway addresses are never handed out.
  - A pool is IPv4 or IPv6, as its subnet is (IPv6 pools since version 0.2.0); so are its addresses.
    A dual-stack network of M(cnm.fabric.cnm_network) has a second pool in the C(local) space,
    C(NAME:ipv6).
  - Each bridge network of M(cnm.fabric.cnm_network) takes its pool from the C(local) space,
    named after the network. Automatic subnets of the C(local) space never overlap a route
    of the host.
  - A pool of another space (for example C(fleet), allocated once on the controller) touches
    nothing but the state directory, so the module can run delegated to the controller.
author:
  - cnm.fabric maintainers (@cnm-fabric)
options:
  space:
    description:
      - Name of the address space.
    type: str
    default: local
  address_pools:
    description:
      - Where automatic subnets are carved from, like dockerd's C(default-address-pools).
      - Defaults to Docker's 31 local pools, V(172.17.0.0/16) to V(172.19.0.0/16), V(172.20.0.0/14)
        to V(172.28.0.0/14) split into C(/16), and V(192.168.0.0/16) split into C(/20).
    type: list
    elements: dict
    suboptions:
      base:
        description: The block to carve, in CIDR form.
        type: str
        required: true
      size:
        description: The prefix length of each subnet carved from O(address_pools[].base) (at most 30 for IPv4, 126 for IPv6).
        type: int
        required: true
  pool:
    description:
      - Name (owner) of the pool to request or release.
    type: str
  subnet:
    description:
      - The subnet to ask for, IPv4 or IPv6; when omitted, the next free one of O(address_pools) is taken.
    type: str
  gateway:
    description:
      - The pool's gateway; defaults to the first usable address. Requires O(subnet).
    type: str
  ip_range:
    description:
      - Part of the subnet from which dynamic addresses are handed out. Requires O(subnet).
    type: str
  aux_addresses:
    description:
      - Addresses never handed out, by name. Requires O(subnet).
    type: dict
  addresses:
    description:
      - Addresses to allocate in O(pool), one for each owner.
    type: list
    elements: dict
    default: []
    suboptions:
      owner:
        description: Who holds the address; asking again for the same owner returns the same address.
        type: str
        required: true
      address:
        description: A given address instead of the next free one.
        type: str
  exclusive:
    description:
      - With O(state=present), release the pool's addresses whose owner is not in O(addresses).
    type: bool
    default: false
  backend:
    description:
      - Where the space's records live. V(file) - a JSON file under O(state_dir), locked per run.
      - V(etcd) - one key in an etcd cluster, committed with a compare-and-swap transaction, so
        that several controllers can allocate from one space; a call that loses the race is
        planned again on fresh data. Needs the Python library C(etcd3gw) where the module runs.
      - The C(local) space always stays in O(state_dir), as it belongs to the host's networks.
    type: str
    choices: [file, etcd]
    default: file
  backend_options:
    description:
      - Connection to etcd, with O(backend=etcd).
    type: dict
    suboptions:
      endpoints:
        description:
          - Client URLs to try in order; defaults to V(http://127.0.0.1:2379).
          - Each is V(http) or V(https), a host (an IPv6 address in brackets) and a port, which
            defaults to 2379. A path, a query or credentials in the URL are refused.
        type: list
        elements: str
      prefix:
        description: Key prefix; the space is kept at C(PREFIX/ipam/SPACE).
        type: str
        default: /cnm
      ca_cert:
        description: CA bundle to verify an C(https) endpoint.
        type: path
      cert:
        description: Client certificate, for etcd's client certificate authentication; requires O(backend_options.key).
        type: path
      key:
        description: Key of O(backend_options.cert), which it requires.
        type: path
      user:
        description:
          - User name for etcd's user authentication (C(etcdctl auth enable)); requires
            O(backend_options.password). The user needs read and write access to the keys under
            O(backend_options.prefix).
        type: str
        version_added: 0.2.0
      password:
        description: Password of O(backend_options.user), which it requires. Never logged.
        type: str
        version_added: 0.2.0
      timeout:
        description: Seconds to wait for etcd.
        type: int
        default: 5
  state:
    description:
      - V(present) requests the pool and the addresses.
      - V(absent) releases the listed O(addresses), or the whole pool when none are listed.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - cnm.fabric.common
  - cnm.fabric.common.attributes
seealso:
  - module: cnm.fabric.cnm_network
"""

EXAMPLES = r"""
- name: A fleet pool and three addresses, allocated once on the controller
  cnm.fabric.cnm_ipam_pool:
    space: fleet
    address_pools:
      - base: 10.200.0.0/16
        size: 24
    pool: overlay1
    addresses:
      - owner: web
      - owner: db
      - owner: cache
        address: 10.200.0.50
    state_dir: "{{ playbook_dir }}/.cnm"
  delegate_to: localhost
  run_once: true
  register: fleet

- name: The same pool in etcd, shared by several controllers
  cnm.fabric.cnm_ipam_pool:
    space: fleet
    pool: overlay1
    addresses:
      - owner: web
    backend: etcd
    backend_options:
      endpoints: [https://etcd1.example.org:2379, https://etcd2.example.org:2379]
      ca_cert: /etc/cnm/etcd-ca.pem
  delegate_to: localhost
  run_once: true

- name: Release one address
  cnm.fabric.cnm_ipam_pool:
    space: fleet
    pool: overlay1
    addresses:
      - owner: cache
    state: absent
    state_dir: "{{ playbook_dir }}/.cnm"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
pool:
  description: The pool as recorded; empty when it does not exist.
  returned: always
  type: dict
  sample: {name: overlay1, subnet: 10.200.0.0/24, gateway: 10.200.0.1, ip_range: null, aux_addresses: {}}
addresses:
  description: Every address the pool has handed out, by owner.
  returned: always
  type: dict
  sample: {web: 10.200.0.2, db: 10.200.0.3, cache: 10.200.0.50}
changes:
  description: Always empty for this module; allocations are reported by RV(pool) and RV(addresses).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cnm.fabric.plugins.module_utils import pools, spec
from ansible_collections.cnm.fabric.plugins.module_utils.common import STATE_DIR_SPEC, diff, run_module
from ansible_collections.cnm.fabric.plugins.module_utils.errors import CnmError
from ansible_collections.cnm.fabric.plugins.module_utils.ipam import etcd
from ansible_collections.cnm.fabric.plugins.module_utils.run import Run

ARGUMENT_SPEC = dict(
    space=dict(type="str", default="local"),
    address_pools=dict(type="list", elements="dict", options=dict(
        base=dict(type="str", required=True),
        size=dict(type="int", required=True),
    )),
    pool=dict(type="str"),
    subnet=dict(type="str"),
    gateway=dict(type="str"),
    ip_range=dict(type="str"),
    aux_addresses=dict(type="dict"),
    addresses=dict(type="list", elements="dict", default=[], options=dict(
        owner=dict(type="str", required=True),
        address=dict(type="str"),
    )),
    exclusive=dict(type="bool", default=False),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    backend=dict(type="str", choices=["file", "etcd"], default="file"),
    backend_options=dict(type="dict", options=dict(
        endpoints=dict(type="list", elements="str"),
        prefix=dict(type="str", default="/cnm"),
        ca_cert=dict(type="path"),
        cert=dict(type="path"),
        key=dict(type="path", no_log=False),
        user=dict(type="str"),
        password=dict(type="str", no_log=True),
        timeout=dict(type="int", default=5),
    )),
    state_dir=STATE_DIR_SPEC,
)


ATTEMPTS = 20


def _facts(ipam, name):
    pool = ipam.pools().get(name) if name else None
    return pools.pool_record(name, pool) if pool else {}


def converge(module):
    want = spec.pool_spec(module.params)
    name = want.request.name if want.request else None
    if want.backend == "file":
        with Run(module.params["state_dir"], module.check_mode) as run:
            ipam = run.ipam(want.space)
            before = _facts(ipam, name)
            pool, addresses = pools.ipam_converge(run, want, ipam)
            changed = run.finish(firewall_sync=False)
    else:
        options = dict(want.backend_options)
        client = etcd.connect(options)
        for _attempt in range(ATTEMPTS):
            ipam = etcd.EtcdBackend(client, want.space, options.get("prefix") or "/cnm")
            before = _facts(ipam, name)
            pool, addresses = pools.ipam_converge(None, want, ipam)
            changed = ipam.changed()
            if module.check_mode:
                break
            try:
                ipam.commit()
                break
            except etcd.Conflict:
                continue  # another controller committed first: plan again on its data
        else:
            raise CnmError("%d commits in a row lost to other writers; try again" % ATTEMPTS, "backend")
    after = dict(pool, addresses=addresses) if pool else {}
    result = dict(changed=changed, pool=pool, addresses=addresses, changes=[])
    result.update(diff(module, before, after))
    return result


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run_module(module, converge, needs=("netaddr",))


if __name__ == "__main__":
    main()
