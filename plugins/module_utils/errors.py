# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed errors of the driver core; modules turn them into fail_json in one place."""

from __future__ import annotations

from typing import Optional


class CnmError(Exception):
    """Base error: ``option`` names the module option at fault, when there is one."""

    def __init__(self, msg: str, option: Optional[str] = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.option = option

    def __str__(self) -> str:
        if self.option:
            return "%s: %s" % (self.option, self.msg)
        return self.msg


class SpecError(CnmError):
    """Bad input, found before anything is changed."""


class IpamError(CnmError):
    """An allocation that cannot be made (overlap, exhausted, owned by another)."""


class StoreError(CnmError):
    """The state directory cannot be read or written."""


class KernelError(CnmError):
    """A netlink or nftables operation failed."""


class NamespaceLost(KernelError):
    """This thread could not return to the host's network namespace: nothing more may be
    done in this process, not even an undo, since it would act on the wrong namespace."""


class CnmWarning(UserWarning):
    """Something the user should know that did not stop the run; modules report it as an Ansible warning."""
