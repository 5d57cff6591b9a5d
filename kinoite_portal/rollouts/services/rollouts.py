"""Rollouts: starting one when a promotion published, moving ring refs, gates, and approvers' actions.

A ring move is made by a worker under the stage's repo lock like a promotion, through the stage's kind
(``releases.stage_kinds``): on an ostree stage ``ostree refs --force --create=RING_REF CHECKSUM`` then a signed
summary, the static deltas its clients need following in tasks of their own (the commit was signed once by the
promotion and is bound to every ring ref, so the move never re-commits); on an OCI stage the digest is signed for the
ring's tag (a simple signature names its tag) and then the tag moves. The kind also guards the move: an ostree commit
must be bound to the ring ref, an image must be the very digest the rollout's promotion was approved for. A move is
recorded as requested before the worker runs and as done after; a worker that died in between leaves the ring
"moving", and the next gate evaluation sends it again. Every move, halt and decision is audited and put on the
rollout's timeline.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from kinoite_portal.core.audit import audit_record
from kinoite_portal.releases.errors import PromotionError
from kinoite_portal.releases.models import Promotion, Ref, RefUpdate
from kinoite_portal.releases.services.commits import ref_move
from kinoite_portal.releases.services.joblog import JobLog
from kinoite_portal.releases.services.queueing import task_send_on_commit
from kinoite_portal.releases.services.stages import stage_repo_busy, stage_repo_lock
from kinoite_portal.releases.stage_kinds import kind_of
from kinoite_portal.rollouts import notifications
from kinoite_portal.rollouts.models import Ring, Rollout, RolloutEvent, RolloutRing
from kinoite_portal.rollouts.selectors import Gate, ring_progress

LOCK_TIMEOUT = 60.0
# A ring still "moving" this long after the request lost its worker (a move takes seconds): send it again.
MOVE_RESEND_AFTER = timedelta(minutes=2)


class RolloutError(Exception):
    """A request was refused; the message is shown to the user as is. Nothing was changed."""


class RolloutConflict(RolloutError):
    """Refused because of the rollout's current state (HTTP 409 in the API)."""


def _event(rollout: Rollout, kind: str, message: str, *, ring: RolloutRing | None = None, actor: Any = None) -> None:
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    RolloutEvent.objects.create(rollout=rollout, ring=ring, kind=kind, message=message, actor=user)


def _require_manager(user: Any) -> None:
    if not user.has_perm("rollouts.manage_rollout"):
        raise RolloutError("You may not act on rollouts (approvers only).")


def _queue_move(rollout_ring: RolloutRing) -> None:
    """Send the ring's move to the repo queue once the transaction commits (by name: services never import tasks)."""
    task_send_on_commit("rollouts.ring_move", rollout_ring)


# ------------------------------------------------------------------------------------------------- starting


