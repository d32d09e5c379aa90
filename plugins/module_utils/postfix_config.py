# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Postfix's effective configuration and every DNSBL use in it.

Private to the collection. Runs on managed hosts: Python 3.8 syntax.

read: `read_postfix(files, runner)` asks Postfix's own `postconf` (defaults, `$name` expansion,
master.cf `-o` overrides per service), the one reader whose answer Postfix itself agrees with;
where Postfix's tools are absent it falls back to `parse_main_cf`/`parse_master_cf`, which know the
file syntax, `$name` expansion and the defaults of the parameters this collection reads.
model: `PostfixConfig` with `dnsbl_uses()`.
"""

from __future__ import annotations

import difflib
import re
import subprocess
from dataclasses import dataclass, field

from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_catalog import mask_dqs_key, mask_secrets
from ansible_collections.maildns.audit.plugins.module_utils.files import HostFiles
from ansible_collections.maildns.audit.plugins.module_utils.postfix_parameter_names import (
    BUILTIN_PARAMETERS,
    SERVICE_PARAMETER_SUFFIXES,
)

RESTRICTION_PARAMETERS = (
    "smtpd_client_restrictions",
    "smtpd_helo_restrictions",
    "smtpd_sender_restrictions",
    "smtpd_relay_restrictions",
    "smtpd_recipient_restrictions",
    "smtpd_data_restrictions",
    "smtpd_end_of_data_restrictions",
    "smtpd_etrn_restrictions",
)
POSTSCREEN_PARAMETERS = (
    "postscreen_dnsbl_sites",
    "postscreen_dnsbl_threshold",
    "postscreen_dnsbl_reply_map",
    "postscreen_dnsbl_action",
    "postscreen_dnsbl_allowlist_threshold",
)
IDENTITY_PARAMETERS = (
    "myhostname",
    "mydomain",
    "smtp_helo_name",
    "smtp_bind_address",
    "smtp_bind_address6",
    "inet_protocols",
    "queue_directory",
    "maillog_file",
    "config_directory",
    "mail_version",
    "rbl_reply_maps",
    "smtpd_restriction_classes",
)
DNSBL_PARAMETERS = RESTRICTION_PARAMETERS + POSTSCREEN_PARAMETERS + ("rbl_reply_maps", "smtpd_restriction_classes")
# Lists whose `$name` references are checked for names Postfix cannot expand (plus restriction classes).
REFERENCE_ROOTS = (*RESTRICTION_PARAMETERS, "postscreen_dnsbl_sites")
LOOPBACK_INTERFACES = ("loopback-only", "localhost", "127.0.0.1", "::1", "[::1]")

# Defaults of the parameters read here, for the file parser (Postfix 3.x; `postconf -d`).
DEFAULTS = {
    "config_directory": "/etc/postfix",
    "queue_directory": "/var/spool/postfix",
    "myhostname": "",  # the host name; filled in by the caller
    "mydomain": "",  # myhostname minus its first label
    "smtp_helo_name": "$myhostname",
    "smtp_bind_address": "",
    "smtp_bind_address6": "",
    "inet_protocols": "all",
    "maillog_file": "",
    "rbl_reply_maps": "",
    "smtpd_restriction_classes": "",
    "smtpd_client_restrictions": "",
    "smtpd_helo_restrictions": "",
    "smtpd_sender_restrictions": "",
    "smtpd_relay_restrictions": "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination",
    "smtpd_recipient_restrictions": "",
    "smtpd_data_restrictions": "",
    "smtpd_end_of_data_restrictions": "",
    "smtpd_etrn_restrictions": "",
    "postscreen_dnsbl_sites": "",
    "postscreen_dnsbl_threshold": "1",
    "postscreen_dnsbl_reply_map": "${default_database_type}:$config_directory/postscreen_dnsbl_reply",
    "postscreen_dnsbl_action": "ignore",
    "postscreen_dnsbl_allowlist_threshold": "0",
    "default_database_type": "hash",
}
DNSBL_RESTRICTIONS = {
    "reject_rbl_client": ("ip", "reject"),
    "reject_rhsbl_client": ("domain", "reject"),
    "reject_rhsbl_sender": ("domain", "reject"),
    "reject_rhsbl_recipient": ("domain", "reject"),
    "reject_rhsbl_helo": ("domain", "reject"),
    "reject_rhsbl_reverse_client": ("domain", "reject"),
    "permit_dnswl_client": ("ip", "permit"),
    "permit_rhswl_client": ("domain", "permit"),
}


class PostconfError(RuntimeError):
    pass


@dataclass
class Service:
    name: str
    type: str
    command: str
    chroot: bool
    overrides: dict = field(default_factory=dict)
    line: int = 0
    raw_overrides: dict = field(default_factory=dict)  # -o values as written, before `$name` expansion

    @property
    def label(self) -> str:
        return f"{self.name}/{self.type}"


@dataclass
class PostfixConfig:
    source: str  # "postconf" or "files"
    config_directory: str
    parameters: dict  # effective, $name-expanded values (main.cf plus defaults)
    main_cf_lines: dict = field(default_factory=dict)  # parameter -> line in main.cf
    services: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    raw_parameters: dict = field(default_factory=dict)  # main.cf as written, before `$name` expansion
    known_parameters: frozenset | None = None  # the names postconf knows; None: the built-in table

    def value(self, name: str, service: Service | None = None) -> str:
        if service is not None and name in service.overrides:
            return service.overrides[name]
        return self.parameters.get(name, "")

    @property
    def smtpd_services(self) -> list:
        return [s for s in self.services if s.command == "smtpd"]

    @property
    def postscreen_services(self) -> list:
        return [s for s in self.services if s.command == "postscreen"]

    @property
    def chrooted_services(self) -> list:
        return [s.label for s in self.services if s.chroot and s.command in ("smtpd", "postscreen", "smtp", "dnsblog")]

    @property
    def receives_from_network(self) -> bool | None:
        """Whether an SMTP server here takes mail from other hosts; None when master.cf is not known."""
        if not self.services:
            return None
        interfaces = _tokens(self.parameters.get("inet_interfaces", "all"))
        if interfaces and all(interface.lower() in LOOPBACK_INTERFACES for interface in interfaces):
            return False
        for service in self.services:
            if service.type != "inet" or service.command not in ("smtpd", "postscreen"):
                continue
            host, _sep, _port = service.name.rpartition(":")
            if host.strip("[]").lower() not in LOOPBACK_INTERFACES:
                return True
        return False

    def restriction_classes(self) -> dict:
        names = _tokens(self.parameters.get("smtpd_restriction_classes", ""))
        return {name: self.parameters.get(name, "") for name in names}

    def dnsbl_uses(self, mask: bool = True) -> list:
        """Every DNSBL this Postfix queries, where, and how its answer is used."""
        uses: list = []
        classes = self.restriction_classes()
        scopes = [(None, "main.cf")]
        scopes += [(service, f"master.cf {service.label}") for service in self.smtpd_services if service.overrides]
        for service, scope in scopes:
            for parameter in RESTRICTION_PARAMETERS:
                if service is not None and parameter not in service.overrides:
                    continue
                origin = self._origin(parameter, service)
                uses += _restriction_uses(self.value(parameter, service), parameter, scope, origin, classes, mask=mask)
        active = bool(self.postscreen_services)
        ps_scopes = [(None, "main.cf")] + [
            (s, f"master.cf {s.label}") for s in self.postscreen_services if "postscreen_dnsbl_sites" in s.overrides
        ]
        for service, scope in ps_scopes:
            threshold = _int(self.value("postscreen_dnsbl_threshold", service), 1)
            for site in _tokens(self.value("postscreen_dnsbl_sites", service)):
                use = parse_postscreen_site(site, mask=mask)
                use.update(
                    {
                        "parameter": "postscreen_dnsbl_sites",
                        "scope": scope,
                        "active": active,
                        "threshold": threshold,
                        "origin": self._origin("postscreen_dnsbl_sites", service),
                    }
                )
                uses.append(use)
        return uses

    def _known(self, name: str) -> bool:
        """Whether Postfix itself defines a parameter (a built-in, or a master.cf service's own)."""
        if self.known_parameters is not None:
            return name in self.known_parameters
        if name in BUILTIN_PARAMETERS or name in DEFAULTS:
            return True
        return any(
            name == f"{service.name}_{suffix}" for service in self.services for suffix in SERVICE_PARAMETER_SUFFIXES
        )

    def unexpandable_references(self) -> list:
        """`$name` references in restriction lists that Postfix cannot expand: undefined, or a cycle.

        Postfix expands an undefined `$name` to nothing (postconf warns "undefined parameter"), so
        the restriction it stood for is silently gone; a cycle makes every postconf run fail with
        "unreasonable macro call nesting" and "macro processing error". `${name?text}` and
        `${name:text}` are meant for names that may be undefined: only their cycles count.
        """
        roots = list(REFERENCE_ROOTS) + [name for name in self.restriction_classes() if name not in REFERENCE_ROOTS]
        classes = set(self.restriction_classes())
        found: list = []
        scopes = [(None, "main.cf", self.raw_parameters)]
        scopes += [(s, f"master.cf {s.label}", s.raw_overrides) for s in self.services if s.raw_overrides]
        for service, scope, written in scopes:
            context = self.raw_parameters if service is None else dict(self.raw_parameters, **service.raw_overrides)
            for parameter in roots:
                if parameter not in written:
                    continue
                for reference in _unexpandable(written[parameter], (parameter,), context, self._known):
                    entry = dict(self._origin(parameter, service))
                    entry.update({"parameter": parameter, "scope": scope})
                    entry.update(reference)
                    if parameter in classes:
                        entry["restriction_class"] = parameter
                    if entry not in found:
                        found.append(entry)
        return found

    def _origin(self, parameter: str, service: Service | None) -> dict:
        if service is not None and parameter in service.overrides:
            return {"file": f"{self.config_directory}/master.cf", "line": service.line, "service": service.label}
        line = self.main_cf_lines.get(parameter)
        if line is not None:
            return {"file": f"{self.config_directory}/main.cf", "line": line}
        return {"file": "(Postfix default)"}

    def master_overrides(self) -> list:
        """master.cf -o overrides of DNSBL-related parameters that differ from main.cf."""
        found = []
        for service in self.services:
            for parameter, value in service.overrides.items():
                if parameter in DNSBL_PARAMETERS and value != self.parameters.get(parameter, ""):
                    found.append(
                        {
                            "service": service.label,
                            "parameter": parameter,
                            "master_cf": mask_secrets(value),
                            "main_cf": mask_secrets(self.parameters.get(parameter, "")),
                            "file": f"{self.config_directory}/master.cf",
                            "line": service.line,
                        }
                    )
        return found

    def reject_unknown(self) -> list:
        found = []
        for parameter in RESTRICTION_PARAMETERS:
            for token in _tokens(self.parameters.get(parameter, "")):
                if token.startswith("reject_unknown_"):
                    found.append({"parameter": parameter, "restriction": token})
        return found

    def as_facts(self) -> dict:
        facts = {
            "source": self.source,
            "config_directory": self.config_directory,
            "parameters": {
                name: mask_secrets(self.parameters.get(name, "")) for name in IDENTITY_PARAMETERS + DNSBL_PARAMETERS
            },
            "services": [
                {
                    "service": s.label,
                    "command": s.command,
                    "chroot": s.chroot,
                    "overrides": {k: mask_secrets(v) for k, v in s.overrides.items()},
                }
                for s in self.services
            ],
            "chrooted_services": self.chrooted_services,
            "dnsbl_uses": self.dnsbl_uses(),
            "master_overrides": self.master_overrides(),
            "reject_unknown": self.reject_unknown(),
            "unexpandable_references": [
                dict(entry, reference=mask_secrets(entry["reference"])) for entry in self.unexpandable_references()
            ],
            "problems": self.problems,
        }
        for name, value in self.restriction_classes().items():
            facts["parameters"][name] = mask_secrets(value)
        return facts


def _tokens(value: str) -> list:
    return [token for token in re.split(r"[\s,]+", value or "") if token]


def _int(text: str, default: int) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def _split_filter(text: str) -> tuple:
    zone, _sep, reply_filter = text.partition("=")
    return zone, reply_filter


def _restriction_uses(
    value: str, parameter: str, scope: str, origin: dict, classes: dict, seen: tuple = (), mask: bool = True
) -> list:
    uses = []
    tokens = _tokens(value)
    warn_next = False
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token == "warn_if_reject":
            warn_next = True
            index += 1
            continue
        if token in DNSBL_RESTRICTIONS and index + 1 < len(tokens):
            kind, action = DNSBL_RESTRICTIONS[token]
            zone, reply_filter = _split_filter(tokens[index + 1])
            uses.append(
                {
                    "zone": mask_dqs_key(zone) if mask else zone,
                    "filter": reply_filter,
                    "restriction": token,
                    "kind": kind,
                    "action": "warn" if warn_next and action == "reject" else action,
                    "weight": None,
                    "parameter": parameter,
                    "scope": scope,
                    "active": True,
                    "origin": origin,
                    "dqs": zone.lower().rstrip(".").endswith(".dq.spamhaus.net"),
                    "via_class": seen[-1] if seen else None,
                }
            )
            index += 2
            warn_next = False
            continue
        if token in classes and token not in seen:
            uses += _restriction_uses(classes[token], parameter, scope, origin, classes, (*seen, token), mask)
        warn_next = False
        index += 1
    return uses


def parse_postscreen_site(site: str, mask: bool = True) -> dict:
    """`zone[=filter][*weight]` -> the parts (Postfix postscreen_dnsbl_sites syntax)."""
    body, weight = site, 1
    if "*" in site:
        body, _sep, weight_text = site.rpartition("*")
        weight = _int(weight_text, 1)
    zone, reply_filter = _split_filter(body)
    return {
        "zone": mask_dqs_key(zone) if mask else zone,
        "filter": reply_filter,
        "restriction": "postscreen_dnsbl_sites",
        "kind": "ip",
        "action": "allow" if weight < 0 else "score",
        "weight": weight,
        "dqs": zone.lower().rstrip(".").endswith(".dq.spamhaus.net"),
        "via_class": None,
    }


# -- the file parser --------------------------------------------------------------------------------


def parse_main_cf(text: str) -> tuple:
    """main.cf -> ({name: raw value}, {name: line}); the last definition wins, as in Postfix."""
    values: dict = {}
    lines: dict = {}
    current = None
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue  # comments and blank lines end nothing: a continuation may follow them
        if raw[0] in " \t":
            if current is not None:
                values[current] = (values[current] + " " + raw.strip()).lstrip()
            continue
        name, sep, value = raw.partition("=")
        name = name.strip()
        if not sep or not re.match(r"^[A-Za-z0-9_.-]+$", name):
            current = None
            continue
        values[name], lines[name], current = value.strip(), number, name
    return values, lines


_REFERENCE = re.compile(
    r"\$(?:(?P<plain>[A-Za-z0-9_]+)|\{(?P<braced>[A-Za-z0-9_]+)(?P<cond>[?:][^}]*)?\}"
    r"|\((?P<paren>[A-Za-z0-9_]+)\)|\$)"
)


def _unexpandable(value: str, chain: tuple, context: dict, known) -> list:  # type: ignore[no-untyped-def]
    """The references in `value` (reached through `chain`) that cannot expand; see unexpandable_references."""
    found: list = []
    for match in _REFERENCE.finditer(value or ""):
        name = match.group("plain") or match.group("braced") or match.group("paren")
        if name is None:
            continue  # `$$`, a literal dollar
        conditional = match.group("cond")
        via = list(chain[1:])
        if name in chain:
            cycle = (*chain[chain.index(name) :], name)
            found.append({"reference": match.group(0), "reason": "cycle: " + " -> ".join(cycle), "via": via})
        elif name in context:
            found += _unexpandable(context[name], (*chain, name), context, known)
        elif not conditional and not known(name):
            entry = {"reference": match.group(0), "reason": "undefined", "via": via}
            similar = difflib.get_close_matches(name, list(context), n=1, cutoff=0.8)
            if similar:
                entry["did_you_mean"] = "$" + similar[0]
            found.append(entry)
        # `${name?text}` uses text only when name is set; `${name:text}` only when it is empty.
        if conditional:
            defined = name in context or known(name)
            if conditional[0] == "?":
                text_used = defined
            else:
                text_used = not defined or (name in context and not context[name].strip())
            if text_used:
                found += _unexpandable(conditional[1:], chain, context, known)
    return found


def expand(value: str, values: dict, depth: int = 0, _expanding: tuple = ()) -> str:
    """Postfix `$name`, `${name}`, `$(name)`, `${name?text}`, `${name:text}` expansion.

    A name met again while it is being expanded (a cycle: `a = $b`, `b = $a`) expands to nothing
    here; Postfix refuses the whole configuration ("unreasonable macro call nesting"), which
    `unexpandable_references` reports.
    """
    if depth > 20 or "$" not in value:
        return value

    def replace(match: re.Match) -> str:
        name = match.group("plain") or match.group("braced") or match.group("paren")
        if name is None:
            return "$"
        conditional = match.group("cond")
        inner = (*_expanding, name)
        current = "" if name in _expanding else expand(values.get(name, ""), values, depth + 1, inner)
        if conditional:
            operator, text = conditional[0], conditional[1:]
            if operator == "?":
                return expand(text, values, depth + 1, _expanding) if current else ""
            return current if current else expand(text, values, depth + 1, _expanding)
        return current

    return _REFERENCE.sub(replace, value)


def parse_master_cf(text: str) -> list:
    """master.cf -> services, with their -o overrides (both `-o name=value` and `-o { name = value }`)."""
    entries: list = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw[0] in " \t" and entries:
            entries[-1][1] += " " + raw.strip()
        else:
            entries.append([number, raw.strip()])
    services = []
    for number, entry in entries:
        fields = entry.split()
        if len(fields) < 8:
            continue
        name, service_type, _private, _unpriv, chroot, _wakeup, _maxproc, command = fields[:8]
        service = Service(name, service_type, command, chroot == "y", line=number)
        arguments = " ".join(fields[8:])
        for match in re.finditer(r"-o\s+(?:\{\s*([^=}]+?)\s*=\s*([^}]*?)\s*\}|([^\s=]+)=(\S*))", arguments):
            key = (match.group(1) or match.group(3)).strip()
            service.overrides[key] = (match.group(2) if match.group(1) else match.group(4)) or ""
        services.append(service)
    return services


def config_from_files(files: HostFiles, config_directory: str = "/etc/postfix", hostname: str = "") -> PostfixConfig:
    config = PostfixConfig(source="files", config_directory=config_directory, parameters={})
    text, problem = files.read_config(f"{config_directory}/main.cf")
    if problem is not None:
        config.problems.append(problem.reason)
        text = ""
    raw, config.main_cf_lines = parse_main_cf(text or "")
    config.raw_parameters = raw
    defaults = dict(DEFAULTS)
    defaults["config_directory"] = config_directory
    defaults["myhostname"] = hostname
    merged = dict(defaults)
    merged.update(raw)
    if not merged.get("mydomain"):
        host = expand(merged.get("myhostname", ""), merged)
        merged["mydomain"] = host.split(".", 1)[1] if "." in host else "localdomain"
    # postconf -x prints an expanded value without the blanks an empty $name leaves at its end
    config.parameters = {name: expand(value, merged, 0, (name,)).strip() for name, value in merged.items()}
    master, problem = files.read_config(f"{config_directory}/master.cf")
    if problem is not None:
        config.problems.append(problem.reason)
    else:
        config.services = parse_master_cf(master or "")
        for service in config.services:
            service.raw_overrides = dict(service.overrides)
            context = dict(merged, **service.overrides)
            service.overrides = {k: expand(v, context, 0, (k,)).strip() for k, v in service.overrides.items()}
    return config


# -- postconf ---------------------------------------------------------------------------------------


def run_postconf(postconf: str, config_directory: str, *args: str) -> str:
    try:
        result = subprocess.run(
            [postconf, "-c", config_directory, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise PostconfError(f"{postconf} could not run: {error}") from error
    if result.returncode != 0:
        # Its fatal line says why; the warnings before it (one per undefined parameter) are noise.
        lines = result.stderr.strip().splitlines()
        fatal = [line for line in lines if ": fatal: " in line] or lines[-1:]
        raise PostconfError(f"postconf -c {config_directory} {' '.join(args)} failed: {' '.join(fatal)}")
    return result.stdout


def _name_values(output: str) -> dict:
    values = {}
    for line in output.splitlines():
        name, sep, value = line.partition(" = ")
        if sep:
            values[name.strip()] = value.strip()
        elif line.endswith(" ="):
            values[line[:-2].strip()] = ""
    return values


def config_from_postconf(postconf: str, files: HostFiles, config_directory: str = "/etc/postfix") -> PostfixConfig:
    parameters = _name_values(run_postconf(postconf, config_directory, "-x"))
    config = PostfixConfig(source="postconf", config_directory=config_directory, parameters=parameters)
    # Every name postconf prints is one it can expand: its built-ins, this master.cf's services' own.
    known = set(parameters)
    text, problem = files.read_config(f"{config_directory}/main.cf")
    if problem is None:
        raw, config.main_cf_lines = parse_main_cf(text or "")
        config.raw_parameters = raw
        known.update(raw)
        # postconf -x leaves out parameters it does not know (a restriction class's own helpers).
        for name, value in raw.items():
            config.parameters.setdefault(name, expand(value, dict(raw, **parameters)))
    config.known_parameters = frozenset(known)
    fields = _name_values(run_postconf(postconf, config_directory, "-F"))
    overrides = _name_values(run_postconf(postconf, config_directory, "-Px"))
    by_label: dict = {}
    for key, value in fields.items():
        name, _sep, rest = key.partition("/")
        service_type, _sep, field_name = rest.partition("/")
        by_label.setdefault((name, service_type), {})[field_name] = value
    # master.cf as written: the line of each service, and its -o values before expansion.
    master, problem = files.read_config(f"{config_directory}/master.cf")
    written = {(s.name, s.type): s for s in parse_master_cf(master or "")} if problem is None else {}
    for (name, service_type), values in by_label.items():
        in_file = written.get((name, service_type))
        service = Service(
            name,
            service_type,
            values.get("command", "").split()[0] if values.get("command") else "",
            values.get("chroot") == "y",
            line=in_file.line if in_file is not None else 0,
        )
        prefix = f"{name}/{service_type}/"
        service.overrides = {k[len(prefix) :]: v for k, v in overrides.items() if k.startswith(prefix)}
        if in_file is not None:
            service.raw_overrides = {k: v for k, v in in_file.overrides.items() if k in service.overrides}
        config.services.append(service)
    return config


def read_postfix(
    files: HostFiles, postconf: str | None, config_directory: str = "/etc/postfix", hostname: str = ""
) -> PostfixConfig:
    """Postfix's configuration through postconf when it is there, through the file parser otherwise."""
    if postconf:
        try:
            return config_from_postconf(postconf, files, config_directory)
        except PostconfError as error:
            config = config_from_files(files, config_directory, hostname)
            config.problems.append(f"{error}; read the files directly instead")
            return config
    return config_from_files(files, config_directory, hostname)
