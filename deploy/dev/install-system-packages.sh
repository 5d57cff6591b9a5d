#!/usr/bin/env bash
# Install the system packages the portal needs, when they are missing. The Makefile runs this BEFORE pip, because
# pip builds PyGObject, pycairo and (for the tests) python-ldap from source against these headers.
#   install-system-packages.sh run   -> ostree, gnupg, redis-server, skopeo, buildah, rpm, and what pip needs to build
#                                       `pip install -e .` (the worker copies, signs and builds images of OCI stages,
#                                       and lists the packages of their rpm databases)
#   install-system-packages.sh test  -> plus chromium, nginx, apache2, slapd, LDAP headers, docker-registry, rpmbuild
#                                       (what `make test` needs: the OCI tests start their own registry)
#   install-system-packages.sh bench -> plus wrk (what `make bench` needs)
# As root it uses apt-get (Debian, Ubuntu) or dnf (Fedora, RHEL); otherwise it prints the command to run and fails.
# PYTHON names the interpreter the virtualenv is made from (default python3): its venv module and headers are checked.
set -euo pipefail
profile=${1:-run}
python=${PYTHON:-python3}
case "$profile" in
  run | test | bench) ;;
  *) echo "usage: $0 run|test|bench" >&2; exit 2 ;;
esac

# "check:debian-package:fedora-package". A check is a command name, an absolute path (globs allowed), pc:MODULE
# (pkg-config knows MODULE) or py:CODE (the interpreter runs CODE successfully); "a|b" passes if either passes.
needs=(
  "ostree:ostree:ostree"
  "gpg:gnupg:gnupg2"
  "redis-server:redis-server:redis"
  # OCI stages: the worker inspects, copies and signs images with skopeo and builds them with buildah.
  "skopeo:skopeo:skopeo"
  "buildah:buildah:buildah"
  # The worker lists the packages of an image's rpm database (sqlite or BerkeleyDB) with rpm --dbpath.
  "rpm:rpm:rpm"
  # Building the virtualenv and PyGObject (python bindings of libostree) from source.
  "py:import ensurepip, venv:python3-venv:python3"
  "py:import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h'))):python3-dev:python3-devel"
  "cc:gcc:gcc"
  "pkg-config:pkg-config:pkgconf-pkg-config"
  "pc:gobject-introspection-1.0:libgirepository1.0-dev:gobject-introspection-devel"
  "pc:cairo:libcairo2-dev:cairo-devel"
  "/usr/lib/*/girepository-1.0/OSTree-1.0.typelib|/usr/lib64/girepository-1.0/OSTree-1.0.typelib:gir1.2-ostree-1.0:ostree-libs"
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
    # The OCI tests start a throwaway registry (distribution) on a loopback port.
    "/usr/bin/docker-registry|/usr/bin/registry:docker-registry:docker-distribution"
    # The image package tests build tiny packages into a real rpm database.
    "rpmbuild:rpm:rpm-build"
  )
fi
if [ "$profile" = bench ]; then
  needs+=("wrk:wrk:wrk")
fi

have_one() {
  local check=$1 path
  case "$check" in
    py:*) "$python" -c "${check#py:}" >/dev/null 2>&1 ;;
    pc:*) command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "${check#pc:}" ;;
    /*)
      for path in $check; do [ -e "$path" ] && return 0; done  # unquoted on purpose: expands the glob
      return 1
      ;;
    *) command -v "$check" >/dev/null 2>&1 ;;
  esac
}

have() {
  local alt
  IFS='|' read -ra alts <<<"$1"
  for alt in "${alts[@]}"; do have_one "$alt" && return 0; done
  return 1
}

if command -v apt-get >/dev/null 2>&1; then manager=apt
elif command -v dnf >/dev/null 2>&1; then manager=dnf
else echo "Neither apt-get nor dnf found: install ostree, gnupg, redis and the build headers by hand." >&2; exit 1
fi

missing=()
for need in "${needs[@]}"; do
  # The check may contain colons (py: code), so the two package names are taken from the end.
  fedora=${need##*:}; rest=${need%:*}
  debian=${rest##*:}; check=${rest%:*}
  if ! have "$check"; then
    if [ "$manager" = apt ]; then package=$debian; else package=$fedora; fi
    # Two checks may name one package (Debian's rpm brings rpm and rpmbuild): list it once.
    [[ " ${missing[*]} " == *" $package "* ]] || missing+=("$package")
  fi
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
