# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the unit tests of plans share."""

from __future__ import annotations


def ops(changes, keywords=True):
    """Changes as tuples a test compares: (Kernel method, *arguments[, *keyword values])."""
    return [(c.op,) + c.args + (tuple(kv[1] for kv in c.kwargs) if keywords else ()) for c in changes]
