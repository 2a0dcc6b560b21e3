# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel layer's own logic, with netlink and setns(2) stood in for: no root."""

from __future__ import annotations

import errno
import socket
import struct

import pytest

from ansible_collections.cnm.fabric.plugins.module_utils import kernel, plan
from ansible_collections.cnm.fabric.plugins.module_utils.kernel import messages, shaping, sockets
from ansible_collections.cnm.fabric.plugins.module_utils.errors import CnmError, KernelError, NamespaceLost


class Libc(object):
    """setns(2) that enters and then fails to come back."""

    def __init__(self):
        self.calls = 0

    def setns(self, fd, kind):
        self.calls += 1
        return 0 if self.calls == 1 else -1


def test_a_failed_return_from_a_sandbox_stops_the_run_without_undo(monkeypatch, tmp_path):
    monkeypatch.setattr(sockets, "_LIBC", [Libc()])
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


class FakeNetlink(object):
    """A socket that answers each dump with the next of ``answers``: the flags of one RTM_NEWADDR
    reply each, then NLMSG_DONE; or an errno, as the kernel's NACK of the request."""

    def __init__(self, answers):
        self.answers, self.seq = list(answers), None

    def setsockopt(self, *args):
        pass

    def bind(self, address):
        pass

    def send(self, data):
        self.seq = struct.unpack_from("IHHI", data)[3]

    def recv(self, size):
        answer = self.answers.pop(0)
        if isinstance(answer, int):  # nlmsgerr: the negative errno and the request (an address dump's)
            return struct.pack("IHHIIi", 44, 2, 0, self.seq, 0, -answer) + struct.pack("IHHII", 24, 22, 0x301, self.seq, 0) \
                + bytes(8)
        out = b"".join(struct.pack("IHHII", 24, 20, flags | 2, self.seq, 0) + bytes(8) for flags in answer)
        return out + struct.pack("IHHIIi", 20, 3, 2, self.seq, 0, 0)


def _dumping(answers):
    return sockets.Socket(FakeNetlink(answers))


def test_a_dump_the_kernel_marks_interrupted_is_taken_again():
    replies = _dumping([[0, sockets.NLM_F_DUMP_INTR], [0, 0]]).dump(lambda: messages.family_msg(sockets.ifaddrmsg), 22)
    assert [r["header"]["type"] for r in replies] == [20, 20], "the second dump, whole"
    with pytest.raises(OSError) as e:
        _dumping([[sockets.NLM_F_DUMP_INTR]] * sockets.DUMP_RETRIES).dump(lambda: messages.family_msg(sockets.ifaddrmsg), 22)
    assert e.value.errno == errno.EINTR


def test_a_dump_the_kernel_refuses_raises_its_error():
    with pytest.raises(sockets.NetlinkError) as e:
        _dumping([errno.ENOENT]).dump(lambda: messages.family_msg(sockets.ifaddrmsg), 22)
    assert e.value.code == errno.ENOENT


class AckingNetlink(FakeNetlink):
    """A socket that acks each request of a write with the next code of ``codes`` (0, or the errno
    of a NACK, which echoes the request as the kernel does), the acks in writes of two."""

    def __init__(self, codes):
        super().__init__([])
        self.codes, self.acks = list(codes), []

    def send(self, data):
        offset = 0
        while offset < len(data):
            length, seq = struct.unpack_from("I", data, offset)[0], struct.unpack_from("I", data, offset + 8)[0]
            code = self.codes.pop(0)
            echo = bytes(data[offset:offset + length]) if code else bytes(data[offset:offset + 16])
            self.acks.append(struct.pack("IHHIIi", 20 + len(echo), 2, 0, seq, 0, -code) + echo)
            offset += length

    def recv(self, size):
        out, self.acks = b"".join(self.acks[:2]), self.acks[2:]
        return out


def _addresses(count):
    return [(messages.addr(7, "10.0.0.%d" % i, 24), sockets.RTM_NEWADDR, 0) for i in range(count)]


