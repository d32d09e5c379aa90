# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the inspection modules return, computed without Ansible (unit tests call these directly).

Private to the collection. Runs on managed hosts: Python 3.8 syntax.

Each `*_part(host)` judges one area of a `HostModel` (read once by `host_model.read_host`) and
returns a plain dict: `{<area>: facts, findings: [...], checks: [...], status: ok|unknown}`. A check
that could not run is `unknown` with its reason and makes the status `unknown`: never a silent pass.
`inspect_*(root, ...)` read a host and judge one area: what the single-area modules call.
"""

from __future__ import annotations

from ansible_collections.maildns.audit.plugins.module_utils.findings import Check, Finding
from ansible_collections.maildns.audit.plugins.module_utils.host_model import HostModel, read_host
from ansible_collections.maildns.audit.plugins.module_utils.judge import judge_postfix, judge_spamassassin
from ansible_collections.maildns.audit.plugins.module_utils.mail_log import LOG_MAX_BYTES, read_rejections
from ansible_collections.maildns.audit.plugins.module_utils.resolver_path import judge_resolver_path
from ansible_collections.maildns.audit.plugins.module_utils.resolver_weight import weigh_resolver_findings


def result_of(area: str, facts: dict | None, findings: list, checks: list) -> dict:
    status = "unknown" if any(check.status == "unknown" for check in checks) else "ok"
    return {
        area: facts,
        "findings": [finding.as_dict() for finding in findings],
        "checks": [check.as_dict() for check in checks],
        "status": status,
    }


def resolver_part(host: HostModel, probes: list | None = None) -> dict:
    """The resolver path's findings, weighed by what each resolver breaks on this host."""
    path = host.resolver_path
    findings = weigh_resolver_findings(judge_resolver_path(path), host, probes)
    return result_of("resolver_path", path.as_dict(), findings, list(path.checks))


def postfix_part(
    host: HostModel, scan_log: bool = True, log_file: str | None = None, log_max_bytes: int = LOG_MAX_BYTES
) -> dict:
    config = host.postfix
    checks = []
    if config is None:
        where = f"{host.postfix_config_directory}/main.cf"
        checks.append(Check("postfix_config", "unknown", f"no Postfix here: {where} does not exist"))
        return dict(result_of("postfix", None, [], checks), installed=False)
    findings: list = []
    fatal = [problem for problem in config.problems if "main.cf" in problem]
    if fatal:
        checks.append(Check("postfix_config", "unknown", "; ".join(config.problems)))
        findings.append(Finding("POSTFIX_CONFIG_UNREADABLE", {"problems": config.problems}))
        return dict(result_of("postfix", config.as_facts(), findings, checks), installed=True)
    checks.append(Check("postfix_config", "ok", "; ".join(config.problems)))
    rejections = None
    if scan_log:
        rejections = read_rejections(
            host.files,
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
    return dict(result_of("postfix", facts, findings, checks), installed=True)


def spamassassin_part(host: HostModel) -> dict:
    config = host.spamassassin
    if config is None:
        where = host.spamassassin_where
        checks = [Check("spamassassin_config", "unknown", f"no SpamAssassin configuration in {where}")]
        return dict(result_of("spamassassin", None, [], checks), installed=False)
    checks = []
    findings = judge_spamassassin(config)
    if config.problems:
        checks.append(Check("spamassassin_config", "unknown", "; ".join(config.problems)))
        findings.append(Finding("SPAMASSASSIN_CONFIG_UNREADABLE", {"problems": config.problems}))
    else:
        checks.append(Check("spamassassin_config", "ok"))
    return dict(result_of("spamassassin", config.as_facts(), findings, checks), installed=True)


# -- one area, read and judged: what resolver_facts, postfix_facts and spamassassin_facts call -------


def inspect_resolver_path(root: str = "/", postfix_config_directory: str = "/etc/postfix") -> dict:
    return resolver_part(read_host(root, postfix_config_directory))


def inspect_postfix(
    root: str = "/",
    config_directory: str = "/etc/postfix",
    use_postconf: bool = True,
    postconf_path: str | None = None,
    scan_log: bool = True,
    log_file: str | None = None,
    log_max_bytes: int = LOG_MAX_BYTES,
) -> dict:
    host = read_host(root, config_directory, use_postconf, postconf_path, spamassassin=False)
    return postfix_part(host, scan_log, log_file, log_max_bytes)


def inspect_spamassassin(
    root: str = "/", site_directory: str | None = None, spamassassin_path: str | None = None
) -> dict:
    host = read_host(
        root, spamassassin_site_directory=site_directory, spamassassin_path=spamassassin_path, use_postconf=False
    )
    return spamassassin_part(host)
