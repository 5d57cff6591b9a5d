from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kinoite_portal.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the deployment start-up checks (repos readable by the web server, TLS files, LDAP).
        from kinoite_portal.core import checks  # noqa: F401
