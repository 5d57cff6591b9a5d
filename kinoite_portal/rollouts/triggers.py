"""Gate evaluation soon after check-ins: at most one queued evaluation per debounce window, across processes.

Only check-ins that can change a gate count: those of hosts that follow the stage with rings while a rollout of it
is running or paused (``rollouts_evaluate`` looks at no other). Which stages have one is kept for a few seconds per
process, so a fleet checking in between rollouts costs no query and no Redis call; a rollout started in another
process is seen within ``ROLLING_OUT_SECONDS``, and beat evaluates every 15 s anyway.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import cache
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save

from kinoite_portal.fleet.models import Host
from kinoite_portal.releases.services.queueing import task_send_args
from kinoite_portal.rollouts.following import host_ring_stage
from kinoite_portal.rollouts.models import Rollout

logger = logging.getLogger(__name__)

KEY = "kinoite-portal:rollouts:evaluate-soon"
ROLLING_OUT_SECONDS = 5.0
# The states rollouts_evaluate acts on: a paused rollout still halts on failures.
EVALUATED_STATES = (Rollout.State.RUNNING, Rollout.State.PAUSED)

_lock = threading.Lock()
_rolling_out: tuple[float, frozenset[int]] | None = None


def _stages_rolling_out() -> frozenset[int]:
    """Return the ids of the stages with a running or paused rollout (kept ``ROLLING_OUT_SECONDS`` per process)."""
    global _rolling_out
    with _lock:
        if _rolling_out is not None and time.monotonic() - _rolling_out[0] < ROLLING_OUT_SECONDS:
            return _rolling_out[1]
    stages = frozenset(
        Rollout.objects.filter(state__in=EVALUATED_STATES).order_by().values_list("stage_id", flat=True).distinct()
    )
    with _lock:
        _rolling_out = (time.monotonic(), stages)
    return stages


def rolling_out_forget(**_: Any) -> None:
    """Drop the kept stages (connected to saves of rollouts, e.g. one starting in this process)."""
    global _rolling_out
    with _lock:
        _rolling_out = None


post_save.connect(rolling_out_forget, sender=Rollout, dispatch_uid="rollouts.triggers.rollout_saved")


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def _queue_if_first() -> None:
    window = max(1, settings.PORTAL_GATE_DEBOUNCE_SECONDS)
    prefix = str(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", ""))
    try:
        first = _client(settings.REDIS_URL).set(prefix + KEY, b"1", nx=True, ex=window)
    except redis.RedisError:
        # A check-in never fails for this: beat evaluates the gates every 15 s anyway.
        logger.exception("could not queue a gate evaluation after a check-in")
        return
    if first:
        # At the end of the window, so it sees every check-in of the window (the last may be the one that counts).
        task_send_args("rollouts.evaluate_gates", [], countdown=window)


def gates_evaluate_soon(*, host: Host, **_: object) -> None:
    """Queue a gate evaluation once the check-in commits, if it can change a gate (the receiver of
    ``host_checked_in``)."""
    if not settings.PORTAL_GATE_EVALUATE_ON_CHECKIN:
        return
    stage_id = host_ring_stage(host=host)
    if stage_id is None or stage_id not in _stages_rolling_out():
        return
    transaction.on_commit(_queue_if_first)
