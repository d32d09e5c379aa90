# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DNSBL policy as a plan: from the host model and the DNSBL catalog to postconf changes and files.

Private to the collection. Runs on managed hosts: Python 3.8 syntax. Pure: reads nothing, runs
nothing; `plan_dnsbl_policy(postfix, options, spamassassin)` only looks at the models the audit read.

Each change is made where the setting is written: a main.cf parameter (a restriction list, a
restriction class, a `$name` helper a list refers to, postscreen_dnsbl_sites) with `postconf -e`, a
master.cf `-o` override with `postconf -P` on that service. Values are edited as written, token by
token, so `$name` references, the other restrictions and their order stay as they were.

Rules (roles/dnsbl_policy, issue 11):
- every DNSBL use gets the catalog's reply filter where it has none, where its filter admits the
  list's error answers (127.255.255.x), or where it admits none of the list's listing codes;
  `warn_if_reject` uses only log, and are left as they are (but retired lists go, DQS names apply);
- retired lists are removed; a misspelled zone is corrected only with `correct_misspelled`;
- with a DQS key the Spamhaus zones become their DQS names (`<key>.zen.dq.spamhaus.net`, ...) and
  `rbl_reply_maps` / `postscreen_dnsbl_reply_map` name the public zone in SMTP replies instead;
  DQS zones already configured get the same reply maps when nothing hides them;
- fallback lists (active, free, IP lists from the catalog) are added, each filtered: as postscreen
  sites where postscreen runs, with weights and a threshold so that no single list rejects alone,
  else as `reject_rbl_client` next to the lists already there;
- `warn_if_reject` rules for each list's error range, so that error answers are logged;
- SpamAssassin: the DQS key in place of the `your_DQS_key` placeholder, or a rule file of DQS
  names where the host has none; its dnsblock_* files removed so that it queries again.

A host whose rules are right gets an empty plan. `Plan.as_dict()` and `Plan.commands()` mask the
key; `Plan.parameters()` and the file contents hold it, for no_log tasks only.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from ansible_collections.maildns.audit.plugins.module_utils import dnsbl_catalog
from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_catalog import (
    CATALOG,
    DQS_SUFFIX,
    filter_matches,
    is_dqs_zone,
    lookup,
    mask_secrets,
    near_miss,
    normalise_zone,
    under_dqs_name,
)
from ansible_collections.maildns.audit.plugins.module_utils.postfix_config import (
    DNSBL_RESTRICTIONS,
    RESTRICTION_PARAMETERS,
    PostfixConfig,
)
from ansible_collections.maildns.audit.plugins.module_utils.spamassassin_config import (
    DQS_PLACEHOLDER,
    SpamAssassinConfig,
)

RBL_REPLY_MAP_NAME = "maildns_rbl_reply"
POSTSCREEN_REPLY_MAP_NAME = "maildns_postscreen_dnsbl_reply"
SPAMASSASSIN_DQS_FILE = "maildns_dqs.cf"
SITES = "postscreen_dnsbl_sites"
_DQS_KEY = re.compile(r"^[A-Za-z0-9]{8,64}$")
_REFERENCE = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|\(([A-Za-z0-9_]+)\)|([A-Za-z0-9_]+))")
_SEPARATORS = " \t,"
# Restrictions that end a list: what follows them is never evaluated.
_TERMINAL = ("permit", "reject", "defer", "defer_if_permit", "defer_if_reject", "reject_unauth_destination")
REPLY_TEMPLATE = (
    "$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using {zone}${{rbl_reason?; $rbl_reason}}"
)


class PolicyError(ValueError):
    """Options the policy cannot follow; the message says which and why (never the key itself)."""


@dataclass(frozen=True)
class PolicyOptions:
    dqs_key: str | None = None
    fallback_lists: tuple = ()
    correct_misspelled: bool = False
    warn_if_reject: bool = False
    rbl_reply_map: str = ""  # default: <config_directory>/maildns_rbl_reply (texthash)
    postscreen_reply_map: str = ""  # default: <config_directory>/maildns_postscreen_dnsbl_reply (texthash)
    spamassassin_file: str = ""  # default: <site_directory>/maildns_dqs.cf
    spamassassin_group: str = ""  # default: debian-spamd in /etc/spamassassin (Debian), else root


@dataclass
class PostconfStep:
    """One `postconf` change: a main.cf parameter (service None) or a master.cf service's `-o`."""

    name: str
    value: str | None  # None: remove the parameter
    service: str | None = None
    before: str | None = None
    reasons: list = field(default_factory=list)
    findings: list = field(default_factory=list)

    @property
    def file(self) -> str:
        return "master.cf" if self.service else "main.cf"

    def parameter(self) -> dict:
        """The change as maildns.audit.postconf takes it in `parameters` (unmasked: no_log only)."""
        return {
            "name": self.name,
            "value": self.value,
            "state": "absent" if self.value is None else "present",
            "service": self.service,
        }

    def argv(self, postconf: str = "postconf", config_directory: str = "/etc/postfix") -> list:
        label = f"{self.service}/{self.name}" if self.service else self.name
        if self.value is None:
            return [postconf, "-c", config_directory, "-PX" if self.service else "-X", label]
        return [postconf, "-c", config_directory, "-P" if self.service else "-e", f"{label}={self.value}"]

    def as_dict(self, mask) -> dict:  # type: ignore[no-untyped-def]
        return {
            "file": self.file,
            "service": self.service,
            "name": self.name,
            "before": mask(self.before),
            "value": mask(self.value),
            "reasons": [mask(reason) for reason in self.reasons],
            "findings": sorted(set(self.findings)),
        }


