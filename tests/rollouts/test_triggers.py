"""A check-in queues a gate evaluation only when it can change a gate: during a rollout of the stage it follows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis

from kinoite_portal.fleet.models import Department, Host
from kinoite_portal.releases.models import Commit, Treefile
from kinoite_portal.rollouts.models import Rollout
from kinoite_portal.rollouts.triggers import KEY
from tests.fleet.helpers import PROD_REF, booted_on
from tests.rollouts.conftest import check_in
from tests.services import wait_until


@pytest.fixture(autouse=True)
def published(db: None) -> None:
    """Desktops follow the prod ref the treefile publishes (and its ring refs)."""
    Treefile.objects.create(name="kinoite", content={"ref": "fedora/x86_64/kinoite/dev"}, published_ref=PROD_REF)


@pytest.fixture
def debounce_key(settings: Any) -> Iterator[Callable[[], bool]]:
    """Return whether the debounce key of this run's broker prefix is set (it starts unset)."""
    settings.PORTAL_GATE_EVALUATE_ON_CHECKIN = True
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = str(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")) + KEY
    client.delete(key)
    yield lambda: bool(client.exists(key))
    client.delete(key)


@pytest.mark.django_db
def test_a_check_in_while_no_rollout_runs_queues_nothing_and_leaves_redis_alone(
    rings: Any,
    commits: dict[str, Commit],
    departments: dict[str, Department],
    make_host: Callable[..., Host],
    make_rollout: Callable[..., Rollout],
    debounce_key: Callable[[], bool],
    django_capture_on_commit_callbacks: Any,
) -> None:
    finished = make_rollout({"pilot": timedelta(hours=2)})
    Rollout.objects.filter(pk=finished.pk).update(state=Rollout.State.COMPLETED)
    host = make_host("it-1", departments["it"])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        check_in(host, booted_on(commits["new"].checksum), greenboot="green")

    assert callbacks == []
    assert not debounce_key()


@pytest.mark.django_db
def test_a_check_in_of_a_host_following_another_source_queues_nothing_during_a_rollout(
    commits: dict[str, Commit],
    departments: dict[str, Department],
    make_host: Callable[..., Host],
    make_rollout: Callable[..., Rollout],
    debounce_key: Callable[[], bool],
    django_capture_on_commit_callbacks: Any,
) -> None:
    make_rollout({"pilot": timedelta(hours=2)})
    host = make_host("it-1", departments["it"])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        check_in(host, booted_on(commits["new"].checksum, origin="other:fedora/x86_64/kinoite/testing"))

    assert callbacks == []
    assert not debounce_key()


@pytest.mark.django_db(transaction=True)
def test_a_red_check_in_during_a_rollout_halts_it_through_a_queued_evaluation(
    commits: dict[str, Commit],
    departments: dict[str, Department],
    make_host: Callable[..., Host],
    make_rollout: Callable[..., Rollout],
    debounce_key: Callable[[], bool],
    celery_worker: Any,
) -> None:
    # No beat runs here: only the evaluation the check-in queues (through the queueing module) can halt it.
    rollout = make_rollout({"pilot": timedelta(hours=2)})
    host = make_host("it-1", departments["it"])

    check_in(host, booted_on(commits["new"].checksum), greenboot="red")

    assert debounce_key()  # a second check-in in the window would queue nothing more
    halted = wait_until(
        lambda: Rollout.objects.filter(pk=rollout.pk, state=Rollout.State.HALTED).first(),
        timeout=60,
        message="the queued evaluation halts the rollout",
    )
    assert "pilot ring failed" in halted.halt_reason
