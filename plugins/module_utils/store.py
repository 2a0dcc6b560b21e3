# -*- coding: utf-8 -*-
# Copyright: cnm.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the collection owns on this host: JSON records under state_dir.

Every module run holds one exclusive flock on ``state_dir/.lock`` from its first
read to its last write, so parallel runs (Ansible forks, two playbooks) see each
other's allocations. Writes are atomic: temp file, fsync, rename, fsync of the dir.

Removals are journaled. Before a run changes the kernel, ``journal.json`` lists the
endpoints and sandboxes it is about to forget; the run deletes it only once their
records, addresses and files are all gone. A run killed in between leaves it behind,
and the next run finishes those removals first (``endpoints.finish_interrupted``).
The records themselves are written in several files, so without the journal a kill
between two of them would leave, say, a sandbox record whose endpoint is gone.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import stat
import tempfile
import warnings
from typing import Any, Dict, List, Literal, Optional, Set

from ansible_collections.cnm.fabric.plugins.module_utils.errors import CnmWarning, StoreError

NETWORKS = "networks"
ENDPOINTS = "endpoints"
SANDBOXES = "sandboxes"
SECRETS = "secrets"  # what the kernel holds and the records must not show: an encrypted overlay's keys
JOURNAL = "journal"
SCHEMA = "schema"  # {"version": N}: the layout of the records (migrate.py); absent, version 1
JOURNALED = (ENDPOINTS, SANDBOXES)  # the record files whose removed keys are journaled
TMP_PREFIX = ".tmp-"  # atomic_write's temporary files: any left is a killed write


def ipam_file(space: str) -> str:
    return "ipam-%s" % space


