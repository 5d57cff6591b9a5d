"""Signing tasks on the ``repo`` queue: thin wrappers over services.signing."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.app.task import Task

from kinoite_portal.ostree import LockTimeout


@shared_task(name="releases.repo_resign", bind=True, acks_late=True, max_retries=30)
def repo_resign_task(self: Task[Any, Any], stage_id: int) -> dict[str, Any]:
    """Re-sign a stage's heads and summary with its current key; safe to run twice."""
    from kinoite_portal.releases.models import Stage
    from kinoite_portal.releases.services.signing import stage_resign

    stage = Stage.objects.get(pk=int(stage_id))
    try:
        report = stage_resign(stage=stage)
    except LockTimeout as exc:
        # A promotion or compose is writing this repo: sign right after it.
        raise self.retry(exc=exc, countdown=10) from exc
    return {"stage": report.stage, "fingerprint": report.fingerprint, "signed": report.signed, "deltas": report.deltas}
