"""The DNS engine under load: one batch of 500 lists through 4 resolvers, two of them answering garbage.

    .venv/bin/python bench/engine_load_bench.py [LISTS] [TIMEOUT] [RUNS]   (defaults: 500, 3.0 s, 3)

No root needed: four fixture processes (tests/lab/dns_fixture.py) on 127.0.0.1, port 0 each:
  resolver   an honest resolver
  public     a resolver Spamhaus refuses (valid answers, error codes for Spamhaus zones)
  garbage    46 random bytes behind the query's ID, for every query
  truncated  the first half of a valid answer (a cut-off message), for every query
Every list is asked through every resolver at both RFC 5782 test points (127.0.0.2 listed,
127.0.0.1 not): LISTS x 4 x 2 questions in one resolve_many() call. Garbage never completes a
question, so the engine keeps listening for a valid reply until its deadline (the timeout): the
batch must end then, not later.

Printed: elapsed against the deadline; the most descriptors open at once during the batch (this
process's /proc/self/fd, sampled every millisecond; the fixtures are other processes) and the
count before and after (must be equal); peak RSS (resource.getrusage) before and after the batch;
how each resolver's questions ended. Results go to docs/BENCHMARKS.md by hand.
"""

from __future__ import annotations

import collections
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / ".collections")]

from ansible_collections.maildns.audit.plugins.module_utils import dns_engine  # noqa: E402
from tests.lab.dns_fixture import spawn_fixture  # noqa: E402
from tests.lab.zone_data import build_zone_data  # noqa: E402

PERSONALITIES = ("resolver", "public", "garbage", "truncated")
ENV = {**os.environ, "PYTHONPATH": f"{REPO}:{REPO / '.collections'}"}


def zones(count: int) -> list[str]:
    return [f"list{n:03d}.bench.test" for n in range(count)]


def start_fixtures(data_file: Path) -> dict:
    """personality -> (process, (address, port))."""
    return {personality: spawn_fixture(personality, data_file) for personality in PERSONALITIES}


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def one_batch(servers: dict, lists: int, timeout: float) -> bool:
    questions = [
        dns_engine.Question(f"{point}.0.0.127.{zone}", "A", address, port)
        for zone in zones(lists)
        for (address, port) in servers
        for point in (2, 1)
    ]
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(open_fds())
            time.sleep(0.001)

    before, rss_before = open_fds(), rss_mib()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    replies = dns_engine.resolve_many(questions, timeout)
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    after, rss_after = open_fds(), rss_mib()
    outcomes: dict = collections.defaultdict(collections.Counter)
    for question, reply in zip(questions, replies, strict=True):
        kind = reply.error.split(" (")[0] if reply.error else f"answered {reply.rcode}"
        outcomes[servers[(question.server, question.port)]][kind] += 1
    engine_max = max(samples) - before - 1  # the sampler's own listdir holds one descriptor while it counts
    bound = dns_engine.UDP_SOCKETS_PER_FAMILY + dns_engine.MAX_TCP_CONNECTIONS + 1
    print(f"questions: {len(questions)} ({lists} lists x {len(servers)} resolvers x 2 test points), one batch")
    print(f"elapsed: {elapsed:.3f} s; deadline (timeout): {timeout:.3f} s; over by {elapsed - timeout:+.3f} s")
    print(
        f"descriptors: {before} before, {after} after ({'equal' if before == after else 'LEAKED'}); "
        f"at most {engine_max} open by the engine at once (bound {bound})"
    )
    print(f"peak RSS: {rss_before:.1f} MiB before the batch, {rss_after:.1f} MiB after ({rss_after - rss_before:+.1f})")
    for personality in PERSONALITIES:
        counts = ", ".join(f"{kind}: {count}" for kind, count in sorted(outcomes[personality].items()))
        print(f"  {personality:9s} {counts}")
    return before == after and engine_max <= bound and elapsed < timeout + 0.5


def main(argv: list[str]) -> int:
    lists = int(argv[0]) if argv else 500
    timeout = float(argv[1]) if len(argv) > 1 else 3.0
    runs = int(argv[2]) if len(argv) > 2 else 3
    specs = [{"zone": zone, "kind": "ip"} for zone in zones(lists)]
    print(f"{time.strftime('%Y-%m-%d')}; cores: {os.cpu_count()}; dnspython {dns_engine.dns.version.version}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        data_file = Path(tmp) / "dns.json"
        data_file.write_text(build_zone_data(specs, [". NS ns.lab.test."]).to_json())
        running = start_fixtures(data_file)
        try:
            servers = {address: personality for personality, (_process, address) in running.items()}
            for run in range(1, runs + 1):
                print(f"\nrun {run}:")
                results.append(one_batch(servers, lists, timeout))
        finally:
            for process, _address in running.values():
                process.terminate()
                process.wait(timeout=10)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