@dataclass
class FileStep:
    """A file the policy owns, with its whole content."""

    path: str
    content: str
    mode: str = "0644"
    owner: str = "root"
    group: str = "root"
    secret: bool = False
    reason: str = ""
    findings: list = field(default_factory=list)

    def as_dict(self, mask) -> dict:  # type: ignore[no-untyped-def]
        return {
            "path": self.path,
            "content": mask(self.content),
            "mode": self.mode,
            "owner": self.owner,
            "group": self.group,
            "secret": self.secret,
            "reason": mask(self.reason),
            "findings": sorted(set(self.findings)),
        }


@dataclass
class ReplaceStep:
    """Replace every `old` by `new` in an existing file (the DQS placeholder by the key)."""

    path: str
    old: str
    new: str
    reason: str = ""
    findings: list = field(default_factory=list)

    def as_dict(self, mask) -> dict:  # type: ignore[no-untyped-def]
        return {
            "path": self.path,
            "old": mask(self.old),
            "new": mask(self.new),
            "reason": mask(self.reason),
            "findings": sorted(set(self.findings)),
        }


@dataclass
class RemoveStep:
    path: str
    reason: str = ""
    findings: list = field(default_factory=list)

    def as_dict(self, mask) -> dict:  # type: ignore[no-untyped-def]
        return {"path": self.path, "reason": mask(self.reason), "findings": sorted(set(self.findings))}


@dataclass
class Plan:
    config_directory: str = "/etc/postfix"
    postconf: list = field(default_factory=list)  # [PostconfStep], in the order to apply
    files: list = field(default_factory=list)  # [FileStep]
    replacements: list = field(default_factory=list)  # [ReplaceStep]
    removals: list = field(default_factory=list)  # [RemoveStep]
    notes: list = field(default_factory=list)  # what the policy reports but does not change (masked)
    secrets: tuple = ()  # DQS keys met or given: masked in every rendering

    @property
    def empty(self) -> bool:
        return not (self.postconf or self.files or self.replacements or self.removals)

    def mask(self, text: str | None) -> str | None:
        if text is None:
            return None
        for secret in self.secrets:
            text = text.replace(secret, "<DQS key>")
        return mask_secrets(text)

    def parameters(self) -> list:
        """For maildns.audit.postconf `parameters` (holds the key: no_log)."""
        return [step.parameter() for step in self.postconf]

    def argv(self, postconf: str = "postconf") -> list:
        return [step.argv(postconf, self.config_directory) for step in self.postconf]

    def commands(self, postconf: str = "postconf") -> list:
        """The postconf commands as shell lines, key masked: what a report or a preview prints."""
        return [self.mask(" ".join(shlex.quote(part) for part in argv)) for argv in self.argv(postconf)]

    def findings_fixed(self) -> list:
        steps = self.postconf + self.files + self.replacements + self.removals
        return sorted({finding for step in steps for finding in step.findings})

    def as_dict(self) -> dict:
        return {
            "empty": self.empty,
            "config_directory": self.config_directory,
            "postconf": [step.as_dict(self.mask) for step in self.postconf],
            "commands": self.commands(),
            "files": [step.as_dict(self.mask) for step in self.files],
            "replacements": [step.as_dict(self.mask) for step in self.replacements],
            "removals": [step.as_dict(self.mask) for step in self.removals],
            "notes": [self.mask(note) for note in self.notes],
            "findings_fixed": self.findings_fixed(),
        }


# -- Postfix list values, as written -----------------------------------------------------------------


def split_list(value: str) -> list:
    """A Postfix list value -> [[separator, token], ...]; `{ ... }` groups stay one token."""
    items: list = []
    index, length = 0, len(value or "")
    while index < length:
        start = index
        while index < length and value[index] in _SEPARATORS:
            index += 1
        separator = value[start:index]
        if index >= length:
            break
        begin, depth = index, 0
        while index < length:
            char = value[index]
            if char == "{":
                depth += 1
            elif char == "}":
                depth = max(0, depth - 1)
            elif depth == 0 and char in _SEPARATORS:
                break
            index += 1
        items.append([separator, value[begin:index]])
    return items


def join_list(items: list) -> str:
    return "".join((separator if position else "") + token for position, (separator, token) in enumerate(items))


@dataclass
class _Written:
    """One list value as written: a main.cf parameter or a service's `-o`, and what the plan does to it."""

    name: str
    service: str | None  # None: main.cf
    kind: str  # "restrictions", "sites", or "zone" (a parameter a restriction names as `$name`)
    raw: str
    restriction: str = ""  # for kind "zone": the restriction that uses it
    items: list = field(default_factory=list)
    reasons: list = field(default_factory=list)
    findings: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.items = split_list(self.raw)
        self.original = join_list(split_list(self.raw))

    @property
    def in_master(self) -> bool:
        return self.service is not None

    def item_separator(self) -> str:
        if self.in_master:
            return ","
        if self.kind == "sites" and "," not in self.raw:
            return " "
        return ", "

    def argument_separator(self) -> str:
        return "," if self.in_master else " "

    def value(self) -> str:
        return join_list(self.items)

    def changed(self) -> bool:
        return self.value() != self.original

    def note(self, reason: str, findings: tuple = ()) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)
        self.findings += [finding for finding in findings if finding not in self.findings]

    def insert(self, position: int, tokens: list) -> None:
        """Insert tokens (a restriction and its argument, or a site) as new list elements at `position`."""
        new = []
        for offset, token in enumerate(tokens):
            if offset == 0:
                separator = self.item_separator()
            elif tokens[offset - 1] in DNSBL_RESTRICTIONS or tokens[offset - 1] == "warn_if_reject":
                separator = self.argument_separator()
            else:
                separator = self.item_separator()
            new.append([separator, token])
        if position == 0 and self.items:
            self.items[0][0] = self.item_separator()
        self.items[position:position] = new

    def remove(self, start: int, end: int) -> None:
        del self.items[start:end]