def rollout_start(*, promotion: Promotion) -> Rollout | None:
    """Start the rollout of what ``promotion`` published on a stage with rings; None on a stage without.

    Called inside the transaction that records the publication, so a re-run of the promotion finds the rollout
    made (or not) with it. A promotion has moved the first ring's ref: that ring is moved, the others wait for their
    gates. A rollback of the stage ref (bound to every ring's ref) moves every ring at once. The stage's earlier
    rollouts of that ref are superseded: the new commit is bound to every ring and overtakes them.
    """
    existing = Rollout.objects.filter(promotion=promotion).first()
    if existing is not None or not promotion.bound_refs or promotion.published_commit is None:
        return existing
    stage, stage_ref = promotion.target_stage, promotion.target_ref
    planned = {promotion.publish_ref, *promotion.bound_refs}
    rings = [ring for ring in Ring.objects.filter(stage=stage).order_by("order") if ring.ref_for(stage_ref) in planned]
    if not rings:
        return None
    now = timezone.now()
    whole_stage_rollback = promotion.publish_ref == stage_ref
    for older in Rollout.objects.filter(stage=stage, stage_ref=stage_ref, state__in=Rollout.ACTIVE_STATES):
        Rollout.objects.filter(pk=older.pk).update(state=Rollout.State.SUPERSEDED, finished_at=now)
        # Moves not done yet are dropped: the new commit overtakes them.
        older.rings.filter(state=RolloutRing.State.MOVING).update(state=RolloutRing.State.WAITING)
        _event(
            older,
            RolloutEvent.Kind.SUPERSEDED,
            f"Superseded by {promotion.get_kind_display().lower()} #{promotion.pk}.",
        )
    stage_ref_row = Ref.objects.filter(stage=stage, name=stage_ref).select_related("head").first()
    previous = promotion.previous_head if whole_stage_rollback else (stage_ref_row.head if stage_ref_row else None)
    rollout = Rollout.objects.create(
        promotion=promotion,
        stage=stage,
        stage_ref=stage_ref,
        commit=promotion.published_commit,
        previous_commit=previous,
    )
    for index, ring in enumerate(rings):
        first_moved = index == 0 and not whole_stage_rollback
        state = RolloutRing.State.MOVED if first_moved else RolloutRing.State.WAITING
        if whole_stage_rollback:
            state = RolloutRing.State.MOVING
        rollout_ring = RolloutRing.objects.create(
            rollout=rollout,
            ring=ring,
            name=ring.name,
            order=ring.order,
            ref=ring.ref_for(stage_ref),
            is_last=index == len(rings) - 1,
            soak_time=ring.soak_time,
            success_threshold=ring.success_threshold,
            failure_threshold=ring.failure_threshold,
            update_timeout=ring.update_timeout,
            auto_advance=ring.auto_advance,
            state=state,
            move_requested_at=now if state != RolloutRing.State.WAITING else None,
            moved_at=now if first_moved else None,
        )
        if first_moved:
            _event(
                rollout,
                RolloutEvent.Kind.MOVED,
                f"{rollout_ring.ref} -> {rollout.commit.checksum[:10]}",
                ring=rollout_ring,
            )
        if whole_stage_rollback:
            _queue_move(rollout_ring)
    version = rollout.commit.version or rollout.commit.checksum[:10]
    message = (
        f"Rollback {version} reaches every ring of {stage.name} at once."
        if whole_stage_rollback
        else f"{version} published to the {rings[0].name} ring of {stage.name}; "
        f"{len(rings) - 1} ring(s) wait for their gates."
    )
    _event(rollout, RolloutEvent.Kind.STARTED, message)
    audit_record(
        action="rollout.start",
        actor_label="worker",
        obj=rollout,
        message=message,
        data={"promotion": promotion.pk, "commit": rollout.commit.checksum, "rings": [r.name for r in rings]},
    )
    return rollout


def rollout_ring_restored(*, promotion: Promotion) -> None:
    """Put a finished rollback of one ring's ref on the timeline of the rollout that had moved that ring."""
    rollout_ring = (
        RolloutRing.objects.filter(
            rollout__stage=promotion.target_stage, ref=promotion.target_ref, state=RolloutRing.State.MOVED
        )
        .select_related("rollout")
        .order_by("-rollout__created_at")
        .first()
    )
    if rollout_ring is None or promotion.published_commit is None:
        return
    version = promotion.published_commit.version or promotion.published_commit.checksum[:10]
    _event(
        rollout_ring.rollout,
        RolloutEvent.Kind.ROLLED_BACK,
        f"{rollout_ring.ref} rolled back to the tree of {promotion.commit.version or promotion.commit.checksum[:10]}"
        f" as {version} (rollback #{promotion.pk}).",
        ring=rollout_ring,
        actor=promotion.requested_by,
    )


# ------------------------------------------------------------------------------------------------- moving


def _request_move(rollout_ring: RolloutRing, *, actor: Any = None, reason: str = "") -> bool:
    """Mark a waiting ring as moving and queue its move; False when it is no longer waiting (someone else won)."""
    now = timezone.now()
    won = RolloutRing.objects.filter(pk=rollout_ring.pk, state=RolloutRing.State.WAITING).update(
        state=RolloutRing.State.MOVING,
        move_requested_at=now,
        advanced_by=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        advance_reason=reason,
    )
    if won:
        _queue_move(rollout_ring)
    return bool(won)


