# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A resolver on a host's path, as the probes ask it.

Private to the collection. Runs on managed hosts: Python 3.8 syntax. Its own module so that the
probe's command line starts without importing the configuration readers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResolverTarget:
    """One resolver on the host's path, and where the host names it."""

    address: str  # "": the system resolver as a whole (libc, without dnspython)
    source: str  # "/etc/resolv.conf line 2", "Postfix chroot copy ...", "SpamAssassin dns_server ..."
    port: int = 53
