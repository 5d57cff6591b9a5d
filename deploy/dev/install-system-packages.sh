#!/usr/bin/env bash
# Install the system packages the portal needs, when they are missing.
#   install-system-packages.sh run   -> ostree, gnupg, redis-server (what `make run` needs)
#   install-system-packages.sh test  -> plus chromium, nginx, apache2, slapd and LDAP headers (what `make test` needs)
#   install-system-packages.sh bench -> plus wrk (what `make bench` needs)
# As root it uses apt-get (Debian, Ubuntu) or dnf (Fedora, RHEL); otherwise it prints the command to run.
set -euo pipefail
profile=${1:-run}

# "command-or-file:debian-package:fedora-package"
needs=(
  "ostree:ostree:ostree"
  "gpg:gnupg:gnupg2"
  "redis-server:redis-server:redis"
)
if [ "$profile" = test ] || [ "$profile" = bench ]; then
  needs+=(
    "chromium:chromium:chromium"
    "nginx:nginx:nginx"
    "/usr/sbin/apache2|/usr/sbin/httpd:apache2:httpd"
    "/usr/sbin/slapd:slapd:openldap-servers"
    "ldapsearch:ldap-utils:openldap-clients"
    "/usr/include/lber.h:libldap2-dev:openldap-devel"
    "/usr/include/sasl/sasl.h:libsasl2-dev:cyrus-sasl-devel"
    "openssl:openssl:openssl"
  )
fi
if [ "$profile" = bench ]; then
  needs+=("wrk:wrk:wrk")
fi

have() {
  local alt
  IFS='|' read -ra alts <<<"$1"
  for alt in "${alts[@]}"; do
    if [[ "$alt" == /* ]]; then [ -e "$alt" ] && return 0; else command -v "$alt" >/dev/null 2>&1 && return 0; fi
  done
  return 1
}

if command -v apt-get >/dev/null 2>&1; then manager=apt; field=2
elif command -v dnf >/dev/null 2>&1; then manager=dnf; field=3
else echo "Neither apt-get nor dnf found: install ostree, gnupg and redis by hand." >&2; exit 1
fi

missing=()
for need in "${needs[@]}"; do
  IFS=':' read -ra parts <<<"$need"
  have "${parts[0]}" || missing+=("${parts[$((field - 1))]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$manager" = apt ]; then
  cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}"
else
  cmd="dnf install -y ${missing[*]}"
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${missing[*]}" >&2
  echo "Run as root:  $cmd" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
if [ "$manager" = apt ]; then
  # Configure nothing interactively, and start no daemon: the portal and its tests start their own.
  echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
else
  dnf install -y "${missing[@]}"
fi
