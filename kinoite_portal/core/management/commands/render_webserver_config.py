"""Render the shipped Apache or nginx configuration (deploy/) for this site's paths."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

TEMPLATES = {
    "nginx": Path(settings.BASE_DIR) / "deploy" / "nginx" / "kinoite-portal.conf",
    "apache": Path(settings.BASE_DIR) / "deploy" / "apache" / "kinoite-portal.conf",
}
DEFAULT_SOCKET = "/run/kinoite-portal/gunicorn.sock"
# Paths end up inside quoted config strings: refuse anything that could close the quote or start a directive.
_SAFE_PATH_RE = re.compile(r"^/[A-Za-z0-9._/+@-]*$")
_HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_ADDRESS_RE = re.compile(r"^(?:[0-9.]+|\[[0-9A-Fa-f:]+\])$")
_PLACEHOLDER_RE = re.compile(r"@[A-Z_]+@")


def render(server: str, values: dict[str, str]) -> str:
    """Return the template for ``server`` with every ``@NAME@`` replaced; refuse a template with one left over."""
    text = TEMPLATES[server].read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    leftover = sorted(set(_PLACEHOLDER_RE.findall(text)))
    if leftover:
        raise CommandError(f"{TEMPLATES[server]} has placeholders this command does not fill: {', '.join(leftover)}")
    return text


class Command(BaseCommand):
    help = "Print (or write) deploy/{nginx,apache}/kinoite-portal.conf rendered for this site's paths."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--server", choices=sorted(TEMPLATES), required=True)
        parser.add_argument("--repo-root", default=str(settings.PORTAL_REPO_ROOT), help="Default: PORTAL_REPO_ROOT.")
        parser.add_argument(
            "--socket", default=DEFAULT_SOCKET, help=f"gunicorn's unix socket. Default: {DEFAULT_SOCKET}."
        )
        parser.add_argument("--static-root", default=str(settings.STATIC_ROOT), help="Default: STATIC_ROOT.")
        parser.add_argument(
            "--server-name",
            default=urlsplit(settings.PORTAL_PUBLIC_URL).hostname or "",
            help="Default: the host of PORTAL_PUBLIC_URL.",
        )
        parser.add_argument("--port", type=int, default=8443, help="TLS port. Default: 8443, as in the seed.")
        parser.add_argument("--listen-address", default="", help="Listen on this address only. Default: all.")
        parser.add_argument("--cert", default=settings.PORTAL_TLS_CERT, help="Default: PORTAL_TLS_CERT.")
        parser.add_argument("--key", default=settings.PORTAL_TLS_KEY, help="Default: PORTAL_TLS_KEY.")
        parser.add_argument("--output", help="Write here instead of standard output.")

    def handle(self, *args: Any, **options: Any) -> None:
        values = {
            "REPO_ROOT": self._path(options["repo_root"], "--repo-root").rstrip("/"),
            "SOCKET": self._path(options["socket"], "--socket"),
            "STATIC_ROOT": self._path(options["static_root"], "--static-root").rstrip("/"),
            "CERT": self._path(options["cert"], "--cert (or PORTAL_TLS_CERT)"),
            "KEY": self._path(options["key"], "--key (or PORTAL_TLS_KEY)"),
        }
        name = options["server_name"]
        if not _HOSTNAME_RE.fullmatch(name or ""):
            raise CommandError(f"--server-name {name!r} is not a host name.")
        port = options["port"]
        if not 0 < port < 65536:
            raise CommandError(f"--port {port} is not a TCP port.")
        address = options["listen_address"]
        if address and not _ADDRESS_RE.fullmatch(address):
            raise CommandError(f"--listen-address {address!r} is not an IPv4 address or a bracketed IPv6 address.")
        values.update(SERVER_NAME=name, PORT=str(port), LISTEN=f"{address}:{port}" if address else str(port))
        text = render(options["server"], values)
        if options["output"]:
            Path(options["output"]).write_text(text)
            self.stderr.write(f"Wrote {options['output']}")
        else:
            self.stdout.write(text, ending="")

    @staticmethod
    def _path(value: str, option: str) -> str:
        if not value:
            raise CommandError(f"{option} is required.")
        if not _SAFE_PATH_RE.fullmatch(value):
            raise CommandError(
                f"{option} {value!r} must be an absolute path of letters, digits and . _ / + @ - only "
                "(it is written into the web server's configuration)."
            )
        return value
