from __future__ import annotations

from django.urls import path

from kinoite_portal.fleet import views

app_name = "fleet"

urlpatterns = [
    path("rollout/", views.rollout, name="rollout"),
]
