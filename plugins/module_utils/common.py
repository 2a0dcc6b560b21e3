# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module does around its own logic: errors to fail_json, in one place."""

from __future__ import annotations

from ansible_collections.cnm.fabric.plugins.module_utils.errors import CnmError

STATE_DIR_SPEC = dict(type="path", default="/var/lib/cnm")


def run_module(module, body):
    """Call ``body(module)`` -> result dict; report typed errors with the option at fault."""
    try:
        result = body(module)
    except CnmError as e:
        _fail(module, e)
    module.exit_json(**result)


def diff(module, before, after):
    return {"diff": {"before": before, "after": after}} if module._diff else {}


def _fail(module, error):
    extra = {"option": error.option} if error.option else {}
    module.fail_json(msg=str(error), **extra)
