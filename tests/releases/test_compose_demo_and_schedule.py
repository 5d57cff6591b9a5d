"""The demo composes and the beat dispatcher for scheduled composes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kinoite_portal.ostree import diff_packages
from kinoite_portal.ostree.model import Package
from kinoite_portal.releases.demo_composes import seed_composes
from kinoite_portal.releases.models import Compose
from kinoite_portal.releases.services.composes import compose_schedule_due
from kinoite_portal.releases.services.treefiles import treefile_save
from kinoite_portal.schedules import BEAT_SCHEDULE
from tests.releases.conftest import REF_STABLE, treefile_content


@pytest.mark.django_db(transaction=True)
def test_seed_composes_makes_two_dev_commits_with_real_upgrades_once(treefile, stages) -> None:
    first, second = seed_composes()

    assert (first.state, second.state) == ("succeeded", "succeeded")
    diff = diff_packages([Package(*p) for p in first.commit.packages], [Package(*p) for p in second.commit.packages])
    upgraded = {change.name for change in diff.upgraded}
    assert {"kernel", "plasma-desktop", "openssl-libs"} <= upgraded
    assert [c.name for c in diff.added] == ["flatpak"]
    assert seed_composes() == []
    assert Compose.objects.count() == 2


@pytest.mark.django_db
def test_a_due_schedule_queues_one_compose_per_slot(treefile, django_capture_on_commit_callbacks) -> None:
    treefile_save(name="kinoite", content=treefile_content(), published_ref=REF_STABLE, schedule="0 2 * * *")
    at = datetime(2026, 3, 1, 2, 3, tzinfo=UTC)

    with django_capture_on_commit_callbacks() as callbacks:
        [compose] = compose_schedule_due(now=at)
    assert (compose.trigger, compose.state) == ("schedule", "queued")
    assert len(callbacks) == 1  # the compose task is sent once the transaction commits

    assert compose_schedule_due(now=at) == []  # same slot: nothing new
    assert compose_schedule_due(now=datetime(2026, 3, 1, 14, 0, tzinfo=UTC)) == []  # no slot in the last minutes


@pytest.mark.django_db
def test_disabled_or_unscheduled_treefiles_are_not_composed(treefile) -> None:
    treefile_save(
        name="kinoite", content=treefile_content(), published_ref=REF_STABLE, schedule="* * * * *", enabled=False
    )
    assert compose_schedule_due(now=datetime(2026, 3, 1, 2, 0, 30, tzinfo=UTC)) == []


def test_beat_runs_the_dispatcher_every_minute() -> None:
    assert BEAT_SCHEDULE["releases.compose_scheduled"] == {"task": "releases.compose_scheduled", "schedule": 60.0}
