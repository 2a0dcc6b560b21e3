# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel layer's own logic, with netlink and setns(2) stood in for: no root."""

from __future__ import annotations

import errno

import pytest

from ansible_collections.cnm.fabric.plugins.module_utils import kernel, plan
from ansible_collections.cnm.fabric.plugins.module_utils.errors import CnmError, KernelError, NamespaceLost


class Libc(object):
    """setns(2) that enters and then fails to come back."""

    def __init__(self):
        self.calls = 0

    def setns(self, fd, kind):
        self.calls += 1
        return 0 if self.calls == 1 else -1


def test_a_failed_return_from_a_sandbox_stops_the_run_without_undo(monkeypatch, tmp_path):
    monkeypatch.setattr(kernel, "_LIBC", [Libc()])
    sandbox = tmp_path / "sandbox"
    sandbox.write_text("")
    k = kernel.Kernel()
    undone = []
    monkeypatch.setattr(k, "link_del", lambda *args: undone.append(args), raising=False)
    monkeypatch.setattr(k, "bridge_add", lambda *args: None, raising=False)
    changes = [plan.change("make br", "bridge_add", "br", 1500, undo=("link_del", ("br",))),
               plan.change("look into the sandbox", "view", str(sandbox))]
    try:
        with pytest.raises(NamespaceLost) as e:
            plan.apply(k, changes)
    finally:
        k.close()
    assert "cannot return to the host's network namespace" in str(e.value)
    assert undone == [], "an undo would have run in the sandbox"


def test_apply_undoes_creations_and_reports_an_undo_that_fails():
    class K(object):
        def flush(self, final=False):
            pass

        def bridge_add(self, name):
            pass

        def veth_add(self, name):
            pass

        def addr_add(self, name):
            raise OSError(errno.EEXIST, "File exists")

        def link_del(self, name):
            if name == "v":
                raise KernelError("v is busy")

    changes = [plan.change("make b", "bridge_add", "b", undo=("link_del", ("b",))),
               plan.change("make v", "veth_add", "v", undo=("link_del", ("v",))),
               plan.change("address v", "addr_add", "v")]
    with pytest.raises(CnmError) as e:
        plan.apply(K(), changes)
    assert str(e.value) == "address v failed: [Errno 17] File exists; undoing what this run had made also " \
                           "failed for: make v (v is busy)"
    assert isinstance(e.value.__cause__, OSError), "the original error is chained"


def test_a_dump_the_kernel_marks_interrupted_is_taken_again():
    sock = kernel._Socket.__new__(kernel._Socket)
    replies = [[{"header": {"flags": kernel.NLM_F_DUMP_INTR}}], [{"header": {"flags": 0}, "n": 2}]]
    sock.request = lambda msg, msg_type, flags: replies.pop(0)
    assert sock.dump(dict, 18) == [{"header": {"flags": 0}, "n": 2}]
    sock.request = lambda msg, msg_type, flags: [{"header": {"flags": kernel.NLM_F_DUMP_INTR}}]
    with pytest.raises(OSError) as e:
        sock.dump(dict, 18)
    assert e.value.errno == errno.EINTR


def test_error_text_adds_the_kernels_reason_once():
    assert kernel.error_text(kernel.NetlinkError(17, "A VXLAN device with the specified VNI already exists")) \
        == "File exists: A VXLAN device with the specified VNI already exists"
    assert kernel.error_text(kernel.NetlinkError(17)) == "File exists"
    assert kernel.error_text(OSError(errno.ENODEV, "No such device")) == "No such device"
