#!/usr/bin/env bash
# Install the Debian packages the lab and the tests need, without starting any service.
#
# Postfix is preseeded to "No configuration" so that its postinst writes no main.cf and asks nothing;
# a temporary policy-rc.d (exit 101) stops invoke-rc.d from starting postfix, unbound, spamd or sshd
# on install: lab hosts start their own daemons inside their own namespaces.
set -euo pipefail

PACKAGES=(
  openssh-server openssh-client   # sshd inside every lab host; Ansible's transport
  postfix                         # postconf, postfix check, a real MTA inside lab hosts
  unbound                         # the local-resolver fix, unbound-checkconf
  dns-root-data                   # the root trust anchor Debian's unbound.conf names (a Recommends of unbound)
  spamassassin                    # spamassassin --lint, SpamAssassin's own DNSBL rules
  bind9-dnsutils                  # dig, for tests and for people poking at the lab
  shellcheck                      # ansible-test sanity's shellcheck test (make sanity)
  systemd-journal-remote          # writes the journal files the mail-log tests read with journalctl
  iproute2 procps psmisc          # ip netns/link, pkill, fuser
  python3 python3-venv python3-dnspython      # the managed-host Python the modules run on in the lab
  chromium                        # renders report.html headless for its screenshot test
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  [[ "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "system packages: all present"
  exit 0
fi

if [[ $EUID -ne 0 ]]; then
  echo "system packages missing (${missing[*]}); run 'make deps' as root to install them" >&2
  exit 1
fi

echo "system packages: installing ${missing[*]}"
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# maildns.audit install: no service starts on package install\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  created_policy=1
fi
# An `&&` list as the trap's last command would become the script's exit status when the machine
# already had a policy-rc.d (Debian container images ship one): use `if`, so a good install exits 0.
# shellcheck disable=SC2317  # reached through the EXIT trap, which shellcheck does not follow
cleanup() {
  if [[ $created_policy -eq 1 ]]; then rm -f "$policy"; fi
}
trap cleanup EXIT

echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: done"
exit 0
