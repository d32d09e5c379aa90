# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A finding's evidence as one sentence a mail admin reads, for summary.md and report.html.

Private to the collection. Python 3.8 syntax like the rest of module_utils (the fleet report runs
on the controller, but nothing here may assume it).

`evidence_sentence(finding)` never raises, whatever the finding holds: a sentence per finding ID in
the catalog (findings.CATALOG), built from the keys its judge writes (judge.py, resolver_path.py,
dnsbl_probe.py, rdns_probe.py, fleet_report.py); when an ID is unknown or its evidence lacks what
its sentence needs, a generic sentence from the common keys (file, line, zone, resolver, provider,
nameserver, parameter, detail). The raw evidence stays in the report beside it.

The evidence is already masked by the judges (DQS keys replaced); the sentence is passed through
dnsbl_catalog.mask_secrets once more, which only ever hides, never reveals.
"""

from __future__ import annotations

from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_catalog import mask_secrets

MAX_ITEMS = 6  # list items shown in a sentence before "and N more"
MAX_TEXT = 300  # characters of one value shown in a sentence


def _text(value: object) -> str:
    """A value as short readable text: lists joined, dicts as key=value, everything clipped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_text(item) for item in (sorted(value, key=str) if isinstance(value, (set, frozenset)) else value)]
        items = [item for item in items if item]
        shown = ", ".join(items[:MAX_ITEMS])
        if len(items) > MAX_ITEMS:
            shown += f" and {len(items) - MAX_ITEMS} more"
        return shown
    if isinstance(value, dict):
        return "; ".join(f"{_text(key)}: {_text(item)}" for key, item in list(value.items())[:MAX_ITEMS])
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


class _Evidence:
    """Read-only access to an evidence dict of unknown shape: missing or odd values read as ''."""

    def __init__(self, evidence: object) -> None:
        self.raw = evidence if isinstance(evidence, dict) else {}

    def __call__(self, key: str) -> str:
        return _text(self.raw.get(key))

    def has(self, *keys: str) -> bool:
        return all(self(key) for key in keys)

    def where(self) -> str:
        """'/etc/postfix/main.cf line 18', 'master.cf line 12 (service smtp)', or ''."""
        place = self("file")
        if place and self("line"):
            place += f" line {self('line')}"
        if self("service"):
            place += f" (service {self('service')})" if place else f"service {self('service')}"
        return place


def _lead(where: str, text: str) -> str:
    """'<file> line <n>: <text>'; without a place, the text alone (names keep their case)."""
    return f"{where}: {text}" if where else text


def _dnsbl_use(e: _Evidence) -> str:
    """'smtpd_client_restrictions uses reject_rbl_client zen.spamhaus.org' (and the class it came through)."""
    text = f"{e('parameter') or 'a restriction'} uses {e('restriction') or 'the list'} {e('zone')}".rstrip()
    if e("filter"):
        text += f"={e('filter')}"
    if e("restriction_class"):
        text += f" through the restriction class {e('restriction_class')}"
    return text


def _resolver_named(e: _Evidence) -> str:
    text = e("resolver") or "the system resolver"
    if e("resolver_source"):
        text += f" ({e('resolver_source')})"
    return text


# -- one function per finding ID: (evidence) -> sentence, or '' when the evidence does not fit ------


def _resolv_conf_public(e: _Evidence) -> str:
    if not e.has("nameserver"):
        return ""
    provider = f"{e('provider')}'s public resolver" if e("provider") else "a public resolver"
    text = f"nameserver {e('nameserver')} is {provider}, which DNSBLs refuse"
    if e.raw.get("rotate") is True:
        text += "; options rotate sends a share of every lookup to it"
    if "affected_lists" in e.raw:
        affected = e("affected_lists")
        text += f"; it breaks {affected} on this host" if affected else "; it breaks none of this host's lists"
    return _lead(e.where(), text)


def _resolv_conf_unknown_public(e: _Evidence) -> str:
    if not e.has("nameserver"):
        return ""
    return _lead(e.where(), f"nameserver {e('nameserver')} is a public address that is no known public resolver")


