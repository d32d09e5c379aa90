"""check_rbl 1.7 and check_maildns_dnsbl side by side on every resolver the demo fleet's scenarios use.

    sudo .venv/bin/python bench/nagios_side_by_side.py            (after bench/install-bench-deps.sh)

Brings up a lab of its own (prefix mdh3, net 10.220, state .lab-mdh3, one host: the DNS fixtures
are what matters), runs both plugins from the root namespace against each resolver fixture (port
53, which is the only port check_rbl's -n can ask), once for a clean address and once for a listed
one, prints the markdown table for docs/NAGIOS.md, and takes the lab down again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.lab.fleet import Lab, LabNetwork  # noqa: E402

CHECK_RBL = "/usr/lib/nagios/plugins/check_rbl"
PLUGIN = REPO / "extras" / "nagios" / "check_maildns_dnsbl"
ZONES = ["zen.spamhaus.org", "bl.spamcop.net"]
CLEAN = "192.0.2.1"  # on no list of the lab
LISTED = "127.0.0.2"  # RFC 5782: on every list (the lab's zen answers 127.0.0.2, .4, .10)
# The resolvers the scenarios of tests/lab/scenarios/ put in front of their hosts, and what each is.
RESOLVERS = [
    ("resolver", "honest recursive resolver"),
    ("slow", "honest, 1.3 s per answer"),
    ("public", "public resolver Spamhaus refuses (127.255.255.254)"),
    ("forwarder", "forwarder to a refused public resolver"),
    ("ratelimited", "over Spamhaus' volume limit (127.255.255.255)"),
    ("hidelists", "Google-like: NXDOMAIN for all of Spamhaus"),
    ("nxrewrite", "rewrites NXDOMAIN to an address"),
    ("blackhole", "never answers"),
    ("servfail", "SERVFAIL for everything"),
    ("refused", "REFUSED for everything"),
    ("garbage", "random bytes"),
    ("broken", "broken middlebox (malformed answers)"),
]
NAMES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
ENV = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def run(argv: list[str]) -> tuple[int, str]:
    result = subprocess.run(argv, capture_output=True, text=True, env=ENV, check=False, timeout=60)
    first = (result.stdout.strip().splitlines() or [result.stderr.strip() or "(no output)"])[0]
    return result.returncode, first.split(" | ")[0]


def check_rbl(address: str, host: str) -> tuple[int, str]:
    return run([CHECK_RBL, "-H", host, "-n", address, "-t", "12", "--query-timeout", "3", *flags("-s")])


def plugin(address: str, host: str) -> tuple[int, str]:
    return run([str(PLUGIN), "-H", host, "-n", address, *flags("-s")])


def flags(flag: str) -> list[str]:
    return [x for zone in ZONES for x in (flag, zone)]


def cell(code: int, text: str, limit: int = 230) -> str:
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"**{NAMES.get(code, code)}** ({code}) {text}".replace("|", "/")


def main() -> int:
    if os.geteuid() != 0 or not Path(CHECK_RBL).exists():
        print("needs root and check_rbl: run bench/install-bench-deps.sh as root first", file=sys.stderr)
        return 1
    lab = Lab(REPO / ".lab-mdh3", LabNetwork("mdh3", "10.220"))
    try:
        lab.up([("mx01", "healthy")])
        print(f"-s {' -s '.join(ZONES)}; clean -H {CLEAN}, listed -H {LISTED}; check_rbl -t 12 --query-timeout 3\n")
        print("| resolver | -H | check_rbl 1.7 | check_maildns_dnsbl |")
        print("|---|---|---|---|")
        for name, what in RESOLVERS:
            address = lab.fixture(name)
            for host in (CLEAN, LISTED):
                theirs = check_rbl(address, host)
                ours = plugin(address, host)
                print(f"| `{name}` {address}: {what} | {host} | {cell(*theirs)} | {cell(*ours)} |", flush=True)
    finally:
        lab.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
