"""The Celery app: queues ``compose`` (build hosts) and ``repo`` (the host that owns the repos)."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

from kinoite_portal.schedules import BEAT_SCHEDULE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kinoite_portal.settings")

app = Celery("kinoite_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    task_ignore_result=True,
    # A task is acknowledged after it ran, so a worker killed mid-task hands it to the next worker.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    task_default_queue="default",
    task_queues=(Queue("default"), Queue("compose"), Queue("repo")),
    task_routes={
        "releases.compose_*": {"queue": "compose"},
        "releases.promotion_*": {"queue": "repo"},
        "releases.repo_*": {"queue": "repo"},
        "rollouts.ring_move": {"queue": "repo"},
    },
    worker_hijack_root_logger=False,
)
app.conf.beat_schedule = BEAT_SCHEDULE
app.autodiscover_tasks()


@app.task(name="core.ping")
def ping() -> str:
    """Answer a liveness probe from /healthz and the tests."""
    return "pong"
