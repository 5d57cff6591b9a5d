"""Deployment checks about releases: every stage desktops pull from signs what it publishes."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Warning, register
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
