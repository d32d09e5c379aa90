#!/usr/bin/env bash
# What the benchmarks compare against (not needed by the tests): check_rbl 1.7 from Debian's
# monitoring-plugins-contrib and the Perl modules it loads.
set -euo pipefail
packages=(monitoring-plugins-contrib libmonitoring-plugin-perl libnet-dns-perl libreadonly-perl libcapture-tiny-perl libnet-ip-perl
          libdata-validate-domain-perl libdata-validate-ip-perl)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
