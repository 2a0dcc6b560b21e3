# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore unit's files: instance names as systemd makes them, paths a unit file can hold,
and the code it runs complete without Ansible."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess

import pytest

from ansible_collections.cnm.fabric.plugins.module_utils import unit
from ansible_collections.cnm.fabric.plugins.module_utils.errors import SpecError

PATHS = ["/var/lib/cnm", "/var/lib/cnm-b", "/", "/srv//cnm/", "/var/lib/.cnm", "/opt/cnm.d/x_y:z", "/tmp/é"]


@pytest.mark.skipif(not shutil.which("systemd-escape"), reason="no systemd-escape")
@pytest.mark.parametrize("path", PATHS)
def test_instance_names_are_systemd_escape_s(path):
    expected = subprocess.run(["systemd-escape", "--path", path], capture_output=True, text=True,
                              check=True).stdout.strip()
    assert unit.escape(path) == expected


@pytest.mark.parametrize("path", ["/var/lib/cnm x", "/var/lib/%i", "relative", "/a\nb", "/a/../etc", "/a;b", "/a$b",
                                  "/a\\x2d", '/a"b'])
def test_paths_a_unit_file_cannot_hold(path):
    with pytest.raises(SpecError) as e:
        unit.check_path(path, "state_dir")
    assert e.value.option == "state_dir"


def test_the_unit_runs_the_collections_code_and_no_ansible():
    files = unit.wanted_files("/var/lib/cnm", "/usr/bin/python3")
    code = dict((os.path.relpath(p, unit.CODE_DIR), t) for p, t in files.items() if p.startswith(unit.CODE_DIR))
    here = os.path.join(os.path.dirname(__file__), "..", "..", "plugins", "module_utils")
    mine = sorted(os.path.relpath(os.path.join(d, f), here) for d, _subdirs, fs in os.walk(here) for f in fs
                  if f.endswith(".py"))
    prefix = "ansible_collections/cnm/fabric/plugins/module_utils/"
    assert sorted(p[len(prefix):] for p in code if p.startswith(prefix)) == mine
    restore_chain = ("restore.py", "run.py", "endpoints.py", "firewall.py", "sandbox.py") + tuple(
        "kernel/" + f for f in os.listdir(os.path.join(here, "kernel")) if f.endswith(".py"))
    for name in restore_chain:
        tree = ast.parse(code[prefix + name])
        imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [m for m in imported if m and m.startswith("ansible.")], name
    assert files[os.path.join(unit.UNIT_DIR, unit.TEMPLATE)].count("%f") == 4
    assert files[unit.dropin("/var/lib/cnm")].endswith("--firewall /var/lib/cnm\n")