@dataclass
class _Use:
    """A DNSBL reference in a written list: where its tokens are and what they say."""

    written: _Written
    start: int  # first token (warn_if_reject when warned)
    zone_index: int
    restriction: str  # the restriction, or postscreen_dnsbl_sites
    warned: bool
    zone: str
    reply_filter: str
    weight: str | None  # the "*N" of a postscreen site, as written

    @property
    def token(self) -> str:
        text = self.zone + (f"={self.reply_filter}" if self.reply_filter else "")
        return text + (f"*{self.weight}" if self.weight is not None else "")


def _parse_site(token: str) -> tuple:
    body, weight = token, None
    if "*" in token:
        body, _sep, weight = token.rpartition("*")
    zone, _sep, reply_filter = body.partition("=")
    return zone, reply_filter, weight


def _uses(written: _Written) -> list:
    found = []
    items = written.items
    if written.kind == "zone":
        if len(items) == 1:
            zone, _sep, reply_filter = items[0][1].partition("=")
            found.append(_Use(written, 0, 0, written.restriction, False, zone, reply_filter, None))
        return found
    if written.kind == "sites":
        for index, (_sep, token) in enumerate(items):
            zone, reply_filter, weight = _parse_site(token)
            found.append(_Use(written, index, index, SITES, False, zone, reply_filter, weight))
        return found
    index = 0
    while index < len(items):
        warned = items[index][1] == "warn_if_reject"
        at = index + 1 if warned else index
        if at + 1 < len(items) and items[at][1] in DNSBL_RESTRICTIONS:
            zone, _sep, reply_filter = items[at + 1][1].partition("=")
            found.append(_Use(written, index, at + 1, items[at][1], warned, zone, reply_filter, None))
            index = at + 2
            continue
        index += 1
    return found


# -- the rules ------------------------------------------------------------------------------------------


def _validate(options: PolicyOptions) -> None:
    if options.dqs_key is not None and not _DQS_KEY.match(options.dqs_key):
        raise PolicyError(
            "dqs_key is not a Spamhaus DQS key: a key is 8 to 64 letters and digits, as the Spamhaus portal shows it "
            "(the key itself is not repeated here)"
        )
    for zone in options.fallback_lists:
        entry = CATALOG.get(normalise_zone(zone))
        if entry is None:
            raise PolicyError(
                f"fallback list {zone} is not in the DNSBL catalog (docs/DNSBLS.md): choose one listed there"
            )
        if entry.status != "active":
            raise PolicyError(f"fallback list {zone} is {entry.status.replace('_', ' ')}: choose an active, free list")
        if entry.kind != "ip":
            raise PolicyError(f"fallback list {zone} lists domains: postscreen and reject_rbl_client need an IP list")
        if entry.operator == "Spamhaus":
            raise PolicyError(f"fallback list {zone} is Spamhaus: fallbacks are other operators' lists")


def _error_filters(entry: dnsbl_catalog.Dnsbl) -> list:
    """The list's error answers as Postfix filters, one per network (127.255.255.[252;254;255])."""
    groups: dict = {}
    # An error inside the listing codes' own network (DBL's 127.0.1.255: an IP asked of a domain
    # list) means a misused restriction, not a failing resolver: no rule for it.
    listing_networks = {code.rpartition(".")[0] for code in _concrete_codes(entry)}
    for code in sorted(entry.errors, key=lambda text: [int(part) for part in text.split(".")]):
        network, _sep, last = code.rpartition(".")
        if network not in listing_networks:
            groups.setdefault(network, []).append(last)
    return [
        f"{network}.{lasts[0]}" if len(lasts) == 1 else f"{network}.[{';'.join(lasts)}]"
        for network, lasts in groups.items()
    ]


def _concrete_codes(entry: dnsbl_catalog.Dnsbl) -> list:
    return [code for code in entry.codes if "[" not in code]


def _is_error_rule(entry: dnsbl_catalog.Dnsbl, reply_filter: str) -> bool:
    """A filter that admits error answers and no listing: a warn_if_reject rule for the errors."""
    if not reply_filter or not entry.errors:
        return False
    admits_error = any(filter_matches(reply_filter, code) for code in entry.errors)
    admits_listing = any(filter_matches(reply_filter, code) for code in _concrete_codes(entry))
    return admits_error and not admits_listing


