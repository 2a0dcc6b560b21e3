# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every part of the kernel layer shares: a socket per namespace, the views read once per
run, the link indexes, and the request path (``_do``), with the run's ``Batch``."""

from __future__ import annotations

import collections
import ctypes
import errno
import functools
import gc
import os
import pickle
import socket
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple, TypeVar

from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError, NamespaceLost
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.batch import Batch
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.messages import dump_request, ifinfo, link_dump, link_of, read_namespace
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.sockets import (
    CLONE_NEWNET, HAS_PYROUTE2, RTM_GETLINK, Key, NetlinkError, Request, Socket, check, error_code, error_text, libc,
    netns_path)
from ansible_collections.cnm.fabric.plugins.module_utils.model import NsView

MAX_SOCKETS = 256  # open netlink sockets, well under the usual limit of 1024 descriptors
PREFETCH_MIN = 32  # sandboxes per reader process, at the least, for prefetch to fork one
FEW = 8  # unknown link indexes that one lookup each costs less than a dump of the host's links

F = TypeVar("F", bound=Callable[..., Any])


def _after_batch(setups: bool) -> Callable[[F], F]:
    """A decorator of kernel operations that send what the batch holds before they act (``setups``:
    what it keeps for the sandboxes this run made too)."""
    def decorate(operation: F) -> F:
        @functools.wraps(operation)
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            self.batch.send(setups=setups)
            return operation(self, *args, **kwargs)
        return run  # type: ignore[return-value]
    return decorate


# A kernel operation that acts at once, after the work the batch holds: a link made after one of
# that name was marked for deletion must find it gone.
immediate = _after_batch(False)
# An immediate operation that reaches into sandboxes other than through their sockets (a sysctl,
# a CNI plugin): what the batch keeps for the sandboxes this run made goes first too.
reaching = _after_batch(True)