def rollout_ring_move(*, rollout_ring_id: int) -> RolloutRing:
    """Move a ring's ref (and, for the last ring, the stage ref) to the rollout's commit; safe to run again."""
    rollout_ring = RolloutRing.objects.select_related(
        "rollout",
        "rollout__stage",
        "rollout__stage__signing_key",
        "rollout__commit",
        "rollout__previous_commit",
        "rollout__promotion",
    ).get(pk=rollout_ring_id)
    if rollout_ring.state != RolloutRing.State.MOVING:
        return rollout_ring
    rollout = rollout_ring.rollout
    stage, commit = rollout.stage, rollout.commit
    with stage_repo_lock(stage, timeout=LOCK_TIMEOUT):
        rollout.refresh_from_db(fields=["state"])
        rollout_ring.refresh_from_db(fields=["state"])
        if rollout_ring.state != RolloutRing.State.MOVING:
            return rollout_ring
        if rollout.state != Rollout.State.RUNNING:
            # Halted, paused or superseded after the move was requested: no further ref moves.
            RolloutRing.objects.filter(pk=rollout_ring.pk, state=RolloutRing.State.MOVING).update(
                state=RolloutRing.State.WAITING
            )
            rollout_ring.refresh_from_db()
            return rollout_ring
        refs = [rollout_ring.ref, *([rollout.stage_ref] if rollout_ring.is_last else [])]
        kind = kind_of(stage)
        refusal = kind.ring_move_refusal(promotion=rollout.promotion, commit=commit, refs=refs)
        if refusal is not None:
            _halt(rollout, reason=refusal, actor=None)
            rollout_ring.refresh_from_db()  # the halt put the ring back to waiting
            return rollout_ring
        # No job row keeps a ring move's log: its command lines go to the audit trail.
        log = JobLog()
        try:
            previous = kind.move_ring_refs(stage=stage, refs=refs, checksum=commit.checksum, log=log)
        except PromotionError as exc:
            # The store refuses (an image gone, a key that cannot sign): waiting would not help, an approver must.
            _halt(rollout, reason=f"The {rollout_ring.name} ring could not move: {exc}", actor=None)
            rollout_ring.refresh_from_db()
            return rollout_ring
        now = timezone.now()
        with transaction.atomic():
            for ref in refs:
                ref_move(
                    stage=stage,
                    ref_name=ref,
                    commit=commit,
                    source=RefUpdate.Source.ROLLOUT,
                    promotion=rollout.promotion,
                    moved_at=now,
                )
            RolloutRing.objects.filter(pk=rollout_ring.pk).update(state=RolloutRing.State.MOVED, moved_at=now)
            rollout_ring.refresh_from_db()
            moves = ", ".join(f"{ref} {str(previous[ref] or '(new)')[:10]} -> {commit.checksum[:10]}" for ref in refs)
            by = f" by {rollout_ring.advanced_by}: {rollout_ring.advance_reason}" if rollout_ring.advanced_by else ""
            _event(rollout, RolloutEvent.Kind.MOVED, moves + by, ring=rollout_ring)
            audit_record(
                action="rollout.move",
                actor_label="worker",
                obj=rollout,
                message=f"{stage.name}: {moves}{by}",
                commands=log.commands,
                data={"ring": rollout_ring.name, "refs": refs, "commit": commit.checksum},
            )
            _queue_deltas(rollout, rollout_ring.ref, previous)
    return rollout_ring


def _queue_deltas(rollout: Rollout, ref: str, previous: dict[str, str | None]) -> None:
    """Queue the static deltas the moved ring's clients need, to be made once the move is recorded.

    Clients come from the ref's previous commit, or, rebasing from the stage ref, from what it held at the start.
    """
    commit = rollout.commit.checksum
    olds = {*previous.values(), rollout.previous_commit.checksum if rollout.previous_commit else None}
    sources = sorted(checksum for checksum in olds if checksum and checksum != commit)
    kind_of(rollout.stage).after_ring_move(stage=rollout.stage, ref=ref, sources=sources, checksum=commit)


