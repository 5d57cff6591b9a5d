#!/usr/bin/env bash
# SELinux for Kinoite Portal on RHEL/Fedora, as the seed describes: the web server may READ the repos and the
# static files, never write, create, delete or execute them; it may listen on 8443 and reach gunicorn.
#
#   deploy/selinux/setup-selinux.sh [--repo-root /srv/ostree/rpm-ostree] [--static-root /var/lib/kinoite-portal/static]
#                                   [--port 8443] [--tcp-upstream]
#
# --tcp-upstream: gunicorn listens on 127.0.0.1 instead of the unix socket; then the web server needs
#                 `httpd_can_network_connect` (the boolean the seed's reverse proxy needs).
# Safe to run again. Needs policycoreutils-python-utils (semanage) and, for the socket module, checkpolicy.
set -euo pipefail

repo_root=/srv/ostree/rpm-ostree
static_root=/var/lib/kinoite-portal/static
run_dir=/run/kinoite-portal
port=8443
tcp_upstream=0
while [ $# -gt 0 ]; do
  case "$1" in
    --repo-root) repo_root=${2%/}; shift 2 ;;
    --static-root) static_root=${2%/}; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --tcp-upstream) tcp_upstream=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then echo "Run as root." >&2; exit 1; fi
if ! command -v selinuxenabled >/dev/null 2>&1 || ! selinuxenabled; then
  echo "SELinux is disabled on this machine: nothing to do." >&2; exit 0
fi
for tool in semanage restorecon setsebool; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool is missing: dnf install policycoreutils-python-utils" >&2; exit 1; }
done
case "$repo_root$static_root" in *[!A-Za-z0-9/._-]*) echo "paths may only hold A-Z a-z 0-9 / . _ -" >&2; exit 2 ;; esac

# add-or-modify: semanage fcontext -a fails when the rule exists, -m when it does not.
fcontext() { semanage fcontext -a -t "$1" "$2" 2>/dev/null || semanage fcontext -m -t "$1" "$2"; }

# 1. Repos and static files: httpd_sys_content_t = readable by httpd_t, not writable (that would be
#    httpd_sys_rw_content_t). The portal's workers run unconfined and keep writing them.
fcontext httpd_sys_content_t "${repo_root}(/.*)?"
fcontext httpd_sys_content_t "${static_root}(/.*)?"
mkdir -p "$repo_root" "$static_root"
restorecon -R -v "$repo_root" "$static_root"

# 2. The TLS port: 8443 is usually already http_port_t; add it when it is not.
if ! semanage port -l | awk '$1 == "http_port_t" && $2 == "tcp"' | grep -Eq "(^|[ ,])${port}(,|$)"; then
  semanage port -a -t http_port_t -p tcp "$port" 2>/dev/null || semanage port -m -t http_port_t -p tcp "$port"
fi

# 3. Reaching gunicorn.
if [ "$tcp_upstream" = 1 ]; then
  setsebool -P httpd_can_network_connect 1
else
  # The unix socket's folder gets the web server's run-time type, and a two-line policy module lets httpd_t
  # connect to the socket that systemd (init_t, socket activation) or gunicorn (unconfined_service_t) holds.
  fcontext httpd_var_run_t "${run_dir}(/.*)?"
  [ -d "$run_dir" ] && restorecon -R -v "$run_dir"
  command -v checkmodule >/dev/null 2>&1 || { echo "checkmodule is missing: dnf install checkpolicy" >&2; exit 1; }
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  cat >"$work/kinoite_portal_proxy.te" <<'POLICY'
module kinoite_portal_proxy 1.0;
require {
    type httpd_t;
    type init_t;
    type unconfined_service_t;
    class unix_stream_socket connectto;
}
allow httpd_t init_t:unix_stream_socket connectto;
allow httpd_t unconfined_service_t:unix_stream_socket connectto;
POLICY
  checkmodule -M -m -o "$work/kinoite_portal_proxy.mod" "$work/kinoite_portal_proxy.te"
  semodule_package -o "$work/kinoite_portal_proxy.pp" -m "$work/kinoite_portal_proxy.mod"
  semodule -i "$work/kinoite_portal_proxy.pp"
fi

echo "SELinux is set up: ${repo_root} and ${static_root} are httpd_sys_content_t (read-only for the web server)."
echo "Check with: ls -dZ ${repo_root}; after a pull, ausearch -m avc -ts recent should show nothing."
