"""The reading half of an audit on this machine: what each reader costs per host (not a test).

    sudo .venv/bin/python bench/read_bench.py [--runs 7] [--profile]

Postfix is read through the real postconf from a copy of /etc/postfix holding the corpus case
healthy_debian's main.cf and master.cf (their mtime set an hour back: Postfix re-reads a file
changed within the last second every 0.3 s until it cools down, which would time that instead).
SpamAssassin, the resolver path and the mail log are this machine's own.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / ".collections")]

from ansible_collections.maildns.audit.plugins.module_utils.files import HostFiles  # noqa: E402
from ansible_collections.maildns.audit.plugins.module_utils.host_model import read_host  # noqa: E402
from ansible_collections.maildns.audit.plugins.module_utils.mail_log import read_rejections  # noqa: E402
from ansible_collections.maildns.audit.plugins.module_utils.postfix_config import read_postfix  # noqa: E402
from ansible_collections.maildns.audit.plugins.module_utils.resolver_path import read_resolver_path  # noqa: E402
from ansible_collections.maildns.audit.plugins.module_utils.spamassassin_config import (  # noqa: E402
    read_spamassassin,
)


def config_directory(work: Path) -> str:
    target = work / "postfix"
    if Path("/etc/postfix").is_dir():
        shutil.copytree("/etc/postfix", target)
    target.mkdir(exist_ok=True)
    for name in ("main.cf", "master.cf"):
        shutil.copy(REPO / "tests/unit/corpus/healthy_debian/etc/postfix" / name, target / name)
        os.utime(target / name, (time.time() - 3600, time.time() - 3600))
    return str(target)


def median_ms(function, runs: int) -> float:  # type: ignore[no-untyped-def]
    function()
    times = []
    for _run in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one read_host")
    options = parser.parse_args()
    files = HostFiles("/")
    postconf = shutil.which("postconf") or "/usr/sbin/postconf"
    with tempfile.TemporaryDirectory() as work:
        directory = config_directory(Path(work))

        def whole() -> None:
            host = read_host("/", directory)
            read_rejections(files, host.postfix.parameters.get("maillog_file", "") if host.postfix else "")

        parts = {
            "read_postfix (postconf)": lambda: read_postfix(files, postconf, directory, "bench"),
            "read_resolver_path": lambda: read_resolver_path(files, "/var/spool/postfix", ["smtp/inet"]),
            "read_spamassassin": lambda: read_spamassassin(files, None, shutil.which("spamassassin")),
            "read_rejections": lambda: read_rejections(files, ""),
        }
        for name, function in parts.items():
            print(f"{name:26s} {median_ms(function, options.runs):7.1f} ms")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = time.process_time()
        wall = median_ms(whole, options.runs)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        children = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / (options.runs + 1)
        print(
            f"{'read_host + read_rejections':26s} {wall:7.1f} ms wall; CPU per host "
            f"{(time.process_time() - own) / (options.runs + 1) * 1000:.1f} ms own + {children * 1000:.1f} ms children"
        )
        if options.profile:
            profile = cProfile.Profile()
            profile.runcall(whole)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(20)


if __name__ == "__main__":
    main()
