"""Handing work to the workers: the one place services send Celery tasks.

Tasks are sent by name, so services never import the task modules (tasks import services, never the reverse).
A send runs once the surrounding transaction commits (the worker must find the row) and is ``robust``: a broker
that is down must not turn a request whose rows were already committed into a 500. A send that failed is recorded
(``<kind>.not_sent`` in the audit trail), so the page can say so and the beat re-queue task
(``services.requeue``) sends it again at its next run instead of waiting for the queued-too-long window.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import models, transaction

from kinoite_portal.celery import app as celery_app
from kinoite_portal.core.audit import audit_record
from kinoite_portal.core.models import AuditEvent
from kinoite_portal.core.queues import queue_warning

logger = logging.getLogger(__name__)


def _not_sent_action(job: models.Model) -> str:
    return f"{job._meta.model_name}.not_sent"


def task_send(name: str, job: models.Model) -> bool:
    """Send the task ``name`` for ``job`` (its id is the argument) now; return False when the broker did not take it."""
    try:
        celery_app.send_task(name, args=[job.pk])
    except Exception as exc:
        logger.exception("could not send %s for #%s; the re-queue task sends it again", name, job.pk)
        audit_record(
            action=_not_sent_action(job),
            actor_label="portal",
            obj=job,
            message=f"The task queue could not be reached ({type(exc).__name__}); it is sent again once it is back.",
        )
        return False
    return True


def task_send_on_commit(name: str, job: models.Model) -> None:
    """Send the task ``name`` for ``job`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: task_send(name, job), robust=True)


def task_not_sent(job: models.Model) -> bool:
    """Return True when the last send for ``job`` did not reach the broker (and no re-send has succeeded since)."""
    events = AuditEvent.objects.filter(object_type=job._meta.label_lower, object_id=str(job.pk))
    last = events.filter(action__in=[_not_sent_action(job), f"{job._meta.model_name}.requeue"]).order_by("-pk").first()
    return last is not None and last.action == _not_sent_action(job)


def job_waiting_warnings(job: models.Model, *, queue: str, waiting_since: datetime | None) -> list[str]:
    """What an API client should be told about a job that waits on ``queue`` (nothing once it runs or finished)."""
    if waiting_since is None:
        return []
    if task_not_sent(job):
        return ["The worker could not be reached; the job starts when the task queue is back."]
    warning = queue_warning(queue, waiting_since=waiting_since)
    return [f"The job waits: {warning}"] if warning else []


def task_send_args(name: str, args: list[object], *, countdown: float | None = None) -> bool:
    """Send ``name`` with ``args`` now (to run ``countdown`` seconds later), for work no row waits on.

    A failed send is logged and False returned: whoever needs the work done also has it on a beat schedule.
    """
    try:
        celery_app.send_task(name, args=args, countdown=countdown)
    except Exception:
        logger.exception("could not send %s %r", name, args)
        return False
    return True


def task_send_args_on_commit(name: str, args: list[object], *, countdown: float | None = None) -> None:
    """Send ``name`` with ``args`` once the transaction commits, for work no row waits on: a failed send is logged."""
    transaction.on_commit(lambda: task_send_args(name, args, countdown=countdown), robust=True)
