# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  state_dir:
    description:
      - Directory where the collection records what it owns on the managed host
        (networks, endpoints, sandboxes, address pools, the last loaded ruleset).
      - Every module run holds an exclusive lock on it, so parallel runs never hand out
        one address twice.
      - Set it once for all modules with C(module_defaults) and the action group
        C(group/cnm.fabric.cnm).
    type: path
    default: /var/lib/cnm
requirements:
  - Linux with network namespaces, veth and bridge support.
  - Python 3.9 or later on the managed host, with the libraries pyroute2 (0.7.2 or later; Debian's
    C(python3-pyroute2)) and netaddr (0.8 or later; Debian's C(python3-netaddr)). The collection's roles
    install both.
  - nftables (the C(nft) command) on the managed host.
"""

    ATTRIBUTES = r"""
attributes:
  check_mode:
    support: full
    description: Check mode plans every change and reports it; it creates no namespace, link, file or rule.
  diff_mode:
    support: full
    description: Shows the object's recorded state before and after, as it would be written in a task.
  platform:
    platforms: [linux]
    description: Runs on Linux hosts only.
    support: full
  action_group:
    description: Part of the action group C(cnm.fabric.cnm), for setting O(state_dir) once with C(module_defaults).
    support: full
    membership: [cnm.fabric.cnm]
"""