def test_a_batch_reads_every_ack_and_raises_the_first_error_not_ignored():
    nl = AckingNetlink([0, errno.ENODEV, errno.EEXIST, 0])
    with pytest.raises(sockets.NetlinkError) as e:
        sockets.Socket(nl).batch(_addresses(4), ignore=(errno.ENODEV,))
    assert e.value.code == errno.EEXIST and nl.acks == [], "every ack read, none left for the next request"
    with pytest.raises(sockets.NetlinkError) as e:
        sockets.Socket(AckingNetlink([errno.ENODEV, errno.EEXIST])).batch(_addresses(2), ignore=(errno.ENODEV, errno.EEXIST))
    assert e.value.code == errno.ENODEV, "all ignored: the first, which the caller ignores"
    assert sockets.Socket(AckingNetlink([0, 0, 0])).batch(_addresses(3)) == []


def test_a_request_encoded_once_is_the_same_bytes_with_other_indexes():
    def encoded(msg):
        msg["header"].update(type=24, flags=5, sequence_number=9, pid=0)
        msg.encode()
        return bytes(msg.data)
    make = sockets.encoder(lambda oif: messages._route("10.0.0.1", oif, False, "10.9.0.0/16", 2, 5, 100), 1)
    for oif in (3, 1 << 20):
        assert encoded(make(oif)) == encoded(messages._route("10.0.0.1", oif, False, "10.9.0.0/16", 2, 5, 100))

    qdisc, redirect = shaping._redirect_requests()
    assert all(isinstance(m, sockets.Encoded) for m in (make(3), qdisc(3), redirect(3, 4))), "copies, not built whole"
    to = 1 << 16
    match_all = sockets.tc_plugins["u32"].get_parameters({
        "keys": ["0x0/0x0+0"], "target": 0x10001,
        "action": [{"kind": "mirred", "direction": "egress", "action": "redirect", "ifindex": to}]})
    for index in (5, 70000):
        assert encoded(redirect(index, to)) == encoded(shaping._tc(
            index, shaping.INGRESS_HANDLE, kind="u32", options=match_all, info=(1 << 16) | socket.htons(shaping.ETH_P_ALL))), \
            "two indexes, the second inside the mirred action"
        assert encoded(qdisc(index)) == encoded(shaping._tc(index, shaping.TC_H_INGRESS, shaping.INGRESS_HANDLE, "ingress"))

    def whole(oif):  # the index not in the request
        return messages._route("10.0.0.1", None, False, None, 2, None, 254)
    assert sockets.encoder(whole, 1) is whole, "an index that does not stand out: built whole each time"


def test_error_text_adds_the_kernels_reason_once():
    assert sockets.error_text(sockets.NetlinkError(17, "A VXLAN device with the specified VNI already exists")) \
        == "File exists: A VXLAN device with the specified VNI already exists"
    assert sockets.error_text(sockets.NetlinkError(17)) == "File exists"
    assert sockets.error_text(OSError(errno.ENODEV, "No such device")) == "No such device"


class Sender(object):
    """What a Batch sends through: each write recorded, links known by name."""

    def __init__(self):
        self.writes, self.resolved = [], []
        self.indexes = {"v1": 11, "v2": 12, "b1": 21}

    def _do(self, ns, what, requests, ignore=()):
        self.writes.append(what)

    def resolve(self, names):
        self.resolved.append(sorted(names))

    def _must(self, name):
        return self.indexes[name]


def test_shaping_waits_for_the_end_and_an_undone_link_is_never_made():
    sender = Sender()
    batch = kernel.batch.Batch(sender)
    for i in (1, 2):
        batch.make("b%d" % i, "creating ifb b%d" % i, (messages.ifinfo(), sockets.RTM_NEWLINK, 0))
        batch.hold_named("redirecting v%d to b%d" % (i, i), ("v%d" % i, "b%d" % i),
                         lambda idx: [(messages.ifinfo(idx[0]), sockets.RTM_NEWLINK, 0)])
    batch.send()
    assert sender.writes == [], "only the end of a run's changes sends shaping"
    assert batch.unmake("b2") and not batch.unmake("b2") and batch.making == {"b1"}
    batch.send(final=True)
    assert sender.writes == ["creating ifb b1", "redirecting v1 to b1"] and sender.resolved == [["b1", "v1"]]
