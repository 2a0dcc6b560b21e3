# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The transport: pyroute2's sockets, one per namespace, and the plain socket dumps are read on.

The only importer of pyroute2, and the one place that knows its versions: 0.7 (Debian 12) is
synchronous; 0.8 and later have an asyncio core, whose synchronous wrappers spin an event loop per
call, so ``Socket`` drives the async socket on one event loop kept for the process. What pyroute2
does not provide for a namespace, entering it (setns) and its paths, is here too.
"""

from __future__ import annotations

import ctypes
import errno
import os
import random
import socket
import traceback
from typing import Any, Callable, Iterable, List, Optional, Tuple

Key = Optional[str]  # a sandbox key: None for the host, a name in /run/netns, or a path
Request = Tuple[Any, int, int]  # a netlink request: (message, type, flags)

# What the other parts of the layer take from pyroute2, through here.
PYROUTE2_NAMES = ("NLM_F_ACK", "NLM_F_APPEND", "NLM_F_CREATE", "NLM_F_DUMP_INTR", "NLM_F_EXCL", "NLM_F_REPLACE",
                  "RTM_DELADDR", "RTM_DELLINK", "RTM_DELNEIGH", "RTM_DELROUTE", "RTM_GETADDR", "RTM_GETLINK",
                  "RTM_GETNEIGH", "RTM_GETROUTE", "RTM_NEWADDR", "RTM_NEWLINK", "RTM_NEWNEIGH", "RTM_NEWROUTE",
                  "RTM_SETLINK", "RTM_NEWQDISC", "RTM_DELQDISC", "RTM_GETQDISC", "RTM_NEWTFILTER",
                  "ifaddrmsg", "ifinfmsg", "ndmsg", "nlmsg", "rtmsg", "tcmsg", "tc_plugins", "Conntrack")
__all__ = PYROUTE2_NAMES + ("HAS_PYROUTE2", "PYROUTE2_IMPORT_ERROR", "NetlinkError", "Socket", "Dumper", "prepare",
                            "netns_path", "error_code", "error_text", "libc", "check", "stat_or_none", "NETNS_DIR",
                            "CLONE_NEWNET", "DUMP_RETRIES", "Key", "Request")

try:
    from pyroute2.netlink import (NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP, NLM_F_DUMP_INTR,
                                  NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, NLMSG_DONE, nlmsg)
    from pyroute2.netlink.exceptions import NetlinkError
    from pyroute2.netlink.rtnl import (RTM_DELADDR, RTM_DELLINK, RTM_DELNEIGH, RTM_DELROUTE, RTM_GETADDR,
                                       RTM_GETLINK, RTM_GETNEIGH, RTM_GETROUTE, RTM_NEWADDR, RTM_NEWLINK,
                                       RTM_NEWNEIGH, RTM_NEWROUTE, RTM_SETLINK, RTM_NEWQDISC, RTM_DELQDISC,
                                       RTM_GETQDISC, RTM_NEWTFILTER)
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
    from pyroute2.netlink.rtnl.marshal import MarshalRtnl
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
    from pyroute2.netlink.rtnl.ndmsg import ndmsg
    from pyroute2.netlink.rtnl.rtmsg import rtmsg
    from pyroute2.netlink.rtnl.tcmsg import tcmsg, plugins as tc_plugins
    try:  # pyroute2 0.8 and later: an asyncio core
        from pyroute2.netlink.rtnl.iprsocket import AsyncIPRSocket
        import asyncio
        IPRSocket: Any = None
    except ImportError:  # pyroute2 0.7
        from pyroute2.netlink.rtnl.iprsocket import IPRSocket  # type: ignore[no-redef]  # the other version's name
        AsyncIPRSocket = None
    from pyroute2.conntrack import Conntrack
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
_LIBC: list = []


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


# -- the socket: the one place that knows pyroute2's versions ---------------------------

class Socket(object):
    """One rtnetlink socket of one namespace, driven through pyroute2.

    ``sock`` is a plain AF_NETLINK socket made in the namespace; pyroute2 takes it over.
    """

    _loop: Any = None  # pyroute2 0.8+: one event loop for every socket of the process

    def __init__(self, sock: socket.socket) -> None:
        prepare(sock)
        if AsyncIPRSocket is not None:
            if Socket._loop is None:
                Socket._loop = asyncio.new_event_loop()
            self._nl = AsyncIPRSocket(use_socket=sock, use_event_loop=Socket._loop, groups=0)
            self._run(self._nl.setup_endpoint())
            self._dumper = Dumper(sock)
        else:
            port = sock.getsockname()[0]
            self._dumper = Dumper(sock.dup())  # the same socket, for dumps
            self._nl = IPRSocket(fileno=sock.detach())  # pyroute2 owns the descriptor from here
            self._nl.epid = port
        read_raw(self._nl.marshal)

    def _run(self, coro: Any) -> Any:
        return Socket._loop.run_until_complete(coro)

    def request(self, msg: Any, msg_type: int, flags: int) -> List[Any]:
        """Send one request; return its reply messages. NetlinkError on a NACK."""
        if AsyncIPRSocket is None:
            return list(self._nl.nlm_request(msg, msg_type, NLM_F_REQUEST | flags))

        async def collect() -> List[Any]:
            return [m async for m in await self._nl.nlm_request(msg, msg_type, NLM_F_REQUEST | flags)]
        return self._run(collect())

    def dump(self, make: Callable[[], Any], msg_type: int) -> List[Any]:
        return self._dumper.dump(make, msg_type)

    def batch(self, requests: Iterable[Request]) -> List[Any]:
        """Send ``[(msg, type, flags)]`` in one write; the kernel runs them in order and acks
        each. NetlinkError on the first NACK."""
        msgs = []
        for msg, msg_type, flags in requests:
            msg["header"]["type"] = msg_type
            msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK | flags
            msgs.append(msg)
        if AsyncIPRSocket is None:
            return list(self._nl.nlm_request_batch(msgs))

        async def collect() -> List[Any]:
            return [m async for m in self._nl.nlm_request_batch(msgs)]
        return self._run(collect())

    def close(self) -> None:
        """Close the socket (on 0.8+, its transport does so on the loop's next turn: the next
        request's, or ``settle``'s)."""
        self._nl.close()
        if AsyncIPRSocket is None:
            self._dumper.close()  # its duplicate descriptor (on 0.8+ the one socket is the transport's to close)

    @staticmethod
    def settle() -> None:
        if Socket._loop is not None:
            Socket._loop.run_until_complete(asyncio.sleep(0))


def prepare(sock: socket.socket) -> None:
    """Settings of every rtnetlink socket here, then its bind."""
    # The kernel's reason for a NACK (extended ACK), which pyroute2 puts in its NetlinkError.
    sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
    # Strict checking: the kernel filters dumps by the request's own fields (routes by
    # table, neighbours by device), so no message is decoded only to be dropped.
    sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
    # pyroute2's bind() tries fixed port ids one by one (0.7 re-creates the socket when one
    # is taken, which a socket it was handed cannot survive): the kernel picks the id instead.
    sock.bind((0, 0))


def read_raw(marshal: Any) -> Any:
    """Link, neighbour and qdisc replies framed by pyroute2 and read here from the buffer (``messages.link_of``,
    ``messages.read_neighbours``, ``messages.read_qdiscs``), in a map of this marshal's own (0.7 shares the class's)."""
    marshal.msg_map = dict(marshal.msg_map)
    marshal.msg_map.update({RTM_NEWLINK: LinkMessage, RTM_NEWNEIGH: NeighMessage, RTM_NEWQDISC: QdiscMessage})
    return marshal


class _Interrupted(OSError):
    """The kernel marked a dump interrupted (NLM_F_DUMP_INTR: its table changed meanwhile)."""


class Dumper(object):
    """Dumps over a plain rtnetlink socket, parsed by pyroute2's marshal. A dump is sent and read to
    its end in one go, so it needs none of a pyroute2 socket's request bookkeeping nor, on 0.8+,
    its event loop: those cost about 40 µs a message (a second for the 20,000 entries of a VXLAN
    device of 10,000 remote endpoints) and more than the reading itself in a namespace of two links.
    The reader processes (``prefetch``) use it alone, a ``Socket`` for its dumps, on the socket
    pyroute2 drives for everything else. A NACK is raised as pyroute2 raises it (NetlinkError); a dump
    still interrupted after DUMP_RETRIES tries as OSError EINTR, and a reader leaves that namespace to
    ``view``."""

    def __init__(self, sock: socket.socket) -> None:
        # A sequence space of its own, apart from pyroute2's on a shared socket.
        self._sock, self._seq, self._marshal = sock, random.getrandbits(30) | 1 << 30, read_raw(MarshalRtnl())

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
        self._seq = (self._seq + 1) & 0x7FFFFFFF
        msg["header"].update(type=msg_type, flags=NLM_F_REQUEST | NLM_F_DUMP, sequence_number=self._seq)
        msg.encode()
        self._sock.send(msg.data)
        out: list = []
        interrupted = False
        while True:
            for reply in self._marshal.parse(self._sock.recv(DUMP_READ)):
                header = reply["header"]
                if header["sequence_number"] != self._seq:
                    continue
                if error_code(header.get("error")):
                    raise header["error"]
                interrupted = interrupted or bool(header["flags"] & NLM_F_DUMP_INTR)
                if header["type"] == NLMSG_DONE:
                    if interrupted:
                        raise _Interrupted(errno.EINTR, "the dump was interrupted")
                    return out
                out.append(reply)

    def close(self) -> None:
        self._sock.close()


if HAS_PYROUTE2:
    class LinkMessage(nlmsg):
        """A link reply as pyroute2 frames it (header, ifinfomsg, errors), with its attributes left
        undecoded: ``messages.link_of`` reads the ten it needs from the buffer. pyroute2 makes an object of
        every attribute of a link (some fifty, the bridge port's and IPv6 settings nested), which
        made reading a host of 1000 veths take about a second."""
        fields = ifinfmsg.fields
        nla_map = ()

    class NeighMessage(nlmsg):
        """A neighbour or forwarding entry, framed by pyroute2 and read by ``messages.read_neighbours``: a
        VXLAN device of 10,000 remote endpoints has 20,000 of them."""
        fields = ndmsg.fields
        nla_map = ()

    class QdiscMessage(nlmsg):
        """A qdisc, framed by pyroute2 and read by ``messages.read_qdiscs``: a host of 1000 endpoints has
        a qdisc or three for each, and pyroute2 makes an object of each of their statistics."""
        fields = tcmsg.fields
        nla_map = ()
