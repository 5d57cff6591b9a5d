from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kinoite_portal.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the deployment start-up checks (repos readable by the web server, TLS files, LDAP).
        # Audits failed sign-ins (a signal receiver), which the sign-in throttle counts.
        from kinoite_portal.core import (
            checks,  # noqa: F401
            signin,  # noqa: F401
        )
