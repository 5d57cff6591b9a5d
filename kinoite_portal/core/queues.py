"""Is any Celery worker consuming a queue? The one check that queue-and-wait commands and pages share.

Asking the workers (``inspect().active_queues()``) costs about a second when one of them is slow to answer, so the
answer is kept for ``CACHE_SECONDS`` per process: a page polled every two seconds asks at most once per period.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from kombu.utils.url import maybe_sanitize_url

from kinoite_portal.celery import app as celery_app

CACHE_SECONDS = 5.0
# An answer older than CACHE_SECONDS but younger than this is still given at once while a background thread asks
# anew, so no request waits the second an inspection takes (30 monitors polling /healthz must not hold the web
# workers); an older one (or none) is asked for while the caller waits.
STALE_SECONDS = 60.0
# How long a queued job may wait before anyone says that no worker takes it: a busy worker's own start-up is shorter.
GRACE_SECONDS = 5.0

_lock = threading.Lock()
_cached: tuple[float, dict[str, set[str]] | None] | None = None
_refreshing = False


def _ask(timeout: float) -> dict[str, set[str]] | None:
    try:
        # A connection of its own, so the question goes to the broker the settings name now.
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=max(1, round(timeout))
            )
            replies = celery_app.control.inspect(timeout=timeout, connection=connection).active_queues() or {}
    except Exception:  # the broker is down or unreachable: nobody consumes anything
        return None
    consumers: dict[str, set[str]] = {}
    for worker, queues in replies.items():
        for queue in queues or []:
            consumers.setdefault(queue["name"], set()).add(worker)
    return consumers


def _refresh_in_background(timeout: float) -> None:
    global _cached, _refreshing
    try:
        asked_at = time.monotonic()
        answer = _ask(timeout)
        with _lock:
            if _cached is None or _cached[0] < asked_at:  # a caller may have asked (refresh=True) meanwhile
                _cached = (asked_at, answer)
    finally:
        _refreshing = False


def queue_consumers(*, timeout: float = 1.0, refresh: bool = False) -> dict[str, set[str]] | None:
    """Return {queue name: names of the workers consuming it}, or None when the broker cannot be reached."""
    global _cached, _refreshing
    with _lock:  # one inspection at a time; the threads queued behind it read its answer
        age = time.monotonic() - _cached[0] if _cached is not None else None
        if not refresh and _cached is not None and age is not None and age < STALE_SECONDS:
            if age >= CACHE_SECONDS and not _refreshing:
                _refreshing = True
                threading.Thread(target=_refresh_in_background, args=(timeout,), daemon=True).start()
            return _cached[1]
        asked_at = time.monotonic()
        _cached = (asked_at, _ask(timeout))
        return _cached[1]


def queue_has_consumer(queue: str) -> bool:
    """Return True when at least one live worker consumes ``queue``."""
    return bool((queue_consumers() or {}).get(queue))


def broker_display_url() -> str:
    """Return the broker URL without its password, as people see it in messages."""
    return str(maybe_sanitize_url(settings.CELERY_BROKER_URL))


def queue_unconsumed_message(queue: str) -> str | None:
    """Return the warning to show when no worker consumes ``queue``, or None when one does."""
    consumers = queue_consumers()
    if consumers is None:
        return f"the broker {broker_display_url()} cannot be reached; is Redis running?"
    if consumers.get(queue):
        return None
    return f"no worker is listening on the {queue} queue of {broker_display_url()}; is the worker running?"


def queue_warning(queue: str, *, waiting_since: datetime | None) -> str | None:
    """Return the warning for a job waiting on ``queue`` since ``waiting_since``, once the grace period is over.

    None while the job is fresh, when it is not waiting (``waiting_since`` is None), or when a worker consumes the
    queue (it may just be busy with an earlier job).
    """
    if waiting_since is None or timezone.now() - waiting_since < timedelta(seconds=GRACE_SECONDS):
        return None
    return queue_unconsumed_message(queue)
