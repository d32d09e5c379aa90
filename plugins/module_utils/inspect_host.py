# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the inspection modules return, computed without Ansible (unit tests call these directly).

Private to the collection. Runs on managed hosts: Python 3.8 syntax.

Each function reads (files, postconf), models, judges, and returns a plain dict:
`{<area>: facts, findings: [...], checks: [...], status: ok|unknown}`. A check that could not run
is `unknown` with its reason and makes the status `unknown`: never a silent pass.
"""

from __future__ import annotations

import shutil
import socket

from ansible_collections.maildns.audit.plugins.module_utils.files import HostFiles
from ansible_collections.maildns.audit.plugins.module_utils.findings import Check, Finding
from ansible_collections.maildns.audit.plugins.module_utils.judge import judge_postfix, judge_spamassassin
from ansible_collections.maildns.audit.plugins.module_utils.mail_log import LOG_MAX_BYTES, read_rejections
from ansible_collections.maildns.audit.plugins.module_utils.postfix_config import PostfixConfig, read_postfix
from ansible_collections.maildns.audit.plugins.module_utils.resolver_path import (
    judge_resolver_path,
    read_resolver_path,
)
from ansible_collections.maildns.audit.plugins.module_utils.spamassassin_config import read_spamassassin


def _result(area: str, facts: dict | None, findings: list, checks: list) -> dict:
    status = "unknown" if any(check.status == "unknown" for check in checks) else "ok"
    return {
        area: facts,
        "findings": [finding.as_dict() for finding in findings],
        "checks": [check.as_dict() for check in checks],
        "status": status,
    }


def find_postconf(postconf_path: str | None = None) -> str | None:
    return (
        postconf_path
        or shutil.which("postconf")
        or ("/usr/sbin/postconf" if HostFiles().exists("/usr/sbin/postconf") else None)
    )


# "Not read yet": a caller that already holds a model (audit_host) passes it, so that a host is
# read once per audit; None means "read, and not there".
NOT_READ = object()


def load_postfix(
    files: HostFiles,
    config_directory: str = "/etc/postfix",
    use_postconf: bool = True,
    postconf_path: str | None = None,
) -> PostfixConfig | None:
    """The one reader of a host's Postfix configuration; None when Postfix is not configured there."""
    if not files.exists(f"{config_directory}/main.cf"):
        return None  # postconf without a main.cf is a package leftover, not a configured Postfix
    # postconf reads the real /etc: under another root (a corpus folder) the files are the truth.
    postconf = find_postconf(postconf_path) if use_postconf and files.root in ("", "/") else None
    return read_postfix(files, postconf, config_directory, hostname=socket.gethostname())


def inspect_resolver_path(
    root: str = "/", postfix_config_directory: str = "/etc/postfix", postfix: object = NOT_READ
) -> dict:
    files = HostFiles(root)
    if postfix is NOT_READ:
        postfix = load_postfix(files, postfix_config_directory)
    queue_directory = (
        postfix.parameters.get("queue_directory", "/var/spool/postfix") if postfix else "/var/spool/postfix"
    )
    chrooted = postfix.chrooted_services if postfix else []
    path = read_resolver_path(files, queue_directory, chrooted)
    return _result("resolver_path", path.as_dict(), judge_resolver_path(path), list(path.checks))


def inspect_postfix(
    root: str = "/",
    config_directory: str = "/etc/postfix",
    use_postconf: bool = True,
    postconf_path: str | None = None,
    scan_log: bool = True,
    log_file: str | None = None,
    log_max_bytes: int = LOG_MAX_BYTES,
    postfix: object = NOT_READ,
) -> dict:
    files = HostFiles(root)
    checks = []
    config = load_postfix(files, config_directory, use_postconf, postconf_path) if postfix is NOT_READ else postfix
    if config is None:
        checks.append(Check("postfix_config", "unknown", f"no Postfix here: {config_directory}/main.cf does not exist"))
        return dict(_result("postfix", None, [], checks), installed=False)
    findings: list = []
    fatal = [problem for problem in config.problems if "main.cf" in problem]
    if fatal:
        checks.append(Check("postfix_config", "unknown", "; ".join(config.problems)))
        findings.append(Finding("POSTFIX_CONFIG_UNREADABLE", {"problems": config.problems}))
        return dict(_result("postfix", config.as_facts(), findings, checks), installed=True)
    checks.append(Check("postfix_config", "ok", "; ".join(config.problems)))
    rejections = None
    if scan_log:
        rejections = read_rejections(
            files,
            log_file or config.parameters.get("maillog_file", ""),
            log_max_bytes,
            syslog_name=config.parameters.get("syslog_name", "postfix"),
        )
        if rejections.problem:
            checks.append(Check("mail_log", "unknown", rejections.problem))
        else:
            checks.append(Check("mail_log", "ok", f"{rejections.log}: last {rejections.bytes_read} bytes read"))
    findings += judge_postfix(config, rejections)
    facts = config.as_facts()
    if rejections is not None:
        facts["rejections_by_dnsbl_error"] = rejections.as_dict()
    return dict(_result("postfix", facts, findings, checks), installed=True)


def inspect_spamassassin(
    root: str = "/",
    site_directory: str | None = None,
    spamassassin_path: str | None = None,
    spamassassin: object = NOT_READ,
) -> dict:
    files = HostFiles(root)
    if spamassassin is NOT_READ:
        spamassassin = read_spamassassin(files, site_directory, spamassassin_path or shutil.which("spamassassin"))
    config = spamassassin
    if config is None:
        where = site_directory or " or ".join(("/etc/spamassassin", "/etc/mail/spamassassin"))
        checks = [Check("spamassassin_config", "unknown", f"no SpamAssassin configuration in {where}")]
        return dict(_result("spamassassin", None, [], checks), installed=False)
    checks = []
    findings = judge_spamassassin(config)
    if config.problems:
        checks.append(Check("spamassassin_config", "unknown", "; ".join(config.problems)))
        findings.append(Finding("SPAMASSASSIN_CONFIG_UNREADABLE", {"problems": config.problems}))
    else:
        checks.append(Check("spamassassin_config", "ok"))
    return dict(_result("spamassassin", config.as_facts(), findings, checks), installed=True)
