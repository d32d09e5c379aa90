# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SpamAssassin's DNS settings and DNSBL rules, read from its configuration directories.

Private to the collection. Runs on managed hosts: Python 3.8 syntax.

SpamAssassin reads `*.pre` then `*.cf` of its site configuration directory in lexical order
(Debian: /etc/spamassassin; upstream: /etc/mail/spamassassin), following `include` lines
relative to the including file.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field

from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_catalog import mask_secrets
from ansible_collections.maildns.audit.plugins.module_utils.files import HostFiles

SITE_DIRECTORIES = ("/etc/spamassassin", "/etc/mail/spamassassin")
RULE_DIRECTORIES = ("/var/lib/spamassassin", "/usr/share/spamassassin")
BLOCK_FILE_HOMES = (
    "/root/.spamassassin",
    "/var/lib/spamassassin/.spamassassin",
    "/var/lib/amavis/.spamassassin",
    "/var/spool/spamassassin/.spamassassin",
    "/home/spamd/.spamassassin",
)
BLOCKED_RULE = "RCVD_IN_ZEN_BLOCKED"
DQS_PLACEHOLDER = "your_DQS_key"
MAX_INCLUDE_DEPTH = 20
# Where Mail/SpamAssassin.pm is installed: Debian and Ubuntu; Fedora and RHEL; CPAN builds.
PERL_LIBRARY_DIRECTORIES = (
    "/usr/share/perl5",
    "/usr/share/perl5/vendor_perl",
    "/usr/local/share/perl5",
    "/usr/local/share/perl/*",
    "/usr/local/lib/perl5/site_perl",
    "/usr/local/lib/perl5/site_perl/*",
    "/usr/lib/perl5/vendor_perl",
    "/usr/lib/perl5/site_perl",
)
_PERL_VERSION = re.compile(r"""^\s*(?:our\s+)?\$VERSION\s*=\s*["']?(\d+)\.(\d{3})(\d{3})["']?\s*;""", re.MULTILINE)
_USE_LIB = re.compile(r"""^use\s+lib\s+['"]([^'"]+)['"]\s*;""", re.MULTILINE)


@dataclass
class SpamAssassinConfig:
    site_directory: str = ""
    files: list = field(default_factory=list)
    dns_servers: list = field(default_factory=list)  # [{address, file, line}]
    dns_available: str = "yes"
    skip_rbl_checks: bool = False
    rbl_timeout: str = ""
    dnsbl_rules: list = field(default_factory=list)  # [{rule, zone, file, line}]
    scores: dict = field(default_factory=dict)
    dqs_plugin: bool = False
    dqs_placeholders: list = field(default_factory=list)  # [{file, line}]
    version: str = ""
    version_source: str = ""  # the Mail/SpamAssassin.pm it was read from, or "spamassassin --version"
    knows_blocked_rules: bool | None = None
    block_files: list = field(default_factory=list)  # [{file, zone}]
    problems: list = field(default_factory=list)

    def as_facts(self) -> dict:
        facts = dict(self.__dict__)
        facts["dnsbl_rules"] = [dict(rule, zone=mask_secrets(rule["zone"])) for rule in self.dnsbl_rules]
        return facts


_CHECK_RBL = re.compile(r"eval:check_rbl(?:_txt|_envfrom|_from|_sub)?\(\s*'[^']*'\s*,\s*'([^']+)'")
_ASKDNS = re.compile(r"^askdns\s+(\S+)\s+(\S+)")


def _strip_comment(line: str) -> str:
    return re.sub(r"(?<!\\)#.*$", "", line).strip()


def parse_site_config(files: HostFiles, directory: str, config: SpamAssassinConfig) -> None:
    entries = [e for e in files.listdir(directory) if not files.is_dir(f"{directory}/{e}")]
    ordered = [e for e in entries if e.endswith(".pre")] + [e for e in entries if e.endswith(".cf")]
    for entry in ordered:
        _parse_file(files, f"{directory}/{entry}", config, ())


def _parse_file(files: HostFiles, path: str, config: SpamAssassinConfig, chain: tuple) -> None:
    if path in chain:
        config.problems.append("include cycle: " + " -> ".join((*chain, path)))
        return
    if len(chain) >= MAX_INCLUDE_DEPTH:
        config.problems.append(f"includes nested deeper than {MAX_INCLUDE_DEPTH} at {path}")
        return
    text, problem = files.read_config(path)
    if problem is not None:
        config.problems.append(problem.reason)
        return
    config.files.append(path)
    for number, raw in enumerate((text or "").splitlines(), 1):
        if DQS_PLACEHOLDER in raw and not raw.lstrip().startswith("#"):
            config.dqs_placeholders.append({"file": path, "line": number})
        line = _strip_comment(raw)
        if not line:
            continue
        keyword, _sep, rest = line.partition(" ")
        rest = rest.strip()
        keyword = keyword.lower()
        if keyword == "include" and rest:
            target = rest if rest.startswith("/") else os.path.join(os.path.dirname(path), rest)
            _parse_file(files, target, config, (*chain, path))
        elif keyword == "dns_server" and rest:
            config.dns_servers.append({"address": _dns_server_address(rest), "raw": rest, "file": path, "line": number})
        elif keyword == "dns_available":
            config.dns_available = rest
        elif keyword == "skip_rbl_checks":
            config.skip_rbl_checks = rest.strip() not in ("0", "")
        elif keyword == "rbl_timeout":
            config.rbl_timeout = rest
        elif keyword == "score":
            parts = rest.split()
            if parts:
                config.scores[parts[0]] = " ".join(parts[1:])
        elif keyword == "loadplugin" and "dqs" in rest.lower():
            config.dqs_plugin = True
        elif keyword == "header":
            match = _CHECK_RBL.search(rest)
            if match:
                config.dnsbl_rules.append(
                    {"rule": rest.split()[0], "zone": match.group(1).rstrip("."), "file": path, "line": number}
                )
        elif keyword == "askdns":
            match = _ASKDNS.match(line)
            if match:
                config.dnsbl_rules.append(
                    {"rule": match.group(1), "zone": match.group(2), "file": path, "line": number}
                )


