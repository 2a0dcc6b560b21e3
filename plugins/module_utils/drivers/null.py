# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The null driver: a sandbox with only its loopback; no kernel object of its own."""

from __future__ import annotations

ENDPOINT_OPTIONS = ("aliases",)
CREATES_SANDBOX = True


def create_network(network, view, sysctls):
    return []


def delete_network(record, view):
    return []


def join(network, endpoint, old, host_view, sandbox_view):
    return []


def leave(network, endpoint, host_view, sandbox_view):
    return []