def _filter_problem(entry: dnsbl_catalog.Dnsbl, reply_filter: str) -> tuple:
    """(reason, findings) when the filter must be replaced by the catalog's, else (None, [])."""
    is_dbl = entry.zone == "dbl.spamhaus.org"
    if not reply_filter:
        return "no reply filter: error answers count as listings", [
            "DBL_WITHOUT_FILTER" if is_dbl else "DNSBL_NO_REPLY_FILTER"
        ]
    admitted = [code for code in entry.errors if filter_matches(reply_filter, code)]
    if any(filter_matches(reply_filter, code) is None for code in list(entry.errors) + _concrete_codes(entry)):
        return None, []
    if admitted:
        return (
            f"filter {reply_filter} admits the error answers {', '.join(sorted(admitted))}",
            ["DBL_WITHOUT_FILTER" if is_dbl else "DNSBL_FILTER_ADMITS_ERROR_CODES"],
        )
    codes = _concrete_codes(entry)
    if codes and not any(filter_matches(reply_filter, code) for code in codes):
        return f"filter {reply_filter} admits none of the list's listing codes", [
            "DBL_WITHOUT_FILTER"
        ] if is_dbl else []
    return None, []


def _dqs_name(entry: dnsbl_catalog.Dnsbl, key: str) -> str:
    return entry.dqs_zone.replace("<key>", key)


def _correction(zone: str, options: PolicyOptions) -> tuple:
    """(corrected zone, reason) for a zone the catalog does not know, or (None, note)."""
    name = normalise_zone(zone)
    labels = name.split(".")
    if options.dqs_key and under_dqs_name(name) and len(labels) >= 5:
        entry = CATALOG.get(labels[-4] + ".spamhaus.org")
        if entry is not None:
            return _dqs_name(entry, options.dqs_key), f"{zone} is a DQS name under the wrong domain: {DQS_SUFFIX}"
    guess = near_miss(name)
    if guess is None:
        return None, f"{zone} is not in the DNSBL catalog: its reply filter is unknown, left as it is"
    if guess.startswith("<DQS key>."):
        guess = ".".join(labels[:-4]) + "." + labels[-4] + "." + DQS_SUFFIX
    if not options.correct_misspelled:
        return (
            None,
            f"{zone} looks misspelled ({dnsbl_catalog.mask_dqs_key(guess)}?): not corrected (correct_misspelled)",
        )
    return guess, f"{zone} is misspelled: corrected to {guess}"