def _dns_server_address(text: str) -> str:
    """`1.1.1.1`, `1.1.1.1:53`, `[2606:4700::1111]:53` -> the address."""
    text = text.strip()
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    if text.count(":") == 1:
        return text.split(":", 1)[0]
    return text


def read_blocked_rules_knowledge(files: HostFiles, config: SpamAssassinConfig) -> None:
    """Whether the installed rules know the *_BLOCKED answers (SpamAssassin 4 rules do)."""
    found_rules = False
    for base in RULE_DIRECTORIES:
        for root, _dirs, names in os.walk(files.path(base)):
            for name in names:
                if not name.endswith(".cf"):
                    continue
                found_rules = True
                try:
                    with open(os.path.join(root, name), "rb") as handle:
                        if BLOCKED_RULE.encode() in handle.read(4 * 1024 * 1024):
                            config.knows_blocked_rules = True
                            return
                except OSError:
                    continue
    config.knows_blocked_rules = False if found_rules else None


def read_block_files(files: HostFiles, config: SpamAssassinConfig, extra_homes: tuple = ()) -> None:
    """SpamAssassin 4's dns_block_rule files: it stopped querying these zones."""
    for home in BLOCK_FILE_HOMES + tuple(extra_homes):
        for name in files.listdir(home):
            if name.startswith("dnsblock_"):
                config.block_files.append({"file": f"{home}/{name}", "zone": name[len("dnsblock_") :]})


def library_directories(files: HostFiles, spamassassin: str | None) -> list:
    """Where the `spamassassin` script finds Mail::SpamAssassin, in the order it looks.

    The script prefers a `lib/` beside itself, then the `use lib` directory its build wrote in
    (Debian: /usr/share/perl5), then Perl's own @INC, which the usual install places stand for.
    """
    directories = []
    if spamassassin:
        directories.append(os.path.join(os.path.dirname(spamassassin), "lib"))
        text, problem = files.read_config(spamassassin)
        if problem is None and text:
            directories += _USE_LIB.findall(text[:16384])
    for pattern in PERL_LIBRARY_DIRECTORIES:
        if "*" in pattern:
            base = os.path.dirname(pattern)
            directories += [f"{base}/{name}" for name in reversed(files.listdir(base))]  # newest Perl first
        else:
            directories.append(pattern)
    unique: list = []
    for directory in directories:
        if directory not in unique:
            unique.append(directory)
    return unique


def installed_version(files: HostFiles, spamassassin: str | None) -> tuple:
    """(version, file) from the installed Mail/SpamAssassin.pm: what `spamassassin --version` prints.

    `$VERSION = "4.000001"` is printed 4.0.1 (Mail::SpamAssassin::Version). Reading the file costs
    no Perl start-up (about 0.3 s of CPU per host); ("", "") when no such file is found.
    """
    for directory in library_directories(files, spamassassin):
        path = f"{directory}/Mail/SpamAssassin.pm"
        if not files.exists(path):
            continue
        text, problem = files.read_config(path)
        match = _PERL_VERSION.search(text or "") if problem is None else None
        if match:
            return ".".join(str(int(part)) for part in match.groups()), path
    return "", ""


def read_version(spamassassin: str | None) -> str:
    if not spamassassin:
        return ""
    try:
        result = subprocess.run(
            [spamassassin, "--version"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    match = re.search(r"version (\d+(?:\.\d+)+)", result.stdout)
    return match.group(1) if match else ""


def read_spamassassin(
    files: HostFiles, site_directory: str | None = None, spamassassin: str | None = None
) -> SpamAssassinConfig | None:
    """None when no SpamAssassin configuration exists on the host."""
    directories = [site_directory] if site_directory else [d for d in SITE_DIRECTORIES if files.is_dir(d)]
    directories = [d for d in directories if d and files.is_dir(d)]
    if not directories:
        return None
    config = SpamAssassinConfig(site_directory=directories[0])
    # Debian's spamassassin reads /etc/spamassassin; an upstream build reads /etc/mail/spamassassin.
    # When both exist, the Debian one is the one in use unless the caller says otherwise.
    parse_site_config(files, directories[0], config)
    read_blocked_rules_knowledge(files, config)
    read_block_files(files, config)
    config.version, config.version_source = installed_version(files, spamassassin)
    if not config.version:
        config.version = read_version(spamassassin)
        config.version_source = "spamassassin --version" if config.version else ""
    return config
