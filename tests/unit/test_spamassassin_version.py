"""SpamAssassin's version read from its installed Mail/SpamAssassin.pm, not from a Perl start-up."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.maildns.audit.plugins.module_utils.files import HostFiles
from ansible_collections.maildns.audit.plugins.module_utils.spamassassin_config import (
    installed_version,
    read_spamassassin,
)

SPAMASSASSIN = shutil.which("spamassassin")
needs_spamassassin = pytest.mark.skipif(SPAMASSASSIN is None, reason="needs SpamAssassin installed")
# The lines of a real Mail/SpamAssassin.pm around its version (4.0.1 on Debian 12).
MODULE = """package Mail::SpamAssassin;
use strict;
our $VERSION = "{version}";      # update after release (same format as perl $])
#our $IS_DEVEL_BUILD = 1;        # 1 for devel build
sub Version {{
  $VERSION =~ /^(\\d+)\\.(\\d\\d\\d)(\\d\\d\\d)$/;
  return join('-', sprintf("%d.%d.%d", $1, $2, $3), @EXTRA_VERSION);
}}
"""


def write(root: Path, host_path: str, content: str) -> None:
    target = root / host_path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)


def site(root: Path) -> None:
    write(root, "/etc/spamassassin/local.cf", "required_score 5.0\n")


@pytest.mark.parametrize(
    ("perl_version", "printed"), [("4.000001", "4.0.1"), ("3.004006", "3.4.6"), ("3.003002", "3.3.2")]
)
def test_debian_install_is_read_from_the_module(tmp_path: Path, perl_version: str, printed: str) -> None:
    site(tmp_path)
    write(tmp_path, "/usr/share/perl5/Mail/SpamAssassin.pm", MODULE.format(version=perl_version))
    config = read_spamassassin(HostFiles(str(tmp_path)), spamassassin="/usr/bin/spamassassin")
    assert config is not None
    assert (config.version, config.version_source) == (printed, "/usr/share/perl5/Mail/SpamAssassin.pm")


def test_the_scripts_own_library_comes_first(tmp_path: Path) -> None:
    # A CPAN build in /opt beside Debian's package: the script's `use lib` names the one it loads.
    write(tmp_path, "/usr/share/perl5/Mail/SpamAssassin.pm", MODULE.format(version="3.004006"))
    write(tmp_path, "/opt/sa/lib/perl5/Mail/SpamAssassin.pm", MODULE.format(version="4.000001"))
    write(tmp_path, "/opt/sa/bin/spamassassin", "#!/usr/bin/perl -T -w\nuse lib '/opt/sa/lib/perl5';\n")
    assert installed_version(HostFiles(str(tmp_path)), "/opt/sa/bin/spamassassin") == (
        "4.0.1",
        "/opt/sa/lib/perl5/Mail/SpamAssassin.pm",
    )


def test_cpan_install_under_a_versioned_perl_directory(tmp_path: Path) -> None:
    write(tmp_path, "/usr/local/share/perl/5.36.0/Mail/SpamAssassin.pm", MODULE.format(version="4.000001"))
    assert installed_version(HostFiles(str(tmp_path)), None) == (
        "4.0.1",
        "/usr/local/share/perl/5.36.0/Mail/SpamAssassin.pm",
    )


def test_a_module_without_a_readable_version_is_not_guessed(tmp_path: Path) -> None:
    write(tmp_path, "/usr/share/perl5/Mail/SpamAssassin.pm", "package Mail::SpamAssassin;\nour $VERSION = main();\n")
    assert installed_version(HostFiles(str(tmp_path)), None) == ("", "")


@needs_spamassassin
def test_no_module_file_falls_back_to_the_command(tmp_path: Path) -> None:
    site(tmp_path)  # a tree with no Mail/SpamAssassin.pm: only the real command can tell
    config = read_spamassassin(HostFiles(str(tmp_path)), spamassassin=SPAMASSASSIN)
    assert config is not None
    assert config.version_source == "spamassassin --version"
    assert re.fullmatch(r"\d+\.\d+\.\d+", config.version)


@needs_spamassassin
def test_installed_file_gives_what_spamassassin_version_prints() -> None:
    printed = subprocess.run([SPAMASSASSIN, "--version"], capture_output=True, text=True, check=True).stdout
    version, source = installed_version(HostFiles("/"), SPAMASSASSIN)
    assert source.endswith("/Mail/SpamAssassin.pm")
    assert f"SpamAssassin version {version}\n" in printed
