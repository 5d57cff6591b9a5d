"""Grant the portal's groups their permissions on rings and rollouts (core.0002 ran before these models existed)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant_rollout_permissions(apps: Any, schema_editor: Any) -> None:
    # Permissions are normally created after all migrations ran; the groups need them now.
    app_config = apps.get_app_config("rollouts")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    from kinoite_portal.core.roles import groups_ensure

    groups_ensure(
        group_model=apps.get_model("auth", "Group"),
        permission_model=apps.get_model("auth", "Permission"),
        app_labels=frozenset({"rollouts"}),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("rollouts", "0001_initial"),
        ("core", "0002_groups"),
    ]

    operations = [migrations.RunPython(grant_rollout_permissions, migrations.RunPython.noop)]
