"""A broker that refuses or hangs: requests answer at once and say so, and the work starts once it is back.

Each test runs a throwaway redis-server of its own, points this process's Celery app at it, and stops it
(refused) or freezes it with SIGSTOP (hangs: connections are accepted, nothing is answered), by its PID.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kombu.pools
import pytest
from django.test import Client

from kinoite_portal.celery import app as celery_app
from kinoite_portal.core.models import AuditEvent
from kinoite_portal.releases.models import Compose, Promotion
from kinoite_portal.releases.services.promotions import promotion_request
from kinoite_portal.releases.services.requeue import compose_requeue_stuck, promotion_requeue_stuck
from tests import services
from tests.releases.test_api_promotions import token_for

pytestmark = pytest.mark.django_db(transaction=True)

# Far above the publish bound (a few seconds) and far below "hangs until Redis comes back".
ANSWERED_WITHIN = 30.0


def _use_broker(url: str) -> None:
    """Point this process's Celery app at ``url``, dropping the connections it holds to the old one."""
    kombu.pools.reset()  # closes and forgets every connection and producer pool of this process
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    celery_app.conf.broker_url = url


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Yield the redis-server process the Celery app now sends to; the test's own broker is restored afterwards."""
    previous = celery_app.conf.broker_url
    with services.redis_process(tmp_path) as (url, proc):
        _use_broker(url)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
            _use_broker(previous)


def _post_within(client: Client, path: str, data: dict[str, str]) -> Any:
    """POST from a thread; fail when no answer comes within ANSWERED_WITHIN seconds (the request hangs)."""
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(client.post(path, data)), daemon=True)
    thread.start()
    thread.join(ANSWERED_WITHIN)
    assert not thread.is_alive(), f"POST {path} did not answer within {ANSWERED_WITHIN:g} s: it waits for the broker"
    return answers[0]


def _messages(response: Any) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


def test_a_compose_request_while_the_broker_refuses_is_kept_and_says_the_worker_could_not_be_reached(
    own_broker, release_engineer, client_for, treefile
) -> None:
    services.stop_process(own_broker)

    response = _post_within(client_for(release_engineer), f"/releases/treefiles/{treefile.name}/compose/", {})

    compose = Compose.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/releases/composes/{compose.pk}/"
    assert _messages(response) == [
        f"Compose #{compose.pk} of {treefile.name} is queued, but the worker could not be reached; "
        "it will start when the queue is back."
    ]
    assert compose.state == Compose.State.QUEUED
    assert AuditEvent.objects.filter(action="compose.not_sent", object_id=str(compose.pk)).count() == 1


def test_an_approval_while_the_broker_hangs_answers_at_once_and_tells_the_truth(
    own_broker, make_dev_commit, release_engineer, approver, client_for
) -> None:
    promotion = promotion_request(user=release_engineer, checksum=make_dev_commit("41.20261125.0").checksum)
    own_broker.send_signal(signal.SIGSTOP)

    response = _post_within(client_for(approver), f"/releases/promotions/{promotion.pk}/approve", {"comment": "ok"})

    promotion.refresh_from_db()
    assert response.status_code == 302
    assert promotion.state == Promotion.State.QUEUED
    assert _messages(response) == [
        f"Promotion #{promotion.pk} is approved, but the worker could not be reached; "
        "it will start when the queue is back."
    ]
    assert AuditEvent.objects.filter(action="promotion.not_sent", object_id=str(promotion.pk)).count() == 1
    status = client_for(approver).get(
        f"/api/v1/promotions/{promotion.pk}", HTTP_AUTHORIZATION=f"Bearer {token_for(approver)}"
    )
    assert status.json()["warnings"] == ["The worker could not be reached; the job starts when the task queue is back."]


def test_work_that_never_reached_the_broker_is_sent_at_the_next_requeue_run_not_after_ten_minutes(
    own_broker, make_dev_commit, release_engineer, approver, client_for, treefile, settings
) -> None:
    promotion = promotion_request(user=release_engineer, checksum=make_dev_commit("41.20261125.0").checksum)
    services.stop_process(own_broker)
    client_for(release_engineer).post(f"/releases/treefiles/{treefile.name}/compose/")
    client_for(approver).post(f"/releases/promotions/{promotion.pk}/approve", {"comment": "ok"})
    compose = Compose.objects.get()
    queued_but_sent = Compose.objects.create(
        treefile=compose.treefile, revision=compose.revision, stage=compose.stage, backend=compose.backend
    )  # reached the broker a moment ago: its window still runs

    _use_broker(settings.CELERY_BROKER_URL)  # the test run's own Redis
    assert compose_requeue_stuck() == [compose.pk]
    assert promotion_requeue_stuck() == [promotion.pk]

    assert compose_requeue_stuck() == []  # sent: no longer "not sent"
    assert promotion_requeue_stuck() == []
    assert queued_but_sent.pk not in compose_requeue_stuck()
    celery_app.control.purge()  # no worker of this test takes them; a later test's worker must not either
