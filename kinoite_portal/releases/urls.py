from __future__ import annotations

from django.urls import path

from kinoite_portal.releases.views import audit, composes, promotions

app_name = "releases"

urlpatterns = [
    path("composes/", composes.compose_list, name="compose_list"),
    path("promotions/", promotions.promotion_list, name="promotion_list"),
    path("audit/", audit.audit, name="audit"),
]
