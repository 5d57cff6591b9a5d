"""compose_requeue_stuck: composes whose worker died or whose task was lost, on real workers and real Redis."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from kinoite_portal.celery import app as celery_app
from kinoite_portal.core.models import AuditEvent
from kinoite_portal.ostree import Repo, portal_lock
from kinoite_portal.releases.models import Compose
from kinoite_portal.releases.services.composes import compose_request, compose_run
from kinoite_portal.releases.services.requeue import compose_requeue_stuck
from kinoite_portal.schedules import BEAT_SCHEDULE
from tests.releases.conftest import REF_DEV
from tests.services import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

INTERRUPTED = "Interrupted: the worker running this compose stopped before it finished"


def wait_finished(compose: Compose, timeout: float = 60) -> Compose:
    def finished() -> bool:
        compose.refresh_from_db()
        return compose.is_finished

    wait_until(finished, timeout=timeout, message=f"compose #{compose.pk} finished")
    return compose


def test_it_runs_every_minute_on_the_compose_queue() -> None:
    assert BEAT_SCHEDULE["releases.compose_requeue_stuck"] == {
        "task": "releases.compose_requeue_stuck",
        "schedule": 60.0,
    }
    assert celery_app.amqp.router.route({}, "releases.compose_requeue_stuck")["queue"].name == "compose"


@pytest.mark.slow
def test_a_compose_whose_worker_was_sigkilled_fails_as_interrupted_when_the_requeue_task_runs(
    treefile, stages, start_worker, fake_rpm_ostree
) -> None:
    # A first, real compose with the local backend, so the dev ref has a commit that must not move.
    first = compose_request(treefile=treefile, backend="local", enqueue=False)
    first = compose_run(compose_id=first.pk)
    assert first.state == Compose.State.SUCCEEDED, first.log
    dev_head = Repo(stages["dev"].repo_dir).resolve(REF_DEV)
    assert dev_head == first.commit.checksum
    # The rpm-ostree MOCK in "hang" mode stands in for a long compose (rpm-ostree cannot run on Debian).
    worker = start_worker(queues="compose", extra_env=fake_rpm_ostree.env("hang"))
    compose = compose_request(treefile=treefile, backend="rpm-ostree")
    pid = int(wait_until(lambda: fake_rpm_ostree.pidfile.exists() and fake_rpm_ostree.pidfile.read_text()))
    wait_until(lambda: "Installing 1623 packages" in Compose.objects.get(pk=compose.pk).log, message="log streamed")
    assert Compose.objects.get(pk=compose.pk).state == Compose.State.RUNNING

    worker.kill()
    os.kill(pid, signal.SIGKILL)  # rpm-ostree runs in its own session: the worker's death does not take it along
    killed_at = time.monotonic()
    # The message is unacknowledged; Redis would hand it out again only after the visibility timeout (an hour).
    start_worker(queues="compose")
    celery_app.send_task("releases.compose_requeue_stuck")

    compose = wait_finished(compose, timeout=60)

    assert time.monotonic() - killed_at < 60
    assert compose.state == Compose.State.FAILED
    assert compose.failure_reason == INTERRUPTED
    assert "Installing 1623 packages" in compose.log  # the log of the run that died is kept
    assert Repo(stages["dev"].repo_dir).resolve(REF_DEV) == dev_head
    assert len(fake_rpm_ostree.calls()) == 1  # not restarted
    assert AuditEvent.objects.filter(action="compose.requeue", object_id=str(compose.pk)).count() == 1


@pytest.mark.slow
def test_a_compose_queued_too_long_is_sent_again_and_runs(treefile, stages, start_worker) -> None:
    lost = compose_request(treefile=treefile, backend="local", enqueue=False)  # as if the broker lost its message
    Compose.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=11))
    start_worker(queues="compose")

    assert compose_requeue_stuck() == [lost.pk]

    lost = wait_finished(lost)
    assert lost.state == Compose.State.SUCCEEDED, lost.log
    assert Repo(stages["dev"].repo_dir).resolve(REF_DEV) == lost.commit.checksum


def test_it_leaves_a_compose_alone_while_a_worker_holds_the_repo_lock(treefile, stages, settings) -> None:
    running = compose_request(treefile=treefile, enqueue=False)
    Compose.objects.filter(pk=running.pk).update(state=Compose.State.RUNNING, started_at=timezone.now())
    waiting = compose_request(treefile=treefile, enqueue=False)
    Compose.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(hours=1))

    with portal_lock(settings.PORTAL_LOCK_DIR, "repo-dev", timeout=1):
        assert compose_requeue_stuck() == []

    assert Compose.objects.get(pk=running.pk).state == Compose.State.RUNNING
    assert Compose.objects.get(pk=waiting.pk).state == Compose.State.QUEUED
    assert not AuditEvent.objects.filter(action="compose.requeue").exists()


def test_it_leaves_a_recently_queued_compose_alone(treefile, stages) -> None:
    fresh = compose_request(treefile=treefile, enqueue=False)

    assert compose_requeue_stuck() == []

    assert Compose.objects.get(pk=fresh.pk).state == Compose.State.QUEUED
    assert not AuditEvent.objects.filter(action="compose.requeue").exists()


def test_it_sends_one_compose_again_at_most_once_in_five_minutes(treefile, stages) -> None:
    # No worker consumes here: the second sweep must not pile a second message on the first.
    orphan = compose_request(treefile=treefile, enqueue=False)
    Compose.objects.filter(pk=orphan.pk).update(state=Compose.State.RUNNING, started_at=timezone.now())

    assert compose_requeue_stuck() == [orphan.pk]
    assert compose_requeue_stuck() == []

    assert AuditEvent.objects.filter(action="compose.requeue", object_id=str(orphan.pk)).count() == 1
    with celery_app.connection_for_write() as conn:
        assert conn.default_channel.queue_purge("compose") == 1  # exactly one message went to the broker
    # The resent message, consumed in-process, does what the redelivery does: fail it as interrupted.
    assert compose_run(compose_id=orphan.pk).failure_reason == INTERRUPTED
