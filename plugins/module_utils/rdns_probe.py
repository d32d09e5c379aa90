# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Outbound identity: PTR, forward-confirmed rDNS, HELO name, generic-looking names, MX records.

Private to the collection. Runs on managed hosts: Python 3.8 syntax. Asks through the host's own
nameservers (the next one when one fails), as the receivers' view of it is what matters but the
host's path is what it has.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from ansible_collections.maildns.audit.plugins.module_utils.dns_engine import Question, resolve_many
from ansible_collections.maildns.audit.plugins.module_utils.findings import Check, Finding

FAILED_RCODES = ("SERVFAIL", "REFUSED", "FORMERR", "NOTIMP")
_GENERIC_WORDS = re.compile(
    r"(^|[.\-_])(a?dsl|xdsl|dyn|dynamic|dynip|pool|dhcp|dial(up)?|ppp|pppoe|cable|cust(omer)?|client|broadband|"
    r"unassigned|unknown|in-addr|ip\d+|host\d+|static\d{3,}|res(idential)?|users?)(\d*)($|[.\-_])",
    re.IGNORECASE,
)


@dataclass
class IdentityReport:
    findings: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    addresses: list = field(default_factory=list)  # per outbound IP: ptr names, forward answers
    domains: list = field(default_factory=list)  # per domain: MX targets and what each resolves to
    helo: dict = field(default_factory=dict)


def ask(questions: list, servers: list, timeout: float, port: int = 53, malformed: list | None = None) -> list:
    """Each question through the first server that answers it (NOERROR/NXDOMAIN), in order.

    A server whose reply is malformed (another question, a CNAME loop, the wrong type, garbage)
    did not answer: the next one is asked, and the malformed reply is added to `malformed` (when
    given) so that the resolver can be reported even when another one answered.
    """
    replies = [None] * len(questions)
    todo = list(range(len(questions)))
    for server in servers:
        if not todo:
            break
        batch = [Question(questions[i].name, questions[i].rdtype, server, port) for i in todo]
        answered = resolve_many(batch, timeout)
        still = []
        for index, reply in zip(todo, answered):
            replies[index] = reply
            if reply.malformed and malformed is not None:
                malformed.append((index, reply))
            if failed(reply):
                still.append(index)
        todo = still
    return replies


def failed(reply) -> bool:
    """No usable answer came (timeout, unreachable, malformed, SERVFAIL, ...): the check is unknown."""
    return bool(reply.error) or reply.rcode in FAILED_RCODES


def looks_generic(name: str, address: str) -> str:
    """Why a PTR name looks like an access line rather than a mail host ("" when it does not)."""
    label_text = name.rstrip(".").lower()
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        octets = address.split(".")
        for sequence in (octets, list(reversed(octets))):
            for separator in (".", "-", "_", ""):
                if separator.join(sequence) in label_text and (separator or len("".join(sequence)) >= 8):
                    return f"embeds the address ({separator.join(sequence)})"
        if format(int(ip), "08x") in label_text:
            return "embeds the address in hex"
    match = _GENERIC_WORDS.search(label_text)
    if match:
        return f"has the word '{match.group(2)}'"
    if re.search(r"\d{6,}", label_text):
        return "has a long run of digits"
    return ""


