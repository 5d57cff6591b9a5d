"""gunicorn settings for Kinoite Portal: `gunicorn -c deploy/gunicorn.conf.py kinoite_portal.wsgi`.

Listens on a unix socket that Apache or nginx proxies to (deploy/apache, deploy/nginx). Under systemd socket
activation (deploy/systemd/kinoite-portal-web.socket) gunicorn takes the socket systemd passes and ignores
``bind``. Every value can be changed through the environment (deploy/portal.env.example, "gunicorn").
Before the first worker starts, Django's system checks run (kinoite_portal/core/checks.py): a repo folder the
web server cannot read, a missing TLS file or a broken LDAP configuration stops the start with a clear message.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from typing import Any

bind = [os.environ.get("GUNICORN_BIND", "unix:/run/kinoite-portal/gunicorn.sock")]
# Socket mode 0770 (umask 007; connecting needs write permission): only the portal's user and its group
# (the web server joins it) may connect.
umask = int(os.environ.get("GUNICORN_UMASK", "0o007"), 8)
workers = int(os.environ.get("GUNICORN_WORKERS", str(min(2 * multiprocessing.cpu_count() + 1, 8))))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Restart workers now and then, so a slow leak never grows without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
# An empty GUNICORN_ACCESSLOG turns the access log off (the web server in front keeps one).
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
proc_name = "kinoite-portal"
# The web server in front is the only client: trust its X-Forwarded-Proto (it arrives over the unix socket).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
wsgi_app = "kinoite_portal.wsgi:application"


def on_starting(server: Any) -> None:
    """Run Django's system checks once in the master; refuse to start on any error."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kinoite_portal.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    try:
        django.setup()
        call_command("check", fail_level="ERROR")
    except (SystemCheckError, ImproperlyConfigured) as exc:
        sys.stderr.write(f"kinoite-portal: refusing to start, the configuration has errors:\n{exc}\n")
        sys.stderr.flush()
        raise SystemExit(3) from exc
