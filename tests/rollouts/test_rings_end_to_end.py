"""A promotion reaches the fleet ring by ring, on real parts.

Real ostree repos served by the live portal at /repo/prod/, desktops as ostree sysroot folders pulling from it over
HTTP, the real agent from deploy/client reporting them, and a real Celery worker doing the promotion, the gate
evaluations (queued by check-ins) and the ring moves. Only rpm-ostree is mocked (tests/rollouts/fake_rpm_ostree.py).
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import pytest

from kinoite_portal.core.models import AuditEvent
from kinoite_portal.fleet.models import Department
from kinoite_portal.ostree import Repo
from kinoite_portal.releases.models import Promotion, RefUpdate, Stage
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.promotions import promotion_request
from kinoite_portal.rollouts.models import Ring, Rollout, RolloutRing
from kinoite_portal.rollouts.services.rollouts import rollout_rollback
from kinoite_portal.rollouts.triggers import ROLLING_OUT_SECONDS
from tests.fleet.helpers import PROD_REF
from tests.rollouts.conftest import FALLBACK, GREEN, RED, RING_RPM_OSTREE
from tests.services import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

PILOT, EARLY, BROAD = (f"{PROD_REF}-{name}" for name in ("pilot", "early", "broad"))


def publish(commit: Any, engineer: Any, approver: Any) -> Promotion:
    """Request and approve a promotion of ``commit``; wait for the worker to finish it."""
    promotion = promotion_request(user=engineer, checksum=commit.checksum)
    approval_grant(user=approver, promotion=promotion)
    wait_until(
        lambda: Promotion.objects.get(pk=promotion.pk).state in Promotion.FINISHED_STATES,
        timeout=90,
        message="promotion finished",
    )
    promotion.refresh_from_db()
    assert promotion.state == Promotion.State.SUCCEEDED, promotion.log
    return promotion


def ring_state(name: str) -> str:
    return RolloutRing.objects.get(rollout=Rollout.objects.latest("created_at"), name=name).state


def wait_moved(name: str, worker: Any) -> None:
    try:
        wait_until(lambda: ring_state(name) == RolloutRing.State.MOVED, timeout=60, message=f"{name} moved")
    except TimeoutError as exc:
        raise AssertionError(f"the {name} ring did not move; worker log:\n{worker.log()[-4000:]}") from exc


@pytest.fixture
def fleet(stages: dict[str, Stage]) -> dict[str, Department]:
    """Three departments; prod takes a commit the day it was made (the rings do the waiting)."""
    Stage.objects.filter(pk=stages["prod"].pk).update(min_days_in_previous_stage=0)
    return {slug: Department.objects.create(name=slug.title(), slug=slug) for slug in ("it", "finance", "sales")}


def add_rings(stage: Stage, departments: dict[str, Department]) -> None:
    """The default rings, no soak: IT in pilot, finance in early; sales is in no ring, so in broad (the last)."""
    for order, (name, department) in enumerate((("pilot", "it"), ("early", "finance"), ("broad", None)), start=1):
        ring = Ring.objects.create(stage=stage, name=name, order=order, soak_time=timedelta(0))
        if department:
            ring.departments.add(departments[department])


def test_a_promoted_commit_reaches_each_ring_once_the_previous_ring_booted_it_healthy(
    stages: dict[str, Stage],
    make_dev_commit: Any,
    fleet: dict[str, Department],
    make_desktop: Any,
    release_engineer: Any,
    approver: Any,
    celery_worker: Any,
    live_server: Any,
) -> None:
    prod = Repo(stages["prod"].repo_dir)
    # Before it had rings the stage published as before: the old commit under the stage ref only.
    old = publish(make_dev_commit("41.20261101.0"), release_engineer, approver).published_commit
    add_rings(stages["prod"], fleet)
    assert old is not None
    assert prod.resolve(PROD_REF) == old.checksum
    assert prod.resolve(PILOT) is None
    pilot = make_desktop("it-001", fleet["it"], live_server.url)
    early = make_desktop("fin-001", fleet["finance"], live_server.url)
    broad = make_desktop("sales-001", fleet["sales"], live_server.url)
    for desktop in (pilot, early, broad):
        desktop.agent()

    promotion = publish(make_dev_commit("41.20261125.0"), release_engineer, approver)
    # The worker started the rollout: this process, which serves the check-ins, has kept "no rollout running"
    # since the agents' first reports, and sees it within ROLLING_OUT_SECONDS (beat, not run here, would evaluate).
    time.sleep(ROLLING_OUT_SECONDS)

    new = promotion.published_commit
    assert new is not None
    # Bound once to every ring's ref and the stage ref; published to the first ring only.
    assert sorted(new.ref_binding or []) == sorted([PILOT, EARLY, BROAD, PROD_REF])
    assert (prod.resolve(PILOT), prod.resolve(EARLY), prod.resolve(PROD_REF)) == (new.checksum, None, old.checksum)
    rollout = Rollout.objects.get(promotion=promotion)
    assert [(r.name, r.state) for r in rollout.rings.all()] == [
        ("pilot", "moved"),
        ("early", "waiting"),
        ("broad", "waiting"),
    ]

    # The pilot's agent is told to follow the pilot ref and rebases (the mock boots it at once); the others stay.
    assert "rebased to prod:" + PILOT in pilot.agent().stderr
    early.agent()
    assert pilot.deployed()[0] == (new.checksum, f"prod:{PILOT}")
    assert early.deployed()[0] == (old.checksum, f"prod:{PROD_REF}")
    assert early.pull(PROD_REF).returncode == 0
    assert early.rev(PROD_REF) == old.checksum
    assert "ref binding" not in early.pull(PILOT).stderr  # the pilot ref pulls cleanly: the binding names it

    # The pilot boots it healthy: that check-in queues a gate evaluation, the gate opens, the worker moves early.
    pilot.agent()
    wait_moved("early", celery_worker)
    assert prod.resolve(EARLY) == new.checksum
    assert prod.resolve(PROD_REF) == old.checksum
    # The early ring's clients come from the old commit: its delta follows the move in a task of its own.
    delta = f"{old.checksum}-{new.checksum}"
    wait_until(lambda: delta in prod.static_deltas(), timeout=60, message="the early ring's static delta")
    assert "releases.ref_static_delta" in celery_worker.log()
    assert "rebased to prod:" + EARLY in early.agent().stderr
    early.agent()
    wait_moved("broad", celery_worker)
    # The last ring moves the plain stage ref with it.
    assert prod.resolve(BROAD) == prod.resolve(PROD_REF) == new.checksum
    assert "rebased to prod:" + BROAD in broad.agent().stderr
    broad.agent()
    wait_until(
        lambda: Rollout.objects.get(pk=rollout.pk).state == Rollout.State.COMPLETED, timeout=60, message="completed"
    )

    moves = RefUpdate.objects.filter(source=RefUpdate.Source.ROLLOUT, commit=new)
    assert sorted(moves.values_list("ref__name", flat=True)) == sorted([EARLY, BROAD, PROD_REF])
    assert AuditEvent.objects.filter(action="rollout.move", object_id=str(rollout.pk)).count() == 2
    assert broad.pull(PROD_REF).returncode == 0
    assert broad.rev(PROD_REF) == new.checksum


@pytest.mark.parametrize("verdict", [RED, FALLBACK], ids=["red", "fallback"])
def test_a_pilot_that_boots_the_commit_unhealthy_halts_the_rollout_and_the_next_ring_keeps_the_old_commit(
    stages: dict[str, Stage],
    make_dev_commit: Any,
    fleet: dict[str, Department],
    make_desktop: Any,
    release_engineer: Any,
    approver: Any,
    celery_worker: Any,
    live_server: Any,
    verdict: str,
) -> None:
    prod = Repo(stages["prod"].repo_dir)
    old = publish(make_dev_commit("41.20261101.0"), release_engineer, approver).published_commit
    add_rings(stages["prod"], fleet)
    assert old is not None
    pilots = [make_desktop(f"it-00{index}", fleet["it"], live_server.url) for index in range(2)]
    early = make_desktop("fin-001", fleet["finance"], live_server.url)

    promotion = publish(make_dev_commit("41.20261125.0"), release_engineer, approver)
    new = promotion.published_commit
    assert new is not None
    for desktop in pilots:
        desktop.agent()  # rebases to the pilot ref
    pilots[0].boots(GREEN)
    pilots[1].boots(verdict)
    for desktop in pilots:
        desktop.agent()

    rollout = Rollout.objects.get(promotion=promotion)
    wait_until(lambda: Rollout.objects.get(pk=rollout.pk).state == Rollout.State.HALTED, timeout=60, message="halt")
    rollout.refresh_from_db()
    assert "1 of 2 active hosts of the pilot ring failed" in rollout.halt_reason
    assert AuditEvent.objects.filter(action="rollout.halt", object_id=str(rollout.pk)).exists()
    # No further ref moves: the next ring's client still gets the old commit.
    assert prod.resolve(EARLY) is None
    assert prod.resolve(PROD_REF) == old.checksum
    early.agent()
    assert early.pull(PROD_REF).returncode == 0
    assert early.rev(PROD_REF) == old.checksum
    assert early.deployed()[0] == (old.checksum, f"prod:{PROD_REF}")

    # The forward rollback of the pilot ring: requested, approved as usual, published by the worker; the pilot's
    # next update brings back the old tree under a new, newer commit.
    (rollback,) = rollout_rollback(user=release_engineer, rollout=rollout)
    approval_grant(user=approver, promotion=rollback)
    wait_until(
        lambda: Promotion.objects.get(pk=rollback.pk).state in Promotion.FINISHED_STATES, timeout=90, message="rollback"
    )
    rollback.refresh_from_db()
    assert rollback.state == Promotion.State.SUCCEEDED, rollback.log
    assert rollback.published_commit is not None
    assert prod.resolve(PILOT) == rollback.published_commit.checksum
    assert rollback.published_commit.content_checksum == old.content_checksum
    upgrade = subprocess.run(
        [sys.executable, str(RING_RPM_OSTREE), str(pilots[1].sysroot), "upgrade"], capture_output=True, text=True
    )
    assert upgrade.returncode == 0, upgrade.stderr
    assert pilots[1].deployed()[0] == (rollback.published_commit.checksum, f"prod:{PILOT}")


def test_beat_alone_moves_the_next_ring_after_a_healthy_check_in(
    stages: dict[str, Stage],
    make_dev_commit: Any,
    fleet: dict[str, Department],
    make_desktop: Any,
    release_engineer: Any,
    approver: Any,
    celery_worker: Any,
    start_beat: Any,
    live_server: Any,
    settings: Any,
) -> None:
    settings.PORTAL_GATE_EVALUATE_ON_CHECKIN = False  # no evaluation queued by the check-in: only beat's schedule
    publish(make_dev_commit("41.20261101.0"), release_engineer, approver)
    add_rings(stages["prod"], fleet)
    pilot = make_desktop("it-001", fleet["it"], live_server.url)
    new = publish(make_dev_commit("41.20261125.0"), release_engineer, approver).published_commit
    pilot.agent()  # rebases to the pilot ref
    pilot.agent()  # reports it booted healthy
    start_beat()

    wait_moved("early", celery_worker)

    assert new is not None
    assert Repo(stages["prod"].repo_dir).resolve(EARLY) == new.checksum
