# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading host files with a clear answer for every way a file can be bad.

Private to the collection. Runs on managed hosts: Python 3.8 syntax.

Every reader in this collection goes through `read_config`: a missing, unreadable, binary or
oversized file gives a `FileProblem` saying what and where, never an exception, so that a check
can report `unknown` with the reason instead of passing silently or raising.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from typing import Optional, Tuple

# Config files are small; a megabyte-sized main.cf or resolv.conf is not a config file.
CONFIG_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class FileProblem:
    """Why a file could not be used: `kind` is missing, unreadable, binary, too_large or not_a_file."""

    path: str
    kind: str
    detail: str

    @property
    def reason(self) -> str:
        return f"{self.path}: {self.detail}"

    def as_dict(self) -> dict:
        return {"path": self.path, "kind": self.kind, "reason": self.reason}


class HostFiles:
    """The managed host's file system, under `root` (a test points it at a corpus folder)."""

    def __init__(self, root: str = "/") -> None:
        self.root = root

    def path(self, host_path: str) -> str:
        if self.root in ("", "/"):
            return host_path
        return os.path.join(self.root, host_path.lstrip("/"))

    def exists(self, host_path: str) -> bool:
        return os.path.lexists(self.path(host_path))

    def is_dir(self, host_path: str) -> bool:
        return os.path.isdir(self.path(host_path))

    def listdir(self, host_path: str) -> list:
        try:
            return sorted(os.listdir(self.path(host_path)))
        except OSError:
            return []

    def read_config(
        self, host_path: str, max_bytes: int = CONFIG_MAX_BYTES
    ) -> Tuple[Optional[str], Optional[FileProblem]]:
        """The text of a configuration file, or the problem that stops it being read."""
        return read_text(self.path(host_path), max_bytes, shown_as=host_path)

    def read_tail(self, host_path: str, max_bytes: int) -> Tuple[Optional[str], Optional[FileProblem]]:
        """The last `max_bytes` of a (log) file, starting at a line boundary."""
        real = self.path(host_path)
        try:
            size = os.path.getsize(real)
            with open(real, "rb") as handle:
                if size > max_bytes:
                    handle.seek(size - max_bytes)
                    handle.readline()  # drop the partial first line
                data = handle.read()
        except OSError as error:
            return None, _problem_from_oserror(host_path, error)
        return data.decode("utf-8", errors="replace"), None


def read_text(
    real_path: str, max_bytes: int, shown_as: Optional[str] = None
) -> Tuple[Optional[str], Optional[FileProblem]]:
    shown = shown_as or real_path
    try:
        if not os.path.isfile(real_path):
            if os.path.lexists(real_path) and not os.path.isdir(real_path) and not os.path.exists(real_path):
                return None, FileProblem(shown, "missing", "is a dangling symbolic link")
            if os.path.isdir(real_path):
                return None, FileProblem(shown, "not_a_file", "is a directory, not a file")
            if os.path.exists(real_path):
                return None, FileProblem(shown, "not_a_file", "is not a regular file")
            return None, FileProblem(shown, "missing", "does not exist")
        size = os.path.getsize(real_path)
        if size > max_bytes:
            return None, FileProblem(
                shown, "too_large", f"is {size} bytes, over the {max_bytes}-byte limit for a configuration file"
            )
        with open(real_path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        return None, _problem_from_oserror(shown, error)
    if b"\x00" in data:
        return None, FileProblem(shown, "binary", "holds NUL bytes: a binary file, not a configuration file")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        # Old configs in Latin-1 exist; their keywords are ASCII, so read them rather than refuse.
        return data.decode("latin-1"), None


def _problem_from_oserror(shown: str, error: OSError) -> FileProblem:
    if error.errno == errno.ENOENT:
        return FileProblem(shown, "missing", "does not exist")
    if error.errno in (errno.EACCES, errno.EPERM):
        return FileProblem(shown, "unreadable", f"cannot be read ({error.strerror}); run the check with become")
    return FileProblem(shown, "unreadable", f"cannot be read ({error.strerror or error})")