class Store(object):
    """Records by file name (without .json); ``save`` writes only what changed."""

    def __init__(self, state_dir: str, read_only: bool = False) -> None:
        self.state_dir = state_dir
        self.read_only = read_only
        self._loaded: Dict[str, Any] = {}  # as read (until the final save): what dirty() and rollback() compare with
        self._data: Dict[str, Any] = {}
        self._final: Set[str] = set()  # files whose write-ahead was already their final content
        self._lock_fd: Optional[int] = None
        self._journal: Optional[Dict[str, List[str]]] = None  # the journal on disk: an interrupted run's, then this run's
        self._entry_journal: Optional[Dict[str, List[str]]] = None  # as read when the lock was taken

    def path(self, name: str) -> str:
        return os.path.join(self.state_dir, name + ".json")

    def __enter__(self) -> Store:
        lock = os.path.join(self.state_dir, ".lock")
        try:
            if not self.read_only:
                os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
            if os.path.isdir(self.state_dir):
                self._private()
            if self.read_only and not os.path.exists(lock):
                return self  # nothing recorded yet, and check mode creates nothing
            # O_NOFOLLOW: a link in place of the lock would have the collection create its target.
            self._lock_fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as e:
            if os.path.islink(lock):
                raise StoreError("%s is a symbolic link; the collection's lock must be a file of its own: remove the "
                                 "link" % lock, "state_dir")
            raise StoreError("cannot use %s: %s" % (self.state_dir, e), "state_dir")
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self._journal = self._entry_journal = self._read_journal()
        if not self.read_only:
            remove_stale_tmp(self.state_dir)  # no writer runs while we hold the lock
        return self

    def _private(self) -> None:
        """The records say what the host runs (and the IPAM spaces what a fleet holds): the state
        directory is for root alone. One that others may read or write is made so, with a warning."""
        mode = stat.S_IMODE(os.stat(self.state_dir).st_mode)
        if not mode & 0o077:
            return
        if self.read_only:
            warnings.warn("state_dir %s has mode %04o, open to other users; a run that is not in check mode makes "
                          "it 0700" % (self.state_dir, mode), CnmWarning)
            return
        os.chmod(self.state_dir, 0o700)
        warnings.warn("state_dir %s had mode %04o, open to other users; it was made 0700" % (self.state_dir, mode),
                      CnmWarning)

    def __exit__(self, *exc: Any) -> Literal[False]:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        return False

    def get(self, name: str, empty: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """The records of one file, loaded once per run; callers may change them in place.

        ``empty`` is what a missing file reads as (not a change until something is added).
        """
        if name not in self._data:
            path = self.path(name)
            try:
                with open(path) as f:
                    text = f.read()
            except FileNotFoundError:
                text = None
            except OSError as e:
                raise StoreError("cannot read %s: %s" % (path, e), "state_dir")
            if text is None:
                text = json.dumps(empty if empty is not None else {})
            try:
                data = json.loads(text)
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
            except ValueError as e:
                raise StoreError(
                    "%s is damaged (%s). It was left as it is: restore it from a backup, or "
                    "move it aside and run cnm.fabric.cnm_info to see what the kernel still "
                    "has before converging again" % (path, e), "state_dir")
            self._loaded[name] = json.loads(text)  # a private copy, parsed again: cheaper than deepcopy
            self._data[name] = data
        return self._data[name]

    def schema(self) -> int:
        """The version of the records' layout (migrate.py): 1 when the state_dir has no schema file."""
        data = self.get(SCHEMA)
        version = data.get("version", 1)
        if not isinstance(version, int) or version < 1:
            raise StoreError("%s is damaged (version %r). It was left as it is" % (self.path(SCHEMA), version),
                             "state_dir")
        return version

    def migrated(self, version: int) -> None:
        """The records, as changed in memory, are those of schema ``version``: each changed file is
        written (atomically, one by one), then the version, last. A run killed in between leaves the
        old version, and the next does the same steps again (migrate.py's steps may run twice).
        A state_dir with no records yet gets its version with its first records. In check mode,
        nothing is written: the records as changed count as read."""
        self.get(SCHEMA)["version"] = version
        if self.read_only:
            for name in self.dirty():
                self._loaded[name] = copy.deepcopy(self._data[name])
        elif self.dirty():
            self.save()
        elif any(f.endswith(".json") and f != SCHEMA + ".json" for f in os.listdir(self.state_dir)):
            self._write_schema()

    def _write_schema(self) -> None:
        schema = self._data.get(SCHEMA)
        if schema and schema != self._loaded.get(SCHEMA):
            atomic_write(self.path(SCHEMA), json.dumps(schema, sort_keys=True) + "\n")
            self._loaded[SCHEMA] = dict(schema)

    def _read_journal(self) -> Optional[Dict[str, List[str]]]:
        try:
            with open(self.path(JOURNAL)) as f:
                data = json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return dict((name, []) for name in JOURNALED)  # unreadable: the replay checks everything
        return dict((name, list(data.get(name) or [])) for name in JOURNALED)

    def journal(self) -> Optional[Dict[str, List[str]]]:
        """What an interrupted run was removing: {"endpoints": [keys], "sandboxes": [keys]}, or None."""
        return self._entry_journal

    def clear_journal(self) -> None:
        """The run's removals are complete: records, addresses and files."""
        if self.read_only or self._journal is None:
            return
        try:
            os.unlink(self.path(JOURNAL))
        except FileNotFoundError:
            return
        except OSError as e:
            raise StoreError("cannot remove %s: %s" % (self.path(JOURNAL), e), "state_dir")
        self._journal = None
        _fsync_dir(self.state_dir)

    def _write_journal(self) -> None:
        """Journal the keys this run removes, with those of an unfinished earlier journal."""
        entries = dict((name, set((self._journal or {}).get(name, []))) for name in JOURNALED)
        for name in JOURNALED:
            if name in self._data:
                entries[name].update(set(self._loaded.get(name, {})) - set(self._data[name]))
        if any(entries.values()):
            data = dict((name, sorted(keys)) for name, keys in entries.items())
            atomic_write(self.path(JOURNAL), json.dumps(data, indent=1, sort_keys=True) + "\n")
            self._journal = data

    def dirty(self) -> List[str]:
        """The record files changed since read (the schema version is not a record)."""
        return [n for n, d in self._data.items() if n != SCHEMA and d != self._loaded.get(n)]

    def save(self, keep_removed: bool = False) -> None:
        """Write every file whose records changed since they were read.

        With ``keep_removed``, records that were removed are written back too: the
        first of two writes around a kernel apply records every object about to be
        made *before* it exists and forgets objects only *after* they are gone, so a
        run killed halfway leaves records for everything it touched, never orphans.
        """
        if keep_removed and not self.read_only:
            self._write_journal()
        written = self.dirty()
        for name in written:
            if self.read_only:
                raise StoreError("internal: write in read-only mode", "state_dir")
            data = _union(self._loaded.get(name, {}), self._data[name]) if keep_removed else self._data[name]
            if name not in self._final:
                atomic_write(self.path(name), json.dumps(data, indent=1, sort_keys=True) + "\n")
            if keep_removed and data == self._data[name]:
                self._final.add(name)  # nothing removed: the first write is already the last
            elif not keep_removed:
                self._loaded[name] = copy.deepcopy(data)
        if written:
            self._write_schema()  # last: after the records of its layout
        if not keep_removed:
            self._final.clear()

    def learned(self, name: str) -> None:
        """Record file ``name`` changed between the two writes around an apply (what the apply
        learned): the second writes it again."""
        self._final.discard(name)

    def rollback(self) -> None:
        """Write back what was read, for a run whose kernel changes were undone, journal included."""
        for name in self.dirty():
            atomic_write(self.path(name), json.dumps(self._loaded[name], indent=1, sort_keys=True) + "\n")
        if self._journal != self._entry_journal:
            if self._entry_journal is None:
                self.clear_journal()
            else:
                atomic_write(self.path(JOURNAL), json.dumps(self._entry_journal, indent=1, sort_keys=True) + "\n")
                self._journal = self._entry_journal


def _union(old: Any, new: Any) -> Any:
    """``new`` with the keys only ``old`` has, recursively."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    out = dict(old)
    for key, value in new.items():
        out[key] = _union(old.get(key), value)
    return out


def _fsync_dir(directory: str) -> None:
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def stale_tmp(directory: str) -> List[str]:
    """Temporary files of killed atomic writes in ``directory``."""
    try:
        return sorted(os.path.join(directory, f) for f in os.listdir(directory) if f.startswith(TMP_PREFIX))
    except OSError:
        return []


def remove_stale_tmp(directory: str) -> None:
    for path in stale_tmp(directory):
        try:
            os.unlink(path)
        except OSError:
            pass


def read_text(path: str) -> Optional[str]:
    """A file's text, or None when it cannot be read."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def atomic_write(path: str, text: str, mode: int = 0o600, durable: bool = True) -> None:
    """Replace ``path`` whole (readers never see half a file); ``durable`` also fsyncs it
    and its directory, for records. Files rendered again from records on every run do
    without (a bulk run writes a thousand hosts files, and fsync is most of that cost)."""
    directory = os.path.dirname(path) or "."
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=TMP_PREFIX)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
                if durable:
                    f.flush()
                    os.fsync(f.fileno())
            os.chmod(tmp, mode)
            os.rename(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        if durable:
            _fsync_dir(directory)
    except OSError as e:
        raise StoreError("cannot write %s: %s" % (path, e), "state_dir")
