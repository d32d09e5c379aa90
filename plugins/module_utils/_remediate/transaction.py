# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Changing a host's files as one unit: planned, shown as a diff, written in place, rolled back.

Private to the collection. Runs on managed hosts: Python 3.8 syntax.

A `FileTransaction` holds, for every file a remediation touches, the bytes it had before (or that
it did not exist) and the bytes it should have. `diffs()` is what `--diff` shows, in check mode
and out of it alike; `apply()` writes only the files whose bytes change; `rollback()` puts back
every file it wrote, byte for byte, and removes the ones it created.

Files are written in place (open, truncate, write, fsync), never by rename: a container's or a
lab host's /etc/resolv.conf is a bind mount that refuses a rename over it (EBUSY), and a
`sed -i` style replace would leave the mount showing the old file.
"""

from __future__ import annotations

import difflib
import os
import stat
from dataclasses import dataclass, field
from typing import Callable, Optional

from ansible_collections.maildns.audit.plugins.module_utils.files import HostFiles

BACKUP_SUFFIX = ".maildns-backup"


class TransactionError(Exception):
    """A file could not be read or written; the message names it and says why."""


@dataclass
class FileChange:
    path: str  # as the host names it
    before: Optional[bytes]  # None: the file does not exist
    after: Optional[bytes]  # None: the file is to be removed
    reason: str
    mode: int = 0o644  # for a file created
    backup: bool = False  # keep the old bytes beside the file (<path>.maildns-backup)
    applied: bool = False
    created_backup: Optional[bytes] = None  # what the backup path held before we wrote it (None: absent)
    backup_existed: bool = False

    @property
    def changes(self) -> bool:
        return self.before != self.after


@dataclass
class FileTransaction:
    files: HostFiles
    changes: list = field(default_factory=list)
    mask: Callable[[str], str] = staticmethod(lambda text: text)  # type: ignore[assignment]

    # -- planning ------------------------------------------------------------------------------------
    def read(self, path: str) -> Optional[bytes]:
        """The bytes a file has now (what a change to it started from), None when it does not exist."""
        for change in self.changes:
            if change.path == path:
                return change.after
        return read_bytes(self.files, path)

    def set(self, path: str, after: Optional[bytes], reason: str, mode: int = 0o644, backup: bool = False) -> None:
        """Plan a file's new bytes (None: remove it). Planning the same path twice keeps one change."""
        for change in self.changes:
            if change.path == path:
                change.after = after
                change.reason = change.reason + "; " + reason if reason not in change.reason else change.reason
                return
        before = read_bytes(self.files, path)
        self.changes.append(FileChange(path, before, after, reason, mode=mode, backup=backup))

    def pending(self) -> list:
        return [change for change in self.changes if change.changes]

    def diffs(self) -> list:
        """Ansible's diff list: one entry per file that changes, secrets masked."""
        result = []
        for change in self.pending():
            result.append(
                {
                    "before_header": change.path if change.before is not None else "%s (absent)" % change.path,
                    "after_header": change.path if change.after is not None else "%s (removed)" % change.path,
                    "before": self.mask(_text(change.before)),
                    "after": self.mask(_text(change.after)),
                }
            )
        return result

    def unified_diff(self) -> str:
        """The same change as one unified diff, for a report or a preview file."""
        out = []
        for change in self.pending():
            out += difflib.unified_diff(
                self.mask(_text(change.before)).splitlines(True),
                self.mask(_text(change.after)).splitlines(True),
                fromfile=change.path if change.before is not None else "/dev/null",
                tofile=change.path if change.after is not None else "/dev/null",
            )
        return "".join(out)

    def summary(self) -> list:
        return [
            {
                "path": change.path,
                "action": "create" if change.before is None else "remove" if change.after is None else "update",
                "reason": self.mask(change.reason),
            }
            for change in self.pending()
        ]

    # -- applying ------------------------------------------------------------------------------------
    def apply(self, only: Optional[list] = None) -> list:
        """Write the planned bytes (of `only` the given paths, when given); returns the paths written."""
        written = []
        for change in self.pending():
            if change.applied or (only is not None and change.path not in only):
                continue
            if change.backup and change.before is not None:
                backup_path = change.path + BACKUP_SUFFIX
                change.created_backup = read_bytes(self.files, backup_path)
                change.backup_existed = True
                write_in_place(self.files, backup_path, change.before)
                # A backup is never more readable than the file it keeps (a DQS key, a password).
                try:
                    os.chmod(self.files.path(backup_path), _mode_of(self.files, change.path))
                except OSError as error:
                    raise TransactionError("%s: mode not set: %s" % (backup_path, error)) from error
            if change.after is None:
                remove(self.files, change.path)
            else:
                write_in_place(self.files, change.path, change.after, mode=change.mode)
            change.applied = True
            written.append(change.path)
        return written

    def rollback(self) -> list:
        """Every file written back to its old bytes (or removed, if it was created); returns problems."""
        problems = []
        for change in reversed(self.changes):
            if not change.applied:
                continue
            try:
                if change.before is None:
                    remove(self.files, change.path)
                else:
                    write_in_place(self.files, change.path, change.before)
                if change.backup_existed:
                    backup_path = change.path + BACKUP_SUFFIX
                    if change.created_backup is None:
                        remove(self.files, backup_path)
                    else:
                        write_in_place(self.files, backup_path, change.created_backup)
                change.applied = False
            except TransactionError as error:
                problems.append(str(error))
        return problems

    def applied_paths(self) -> list:
        return [change.path for change in self.changes if change.applied]


def _text(data: Optional[bytes]) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace")


def _mode_of(files: HostFiles, path: str) -> int:
    try:
        return stat.S_IMODE(os.stat(files.path(path)).st_mode)
    except OSError:
        return 0o644


def read_bytes(files: HostFiles, path: str) -> Optional[bytes]:
    real = files.path(path)
    try:
        with open(real, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise TransactionError("%s cannot be read: %s" % (path, error.strerror or error)) from error


def write_in_place(files: HostFiles, path: str, data: bytes, mode: int = 0o644) -> None:
    """Write a file's bytes through its existing inode (bind mounts stay), creating it if needed."""
    real = files.path(path)
    try:
        directory = os.path.dirname(real)
        if directory and not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        if os.path.islink(real) and not os.path.exists(real):
            raise TransactionError("%s is a dangling symbolic link: not written" % path)
        existed = os.path.exists(real)
        descriptor = os.open(real, os.O_WRONLY | os.O_CREAT, mode)
        try:
            os.ftruncate(descriptor, 0)
            view = memoryview(data)
            while view:
                count = os.write(descriptor, view)
                view = view[count:]
            os.fsync(descriptor)
            if not existed:
                os.fchmod(descriptor, mode)
        finally:
            os.close(descriptor)
    except OSError as error:
        raise TransactionError("%s cannot be written: %s" % (path, error.strerror or error)) from error


def remove(files: HostFiles, path: str) -> None:
    try:
        os.unlink(files.path(path))
    except FileNotFoundError:
        pass
    except OSError as error:
        raise TransactionError("%s cannot be removed: %s" % (path, error.strerror or error)) from error
