# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore unit: what a host needs to bring a state_dir back with no controller.

Four kinds of files, all the collection's own:
- the code, under CODE_DIR: this package's modules as the running module has them (so the
  unit runs the very code of the modules that made the records), and a launcher for restore.py;
- a systemd template unit, ``cnm-fabric@.service``, whose instance is a state_dir
  (``cnm-fabric@var-lib-cnm.service``): it restores at boot, after local file systems, the
  network and nftables.service, and before network-online.target;
- the instance's enablement, the link systemctl enable makes in multi-user.target.wants;
- a drop-in for nftables.service that loads the state_dir's tables again each time that
  service loads /etc/nftables.conf (start, restart, reload), whose first line is usually
  ``flush ruleset``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import re
import shutil
import subprocess
import warnings
from typing import Dict, List, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils import restore
from ansible_collections.cnm.fabric.plugins.module_utils.errors import CnmError, CnmWarning, SpecError
from ansible_collections.cnm.fabric.plugins.module_utils.store import atomic_write, read_text

PACKAGE = "ansible_collections.cnm.fabric.plugins.module_utils"
CODE_DIR = "/usr/local/lib/cnm-fabric"
LAUNCHER = "cnm-fabric-restore"
UNIT_DIR = "/etc/systemd/system"
TEMPLATE = "cnm-fabric@.service"
WANTS = "multi-user.target.wants"
DROPIN_DIR = "nftables.service.d"
# Unit files take a path as it is, with no quoting: only these characters may be in one.
SAFE_PATH = re.compile(r"/[A-Za-z0-9_./+-]*")

LAUNCHER_TEXT = """\
# Written by cnm.fabric (cnm.fabric.cnm_restore_unit): makes the kernel hold what a state_dir records.
# Usage: python3 -I %(code)s/%(launcher)s [--firewall] [--check] STATE_DIR
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from %(restore)s import command  # noqa: E402

status, out, err = command(sys.argv[1:])
for line in out:
    print(line)
for line in err:
    print(line, file=sys.stderr)
sys.exit(status)
"""

TEMPLATE_TEXT = """\
# Written by cnm.fabric (cnm.fabric.cnm_restore_unit). The instance is a state_dir, escaped
# as systemd-escape --path does: cnm-fabric@var-lib-cnm.service restores /var/lib/cnm.
[Unit]
Description=cnm.fabric networks of %%f
RequiresMountsFor=%%f %(code)s
After=local-fs.target network.target nftables.service
Before=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=%(python)s -I %(code)s/%(launcher)s %%f
ExecReload=%(python)s -I %(code)s/%(launcher)s --firewall %%f

[Install]
WantedBy=multi-user.target
"""

DROPIN_TEXT = """\
# Written by cnm.fabric (cnm.fabric.cnm_restore_unit): each time nftables.service loads
# /etc/nftables.conf (start, restart, reload), whose first line is usually "flush ruleset",
# the tables of state_dir %(state_dir)s are loaded again.
[Service]
ExecStartPost=-%(python)s -I %(code)s/%(launcher)s --firewall %(state_dir)s
ExecReload=-%(python)s -I %(code)s/%(launcher)s --firewall %(state_dir)s
"""


def escape(path: str) -> str:
    """``systemd-escape --path``: the instance name of a path."""
    path = "/".join(part for part in path.split("/") if part)
    if not path:
        return "-"
    out: List[str] = []
    for i, c in enumerate(path):
        if c == "/":
            out.append("-")
        elif c.isascii() and (c.isalnum() or c in ":_" or (c == "." and i > 0)):
            out.append(c)
        else:
            out.extend("\\x%02x" % b for b in c.encode("utf-8"))
    return "".join(out)


def instance(state_dir: str) -> str:
    return "cnm-fabric@%s.service" % escape(state_dir)


def check_path(path: str, option: str) -> str:
    if not SAFE_PATH.fullmatch(path) or "/../" in path + "/":
        raise SpecError("%r cannot be written in a unit file: give an absolute path of letters, digits and "
                        "_ . / + - only" % path, option)
    return os.path.normpath(path)


def sources() -> Dict[str, str]:
    """{path under CODE_DIR: text} of this package's modules, read from wherever the running
    process imported them (a module's payload, or a checkout)."""
    base = os.path.join(*PACKAGE.split("."))
    package = importlib.import_module(PACKAGE)
    out: Dict[str, str] = {}
    found = [(m.name, m.ispkg) for m in pkgutil.walk_packages(package.__path__, PACKAGE + ".")]
    for name, is_pkg in [(PACKAGE, True)] + found:
        # A module of this very package, from a source loader: the file system's, or AnsiballZ's zip.
        text: str = getattr(getattr(importlib.util.find_spec(name), "loader", None), "get_source")(name)
        tail = name[len(PACKAGE):].lstrip(".").replace(".", "/")
        out[os.path.join(base, tail, "__init__.py") if is_pkg else os.path.join(base, tail + ".py")] = text
    for depth in range(1, 5):  # ansible_collections/, cnm/, fabric/, plugins/: regular packages
        out[os.path.join(*(PACKAGE.split(".")[:depth] + ["__init__.py"]))] = ""
    return out


