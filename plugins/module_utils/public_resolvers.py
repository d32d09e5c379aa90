# Copyright: maildns.audit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The public-resolver table: who runs which shared resolver address.

Private to the collection. Runs on managed hosts: Python 3.8 syntax. The one place these facts
live. Spamhaus' public mirrors refuse queries from shared resolvers without attributable reverse
DNS (seed 001: Cloudflare refused outright, Hetzner's resolvers from 2025-02-19); every resolver
here is such a shared resolver, so a mail host must not send DNSBL queries through any of them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class PublicResolver:
    provider: str
    addresses: tuple


PUBLIC_RESOLVERS = (
    PublicResolver(
        "Cloudflare",
        (
            "1.1.1.1",
            "1.0.0.1",
            "1.1.1.2",
            "1.0.0.2",
            "1.1.1.3",
            "1.0.0.3",
            "2606:4700:4700::1111",
            "2606:4700:4700::1001",
        ),
    ),
    PublicResolver("Google Public DNS", ("8.8.8.8", "8.8.4.4", "2001:4860:4860::8888", "2001:4860:4860::8844")),
    PublicResolver(
        "Quad9",
        (
            "9.9.9.9",
            "149.112.112.112",
            "9.9.9.10",
            "149.112.112.10",
            "9.9.9.11",
            "2620:fe::fe",
            "2620:fe::9",
            "2620:fe::10",
            "2620:fe::11",
        ),
    ),
    PublicResolver(
        "Cisco OpenDNS",
        ("208.67.222.222", "208.67.220.220", "208.67.222.123", "208.67.220.123", "2620:119:35::35", "2620:119:53::53"),
    ),
    PublicResolver(
        "AdGuard DNS",
        ("94.140.14.14", "94.140.15.15", "94.140.14.140", "94.140.14.141", "2a10:50c0::ad1:ff", "2a10:50c0::ad2:ff"),
    ),
    PublicResolver("Level3 / Lumen", ("4.2.2.1", "4.2.2.2", "4.2.2.3", "4.2.2.4", "4.2.2.5", "4.2.2.6")),
    PublicResolver("Hetzner", ("185.12.64.1", "185.12.64.2", "2a01:4ff:ff00::add:1", "2a01:4ff:ff00::add:2")),
    PublicResolver("CleanBrowsing", ("185.228.168.9", "185.228.169.9", "185.228.168.168", "185.228.169.168")),
    PublicResolver("Comodo Secure DNS", ("8.26.56.26", "8.20.247.20")),
    PublicResolver("Yandex DNS", ("77.88.8.8", "77.88.8.1", "2a02:6b8::feed:0ff", "2a02:6b8:0:1::feed:0ff")),
    PublicResolver("DNS.SB", ("185.222.222.222", "45.11.45.11", "2a09::", "2a11::")),
    PublicResolver("Control D", ("76.76.2.0", "76.76.10.0", "2606:1a40::", "2606:1a40:1::")),
    PublicResolver("Mullvad DNS", ("194.242.2.2", "2a07:e340::2")),
    PublicResolver("Alibaba Cloud DNS", ("223.5.5.5", "223.6.6.6", "2400:3200::1", "2400:3200:baba::1")),
    PublicResolver("Tencent DNSPod", ("119.29.29.29", "2402:4e00::")),
    PublicResolver("114DNS", ("114.114.114.114", "114.114.115.115")),
    PublicResolver("Baidu DNS", ("180.76.76.76",)),
    PublicResolver("Neustar UltraDNS", ("64.6.64.6", "64.6.65.6", "156.154.70.1", "156.154.71.1")),
    PublicResolver("OpenNIC / Freenom", ("80.80.80.80", "80.80.81.81")),
)

_BY_ADDRESS = {
    ipaddress.ip_address(address): resolver.provider for resolver in PUBLIC_RESOLVERS for address in resolver.addresses
}

# Address classes of a nameserver, as resolver_facts reports them.
LOOPBACK, PRIVATE, PUBLIC_KNOWN, PUBLIC_UNKNOWN, INVALID = (
    "loopback",
    "private",
    "public_known",
    "public_unknown",
    "invalid",
)


def classify_address(text: str) -> tuple:
    """(class, provider) of a nameserver address; provider only for known public resolvers."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return INVALID, None
    provider = _BY_ADDRESS.get(address)
    if provider is not None:
        return PUBLIC_KNOWN, provider
    if address.is_loopback:
        return LOOPBACK, None
    if address.is_private or address.is_link_local or address in ipaddress.ip_network("100.64.0.0/10"):
        return PRIVATE, None
    return PUBLIC_UNKNOWN, None


def render_markdown() -> str:
    lines = [
        "# Public resolvers",
        "",
        "Generated from `plugins/module_utils/public_resolvers.py` by `make docs`; "
        "do not edit by hand. Spamhaus' public mirrors refuse DNSBL queries that come through these.",
        "",
        "| provider | addresses |",
        "|---|---|",
    ]
    for resolver in PUBLIC_RESOLVERS:
        lines.append(f"| {resolver.provider} | {', '.join(resolver.addresses)} |")
    return "\n".join(lines) + "\n"
