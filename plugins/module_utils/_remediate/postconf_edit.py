# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Setting and removing Postfix parameters through Postfix's own `postconf`, idempotently.

Private to the collection. Runs on managed hosts: Python 3.8 syntax.

`edit_postfix(config_directory, changes, ...)` reads the current values through the collection's
Postfix model (`postfix_config.read_postfix`: main.cf as written, master.cf `-o` overrides as
written), runs `postconf -e` / `-X` / `-P` / `-PX` only for the changes that differ, and returns
each change's before and after with a unified diff of main.cf and master.cf. A file that needs no
change is never rewritten (postconf is not even run). In check mode the same commands run against
a private temporary copy of main.cf and master.cf, so that the predicted diff is the one postconf
would really write (its line folding, its master.cf layout), and the copy is then removed.

Every text returned (values, diffs, commands) passes through `dnsbl_catalog.mask_secrets`, and
through any further `secrets` the caller names: a Spamhaus DQS key never leaves in a result.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field

from ansible_collections.maildns.audit.plugins.module_utils.dnsbl_catalog import mask_secrets
from ansible_collections.maildns.audit.plugins.module_utils.files import HostFiles
from ansible_collections.maildns.audit.plugins.module_utils.host_model import find_postconf
from ansible_collections.maildns.audit.plugins.module_utils.postfix_config import PostfixConfig, read_postfix

SERVICE_TYPES = ("inet", "unix", "unix-dgram", "fifo", "pass")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
# What postconf reads besides main.cf and master.cf (its map types); copied for check mode when present.
_AUXILIARY = ("dynamicmaps.cf", "dynamicmaps.cf.d")
POSTCONF_TIMEOUT = 60


class PostconfEditError(RuntimeError):
    """A change that cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class Change:
    """One requested change: a main.cf parameter, or a master.cf service's `-o` parameter."""

    name: str
    value: str | None = None  # the value as it should be written; None with state absent
    state: str = "present"  # present | absent
    service: str | None = None  # "smtp/inet": master.cf; None: main.cf

    @property
    def file(self) -> str:
        return "master.cf" if self.service else "main.cf"

    @property
    def label(self) -> str:
        return f"{self.service}/{self.name}" if self.service else self.name

    def argument(self) -> str:
        """What postconf takes on its command line for this change."""
        if self.state == "absent":
            return self.label
        return f"{self.label}={self.value}"

    def flag(self) -> str:
        if self.service:
            return "-PX" if self.state == "absent" else "-P"
        return "-X" if self.state == "absent" else "-e"


@dataclass
class EditResult:
    changed: bool
    changes: list = field(default_factory=list)  # [{name, service, file, state, before, after, changed}]
    files: list = field(default_factory=list)  # [{path, changed, before, after, diff}]
    commands: list = field(default_factory=list)  # [[postconf, -c, dir, flag, args...]]
    check_mode: bool = False

    def ansible_diff(self) -> list:
        """`diff` for Ansible: each changed parameter, then each changed file (all masked)."""
        diffs = []
        for change in self.changes:
            if not change["changed"]:
                continue
            where = f"{change['file']} {change['service']}" if change["service"] else change["file"]
            diffs.append(
                {
                    "before_header": f"{where}: {change['name']}",
                    "after_header": f"{where}: {change['name']}",
                    "before": _parameter_line(change["name"], change["before"]),
                    "after": _parameter_line(change["name"], change["after"]),
                }
            )
        for entry in self.files:
            if entry["changed"]:
                diffs.append(
                    {
                        "before_header": entry["path"],
                        "after_header": entry["path"],
                        "before": entry["before"],
                        "after": entry["after"],
                    }
                )
        return diffs

    def as_dict(self) -> dict:
        return {
            "changed": self.changed,
            "changes": self.changes,
            "files": [{k: v for k, v in entry.items() if k in ("path", "changed", "diff")} for entry in self.files],
            "commands": self.commands,
        }


def _parameter_line(name: str, value: str | None) -> str:
    return "" if value is None else f"{name} = {value}\n"


