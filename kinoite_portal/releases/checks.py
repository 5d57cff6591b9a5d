"""Checks about releases: every stage desktops pull from signs what it publishes; registry passwords stay private."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.db import DatabaseError


@register(deploy=True)
def check_published_stages_sign(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Warn about stages desktops pull from that have no signing key (clients then cannot verify anything)."""
    from kinoite_portal.releases.selectors import unsigned_published_stages

    try:
        unsigned = unsigned_published_stages()
    except DatabaseError:
        return []  # not migrated yet: nothing is published either
    return [
        Warning(
            f"Stage {stage.name!r} has no signing key, but desktops pull from it: they cannot verify its commits "
            "or its summary.",
            hint=f"In the admin, open Stages -> {stage.name} and generate or import a key (the stage's current "
            "heads and summary are signed at once), then set up clients with gpg-verify=true and "
            "gpg-verify-summary=true as the client setup page shows.",
            id="kinoite_portal.W050",
        )
        for stage in unsigned
    ]


@register()
def check_registry_auth_file_is_private(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a registry auth file others can read: it holds the registries' passwords in clear."""
    path = Path(settings.PORTAL_REGISTRY_AUTH_FILE)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return []  # no OCI stage needs credentials (public or anonymous registries)
    except OSError as exc:
        return [Warning(f"The registry auth file {path} cannot be read: {exc}", id="kinoite_portal.W051")]
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return [
            Error(
                f"The registry auth file {path} is readable by others (mode {stat.S_IMODE(mode):04o}); it holds "
                "registry passwords.",
                hint=f"chmod 600 {path} (owned by the user the worker runs as).",
                id="kinoite_portal.E051",
            )
        ]
    return []
