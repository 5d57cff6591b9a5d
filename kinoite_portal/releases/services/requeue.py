"""Sending again the jobs whose task was lost or whose worker died: one loop for composes and promotions.

A job is claimed as ``running`` only while its worker holds the stage repo's portal lock (an OFD lock, which the
kernel drops when the worker dies), so "running while the lock is free" means the worker is gone. The broker would
redeliver the unacknowledged message only after its visibility timeout (an hour by default); this sends it now.
A job queued for longer than ``REQUEUE_QUEUED_AFTER`` while nobody holds the lock lost its message (a broker
restart, a purge) and is sent again; one whose send provably failed (``queueing`` recorded it) is sent again at
the next run. A second delivery of a job that is in fact waiting somewhere is harmless (every run is safe to
repeat: the later one finds it finished).

What a re-delivery does differs by kind: a promotion resumes (each of its steps is safe to repeat), while a compose
found ``running`` with the lock free is marked failed "Interrupted" (a half-done rpm-ostree run is not resumed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Model, QuerySet
from django.utils import timezone

from kinoite_portal.core.audit import audit_record, audit_recorded_since
from kinoite_portal.releases.models import Compose, Promotion, Stage
from kinoite_portal.releases.services.queueing import task_not_sent, task_send
from kinoite_portal.releases.services.stages import stage_repo_busy

REQUEUE_QUEUED_AFTER = timedelta(minutes=10)
# Do not send one job again more often than this: with no worker up, messages would only pile up.
RESEND_EVERY = timedelta(minutes=5)


@dataclass(frozen=True)
class _JobKind:
    name: str  # the audit prefix: "compose", "promotion"
    task: str
    model: type[Model]
    stage_field: str  # the stage whose repo lock the job's run holds
    queued_field: str  # when it was queued

    def open_jobs(self) -> QuerySet[Model]:
        states = ["queued", "running"]
        return self.model._default_manager.filter(state__in=states).select_related(self.stage_field).order_by("pk")


COMPOSES = _JobKind("compose", "releases.compose_run", Compose, "stage", "created_at")
PROMOTIONS = _JobKind("promotion", "releases.promotion_run", Promotion, "target_stage", "queued_at")


def _requeue_stuck(kind: _JobKind, *, queued_older_than: timedelta, resend_every: timedelta) -> list[int]:
    now = timezone.now()
    resent: list[int] = []
    job: Any
    for job in kind.open_jobs():
        queued_at: datetime | None = getattr(job, kind.queued_field)
        state: str = job.state
        lost = state == "queued" and task_not_sent(job)  # provably never reached the broker: no need to wait
        if state == "queued" and not lost and (queued_at or now) > now - queued_older_than:
            continue
        stage: Stage = getattr(job, kind.stage_field)
        if stage_repo_busy(stage):
            continue  # a worker is on it right now (this job, or one it waits for)
        job.refresh_from_db(fields=["state"])
        if job.state not in ("queued", "running"):
            continue  # it ended while we looked
        if audit_recorded_since(action=f"{kind.name}.requeue", obj=job, since=now - resend_every):
            continue
        if not task_send(kind.task, job):
            continue  # the broker is still away; the next run tries again
        audit_record(
            action=f"{kind.name}.requeue",
            actor_label="beat",
            obj=job,
            message=f"{kind.name.capitalize()} #{job.pk} was {state} with the {stage.name} repo lock free "
            + (
                "(its worker died)"
                if state == "running"
                else "(its task never reached the queue)"
                if lost
                else f"for more than {queued_older_than} (its task was lost)"
            )
            + "; sent again",
        )
        resent.append(job.pk)
    return resent


def compose_requeue_stuck(
    *, queued_older_than: timedelta = REQUEUE_QUEUED_AFTER, resend_every: timedelta = RESEND_EVERY
) -> list[int]:
    """Send again the composes running with a free repo lock (to be marked interrupted) or queued too long."""
    return _requeue_stuck(COMPOSES, queued_older_than=queued_older_than, resend_every=resend_every)


def promotion_requeue_stuck(
    *, queued_older_than: timedelta = REQUEUE_QUEUED_AFTER, resend_every: timedelta = RESEND_EVERY
) -> list[int]:
    """Send again the promotions running with a free repo lock (to resume) or queued too long."""
    return _requeue_stuck(PROMOTIONS, queued_older_than=queued_older_than, resend_every=resend_every)
