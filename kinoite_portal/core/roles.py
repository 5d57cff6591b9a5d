"""The portal's groups and what each may do (created by migration core.0002)."""

from __future__ import annotations

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

GROUP_PERMISSIONS: dict[str, list[str]] = {
    RELEASE_ENGINEERS: [
        *READ_RELEASES,
        *READ_FLEET_ALL,
        "releases.add_treefile",
        "releases.change_treefile",
        "releases.start_compose",
        "releases.change_compose",
        "releases.request_promotion",
        "releases.change_promotion",
    ],
    APPROVERS: [*READ_RELEASES, *READ_FLEET_ALL, "releases.approve_promotion"],
    DEPARTMENT_HEADS: ["fleet.view_rollout"],
}
