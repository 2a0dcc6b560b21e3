# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a run's kernel operations leave for later, and when it goes: the ``Batch``.

Some work is cheaper sent together than one request at a time: the links to delete (one
RTM_DELLINK for a whole link group waits for one RCU grace period, not one per link), the
forwarding and neighbour entries of many peers, the IPsec commands (one ``ip xfrm`` process),
the first requests to a sandbox this run made (lo up, a new link's settings, its addresses and
routes: one write), and the owner's alias on the host links the run made (the kernel ignores an
alias in the request that makes a link). The kernel's operations hand such work to the batch;
an operation that needs it done first (``kernel.base.immediate``) sends it, one that reaches into
sandboxes other than through their sockets (``kernel.base.reaching``: a sysctl, a CNI plugin) sends
what is kept for new sandboxes too, and the end of a run's changes (``send(final=True)``) sends the
rest. Endpoints' bandwidth waits for that end: its
ifb devices are made together, then its token buckets and redirects, which name links by their
indexes, go after one dump of the host's links. No caller knows which operations defer.
"""

from __future__ import annotations

import errno
import random
from typing import Any, Callable, Dict, List, Set, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils import xfrm
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.messages import GET_TYPES, ifinfo
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.sockets import RTM_DELLINK, RTM_NEWLINK, Key, Request

HELD_BATCH = 200  # requests per write (their acks well inside the socket's buffer)


class Batch(object):
    """The deferred work of one Kernel (``kernel``: what sends it, through ``_do``)."""

    def __init__(self, kernel: Any) -> None:
        self._kernel = kernel
        self.group = 0x40000000 | random.getrandbits(24)  # the link group of the links to delete
        self._doomed: Dict[Key, List[Request]] = {}  # by namespace, the requests that put its links in that group
        self._held: List[Tuple[str, Request]] = []  # requests to the host's neighbour tables
        self._marks: List[str] = []  # host links made by this run, to mark as the owner's
        # Sandbox -> ([what], [request]) for its next batch: a sandbox this run made is set up by one write.
        self._setup: Dict[Key, Tuple[List[str], List[Request]]] = {}
        self._xfrm: List[str] = []  # ip xfrm commands
        # The shaping of endpoints, sent at the end of a run's changes: the host links it makes (ifbs),
        # then its requests, which name links (made in this run, or made again) whose indexes one dump reads.
        self._made: List[Tuple[str, str, Request]] = []  # (name, what, request)
        self.making: Set[str] = set()  # the names of those links
        self._named: List[Tuple[str, Tuple[str, ...], Callable[[Tuple[int, ...]], List[Request]]]] = []
        self.xfrm_changed = False  # ip xfrm commands ran since the last read of the tables

    # -- what is deferred -----------------------------------------------------------

    def doom(self, ns: Key, index: int) -> None:
        """Link ``index`` of ``ns`` is to go with the others of the group: it is put in it with them,
        in a few writes, then the group is deleted."""
        self._doomed.setdefault(ns, []).append((ifinfo(index, attrs=[("IFLA_GROUP", self.group)]), RTM_NEWLINK, 0))

    def hold(self, what: str, request: Request) -> None:
        """A request to the host that may wait and go with others: to its neighbour tables (the entries
        of many peers are thousands)."""
        self._held.append((what, request))

    def make(self, name: str, what: str, request: Request) -> None:
        """A host link to make with the shaping requests (an ifb): nothing else of the run needs it first."""
        self._made.append((name, what, request))
        self.making.add(name)

    def hold_named(self, what: str, names: Tuple[str, ...], build: Callable[[Tuple[int, ...]], List[Request]]) -> None:
        """Requests to the host's qdiscs and filters, built by ``build`` from the indexes of host links
        ``names`` once the links this batch makes exist."""
        self._named.append((what, names, build))

    def unmake(self, name: str) -> bool:
        """Take back the host link ``name`` the batch was to make (an undo), and the requests naming it;
        whether it was one."""
        if name not in self.making:
            return False
        self.making.discard(name)
        self._made = [made for made in self._made if made[0] != name]
        self._named = [entry for entry in self._named if name not in entry[1]]
        return True

    def send_shaping(self) -> None:
        """Make the links held for shaping, then hold its requests, built with their links' indexes."""
        made, self._made = self._made, []
        for start in range(0, len(made), HELD_BATCH):
            part = made[start:start + HELD_BATCH]
            self._kernel._do(None, "; ".join(what for _name, what, _request in part), [request for _n, _w, request in part])
        self.making.clear()
        named, self._named = self._named, []
        if named:
            self._kernel.resolve(set(name for _what, names, _build in named for name in names))
        for what, names, build in named:
            self._held.extend((what, request) for request in build(tuple(self._kernel._must(n) for n in names)))

    def mark(self, ifname: str) -> None:
        """A host link this run made, to mark as the owner's (its alias)."""
        self._marks.append(ifname)

    def xfrm(self, command: str) -> None:
        self._xfrm.append(command)

    def new_sandbox(self, ns: Key, what: str, requests: List[Request]) -> None:
        """A sandbox this run made: its first requests wait for the next one sent there."""
        self._setup[ns] = ([what], list(requests))

    def keep(self, ns: Key, what: str, requests: List[Request]) -> None:
        """Requests to a sandbox this run made, kept for its next batch; sent now to any other."""
        if ns in self._setup:
            self._setup[ns][0].append(what)
            self._setup[ns][1].extend(requests)
        else:
            self._kernel._do(ns, what, requests)

    def join(self, ns: Key, what: str, requests: List[Request], ignore: Tuple[int, ...]) -> Tuple[str, List[Request]]:
        """What to send to ``ns`` now: ``requests`` after those kept for the sandbox, in one write
        when all must succeed; a read, or a request whose failure may be ignored, goes alone, after
        the kept ones are sent."""
        if ns not in self._setup:
            return what, requests
        if ignore or any(msg_type in GET_TYPES for _msg, msg_type, _flags in requests):
            self.send_setup(ns)
            return what, requests
        whats, kept = self._setup.pop(ns)
        return "; ".join(whats + [what]), kept + list(requests)

    def send_setup(self, ns: Key) -> None:
        if ns in self._setup:
            whats, kept = self._setup.pop(ns)
            self._kernel._do(ns, "; ".join(whats), kept)

    def forget(self, ns: Key) -> None:
        """Sandbox ``ns`` is gone: nothing is sent there any more."""
        self._setup.pop(ns, None)
        self._doomed.pop(ns, None)

    # -- sending ----------------------------------------------------------------------

    def send(self, final: bool = False, setups: bool = False) -> None:
        """Run the IPsec commands, send the held requests in batches, then delete the links of the
        group; ``final`` (the end of a run's changes): first what is kept for new sandboxes (also
        with ``setups``), and last the shaping (after the deletions: an ifb made again finds the old
        one gone) and the owner's marks."""
        kernel = self._kernel
        if final or setups:
            for ns in list(self._setup):
                self.send_setup(ns)
        commands, self._xfrm = self._xfrm, []
        if commands:
            self.xfrm_changed = True
            xfrm.apply(commands)
        self._send_held()
        doomed, self._doomed = self._doomed, {}
        for ns, grouping in sorted(doomed.items(), key=lambda item: str(item[0])):
            if not kernel.netns_exists(ns):
                continue
            # ENODEV: gone already (with its peer, or with the namespace of its peer); the kernel
            # still runs the rest of the write.
            for start in range(0, len(grouping), HELD_BATCH):
                kernel._do(ns, "marking links for deletion", grouping[start:start + HELD_BATCH], ignore=(errno.ENODEV,))
            kernel._do(ns, "deleting links", [(ifinfo(0, attrs=[("IFLA_GROUP", self.group)]), RTM_DELLINK, 0)],
                       ignore=(errno.ENODEV,))
        if final:
            self.send_shaping()
            self._send_held()
            marks, self._marks = self._marks, []
            for start in range(0, len(marks), HELD_BATCH):
                chunk = marks[start:start + HELD_BATCH]
                # ENODEV: a link made and removed again in this run (the kernel still runs the rest).
                kernel._do(None, "marking %s as made for this state_dir" % ", ".join(chunk),
                           [(ifinfo(0, attrs=[("IFLA_IFNAME", name), ("IFLA_IFALIAS", kernel.owner)]), RTM_NEWLINK, 0)
                            for name in chunk], ignore=(errno.ENODEV,))

    def _send_held(self) -> None:
        held, self._held = self._held, []
        for start in range(0, len(held), HELD_BATCH):
            part = held[start:start + HELD_BATCH]
            what = part[0][0] if len(part) == 1 else "%s and %d more" % (part[0][0], len(part) - 1)
            self._kernel._do(None, what, [request for _what, request in part])
