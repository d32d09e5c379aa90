# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One host's whole audit in one module round trip: the inspections and the live probes.

Private to the collection. Runs on managed hosts: Python 3.8 syntax.
"""

from __future__ import annotations

import shutil

from ansible_collections.maildns.audit.plugins.module_utils.files import HostFiles
from ansible_collections.maildns.audit.plugins.module_utils.inspect_host import (
    NOT_READ,
    inspect_postfix,
    inspect_resolver_path,
    inspect_spamassassin,
    load_postfix,
)
from ansible_collections.maildns.audit.plugins.module_utils.probe_host import identity_host, probe_host
from ansible_collections.maildns.audit.plugins.module_utils.spamassassin_config import read_spamassassin

CHECKS = ("resolver", "postfix", "spamassassin", "dnsbl", "identity")


def audit_host(
    checks: list | None = None,
    lists: list | None = None,
    outbound_ips: list | None = None,
    domains: list | None = None,
    timeout: float = 3.0,
    postfix_config_directory: str = "/etc/postfix",
    root: str = "/",
) -> dict:
    """{facts: {area: ...}, findings: [...], checks: [...] (names prefixed with the area), status}."""
    wanted = list(checks or CHECKS)
    # Read the host once (postconf, SpamAssassin's files and version); every part judges the same model.
    files = HostFiles(root)
    postfix = load_postfix(files, postfix_config_directory)
    spamassassin = (
        read_spamassassin(files, None, shutil.which("spamassassin")) if "spamassassin" in wanted else NOT_READ
    )
    runs = {
        "resolver": lambda: inspect_resolver_path(root, postfix_config_directory, postfix=postfix),
        "postfix": lambda: inspect_postfix(root, postfix_config_directory, postfix=postfix),
        "spamassassin": lambda: inspect_spamassassin(root, spamassassin=spamassassin),
        "dnsbl": lambda: probe_host(
            root,
            lists,
            outbound_ips,
            timeout,
            True,
            postfix_config_directory,
            postfix=postfix,
            spamassassin=spamassassin,
        ),
        "identity": lambda: identity_host(
            root, outbound_ips, domains, None, timeout, postfix_config_directory, postfix=postfix
        ),
    }
    facts: dict = {}
    findings: list = []
    all_checks: list = []
    for area in wanted:
        result = runs[area]()
        findings += [dict(finding, area=area) for finding in result.pop("findings")]
        all_checks += [dict(check, name=f"{area}: {check['name']}") for check in result.pop("checks")]
        result.pop("status")
        facts[area] = result
    status = "unknown" if any(check["status"] == "unknown" for check in all_checks) else "ok"
    return {"facts": facts, "findings": findings, "checks": all_checks, "status": status, "audited": wanted}
