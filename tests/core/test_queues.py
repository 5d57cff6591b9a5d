"""core.queues: is any worker consuming a queue? Real workers on the test Redis."""

from __future__ import annotations

import pytest
from django.conf import settings

from kinoite_portal.core.queues import queue_consumers, queue_has_consumer, queue_unconsumed_message


@pytest.mark.slow
def test_it_names_the_queue_nobody_consumes_and_caches_the_answer(start_worker) -> None:
    worker = start_worker(queues="default,repo")
    queue_consumers(refresh=True)

    assert queue_has_consumer("repo")
    assert not queue_has_consumer("compose")
    assert queue_unconsumed_message("compose") == (
        f"no worker is listening on the compose queue of {settings.CELERY_BROKER_URL}; is the worker running?"
    )
    assert queue_unconsumed_message("default") is None

    start_worker(queues="compose")
    # Within the cache period the old answer stands: pages polled every 2 s do not ask the workers each time.
    assert not queue_has_consumer("compose")
    assert queue_consumers(refresh=True)["compose"] != set()
    assert queue_has_consumer("compose")
    assert worker.name in queue_consumers()["repo"]


def test_it_says_when_the_broker_cannot_be_reached(settings) -> None:
    from kinoite_portal.celery import app as celery_app

    original = celery_app.conf.broker_url
    settings.CELERY_BROKER_URL = "redis://:secret@127.0.0.1:1/0"
    celery_app.conf.update(broker_url=settings.CELERY_BROKER_URL)
    try:
        assert queue_consumers(refresh=True) is None
        assert queue_unconsumed_message("compose") == (
            "the broker redis://:**@127.0.0.1:1/0 cannot be reached; is Redis running?"
        )
    finally:
        celery_app.conf.update(broker_url=original)
        queue_consumers(refresh=True)
