from __future__ import annotations

import json

import pytest

from kinoite_portal.celery import app as celery_app
from kinoite_portal.core.models import AuditEvent


@pytest.mark.slow
def test_a_real_worker_completes_a_task_sent_through_redis(celery_worker) -> None:
    replies = celery_app.control.ping(destination=[celery_worker.name], timeout=5)

    assert replies == [{celery_worker.name: {"ok": "pong"}}]


@pytest.mark.slow
def test_a_task_runs_in_the_worker_and_writes_to_the_test_database(celery_worker) -> None:
    from tests.services import wait_until

    celery_app.send_task("core.audit_probe", kwargs=json.loads(json.dumps({"message": "hello from the test"})))

    event = wait_until(lambda: AuditEvent.objects.filter(action="worker.probe").first(), message="probe event")
    assert event.message == "hello from the test"
    assert event.actor_label.startswith("worker ")
    assert "succeeded" in wait_until(lambda: "core.audit_probe" in celery_worker.log() and celery_worker.log())


def test_the_celery_app_serialises_json_and_acks_late() -> None:
    assert celery_app.conf.task_serializer == "json"
    assert celery_app.conf.accept_content == ["json"]
    assert celery_app.conf.task_acks_late is True
    assert celery_app.conf.task_reject_on_worker_lost is True
    assert {queue.name for queue in celery_app.conf.task_queues} == {"default", "compose", "repo"}
