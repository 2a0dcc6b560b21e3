# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change records: what a driver wants done, in order, each with its undo.

Drivers return Changes without running anything; ``apply`` runs them against a
Kernel and, if one fails, undoes the ones already done (newest first) so that a
failed run leaves nothing half-made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from ansible_collections.cnm.fabric.plugins.module_utils.errors import CnmError


@dataclass(frozen=True)
class Change:
    text: str                                  # what a user reads in the result
    op: str                                    # a Kernel method name
    args: Tuple = ()
    kwargs: Tuple[Tuple[str, object], ...] = ()
    undo: Optional[Tuple[str, Tuple]] = None   # (Kernel method, args)


# Operations that may run before links marked by link_del_batch are really deleted.
BATCHABLE = ("link_del_batch", "netns_del")


def change(text, op, *args, **kwargs):
    """Shorthand: ``change("create x", "bridge_add", "x", 1500, undo=("link_del", ("x",)))``."""
    undo = kwargs.pop("undo", None)
    return Change(text, op, tuple(args), tuple(sorted(kwargs.items())), undo)


def apply(kernel, changes):
    done = []
    current = None
    try:
        for current in changes:
            if current.op not in BATCHABLE:
                kernel.flush()
            getattr(kernel, current.op)(*current.args, **dict(current.kwargs))
            done.append(current)
        kernel.flush()
    except Exception as e:
        for c in reversed(done):
            if c.undo is not None:
                try:
                    getattr(kernel, c.undo[0])(*c.undo[1])
                except Exception:  # pylint: disable=broad-except
                    pass  # best effort: the original error is the one to report
        if isinstance(e, CnmError):
            raise
        raise CnmError("%s failed: %s" % (current.text, e))


def texts(changes):
    return [c.text for c in changes]
