# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Integration harness: every test gets throwaway hosts (tests/hosts.py), removed afterwards,
pass or fail.
"""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

import helpers  # pylint: disable=import-error
from hosts import Host  # pylint: disable=import-error

if os.geteuid() != 0:
    pytest.skip("integration tests need root", allow_module_level=True)


@pytest.fixture
def host(tmp_path):
    h = Host("cnmt%s" % uuid.uuid4().hex[:6], str(tmp_path / "state"))
    try:
        yield h
    finally:
        h.cleanup()


@pytest.fixture
def make_host(tmp_path):
    """A factory of more hosts for one test (a fleet), each cleaned up like ``host``."""
    made = []
    tag = uuid.uuid4().hex[:5]

    def make(name):
        (tmp_path / name).mkdir()
        made.append(Host("cnm%s%s" % (name, tag), str(tmp_path / name / "state")))
        return made[-1]

    try:
        yield make
    finally:
        for h in made:
            h.cleanup()


@pytest.fixture
def pair(make_host):
    """Two hosts on one underlay link (helpers.UNDERLAY); h1 finds its underlay by its default route."""
    hosts = dict((n, make_host(n)) for n in helpers.UNDERLAY)
    h1, h2 = hosts["h1"], hosts["h2"]
    subprocess.run(["ip", "link", "add", "ul0", "netns", h1.ns, "type", "veth", "peer", "name", "ul0",
                    "netns", h2.ns], check=True)
    for name, h in hosts.items():
        h.sh(["ip", "addr", "add", helpers.UNDERLAY[name] + "/24", "dev", "ul0"])
        h.sh(["ip", "link", "set", "ul0", "up"])
    h1.sh(["ip", "route", "add", "default", "via", helpers.UNDERLAY["h2"]])
    return h1, h2


@pytest.fixture
def fleet():
    """A factory of namespace fleets (tests/tools/fleet.sh): ``fleet(count)`` returns the fleet's
    name and its hosts as inventory host vars; every fleet is removed afterwards, pass or fail."""
    made = []

    def make(count):
        made.append("cnmf%s" % uuid.uuid4().hex[:6])
        return made[-1], helpers.fleet_up(made[-1], count)

    try:
        yield make
    finally:
        for name in made:
            helpers.fleet_down(name)
