# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPsec security associations and policies (XFRM), through iproute2's ``ip xfrm``.

pyroute2 has no xfrm. Its requests are fixed-layout C structures (selector, lifetimes,
templates) that pyroute2 does not describe, so the choice was between encoding them
here, a private codec of the kind the kernel layer gave up for pyroute2, and iproute2,
which every host has. iproute2 it is, kept to what the numbers allow: two processes read
the two tables once per run (``ip -batch`` prints only the first of several dumps), and
one ``ip -batch`` writes every change of the run. An encrypted
network has a few objects per remote host (not per endpoint), so a run changes tens to
hundreds of them; ``make bench`` times one batch of them against the same batch of
commands written by hand.

Protocols are given by number (17, UDP): ``ip`` looks names up in /etc/protocols, which a
minimal system may lack, and prints the number then. ``ip xfrm state list nokeys`` and
``ip xfrm policy list`` print no JSON; the lines read here (``src A dst B`` and ``proto esp spi 0x.. reqid N`` of a state, the selector, ``dir``
and ``mark`` lines of a policy) have been stable across iproute2 releases.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Dict, Iterable, List, Set, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError
from ansible_collections.cnm.fabric.plugins.module_utils.model import XfrmView

STATE = re.compile(r"^src (\S+) dst (\S+)[^\n]*\n\s+proto esp spi 0x([0-9a-f]+) reqid (\d+)", re.M)
POLICY = re.compile(r"^src (\S+)/32 dst (\S+)/32 proto (?:udp|17) dport (\d+)[^\n]*\n\s+dir out [^\n]*\n"
                    r"\s+mark 0x([0-9a-f]+)/0xffffffff", re.M)
NO_ESP_HINTS = ("algorithm not found", "not supported")


def _ip() -> str:
    path = shutil.which("ip") or next((p for p in ("/usr/sbin/ip", "/sbin/ip", "/bin/ip") if os.path.exists(p)), None)
    if path is None:
        raise KernelError("the ip command (Debian package iproute2) is required on the managed host")
    return path


def batch(commands: Iterable[str], prefix: Tuple[str, ...] = ()) -> Tuple[int, str, str]:
    """Run ``ip -batch -`` with ``commands`` (lines); return (returncode, stdout, stderr)."""
    proc = subprocess.run(list(prefix) + [_ip(), "-batch", "-"], input="".join(c + "\n" for c in commands),
                          capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def read() -> Dict[int, XfrmView]:
    """{tag: XfrmView}: the ESP states by their reqid and the outbound UDP policies by their
    mark (a network's tag, drivers/esp.py, is both)."""
    out = ""
    for table in (["state", "list", "nokeys"], ["policy", "list"]):  # a batch prints only its first dump
        proc = subprocess.run([_ip(), "xfrm"] + table, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise KernelError("ip xfrm %s failed: %s" % (" ".join(table), proc.stderr.strip()))
        out += proc.stdout
    states: Dict[int, Set[Tuple[str, str, int]]] = {}
    policies: Dict[int, Set[Tuple[str, str, int]]] = {}
    for src, dst, spi, reqid in STATE.findall(out):
        states.setdefault(int(reqid), set()).add((src, dst, int(spi, 16)))
    for src, dst, port, mark in POLICY.findall(out):
        policies.setdefault(int(mark, 16), set()).add((src, dst, int(port)))
    return dict((t, XfrmView(frozenset(states.get(t, ())), frozenset(policies.get(t, ()))))
                for t in set(states) | set(policies))


def apply(commands: List[str]) -> None:
    """Run ``commands`` (ip xfrm lines) as one batch, which stops at the first that fails."""
    code, _out, err = batch(commands)
    if code != 0:
        text = " ".join(err.split())
        hint = ""
        if any(h in text for h in NO_ESP_HINTS):
            hint = " (the kernel needs ESP and AES-GCM: modules esp4 and aesni_intel or aes_generic with gcm)"
        raise KernelError("ip xfrm failed: %s%s" % (text, hint))


def esp_missing(probe: str) -> str:
    """Why this kernel cannot make the ESP state ``probe`` (an ``xfrm state add`` line), or ''
    when it can: the state is made in a new network namespace of a short-lived process, so
    nothing of the host's is touched; the kernel loads the modules it needs on the way."""
    code, _out, err = batch([probe], prefix=("unshare", "--net"))
    if code == 0:
        return ""
    return " ".join(err.split()) or "ip xfrm exited with %d" % code
