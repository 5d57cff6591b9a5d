from __future__ import annotations

from django.apps import AppConfig


class FleetConfig(AppConfig):
    name = "kinoite_portal.fleet"
    label = "fleet"
    default_auto_field = "django.db.models.BigAutoField"
