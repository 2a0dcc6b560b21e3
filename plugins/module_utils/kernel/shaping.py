# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Traffic shaping on the host's links, as the CNI bandwidth plugin does it: a token bucket
(tbf) as a link's root qdisc shapes what leaves by it; what comes in by a link is redirected
(an ingress qdisc, a u32 filter that matches all, a mirred action) to an ifb device, whose own
token bucket shapes it before the ifb hands it back to the stack. pyroute2's tc plugins encode
the requests; the host's qdiscs are read from the replies' buffer (messages.read_qdiscs)."""

from __future__ import annotations

import copy
import errno
import functools
import socket
from typing import Any, Callable, Dict, List, Optional, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils.kernel.base import KernelBase, immediate
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.messages import TC_H_INGRESS, TC_H_ROOT, Bucket, \
    ifinfo, linkinfo, read_qdiscs
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.sockets import (
    NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, RTM_DELQDISC, RTM_NEWLINK, RTM_NEWQDISC, RTM_NEWTFILTER, Request,
    encoder, tc_plugins, tcmsg)

INGRESS_HANDLE = 0xFFFF0000
ETH_P_ALL = 0x0003
LATENCY_US = 25000  # how long a packet may wait in a bucket's queue (the CNI plugin's 25 ms)


@functools.lru_cache(maxsize=None)  # the endpoints of a bulk call mostly share their rates
def _tbf_attrs(rate: int, burst: int) -> Tuple[Tuple[str, Any], ...]:
    """The options of a token bucket of ``rate`` (bits/s) and ``burst`` (bytes), as pyroute2's tbf
    plugin makes them, less the rate table it would compute (256 transmission times, which a tbf
    of the kernels supported here does not read: it computes them itself)."""
    options = tc_plugins["tbf"].get_parameters({"rate": rate // 8, "burst": burst, "latency": LATENCY_US})
    return tuple(attr for attr in options["attrs"] if attr[0] != "TCA_TBF_RTAB")


@functools.lru_cache(maxsize=None)
def _bucket_request(rate: int, burst: int) -> Callable[[int], Any]:
    """The request that makes that token bucket the root qdisc of a link, by the link's index."""
    return encoder(lambda index: _tc(index, TC_H_ROOT, kind="tbf", options={
        "attrs": copy.deepcopy(list(_tbf_attrs(rate, burst)))}), 1)  # a copy of its own, which encoding changes


@functools.lru_cache(maxsize=None)
def _redirect_requests() -> Tuple[Callable[[int], Any], Callable[[int, int], Any]]:
    """The requests of a redirect, by the links' indexes: an ingress qdisc, and a u32 filter in it
    that matches all and redirects it to another link."""
    def match_all(to: int) -> Any:
        return tc_plugins["u32"].get_parameters({
            "keys": ["0x0/0x0+0"], "target": 0x10001,
            "action": [{"kind": "mirred", "direction": "egress", "action": "redirect", "ifindex": to}]})
    return (encoder(lambda index: _tc(index, TC_H_INGRESS, INGRESS_HANDLE, "ingress"), 1),
            encoder(lambda index, to: _tc(index, INGRESS_HANDLE, kind="u32", options=match_all(to),
                                          info=(1 << 16) | socket.htons(ETH_P_ALL)), 2))


def bucket(rate: int, burst: int) -> Bucket:
    """The token bucket of ``rate`` (bits/s) and ``burst`` (bytes), as the kernel keeps and returns it."""
    parms = _tbf_attrs(rate, burst)[0][1]
    return parms["rate"], parms["buffer"], parms["limit"]


def _tc(index: int, parent: int, handle: int = 0, kind: Optional[str] = None, options: Any = None,
        info: int = 0) -> Any:
    msg = tcmsg()
    msg["index"], msg["parent"], msg["handle"], msg["info"] = index, parent, handle, info
    msg["attrs"] = ([("TCA_KIND", kind)] if kind else []) + ([("TCA_OPTIONS", options)] if options else [])
    return msg


class Shaping(KernelBase):
    def qdiscs(self) -> Dict[Tuple[int, str], Tuple[Optional[str], Optional[Bucket]]]:
        """The host's qdiscs at the root and at ingress of each link (messages.read_qdiscs), from
        one dump per run."""
        if self._qdiscs is None:
            self._qdiscs = read_qdiscs(self.nl(None))
        return self._qdiscs

    def ifb_add(self, name: str) -> None:
        """An ifb device on the host, up, made by the batch with the shaping that uses it."""
        self.batch.make(name, "creating ifb %s" % name, (ifinfo(up=True, attrs=[("IFLA_IFNAME", name), linkinfo("ifb")]),
                                                         RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL))
        if self.owner:
            self.batch.mark(name)

    def bucket_set(self, name: str, rate: int, burst: int) -> None:
        """A token bucket of ``rate`` (bits/s) and ``burst`` (bytes) as the root qdisc of host link
        ``name``, in place of the one there was (held by the batch, to go with others)."""
        self.batch.hold_named("shaping %s" % name, (name,), lambda idx: [
            (_bucket_request(rate, burst)(idx[0]), RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE)])

    @immediate
    def qdisc_del(self, name: str, where: str = "root") -> None:
        """The root (the kernel's default comes back) or ingress qdisc of host link ``name``, with its filters."""
        idx = self.index(name)
        if idx is not None:
            parent = TC_H_ROOT if where == "root" else TC_H_INGRESS
            self._do(None, "removing the %s qdisc of %s" % (where, name), [(_tc(idx, parent), RTM_DELQDISC, 0)],
                     ignore=(errno.ENOENT, errno.EINVAL))

    def redirect_set(self, name: str, target: str, again: bool = False) -> None:
        """Redirect all that comes in by host link ``name`` to link ``target`` (an ifb): an ingress
        qdisc with one u32 filter that matches all (held by the batch); ``again``: in place of the
        ingress qdisc there is, which goes first."""
        if again:
            self.qdisc_del(name, "ingress")
        self.batch.hold_named("redirecting %s to %s" % (name, target), (name, target), _redirect)


def _redirect(indexes: Tuple[int, ...]) -> List[Request]:
    """An ingress qdisc on link ``indexes[0]`` and a u32 filter that redirects all to ``indexes[1]``."""
    qdisc, redirect = _redirect_requests()
    return [(qdisc(indexes[0]), RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL),
            (redirect(*indexes), RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL)]
