"""Celery beat schedules: one entry per periodic job, each a thin task over a service."""

from __future__ import annotations

from typing import Any

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {}
