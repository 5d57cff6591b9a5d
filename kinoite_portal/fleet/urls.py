from __future__ import annotations

from django.urls import path

from kinoite_portal.fleet import views

app_name = "fleet"

urlpatterns = [
    path("rollout/", views.rollout, name="rollout"),
    path("departments/<slug:slug>/", views.department, name="department"),
    path("hosts/", views.host_list, name="host_list"),
    path("hosts/<int:pk>/", views.host_detail, name="host_detail"),
    path("client-setup/", views.client_setup, name="client_setup"),
    path("agent/<str:name>", views.agent_file, name="agent_file"),
]
