"""Promotions: requesting one, cancelling it, and carrying it out on the repo host (DESIGN.md section 5).

What is the same for every kind of stage lives here: the request and its policy, the claim under the stage lock,
failure, audit and notifications. How a candidate is found and how the run copies, signs and publishes it is the
stage kind's (``releases.stage_kinds``: ostree repos and OCI registries side by side). Every step is safe to
repeat: a worker killed at any point leaves the ref (or tag) on the old or the new commit, and the next attempt
finishes the job.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from kinoite_portal.core.audit import audit_record
from kinoite_portal.ostree import CommandError, LockTimeout, OstreeError, validate_checksum
from kinoite_portal.ostree.errors import InvalidChecksum
from kinoite_portal.releases import notifications, rules, selectors
from kinoite_portal.releases.errors import PromotionConflict, PromotionError, PublishIncomplete
from kinoite_portal.releases.models import Commit, Promotion, Ref, Stage, Treefile
from kinoite_portal.releases.publishing import promotion_published
from kinoite_portal.releases.services.approvals import policy_refresh
from kinoite_portal.releases.services.diffs import tree_diffs_for_request
from kinoite_portal.releases.services.joblog import JobLog
from kinoite_portal.releases.services.stages import stage_repo_lock
from kinoite_portal.releases.stage_kinds import kind_of
from kinoite_portal.releases.stage_kinds.base import LOCK_TIMEOUT


def _stages(target_stage: Stage | None) -> tuple[Stage, Stage]:
    if target_stage is None:
        source = Stage.objects.order_by("order").first()
        target = source.next_stage() if source is not None else None
    else:
        target = target_stage
        source = target.previous_stage()
    if source is None or target is None:
        raise PromotionError("Promotion needs two stages (dev and prod); add them in the admin.")
    return source, target


def promotion_request(
    *,
    user: Any,
    checksum: str,
    target_stage: Stage | None = None,
    treefile: Treefile | None = None,
    comment: str = "",
    expedited: bool = False,
    expedite_reason: str = "",
    via: str = "web",
) -> Promotion:
    """Ask to publish one commit (by checksum) in the next stage; it then waits for approval."""
    if not user.has_perm("releases.request_promotion"):
        raise PromotionError("You may not request promotions (release engineers only).")
    try:
        checksum = validate_checksum(checksum.strip().removeprefix("sha256:"))
    except (InvalidChecksum, AttributeError):
        raise PromotionError(f"{checksum!r} is not a full 64-hex commit checksum; promotions go by checksum.") from None
    if expedited and not expedite_reason.strip():
        raise PromotionError("An expedited request needs a written reason.")
    source_stage, target_stage = _stages(target_stage)
    if source_stage.kind != target_stage.kind:
        raise PromotionError(
            f"{source_stage.name} is an {source_stage.get_kind_display()} and {target_stage.name} an "
            f"{target_stage.get_kind_display()}: a promotion copies within one kind of stage."
        )
    steps = kind_of(target_stage)
    steps.require(target_stage)
    commit = steps.candidate(stage=source_stage, checksum=checksum)
    if treefile is None:
        owners = selectors.treefiles_owning(selectors.commit_ref_names(commit, stage=source_stage))
        if len(owners) > 1:
            names = ", ".join(t.name for t in owners)
            raise PromotionError(f"This commit is on the refs of several treefiles ({names}); say which one it is.")
        treefile = owners[0] if owners else None
    if treefile is None:
        raise PromotionError("No treefile composes to a ref holding this commit; say which treefile it belongs to.")
    target_ref = treefile.published_ref
    steps.request_check(stage=target_stage, ref=target_ref, commit=commit)
    with transaction.atomic():
        open_one = (
            Promotion.objects.select_for_update()
            .filter(commit=commit, target_stage=target_stage, state__in=Promotion.OPEN_STATES)
            .first()
        )
        if open_one is not None:
            raise PromotionConflict(f"Promotion #{open_one.pk} of this commit is already open ({open_one.state}).")
        promotion = Promotion.objects.create(
            kind=Promotion.Kind.PROMOTE,
            treefile=treefile,
            commit=commit,
            source_stage=source_stage,
            target_stage=target_stage,
            target_ref=target_ref,
            requested_by=user,
            comment=comment.strip(),
            expedited=expedited,
            expedite_reason=expedite_reason.strip() if expedited else "",
        )
        policy_refresh(promotion)
        tree_diffs_for_request(promotion)
        audit_record(
            action="promotion.request",
            actor=user,
            obj=promotion,
            message=f"Requested {commit.version or checksum[:10]} -> {target_stage.name}:{target_ref}"
            + (f" (expedited: {promotion.expedite_reason})" if expedited else "")
            + (f": {promotion.comment}" if promotion.comment else ""),
            data={"checksum": checksum, "via": via, "expedited": expedited},
        )
        transaction.on_commit(lambda: notifications.notify_approvers(promotion))
    return promotion


def promotion_cancel(*, user: Any, promotion: Promotion, comment: str = "") -> Promotion:
    """Withdraw a request that has not started running (the requester or a release engineer)."""
    refusal = rules.cancel_refusal(user=user, promotion=promotion)
    if refusal is not None:
        raise refusal
    with transaction.atomic():
        won = Promotion.objects.filter(pk=promotion.pk, state__in=rules.CANCELLABLE_STATES).update(
            state=Promotion.State.CANCELLED, finished_at=timezone.now()
        )
        promotion.refresh_from_db()
        if not won:  # it started running (or ended) since the page was read
            refusal = rules.cancel_refusal(user=user, promotion=promotion)
            raise refusal or PromotionConflict(f"Promotion #{promotion.pk} can no longer be cancelled.")
        audit_record(action="promotion.cancel", actor=user, obj=promotion, message=comment.strip())
    return promotion


# ---------------------------------------------------------------------------------------------- the worker side


def _finish(promotion: Promotion, state: str, **fields: Any) -> bool:
    return bool(
        Promotion.objects.filter(pk=promotion.pk, state=Promotion.State.RUNNING).update(
            state=state, finished_at=timezone.now(), **fields
        )
    )


def _run_queryset() -> QuerySet[Promotion]:
    """Return promotions with what a run reads, for the first read and every refresh (a plain refresh_from_db
    forgets the related rows, and reading them again one by one brings their package lists along)."""
    commits = ("commit", "previous_head", "published_commit")
    # The run reads the commits' checksums, dates and bindings; their package lists stay in the database.
    return Promotion.objects.select_related(
        *commits, "source_stage", "target_stage", "target_stage__signing_key"
    ).defer(*(name for relation in commits for name in selectors.without_heavy(relation)))


def promotion_run(*, promotion_id: int) -> Promotion:
    """Carry out a queued promotion or rollback; return early when it is already past that state."""
    promotion = _run_queryset().get(pk=promotion_id)
    if promotion.state not in (Promotion.State.QUEUED, Promotion.State.RUNNING):
        return promotion
    target_stage = promotion.target_stage
    steps = kind_of(target_stage)
    with stage_repo_lock(target_stage, timeout=LOCK_TIMEOUT):
        # Claimed under the lock: "running" with the lock free therefore means the worker died (see requeue below).
        # A resumed run keeps the time the first attempt started.
        claimed = Promotion.objects.filter(
            pk=promotion.pk, state__in=[Promotion.State.QUEUED, Promotion.State.RUNNING]
        ).update(state=Promotion.State.RUNNING, started_at=Coalesce(F("started_at"), Value(timezone.now())))
        promotion.refresh_from_db(from_queryset=_run_queryset())
        if not claimed:
            return promotion
        log = JobLog(Promotion, promotion.pk)
        if promotion.log:
            log.write(f"# {timezone.now():%Y-%m-%d %H:%M:%S} resuming: an earlier attempt stopped before finishing")
        else:
            log.write(
                f"# {timezone.now():%Y-%m-%d %H:%M:%S} {promotion.kind} #{promotion.pk} of "
                f"{promotion.commit.checksum} to {target_stage.name}:{promotion.publish_ref}"
            )
        try:
            published_checksum, recommit = steps.publish(promotion=promotion, log=log)
        except PublishIncomplete as exc:
            log.write(f"! {exc}; the remaining steps will be retried")
            steps.record_published(promotion=promotion, checksum=exc.published, recommit=exc.recommit)
            audit_record(
                action="promotion.incomplete",
                actor_label="worker",
                obj=promotion,
                message=str(exc),
                commands=log.commands,
            )
            raise
        except LockTimeout:
            log.write("! the repo is busy (lock held by another job); the task will retry")
            raise
        except (OstreeError, PromotionError) as exc:
            reason = str(exc) if not isinstance(exc, CommandError) else f"{exc} (see the log)"
            log.write(f"! failed: {reason}")
            _finish(promotion, Promotion.State.FAILED, failure_reason=reason[:500])
            promotion.refresh_from_db(from_queryset=_run_queryset())
            audit_record(
                action="promotion.failed", actor_label="worker", obj=promotion, message=reason, commands=log.commands
            )
            notifications.notify_requester(promotion, "failed", reason)
            return promotion
        with transaction.atomic():
            published = steps.record_published(promotion=promotion, checksum=published_checksum, recommit=recommit)
            log.write(f"# done: {target_stage.name}:{promotion.publish_ref} -> {published.checksum}")
            won = _finish(promotion, Promotion.State.SUCCEEDED, published_commit=published)
            promotion.refresh_from_db(from_queryset=_run_queryset())
            if won:
                audit_record(
                    action="promotion.run",
                    actor_label="worker",
                    obj=promotion,
                    message=f"{target_stage.name}:{promotion.publish_ref} "
                    f"{promotion.previous_head.checksum[:10] if promotion.previous_head else '(new)'} -> "
                    f"{published.checksum[:10]}"
                    + (f" (re-commit of {promotion.commit.checksum[:10]})" if recommit else ""),
                    commands=log.commands,
                    data={
                        "published": published.checksum,
                        "commit": promotion.commit.checksum,
                        "previous": promotion.previous_head.checksum if promotion.previous_head else None,
                        "recommit": recommit,
                        "bound_refs": promotion.bound_refs,
                    },
                )
                promotion_published.send(sender=Promotion, promotion=promotion)
                transaction.on_commit(lambda: notifications.notify_requester(promotion, "done"))
                steps.after_publish(promotion=promotion)
    return promotion


def promotion_target_head(promotion: Promotion) -> Commit | None:
    """Return the commit the target ref points at now, as the database knows it."""
    ref = Ref.objects.filter(stage=promotion.target_stage, name=promotion.target_ref).select_related("head").first()
    return ref.head if ref is not None else None
