# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change records: what a driver wants done, in order, each with an optional undo.

Drivers return Changes without running anything; ``apply`` runs them against a
Kernel. If one fails, ``apply`` runs the undo of every Change already done that has
one, newest first, and raises the failure (chained to the original exception).
Only creations carry an undo (a bridge, veth or VXLAN device made, a sandbox made):
removing what a run made takes with it what was set on it. Changes to what existed
before (an MTU, an address, a route, a removal) are not reverted. An undo that fails
is reported in the error, never swallowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils.errors import CnmError, NamespaceLost


@dataclass(frozen=True)
class Change:
    text: str                                  # what a user reads in the result
    op: str                                    # a Kernel method name
    args: Tuple = ()
    kwargs: Tuple[Tuple[str, object], ...] = ()
    undo: Optional[Tuple[str, Tuple]] = None   # (Kernel method, args)


def change(text: str, op: str, *args: Any, **kwargs: Any) -> Change:
    """Shorthand: ``change("create x", "bridge_add", "x", 1500, undo=("link_del", ("x",)))``."""
    undo = kwargs.pop("undo", None)
    return Change(text, op, tuple(args), tuple(sorted(kwargs.items())), undo)


def apply(kernel: Any, changes: Iterable[Change]) -> None:
    done: List[Change] = []
    current = None
    try:
        for current in changes:
            getattr(kernel, current.op)(*current.args, **dict(current.kwargs))
            done.append(current)
        current = None
        kernel.flush(final=True)
    except NamespaceLost:
        raise  # this thread is in another namespace: an undo would act there
    except Exception as e:
        failed = []
        for c in reversed(done):
            if c.undo is not None:
                try:
                    getattr(kernel, c.undo[0])(*c.undo[1])
                except Exception as undo_error:  # pylint: disable=broad-except
                    failed.append("%s (%s)" % (c.text, undo_error))
        if isinstance(e, CnmError) and not failed:
            raise
        what = current.text if current is not None else "sending what the kernel layer held back"
        msg = e.msg if isinstance(e, CnmError) else "%s failed: %s" % (what, e)
        if failed:
            msg += "; undoing what this run had made also failed for: %s" % "; ".join(failed)
        raise (type(e) if isinstance(e, CnmError) else CnmError)(msg, getattr(e, "option", None)) from e


# The operations that make an endpoint's link: one made (again) in this run has the kernel's defaults.
LINK_MADE = ("veth_add", "link_add")


def texts(changes: Iterable[Change]) -> List[str]:
    return [c.text for c in changes]