class _Planner:
    def __init__(self, config: PostfixConfig, options: PolicyOptions) -> None:
        self.config = config
        self.options = options
        self.notes: list = []
        self.written: list = []
        self.extra: dict = {}  # (service, name) -> (value, reasons, findings): parameters outside the lists
        self.secrets: set = set()
        if options.dqs_key:
            self.secrets.add(options.dqs_key)
        deciding = set()
        for use in config.dnsbl_uses(mask=False):
            entry = lookup(use["zone"])
            retired = entry is not None and entry.status == "retired"
            if use.get("active", True) and use["action"] in ("reject", "score") and not retired:
                deciding.add(normalise_zone(use["zone"]))
        # Fallback lists fix DNSBL_SINGLE_LIST only where one list decided alone.
        self.single = ("DNSBL_SINGLE_LIST",) if len(deciding) == 1 else ()

    # -- what is written where -------------------------------------------------------------------------
    def collect(self) -> None:
        config = self.config
        classes = list(config.restriction_classes())
        roots = [(name, "restrictions") for name in (*RESTRICTION_PARAMETERS, *classes)] + [(SITES, "sites")]
        kinds = dict(roots)
        queue = [(name, kind) for name, kind in roots if name in config.raw_parameters]
        for service in config.services:
            for name, value in service.raw_overrides.items():
                if name in kinds:
                    self._add(_Written(name, service.label, kinds[name], value))
                    queue += [(ref, kinds[name]) for ref in _references(value)]
        seen: set = set()
        while queue:
            name, kind = queue.pop(0)
            if name in seen or name not in config.raw_parameters:
                continue
            seen.add(name)
            raw = config.raw_parameters[name]
            self._add(_Written(name, None, kind, raw))
            queue += [(ref, kind) for ref in _references(raw)]

    def _add(self, written: _Written) -> None:
        self.written.append(written)
        for use in _uses(written):
            if under_dqs_name(use.zone):
                key = ".".join(normalise_zone(use.zone).split(".")[:-4])
                if key:
                    self.secrets.add(key)

    # -- filters, retired lists, misspellings, DQS names --------------------------------------------------
    def fix_uses(self) -> None:
        for written in self.written:
            for use in reversed(_uses(written)):  # from the end: removals keep earlier indexes
                self._fix(use)

    def _fix(self, use: _Use) -> None:
        written, options = use.written, self.options
        where = _where(written)
        if use.zone.startswith("$"):
            self._fix_indirect(use, where)
            return
        entry = lookup(use.zone)
        zone = use.zone
        if entry is None:
            corrected, reason = _correction(use.zone, options)
            if corrected is None:
                self.notes.append(f"{where}: {reason}")
                return
            zone, entry = corrected, lookup(corrected)
            written.note(reason, ("DNSBL_MISSPELLED",))
            if entry is None:
                return
        if entry.status == "retired":
            written.remove(use.start, use.zone_index + 1)
            if use.start == 0 and written.items:
                written.items[0][0] = ""
            written.note(f"{use.zone} removed: retired ({entry.history})", ("DNSBL_RETIRED",))
            return
        reply_filter = use.reply_filter
        if options.dqs_key and entry.operator == "Spamhaus" and entry.dqs_zone:
            dqs = _dqs_name(entry, options.dqs_key)
            if normalise_zone(zone) != dqs.lower():
                written.note(f"{entry.zone} queried as its DQS zone {dqs}")
                zone = dqs
        if use.warned and _is_error_rule(entry, reply_filter):
            pass  # a warn_if_reject rule for the error answers: exactly what it should be
        elif not use.warned:
            reason, findings = _filter_problem(entry, reply_filter)
            if reason is not None:
                reply_filter = entry.reply_filter
                written.note(f"{zone}: {reason}; filter {entry.reply_filter} from the catalog", tuple(findings))
            elif reply_filter and any(filter_matches(reply_filter, c) is None for c in entry.errors):
                self.notes.append(f"{where}: {zone}={reply_filter} is a filter this policy cannot read: left as it is")
        new = _Use(written, use.start, use.zone_index, use.restriction, use.warned, zone, reply_filter, use.weight)
        if new.token != written.items[use.zone_index][1]:
            written.items[use.zone_index][1] = new.token

    def _fix_indirect(self, use: _Use, where: str) -> None:
        """`reject_rbl_client $name`: the zone is written in parameter `name`; fix it there."""
        names = _references(use.zone)
        raw = self.config.raw_parameters.get(names[0]) if len(names) == 1 else None
        if raw is None or len(split_list(raw)) != 1 or "$" in raw or use.reply_filter or use.warned:
            self.notes.append(
                f"{where}: {use.restriction} {use.zone} names its zone through a parameter: left as it is"
            )
            return
        written = next((w for w in self.written if w.name == names[0] and not w.in_master), None)
        if written is None:
            written = _Written(names[0], None, "zone", raw, restriction=use.restriction)
            self.written.append(written)
        written.kind, written.restriction = "zone", use.restriction
        (target,) = _uses(written)
        entry = lookup(target.zone)
        if entry is not None and entry.status == "retired":
            use.written.remove(use.start, use.zone_index + 1)
            use.written.note(f"{target.zone} (from ${names[0]}) removed: retired ({entry.history})", ("DNSBL_RETIRED",))
            return
        self._fix(target)

    # -- warn_if_reject rules for the error answers --------------------------------------------------------
    def add_warn_rules(self) -> None:
        if not self.options.warn_if_reject:
            return
        if any(w.kind == "sites" and _uses(w) for w in self.written):
            self.notes.append("postscreen has no warn_if_reject: the error answers of its DNSBL sites are not logged")
        for written in self.written:
            if written.kind != "restrictions":
                continue
            uses = _uses(written)
            present = {(u.restriction, normalise_zone(u.zone), u.reply_filter) for u in uses if u.warned}
            for use in reversed(uses):
                entry = lookup(use.zone)
                if (
                    use.warned
                    or entry is None
                    or entry.status == "retired"
                    or not use.restriction.startswith("reject_")
                ):
                    continue
                rules = []
                for error_filter in _error_filters(entry):
                    if (use.restriction, normalise_zone(use.zone), error_filter) not in present:
                        rules += ["warn_if_reject", use.restriction, f"{use.zone}={error_filter}"]
                        present.add((use.restriction, normalise_zone(use.zone), error_filter))
                if rules:
                    written.insert(use.start, rules)
                    written.note(
                        f"{use.zone}: warn_if_reject rules log its error answers ({', '.join(sorted(entry.errors))})"
                    )

    # -- fallback lists ----------------------------------------------------------------------------------
    def add_fallbacks(self) -> None:
        fallbacks = [CATALOG[normalise_zone(zone)] for zone in self.options.fallback_lists]
        if not fallbacks:
            return
        if self.config.postscreen_services:
            self._fallbacks_postscreen(fallbacks)
        elif self.config.receives_from_network:
            self._fallbacks_smtpd(fallbacks)
        else:
            self.notes.append("no SMTP service here takes mail from other hosts: no fallback lists added")

    def _fallbacks_postscreen(self, fallbacks: list) -> None:
        config = self.config
        site_lists = [w for w in self.written if w.kind == "sites" and w.name == SITES]
        main_used = any(SITES not in s.raw_overrides for s in config.postscreen_services)
        if main_used and not any(not w.in_master for w in site_lists):
            created = _Written(SITES, None, "sites", "")
            self.written.append(created)
            site_lists.append(created)
        for written in site_lists:
            if written.in_master and written.service not in {s.label for s in config.postscreen_services}:
                continue
            if not written.in_master and not main_used:
                continue
            used = {normalise_zone(u.zone) for u in _uses(written)}
            for entry in fallbacks:
                if entry.zone not in used:
                    written.insert(len(written.items), [f"{entry.zone}={entry.reply_filter}*1"])
                    written.note(f"fallback list {entry.zone} added with weight 1", self.single)
            self._balance(written)

    def _balance(self, written: _Written) -> None:
        """Weights and threshold so that no single list reaches the threshold, and two lists can."""
        service = None
        if written.in_master:
            service = next(s for s in self.config.services if s.label == written.service)
        threshold = _int(self.config.value("postscreen_dnsbl_threshold", service), 1)
        uses = _uses(written)
        positive = [u for u in uses if u.weight is None or _int(u.weight, 1) > 0]
        if len(positive) < 2:
            return
        wanted = max(threshold, 2)
        for use in positive:
            weight = _int(use.weight, 1) if use.weight is not None else 1
            if weight >= wanted:
                new = _Use(
                    written, use.start, use.zone_index, SITES, False, use.zone, use.reply_filter, str(wanted - 1)
                )
                written.items[use.zone_index][1] = new.token
                written.note(
                    f"{use.zone} weight {weight} lowered to {wanted - 1}: at threshold {wanted} no list rejects alone",
                    self.single,
                )
        if wanted != threshold:
            self.extra[(written.service, "postscreen_dnsbl_threshold")] = (
                str(wanted),
                [f"threshold {wanted}: two lists must agree before postscreen rejects"],
                list(self.single),
            )

    def _fallbacks_smtpd(self, fallbacks: list) -> None:
        scopes: dict = {}
        for written in self.written:
            if written.kind == "restrictions":
                scopes.setdefault(written.service, []).append(written)
        if None not in scopes:
            scopes[None] = []
        for service, lists in scopes.items():
            used = {normalise_zone(u.zone) for w in lists for u in _uses(w)}
            missing = [entry for entry in fallbacks if entry.zone not in used]
            if not missing:
                continue
            target, position = self._smtpd_position(service, lists)
            if target is None:
                continue
            tokens: list = []
            for entry in missing:
                tokens += ["reject_rbl_client", f"{entry.zone}={entry.reply_filter}"]
            target.insert(position, tokens)
            names = ", ".join(entry.zone for entry in missing)
            target.note(f"fallback lists {names} added, each filtered", self.single)

    def _smtpd_position(self, service: str | None, lists: list) -> tuple:
        """Where fallback reject_rbl_client go: after the last one already there, else in smtpd_client_restrictions."""
        for written in lists:
            ip_uses = [u for u in _uses(written) if u.restriction == "reject_rbl_client" and not u.warned]
            if ip_uses:
                return written, ip_uses[-1].zone_index + 1
        if service is not None:
            return None, 0  # a service without its own DNSBL list uses main.cf's
        written = next((w for w in lists if w.name == "smtpd_client_restrictions" and not w.in_master), None)
        if written is None:
            written = _Written("smtpd_client_restrictions", None, "restrictions", "")
            self.written.append(written)
        if not written.items:
            written.insert(0, ["permit_mynetworks", "permit_sasl_authenticated"])
        position = len(written.items)
        if written.items[-1][1] in _TERMINAL:
            position -= 1
        return written, position

    # -- DQS keys out of SMTP replies ------------------------------------------------------------------------
    def hide_dqs(self, plan: Plan) -> None:
        config = self.config
        restriction_tokens: list = []
        site_zones: list = []
        changed_restrictions = changed_sites = False
        for written in self.written:
            old = _replying_dqs(_uses(_Written(written.name, written.service, written.kind, written.raw)))
            new = _replying_dqs(_uses(written))
            if written.kind == "sites":
                site_zones += [u.zone for u in new if u.zone not in site_zones]
                changed_sites |= sorted(u.zone for u in old) != sorted(u.zone for u in new)
            else:
                tokens = [f"{u.zone}={u.reply_filter}" if u.reply_filter else u.zone for u in new]
                restriction_tokens += [t for t in tokens if t not in restriction_tokens]
                old_tokens = [f"{u.zone}={u.reply_filter}" if u.reply_filter else u.zone for u in old]
                changed_restrictions |= sorted(old_tokens) != sorted(tokens)
        directory = config.config_directory
        if restriction_tokens:
            path = self.options.rbl_reply_map or f"{directory}/{RBL_REPLY_MAP_NAME}"
            lines = []
            for token in restriction_tokens:
                entry = lookup(token.partition("=")[0])
                public = entry.zone if entry is not None else "a Spamhaus DQS zone"
                lines.append(f"{token} {REPLY_TEMPLATE.format(zone=public)}")
            if self._hide("rbl_reply_maps", path, changed_restrictions, multiple=True):
                plan.files.append(
                    _map_file(path, lines, "smtpd's reject replies name the public zone, not the DQS key")
                )
        if site_zones:
            path = self.options.postscreen_reply_map or f"{directory}/{POSTSCREEN_REPLY_MAP_NAME}"
            lines = []
            for zone in site_zones:
                entry = lookup(zone)
                lines.append(f"{zone} {entry.zone if entry is not None else 'dq.spamhaus.net'}")
            if self._hide("postscreen_dnsbl_reply_map", path, changed_sites, multiple=False):
                plan.files.append(
                    _map_file(path, lines, "postscreen's reject replies name the public zone, not the DQS key")
                )

    def _hide(self, parameter: str, path: str, zones_changed: bool, multiple: bool) -> bool:
        """Point `parameter` at the policy's map where the DQS zones are not hidden yet; True: write the map."""
        config = self.config
        ours = f"texthash:{path}"
        scopes = [(None, config.raw_parameters.get(parameter))]
        scopes += [(s.label, s.raw_overrides[parameter]) for s in config.services if parameter in s.raw_overrides]
        wrote = False
        for service, current in scopes:
            explicit = current is not None and current.strip() != ""
            if explicit and ours in current:
                wrote = wrote or zones_changed
                continue
            if explicit and not zones_changed:
                continue  # the admin's own map hides these zones already
            value = ours + ("," if service else ", ") + current.strip() if explicit and multiple else ours
            if explicit and not multiple:
                self.notes.append(
                    f"{parameter} was {current.strip()}: replaced by {ours}; move the old map's other entries there"
                )
            self.extra[(service, parameter)] = (
                value,
                [f"{parameter} names the public zones in SMTP replies: the DQS key stays out of them"],
                ["DQS_KEY_EXPOSED_IN_SMTP_REPLY"],
            )
            wrote = True
        return wrote

    # -- the steps -----------------------------------------------------------------------------------------
    def steps(self) -> list:
        steps = []
        config = self.config
        for written in self.written:
            if not written.changed():
                continue
            current = (
                config.raw_parameters.get(written.name)
                if not written.in_master
                else next(s for s in config.services if s.label == written.service).raw_overrides.get(written.name)
            )
            steps.append(
                PostconfStep(written.name, written.value(), written.service, current, written.reasons, written.findings)
            )
        for (service, name), (value, reasons, findings) in self.extra.items():
            if service is None:
                current = config.raw_parameters.get(name)
            else:
                current = next(s for s in config.services if s.label == service).raw_overrides.get(name)
            if current is not None and current.strip() == value:
                continue
            steps.append(PostconfStep(name, value, service, current, reasons, findings))
        lines = config.main_cf_lines
        services = [s.label for s in config.services]
        steps.sort(
            key=lambda step: (
                step.service is not None,
                services.index(step.service) if step.service in services else 0,
                lines.get(step.name, 10**6) if step.service is None else 0,
            )
        )
        return steps


