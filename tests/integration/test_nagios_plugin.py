"""The Nagios plugin script, run as Nagios runs it, against every resolver the lab's scenarios use.

The lab's DNS fixtures listen on <net>.53.<octet> port 53 in the fixture namespace, which the root
namespace reaches over the lab bridge (its gateway <net>.0.1 is the root's): the script runs here,
as a subprocess, with -n naming each fixture. It needs no check_rbl: bench/nagios_side_by_side.py
puts the two side by side (docs/NAGIOS.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

SCRIPT = Path(__file__).resolve().parents[2] / "extras" / "nagios" / "check_maildns_dnsbl"
ZONES = ["zen.spamhaus.org", "bl.spamcop.net"]
CLEAN = "192.0.2.1"
LISTED = "127.0.0.2"  # RFC 5782: listed on every list
OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3

# fixture name -> (state for the clean address, state for the listed one, words in the status line)
EXPECTED = {
    "resolver": (OK, CRITICAL, "not listed on 2 checked"),
    "slow": (WARNING, CRITICAL, "slow (1"),  # 1.3 s per answer: DNSBL_RESOLVER_SLOW
    "public": (CRITICAL, CRITICAL, "zen.spamhaus.org blocked for resolver"),
    "forwarder": (CRITICAL, CRITICAL, "zen.spamhaus.org blocked for resolver"),
    "ratelimited": (CRITICAL, CRITICAL, "127.255.255.255: rate limited"),
    "hidelists": (CRITICAL, CRITICAL, "zen.spamhaus.org hidden by resolver"),
    "nxrewrite": (CRITICAL, CRITICAL, "answers rewritten by resolver"),
    "blackhole": (UNKNOWN, UNKNOWN, "(timeout)"),
    "servfail": (UNKNOWN, UNKNOWN, "(SERVFAIL)"),
    "refused": (UNKNOWN, UNKNOWN, "(REFUSED)"),
    "garbage": (CRITICAL, CRITICAL, "malformed answers from resolver"),
    "broken": (CRITICAL, CRITICAL, "malformed answers from resolver"),
}
STATES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}


def plugin(address: str, host: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    argv = [str(SCRIPT), "-H", host, "-n", address, *(x for zone in ZONES for x in ("-s", zone))]
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_lab_resolver_gets_its_state_and_exit_code(lab, name: str) -> None:
    clean_state, listed_state, words = EXPECTED[name]
    address = lab.fixture(name)
    for host, state in ((CLEAN, clean_state), (LISTED, listed_state)):
        result = plugin(address, host)
        status = result.stdout.splitlines()[0] if result.stdout else ""
        assert result.returncode == state, result.stdout + result.stderr
        assert status.startswith(f"DNSBL {STATES[state]} - "), status
        if host == CLEAN or name not in ("resolver", "slow"):
            assert words in status, status
        else:
            assert f"{LISTED} BLACKLISTED on 2 servers of 2 checked" in status, status
        assert result.stderr == ""
        if name not in ("resolver", "slow"):
            # An error answer, a hidden list, garbage: about the resolver. The listed address is
            # BLACKLISTED only on a list that answered properly (spamcop, where one did).
            assert "BLACKLISTED on 2" not in status
            assert f"{CLEAN} BLACKLISTED" not in status
