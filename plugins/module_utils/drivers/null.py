# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The null driver: a sandbox with only its loopback; no kernel object of its own."""

from __future__ import annotations

from ansible_collections.cnm.fabric.plugins.module_utils.drivers.base import Driver


class NullDriver(Driver):
    """The interface's defaults, unchanged."""


DRIVER = NullDriver()