def validate(changes: list, config: PostfixConfig) -> None:
    """Refuse what postconf would refuse or misread, with the fix in the message."""
    seen = set()
    for change in changes:
        if change.state not in ("present", "absent"):
            raise PostconfEditError(f"{change.label}: state must be present or absent, not {change.state!r}")
        if not _NAME.match(change.name or ""):
            raise PostconfEditError(
                f"{change.name!r} is not a Postfix parameter name: use letters, digits and underscores "
                "(for example smtpd_client_restrictions)"
            )
        if change.label in seen:
            raise PostconfEditError(f"{change.label} is listed twice: give each parameter once")
        seen.add(change.label)
        if change.state == "present" and change.value is None:
            raise PostconfEditError(f"{change.label}: state=present needs a value (an empty string clears it)")
        if change.state == "absent" and change.value is not None:
            raise PostconfEditError(f"{change.label}: state=absent takes no value; drop value or use state=present")
        if change.value is not None and ("\n" in change.value or "\r" in change.value):
            raise PostconfEditError(
                f"{change.label}: the value holds a line break; give it on one line (postconf folds nothing away)"
            )
        if change.service:
            name, _sep, service_type = change.service.partition("/")
            if not name or service_type not in SERVICE_TYPES:
                raise PostconfEditError(
                    f"service {change.service!r} is not name/type: write it as master.cf names it, for example "
                    f"smtp/inet or submission/inet (types: {', '.join(SERVICE_TYPES)})"
                )
            if _service(config, change.service) is None:
                known = ", ".join(s.label for s in config.services) or "none"
                raise PostconfEditError(
                    f"master.cf in {config.config_directory} has no service {change.service} (its services: {known}); "
                    "add the service to master.cf first, or fix the service name"
                )
            if change.value is not None and re.search(r"\s", change.value):
                raise PostconfEditError(
                    f"{change.label}: postconf -P does not accept whitespace in a master.cf value; separate list "
                    "elements with commas (permit_mynetworks,reject_rbl_client,zen.spamhaus.org=127.0.0.[2..11])"
                )


def _service(config: PostfixConfig, label: str):  # type: ignore[no-untyped-def]
    for service in config.services:
        if service.label == label:
            return service
    return None


def current_value(config: PostfixConfig, change: Change) -> str | None:
    """The value as written now (main.cf, or the service's `-o`), None when it is not set there."""
    if change.service:
        service = _service(config, change.service)
        if service is None:
            return None
        return service.raw_overrides.get(change.name, service.overrides.get(change.name))
    return config.raw_parameters.get(change.name)


def wanted_value(change: Change) -> str | None:
    return None if change.state == "absent" else (change.value or "").strip()


def read_model(config_directory: str, postconf: str | None) -> PostfixConfig:
    """The Postfix model of `config_directory`; with postconf None, from the files (as written).

    After an edit the values as written are what is compared, and the file reader gives exactly
    those without the 1 to 2 s postconf waits when main.cf changed less than a second ago.
    """
    config = read_postfix(HostFiles(), postconf, config_directory)
    fatal = [problem for problem in config.problems if "main.cf" in problem and "read the files" not in problem]
    if fatal:
        raise PostconfEditError(f"cannot read Postfix's configuration: {'; '.join(fatal)}")
    return config


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return b""
    except OSError as error:
        raise PostconfEditError(f"cannot read {path}: {error.strerror}; run with become") from error


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def run_postconf(argv: list) -> None:
    try:
        result = subprocess.run(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            timeout=POSTCONF_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise PostconfEditError(f"{argv[0]} could not run: {error}; set postconf_path to Postfix's postconf") from error
    # postconf says "unmatched service_name/type" as a warning and exits 0: treat every warning
    # about what it was asked to edit as the failure it is.
    problems = [line for line in result.stderr.splitlines() if "fatal:" in line or "unmatched" in line]
    if result.returncode != 0 or problems:
        detail = " ".join(problems or result.stderr.strip().splitlines()[-1:]) or f"exit status {result.returncode}"
        raise PostconfEditError(f"postconf failed: {detail}")


def commands_for(postconf: str, config_directory: str, pending: list) -> list:
    """One postconf run per kind of edit (-e, -X, -P, -PX), in that order, each with all its arguments."""
    commands = []
    for flag in ("-e", "-X", "-P", "-PX"):
        arguments = [change.argument() for change in pending if change.flag() == flag]
        if arguments:
            commands.append([postconf, "-c", config_directory, flag, *arguments])
    return commands


def _copy_for_check(config_directory: str) -> str:
    scratch = tempfile.mkdtemp(prefix="maildns-postconf-")  # 0700: main.cf may hold a DQS key
    for name in ("main.cf", "master.cf", *_AUXILIARY):
        source = os.path.join(config_directory, name)
        target = os.path.join(scratch, name)
        try:
            if os.path.isdir(source):
                shutil.copytree(source, target)
            elif os.path.isfile(source):
                shutil.copy2(source, target)
        except OSError as error:
            shutil.rmtree(scratch, ignore_errors=True)
            raise PostconfEditError(
                f"cannot copy {source} for check mode: {error.strerror}; run with become"
            ) from error
    return scratch


def _masker(secrets: tuple):  # type: ignore[no-untyped-def]
    def mask(text: str | None) -> str | None:
        if text is None:
            return None
        text = mask_secrets(text)  # DQS keys first, so that they read <DQS key>
        for secret in secrets:
            if secret:
                text = text.replace(secret, "<secret>")
        return text

    return mask


def unified_diff(path: str, before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(True), after.splitlines(True), fromfile=f"{path} (before)", tofile=f"{path} (after)"
        )
    )


