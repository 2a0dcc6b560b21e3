# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of the integration tests that run playbooks on namespace fleets."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from hosts import COLLECTIONS, ROOT  # pylint: disable=import-error

FLEET = os.path.join(ROOT, "tests", "tools", "fleet.sh")


UNDERLAY = {"h1": "198.18.0.1", "h2": "198.18.0.2"}  # the two hosts of conftest's ``pair``


def peers(*endpoints, vtep):
    """cnm_overlay_peer's ``peers``: one VTEP and its endpoints."""
    return [{"vtep": vtep, "endpoints": [dict(e) for e in endpoints]}]


def fleet_up(name, count):
    """Start a fleet; return its hosts as inventory host vars."""
    subprocess.run([FLEET, "up", name, str(count)], check=True)
    return json.loads(subprocess.run([FLEET, "hosts", name], capture_output=True, text=True, check=True).stdout)


def fleet_down(name):
    subprocess.run([FLEET, "down", name], check=False)


def fleet_pid(name, k):
    return subprocess.run([FLEET, "pid", name, str(k)], capture_output=True, text=True, check=True).stdout.strip()


def playbook(inventory, play, *extra):
    """ansible-playbook with this checkout's collection; returns its output, asserting success."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH="%s:%s/deps" % (COLLECTIONS, COLLECTIONS))
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory),
                          str(play)] + list(extra), capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    return out.stdout
