# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module does around its own logic: errors to fail_json, in one place."""

from __future__ import annotations

import gc
import traceback
import warnings
from typing import Any, Callable, Dict, Optional, Protocol, Sequence, Tuple

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.cnm.fabric.plugins.module_utils.errors import CnmError, CnmWarning

try:
    import netaddr  # noqa: F401 pylint: disable=unused-import
    NETADDR_IMPORT_ERROR = None
except ImportError:
    NETADDR_IMPORT_ERROR = traceback.format_exc()

STATE_DIR_SPEC = dict(type="path", default="/var/lib/cnm")


class ModuleLike(Protocol):
    """What a module's body reads of its module: an AnsibleModule, or calls.Params for an item of cnm_host."""
    params: Dict[str, Any]
    check_mode: bool
    _diff: bool


def missing_libraries(needs: Sequence[str]) -> Optional[Tuple[str, str]]:
    """(library, traceback) of the first of ``needs`` that does not import on this host."""
    from ansible_collections.cnm.fabric.plugins.module_utils.kernel import PYROUTE2_IMPORT_ERROR
    errors = {"pyroute2": PYROUTE2_IMPORT_ERROR, "netaddr": NETADDR_IMPORT_ERROR}
    return next(((lib, str(errors[lib])) for lib in needs if errors[lib]), None)


def run_module(module: AnsibleModule, body: Callable[[AnsibleModule], Dict[str, Any]],
               needs: Sequence[str] = ("pyroute2", "netaddr")) -> None:
    """Call ``body(module)`` -> result dict; report typed errors with the option at fault.

    ``needs``: the Python libraries the module uses on the managed host."""
    missing = missing_libraries(needs)
    if missing:
        module.fail_json(msg=missing_required_lib(missing[0], url="https://pypi.org/project/%s/" % missing[0]),
                         exception=missing[1])
    # No cyclic garbage collection: a run is short, and what it would collect (pyroute2's
    # messages are reference cycles, many thousands in a large dump) goes when it ends.
    # Collecting as it ran cost a third of a no-op run over 1000 endpoints.
    gc.disable()
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always", CnmWarning)
        try:
            result = body(module)
        except CnmError as e:
            _warn(module, said)
            _fail(module, e)
    _warn(module, said)
    module.exit_json(**result)


def _warn(module: AnsibleModule, said: Sequence[warnings.WarningMessage]) -> None:
    for item in said:
        if issubclass(item.category, CnmWarning):
            module.warn(str(item.message))


def diff(module: ModuleLike, before: Any, after: Any) -> Dict[str, Any]:
    return {"diff": {"before": before, "after": after}} if module._diff else {}


def _fail(module: AnsibleModule, error: CnmError) -> None:
    extra = {"option": error.option} if error.option else {}
    module.fail_json(msg=str(error), **extra)
