"""Selectors for /healthz: is the database, Redis and at least one worker up?

Anyone may ask (load balancers do, unauthenticated), so the answer to an anonymous caller is the states only:
worker names, the database vendor and error texts (which name hosts and socket paths) go to signed-in staff and
to the server log. The worker question costs up to a second; it is answered from ``core.queues``, which asks the
workers at most once per few seconds per process, so many probes at once do not tie up the web workers.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.conf import settings
from django.db import connection

from kinoite_portal.core.queues import queue_consumers

logger = logging.getLogger(__name__)


def database_health() -> dict[str, Any]:
    """Return whether a trivial query succeeds."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "error": str(exc)[:200]}
    return {"ok": True, "vendor": connection.vendor}


def redis_health() -> dict[str, Any]:
    """Return whether Redis answers PING."""
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
    except Exception as exc:
        return {"ok": False, "error": str(exc)[:200]}
    return {"ok": True}


def worker_health() -> dict[str, Any]:
    """Return the Celery workers that consume a queue (asked at most once per few seconds)."""
    consumers = queue_consumers()
    if consumers is None:
        return {"ok": False, "count": 0, "error": "the broker cannot be reached"}
    names = sorted({worker for workers in consumers.values() for worker in workers})
    return {"ok": bool(names), "count": len(names), "names": names}


def portal_health(*, detail: bool = False) -> dict[str, Any]:
    """Return the state of every part, with an overall status; names and errors only with ``detail``."""
    parts = {"database": database_health(), "redis": redis_health()}
    parts["workers"] = worker_health() if parts["redis"]["ok"] else {"ok": False, "count": 0, "error": "no broker"}
    status = "ok" if all(part["ok"] for part in parts.values()) else "degraded"
    for name, part in parts.items():
        if "error" in part:
            logger.warning("healthz: %s is down: %s", name, part["error"])
    if not detail:
        return {"status": status, **{name: {"ok": part["ok"]} for name, part in parts.items()}}
    return {"status": status, **parts}
