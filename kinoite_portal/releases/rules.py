"""Who may vote on or cancel a promotion: the one statement of each rule.

The services enforce them (raising the returned error) and the pages ask the same functions through the selectors
(``promotion_can_vote``/``promotion_can_cancel``), so a button is offered exactly when the click would be accepted.
"""

from __future__ import annotations

from typing import Any

from kinoite_portal.releases.errors import PromotionConflict, PromotionError
from kinoite_portal.releases.models import Promotion

APPROVE_PERMISSION = "releases.approve_promotion"
CANCEL_ANY_PERMISSION = "releases.change_promotion"
CANCELLABLE_STATES = (Promotion.State.REQUESTED, Promotion.State.APPROVED, Promotion.State.QUEUED)


def vote_refusal(*, user: Any, promotion: Promotion, already_voted: bool) -> PromotionError | None:
    """Return why ``user`` may not vote on ``promotion`` now, or None when the vote would count."""
    if not user.has_perm(APPROVE_PERMISSION):
        return PromotionError("Only members of the approvers group may approve or reject promotions.")
    if promotion.state != Promotion.State.REQUESTED:
        return PromotionConflict(f"Promotion #{promotion.pk} is already {promotion.state}; votes are closed.")
    if user.pk == promotion.requested_by_id:
        return PromotionError("You requested this promotion: four eyes, so your own vote does not count.")
    if already_voted:
        return PromotionConflict(f"You already voted on promotion #{promotion.pk}.")
    return None


def cancel_refusal(*, user: Any, promotion: Promotion) -> PromotionError | None:
    """Return why ``user`` may not cancel ``promotion`` now, or None: the requester or a release engineer may,
    until it starts running."""
    if user.pk != promotion.requested_by_id and not user.has_perm(CANCEL_ANY_PERMISSION):
        return PromotionError("Only the requester or a release engineer may cancel a promotion.")
    if promotion.state not in CANCELLABLE_STATES:
        return PromotionConflict(f"Promotion #{promotion.pk} is {promotion.state} and can no longer be cancelled.")
    return None
