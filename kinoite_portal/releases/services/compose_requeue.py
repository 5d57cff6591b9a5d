"""Finding composes whose task was lost, and sending it again (the compose side of promotion_requeue_stuck).

A compose is claimed as ``running`` only while its worker holds the dev repo's portal lock (an OFD lock, which the
kernel drops when the worker dies), so "running while the lock is free" means the worker is gone. The broker would
redeliver the unacknowledged message only after its visibility timeout (an hour by default); this sends it now.
The re-delivery does not restart the compose: ``compose_run`` finds it running with the lock free and marks it
failed "Interrupted" (a compose is not idempotent the way a promotion is: a half-done rpm-ostree run is not resumed).
A compose queued for longer than ``REQUEUE_QUEUED_AFTER`` while no compose holds the lock lost its message (a
broker restart, a purge) and is simply sent again; a second delivery of a compose that is in fact waiting
somewhere is harmless (the later one finds it finished).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from kinoite_portal.core.audit import audit_record, audit_recorded_since
from kinoite_portal.releases.models import Compose
from kinoite_portal.releases.services.stages import stage_repo_busy

logger = logging.getLogger(__name__)

REQUEUE_QUEUED_AFTER = timedelta(minutes=10)
# Do not send one compose again more often than this: with no compose worker up, messages would only pile up.
RESEND_EVERY = timedelta(minutes=5)


def compose_requeue_stuck(
    *, queued_older_than: timedelta = REQUEUE_QUEUED_AFTER, resend_every: timedelta = RESEND_EVERY
) -> list[int]:
    """Send again the task of composes running with a free repo lock, or queued too long; return their ids."""
    from kinoite_portal.releases.tasks.compose import compose_run_task

    now = timezone.now()
    resent: list[int] = []
    stuck = Compose.objects.filter(state__in=[Compose.State.QUEUED, Compose.State.RUNNING]).select_related("stage")
    for compose in stuck.order_by("created_at", "pk"):
        if compose.state == Compose.State.QUEUED and compose.created_at > now - queued_older_than:
            continue
        if stage_repo_busy(compose.stage):
            continue  # a worker is composing right now (this one, or one this compose waits for)
        compose.refresh_from_db(fields=["state"])
        if compose.is_finished:
            continue  # it ended while we looked
        if audit_recorded_since(action="compose.requeue", obj=compose, since=now - resend_every):
            continue
        if compose.state == Compose.State.RUNNING:
            why = "running with the repo lock free: its worker died; sent again so it is marked interrupted"
        else:
            why = f"queued for more than {queued_older_than} with the repo lock free: its task was lost; sent again"
        try:
            compose_run_task.delay(compose.pk)
        except Exception:
            logger.exception("could not send compose #%s again; the next run retries", compose.pk)
            continue
        audit_record(action="compose.requeue", actor_label="beat", obj=compose, message=f"Compose #{compose.pk} {why}")
        resent.append(compose.pk)
    return resent