# ------------------------------------------------------------------------------------------------- gates


def rollout_evaluate(*, rollout: Rollout, now: datetime | None = None) -> list[str]:
    """Apply the gates of one rollout: halt on failures, move the next ring when a gate opens; return what it did."""
    now = now or timezone.now()
    done: list[str] = []
    progress = ring_progress(rollout, now=now)
    for item in progress:
        if item.gate == Gate.FAILING:
            reason = (
                f"{item.failed} of {item.active} active hosts of the {item.ring.name} ring failed on "
                f"{rollout.commit.version or rollout.commit.checksum[:10]} (failure threshold "
                f"{item.ring.failure_threshold} %)."
            )
            if _halt(rollout, reason=reason, actor=None):
                done.append(f"halted: {reason}")
            return done
    if rollout.state != Rollout.State.RUNNING:
        return done
    for index, item in enumerate(progress):
        ring = item.ring
        if ring.state == RolloutRing.State.MOVING:
            stale = ring.move_requested_at is None or ring.move_requested_at < now - MOVE_RESEND_AFTER
            if stale and not stage_repo_busy(rollout.stage):
                audit_record(
                    action="rollout.move_resend",
                    actor_label="beat",
                    obj=rollout,
                    message=f"the move of the {ring.name} ring lost its worker (moving, repo lock free); sent again",
                )
                RolloutRing.objects.filter(pk=ring.pk).update(move_requested_at=now)
                _queue_move(ring)
                done.append(f"resent move of {ring.name}")
            continue
        if item.gate not in (Gate.OPEN, Gate.AWAITING_APPROVAL):
            continue
        if RolloutRing.objects.filter(pk=ring.pk, gate_passed_at__isnull=True).update(gate_passed_at=now):
            waits = item.gate == Gate.AWAITING_APPROVAL
            _event(
                rollout,
                RolloutEvent.Kind.GATE_PASSED,
                f"{item.succeeded} of {item.active} active hosts of the {ring.name} ring succeeded after the soak time"
                + ("; the next ring waits for an approver." if waits else "."),
                ring=ring,
            )
            if waits:
                transaction.on_commit(lambda: notifications.notify_gate_waits(rollout))
        next_ring = progress[index + 1].ring if index + 1 < len(progress) else None
        if next_ring is None:
            if Rollout.objects.filter(pk=rollout.pk, state=Rollout.State.RUNNING).update(
                state=Rollout.State.COMPLETED, finished_at=now
            ):
                rollout.state = Rollout.State.COMPLETED
                _event(rollout, RolloutEvent.Kind.COMPLETED, "Every ring passed its gate.")
                audit_record(action="rollout.complete", actor_label="beat", obj=rollout, message="every ring passed")
                done.append("completed")
        elif item.gate == Gate.OPEN and _request_move(next_ring):
            done.append(f"moving {next_ring.name}")
    return done


def rollouts_evaluate(*, now: datetime | None = None) -> dict[int, list[str]]:
    """Evaluate the gates of every running or paused rollout (a constant number of queries per rollout)."""
    rollouts = Rollout.objects.filter(state__in=[Rollout.State.RUNNING, Rollout.State.PAUSED]).select_related(
        "stage", "commit", "previous_commit", "promotion"
    )
    results: dict[int, list[str]] = {}
    for rollout in rollouts:
        with transaction.atomic():
            results[rollout.pk] = rollout_evaluate(rollout=rollout, now=now)
    return results


# ------------------------------------------------------------------------------------------------- approvers


def _locked(rollout: Rollout) -> Rollout:
    return Rollout.objects.select_for_update().select_related("stage", "commit", "promotion").get(pk=rollout.pk)


