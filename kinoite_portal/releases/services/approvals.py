"""Votes on promotions under the policy of DESIGN.md section 6, race-safe: one promotion run whatever happens."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from kinoite_portal.core.audit import audit_record
from kinoite_portal.releases import notifications, selectors
from kinoite_portal.releases.errors import PromotionConflict, PromotionError
from kinoite_portal.releases.models import Approval, Promotion
from kinoite_portal.releases.rules import APPROVE_PERMISSION, vote_refusal
from kinoite_portal.releases.services.policy import PolicyInput, PolicyResult, Vote, policy_evaluate
from kinoite_portal.releases.services.queueing import task_send_on_commit


def days_in_source(promotion: Promotion) -> float:
    """Return how long the commit has been in the source stage (since its first ref move there)."""
    since = selectors.in_source_since([promotion])[promotion.pk]
    return max(0.0, (timezone.now() - since).total_seconds() / 86400)


def policy_input(promotion: Promotion, *, votes: list[Approval] | None = None) -> PolicyInput:
    """Collect what the policy needs from a promotion and its votes (``votes``: read already, with their users)."""
    stage = promotion.target_stage
    if votes is None:
        votes = list(promotion.approvals.select_related("user"))
    counted = [
        Vote(
            user_id=a.user_id,
            username=a.user.get_username(),
            decision=a.decision,
            is_approver=a.user.has_perm(APPROVE_PERMISSION),
        )
        for a in votes
    ]
    return PolicyInput(
        kind=promotion.kind,
        requester_id=promotion.requested_by_id,
        votes=counted,
        days_in_source=days_in_source(promotion),
        source_stage=promotion.source_stage.name,
        required_approvals=stage.required_approvals,
        min_days=stage.min_days_in_previous_stage,
        expedited=promotion.expedited,
        expedite_reason=promotion.expedite_reason,
        expedite_extra_approvals=stage.expedite_extra_approvals,
        rollback_required_approvals=stage.rollback_required_approvals,
    )


def promotion_policy(promotion: Promotion, *, votes: list[Approval] | None = None) -> PolicyResult:
    """Return the policy outcome for a promotion as things stand now (``votes``: its votes, read already)."""
    return policy_evaluate(policy_input(promotion, votes=votes))


def policy_refresh(promotion: Promotion) -> PolicyResult:
    """Evaluate the policy and store the outcome on the promotion (what the decision rested on)."""
    result = promotion_policy(promotion)
    Promotion.objects.filter(pk=promotion.pk).update(policy=result.as_dict())
    promotion.policy = result.as_dict()
    return result


def _queue_if_satisfied(promotion: Promotion, result: PolicyResult) -> bool:
    if not result.satisfied:
        return False
    now = timezone.now()
    # The row count decides who won: two approvers at once, or a double click, queue exactly one run.
    won = Promotion.objects.filter(pk=promotion.pk, state=Promotion.State.REQUESTED).update(
        state=Promotion.State.QUEUED, approved_at=now, queued_at=now, policy=result.as_dict()
    )
    if won:
        task_send_on_commit("releases.promotion_run", promotion)
        promotion.refresh_from_db()
        audit_record(action="promotion.queue", actor_label="policy", obj=promotion, message="All conditions met.")
        transaction.on_commit(lambda: notifications.notify_requester(promotion, "approved", "It is queued to run."))
    return bool(won)


def _vote(*, user: Any, promotion: Promotion, decision: str, comment: str) -> Promotion:
    with transaction.atomic():
        locked = (
            Promotion.objects.select_for_update()
            .select_related("target_stage", "source_stage", "commit")
            .get(pk=promotion.pk)
        )
        voted = Approval.objects.filter(promotion=locked, user_id=user.pk).exists()
        refusal = vote_refusal(user=user, promotion=locked, already_voted=voted)
        if refusal is not None:
            raise refusal
        if decision == Approval.Decision.REJECT and not comment.strip():
            raise PromotionError("Say why you reject it: a reject needs a comment.")
        try:
            with transaction.atomic():
                Approval.objects.create(promotion=locked, user=user, decision=decision, comment=comment.strip())
        except IntegrityError:  # a second vote of the same user at the same moment
            raise PromotionConflict(f"You already voted on promotion #{locked.pk}.") from None
        audit_record(
            action=f"promotion.{decision}",
            actor=user,
            obj=locked,
            message=comment.strip(),
            data={"checksum": locked.commit.checksum},
        )
        result = policy_refresh(locked)
        if result.rejected:
            won = Promotion.objects.filter(pk=locked.pk, state=Promotion.State.REQUESTED).update(
                state=Promotion.State.REJECTED, finished_at=timezone.now()
            )
            if won:
                locked.refresh_from_db()
                transaction.on_commit(
                    lambda: notifications.notify_requester(locked, "rejected", f"{user}: {comment.strip()}")
                )
        else:
            _queue_if_satisfied(locked, result)
        locked.refresh_from_db()
    return locked


def approval_grant(*, user: Any, promotion: Promotion, comment: str = "") -> Promotion:
    """Record an approval; queue the run once every condition of the policy is met."""
    return _vote(user=user, promotion=promotion, decision=Approval.Decision.APPROVE, comment=comment)


def approval_reject(*, user: Any, promotion: Promotion, comment: str = "") -> Promotion:
    """Record a reject, which ends the request."""
    return _vote(user=user, promotion=promotion, decision=Approval.Decision.REJECT, comment=comment)


def promotion_reevaluate_waiting() -> list[int]:
    """Queue requests whose last missing condition was time (the minimum days in the source stage)."""
    queued = []
    for promotion in Promotion.objects.filter(state=Promotion.State.REQUESTED).select_related(
        "target_stage", "source_stage", "commit"
    ):
        with transaction.atomic():
            result = policy_refresh(promotion)
            if _queue_if_satisfied(promotion, result):
                queued.append(promotion.pk)
    return queued
