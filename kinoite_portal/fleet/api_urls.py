from __future__ import annotations

from django.urls import path

from kinoite_portal.fleet import api

app_name = "fleet_api"

urlpatterns: list[object] = [
    path("enroll", api.enroll, name="enroll"),
    path("checkin", api.checkin, name="checkin"),
]