def _halt(rollout: Rollout, *, reason: str, actor: Any) -> bool:
    """Halt ``rollout`` (no further ref moves), notify the approvers and audit; False when it was not active."""
    now = timezone.now()
    won = Rollout.objects.filter(pk=rollout.pk, state__in=[Rollout.State.RUNNING, Rollout.State.PAUSED]).update(
        state=Rollout.State.HALTED, halted_at=now, halt_reason=reason
    )
    if not won:
        return False
    rollout.state, rollout.halted_at, rollout.halt_reason = Rollout.State.HALTED, now, reason
    # A move not started yet does not happen; one under way finishes (the worker checks under the repo lock).
    rollout.rings.filter(state=RolloutRing.State.MOVING).update(state=RolloutRing.State.WAITING)
    _event(rollout, RolloutEvent.Kind.HALTED, reason, actor=actor)
    audit_record(
        action="rollout.halt",
        actor=actor,
        actor_label="" if actor else "gate",
        obj=rollout,
        message=reason,
        data={"commit": rollout.commit.checksum},
    )
    transaction.on_commit(lambda: notifications.notify_halted(rollout))
    return True


def rollout_halt(*, user: Any, rollout: Rollout, reason: str) -> Rollout:
    """Stop the rollout at once: no ring moves until an approver resumes it."""
    _require_manager(user)
    if not reason.strip():
        raise RolloutError("Say why you halt the rollout.")
    with transaction.atomic():
        rollout = _locked(rollout)
        if rollout.state not in (Rollout.State.RUNNING, Rollout.State.PAUSED):
            raise RolloutConflict(f"Rollout #{rollout.pk} is {rollout.state}; only a running or paused one can halt.")
        _halt(rollout, reason=f"Halted by {user}: {reason.strip()}", actor=user)
    return rollout


def rollout_pause(*, user: Any, rollout: Rollout, reason: str = "") -> Rollout:
    """Hold the rollout where it is: gates are still shown, no ring moves (a failure still halts it)."""
    _require_manager(user)
    with transaction.atomic():
        rollout = _locked(rollout)
        if rollout.state != Rollout.State.RUNNING:
            raise RolloutConflict(f"Rollout #{rollout.pk} is {rollout.state}; only a running rollout can be paused.")
        Rollout.objects.filter(pk=rollout.pk).update(state=Rollout.State.PAUSED)
        rollout.state = Rollout.State.PAUSED
        rollout.rings.filter(state=RolloutRing.State.MOVING).update(state=RolloutRing.State.WAITING)
        _event(rollout, RolloutEvent.Kind.PAUSED, reason.strip() or "Paused.", actor=user)
        audit_record(action="rollout.pause", actor=user, obj=rollout, message=reason.strip())
    return rollout


def rollout_resume(*, user: Any, rollout: Rollout, reason: str = "") -> Rollout:
    """Let a paused or halted rollout go on. After a halt, the failures seen so far are accepted: only new ones halt."""
    _require_manager(user)
    with transaction.atomic():
        rollout = _locked(rollout)
        if rollout.state not in (Rollout.State.PAUSED, Rollout.State.HALTED):
            raise RolloutConflict(f"Rollout #{rollout.pk} is {rollout.state}; only a paused or halted one can resume.")
        accepted = ""
        if rollout.state == Rollout.State.HALTED:
            if not reason.strip():
                raise RolloutError("Say why the rollout may go on after its halt.")
            failed = {item.ring.pk: item.failed for item in ring_progress(rollout)}
            for ring_pk, count in failed.items():
                RolloutRing.objects.filter(pk=ring_pk).update(accepted_failures=count)
            accepted = f" ({sum(failed.values())} failed host(s) accepted)"
        Rollout.objects.filter(pk=rollout.pk).update(state=Rollout.State.RUNNING, halted_at=None)
        rollout.state = Rollout.State.RUNNING
        _event(rollout, RolloutEvent.Kind.RESUMED, (reason.strip() or "Resumed.") + accepted, actor=user)
        audit_record(action="rollout.resume", actor=user, obj=rollout, message=reason.strip() + accepted)
    return rollout


