"""Promotion tasks on the ``repo`` queue: thin wrappers over services.promotions."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.app.task import Task

from kinoite_portal.ostree import LockTimeout
from kinoite_portal.releases.errors import PublishIncomplete
from kinoite_portal.releases.services.approvals import promotion_reevaluate_waiting
from kinoite_portal.releases.services.promotions import promotion_run
from kinoite_portal.releases.services.requeue import promotion_requeue_stuck


@shared_task(name="releases.promotion_run", bind=True, acks_late=True, max_retries=30)
def promotion_run_task(self: Task[Any, Any], promotion_id: int) -> str:
    """Carry out one promotion; safe to run twice (a finished promotion returns at once)."""
    try:
        return str(promotion_run(promotion_id=int(promotion_id)).state)
    except LockTimeout as exc:
        # Another job writes this repo (or a prune holds it): try again shortly.
        raise self.retry(exc=exc, countdown=10) from exc
    except PublishIncomplete as exc:
        # The ref moved; signing, the delta or the summary failed. Repeat them until they succeed (once retries run
        # out, the promotion stays "running" with its lock free, and the re-queue beat task sends it again).
        raise self.retry(exc=exc, countdown=30) from exc


@shared_task(name="releases.promotion_requeue_stuck", acks_late=True)
def promotion_requeue_stuck_task() -> list[int]:
    """Queue again promotions whose worker died, and requests that waited only for time to pass."""
    return promotion_requeue_stuck() + promotion_reevaluate_waiting()
