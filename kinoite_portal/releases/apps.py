from __future__ import annotations

from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "kinoite_portal.releases"
    label = "releases"
    default_auto_field = "django.db.models.BigAutoField"