def _resolv_conf_invalid(e: _Evidence) -> str:
    if not (e.has("nameserver") or e.has("detail")):
        return ""
    text = f"nameserver {e('nameserver')} is not an IP address, so glibc ignores the line"
    if not e("nameserver"):
        text = "a nameserver line is not an IP address, so glibc ignores it"
    if e("detail"):
        text += f" ({e('detail')})"
    return _lead(e.where(), text)


def _resolv_conf_missing(e: _Evidence) -> str:
    if not e.has("file"):
        return ""
    why = e("detail") or "names no nameserver"
    return f"{e('file')} {why}: glibc asks {e('effective') or '127.0.0.1'}"


def _loopback_nothing_listens(e: _Evidence) -> str:
    if not e.has("nameserver"):
        return ""
    return _lead(e.where(), f"nameserver {e('nameserver')} is on the host, but nothing serves DNS there")


def _forwards_public(e: _Evidence) -> str:
    if not e.has("forwarder"):
        return ""
    provider = f" ({e('provider')})" if e("provider") else ""
    role = f" as {e('role')}" if e("role") else ""
    return _lead(
        e.where(),
        f"{e('resolver') or 'the local resolver'} forwards{role} to {e('forwarder')}{provider}, a public resolver",
    )


def _chroot_drift(e: _Evidence) -> str:
    if not e.has("file"):
        return ""
    chroot = e("chroot_nameservers") or "no nameserver"
    system = e("resolv_conf_nameservers") or "no nameserver"
    text = f"Postfix's chroot copy {e('file')} names {chroot}, /etc/resolv.conf names {system}"
    if e("chrooted_services"):
        text += f"; the chrooted {e('chrooted_services')} resolve through the copy"
    if e("problem"):
        text += f" ({e('problem')})"
    return text


def _no_reply_filter(e: _Evidence) -> str:
    if not e.has("zone"):
        return ""
    text = f"{_dnsbl_use(e)} with no reply filter, so its error answers"
    text += f" ({e('error_answers')})" if e("error_answers") else ""
    text += " reject mail as listings"
    if e("suggested"):
        text += f"; write {e('suggested')}"
    return _lead(e.where(), text)


def _filter_admits_errors(e: _Evidence) -> str:
    if not e.has("zone"):
        return ""
    admitted = e("admitted_error_answers") or "error answers"
    text = f"{_dnsbl_use(e)}, and the filter lets {admitted} through as listings"
    if e("suggested"):
        text += f"; write {e('suggested')}"
    return _lead(e.where(), text)


def _dbl_without_filter(e: _Evidence) -> str:
    if not e.has("zone"):
        return ""
    if e("admitted_error_answers"):
        return _filter_admits_errors(e)
    return _no_reply_filter(e)


def _retired(e: _Evidence) -> str:
    if not e.has("zone"):
        return ""
    if e("rule"):
        text = f"SpamAssassin rule {e('rule')} asks {e('zone')}"
    elif e("parameter"):
        verb = "rejects on" if "reject" in e("restriction") or e("parameter") == "postscreen_dnsbl_sites" else "uses"
        text = f"{e('parameter')} {verb} {e('zone')}"
    else:
        text = f"{e('zone')} is configured"
    text += f", {e('history')}" if e("history") else ", a retired list"
    return _lead(e.where(), text)


def _misspelled(e: _Evidence) -> str:
    if not e.has("zone"):
        return ""
    guess = f"; did you mean {e('did_you_mean')}?" if e("did_you_mean") else ""
    return _lead(e.where(), f"{_dnsbl_use(e)}, which is no known list{guess}")


def _needs_registration(e: _Evidence) -> str:
    if not e.has("zone"):
        return ""
    operator = f" with {e('operator')}" if e("operator") else ""
    return _lead(e.where(), f"{_dnsbl_use(e)}, a list that answers only registered users{operator}")


