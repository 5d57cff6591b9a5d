"""Celery beat schedules: one entry per periodic job, each a thin task over a service."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    # Starts composes for treefiles whose cron schedule fell due; the schedules themselves live on the treefiles.
    "releases.compose_scheduled": {"task": "releases.compose_scheduled", "schedule": 60.0},
    # Re-queues promotions whose worker died (running while the repo lock is free) and requests that waited for time.
    "releases.promotion_requeue_stuck": {"task": "releases.promotion_requeue_stuck", "schedule": 120.0},
    # Halts rollouts whose failures crossed a threshold, moves the next ring where a gate opened, resends lost moves.
    # Every 15 s: with check-ins also triggering it, a gate's opening moves the next ring within about 20 s.
    "rollouts.evaluate_gates": {"task": "rollouts.evaluate_gates", "schedule": 15.0},
    # Marks desktops silent after PORTAL_SILENT_AFTER_DAYS without a check-in.
    "fleet.hosts_mark_silent": {"task": "fleet.hosts_mark_silent", "schedule": 900.0},
    # Keeps at most PORTAL_CHECKIN_HISTORY check-ins per desktop.
    "fleet.checkin_history_trim": {"task": "fleet.checkin_history_trim", "schedule": 3600.0},
    # Counts, per department, ref and image, the desktops that run it: the rollout charts' data.
    "fleet.adoption_sample_take": {"task": "fleet.adoption_sample_take", "schedule": crontab(minute=2)},
    # Fails composes whose worker died (running while the dev repo lock is free) and re-sends long-queued ones.
    "releases.compose_requeue_stuck": {"task": "releases.compose_requeue_stuck", "schedule": 60.0},
    # Hourly: imports commits and refs made by hand in any stage's repo, with each ref's history (import_repo).
    "releases.repo_reconcile_all": {"task": "releases.repo_reconcile_all", "schedule": 3600.0},
    # Nightly: prunes every stage with a retention depth (one task per stage), keeping commits still in use.
    "releases.repo_prune_all": {"task": "releases.repo_prune_all", "schedule": crontab(hour=3, minute=17)},
}
