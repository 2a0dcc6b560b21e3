#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cnm_overlay_peer
short_description: Tell an overlay network on this host about the other hosts and their endpoints
version_added: 0.1.0
description:
  - Programs the VXLAN device of an overlay network (see M(cnm.fabric.cnm_network)) with static
    entries, as flannel and Calico do, with no multicast and no learning. Each remote host
    (VTEP) gets a flood entry (the all-zero MAC address), used for broadcasts. Each remote
    endpoint gets a permanent forwarding entry (its MAC address to its VTEP) and a permanent
    neighbour entry (its IP address to its MAC address), from which the device answers ARP
    itself.
  - Adds the remote endpoints, by name and aliases, to the hosts files of this host's sandboxes
    on the network, so a sandbox finds endpoints on other hosts by name.
  - Reads the device's current entries once and changes only the difference. Entries on the
    device that no recorded peer needs are removed; the device belongs to the collection.
  - A peer is declared whole; listing a VTEP again replaces the endpoints recorded behind it.
  - The C(cnm.fabric.overlay_peers) filter builds O(peers) for one host from the inventory.
  - On an encrypted network (O(cnm.fabric.cnm_network#module:overlay.encrypted=true)), programs
    for each peer the IPsec ESP security associations (SAs) both ways and the policy that sends
    the network's VXLAN traffic to that peer through them, and removes them with the peer.
    Each SA's key, salt and SPI are derived from O(encryption_keys) (HKDF-SHA256 over the VNI
    and the two hosts' addresses), so every host computes the same ones and nothing is
    exchanged. The SAs and policies are read with C(ip xfrm) and changed in one C(ip -batch).
author:
  - cnm.fabric maintainers (@cnm-fabric)
options:
  network:
    description:
      - Name of the overlay network on this host.
    type: str
    required: true
  peers:
    description:
      - The remote hosts of the network, each with the endpoints behind it.
      - Required with O(state=present). With O(state=absent), the listed VTEPs are removed,
        or every peer when O(peers) is omitted.
    type: list
    elements: dict
    suboptions:
      vtep:
        description:
          - The remote host's underlay address (its O(cnm.fabric.cnm_network#module:overlay.local_ip)).
        type: str
        required: true
      host_address:
        description:
          - That host's own address on the network (its
            O(cnm.fabric.cnm_network#module:overlay.host_address)), for the routing mesh. The VXLAN
            device gets a forwarding and a neighbour entry for it, as for an endpoint, so backends
            here reply to connections that host forwards.
        type: str
        version_added: 0.2.0
      endpoints:
        description:
          - The endpoints of the network on that host.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description:
              - The endpoint's name, written to the hosts files.
            type: str
            required: true
          ip:
            description:
              - The endpoint's address in the network's subnet, its IPv4 address, or its IPv6 one on an
                IPv6-only network (made with O(cnm.fabric.cnm_network#module:ipv4=false)).
            type: str
            required: true
          ip6:
            description:
              - The endpoint's IPv6 address on a dual-stack network (made with
                O(cnm.fabric.cnm_network#module:ipv6=true)); not given on an IPv6-only network, where
                O(peers[].endpoints[].ip) is that address. Defaults to the network's IPv6 prefix
                followed by O(peers[].endpoints[].ip), which is what M(cnm.fabric.cnm_endpoint) gives
                an overlay endpoint that names no IPv6 address.
              - The VXLAN device gets a permanent IPv6 neighbour entry for it, and answers neighbour
                solicitations for it from that entry, as it answers ARP.
            type: str
            version_added: 0.2.0
          mac:
            description:
              - The endpoint's MAC address. Defaults to the one derived from O(peers[].endpoints[].ip)
                (C(02:42) and the four octets of an IPv4 address; C(06) and the last 40 bits of an IPv6
                one), which is what M(cnm.fabric.cnm_endpoint) gives it.
            type: str
          aliases:
            description:
              - More host names of the endpoint.
            type: list
            elements: str
            default: []
  encryption_keys:
    description:
      - The keys of an encrypted network, the same list on every host. Each is 32 bytes written as
        64 hex digits (make one with C(openssl rand -hex 32)). Keep them in Ansible Vault.
      - The first key encrypts; every key decrypts. To rotate, put a new key first and keep the
        old one after it; a later rotation drops it. See O(encryption_stage).
      - The keys are never logged or returned.
      - Required with O(state=present) on an encrypted network, and refused on any other. Not
        needed to remove peers.
    type: list
    elements: str
    version_added: 0.2.0
  encryption_stage:
    description:
      - How far a change of O(encryption_keys) goes in this run.
      - V(inbound) adds the SAs that decrypt with every listed key and keeps each outbound SA
        whose key is still listed, so nothing this host sends changes.
      - V(complete) also moves each outbound SA to the first key (the new SA is made before the
        old one goes) and removes the SAs of keys no longer listed.
      - A rotation without loss runs V(inbound) on every host, then V(complete) on every host,
        which is what the C(cnm.fabric.overlay_network) role does.
    type: str
    choices: [inbound, complete]
    default: complete
    version_added: 0.2.0
  exclusive:
    description:
      - With O(state=present), remove the peers that are not listed (a host that left the fleet).
    type: bool
    default: false
  state:
    description:
      - V(present) records the listed peers and programs their entries; V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - cnm.fabric.common
  - cnm.fabric.common.attributes
seealso:
  - module: cnm.fabric.cnm_network
  - module: cnm.fabric.cnm_endpoint
"""

EXAMPLES = r"""
- name: The two other hosts of the fabric network and what runs on them
  cnm.fabric.cnm_overlay_peer:
    network: fabric
    exclusive: true
    peers:
      - vtep: 192.0.2.12
        endpoints:
          - {name: db, ip: 10.0.1.3, aliases: [postgres]}
      - vtep: 192.0.2.13
        endpoints: []

- name: Built from the inventory (every host of the group fleet but this one)
  cnm.fabric.cnm_overlay_peer:
    network: fabric
    exclusive: true
    peers: "{{ hostvars | cnm.fabric.overlay_peers('fabric', groups['fleet'], inventory_hostname) }}"

- name: An encrypted network, its keys from Ansible Vault (the first encrypts, both decrypt)
  cnm.fabric.cnm_overlay_peer:
    network: pets
    exclusive: true
    encryption_keys: "{{ vault_pets_keys }}"
    peers: "{{ hostvars | cnm.fabric.overlay_peers('pets', groups['fleet'], inventory_hostname) }}"

- name: Forget one host
  cnm.fabric.cnm_overlay_peer:
    network: fabric
    state: absent
    peers:
      - vtep: 192.0.2.13
"""

RETURN = r"""
peers:
  description: The peers recorded for the network after the run, by VTEP; empty if the network is gone.
  returned: always
  type: dict
  sample:
    192.0.2.12:
      - {name: db, ip: 10.0.1.3, mac: "02:42:0a:00:01:03", aliases: [postgres]}
    192.0.2.13: []
peer_hosts:
  description: The other hosts' own addresses on the network (for the routing mesh), by VTEP.
  returned: always
  type: dict
  version_added: 0.2.0
  sample: {192.0.2.12: 10.0.1.254}
changes:
  description: What was changed, or would be in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["add 00:00:00:00:00:00 -> 192.0.2.12 to cnmx6b1e0c3e5f2", "add neighbour 10.0.1.3 -> 02:42:0a:00:01:03 to cnmx6b1e0c3e5f2"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cnm.fabric.plugins.module_utils.calls import OVERLAY_PEER as CALL
from ansible_collections.cnm.fabric.plugins.module_utils.common import run_module


def main():
    module = AnsibleModule(argument_spec=CALL.spec, supports_check_mode=True, **CALL.constraints)
    run_module(module, CALL.run)


if __name__ == "__main__":
    main()