def _dqs_exposed(e: _Evidence) -> str:
    if not e.has("zone"):
        return ""
    missing = e("missing") or "a reply map"
    return _lead(e.where(), f"{_dnsbl_use(e)}, and {missing} is not set, so reject replies can show the DQS key")


def _single_list(e: _Evidence) -> str:
    if not e.has("zone"):
        return ""
    return f"{e('zone')} is the only list that rejects or scores mail: when it fails, nothing checks"


def _master_overrides(e: _Evidence) -> str:
    if not e.has("parameter"):
        return ""
    text = f"-o {e('parameter')}={e('master_cf')} overrides main.cf"
    text += f" ({e('main_cf')})" if e("main_cf") else " (unset there)"
    return _lead(e.where(), text)


def _unexpandable(e: _Evidence) -> str:
    if not e.has("parameter"):
        return ""
    text = f"${e('parameter')} cannot be expanded"
    if e("detail"):
        text += f" ({e('detail')})"
    return _lead(e.where(), text + ", so the restriction does not do what it says")


def _postscreen_unused(e: _Evidence) -> str:
    parameter = e("parameter") or "postscreen_dnsbl_sites"
    lists = e("zone") or e("zones") or e("sites")
    text = f"{parameter} names {lists}" if lists else f"{parameter} is set"
    return _lead(e.where(), text + ", but master.cf runs no postscreen: those lists protect nothing")


def _none_active(e: _Evidence) -> str:
    text = "Postfix uses no DNSBL that rejects or scores mail"
    if e("detail"):
        text += f" ({e('detail')})"
    return _lead(e.where(), text)


def _problems(e: _Evidence) -> str:
    if not e.has("problems"):
        return ""
    return f"could not be read: {e('problems')}"


def _postfix_unreadable(e: _Evidence) -> str:
    text = _problems(e)
    return f"Postfix's configuration {text}" if text else ""


def _spamassassin_unreadable(e: _Evidence) -> str:
    text = _problems(e)
    return f"SpamAssassin's configuration {text}" if text else ""


def _rejected_by_error(e: _Evidence) -> str:
    if not e.has("zone"):
        return ""
    count = e("rejections") or "some"
    text = f"{count} messages rejected on {e('zone')} error answers"
    if e("reason"):
        text += f" ({e('reason')})"
    if e("file"):
        text += f", in {e('file')}"
    if e("example"):
        text += f"; for example: {e('example')}"
    return text


def _probe(meaning: str):  # type: ignore[no-untyped-def]
    def sentence(e: _Evidence) -> str:
        if not e.has("zone"):
            return ""
        text = f"{e('zone')} through {_resolver_named(e)}: {meaning}"
        if e("detail"):
            text += f" ({e('detail')})"
        authority = e.raw.get("authoritative")
        if isinstance(authority, dict) and authority.get("server"):
            text += f"; the list's own name server {_text(authority.get('server'))} answers"
            answers = _text(authority.get("answers"))
            text += f" {answers}" if answers else f" {_text(authority.get('rcode')) or 'for itself'}"
        if e("works_through"):
            text += f"; it works through {e('works_through')}"
        if e("egress_resolver"):
            text += f"; Spamhaus says the query reached it from {e('egress_resolver')}"
        if e("did_you_mean"):
            text += f"; did you mean {e('did_you_mean')}"
        if e("at_fault") in ("resolver", "list"):
            text += f" (at fault: the {e('at_fault')})"
        return text

    return sentence


def _resolver_malformed(e: _Evidence) -> str:
    if not (e.has("resolver") or e.has("nameserver")):
        return ""
    resolver = e("resolver") or e("nameserver")
    text = f"resolver {resolver}"
    if e("resolver_source"):
        text += f" ({e('resolver_source')})"
    text += " sends malformed answers"
    if e("zone"):
        text += f" for {e('zone')}"
    if e("detail"):
        text += f": {e('detail')}"
    return text[:1].upper() + text[1:]


