# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host driver: the endpoint uses the host's own stack; nothing to create."""

from __future__ import annotations

from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import Driver


class HostDriver(Driver):
    # Like null, a host network has no kernel object; unlike null, it makes no sandbox.
    creates_sandbox = False


DRIVER = HostDriver()
