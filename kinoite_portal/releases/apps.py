from __future__ import annotations

from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "kinoite_portal.releases"
    label = "releases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the deployment check that stages desktops pull from sign what they publish.
        from kinoite_portal.releases import checks  # noqa: F401
