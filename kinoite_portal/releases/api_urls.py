from __future__ import annotations

app_name = "releases_api"

urlpatterns: list[object] = []

# Promotions, approvals and rollbacks for automation (issue 4): bearer-token only, see releases/api.py.
from django.urls import path  # noqa: E402

from kinoite_portal.releases import api as promotion_api  # noqa: E402

urlpatterns += [
    path("promotions", promotion_api.promotion_create, name="promotion_create"),
    path("promotions/<int:pk>", promotion_api.promotion_status, name="promotion_status"),
    path("promotions/<int:pk>/approve", promotion_api.promotion_approve, name="promotion_approve"),
    path("promotions/<int:pk>/reject", promotion_api.promotion_reject, name="promotion_reject"),
    path("rollbacks", promotion_api.rollback_create, name="rollback_create"),
]
