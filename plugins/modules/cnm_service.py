#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cnm_service
short_description: A service of a container network - one name, one virtual IP, many endpoints
version_added: 0.2.0
description:
  - A service is a name and a virtual IP (VIP) on a network, backed by endpoints of that network,
    as a service of Docker's swarm mode is. Every sandbox with an endpoint on the network resolves
    the name (and O(aliases)) to the VIP, and its connections to the VIP's O(ports) are balanced
    across the live backends.
  - The backends are the endpoints O(endpoints) names that exist - on this host, or on other hosts
    of an overlay network (as M(cnm.fabric.cnm_overlay_peer) recorded them). A backend that leaves
    the network, or the list, leaves the rotation on the next run of any module that touches the
    network.
  - "Load balancing happens in each client sandbox, as Docker's per-sandbox IPVS does it, with
    nftables: the sandbox's own table C(inet cnm_svc) DNATs a new connection to the VIP to one
    backend, chosen by C(numgen random) over a map of the backends (kube-proxy's nftables mode
    chooses the same way). The packet leaves the sandbox addressed to the backend, wherever it
    runs, and its replies come back to the sandbox, whose conntrack undoes the DNAT; no host
    has to see both directions."
  - A port of a service with no live backend is rejected (TCP reset, ICMP port unreachable), so
    clients fail at once rather than time out.
  - Changing the backends or ports rewrites the table of each sandbox concerned, in one nft
    transaction run inside it; no other table is touched, and connections already made keep
    their backend.
author:
  - cnm.fabric maintainers (@cnm-fabric)
options:
  name:
    description:
      - Name of the service, unique in its network; sandboxes on the network resolve it to the VIP.
    type: str
    required: true
  network:
    description:
      - The network of the service, made with M(cnm.fabric.cnm_network), of any driver whose endpoints
        have addresses (C(bridge), C(overlay), C(macvlan), C(ipvlan)).
    type: str
    required: true
  vip:
    description:
      - The virtual IP, an IPv4 address of the network's subnet that no endpoint holds.
      - Defaults to the next free address of the network's pool, kept on later runs. On an overlay
        network it must be given, the same on every host (the C(cnm.fabric.overlay_network) role
        allocates it from the fleet pool).
    type: str
  ports:
    description:
      - The ports the VIP answers on. Required with O(state=present).
    type: list
    elements: dict
    default: []
    suboptions:
      port:
        description: The port on the VIP.
        type: int
        required: true
      target_port:
        description: The port of the backends; defaults to O(ports[].port).
        type: int
      protocol:
        description: Transport protocol.
        type: str
        choices: [tcp, udp]
        default: tcp
      published:
        description:
          - A port of the host that answers for the service, as C(-p 8000:5000) of C(docker service
            create) does (Docker's routing mesh). A connection to any local address of the host on this
            port is DNATed to a live backend's O(ports[].target_port), chosen as in the sandboxes, in
            the host's table C(inet cnm).
          - On an overlay network, run on every host, every host of the fleet answers, and a backend
            on another host is reached across the overlay. Its replies would go to its own host's
            gateway, so the source of such a connection becomes this host's own address on the
            network (O(cnm.fabric.cnm_network#module:overlay.host_address), which the network must
            have), and the replies come back through this host. A backend on this host sees the
            client's own address.
          - No other service or published endpoint port of this host may use it.
        type: int
        version_added: 0.2.0
  endpoints:
    description:
      - Names of the endpoints of O(network) that back the service. Those that do not exist (yet)
        are left out of the rotation until they do.
    type: list
    elements: str
    default: []
  aliases:
    description:
      - More names that resolve to the VIP.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) makes the service match the options; V(absent) removes it and releases its VIP.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - cnm.fabric.common
  - cnm.fabric.common.attributes
notes:
  - The VIP is IPv4. Connections from the host itself, or from outside, reach the service through
    O(ports[].published), not through the VIP, whose balancing lives in the sandboxes.
seealso:
  - module: cnm.fabric.cnm_endpoint
  - module: cnm.fabric.cnm_overlay_peer
"""

EXAMPLES = r"""
- name: Three web backends behind one name and address
  cnm.fabric.cnm_service:
    name: web
    network: pets
    ports:
      - {port: 80, target_port: 5000}
    endpoints: [web1, web2, web3]

- name: On an overlay network, the VIP comes from the fleet pool
  cnm.fabric.cnm_service:
    name: db
    network: fabric
    vip: 10.0.1.250
    ports: [{port: 6379}]
    endpoints: [db1]
    aliases: [redis]

- name: Published on port 8000 of every host of the fleet (the routing mesh)
  cnm.fabric.cnm_service:
    name: web
    network: fabric
    vip: 10.0.1.251
    ports:
      - {port: 80, target_port: 5000, published: 8000}
    endpoints: [web1, web2]

- name: Remove it
  cnm.fabric.cnm_service:
    name: web
    network: pets
    state: absent
"""

RETURN = r"""
service:
  description: The service as recorded, with its live C(backends) (addresses); empty after O(state=absent).
  returned: always
  type: dict
  sample:
    name: web
    network: pets
    vip: 172.17.0.5
    ports: [{port: 80, target_port: 5000, protocol: tcp}]
    endpoints: [web1, web2, web3]
    aliases: []
    backends: [172.17.0.2, 172.17.0.3, 172.17.0.4]
changes:
  description: What was changed, or would be in check mode, in order.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cnm.fabric.plugins.module_utils.calls import SERVICE as CALL
from ansible_collections.cnm.fabric.plugins.module_utils.common import run_module


def main():
    module = AnsibleModule(argument_spec=CALL.spec, supports_check_mode=True, **CALL.constraints)
    run_module(module, CALL.run)


if __name__ == "__main__":
    main()
