"""The compose task on a real Celery worker, real Redis and real ostree repos."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from kinoite_portal.celery import app as celery_app
from kinoite_portal.ostree import Repo
from kinoite_portal.releases.models import Compose
from kinoite_portal.releases.services.composes import compose_request, compose_run
from kinoite_portal.releases.tasks.compose import compose_run_task
from tests.releases.conftest import REF_DEV
from tests.services import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def wait_finished(compose: Compose, timeout: float = 30) -> Compose:
    def finished():
        compose.refresh_from_db()
        return compose.is_finished

    wait_until(finished, timeout=timeout, message=f"compose #{compose.pk} finished")
    return compose


def test_the_task_is_routed_to_the_compose_queue_and_acks_late() -> None:
    assert celery_app.amqp.router.route({}, "releases.compose_run")["queue"].name == "compose"
    assert compose_run_task.acks_late is True


def test_a_worker_composes_into_dev_and_a_second_unchanged_compose_makes_no_commit(
    treefile, stages, start_worker
) -> None:
    worker = start_worker(queues="compose")

    first = wait_finished(compose_request(treefile=treefile))  # queued on commit; autocommit here

    assert first.state == Compose.State.SUCCEEDED, first.log
    log = subprocess.run(
        ["ostree", "log", f"--repo={stages['dev'].repo_dir}", REF_DEV], capture_output=True, text=True, check=True
    ).stdout
    assert log.startswith(f"commit {first.commit.checksum}\n")
    assert f"Version: {first.commit.version}" in log
    assert ["plasma-desktop", 0, "6.2.1", "1.fc41", "x86_64"] in first.commit.packages
    assert "releases.compose_run" in worker.log()

    second = wait_finished(compose_request(treefile=treefile))

    assert second.state == Compose.State.UNCHANGED
    assert Repo(stages["dev"].repo_dir).log(REF_DEV)[0].checksum == first.commit.checksum


def test_task_arguments_survive_json_serialisation(treefile, stages, celery_worker) -> None:
    compose = compose_request(treefile=treefile, enqueue=False)
    args = json.loads(json.dumps([compose.pk]))

    celery_app.send_task("releases.compose_run", args=args)

    assert wait_finished(compose).state == Compose.State.SUCCEEDED


def test_two_composes_of_one_treefile_started_together_run_one_after_the_other(
    treefile, stages, start_worker, fake_rpm_ostree
) -> None:
    # The rpm-ostree MOCK takes 1.5 s per compose, so without the repo lock the two would overlap.
    start_worker(
        queues="compose",
        pool="threads",
        concurrency=2,
        extra_env=fake_rpm_ostree.env("ok", FAKE_RPM_OSTREE_DELAY="1.5"),
    )
    a = compose_request(treefile=treefile, backend="rpm-ostree", enqueue=False)
    b = compose_request(treefile=treefile, backend="rpm-ostree", enqueue=False)
    compose_run_task.delay(a.pk)
    compose_run_task.delay(b.pk)

    wait_finished(a)
    wait_finished(b)

    assert {a.state, b.state} == {Compose.State.SUCCEEDED}
    first, second = sorted([a, b], key=lambda c: c.started_at)
    assert first.finished_at <= second.started_at
    assert "Waiting for another job on the dev repo to finish" in second.log
    assert second.commit.parent_checksum == first.commit.checksum
    assert len(fake_rpm_ostree.calls()) == 2


def test_a_compose_whose_worker_was_killed_is_failed_by_the_next_delivery(
    treefile, stages, start_worker, fake_rpm_ostree
) -> None:
    worker = start_worker(queues="compose", extra_env=fake_rpm_ostree.env("hang"))
    compose = compose_request(treefile=treefile, backend="rpm-ostree")
    pid = int(wait_until(lambda: fake_rpm_ostree.pidfile.exists() and fake_rpm_ostree.pidfile.read_text()))
    wait_until(lambda: "Installing 1623 packages" in Compose.objects.get(pk=compose.pk).log, message="log streamed")

    worker.kill()
    os.kill(pid, signal.SIGKILL)  # rpm-ostree runs in its own session: the worker's death does not take it along
    # The unacknowledged message is delivered again (acks_late); that delivery runs the same service.
    compose = compose_run(compose_id=compose.pk)

    assert compose.state == Compose.State.FAILED
    assert compose.failure_reason == "Interrupted: the worker running this compose stopped before it finished"
    assert "Installing 1623 packages" in compose.log
    assert Repo(stages["dev"].repo_dir).resolve(REF_DEV) is None
