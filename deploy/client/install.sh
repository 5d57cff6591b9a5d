#!/bin/sh
# Install the Kinoite Portal agent on a Fedora Kinoite desktop (run as root).
#
#   sh install.sh --url https://portal.example.com --enrollment-token kpe_...
#
# Files go where a Kinoite desktop can write: /usr/local (really /var/usrlocal) and /etc. The agent, its unit and
# its timer are taken from this script's folder, or downloaded from the portal when the script was fetched alone.
# DESTDIR=/some/dir installs into a folder instead (for packaging and tests) and touches no running system.
set -eu

url=""
enrollment_token=""
start=yes
while [ $# -gt 0 ]; do
    case "$1" in
        --url) url="${2:?--url needs a value}"; shift 2 ;;
        --enrollment-token) enrollment_token="${2:?--enrollment-token needs a value}"; shift 2 ;;
        --no-start) start=no; shift ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
case "$url" in
    http://*|https://*) url="${url%/}" ;;
    *) echo "install.sh: --url must be the portal's http(s) address" >&2; exit 2 ;;
esac
if [ -z "$enrollment_token" ]; then
    echo "install.sh: --enrollment-token is required (an administrator creates one in the portal's admin)" >&2
    exit 2
fi
destdir="${DESTDIR:-}"
if [ -z "$destdir" ] && [ "$(id -u)" != 0 ]; then
    echo "install.sh: run as root (sudo sh install.sh ...)" >&2
    exit 2
fi

here="$(cd "$(dirname "$0")" && pwd)"
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
for name in kinoite-portal-agent kinoite-portal-agent.service kinoite-portal-agent.timer README.md; do
    if [ -f "$here/$name" ]; then
        cp "$here/$name" "$workdir/$name"
    else
        curl --fail --silent --show-error --location --max-time 60 -o "$workdir/$name" "$url/fleet/agent/$name"
    fi
done

install -D -m 0755 "$workdir/kinoite-portal-agent" "$destdir/usr/local/bin/kinoite-portal-agent"
install -D -m 0644 "$workdir/kinoite-portal-agent.service" "$destdir/etc/systemd/system/kinoite-portal-agent.service"
install -D -m 0644 "$workdir/kinoite-portal-agent.timer" "$destdir/etc/systemd/system/kinoite-portal-agent.timer"
install -D -m 0644 "$workdir/README.md" "$destdir/usr/local/share/doc/kinoite-portal-agent/README.md"

conf="$destdir/etc/kinoite-portal/agent.conf"
install -d -m 0700 "$destdir/etc/kinoite-portal"
umask 077
# Re-running the installer re-enrolls: the old host token is dropped and replaced by the portal.
printf 'URL=%s\nENROLLMENT_TOKEN=%s\n' "$url" "$enrollment_token" > "$conf.new"
chmod 0600 "$conf.new"
mv "$conf.new" "$conf"

if [ -n "$destdir" ]; then
    echo "Installed into $destdir (no service started)."
    exit 0
fi
systemctl daemon-reload
systemctl enable kinoite-portal-agent.timer
if [ "$start" = yes ]; then
    systemctl start kinoite-portal-agent.timer
    # Enroll and report now; the timer repeats it hourly.
    systemctl start kinoite-portal-agent.service || {
        echo "The first report failed: journalctl -u kinoite-portal-agent.service shows why." >&2
        exit 1
    }
fi
echo "Kinoite Portal agent installed; this desktop reports after every boot and hourly."