def wanted_files(state_dir: str, python: str) -> Dict[str, str]:
    """{absolute path: text} of what the unit of ``state_dir`` needs, the code included."""
    # restore is imported here, so a module that installs the unit carries all the code it runs.
    values = dict(python=python, code=CODE_DIR, launcher=LAUNCHER, state_dir=state_dir, restore=restore.__name__)
    out = dict((os.path.join(CODE_DIR, path), text) for path, text in sources().items())
    out[os.path.join(CODE_DIR, LAUNCHER)] = LAUNCHER_TEXT % values
    out[os.path.join(UNIT_DIR, TEMPLATE)] = TEMPLATE_TEXT % values
    out[dropin(state_dir)] = DROPIN_TEXT % values
    return out


def dropin(state_dir: str) -> str:
    return os.path.join(UNIT_DIR, DROPIN_DIR, "cnm-fabric@%s.conf" % escape(state_dir))


def enablement(state_dir: str) -> str:
    return os.path.join(UNIT_DIR, WANTS, instance(state_dir))


def enabled_instances() -> List[str]:
    """The state_dirs' instances enabled on this host."""
    try:
        return sorted(n for n in os.listdir(os.path.join(UNIT_DIR, WANTS)) if n.startswith("cnm-fabric@"))
    except OSError:
        return []


def stale_code(wanted: Dict[str, str]) -> List[str]:
    """Files under CODE_DIR that are ours and no longer wanted (caches aside)."""
    out: List[str] = []
    for top, dirs, files in os.walk(CODE_DIR):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        out.extend(p for p in (os.path.join(top, f) for f in files) if p not in wanted)
    return sorted(out)


def systemd_running() -> bool:
    """Whether systemd is this host's init (sd_booted(3))."""
    return os.path.isdir("/run/systemd/system")


def systemctl(*args: str) -> Tuple[int, str, str]:
    proc = subprocess.run(("systemctl",) + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)
    return proc.returncode, proc.stdout.strip(), proc.stderr.strip()


def status(state_dir: str) -> List[str]:
    """What is wrong with the unit of ``state_dir`` (sentences; empty: it is in place)."""
    problems: List[str] = []
    if read_text(os.path.join(UNIT_DIR, TEMPLATE)) is None or not os.path.isfile(os.path.join(CODE_DIR, LAUNCHER)):
        problems.append("the restore unit is not installed")
    elif not os.path.lexists(enablement(state_dir)):
        problems.append("%s is not enabled" % instance(state_dir))
    elif not os.path.isfile(dropin(state_dir)):
        problems.append("the nftables.service drop-in of %s is missing" % instance(state_dir))
    if not systemd_running():
        problems.append("systemd is not running on this host")
    return problems


def install(state_dir: str, python: str, check_mode: bool) -> List[str]:
    """Put the unit of ``state_dir`` in place; return what was done, as sentences."""
    wanted = wanted_files(state_dir, python)
    done: List[str] = []
    writes = sorted(p for p, text in wanted.items() if read_text(p) != text)
    stale = stale_code(wanted)
    link = enablement(state_dir)
    target = os.path.join(UNIT_DIR, TEMPLATE)
    enable = os.path.realpath(link) != target if os.path.lexists(link) else True
    for path in writes:
        done.append("write %s" % path)
    done.extend("remove %s" % path for path in stale)
    if enable:
        done.append("enable %s" % instance(state_dir))
    if check_mode:
        return done
    for path in writes:
        atomic_write(path, wanted[path], mode=0o644, durable=False)
    for path in stale:
        os.unlink(path)
    if enable:
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(target, link)
    if systemd_running():
        units = [p for p in writes if p.startswith(UNIT_DIR)]
        if units or enable:
            _systemctl_or_fail("daemon-reload")
        if systemctl("is-active", "--quiet", instance(state_dir))[0] != 0:
            done.append("start %s" % instance(state_dir))
            if systemctl("start", instance(state_dir))[0] != 0:
                warnings.warn("%s is enabled, and its first run reported a problem: see journalctl -u %s"
                              % (instance(state_dir), instance(state_dir)), CnmWarning)
    elif enable or writes:
        warnings.warn("systemd is not running on this host (no /run/systemd/system): the unit is in place but "
                      "nothing runs it; have the init system run %s/%s %s at boot" % (CODE_DIR, LAUNCHER, state_dir),
                      CnmWarning)
    return done


def remove(state_dir: str, check_mode: bool) -> List[str]:
    """Take the unit of ``state_dir`` away (and the shared files with the last one)."""
    link, conf = enablement(state_dir), dropin(state_dir)
    gone = [p for p in (link, conf) if os.path.lexists(p)]
    last = not [n for n in enabled_instances() if n != instance(state_dir)]
    if last:
        gone += [p for p in (os.path.join(UNIT_DIR, TEMPLATE), CODE_DIR) if os.path.lexists(p)]
    done = ["remove %s" % p for p in gone]
    if check_mode or not gone:
        return done
    if systemd_running():
        systemctl("stop", instance(state_dir))
    for path in gone:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    try:
        os.rmdir(os.path.dirname(conf))  # the drop-in directory, when no other drop-in is in it
    except OSError:
        pass
    if systemd_running():
        _systemctl_or_fail("daemon-reload")
    return done


def _systemctl_or_fail(*args: str) -> None:
    code, _out, err = systemctl(*args)
    if code != 0:
        raise CnmError("systemctl %s failed: %s" % (" ".join(args), err or "exit status %d" % code))
