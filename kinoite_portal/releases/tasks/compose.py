"""Compose tasks: thin wrappers over kinoite_portal.releases.services.composes, on the ``compose`` queue."""

from __future__ import annotations

from celery import shared_task

from kinoite_portal.releases.services.composes import compose_run, compose_schedule_due
from kinoite_portal.releases.services.requeue import compose_requeue_stuck


@shared_task(name="releases.compose_run", acks_late=True, ignore_result=True)
def compose_run_task(compose_id: int) -> None:
    """Run one compose; a second delivery of the same id finds it finished (or waits for its lock) and stops."""
    compose_run(compose_id=compose_id)


@shared_task(name="releases.compose_scheduled", acks_late=True, ignore_result=True)
def compose_scheduled_task() -> list[int]:
    """Queue composes for treefiles whose cron schedule is due (run every minute by beat)."""
    return [compose.pk for compose in compose_schedule_due()]


@shared_task(name="releases.compose_requeue_stuck", acks_late=True, ignore_result=True)
def compose_requeue_stuck_task() -> list[int]:
    """Send again composes whose worker died or whose task was lost (run every minute by beat)."""
    return compose_requeue_stuck()
