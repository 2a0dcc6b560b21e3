#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cnm_restore_unit
short_description: Bring a state_dir's networks back after a reboot or a firewall reload, with no playbook
version_added: 0.2.0
description:
  - Namespaces, links, addresses, routes, IPsec states and nftables tables live in the kernel
    and are gone after a reboot; Debian's C(nftables.service) flushes the whole ruleset each time
    it loads C(/etc/nftables.conf). This module installs, on the managed host, what puts them
    back with no controller, by the same code as the modules (the module_utils of this very
    module, copied to C(/usr/local/lib/cnm-fabric)).
  - A systemd template unit C(cnm-fabric@.service), whose instance is the state_dir escaped as
    C(systemd-escape --path) does (C(cnm-fabric@var-lib-cnm.service) for C(/var/lib/cnm)), enabled
    in C(multi-user.target). At boot it runs after C(local-fs.target), C(network.target) and
    C(nftables.service), and before C(network-online.target). A service that runs in a sandbox
    orders itself after the instance (or after C(network-online.target)) and joins the namespace
    with C(NetworkNamespacePath=/run/netns/NAME).
  - It makes every recorded network (bridges, VXLAN devices and their forwarding entries, VLAN
    parents, host shims), every named sandbox and every endpoint (links, addresses, routes,
    sandbox sysctls), an encrypted overlay's SAs and policies (from the keys
    M(cnm.fabric.cnm_overlay_peer) keeps in the state_dir, readable by root only, as the kernel's
    SAs are), the sandboxes' hosts files and service rules, and the nftables tables. No address
    is allocated and no record changes. A sandbox given by path whose namespace is gone (its
    container stopped) is reported in the journal and not made, which is no failure. A network
    that cannot be made (its parent device gone, a kernel without ESP) is left out with its
    endpoints, the rest is made, and the unit ends failed.
  - A drop-in for C(nftables.service) loads the state_dir's tables again each time that service
    starts or reloads, right after it loads C(/etc/nftables.conf).
  - Where systemd is not the init system, the files are written and a warning says so; the
    launcher C(/usr/local/lib/cnm-fabric/cnm-fabric-restore STATE_DIR) is what another init
    system would run.
  - The roles run this module for their state_dir. M(cnm.fabric.cnm_info) warns about a state_dir
    with records whose unit is missing or not enabled.
author:
  - cnm.fabric maintainers (@cnm-fabric)
options:
  state:
    description:
      - V(present) installs and enables the unit of O(state_dir), and starts it (a restore that
        finds everything in place changes nothing).
      - V(absent) stops and removes it (the template and the code with the last state_dir's). It
        is refused while the state_dir records networks, unless O(force=true).
    type: str
    choices: [present, absent]
    default: present
  python:
    description:
      - The Python interpreter the unit runs, with pyroute2 and netaddr. By default the one
        running this module.
      - An absolute path of letters, digits and C(_ . / + -).
    type: path
  force:
    description:
      - With O(state=absent), remove the unit even though the state_dir records networks.
    type: bool
    default: false
extends_documentation_fragment:
  - cnm.fabric.common
  - cnm.fabric.common.attributes
notes:
  - O(state_dir) must be an absolute path of letters, digits and C(_ . / + -), since the unit files
    name it as it is.
  - After C(systemctl stop nftables) (which flushes the ruleset) the tables stay gone until
    C(nftables.service) starts again or the unit is restarted; an encrypted overlay's outbound
    traffic stays encrypted (the IPsec policies are not nftables rules), but unencrypted VXLAN
    packets are no longer dropped.
  - firewalld does not remove the collection's tables when it reloads, with either backend; see
    the troubleshooting guide.
seealso:
  - module: cnm.fabric.cnm_info
  - module: cnm.fabric.cnm_overlay_peer
"""

EXAMPLES = r"""
- name: Networks of /var/lib/cnm come back at boot and after nftables reloads
  cnm.fabric.cnm_restore_unit:
    state_dir: /var/lib/cnm

- name: A service in sandbox web, started once its network is back
  ansible.builtin.copy:
    dest: /etc/systemd/system/web.service
    mode: "0644"
    content: |
      [Unit]
      Requires=cnm-fabric@var-lib-cnm.service
      After=cnm-fabric@var-lib-cnm.service
      [Service]
      NetworkNamespacePath=/run/netns/web
      ExecStart=/usr/bin/python3 -m http.server 5000
      [Install]
      WantedBy=multi-user.target

- name: No more restore for a state_dir being retired
  cnm.fabric.cnm_restore_unit:
    state_dir: /var/lib/cnm-old
    state: absent
"""

RETURN = r"""
unit:
  description: The systemd unit of the state_dir.
  returned: always
  type: str
  sample: cnm-fabric@var-lib-cnm.service
changes:
  description: The files written or removed and the units enabled or started, in order.
  returned: always
  type: list
  elements: str
  sample: [write /etc/systemd/system/cnm-fabric@.service, enable cnm-fabric@var-lib-cnm.service]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cnm.fabric.plugins.module_utils.calls import RESTORE_UNIT as CALL
from ansible_collections.cnm.fabric.plugins.module_utils.common import run_module


def main():
    module = AnsibleModule(argument_spec=CALL.spec, supports_check_mode=True, **CALL.constraints)
    run_module(module, CALL.run, needs=())


if __name__ == "__main__":
    main()
