# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sandboxes: named network namespaces made and removed in-process as ``ip netns`` does (pyroute2's
``netns.create`` forks a child), and the checks of a namespace given by path."""

from __future__ import annotations

import ctypes
import errno
import os
from typing import Optional, Set

from ansible_collections.cnm.fabric.plugins.module_utils.errors import KernelError
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.base import KernelBase, immediate
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.messages import ifinfo
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.sockets import (
    CLONE_NEWNET, NETNS_DIR, RTM_NEWLINK, check, libc, netns_path, stat_or_none)

MS_REC, MS_BIND, MS_SHARED, MNT_DETACH = 16384, 4096, 1 << 20, 2


class Namespaces(KernelBase):
    _busy: Optional[Set[int]] = None  # inodes of the namespaces processes live in
    _host_ns: Optional[Set[tuple]] = None  # (device, inode) of the host's network namespaces: this run's and init's

    def netns_problem(self, ns: str) -> Optional[str]:
        """Why ``ns`` cannot be a sandbox (None: it can, or it is yet to be made): a name whose
        /run/netns entry is a symbolic link (mounting on it would cover the link's target), or a
        namespace that is the host's own, this run's or init's (an endpoint there would take the
        host's links and default route)."""
        path = netns_path(ns)
        if not ns.startswith("/") and os.path.islink(path):
            return "%s is a symbolic link, not a namespace the collection made or can make; remove it" % path
        try:
            st = os.stat(path)
        except OSError:
            return None
        if self._host_ns is None:
            self._host_ns = {(s.st_dev, s.st_ino) for s in (os.fstat(self._home_fd()), stat_or_none("/proc/1/ns/net")) if s}
        if (st.st_dev, st.st_ino) in self._host_ns:
            return ("%s is the host's own network namespace; an endpoint needs a sandbox of its own "
                    "(a container's namespace, such as /proc/PID/ns/net, or a named sandbox)" % ns)
        return None

    def netns_half_made(self, ns: str) -> bool:
        """Whether a named sandbox is only the plain file a killed ``netns_add`` left."""
        return not ns.startswith("/") and not self.netns_exists(ns) and os.path.lexists(netns_path(ns))

    def netns_busy(self, ns: str) -> bool:
        """Whether a process lives in sandbox ``ns`` (one scan of /proc per run)."""
        if self._busy is None:
            self._busy = set()
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        self._busy.add(os.stat("/proc/%s/ns/net" % pid).st_ino)
                    except OSError:
                        pass
        try:
            return os.stat(netns_path(ns)).st_ino in self._busy
        except OSError:
            return False

    @immediate
    def netns_add(self, ns: str) -> None:
        """Make /run/netns/NAME as ``ip netns add`` does, without a helper process."""
        if ns.startswith("/"):
            raise KernelError("%s does not exist and only named sandboxes are created" % ns,
                              "sandbox_path")
        path = netns_path(ns)
        lib = libc()
        try:
            os.makedirs(NETNS_DIR, mode=0o755, exist_ok=True)
            # Like iproute2: a shared mount point, so sandboxes show in other mount namespaces.
            if lib.mount(b"", NETNS_DIR.encode(), b"none", MS_SHARED | MS_REC, None) != 0:
                check(lib.mount(NETNS_DIR.encode(), NETNS_DIR.encode(), b"none", MS_BIND | MS_REC, None),
                      "bind " + NETNS_DIR)
                check(lib.mount(b"", NETNS_DIR.encode(), b"none", MS_SHARED | MS_REC, None),
                      "share " + NETNS_DIR)
            try:
                os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444))
            except FileExistsError:
                if os.path.islink(path):  # the mount would cover the link's target
                    raise KernelError("cannot create sandbox %s: %s is a symbolic link" % (ns, path), "sandbox")
                if os.path.ismount(path):
                    self._exists[ns] = True
                    return
            self._home_fd()
            check(lib.unshare(CLONE_NEWNET), "unshare")
            try:
                check(lib.mount(b"/proc/thread-self/ns/net", path.encode(), b"none", MS_BIND, None),
                      "bind " + path)
            finally:
                self._leave()
        except OSError as e:
            raise KernelError("cannot create sandbox %s: %s" % (ns, e), "sandbox")
        self._exists[ns] = True
        # A new namespace holds only lo, always ifindex 1: this run knows every index in it
        # from here on, so it assigns the indexes of the links it adds (no lookups).
        self._index[ns] = {"lo": 1}
        self._fresh[ns] = 2
        self.batch.new_sandbox(ns, "setting lo up", [(ifinfo(1, up=True), RTM_NEWLINK, 0)])

    @immediate
    def netns_del(self, ns: str) -> None:
        """Remove sandbox ``ns``, after the links the batch holds for deletion (which the kernel's
        cleanup of the namespace would otherwise hold up)."""
        self._fresh.pop(ns, None)
        self.batch.forget(ns)
        self._drop_socket(ns)
        self._index.pop(ns, None)
        self._exists[ns] = False
        path = netns_path(ns).encode()
        if libc().umount2(path, MNT_DETACH) != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
            raise KernelError("cannot unmount sandbox %s: %s" % (ns, os.strerror(ctypes.get_errno())), "sandbox")
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise KernelError("cannot remove sandbox %s: %s" % (ns, e), "sandbox")
