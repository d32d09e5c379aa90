"""Journal files with chosen entries, written the way journald would, for hosts that log to the journal only.

systemd-journal-remote (Debian's systemd-journal-remote package) turns the journal export format
into a journal file that the real journalctl reads.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"
BOOT_ID = "0123456789abcdef0123456789abcdef"


def write_journal(path: Path, entries: list[tuple[str, str]], hostname: str = "mail") -> None:
    """A journal file at `path` holding (syslog identifier, message) entries, a second apart, the last one now."""
    now = int(time.time() * 1_000_000)
    export = "".join(
        f"__REALTIME_TIMESTAMP={now - (len(entries) - 1 - index) * 1_000_000}\n"
        f"__MONOTONIC_TIMESTAMP={index + 1}\n_BOOT_ID={BOOT_ID}\n_HOSTNAME={hostname}\n"
        f"SYSLOG_IDENTIFIER={identifier}\n_PID={100 + index}\nPRIORITY=6\nMESSAGE={message}\n\n"
        for index, (identifier, message) in enumerate(entries)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([JOURNAL_REMOTE, f"--output={path}", "-"], input=export, text=True, capture_output=True, check=True)
