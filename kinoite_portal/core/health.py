"""Selectors for /healthz: is the database, Redis and at least one worker up?"""

from __future__ import annotations

from typing import Any

import redis
from django.conf import settings
from django.db import connection

from kinoite_portal.celery import app as celery_app


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


def worker_health(timeout: float = 1.0) -> dict[str, Any]:
    """Return the Celery workers that answered a ping, and the queues they consume."""
    try:
        replies = celery_app.control.ping(timeout=timeout) or []
    except Exception as exc:
        return {"ok": False, "count": 0, "error": str(exc)[:200]}
    names = sorted(name for reply in replies for name in reply)
    return {"ok": bool(names), "count": len(names), "names": names}


def portal_health() -> dict[str, Any]:
    """Return the state of every part, with an overall status."""
    parts = {"database": database_health(), "redis": redis_health()}
    parts["workers"] = worker_health() if parts["redis"]["ok"] else {"ok": False, "count": 0, "error": "no broker"}
    return {"status": "ok" if all(part["ok"] for part in parts.values()) else "degraded", **parts}