def rollout_advance(*, user: Any, rollout: Rollout, reason: str, ring_name: str | None = None) -> RolloutRing:
    """Move the next ring now, before (or without) its gate opening; ``ring_name`` guards against double clicks."""
    _require_manager(user)
    if not reason.strip():
        raise RolloutError("Advancing early needs a written reason.")
    with transaction.atomic():
        rollout = _locked(rollout)
        if rollout.state == Rollout.State.HALTED:
            raise RolloutConflict(f"Rollout #{rollout.pk} is halted: resume it (saying why) before advancing.")
        if rollout.state != Rollout.State.RUNNING:
            raise RolloutConflict(f"Rollout #{rollout.pk} is {rollout.state}; only a running rollout can advance.")
        rings = list(rollout.rings.order_by("order"))
        if ring_name is not None and ring_name not in {ring.name for ring in rings}:
            names = ", ".join(ring.name for ring in rings)
            raise RolloutError(f"Rollout #{rollout.pk} has no ring {ring_name!r} (its rings: {names}).")
        waiting = [ring for ring in rings if ring.state == RolloutRing.State.WAITING]
        if not waiting:
            raise RolloutConflict(f"Every ring of rollout #{rollout.pk} already has the commit (or is getting it).")
        target = waiting[0]
        if ring_name is not None and ring_name != target.name:
            chosen = next(ring for ring in rings if ring.name == ring_name)
            if chosen.state != RolloutRing.State.WAITING:
                raise RolloutConflict(f"The {ring_name} ring already has the commit (or is getting it).")
            raise RolloutError(f"The {target.name} ring comes before {ring_name}: rings move in order.")
        before = [ring for ring in rings if ring.order < target.order]
        if any(ring.state == RolloutRing.State.MOVING for ring in before):
            raise RolloutConflict(f"The ring before {target.name} is still being moved; advance once it has moved.")
        if not _request_move(target, actor=user, reason=reason.strip()):
            raise RolloutConflict(f"The {target.name} ring is already moving.")
        _event(
            rollout,
            RolloutEvent.Kind.ADVANCED,
            f"{target.name} advanced early: {reason.strip()}",
            ring=target,
            actor=user,
        )
        audit_record(
            action="rollout.advance",
            actor=user,
            obj=rollout,
            message=f"{target.name}: {reason.strip()}",
            data={"ring": target.name},
        )
        target.refresh_from_db()
    return target


def rollout_rollback(*, user: Any, rollout: Rollout, comment: str = "") -> list[Promotion]:
    """Request the forward rollback of every ring a halted rollout moved, through the usual rollback approval.

    Once the last ring moved (and with it the stage ref), one rollback of the stage ref covers every ring; before,
    one rollback per moved ring ref restores the tree the stage ref still holds.
    """
    from kinoite_portal.releases.services.rollbacks import rollback_request

    if rollout.state != Rollout.State.HALTED:
        raise RolloutConflict(f"Rollout #{rollout.pk} is {rollout.state}: halt it before rolling its rings back.")
    previous = rollout.previous_commit
    if previous is None:
        raise RolloutError(f"Rollout #{rollout.pk} has no earlier commit to go back to (it was the first publication).")
    moved = list(rollout.rings.filter(state=RolloutRing.State.MOVED).order_by("order"))
    if not moved:
        raise RolloutConflict(f"No ring of rollout #{rollout.pk} has moved; there is nothing to roll back.")
    refs = [rollout.stage_ref] if moved[-1].is_last else [ring.ref for ring in moved]
    text = comment.strip() or f"Rollout #{rollout.pk} halted: {rollout.halt_reason}"
    requested: list[Promotion] = []
    try:
        with transaction.atomic():
            for ref in refs:
                requested.append(
                    rollback_request(
                        user=user,
                        checksum=previous.checksum,
                        stage=rollout.stage,
                        ref_name=ref,
                        history_ref=rollout.stage_ref,
                        comment=text,
                    )
                )
    except PromotionError as exc:
        raise RolloutError(str(exc)) from exc
    return requested
