"""The portal's groups and what each may do (created by migration core.0002)."""

from __future__ import annotations

from typing import Any

RELEASE_ENGINEERS = "release-engineers"
APPROVERS = "approvers"
DEPARTMENT_HEADS = "department-heads"

READ_RELEASES = [
    "releases.view_stage",
    "releases.view_treefile",
    "releases.view_treefilerevision",
    "releases.view_compose",
    "releases.view_commit",
    "releases.view_ref",
    "releases.view_refupdate",
    "releases.view_promotion",
    "releases.view_approval",
    "releases.view_signingkey",
    "core.view_auditevent",
]
READ_FLEET_ALL = [
    "fleet.view_department",
    "fleet.view_host",
    "fleet.view_checkin",
    "fleet.view_rollout",
    "fleet.view_all_departments",
]

READ_ROLLOUTS = [
    "rollouts.view_ring",
    "rollouts.view_rollout",
    "rollouts.view_rolloutring",
    "rollouts.view_rolloutevent",
]

GROUP_PERMISSIONS: dict[str, list[str]] = {
    RELEASE_ENGINEERS: [
        *READ_RELEASES,
        *READ_FLEET_ALL,
        *READ_ROLLOUTS,
        "releases.add_treefile",
        "releases.change_treefile",
        "releases.start_compose",
        "releases.change_compose",
        "releases.request_promotion",
        "releases.change_promotion",
    ],
    APPROVERS: [
        *READ_RELEASES,
        *READ_FLEET_ALL,
        *READ_ROLLOUTS,
        "releases.approve_promotion",
        "rollouts.manage_rollout",
    ],
    DEPARTMENT_HEADS: ["fleet.view_rollout"],
}


def groups_ensure(
    *, group_model: Any = None, permission_model: Any = None, app_labels: frozenset[str] | None = None
) -> None:
    """Create the portal's groups and grant them their permissions; safe to run again.

    Migration core.0002 calls it with historical models, for the apps migrated by then (``app_labels``); the apps
    added later grant theirs in their own migration. Tests call it after a flush emptied the tables.
    """
    if group_model is None or permission_model is None:
        from django.contrib.auth.models import Group, Permission

        group_model, permission_model = Group, Permission
    for group_name, perm_names in GROUP_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=group_name)
        for perm_name in perm_names:
            app_label, codename = perm_name.split(".")
            if app_labels is not None and app_label not in app_labels:
                continue
            group.permissions.add(permission_model.objects.get(content_type__app_label=app_label, codename=codename))
