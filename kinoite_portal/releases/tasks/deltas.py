"""Static deltas after a ref is published: on the ``default`` queue (repo host)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.app.task import Task

from kinoite_portal.ostree import LockTimeout
from kinoite_portal.releases.services.deltas import promotion_static_delta_publish, ref_static_delta_publish


@shared_task(name="releases.static_delta", bind=True, acks_late=True, max_retries=30)
def static_delta_task(self: Task[Any, Any], promotion_id: int) -> str:
    """Generate and publish one promotion's static delta; safe to run twice."""
    try:
        return promotion_static_delta_publish(promotion_id=int(promotion_id)) or ""
    except LockTimeout as exc:
        raise self.retry(exc=exc, countdown=10) from exc


@shared_task(name="releases.ref_static_delta", bind=True, acks_late=True, max_retries=30)
def ref_static_delta_task(self: Task[Any, Any], stage_id: int, ref: str, from_checksum: str, to_checksum: str) -> str:
    """Generate and publish the static delta of a ref moved by a ring move; safe to run twice."""
    try:
        return (
            ref_static_delta_publish(
                stage_id=int(stage_id), ref=str(ref), from_checksum=str(from_checksum), to_checksum=str(to_checksum)
            )
            or ""
        )
    except LockTimeout as exc:
        raise self.retry(exc=exc, countdown=10) from exc