def probe_identity(
    ips: list, helo_name: str, domains: list, servers: list, timeout: float = 3.0, port: int = 53
) -> IdentityReport:
    """The outbound identity findings, from answers through the host's nameservers.

    A lookup that got no usable answer from any nameserver (timeout, SERVFAIL, a malformed reply)
    makes its check unknown and is never read as a missing record: no PTR_MISSING,
    PTR_NOT_FORWARD_CONFIRMED, MX_MISSING, ... from it. Every malformed reply, from whichever
    nameserver, is a RESOLVER_ANSWER_MALFORMED finding on that resolver.
    """
    report = IdentityReport()
    if not servers:
        report.checks.append(Check("identity", "unknown", "no nameserver to ask"))
        return report
    helo = helo_name.rstrip(".").lower()
    # Round 1: PTRs, the HELO name's addresses, the domains' MX.
    first = [Question(ipaddress.ip_address(ip).reverse_pointer, "PTR", None) for ip in ips]
    lookups = [f"PTR of {ip}" for ip in ips]
    if helo:
        first += [Question(helo, "A", None), Question(helo, "AAAA", None)]
        lookups += [f"A of {helo} (the HELO name)", f"AAAA of {helo} (the HELO name)"]
    first += [Question(domain, "MX", None) for domain in domains]
    lookups += [f"MX of {domain}" for domain in domains]
    malformed: list = []
    replies = ask(first, servers, timeout, port, malformed)
    _report_malformed(report, malformed, lookups)
    ptr_replies = replies[: len(ips)]
    helo_replies = replies[len(ips) : len(ips) + (2 if helo else 0)]
    mx_replies = replies[len(ips) + (2 if helo else 0) :]
    for reply in replies:
        if failed(reply):
            report.checks.append(
                Check(f"{reply.question.rdtype} {reply.question.name}", "unknown", reply.error or reply.rcode)
            )
    # Round 2: forward records of every PTR name; CNAME and addresses of every MX target.
    second = []
    lookups = []
    ptr_names = {}
    for ip, reply in zip(ips, ptr_replies):
        names = [n.rstrip(".").lower() for n in reply.answers]
        ptr_names[ip] = names
        rtype = "A" if ipaddress.ip_address(ip).version == 4 else "AAAA"
        for name in names:
            second.append(Question(name, rtype, None))
            lookups.append(f"{rtype} of {name} (the PTR name of {ip})")
    mx_targets = {}
    for domain, reply in zip(domains, mx_replies):
        targets = [answer.split()[-1].rstrip(".").lower() for answer in reply.answers if answer.split()]
        mx_targets[domain] = targets
        for target in targets:
            if not _is_address(target):
                second += [Question(target, "CNAME", None), Question(target, "A", None), Question(target, "AAAA", None)]
                lookups += [f"{rtype} of {target} (an MX of {domain})" for rtype in ("CNAME", "A", "AAAA")]
    forward = {}
    unanswered = set()  # (name, type) whose lookup gave no usable answer
    malformed = []
    for reply in ask(second, servers, timeout, port, malformed):
        key = (reply.question.name, reply.question.rdtype)
        if failed(reply):
            unanswered.add(key)
            report.checks.append(
                Check(f"{reply.question.rdtype} {reply.question.name}", "unknown", reply.error or reply.rcode)
            )
        forward[key] = [a.rstrip(".") if reply.question.rdtype == "CNAME" else a for a in reply.answers]
    _report_malformed(report, malformed, lookups)
    helo_addresses = [a for r in helo_replies for a in r.answers]
    report.helo = {"name": helo, "addresses": helo_addresses}
    for ip, reply in zip(ips, ptr_replies):
        if failed(reply):
            continue
        names = ptr_names[ip]
        rtype = "A" if ipaddress.ip_address(ip).version == 4 else "AAAA"
        entry = {"ip": ip, "ptr": names, "forward": {n: forward.get((n, rtype), []) for n in names}}
        report.addresses.append(entry)
        evidence = {"ip": ip, "query": ipaddress.ip_address(ip).reverse_pointer, "ptr": names, "rcode": reply.rcode}
        if helo and not _same_address(ip, helo_addresses) and not any(failed(r) for r in helo_replies):
            report.findings.append(
                Finding("HELO_NAME_DOES_NOT_RESOLVE", {"ip": ip, "helo": helo, "helo_addresses": helo_addresses})
            )
        if not names:
            report.findings.append(Finding("PTR_MISSING", evidence))
            continue
        if len(names) > 1:
            report.findings.append(Finding("PTR_MULTIPLE", evidence))
        confirmed = [n for n in names if _same_address(ip, forward.get((n, rtype), []))]
        if not confirmed and not any((n, rtype) in unanswered for n in names):
            report.findings.append(Finding("PTR_NOT_FORWARD_CONFIRMED", dict(evidence, forward=entry["forward"])))
        generic = {name: looks_generic(name, ip) for name in names}
        generic = {name: why for name, why in generic.items() if why}
        if generic:
            report.findings.append(Finding("PTR_LOOKS_GENERIC", dict(evidence, why=generic)))
        if helo and helo not in names:
            report.findings.append(Finding("HELO_NOT_PTR_NAME", dict(evidence, helo=helo)))
    for domain, reply in zip(domains, mx_replies):
        if failed(reply):
            continue
        targets = mx_targets[domain]
        report.domains.append({"domain": domain, "mx": reply.answers})
        if not targets:
            report.findings.append(Finding("MX_MISSING", {"domain": domain, "rcode": reply.rcode}))
        for target in targets:
            evidence = {"domain": domain, "mx": target}
            if _is_address(target):
                report.findings.append(Finding("MX_IS_IP_LITERAL", evidence))
                continue
            if forward.get((target, "CNAME")):
                report.findings.append(Finding("MX_IS_CNAME", dict(evidence, cname=forward[(target, "CNAME")])))
            resolves = forward.get((target, "A")) or forward.get((target, "AAAA"))
            if not resolves and (target, "A") not in unanswered and (target, "AAAA") not in unanswered:
                report.findings.append(Finding("MX_TARGET_DOES_NOT_RESOLVE", evidence))
    if not any(check.status == "unknown" for check in report.checks):
        report.checks.append(Check("identity", "ok", f"{len(ips)} addresses, {len(domains)} domains"))
    return report


def _report_malformed(report: IdentityReport, malformed: list, lookups: list) -> None:
    """One RESOLVER_ANSWER_MALFORMED per malformed reply: the resolver is at fault, not the record."""
    for index, reply in malformed:
        question = reply.question
        evidence = {
            "resolver": question.server,
            "query": {"name": question.name, "type": question.rdtype},
            "detail": reply.error,
            "lookup": lookups[index],
        }
        if question.port != 53:
            evidence["port"] = question.port
        report.findings.append(Finding("RESOLVER_ANSWER_MALFORMED", evidence))


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
        return True
    except ValueError:
        return False


def _same_address(ip: str, answers: list) -> bool:
    wanted = ipaddress.ip_address(ip)
    for answer in answers:
        try:
            if ipaddress.ip_address(answer) == wanted:
                return True
        except ValueError:
            continue
    return False
