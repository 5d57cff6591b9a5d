from __future__ import annotations

from django.urls import path

from kinoite_portal.rollouts import api

app_name = "rollouts_api"

# Rings and rollouts for automation: bearer-token only, see rollouts/api.py.
urlpatterns = [
    path("rings", api.ring_list, name="ring_list"),
    path("rollouts", api.rollout_list, name="rollout_list"),
    path("rollouts/<int:pk>", api.rollout_detail, name="rollout_detail"),
    path("rollouts/<int:pk>/pause", api.rollout_pause_view, name="rollout_pause"),
    path("rollouts/<int:pk>/resume", api.rollout_resume_view, name="rollout_resume"),
    path("rollouts/<int:pk>/advance", api.rollout_advance_view, name="rollout_advance"),
    path("rollouts/<int:pk>/halt", api.rollout_halt_view, name="rollout_halt"),
    path("rollouts/<int:pk>/rollback", api.rollout_rollback_view, name="rollout_rollback"),
]
