"""report.html rendered by a real browser (Debian's chromium, headless, in a network namespace of its own)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.maildns.audit.plugins.module_utils.fleet_report import (
    HTML_PAGE_SIZE,
    build_report,
    write_report,
)
from tests.conftest import IN_CI
from tests.tools.synthetic_fleet import fleet
from tests.unit.test_fleet_report import RESULTS, TODAY

CHROMIUM = shutil.which("chromium")


def chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Headless chromium with no network at all (unshare --net): a file:// page needs none."""
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={cwd / 'profile'}",
        "--window-size=1280,1000",
    ]
    return subprocess.run(
        ["unshare", "--net", CHROMIUM, *flags, *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )


@pytest.fixture
def report_html(tmp_path: Path) -> Path:
    if CHROMIUM is None or not shutil.which("unshare"):
        if IN_CI:
            pytest.fail("CI=true but chromium is missing: make deps installs it")
        pytest.skip("chromium is not installed (make deps installs it)")
    write_report(build_report(RESULTS, {}, "high", TODAY), str(tmp_path))
    return tmp_path / "report.html"


def test_the_report_renders_and_shows_the_fleet_summary(report_html: Path) -> None:
    root = report_html.parent
    dom = chromium("--dump-dom", report_html.as_uri(), cwd=root)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Fleet summary" in dom.stdout and "Gate failed" in dom.stdout
    assert "2 of 6 hosts not audited (2 unreachable)" in dom.stdout  # gone and never, named in the list below
    assert '<ul id="not-audited">' in dom.stdout and "Raw evidence</summary>" in dom.stdout
    shot = chromium(f"--screenshot={root / 'report.png'}", report_html.as_uri(), cwd=root)
    assert shot.returncode == 0, shot.stderr[-2000:]
    png = (root / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 20_000  # a rendered page, not a blank one (a blank 1280x1000 PNG is a few kB)


# -- at fleet size (issue 13 item 6) ---------------------------------------------------------------

AT_SIZE = 10_000


@pytest.fixture(scope="module")
def fleet_report_html(tmp_path_factory) -> tuple[Path, dict]:
    if CHROMIUM is None or not shutil.which("unshare"):
        if IN_CI:
            pytest.fail("CI=true but chromium is missing: make deps installs it")
        pytest.skip("chromium is not installed (make deps installs it)")
    root = tmp_path_factory.mktemp("fleet-html")
    report = build_report(fleet(AT_SIZE), {}, "high", TODAY)
    write_report(report, str(root))
    return root / "report.html", report


def test_ten_thousand_hosts_open_on_the_summary_and_the_fleets_findings(fleet_report_html) -> None:
    page, report = fleet_report_html
    root = page.parent
    shot = chromium(f"--screenshot={root / 'first.png'}", page.as_uri(), cwd=root)
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert len((root / "first.png").read_bytes()) > 20_000
    text = page.read_text()
    # the first screen: the summary, a gate line that counts the hosts past the first 20, then the
    # findings across the fleet, one row per ID
    head = text.split("<section id='hosts'>", 1)[0]
    assert f"<b>{AT_SIZE}</b>hosts" in head
    failing = len(report["summary"]["gate"]["findings"])
    assert f"and {failing - 20:,} more" in head
    ids = {f["id"] for host in report["hosts"] for f in host["findings"] if not f["waived"]}
    assert sorted(re.findall(r"<tr data-id='([A-Z_0-9]+)'>", head)) == sorted(ids)
    assert len(head) < 200_000  # the part above the hosts stays small whatever the fleet's size


def test_a_link_to_the_last_host_opens_its_page_and_nothing_else(fleet_report_html) -> None:
    page, report = fleet_report_html
    last = report["hosts"][-1]["host"]
    dom = chromium("--dump-dom", f"{page.as_uri()}#host-{last}", cwd=page.parent)
    assert dom.returncode == 0, dom.stderr[-2000:]
    pages = re.findall(r'<details class="page" id="page-(\d+)"( open="")?>', dom.stdout)
    assert len(pages) == AT_SIZE // HTML_PAGE_SIZE
    # the first page is open as written; the link's script opened the last one, and the host in it
    assert [number for number, opened in pages if opened] == ["1", str(AT_SIZE // HTML_PAGE_SIZE)]
    assert f'<details class="host" id="host-{last}" open="">' in dom.stdout
