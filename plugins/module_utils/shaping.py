# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An endpoint's bandwidth: token buckets on its host side (kernel/shaping.py).

What goes into the sandbox leaves the host by the endpoint's host link and is shaped there
(``ingress``); what the sandbox sends comes in by that link, is redirected to an ifb device of
the endpoint's, and is shaped there (``egress``), as the CNI bandwidth plugin does. The buckets
go with the link; the ifb is deleted with the endpoint, or when it no longer shapes what it sends.
"""

from __future__ import annotations

from typing import List, Optional, Set

from ansible_collections.cnm.fabric.plugins.module_utils import drivers, names, plan
from ansible_collections.cnm.fabric.plugins.module_utils.kernel.shaping import bucket
from ansible_collections.cnm.fabric.plugins.module_utils.plan import Change
from ansible_collections.cnm.fabric.plugins.module_utils.records import EndpointRecord
from ansible_collections.cnm.fabric.plugins.module_utils.run import Run
from ansible_collections.cnm.fabric.plugins.module_utils.spec import rate_text, size_text


def ifb_of(record: EndpointRecord) -> Optional[str]:
    """The endpoint's ifb device, when it shapes what its sandbox sends."""
    return names.ifb_name(record["network"], record["name"]) if "egress_rate" in (record.get("bandwidth") or {}) else None


def host_links(record: EndpointRecord) -> Set[str]:
    """The host links an endpoint owns for its shaping."""
    ifb = ifb_of(record)
    return {ifb} if ifb else set()


def changes(run: Run, record: EndpointRecord, old: Optional[EndpointRecord], joined: List[Change]) -> List[Change]:
    """Changes that give the endpoint's host link and ifb their token buckets, after its join's
    changes ``joined`` (a veth made in this run has none yet), and take off those of ``old`` (its
    previous record) that it no longer has. Each is read back from the host's qdiscs."""
    want, had = record.get("bandwidth") or {}, (old.get("bandwidth") if old else None) or {}
    if not want and not had:
        return []
    link, sb, host = sorted(drivers.host_links(record))[0], record["sandbox"], run.kernel.host_view()
    fresh = any(c.op == "veth_add" for c in joined)
    qdiscs = {} if fresh else run.kernel.qdiscs()
    index: int = getattr(host.link(link), "index", 0)  # 0: none (a new link's qdiscs are not read)
    out: List[Change] = []
    if "ingress_rate" in want:
        rate, burst = want["ingress_rate"], want["ingress_burst"]
        if qdiscs.get((index, "root")) != ("tbf", bucket(rate, burst)):
            out.append(plan.change("shape what goes into %s to %s (burst %s) on %s" % (
                sb, rate_text(rate), size_text(burst), link), "bucket_set", link, rate, burst))
    elif "ingress_rate" in had and (index, "root") in qdiscs:
        out.append(plan.change("stop shaping what goes into %s on %s" % (sb, link), "qdisc_del", link))
    ifb = ifb_of(record)
    if ifb:
        rate, burst = want["egress_rate"], want["egress_burst"]
        made = None if fresh else host.link(ifb)
        if fresh and host.link(ifb) is not None:  # made again with the link (moved: the leave deletes it)
            out.append(plan.change("delete ifb %s" % ifb, "link_del", ifb))
        if made is None:
            out.append(plan.change("create ifb %s" % ifb, "ifb_add", ifb, undo=("link_del", (ifb,))))
        if made is None or qdiscs.get((made.index, "root")) != ("tbf", bucket(rate, burst)):
            out.append(plan.change("shape what %s sends to %s (burst %s) on %s" % (
                sb, rate_text(rate), size_text(burst), ifb), "bucket_set", ifb, rate, burst))
        if made is None or (index, "ingress") not in qdiscs:
            out.append(plan.change("redirect what %s sends from %s to %s" % (sb, link, ifb), "redirect_set", link, ifb,
                                   (index, "ingress") in qdiscs))
        return out
    gone = ifb_of(old) if old else None
    if gone and (index, "ingress") in qdiscs:
        out.append(plan.change("stop redirecting what %s sends from %s" % (sb, link), "qdisc_del", link, "ingress"))
    if gone and host.link(gone) is not None:
        out.append(plan.change("delete ifb %s" % gone, "link_del", gone))
    return out