class KernelBase(object):
    """Netlink sockets per namespace, opened on first use and closed by ``close``."""

    def __init__(self, owner: Optional[str] = None) -> None:
        """``owner``: the alias of the host links it makes (names.owner_tag of the state_dir)."""
        if not HAS_PYROUTE2:
            raise KernelError("the Python library pyroute2 is required on the managed host")
        self.owner = owner
        self.batch = Batch(self)
        self._socks: collections.OrderedDict = collections.OrderedDict()
        self._views: Dict[Key, NsView] = {}
        self._index: Dict[Key, Dict[str, int]] = {}
        self._home: Optional[int] = None
        self._exists: Dict[Key, bool] = {}
        # Namespaces this run created -> the next free link index there: veth_add names the
        # index of each peer it moves in (any other way of adding a link there must drop the entry).
        self._fresh: Dict[Key, int] = {}
        self._tables: Dict[Key, Set[int]] = {}  # routing tables a namespace's view holds beside main
        # What operations learned for the records, by endpoint key: the fields to set (cni_add's).
        self.learned: Dict[str, Dict[str, Any]] = {}
        self._qdiscs: Optional[Dict[Tuple[int, str], Tuple[Optional[str], Optional[Tuple[int, int, int]]]]] = None  # the host's

    def read_tables(self, ns: Key, tables: Iterable[int]) -> None:
        """Have the view of ``ns``, when it is read, hold the routes of ``tables`` too (after it is
        read, ``routes_in`` reads them apart)."""
        self._tables.setdefault(ns, set()).update(tables)

    # -- sockets ------------------------------------------------------------------------

    def _home_fd(self) -> int:
        if self._home is None:
            self._home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        return self._home

    def _enter(self, path: str) -> None:
        """Switch this thread into the namespace at ``path``; ``_leave`` comes back."""
        self._home_fd()
        fd = os.open(path, os.O_RDONLY)
        try:
            check(libc().setns(fd, CLONE_NEWNET), "setns")
        finally:
            os.close(fd)

    def _leave(self) -> None:
        # Coming back must not fail silently: the thread would go on in the sandbox.
        if libc().setns(self._home, CLONE_NEWNET) != 0:
            raise NamespaceLost("cannot return to the host's network namespace (%s); the run stopped "
                                "there, before anything more was done" % os.strerror(ctypes.get_errno()))

    def netlink_socket(self, ns: Key) -> socket.socket:
        """A plain rtnetlink socket of namespace ``ns``: a socket belongs to the namespace it is made in."""
        if ns is None:
            return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE)
        self._enter(netns_path(ns))
        try:
            return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE)
        finally:
            self._leave()

    def nl(self, ns: Key = None) -> Socket:
        if ns in self._socks:
            self._socks.move_to_end(ns)
        else:
            if len(self._socks) >= MAX_SOCKETS:  # a bulk run visits many namespaces: keep a few open
                oldest = next(k for k in self._socks if k is not None)
                self._socks.pop(oldest).close()
            try:
                self._socks[ns] = Socket(self.netlink_socket(ns))
            except OSError as e:
                raise KernelError("cannot enter the network namespace %s: %s" % (ns, e), "sandbox")
        return self._socks[ns]

    def _drop_socket(self, ns: Key) -> None:
        nl = self._socks.pop(ns, None)
        if nl is not None:
            nl.close()

    def close(self) -> None:
        for nl in self._socks.values():
            nl.close()
        self._socks.clear()
        if self._home is not None:
            os.close(self._home)
            self._home = None

    def netns_exists(self, ns: Key) -> bool:
        """A named sandbox exists once its file is a mount point (a run killed between
        creating the file and mounting the namespace on it leaves a plain file)."""
        if ns is None:
            return True
        if ns not in self._exists:
            path = netns_path(ns)
            self._exists[ns] = os.path.ismount(path) if not ns.startswith("/") else os.path.exists(path)
        return self._exists[ns]

    # -- views ----------------------------------------------------------------------------

    def view(self, ns: Key = None) -> Optional[NsView]:
        """The namespace as it was when first observed in this run (None if it does not exist)."""
        if ns not in self._views:
            self.batch.send_setup(ns)
            if not self.netns_exists(ns):
                return None
            try:
                view = read_namespace(self.nl(ns), self._tables.get(ns, ()))
            except (OSError, NetlinkError) as e:
                raise KernelError("cannot read the network namespace %s: %s" % (ns or "of the host", error_text(e)),
                                  "sandbox" if ns else None)
            self._keep(ns, view)
        return self._views[ns]

    def host_view(self) -> NsView:
        """The host's namespace as first observed in this run (it always exists)."""
        view = self.view(None)
        if view is None:
            raise KernelError("the host's network namespace cannot be read")
        return view

    def _keep(self, ns: Key, view: NsView) -> None:
        self._views[ns] = view
        self._index[ns] = dict((lk.name, lk.index) for lk in view.links.values())

    def prefetch(self, keys: Iterable[Key]) -> None:
        """Read many namespaces at once, before ``view`` asks for them one by one.

        Decoding replies is CPU-bound Python, so the sandboxes are shared out among forked
        reader processes, one per CPU, while this process reads the host. A sandbox a reader
        could not read is left to ``view``, which reports the error where it is needed.
        """
        todo = sorted(set(k for k in keys if k and k not in self._views and self.netns_exists(k)))
        workers = min(os.cpu_count() or 1, len(todo) // PREFETCH_MIN)
        if workers < 2:
            return
        readers = [self._fork_reader(todo[i::workers]) for i in range(workers)]
        self.view(None)
        for pid, fd in readers:
            with os.fdopen(fd, "rb") as f:
                data = f.read()
            os.waitpid(pid, 0)
            try:
                views = pickle.loads(data)
            except Exception:  # a reader that died early: view() reads its share
                continue
            for key, view in views.items():
                self._keep(key, view)

    def _fork_reader(self, keys: List[str]) -> Tuple[int, int]:
        """Fork a process that reads the namespaces ``keys`` and sends back {key: NsView}
        (pickled) through a pipe; return (pid, the pipe's read end)."""
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid:
            os.close(wfd)
            return pid, rfd
        # The reader: its own sockets (the parent's are left untouched), and
        # os._exit, so nothing of the parent's (open sockets, the module's temp files) is
        # closed or cleaned up from here.
        status = 1
        try:
            os.close(rfd)
            gc.disable()  # a short life: its garbage goes with it
            views = {}
            for key in keys:
                try:
                    with self.netlink_socket(key) as sock:
                        views[key] = read_namespace(Socket(sock), self._tables.get(key, ()))
                except Exception:
                    pass
            with os.fdopen(wfd, "wb") as f:
                pickle.dump(views, f, pickle.HIGHEST_PROTOCOL)
            status = 0
        finally:
            os._exit(status)

    # -- requests -------------------------------------------------------------------------

    def _do(self, ns: Key, what: str, requests: List[Request], ignore: Tuple[int, ...] = ()) -> Optional[List[Any]]:
        """Send ``[(msg, type, flags)]`` to namespace ``ns``: one request, or one batch of
        several (after the requests the batch keeps for the sandbox, in the same write when
        these are changes that must all succeed). Errors become KernelError, except the codes in
        ``ignore`` (the ones that mean the work is already done)."""
        what, requests = self.batch.join(ns, what, requests, ignore)
        try:
            nl = self.nl(ns)
            if len(requests) == 1:
                msg, msg_type, flags = requests[0]
                return nl.request(msg, msg_type, flags)
            return nl.batch(requests, ignore)
        except (OSError, NetlinkError) as e:
            if error_code(e) in ignore:
                return None
            raise KernelError("%s in %s failed: %s" % (what, "the host" if ns is None else "sandbox %s" % ns,
                                                       error_text(e)))

    def index(self, name: str, ns: Key = None) -> Optional[int]:
        """A link's index, from the cache or one RTM_GETLINK; None when it does not exist."""
        known = self._index.setdefault(ns, {})
        if name not in known:
            reply = self._do(ns, "looking up %s" % name,
                             [(ifinfo(attrs=[("IFLA_IFNAME", name)]), RTM_GETLINK, 0)], ignore=(errno.ENODEV,))
            if not reply:
                return None
            known[name] = reply[0]["index"]
        return known[name]

    def resolve(self, names: Iterable[str]) -> None:
        """Learn the indexes of host links ``names``: from one dump of the host's links when more than
        a few are unknown (those of a bulk run's new links), else one lookup each, as ``index`` does."""
        known = self._index.setdefault(None, {})
        if len(set(names) - set(known)) > FEW:
            known.update((link.name, link.index) for link in map(link_of, self.nl(None).dump(dump_request(link_dump), RTM_GETLINK)))

    def _must(self, name: str, ns: Key = None) -> int:
        idx = self.index(name, ns)
        if idx is None:
            raise KernelError("link %s not found in %s" % (name, ns or "the host"))
        return idx

    def flush(self, final: bool = False) -> None:
        """Send what the batch holds (``final``: the end of a run's changes, so all of it)."""
        self.batch.send(final)
