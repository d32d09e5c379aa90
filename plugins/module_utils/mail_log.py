# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Evidence of harm already done: rejections the mail log blames on DNSBL error answers.

Private to the collection. Runs on managed hosts: Python 3.8 syntax. Reads at most the last
`max_bytes` of the log, so that a huge log costs a bounded read. Hosts without a syslog daemon
(Debian 12 without rsyslog, most containers) log to the journal only: when no log file exists, the
journal is asked through `journalctl` for the smtpd and postscreen entries.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_catalog import mask_dqs_key, mask_secrets
from ansible_collections.maildns.audit.plugins.module_utils.files import HostFiles

DEFAULT_LOGS = ("/var/log/mail.log", "/var/log/maillog", "/var/log/mail/mail.log")
LOG_MAX_BYTES = 20 * 1024 * 1024
# journalctl bounds entries, not bytes: a rejection line is 300 to 500 bytes.
JOURNAL_BYTES_PER_ENTRY = 256
JOURNAL_TIMEOUT = 60

_REJECT = re.compile(
    r"^(?P<stamp>\d{4}-\d\d-\d\dT\S+|[A-Z][a-z]{2}\s+\d{1,2} \d\d:\d\d:\d\d) \S+ postfix\S*/(?:smtpd|postscreen)"
    r"\[\d+\]: (?:\S+: )?(?:NOQUEUE: )?reject: \S+ from (?P<client>\S+): (?P<code>\d{3}) .*?"
    r"blocked using (?P<zone>[^\s;,]+)(?P<rest>.*)$"
)
# Error answers the reply text gives away: Spamhaus' TXT ("Error: open resolver", "Error: excessive
# number of queries", ...) or the code itself when the list has no TXT.
_ERROR = re.compile(r"Error: [^;]*|127\.255\.255\.25[2-5]|returnc/(?:pub|vol|wrong)", re.IGNORECASE)


@dataclass
class RejectionEvidence:
    log: str = ""
    bytes_read: int = 0
    counts: dict = field(default_factory=dict)  # zone -> day -> count
    examples: dict = field(default_factory=dict)  # zone -> one log line
    reasons: dict = field(default_factory=dict)  # zone -> the error text
    problem: str = ""

    @property
    def total(self) -> int:
        return sum(sum(days.values()) for days in self.counts.values())

    def as_dict(self) -> dict:
        return {
            "log": self.log,
            "bytes_read": self.bytes_read,
            "total": self.total,
            "counts": self.counts,
            "examples": self.examples,
            "reasons": self.reasons,
            "problem": self.problem,
        }


def scan_rejections(text: str, evidence: RejectionEvidence) -> RejectionEvidence:
    for line in text.splitlines():
        if "blocked using" not in line:
            continue
        match = _REJECT.match(line)
        if match is None:
            continue
        error = _ERROR.search(match.group("rest"))
        if error is None:
            continue  # a real listing, not an error answer
        zone = mask_dqs_key(match.group("zone").rstrip("."))
        stamp = match.group("stamp")
        day = stamp[:10] if stamp[0].isdigit() else " ".join(stamp.split()[:2])
        evidence.counts.setdefault(zone, {})
        evidence.counts[zone][day] = evidence.counts[zone].get(day, 0) + 1
        evidence.examples.setdefault(zone, mask_secrets(line.strip())[:500])
        evidence.reasons.setdefault(zone, mask_secrets(error.group(0)))
    return evidence


def read_rejections(
    files: HostFiles,
    maillog_file: str = "",
    max_bytes: int = LOG_MAX_BYTES,
    syslog_name: str = "postfix",
    journalctl: str | None = None,
) -> RejectionEvidence:
    """Scan the first log that exists: Postfix's maillog_file, the usual syslog files, then the journal."""
    candidates = [maillog_file] if maillog_file and not maillog_file.startswith("/dev/") else []
    candidates += [log for log in DEFAULT_LOGS if log not in candidates]
    for log in candidates:
        if not files.exists(log):
            continue
        text, problem = files.read_tail(log, max_bytes)
        evidence = RejectionEvidence(log=log)
        if problem is not None:
            evidence.problem = problem.reason
            return evidence
        evidence.bytes_read = len((text or "").encode("utf-8", errors="replace"))
        return scan_rejections(text or "", evidence)
    evidence = read_journal_rejections(files, max_bytes, syslog_name, journalctl)
    if evidence.problem:
        evidence.problem = "no mail log found (looked at " + ", ".join(candidates) + ") and " + evidence.problem
    return evidence


def journal_identifiers(syslog_name: str = "postfix") -> list:
    """The syslog identifiers of the daemons that reject by DNSBL, for Postfix's syslog_name."""
    # syslog_name may be an unexpanded default (${multi_instance_name?...}): then only "postfix"
    names = ["postfix"] + ([syslog_name] if syslog_name and "$" not in syslog_name and syslog_name != "postfix" else [])
    return [name + "/" + daemon for name in names for daemon in ("smtpd", "postscreen")]


def read_journal_rejections(
    files: HostFiles, max_bytes: int = LOG_MAX_BYTES, syslog_name: str = "postfix", journalctl: str | None = None
) -> RejectionEvidence:
    """The last entries of smtpd and postscreen in the journal, scanned like a log file."""
    journalctl = journalctl or shutil.which("journalctl") or ""
    if not journalctl or not os.path.exists(journalctl):
        return RejectionEvidence(problem="no journal to read (journalctl is not installed)")
    identifiers = journal_identifiers(syslog_name)
    argv = [journalctl, "--no-pager", "--quiet", "--output=short-iso"]
    argv.append(f"--lines={max(1000, max_bytes // JOURNAL_BYTES_PER_ENTRY)}")
    if files.root not in ("", "/"):
        argv.append("--root=" + files.root)
    for identifier in identifiers:
        argv += ["--identifier", identifier]
    shown = "journal (" + ", ".join(identifiers) + ")"
    evidence = RejectionEvidence(log=shown)
    try:
        result = subprocess.run(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            errors="replace",
            timeout=JOURNAL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        evidence.problem = f"{journalctl} did not answer within {JOURNAL_TIMEOUT} s"
        return evidence
    except OSError as error:
        evidence.problem = f"{journalctl} could not run: {error}"
        return evidence
    if result.returncode != 0:
        evidence.problem = f"{journalctl} failed (exit {result.returncode}): {result.stderr.strip()[:300]}"
        return evidence
    text = result.stdout[-max_bytes:]
    if not text.strip():
        evidence.problem = "the journal has no entries of " + ", ".join(identifiers)
        return evidence
    evidence.bytes_read = len(text.encode("utf-8", errors="replace"))
    return scan_rejections(text, evidence)