def _slow(subject: str):  # type: ignore[no-untyped-def]
    def sentence(e: _Evidence) -> str:
        if not (e.has("zone") or e.has("resolver")):
            return ""
        who = e("resolver") if subject == "resolver" else e("zone")
        who = who or (e("zone") if subject == "resolver" else e("resolver"))
        text = f"{who} answers DNSBL queries slowly"
        if subject == "resolver" and e("zone"):
            text = f"resolver {who} answers {e('zone')} slowly"
        if subject == "list" and e("resolver"):
            text = f"{who} answers slowly through {_resolver_named(e)}"
        for key in ("elapsed_ms", "median_ms", "ms"):
            if e(key):
                text += f" ({e(key)} ms)"
                break
        if e("detail"):
            text += f": {e('detail')}"
        return text[:1].upper() + text[1:] if text.startswith("resolver ") else text

    return sentence


def _outbound_listed(e: _Evidence) -> str:
    if not e.has("ip", "zone"):
        return ""
    codes = e.raw.get("codes")
    shown = ""
    if isinstance(codes, list):
        parts = []
        for code in codes[:MAX_ITEMS]:
            if isinstance(code, dict):
                parts.append(
                    _text(code.get("answer")) + (f" ({_text(code.get('meaning'))})" if code.get("meaning") else "")
                )
            else:
                parts.append(_text(code))
        shown = ", ".join(part for part in parts if part)
    text = f"outbound address {e('ip')} is listed on {e('zone')}"
    if shown:
        text += f": {shown}"
    if e("lookup_url"):
        text += f"; see {e('lookup_url')}"
    return text[:1].upper() + text[1:]


def _ptr_missing(e: _Evidence) -> str:
    if not e.has("ip"):
        return ""
    answer = f" ({e('query')} answered {e('rcode')})" if e.has("query", "rcode") else ""
    return f"{e('ip')} has no PTR record{answer}"


def _ptr_multiple(e: _Evidence) -> str:
    if not e.has("ip"):
        return ""
    return f"{e('ip')} has several PTR records: {e('ptr') or 'more than one name'}"


def _ptr_not_confirmed(e: _Evidence) -> str:
    if not e.has("ip"):
        return ""
    forward = e.raw.get("forward")
    if isinstance(forward, dict) and forward:
        parts = [f"{_text(name)} resolves to {_text(addresses) or 'nothing'}" for name, addresses in forward.items()]
        return f"{e('ip')} has PTR {e('ptr')}, but " + "; ".join(parts[:MAX_ITEMS]) + f", not {e('ip')}"
    return f"{e('ip')} has PTR {e('ptr') or '(a name)'}, which does not resolve back to {e('ip')}"


def _ptr_generic(e: _Evidence) -> str:
    if not e.has("ip"):
        return ""
    why = e.raw.get("why")
    if isinstance(why, dict) and why:
        reasons = "; ".join(f"{_text(name)}: {_text(reason)}" for name, reason in list(why.items())[:MAX_ITEMS])
        return f"{e('ip')} has a generic-looking PTR ({reasons})"
    return f"{e('ip')} has a generic-looking PTR {e('ptr')}".rstrip()


def _helo_not_ptr(e: _Evidence) -> str:
    if not e.has("helo"):
        return ""
    ptr = e("ptr") or "a different name"
    ip = e("ip") or "the outbound address"
    return f"Postfix says HELO {e('helo')}, but the PTR of {ip} is {ptr}"


def _helo_not_resolving(e: _Evidence) -> str:
    if not e.has("helo"):
        return ""
    addresses = e("helo_addresses") or "no address"
    ip = e("ip") or "the outbound address"
    return f"HELO name {e('helo')} resolves to {addresses}, not to {ip}"


def _mx_missing(e: _Evidence) -> str:
    if not e.has("domain"):
        return ""
    rcode = f" (the query answered {e('rcode')})" if e("rcode") else ""
    return f"{e('domain')} has no MX record{rcode}"


def _mx_literal(e: _Evidence) -> str:
    if not e.has("domain", "mx"):
        return ""
    return f"{e('domain')}'s MX points to the address {e('mx')}, not to a host name"


