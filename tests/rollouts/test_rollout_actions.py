"""Approvers' actions on a rollout, on real repos: the services run in this process (the worker runs them in the
end-to-end tests), so each ring move is the real ``ostree refs`` on the prod repo."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail

from kinoite_portal.core.models import AuditEvent
from kinoite_portal.fleet.models import Department, Host
from kinoite_portal.ostree import Repo
from kinoite_portal.releases.models import Promotion, RefUpdate, Stage
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.deltas import ref_static_delta_publish
from kinoite_portal.releases.services.promotions import promotion_run
from kinoite_portal.rollouts.models import Rollout, RolloutEvent, RolloutRing
from kinoite_portal.rollouts.services.rollouts import (
    RolloutConflict,
    RolloutError,
    rollout_advance,
    rollout_evaluate,
    rollout_halt,
    rollout_pause,
    rollout_resume,
    rollout_ring_move,
    rollout_rollback,
)
from tests.fleet.helpers import PROD_REF, booted_on, machine_id
from tests.rollouts.conftest import check_in, publish

PILOT, EARLY, BROAD = (f"{PROD_REF}-{name}" for name in ("pilot", "early", "broad"))


def states(rollout: Rollout) -> list[str]:
    return list(rollout.rings.order_by("order").values_list("state", flat=True))


def move_requested(rollout: Rollout) -> None:
    """Run the moves the services queued (the worker's job) in this process."""
    for ring in rollout.rings.filter(state=RolloutRing.State.MOVING):
        rollout_ring_move(rollout_ring_id=ring.pk)


def test_an_approver_advances_the_next_ring_early_with_a_reason(rollout: Rollout, approver: Any) -> None:
    prod = Repo(rollout.stage.repo_dir)
    assert prod.resolve(EARLY) is None

    ring = rollout_advance(user=approver, rollout=rollout, reason="security fix, cannot wait a day", ring_name="early")
    move_requested(rollout)

    assert ring.name == "early"
    assert states(rollout) == ["moved", "moved", "waiting"]
    assert prod.resolve(EARLY) == rollout.commit.checksum
    assert prod.resolve(PROD_REF) == rollout.previous_commit.checksum
    event = RolloutEvent.objects.get(rollout=rollout, kind=RolloutEvent.Kind.ADVANCED)
    assert (event.actor, event.message) == (approver, "early advanced early: security fix, cannot wait a day")
    assert AuditEvent.objects.filter(action="rollout.advance", actor=approver).count() == 1


def test_advancing_twice_or_an_unknown_ring_or_without_a_reason_is_refused_and_changes_nothing(
    rollout: Rollout, approver: Any, release_engineer: Any
) -> None:
    rollout_advance(user=approver, rollout=rollout, reason="go", ring_name="early")
    before = (states(rollout), RolloutEvent.objects.count(), AuditEvent.objects.count())

    with pytest.raises(RolloutConflict, match="early ring already has the commit"):
        rollout_advance(user=approver, rollout=rollout, reason="go", ring_name="early")
    with pytest.raises(RolloutConflict, match="still being moved"):
        rollout_advance(user=approver, rollout=rollout, reason="go")
    with pytest.raises(RolloutError, match="no ring 'canary'"):
        rollout_advance(user=approver, rollout=rollout, reason="go", ring_name="canary")
    with pytest.raises(RolloutError, match="needs a written reason"):
        rollout_advance(user=approver, rollout=rollout, reason="  ")
    with pytest.raises(RolloutError, match="approvers only"):
        rollout_advance(user=release_engineer, rollout=rollout, reason="go")

    assert (states(rollout), RolloutEvent.objects.count(), AuditEvent.objects.count()) == before


def summary_view(repo: Repo) -> str:
    return subprocess.run(
        ["ostree", "summary", "--view", f"--repo={repo.path}"], capture_output=True, text=True, check=True
    ).stdout


def test_a_ring_move_publishes_the_ref_and_summary_first_and_queues_the_static_delta(
    rollout: Rollout, approver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    prod = Repo(rollout.stage.repo_dir)
    old, new = rollout.previous_commit.checksum, rollout.commit.checksum
    name = f"{old}-{new}"
    rollout_advance(user=approver, rollout=rollout, reason="go", ring_name="early")
    early = rollout.rings.get(name="early")

    with django_capture_on_commit_callbacks() as queued:
        rollout_ring_move(rollout_ring_id=early.pk)

    # Published under the repo lock without the delta: clients fetch objects until it is ready.
    assert prod.resolve(EARLY) == new
    assert EARLY in summary_view(prod)
    assert name not in prod.static_deltas()
    (move,) = AuditEvent.objects.filter(action="rollout.move", object_id=str(rollout.pk))
    assert any("refs" in command and EARLY in command for command in move.commands)
    assert not any("static-delta" in command for command in move.commands)
    # One delta task (old -> new for the early ring's clients), sent once the move is recorded.
    assert [cb.__qualname__ for cb in queued].count("task_send_args_on_commit.<locals>.<lambda>") == 1

    # What that task runs on the worker (the end-to-end tests run it there).
    assert ref_static_delta_publish(stage_id=rollout.stage_id, ref=EARLY, from_checksum=old, to_checksum=new) == name
    assert name in prod.static_deltas()
    assert name in summary_view(prod)
    (delta,) = AuditEvent.objects.filter(action="stage.static_delta")
    assert any("static-delta generate" in command for command in delta.commands)
    # Twice is harmless, and a ref that moved on gets no delta to a commit its clients no longer get.
    assert ref_static_delta_publish(stage_id=rollout.stage_id, ref=EARLY, from_checksum=old, to_checksum=new) == name
    assert ref_static_delta_publish(stage_id=rollout.stage_id, ref=BROAD, from_checksum=old, to_checksum=new) is None
    assert prod.fsck().ok


def test_a_halted_rollout_moves_nothing_until_resumed_and_advance_says_so(rollout: Rollout, approver: Any) -> None:
    rollout_halt(user=approver, rollout=rollout, reason="helpdesk calls about printing")

    with pytest.raises(RolloutConflict, match="halted: resume it"):
        rollout_advance(user=approver, rollout=rollout, reason="go")
    with pytest.raises(RolloutConflict, match="only a running or paused one can halt"):
        rollout_halt(user=approver, rollout=rollout, reason="again")
    with pytest.raises(RolloutError, match="Say why the rollout may go on"):
        rollout_resume(user=approver, rollout=rollout)
    assert Rollout.objects.get(pk=rollout.pk).state == Rollout.State.HALTED

    rollout_resume(user=approver, rollout=rollout, reason="printer driver fixed separately")
    rollout_advance(user=approver, rollout=rollout, reason="catch up")
    move_requested(rollout)

    assert states(rollout) == ["moved", "moved", "waiting"]


def test_a_move_requested_before_a_halt_is_not_carried_out(rollout: Rollout, approver: Any) -> None:
    rollout_advance(user=approver, rollout=rollout, reason="go")
    early = rollout.rings.get(name="early")
    rollout_halt(user=approver, rollout=rollout, reason="stop")

    rollout_ring_move(rollout_ring_id=early.pk)  # the queued task arrives after the halt

    assert states(rollout) == ["moved", "waiting", "waiting"]
    assert Repo(rollout.stage.repo_dir).resolve(EARLY) is None


def test_pause_holds_an_open_gate_and_resume_lets_it_move(rollout: Rollout, approver: Any, it: Department) -> None:
    RolloutRing.objects.filter(rollout=rollout).update(soak_time=timedelta(0))
    host = Host.objects.create(hostname="it-001", machine_id=machine_id("it-001"), department=it)
    check_in(host, booted_on(rollout.commit.checksum), greenboot="green")

    rollout_pause(user=approver, rollout=rollout, reason="holidays")
    assert rollout_evaluate(rollout=Rollout.objects.get(pk=rollout.pk)) == []
    with pytest.raises(RolloutConflict, match="only a running rollout can be paused"):
        rollout_pause(user=approver, rollout=rollout)

    rollout_resume(user=approver, rollout=rollout)
    assert rollout_evaluate(rollout=Rollout.objects.get(pk=rollout.pk)) == ["moving early"]
    move_requested(rollout)
    assert states(rollout) == ["moved", "moved", "waiting"]


def test_a_gate_that_needs_an_approver_waits_for_the_click_and_tells_the_approvers(
    rollout: Rollout, approver: Any, it: Department, django_capture_on_commit_callbacks: Any
) -> None:
    RolloutRing.objects.filter(rollout=rollout).update(soak_time=timedelta(0), auto_advance=False)
    host = Host.objects.create(hostname="it-001", machine_id=machine_id("it-001"), department=it)
    check_in(host, booted_on(rollout.commit.checksum), greenboot="green")

    with django_capture_on_commit_callbacks(execute=True):
        assert rollout_evaluate(rollout=Rollout.objects.get(pk=rollout.pk)) == []

    assert states(rollout) == ["moved", "waiting", "waiting"]
    assert [message.to for message in mail.outbox] == [[approver.email]]
    assert "next ring waits" in mail.outbox[0].subject.lower()


def test_failures_over_the_threshold_halt_at_once_email_the_approvers_and_offer_a_forward_rollback(
    rollout: Rollout, approver: Any, release_engineer: Any, it: Department, django_capture_on_commit_callbacks: Any
) -> None:
    for index, verdict in enumerate(("green", "red")):
        host = Host.objects.create(hostname=f"it-{index}", machine_id=machine_id(f"it-{index}"), department=it)
        check_in(host, booted_on(rollout.commit.checksum), greenboot=verdict)

    with django_capture_on_commit_callbacks(execute=True):
        done = rollout_evaluate(rollout=Rollout.objects.get(pk=rollout.pk))

    assert done == ["halted: 1 of 2 active hosts of the pilot ring failed on 41.20261125.0 (failure threshold 5 %)."]
    assert [message.to for message in mail.outbox] == [[approver.email]]
    assert "Halted" in mail.outbox[0].subject
    assert AuditEvent.objects.filter(action="rollout.halt", actor=None).count() == 1

    rollout.refresh_from_db()
    rollbacks = rollout_rollback(user=release_engineer, rollout=rollout)

    assert [(p.kind, p.target_ref, p.commit) for p in rollbacks] == [("rollback", PILOT, rollout.previous_commit)]
    assert rollbacks[0].state == Promotion.State.REQUESTED  # the usual approval applies
    approval_grant(user=approver, promotion=rollbacks[0])
    restored = promotion_run(promotion_id=rollbacks[0].pk)
    assert restored.state == Promotion.State.SUCCEEDED, restored.log
    prod = Repo(rollout.stage.repo_dir)
    assert prod.resolve(PILOT) == restored.published_commit.checksum
    assert restored.published_commit.content_checksum == rollout.previous_commit.content_checksum
    assert prod.resolve(EARLY) is None
    assert RolloutEvent.objects.filter(rollout=rollout, kind=RolloutEvent.Kind.ROLLED_BACK).count() == 1


def test_a_rollback_is_refused_while_the_rollout_runs(rollout: Rollout, release_engineer: Any) -> None:
    with pytest.raises(RolloutConflict, match="halt it before rolling its rings back"):
        rollout_rollback(user=release_engineer, rollout=rollout)
    assert not Promotion.objects.filter(kind=Promotion.Kind.ROLLBACK).exists()


def test_a_new_promotion_supersedes_a_halted_rollout_and_starts_at_the_first_ring(
    rollout: Rollout, make_dev_commit: Any, release_engineer: Any, approver: Any
) -> None:
    rollout_halt(user=approver, rollout=rollout, reason="bad build")

    newer = publish(make_dev_commit("41.20261126.0"), release_engineer, approver)

    assert Rollout.objects.get(pk=rollout.pk).state == Rollout.State.SUPERSEDED
    follow_up = Rollout.objects.get(promotion=newer)
    assert states(follow_up) == ["moved", "waiting", "waiting"]
    assert follow_up.previous_commit == rollout.previous_commit  # the stage ref never took the halted commit
    assert Repo(rollout.stage.repo_dir).resolve(PILOT) == follow_up.commit.checksum


def test_a_stage_without_rings_publishes_to_its_ref_as_before(
    stages: dict[str, Stage], make_dev_commit: Any, release_engineer: Any, approver: Any
) -> None:
    Stage.objects.filter(pk=stages["prod"].pk).update(min_days_in_previous_stage=0)

    promotion = publish(make_dev_commit("41.20261125.0"), release_engineer, approver)

    assert (promotion.moved_ref, promotion.bound_refs) == (PROD_REF, [])
    assert Repo(stages["prod"].repo_dir).resolve(PROD_REF) == promotion.published_commit.checksum
    assert not Rollout.objects.exists()


def test_a_move_whose_worker_died_after_the_ref_moved_is_finished_by_running_it_again(
    rollout: Rollout, approver: Any
) -> None:
    rollout_advance(user=approver, rollout=rollout, reason="go")
    early = rollout.rings.get(name="early")
    prod = Repo(rollout.stage.repo_dir)
    prod.set_ref(EARLY, rollout.commit.checksum)  # the worker got this far, then died before recording it
    RolloutRing.objects.filter(pk=early.pk).update(move_requested_at=early.move_requested_at - timedelta(minutes=5))

    assert rollout_evaluate(rollout=Rollout.objects.get(pk=rollout.pk)) == ["resent move of early"]
    assert AuditEvent.objects.filter(action="rollout.move_resend").count() == 1
    rollout_ring_move(rollout_ring_id=early.pk)
    rollout_ring_move(rollout_ring_id=early.pk)  # a duplicate delivery changes nothing

    assert states(rollout) == ["moved", "moved", "waiting"]
    assert prod.resolve(EARLY) == rollout.commit.checksum
    assert AuditEvent.objects.filter(action="rollout.move").count() == 1
    assert RefUpdate.objects.filter(ref__name=EARLY).count() == 1
