# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel layer: links, addresses, routes, neighbours, traffic shaping and namespaces, over pyroute2.

pyroute2's message classes (ifinfmsg, ifaddrmsg, rtmsg, ndmsg, and tcmsg with its tc plugins) encode every request, and
its error class decodes the kernel's NACKs with their extended ACK; every other reply (links, addresses, routes, neighbours,
qdiscs) is read from the buffer, only the fields and attributes used here (``sockets.Reply``). pyroute2's marshal is not
used: it would import the library's socket module, and with it asyncio and ssl (0.02 s at every start). What stays here is
how pyroute2 is used, which is where the speed is:

- one plain socket per namespace, made in that namespace with setns(2) in this thread (no
  helper process): a request, a batch or a dump is one write, read to its end (``Socket``),
  apart from pyroute2's request machinery, which costs more than the kernel's work on most
  requests sent here;
- one dump per namespace per run for planning (``view``), then link indexes from a
  cache, never a lookup per call;
- many requests sent as one batch where they go together (``link_rename``; in a sandbox
  this run made, lo up and a new link's settings with its addresses and routes), and one
  RTM_DELLINK for a whole link group (the ``Batch``);
- requests that differ only by link indexes (a bulk call's routes and shaping) encoded once and
  copied with each index (``encoder``);
- the neighbour dumps of a VXLAN device filtered by the kernel, not in Python.

The package, part by part:

- ``sockets``: the transport. The only importer of pyroute2 and the one place that knows its
  versions; a socket per namespace, its requests, batches and dumps, setns(2);
- ``messages``: the requests, and the replies read (a namespace's ``NsView``, a device's entries);
- ``batch``: what a run's operations defer, and when it is sent;
- ``base``: what the parts share: the sockets of a run, its views and link indexes, the request path;
- ``namespaces``, ``links``, ``addresses``, ``neighbours``, ``shaping``: the operations on each;
- ``host``: the host's IPsec (``ip xfrm``, xfrm.py), conntrack and sysctls.

What pyroute2 does not provide, written here: making a named namespace in-process
(pyroute2's ``netns.create`` forks a child; ``netns_add`` unshares and bind-mounts as
``ip netns add`` does), entering one for a socket (setns), and sysctls (/proc/sys).
pyroute2 has no xfrm: IPsec goes through ``ip xfrm`` (xfrm.py), as nftables goes
through ``nft`` (firewall.py).

Namespaces are named by a *sandbox key*: ``None`` for the host (the namespace the
module runs in), a bare name for ``/run/netns/NAME``, or an absolute path (such as
``/proc/PID/ns/net``). A namespace is never created unless ``netns_add`` is called.
"""

from __future__ import annotations

from ansible_collections.cnm.fabric.plugins.module_utils.kernel.addresses import Addresses
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.host import HostState
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.links import Links
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.namespaces import Namespaces
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.neighbours import Neighbours
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.shaping import Shaping
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.sockets import HAS_PYROUTE2, PYROUTE2_IMPORT_ERROR, netns_path

__all__ = ("Kernel", "HAS_PYROUTE2", "PYROUTE2_IMPORT_ERROR", "netns_path")


class Kernel(Namespaces, Links, Addresses, Neighbours, Shaping, HostState):
    """A run's view of the kernel and its operations on it (a Change's ``op`` names one of its
    methods). Operations that can wait go through the ``batch``; the others send what it holds
    first, so a plan runs its Changes in order and ends with ``flush(final=True)``."""