def edit_postfix(
    config_directory: str,
    changes: list,
    postconf: str | None = None,
    check_mode: bool = False,
    secrets: tuple = (),
) -> EditResult:
    """Make `changes` (a list of `Change`) with postconf; see the module docstring."""
    postconf = find_postconf(postconf)
    if postconf is None:
        raise PostconfEditError("postconf not found: install Postfix, or set postconf_path to its postconf binary")
    main_cf = os.path.join(config_directory, "main.cf")
    if not os.path.isfile(main_cf):
        raise PostconfEditError(
            f"{main_cf} does not exist: is Postfix installed? Set config_directory to its configuration directory"
        )
    mask = _masker(tuple(secrets))
    config = read_model(config_directory, postconf)
    validate(changes, config)
    pending = [change for change in changes if current_value(config, change) != wanted_value(change)]
    paths = {name: os.path.join(config_directory, name) for name in ("main.cf", "master.cf")}
    before_bytes = {name: _read_bytes(path) for name, path in paths.items()}
    result = EditResult(changed=bool(pending), check_mode=check_mode)
    after_config = config
    after_bytes = dict(before_bytes)
    if pending:
        target = _copy_for_check(config_directory) if check_mode else config_directory
        try:
            for argv in commands_for(postconf, target, pending):
                run_postconf(argv)
            after_config = read_model(target, None)
            after_bytes = {name: _read_bytes(os.path.join(target, name)) for name in paths}
        finally:
            if check_mode:
                shutil.rmtree(target, ignore_errors=True)
        # What is shown is the command for the real directory, as it runs (or would run).
        result.commands = [
            [mask(argument) for argument in argv] for argv in commands_for(postconf, config_directory, pending)
        ]
    for change in changes:
        before = current_value(config, change)
        after = current_value(after_config, change)
        if change in pending and after != wanted_value(change):
            raise PostconfEditError(
                f"postconf wrote {change.label} = {mask(after)!r}, not the {mask(wanted_value(change))!r} asked for; "
                "check the value's syntax"
            )
        result.changes.append(
            {
                "name": change.name,
                "service": change.service,
                "file": paths[change.file],
                "state": change.state,
                "before": mask(before),
                "after": mask(after),
                "changed": change in pending,
            }
        )
    for name, path in paths.items():
        changed = before_bytes[name] != after_bytes[name]
        before_text = mask(_text(before_bytes[name])) or ""
        after_text = mask(_text(after_bytes[name])) or ""
        result.files.append(
            {
                "path": path,
                "changed": changed,
                "before": before_text,
                "after": after_text,
                "diff": unified_diff(path, before_text, after_text) if changed else "",
            }
        )
    return result
