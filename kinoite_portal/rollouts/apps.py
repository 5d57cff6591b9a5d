from __future__ import annotations

from django.apps import AppConfig


class RolloutsConfig(AppConfig):
    name = "kinoite_portal.rollouts"
    label = "rollouts"
    default_auto_field = "django.db.models.BigAutoField"