def _replying_dqs(uses: list) -> list:
    """The DQS uses whose zone a reject reply (or, under warn_if_reject, its log line) would name."""
    return [u for u in uses if is_dqs_zone(u.zone) and u.restriction.startswith(("reject_", SITES))]


def _where(written: _Written) -> str:
    return f"master.cf {written.service} -o {written.name}" if written.in_master else f"main.cf {written.name}"


def _references(value: str) -> list:
    return [next(group for group in match.groups() if group) for match in _REFERENCE.finditer(value or "")]


def _int(text: str | None, default: int) -> int:
    try:
        return int(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def _map_file(path: str, lines: list, reason: str) -> FileStep:
    header = [
        "# Written by maildns.audit (role maildns.audit.dnsbl_policy); changes here are overwritten.",
        "# texthash: Postfix reads it at start and reload, no postmap needed. Holds the DQS key:",
        "# readable by root and Postfix only.",
    ]
    return FileStep(
        path,
        "\n".join(header + lines) + "\n",
        mode="0640",
        owner="root",
        group="postfix",
        secret=True,
        reason=reason,
        findings=["DQS_KEY_EXPOSED_IN_SMTP_REPLY"],
    )


# -- SpamAssassin ---------------------------------------------------------------------------------------------


def spamassassin_dqs_rules(key: str, version: str = "4") -> str:
    """A SpamAssassin rule file that points the stock Spamhaus rules at the DQS zones of `key`.

    Same rule names as SpamAssassin's own (20_dnsbl_tests.cf, 25_uribl.cf), so their scores apply;
    the site directory is read after the stock rules, so these definitions win. SpamAssassin 4
    also gets its *_BLOCKED rules pointed at DQS (which never answers them), so that nothing asks
    the public mirrors any more.
    """
    zen = f"{key}.zen.dq.spamhaus.net."
    dbl = f"{key}.dbl.dq.spamhaus.net."
    major = _int(version.split(".")[0] if version else "4", 4)
    last = "eval:check_rbl('zen-lastexternal'"
    lines = [
        "# Spamhaus DQS for SpamAssassin: written by maildns.audit (role maildns.audit.dnsbl_policy).",
        "# The stock Spamhaus rules, redefined to ask the DQS zones of this host's key instead of the",
        "# public mirrors. Holds the key: readable by root and the SpamAssassin user only.",
        "",
        f"header   __RCVD_IN_ZEN   eval:check_rbl('zen', '{zen}')",
        "tflags   __RCVD_IN_ZEN   net",
        f"header   RCVD_IN_XBL     eval:check_rbl('zen-lastexternal', '{zen}', '^127\\.0\\.0\\.[4567]$')",
        "tflags   RCVD_IN_XBL     net",
        f"header   RCVD_IN_PBL     eval:check_rbl('zen-lastexternal', '{zen}', '^127\\.0\\.0\\.1[01]$')",
        "tflags   RCVD_IN_PBL     net",
    ]
    if major >= 4:
        lines += [
            f"header RCVD_IN_ZEN_BLOCKED_OPENDNS {last}, '{zen}', '^127\\.255\\.255\\.254$')",
            f"header RCVD_IN_ZEN_BLOCKED {last}, '{zen}', '^127\\.255\\.255\\.255$')",
        ]
    lines += [
        "",
        "ifplugin Mail::SpamAssassin::Plugin::URIDNSBL",
        f"  uridnssub URIBL_SBL          {zen} A 127.0.0.2",
        f"  uridnssub URIBL_CSS          {zen} A 127.0.0.3",
        f"  urirhssub URIBL_DBL_SPAM     {dbl} A 127.0.1.2",
        f"  urirhssub URIBL_DBL_PHISH    {dbl} A 127.0.1.4",
        f"  urirhssub URIBL_DBL_MALWARE  {dbl} A 127.0.1.5",
        f"  urirhssub URIBL_DBL_BOTNETCC {dbl} A 127.0.1.6",
    ]
    if major >= 4:
        lines += [
            f"  urirhssub URIBL_DBL_ABUSE_SPAM  {dbl} A 127.0.1.102",
            f"  urirhssub URIBL_DBL_ABUSE_REDIR {dbl} A 127.0.1.103",
            f"  urirhssub URIBL_DBL_ABUSE_PHISH {dbl} A 127.0.1.104",
            f"  urirhssub URIBL_DBL_ABUSE_MALW  {dbl} A 127.0.1.105",
            f"  urirhssub URIBL_DBL_ABUSE_BOTCC {dbl} A 127.0.1.106",
            f"  urirhssub URIBL_DBL_ERROR       {dbl} A 127.0.1.255",
            f"  urirhssub URIBL_DBL_BLOCKED_OPENDNS {dbl} A 127.255.255.254",
            f"  urirhssub URIBL_DBL_BLOCKED         {dbl} A 127.255.255.255",
            f"  uridnssub URIBL_ZEN_BLOCKED_OPENDNS {zen} A 127.255.255.254",
            f"  uridnssub URIBL_ZEN_BLOCKED         {zen} A 127.255.255.255",
            "  if can(Mail::SpamAssassin::Plugin::URIDNSBL::has_uridnsbl_for_a)",
            f"    uridnssub URIBL_SBL_A {zen} A 127.0.0.2",
            f"    uridnssub URIBL_CSS_A {zen} A 127.0.0.3",
            "  endif",
        ]
    lines += ["endif", ""]
    return "\n".join(lines)


def plan_spamassassin(config: SpamAssassinConfig | None, options: PolicyOptions, plan: Plan) -> None:
    if config is None:
        return
    key = options.dqs_key
    for block in config.block_files:
        plan.removals.append(
            RemoveStep(
                block["file"],
                f"SpamAssassin stopped querying {block['zone']} after a 'blocked' answer: removed so that it asks "
                "again (it blocks again unless the resolver path is fixed or DQS is used)",
                ["SPAMASSASSIN_DNSBL_BLOCKED"],
            )
        )
    if not key:
        if config.dqs_placeholders:
            plan.notes.append("SpamAssassin's DQS rules hold the your_DQS_key placeholder: give dqs_key to fill it in")
        return
    placeholder_files = []
    for placeholder in config.dqs_placeholders:
        if placeholder["file"] not in placeholder_files:
            placeholder_files.append(placeholder["file"])
    for path in placeholder_files:
        plan.replacements.append(
            ReplaceStep(
                path, DQS_PLACEHOLDER, key, "the DQS key in place of the placeholder", ["SPAMASSASSIN_DQS_PLACEHOLDER"]
            )
        )
    dqs_rules = [
        rule for rule in config.dnsbl_rules if under_dqs_name(rule["zone"]) and DQS_PLACEHOLDER not in rule["zone"]
    ]
    for rule_file in sorted({rule["file"] for rule in dqs_rules}):
        old_keys = {
            ".".join(normalise_zone(rule["zone"]).split(".")[:-4]) for rule in dqs_rules if rule["file"] == rule_file
        }
        for old in sorted(old_keys - {key, ""}):
            plan.secrets = tuple(set(plan.secrets) | {old})
            plan.replacements.append(ReplaceStep(rule_file, old, key, "the DQS rules use the given key"))
    if not placeholder_files and not dqs_rules:
        directory = config.site_directory or "/etc/spamassassin"
        path = options.spamassassin_file or f"{directory}/{SPAMASSASSIN_DQS_FILE}"
        plan.files.append(
            FileStep(
                path,
                spamassassin_dqs_rules(key, config.version),
                mode="0640",
                owner="root",
                group=options.spamassassin_group or ("debian-spamd" if directory == "/etc/spamassassin" else "root"),
                secret=True,
                reason="SpamAssassin's Spamhaus rules ask the DQS zones",
            )
        )
        if config.version and _int(config.version.split(".")[0], 4) < 4:
            plan.notes.append(
                f"SpamAssassin {config.version}: the DQS rules cover ZEN and DBL lookups; HELO and sender checks need "
                "Spamhaus' SH plugin on 3.x"
            )


# -- entry points ---------------------------------------------------------------------------------------------


def plan_dnsbl_policy(
    postfix: PostfixConfig | None,
    options: PolicyOptions | None = None,
    spamassassin: SpamAssassinConfig | None = None,
) -> Plan:
    """The plan for one host: postconf steps where each setting is written, files, and notes."""
    options = options or PolicyOptions()
    _validate(options)
    plan = Plan(config_directory=postfix.config_directory if postfix is not None else "/etc/postfix")
    if postfix is not None:
        unreadable = [
            problem for problem in postfix.problems if "main.cf" in problem and "read the files" not in problem
        ]
        if unreadable:
            plan.notes.append(f"Postfix's configuration could not be read, nothing planned: {'; '.join(unreadable)}")
        else:
            planner = _Planner(postfix, options)
            planner.collect()
            planner.fix_uses()
            planner.add_warn_rules()
            planner.add_fallbacks()
            planner.hide_dqs(plan)
            plan.postconf = planner.steps()
            plan.notes += planner.notes
            plan.secrets = tuple(sorted(planner.secrets, key=len, reverse=True))
    elif options.dqs_key:
        plan.secrets = (options.dqs_key,)
    if options.dqs_key and options.dqs_key not in plan.secrets:
        plan.secrets = (*plan.secrets, options.dqs_key)
    plan_spamassassin(spamassassin, options, plan)
    plan.notes = [plan.mask(note) for note in plan.notes]
    return plan


def plan_for_host(host, options: PolicyOptions | None = None) -> Plan:  # type: ignore[no-untyped-def]
    """The plan for a `host_model.HostModel`."""
    return plan_dnsbl_policy(host.postfix, options, host.spamassassin)
