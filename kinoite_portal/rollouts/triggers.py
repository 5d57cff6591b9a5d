"""Gate evaluation soon after check-ins: at most one queued evaluation per debounce window, across processes."""

from __future__ import annotations

import logging
from functools import cache

import redis
from django.conf import settings
from django.db import transaction

from kinoite_portal.celery import app as celery_app

logger = logging.getLogger(__name__)

KEY = "kinoite-portal:rollouts:evaluate-soon"


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def _queue_if_first() -> None:
    window = max(1, settings.PORTAL_GATE_DEBOUNCE_SECONDS)
    prefix = str(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", ""))
    try:
        if not _client(settings.REDIS_URL).set(prefix + KEY, b"1", nx=True, ex=window):
            return  # an evaluation is already queued for the end of this window
        # At the end of the window, so it sees every check-in of the window (the last may be the one that counts).
        celery_app.send_task("rollouts.evaluate_gates", countdown=window)
    except Exception:
        # A check-in never fails for this: beat evaluates the gates every 15 s anyway.
        logger.exception("could not queue a gate evaluation after a check-in")


def gates_evaluate_soon(**_: object) -> None:
    """Queue a gate evaluation once the current transaction commits (the receiver of ``host_checked_in``)."""
    if settings.PORTAL_GATE_EVALUATE_ON_CHECKIN:
        transaction.on_commit(_queue_if_first)
