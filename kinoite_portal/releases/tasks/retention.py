"""Repo housekeeping tasks on the ``repo`` queue (retention, reconciliation): thin wrappers over services."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.app.task import Task

from kinoite_portal.ostree import LockTimeout
from kinoite_portal.releases.models import Stage
from kinoite_portal.releases.services.retention import repo_prune

logger = logging.getLogger(__name__)

TASK_LOCK_TIMEOUT = 60.0


@shared_task(name="releases.repo_prune", bind=True, acks_late=True, max_retries=24)
def repo_prune_task(self: Task[Any, Any], stage_id: int) -> dict[str, Any]:
    """Prune one stage's repo to its retention depth; retry later while another job holds the repo."""
    stage = Stage.objects.get(pk=int(stage_id))
    try:
        report = repo_prune(stage=stage, lock_timeout=TASK_LOCK_TIMEOUT)
    except LockTimeout as exc:
        # A promotion or compose is writing this repo: prune after it, not during it.
        raise self.retry(exc=exc, countdown=300) from exc
    if report.fsck_ok is False:
        logger.error("fsck of the %s repo failed after pruning:\n%s", stage.name, report.fsck_output)
    return {"stage": stage.name, "deleted_objects": report.deleted_objects, "fsck_ok": report.fsck_ok}


@shared_task(name="releases.repo_prune_all", acks_late=True)
def repo_prune_all_task() -> list[int]:
    """Queue one prune per stage that has a retention depth (nightly, by beat)."""
    ids = list(Stage.objects.exclude(retention_depth=None).values_list("pk", flat=True))
    for stage_id in ids:
        repo_prune_task.delay(stage_id)
    return ids


@shared_task(name="releases.repo_reconcile_all", acks_late=True)
def repo_reconcile_all_task() -> dict[str, int]:
    """Import what was committed by hand into any stage's repo (hourly, by beat); {stage: commits recorded}."""
    from kinoite_portal.releases.services.repo_import import repo_reconcile_all

    return {report.stage: report.commits_imported + report.history_recorded for report in repo_reconcile_all()}
