from __future__ import annotations

from django.urls import path

from kinoite_portal.releases.views import audit, composes, promotions, treefiles
from kinoite_portal.releases.views import commits as commit_views
from kinoite_portal.releases.views import signing as signing_views

app_name = "releases"

urlpatterns = [
    path("composes/", composes.compose_list, name="compose_list"),
    path("composes/<int:pk>/", composes.compose_detail, name="compose_detail"),
    path("composes/<int:pk>/status/", composes.compose_status, name="compose_status"),
    path("composes/<int:pk>/log/", composes.compose_log, name="compose_log"),
    path("composes/<int:pk>/cancel/", composes.compose_cancel_view, name="compose_cancel"),
    path("treefiles/<slug:name>/", treefiles.treefile_detail, name="treefile_detail"),
    path("treefiles/<slug:name>/revisions/", treefiles.treefile_revisions, name="treefile_revisions"),
    path("treefiles/<slug:name>/compose/", composes.compose_start, name="compose_start"),
    path("promotions/", promotions.promotion_list, name="promotion_list"),
    path("audit/", audit.audit, name="audit"),
    # Promotions, approvals, rollbacks, signing keys (issue 4).
    path("promotions/<int:pk>/", promotions.promotion_detail, name="promotion_detail"),
    path("promotions/<int:pk>/log", promotions.promotion_log, name="promotion_log"),
    path("promotions/<int:pk>/approve", promotions.promotion_approve, name="promotion_approve"),
    path("promotions/<int:pk>/reject", promotions.promotion_reject, name="promotion_reject"),
    path("promotions/<int:pk>/cancel", promotions.promotion_cancel, name="promotion_cancel"),
    path("commits/<str:checksum>/", commit_views.commit_detail, name="commit_detail"),
    path("commits/<str:checksum>/promote", promotions.promotion_create, name="promotion_create"),
    path("commits/<str:checksum>/rollback", promotions.rollback_create, name="rollback_create"),
    path("stages/<slug:name>/key.asc", signing_views.stage_public_key, name="stage_public_key"),
]
