from __future__ import annotations

from django.urls import path

from kinoite_portal.rollouts.views import actions, pages

app_name = "rollouts"

urlpatterns = [
    path("<int:pk>/", pages.rollout_detail, name="detail"),
    path("<int:pk>/status", pages.rollout_status, name="status"),
    path("<int:pk>/pause", actions.rollout_pause, name="pause"),
    path("<int:pk>/resume", actions.rollout_resume, name="resume"),
    path("<int:pk>/advance", actions.rollout_advance, name="advance"),
    path("<int:pk>/halt", actions.rollout_halt, name="halt"),
    path("<int:pk>/rollback", actions.rollout_rollback, name="rollback"),
]
