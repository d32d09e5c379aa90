"""report.html rendered by a real browser (Debian's chromium, headless, in a network namespace of its own)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.maildns.audit.plugins.module_utils.fleet_report import build_report, write_report
from tests.conftest import IN_CI
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
