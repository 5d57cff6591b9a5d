"""Who may vote or cancel: the page offers a button exactly when the service would accept the click."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from kinoite_portal.core import roles
from kinoite_portal.releases import selectors
from kinoite_portal.releases.errors import PromotionError
from kinoite_portal.releases.models import Promotion
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.promotions import promotion_cancel, promotion_request
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


class _Undo(Exception):
    pass


def _accepted(action: Callable[..., Promotion], user: Any, promotion: Promotion) -> bool:
    """Return whether the service accepts ``action`` by ``user``, then undo whatever it wrote."""
    try:
        with transaction.atomic():
            action(user=user, promotion=Promotion.objects.get(pk=promotion.pk), comment="")
            raise _Undo
    except _Undo:
        return True
    except PromotionError:
        return False


def test_it_offers_vote_and_cancel_exactly_when_the_services_accept_them(
    make_dev_commit, release_engineer, approver, second_approver, department_head, admin_user
) -> None:
    commit = make_dev_commit("41.20261125.0", days_in_dev=1)  # the policy's 7 days keep it open after a vote
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)
    other_engineer = make_user("erik", roles.RELEASE_ENGINEERS)
    approval_grant(user=second_approver, promotion=promotion, comment="")
    promotion.refresh_from_db()
    assert promotion.state == Promotion.State.REQUESTED

    offered = {}
    accepted = {}
    for user in (release_engineer, other_engineer, approver, second_approver, department_head, admin_user):
        offered[user.username] = (
            selectors.promotion_can_vote(user, promotion),
            selectors.promotion_can_cancel(user, promotion),
        )
        accepted[user.username] = (
            _accepted(approval_grant, user, promotion),
            _accepted(promotion_cancel, user, promotion),
        )

    assert offered == accepted
    assert offered["alice"] == (True, False)  # an approver who has not voted yet
    assert offered["arne"] == (False, False)  # already voted
    assert offered["rita"] == (False, True)  # the requester: no vote of her own, but she may withdraw it
    assert offered["dora"] == (False, False)


def test_it_offers_nothing_once_the_promotion_has_ended(make_dev_commit, release_engineer, approver) -> None:
    promotion = promotion_request(user=release_engineer, checksum=make_dev_commit("41.20261125.0").checksum)
    promotion_cancel(user=release_engineer, promotion=promotion)

    assert not selectors.promotion_can_vote(approver, promotion)
    assert not selectors.promotion_can_cancel(release_engineer, promotion)
    assert not _accepted(approval_grant, approver, promotion)
    assert not _accepted(promotion_cancel, release_engineer, promotion)
