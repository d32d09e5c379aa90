"""Shared pytest set-up: the collection's import path, and the lab fleet as a session fixture.

Tests that need the lab (root, network namespaces) skip with the reason when not run as root,
except in CI (CI=true), where they fail: CI must never pass by skipping the lab.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
COLLECTION_LINK = REPO_ROOT / ".collections" / "ansible_collections" / "maildns" / "audit"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Ansible and testinfra call ansible's command-line tools: take the ones of this virtualenv, and
# the checkout's ansible.cfg (collections_path, pipelining) whatever the working directory.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
os.environ["ANSIBLE_CONFIG"] = str(REPO_ROOT / "ansible.cfg")

if not COLLECTION_LINK.exists():
    raise pytest.UsageError(f"{COLLECTION_LINK} is missing: run the tests with 'make test' (it creates the link)")

# The fleet the integration tests share: one host per scenario they look at. The test lab has its
# own prefix, net and state folder, so a lab brought up by hand ('make lab-up') is left alone.
TEST_FLEET = [
    ("mx01", "healthy"),
    ("mx02", "public_resolver"),
    ("mx03", "mixed_resolvers"),
    ("mx04", "ratelimited_resolver"),
    ("mx05", "cloudflare_resolv_conf"),
    ("mx06", "unbound_forwards_public"),
    ("mx07", "systemd_resolved_public"),
    ("mx08", "chroot_drift"),
    ("mx09", "spamassassin_public_dns"),
    ("mx10", "master_override"),
    ("mx11", "broken_resolvers"),
    ("mx12", "bad_lists"),
    ("mx13", "no_ptr"),
    ("mx14", "ptr_not_confirmed"),
    ("mx15", "helo_mismatch"),
    ("mx16", "mx_ip_literal"),
    ("mx17", "generic_ptr"),
    ("mx18", "no_postfix"),
    ("mx19", "journal_only"),
    ("mx20", "google_resolver"),
    ("mx21", "egress_forwarder"),
    ("mx22", "dqs_behind_public"),
    ("mx23", "dqs_typo"),
    ("mx24", "bad_nameservers"),
    ("mx25", "postscreen_unused"),
    ("mx26", "no_dnsbl"),
    ("mx27", "undefined_parameter"),
    ("mx28", "parameter_cycle"),
    ("mx29", "broken_middlebox"),
    ("mx30", "slow_list"),
    ("mx31", "slow_resolver"),
]
# MAILDNS_TEST_LAB=prefix,net[,state-dir] gives a second test lab, so that two people (or two
# helpers) can run the integration tests on one machine at once without touching each other's.
TEST_LAB_PREFIX, TEST_LAB_NET, TEST_LAB_STATE = (os.environ.get("MAILDNS_TEST_LAB", "") + ",,").split(",")[:3]
TEST_LAB_PREFIX, TEST_LAB_NET = TEST_LAB_PREFIX or "mdtst", TEST_LAB_NET or "10.232"
TEST_LAB_STATE = TEST_LAB_STATE or (".lab-test" if TEST_LAB_PREFIX == "mdtst" else f".lab-test-{TEST_LAB_PREFIX}")


def require_lab_privileges() -> None:
    """Skip (fail in CI) when the lab cannot be built here."""
    if os.geteuid() != 0:
        reason = "the lab needs root: network namespaces, overlay mounts and sshd on port 22"
        if IN_CI:
            pytest.fail(f"CI=true but {reason}; CI must run the lab tests")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def lab() -> Iterator[object]:
    require_lab_privileges()
    from tests.lab.fleet import Lab, LabNetwork

    fleet = Lab(REPO_ROOT / TEST_LAB_STATE, LabNetwork(TEST_LAB_PREFIX, TEST_LAB_NET))
    try:
        fleet.up(TEST_FLEET)
        yield fleet
    finally:
        fleet.down()


@pytest.fixture(scope="session")
def lab_hosts(lab):  # type: ignore[no-untyped-def]
    """testinfra hosts of the lab, by inventory name, reached through testinfra's ansible backend."""
    import testinfra

    hosts = testinfra.get_hosts(["ansible://all"], ansible_inventory=str(lab.inventory))
    return {host.backend.host: host for host in hosts}
