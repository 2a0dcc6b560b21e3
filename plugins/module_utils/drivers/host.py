# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host driver: the endpoint uses the host's own stack; nothing to create."""

from __future__ import annotations

# Like null, a host network has no kernel object; unlike null, it makes no sandbox.
from ansible_collections.cnm.fabric.plugins.module_utils.drivers.null import (  # noqa: F401 pylint: disable=unused-import
    ENDPOINT_OPTIONS, create_network, delete_network, join, leave)

CREATES_SANDBOX = False