def _mx_cname(e: _Evidence) -> str:
    if not e.has("domain", "mx"):
        return ""
    cname = f" (an alias of {e('cname')})" if e("cname") else ""
    return f"{e('domain')}'s MX target {e('mx')} is a CNAME{cname}"


def _mx_unresolved(e: _Evidence) -> str:
    if not e.has("domain", "mx"):
        return ""
    return f"{e('domain')}'s MX target {e('mx')} has no A or AAAA record"


def _waiver_expired(e: _Evidence) -> str:
    if not e.has("waived_id"):
        return ""
    text = f"the waiver for {e('waived_id')} expired on {e('expired') or 'an unreadable date'}"
    if e("reason"):
        text += f" (it said: {e('reason')})"
    return text[:1].upper() + text[1:]


def _sa_dns_server(e: _Evidence) -> str:
    address = e("address") or e("nameserver") or e("raw")
    if not address:
        return ""
    provider = f" ({e('provider')})" if e("provider") else ""
    return _lead(e.where(), f"dns_server {address}{provider} is a public resolver that DNSBLs refuse")


def _sa_placeholder(e: _Evidence) -> str:
    if not e.has("file"):
        return ""
    return _lead(e.where(), "still says your_DQS_key where the Spamhaus DQS key belongs")


def _sa_blocked(e: _Evidence) -> str:
    if not e.has("zone"):
        return ""
    where = f" ({e('file')})" if e("file") else ""
    return f"SpamAssassin stopped querying {e('zone')} after a 'blocked' answer{where}"


def _sa_old_rules(e: _Evidence) -> str:
    version = e("version") or "of unknown version"
    return f"SpamAssassin {version} has no *_BLOCKED rules for DNSBL error answers"


def _sa_dns_disabled(e: _Evidence) -> str:
    if not (e.has("dns_available") or "skip_rbl_checks" in e.raw):
        return ""
    parts = []
    if e("dns_available"):
        parts.append(f"dns_available {e('dns_available')}")
    if e.raw.get("skip_rbl_checks"):
        parts.append("skip_rbl_checks 1")
    return "SpamAssassin does no DNSBL checks" + (f" ({', '.join(parts)})" if parts else "")


