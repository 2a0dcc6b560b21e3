#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cnm_endpoint
short_description: Join a sandbox (network namespace) to a container network
version_added: 0.1.0
description:
  - An endpoint is one interface inside a sandbox, joined to one network. On a C(bridge)
    network it is a veth pair whose host end is a port of the bridge; its address comes
    from the network's pool unless given.
  - The sandbox is a named network namespace (O(sandbox), created when missing and removed
    with its last endpoint) or an existing one given by path (O(sandbox_path)), such as a
    running container's C(/proc/PID/ns/net).
  - Every sandbox gets a hosts file naming the endpoints (names and aliases) of the networks
    it joins, and a resolv.conf with the host's non-loopback resolvers. For a named sandbox
    they are C(/etc/netns/NAME/hosts) and C(resolv.conf), which C(ip netns exec NAME) mounts
    over C(/etc); for a sandbox given by path, they are written under O(state_dir) and
    returned in RV(endpoint) as C(hosts_file).
  - Changing the address, MAC address, interface name, default route, aliases or published
    ports updates the endpoint in place. A veth deleted by hand is recreated on the next run.
author:
  - cnm.fabric maintainers (@cnm-fabric)
options:
  name:
    description:
      - Name of the endpoint, unique within its network; other sandboxes resolve it to its address.
    type: str
    required: true
  network:
    description:
      - Name of the network to join, made earlier with M(cnm.fabric.cnm_network).
    type: str
    required: true
  sandbox:
    description:
      - Name of the network namespace (C(/run/netns/NAME)); created when missing.
      - Exactly one of O(sandbox) and O(sandbox_path) is required with O(state=present).
    type: str
  sandbox_path:
    description:
      - Path of an existing network namespace, for example C(/proc/PID/ns/net) of a container.
        It is never created or removed.
    type: path
  ifname:
    description:
      - Name of the interface inside the sandbox. Defaults to the first free C(ethN).
    type: str
  ipv4_address:
    description:
      - Address of the endpoint. Defaults to the next free address of the network's pool.
    type: str
  mac_address:
    description:
      - MAC address of the interface. Defaults to C(02:42) followed by the four octets of
        the address, as Docker does.
    type: str
  default_route:
    description:
      - Whether the sandbox's default route goes through this endpoint's gateway.
      - Defaults to true for a sandbox's first endpoint, false for the others.
    type: bool
  aliases:
    description:
      - More names for the endpoint in the hosts files of its network's sandboxes.
    type: list
    elements: str
    default: []
  publish:
    description:
      - Ports of the endpoint published on the host (DNAT), reachable from other hosts,
        from other namespaces and from the host itself, C(127.0.0.1) included.
    type: list
    elements: dict
    default: []
    suboptions:
      host_port:
        description:
          - Port on the host. Defaults to O(publish[].container_port).
        type: int
      container_port:
        description:
          - Port inside the sandbox.
        type: int
        required: true
      protocol:
        description:
          - Transport protocol.
        type: str
        choices: [tcp, udp, sctp]
        default: tcp
      host_ip:
        description:
          - Host address the port is published on; defaults to the network's
            O(cnm.fabric.cnm_network#module:bridge.host_binding_ip).
        type: str
  state:
    description:
      - V(present) makes the endpoint match the options; V(absent) removes it, releases its
        address and published ports, and removes its sandbox if the collection created it and
        no other endpoint uses it.
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
- name: A db sandbox on the pets network
  cnm.fabric.cnm_endpoint:
    name: db
    network: pets
    sandbox: db

- name: The web sandbox, published on host port 8000
  cnm.fabric.cnm_endpoint:
    name: web
    network: pets
    sandbox: web
    aliases: [www]
    publish:
      - host_port: 8000
        container_port: 5000

- name: Join a running container, found by its process id
  cnm.fabric.cnm_endpoint:
    name: cache
    network: pets
    sandbox_path: /proc/4242/ns/net
    ipv4_address: 172.17.0.50
    ifname: eth1
    default_route: false

- name: Leave the network
  cnm.fabric.cnm_endpoint:
    name: web
    network: pets
    state: absent
"""

RETURN = r"""
endpoint:
  description: The endpoint as recorded; empty after O(state=absent).
  returned: always
  type: dict
  sample:
    name: web
    network: pets
    sandbox: web
    ifname: eth0
    ipv4_address: 172.17.0.3
    mac_address: "02:42:ac:11:00:03"
    default_route: true
    aliases: [www]
    publish: [{host_port: 8000, container_port: 5000, protocol: tcp, host_ip: null}]
    host_interface: cnmv3f1c2d9a0b7
    hosts_file: /etc/netns/web/hosts
changes:
  description: What was changed, or would be in check mode, in order.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cnm.fabric.plugins.module_utils import runner, spec
from ansible_collections.cnm.fabric.plugins.module_utils.common import STATE_DIR_SPEC, diff, run_module

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    network=dict(type="str", required=True),
    sandbox=dict(type="str"),
    sandbox_path=dict(type="path"),
    ifname=dict(type="str"),
    ipv4_address=dict(type="str"),
    mac_address=dict(type="str"),
    default_route=dict(type="bool"),
    aliases=dict(type="list", elements="str", default=[]),
    publish=dict(type="list", elements="dict", default=[], options=dict(
        host_port=dict(type="int"),
        container_port=dict(type="int", required=True),
        protocol=dict(type="str", choices=["tcp", "udp", "sctp"], default="tcp"),
        host_ip=dict(type="str"),
    )),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    state_dir=STATE_DIR_SPEC,
)


def converge(module):
    want = spec.endpoint_spec(module.params)
    with runner.Run(module.params["state_dir"], module.check_mode) as run:
        before = runner.public(run.endpoints.get(want.key), runner.ENDPOINT_FIELDS)
        if want.state == "present":
            record = runner.endpoint_present(run, want)
        else:
            runner.endpoint_absent(run, want)
            record = None
        after = runner.public(record, runner.ENDPOINT_FIELDS)
        changed = run.finish()
        result = dict(changed=changed, endpoint=runner.endpoint_facts(run, record), changes=run.log)
    result.update(diff(module, before, after))
    return result


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           mutually_exclusive=[("sandbox", "sandbox_path")])
    run_module(module, converge)


if __name__ == "__main__":
    main()
