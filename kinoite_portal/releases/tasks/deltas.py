"""The static delta of a finished promotion, after its ref is published: on the ``default`` queue (repo host)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.app.task import Task

from kinoite_portal.ostree import LockTimeout
from kinoite_portal.releases.services.deltas import static_delta_publish


@shared_task(name="releases.static_delta", bind=True, acks_late=True, max_retries=30)
def static_delta_task(self: Task[Any, Any], promotion_id: int) -> str:
    """Generate and publish one promotion's static delta; safe to run twice."""
    try:
        return static_delta_publish(promotion_id=int(promotion_id)) or ""
    except LockTimeout as exc:
        raise self.retry(exc=exc, countdown=10) from exc
