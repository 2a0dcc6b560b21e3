# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The transport: one plain rtnetlink socket per namespace, its requests, batches and dumps.

The only importer of pyroute2, and the one place that knows its versions: the two it supports
(0.7 of Debian 12, and 0.8 and later) differ here only in where their names are. pyroute2's message
classes encode the requests and its error class decodes the kernel's NACKs; every other reply is
read from the buffer (``Reply``). The socket is a plain one, written
and read here (``Socket``): a request or a batch is one write, read up to the ack of its last
message. pyroute2's sockets cost a third of a millisecond a request beyond that (their request
bookkeeping, on 0.8 and later an asyncio event loop turned per call), more than the kernel's own
work for most of the requests sent here. What pyroute2 does not provide for a namespace, entering
it (setns) and its paths, is here too.
"""

from __future__ import annotations

import ctypes
import errno
import os
import random
import importlib
import importlib.util
import socket
import struct
import sys
import traceback
from typing import Any, Callable, Iterable, Iterator, List, Optional, Tuple

Key = Optional[str]  # a sandbox key: None for the host, a name in /run/netns, or a path
Request = Tuple[Any, int, int]  # a netlink request: (message, type, flags)

# What the other parts of the layer take from pyroute2, through here.
PYROUTE2_NAMES = ("NLM_F_ACK", "NLM_F_APPEND", "NLM_F_CREATE", "NLM_F_DUMP_INTR", "NLM_F_EXCL", "NLM_F_REPLACE",
                  "RTM_DELADDR", "RTM_DELLINK", "RTM_DELNEIGH", "RTM_DELROUTE", "RTM_GETADDR", "RTM_GETLINK",
                  "RTM_GETNEIGH", "RTM_GETROUTE", "RTM_NEWADDR", "RTM_NEWLINK", "RTM_NEWNEIGH", "RTM_NEWROUTE",
                  "RTM_SETLINK", "RTM_NEWQDISC", "RTM_DELQDISC", "RTM_GETQDISC", "RTM_NEWTFILTER",
                  "ifaddrmsg", "ifinfmsg", "ndmsg", "nlmsg", "rtmsg", "tcmsg", "tc_plugins")
__all__ = PYROUTE2_NAMES + ("HAS_PYROUTE2", "PYROUTE2_IMPORT_ERROR", "NetlinkError", "Socket", "prepare",
                            "netns_path", "error_code", "error_text", "libc", "check", "stat_or_none", "NETNS_DIR",
                            "CLONE_NEWNET", "DUMP_RETRIES", "Key", "Request", "encoder", "conntrack")

# pyroute2's package ``__init__`` imports every part of the library (IPDB, NDB, WireGuard and the rest):
# 0.05 to 0.09 s at every module's start, which the parts used here do without. They are imported
# under the bare package (``__init__`` not run), or, where one of them needs it, the usual way.
PARTS = ("pyroute2.netlink.exceptions", "pyroute2.netlink.rtnl.ifaddrmsg", "pyroute2.netlink.rtnl.ifinfmsg",
         "pyroute2.netlink.rtnl.ndmsg", "pyroute2.netlink.rtnl.rtmsg", "pyroute2.netlink.rtnl.tcmsg")


def _import_parts(package: str, parts: Iterable[str]) -> None:
    """Import ``parts`` of ``package`` under the package bare, when nothing of it is imported yet;
    where that fails, leave no module of it behind (a plain import follows)."""
    if any(m == package or m.startswith(package + ".") for m in sys.modules):
        return
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return
    sys.modules[package] = importlib.util.module_from_spec(spec)
    try:
        for part in parts:
            importlib.import_module(part)
    except ImportError:
        for module in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[module]


try:
    _import_parts("pyroute2", PARTS)
    from pyroute2.netlink import (NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP, NLM_F_DUMP_INTR,
                                  NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, nlmsg, nlmsgerr)
    from pyroute2.netlink.exceptions import NetlinkError
    from pyroute2.netlink.rtnl import (RTM_DELADDR, RTM_DELLINK, RTM_DELNEIGH, RTM_DELROUTE, RTM_GETADDR,
                                       RTM_GETLINK, RTM_GETNEIGH, RTM_GETROUTE, RTM_NEWADDR, RTM_NEWLINK,
                                       RTM_NEWNEIGH, RTM_NEWROUTE, RTM_SETLINK, RTM_NEWQDISC, RTM_DELQDISC,
                                       RTM_GETQDISC, RTM_NEWTFILTER)
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
    from pyroute2.netlink.rtnl.ndmsg import ndmsg
    from pyroute2.netlink.rtnl.rtmsg import rtmsg
    from pyroute2.netlink.rtnl.tcmsg import tcmsg, plugins as tc_plugins
    HAS_PYROUTE2 = True
    PYROUTE2_IMPORT_ERROR = None
except ImportError:
    HAS_PYROUTE2 = False
    PYROUTE2_IMPORT_ERROR = traceback.format_exc()
    # The layer still imports, so that a module can say what is missing (common.run_module).
    globals().update(dict.fromkeys(PYROUTE2_NAMES))

    class NetlinkError(Exception):  # type: ignore[no-redef]
        code = 0


NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
SOL_NETLINK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK = 270, 11, 12
DUMP_RETRIES = 5   # a dump the kernel marks interrupted (NLM_F_DUMP_INTR) is taken again
DUMP_READ = 1 << 17  # bytes per read of a dump: more than the kernel puts in one reply
RCVBUF = 1 << 20  # bytes of a socket's receive buffer
SO_RCVBUFFORCE = 33  # asm-generic/socket.h, not in Python's socket module: a size past net.core.rmem_max, for root
_LIBC: list = []


def conntrack(family: int) -> Any:
    """pyroute2's conntrack socket for the entries of ``family``, imported when a run first needs it
    (a twentieth of a second at a module's start otherwise)."""
    try:
        from pyroute2.conntrack import Conntrack
    except ImportError as e:
        raise OSError(errno.ENOSYS, "pyroute2's conntrack cannot be imported: %s" % e)
    return Conntrack(nfgen_family=family)


def netns_path(key: str) -> str:
    return key if key.startswith("/") else os.path.join(NETNS_DIR, key)


def stat_or_none(path: str) -> Optional[os.stat_result]:
    """os.stat of ``path``, or None where it cannot be read (init's namespace, in a container)."""
    try:
        return os.stat(path)
    except OSError:
        return None


def libc() -> Any:
    if not _LIBC:
        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    return _LIBC[0]


def check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


def error_code(error: BaseException) -> Optional[int]:
    return getattr(error, "code", None) or getattr(error, "errno", None)


def error_text(error: BaseException) -> str:
    """An OSError or NetlinkError as a user reads it: the kernel's extended ACK, when it gave
    one, after the errno's own text ("File exists: ...")."""
    code = error_code(error)
    base = os.strerror(code) if code else str(error)
    args: tuple = getattr(error, "args", ())
    reason = args[1] if len(args) > 1 and isinstance(args[1], str) else None
    return "%s: %s" % (base, reason) if reason and reason != base else base


def prepare(sock: socket.socket) -> None:
    """Settings of every rtnetlink socket here, then its bind."""
    # The kernel's reason for a NACK (extended ACK), which pyroute2 puts in its NetlinkError.
    sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
    # Strict checking: the kernel filters dumps by the request's own fields (routes by
    # table, neighbours by device), so no message is decoded only to be dropped.
    sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
    # Room for the acks of a whole batch (a few hundred bytes of buffer each): past the buffer,
    # the kernel drops them. The forced size is root's; the default size serves others.
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
    except OSError:
        pass
    sock.bind((0, 0))  # the kernel picks the port id


class Reply(dict):
    """A link, address, route, neighbour or qdisc reply, read from the buffer here, not decoded by
    pyroute2: its header's and message's fields by name, and where it lies in ``data``
    (``offset``), where the readers of ``messages`` read the few attributes they need. pyroute2
    makes an object of each attribute of a link (some fifty, the bridge port's and IPv6 settings
    nested) and of each statistic of a qdisc, and takes some 25 µs to frame a message: a host of
    1000 veths took about a second to read, and a VXLAN device of 10,000 remote endpoints has
    20,000 entries."""

    def __init__(self, data: bytes, offset: int, header: Tuple[int, ...], layout: Tuple[Tuple[str, ...], Any]) -> None:
        names, fields = layout
        dict.__init__(self, zip(names, fields.unpack_from(data, offset + NLMSG_HEADER)))
        self["header"] = dict(zip(HEADER_NAMES, header))
        self.data, self.offset = data, offset


HEADER = struct.Struct("=IHHII")  # a netlink message's header, as pyroute2 names its fields
HEADER_NAMES = ("length", "type", "flags", "sequence_number", "pid")
NLMSG_HEADER = HEADER.size


def _layout(fields: Tuple[Tuple[str, str], ...]) -> Tuple[Tuple[str, ...], Any]:
    """The names and the struct of a message's fields, as pyroute2 declares them (padding unnamed)."""
    return (tuple(name for name, fmt in fields if not fmt.endswith("x")),
            struct.Struct("=" + "".join(fmt for _name, fmt in fields)))


HEADER_ONLY = _layout(())  # a reply of a kind not read here: its header alone

SENTINELS = (0x7E5E0A01, 0x7E5E0A02, 0x7E5E0A03)  # link indexes far past any a kernel gives, to find them in a request


def encoder(build: Callable[..., Any], count: int) -> Callable[..., Any]:
    """Requests ``build(*indexes)`` that differ only by ``count`` link indexes, encoded once by
    pyroute2 and copied with the indexes written in: pyroute2 takes about a millisecond to encode
    a tc request with its nested options, the same for each of a bulk call's endpoints. Where an
    index does not stand out once in the encoding (never seen), each request is built whole."""
    template = build(*SENTINELS[:count])
    template.encode()
    body = bytes(template.data[NLMSG_HEADER:])
    marks = [struct.pack("=I", sentinel) for sentinel in SENTINELS[:count]]
    if any(body.count(mark) != 1 for mark in marks):
        return build
    offsets = [body.find(mark) for mark in marks]

    def make(*indexes: int) -> Any:
        data = bytearray(body)
        for at, index in zip(offsets, indexes):
            struct.pack_into("=I", data, at, index)
        return Encoded(bytes(data))
    return make


def _frames(buf: bytes) -> Iterator[Tuple[Tuple[int, ...], int]]:
    """(header fields, offset) of each message in ``buf``."""
    offset = 0
    while offset <= len(buf) - NLMSG_HEADER:
        header = HEADER.unpack_from(buf, offset)
        yield header, offset
        offset += (header[0] + 3) & ~3 or len(buf)


def _code(buf: bytes, offset: int, header: Tuple[int, ...]) -> int:
    """The error code an NLMSG_ERROR or NLMSG_DONE message carries (0: none; negative: an errno)."""
    return struct.unpack_from("=i", buf, offset + NLMSG_HEADER)[0] if header[0] >= NLMSG_HEADER + 4 else 0


class _Interrupted(OSError):
    """The kernel marked a dump interrupted (NLM_F_DUMP_INTR: its table changed meanwhile)."""


class Socket(object):
    """One rtnetlink socket of one namespace (``sock``, made in it), with a sequence space of its
    own. A NACK is raised as pyroute2 raises it (NetlinkError, with the kernel's extended ACK); a
    dump still interrupted after DUMP_RETRIES tries as OSError EINTR. The reader processes
    (``KernelBase.prefetch``) dump on one each too."""

    def __init__(self, sock: Any) -> None:
        prepare(sock)
        self._sock, self._seq = sock, random.getrandbits(30) | 1 << 30

    def _next(self) -> int:
        self._seq = (self._seq + 1) & 0x7FFFFFFF
        return self._seq

    def request(self, msg: Any, msg_type: int, flags: int) -> List[Any]:
        """Send one request; its replies."""
        return self._send([(msg, msg_type, flags)], ())

    def batch(self, requests: Iterable[Request], ignore: Tuple[int, ...] = ()) -> List[Any]:
        """Send ``[(msg, type, flags)]`` in one write; the kernel runs them in order, each whatever
        became of the ones before, and acks each; their replies."""
        return self._send(list(requests), ignore)

    def _send(self, requests: List[Request], ignore: Tuple[int, ...]) -> List[Any]:
        """The replies to ``requests``, read up to the ack of each. On a NACK, the first error
        whose code is not in ``ignore`` is raised (else the first error), once every ack is read."""
        data, pending = bytearray(), set()
        for msg, msg_type, flags in requests:
            msg.reset()
            msg["header"].update(type=msg_type, flags=NLM_F_REQUEST | NLM_F_ACK | flags, sequence_number=self._next())
            msg.encode()
            data += msg.data
            pending.add(self._seq)
        self._sock.send(data)
        replies: List[Any] = []
        errors: List[BaseException] = []
        while pending:
            buf = self._sock.recv(DUMP_READ)
            for header, offset in _frames(buf):
                if header[3] not in pending:
                    continue
                if header[1] != NLMSG_ERROR:
                    replies.append(self._reply(buf, offset, header))
                    continue
                pending.discard(header[3])
                if _code(buf, offset, header):
                    errors.append(self._error(buf, offset, header))
        if errors:
            raise next((e for e in errors if error_code(e) not in ignore), errors[0])
        return replies

    @staticmethod
    def _reply(buf: bytes, offset: int, header: Tuple[int, ...]) -> Reply:
        """The reply at ``offset``, with the fields of its kind (of another kind, its header alone)."""
        return Reply(buf, offset, header, LAYOUTS.get(header[1], HEADER_ONLY))

    @staticmethod
    def _error(buf: bytes, offset: int, header: Tuple[int, ...]) -> BaseException:
        """The error of the NACK at ``offset``, with the kernel's extended ACK as its message, as
        pyroute2 raises it."""
        msg = nlmsgerr(buf[offset:offset + header[0]])
        msg.decode()
        code = abs(_code(buf, offset, header))
        return (OSError if code == errno.ENOBUFS else NetlinkError)(code, msg.get_attr("NLMSGERR_ATTR_MSG"))

    def dump(self, make: Callable[[], Any], msg_type: int) -> List[Any]:
        """A dump of the messages ``make()`` asks for, taken again while the kernel marks it
        interrupted (NLM_F_DUMP_INTR: its table changed meanwhile)."""
        for _attempt in range(DUMP_RETRIES):
            try:
                return self._dump_once(make(), msg_type)
            except _Interrupted:
                continue
        raise OSError(errno.EINTR, "the dump was interrupted by changes %d times" % DUMP_RETRIES)

    def _dump_once(self, msg: Any, msg_type: int) -> List[Any]:
        """The replies of one dump; _Interrupted when the kernel marks it so, after reading it whole."""
        msg["header"].update(type=msg_type, flags=NLM_F_REQUEST | NLM_F_DUMP, sequence_number=self._next())
        msg.encode()
        self._sock.send(msg.data)
        out: list = []
        interrupted = False
        while True:
            buf = self._sock.recv(DUMP_READ)
            for header, offset in _frames(buf):
                if header[3] != self._seq:
                    continue
                if header[1] in (NLMSG_ERROR, NLMSG_DONE) and _code(buf, offset, header):
                    raise self._error(buf, offset, header)
                interrupted = interrupted or bool(header[2] & NLM_F_DUMP_INTR)
                if header[1] == NLMSG_DONE:
                    if interrupted:
                        raise _Interrupted(errno.EINTR, "the dump was interrupted")
                    return out
                out.append(self._reply(buf, offset, header))

    def close(self) -> None:
        self._sock.close()


if HAS_PYROUTE2:
    LAYOUTS = dict((kind, _layout(msg.fields)) for kind, msg in (
        (RTM_NEWLINK, ifinfmsg), (RTM_NEWADDR, ifaddrmsg), (RTM_NEWROUTE, rtmsg), (RTM_NEWNEIGH, ndmsg), (RTM_NEWQDISC, tcmsg)))

    class Encoded(nlmsg):
        """A request whose body (all that follows the netlink header) is encoded already: pyroute2
        sets its header's fields and ``encode`` packs them before the body (``encoder``)."""

        def __init__(self, body: bytes) -> None:
            nlmsg.__init__(self)
            self.body = body

        def encode(self) -> None:
            header = self["header"]
            self.data = bytearray(struct.pack("=IHHII", NLMSG_HEADER + len(self.body), header["type"], header["flags"],
                                              header["sequence_number"], header.get("pid", 0))) + self.body
            self.length = len(self.data)