SENTENCES = {
    "RESOLV_CONF_PUBLIC_NAMESERVER": _resolv_conf_public,
    "RESOLV_CONF_UNKNOWN_PUBLIC_NAMESERVER": _resolv_conf_unknown_public,
    "RESOLV_CONF_INVALID_NAMESERVER": _resolv_conf_invalid,
    "RESOLV_CONF_MISSING": _resolv_conf_missing,
    "LOOPBACK_NAMESERVER_NOTHING_LISTENS": _loopback_nothing_listens,
    "SYSTEMD_RESOLVED_PUBLIC_UPSTREAM": _forwards_public,
    "LOCAL_RESOLVER_FORWARDS_PUBLIC": _forwards_public,
    "POSTFIX_CHROOT_RESOLV_CONF_DRIFT": _chroot_drift,
    "DNSBL_NO_REPLY_FILTER": _no_reply_filter,
    "DNSBL_FILTER_ADMITS_ERROR_CODES": _filter_admits_errors,
    "DBL_WITHOUT_FILTER": _dbl_without_filter,
    "DNSBL_RETIRED": _retired,
    "DNSBL_MISSPELLED": _misspelled,
    "DNSBL_NEEDS_REGISTRATION": _needs_registration,
    "DQS_KEY_EXPOSED_IN_SMTP_REPLY": _dqs_exposed,
    "DNSBL_SINGLE_LIST": _single_list,
    "POSTFIX_MASTER_OVERRIDES_DNSBL": _master_overrides,
    "POSTFIX_PARAMETER_UNEXPANDABLE": _unexpandable,
    "POSTSCREEN_DNSBL_SITES_UNUSED": _postscreen_unused,
    "DNSBL_NONE_ACTIVE": _none_active,
    "POSTFIX_CONFIG_UNREADABLE": _postfix_unreadable,
    "MAIL_REJECTED_BY_DNSBL_ERROR": _rejected_by_error,
    "DNSBL_RESOLVER_REFUSED": _probe("the resolver gets the list's error answers, so every lookup through it fails"),
    "DNSBL_HIDDEN_BY_RESOLVER": _probe("the list's test point is not listed through this resolver"),
    "RESOLVER_ANSWER_MALFORMED": _resolver_malformed,
    "DNSBL_RESOLVER_SLOW": _slow("resolver"),
    "DNSBL_LIST_SLOW": _slow("list"),
    "DNSBL_WRONG_LIST": _probe("answers 127.255.255.252, wrong list for the query or a typo in its name"),
    "DNSBL_DEAD": _probe("the list does not list its own test point 127.0.0.2"),
    "DNSBL_LISTS_THE_WORLD": _probe("the list lists 127.0.0.1, so it answers 'listed' for everyone"),
    "DNSBL_ANSWER_HIJACKED": _probe("answers come back outside 127.0.0.0/8, the resolver rewrites NXDOMAIN"),
    "DNSBL_UNREACHABLE": _probe("the list cannot be asked"),
    "OUTBOUND_IP_LISTED": _outbound_listed,
    "PTR_MISSING": _ptr_missing,
    "PTR_MULTIPLE": _ptr_multiple,
    "PTR_NOT_FORWARD_CONFIRMED": _ptr_not_confirmed,
    "PTR_LOOKS_GENERIC": _ptr_generic,
    "HELO_NOT_PTR_NAME": _helo_not_ptr,
    "HELO_NAME_DOES_NOT_RESOLVE": _helo_not_resolving,
    "MX_MISSING": _mx_missing,
    "MX_IS_IP_LITERAL": _mx_literal,
    "MX_IS_CNAME": _mx_cname,
    "MX_TARGET_DOES_NOT_RESOLVE": _mx_unresolved,
    "WAIVER_EXPIRED": _waiver_expired,
    "SPAMASSASSIN_DNS_SERVER_PUBLIC": _sa_dns_server,
    "SPAMASSASSIN_DQS_PLACEHOLDER": _sa_placeholder,
    "SPAMASSASSIN_DNSBL_BLOCKED": _sa_blocked,
    "SPAMASSASSIN_RULES_IGNORE_BLOCKED_ANSWERS": _sa_old_rules,
    "SPAMASSASSIN_DNS_DISABLED": _sa_dns_disabled,
    "SPAMASSASSIN_CONFIG_UNREADABLE": _spamassassin_unreadable,
}

# The keys the generic sentence reads, in the order it says them.
_GENERIC_KEYS = ("zone", "resolver", "provider", "nameserver", "parameter", "detail")


def generic_sentence(finding: object) -> str:
    """The sentence for an ID (or evidence) this module has no words for: the common keys, plainly."""
    try:
        raw = finding if isinstance(finding, dict) else {}
        e = _Evidence(raw.get("evidence"))
        title = _text(raw.get("title")) or _text(raw.get("id")) or "finding"
        parts = [f"{key} {e(key)}" for key in _GENERIC_KEYS if e(key)]
        text = title + (f" ({', '.join(parts)})" if parts else "")
        return _lead(e.where(), text)
    except Exception:  # a report line must never break the report
        return "finding (its evidence could not be read)"


def evidence_sentence(finding: dict) -> str:
    """The finding's evidence as one sentence; never raises, never shows a DQS key."""
    try:
        raw = finding if isinstance(finding, dict) else {}
        builder = SENTENCES.get(str(raw.get("id", "")))
        text = builder(_Evidence(raw.get("evidence"))) if builder else ""
        text = text or generic_sentence(raw)
        return mask_secrets(_end(text))
    except Exception:  # odd evidence gets the generic sentence, not a broken report
        return mask_secrets(_end(generic_sentence(finding)))


def _end(text: str) -> str:
    text = text.rstrip(". ")
    return text if text.endswith(("?", "!")) else text + "."
