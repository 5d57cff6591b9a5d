"""Promotion emails really go out (Django's locmem backend via pytest-django's ``mailoutbox``), to the right people."""

from __future__ import annotations

import shutil

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.urls import reverse

from kinoite_portal.core import roles
from kinoite_portal.releases.models import Promotion
from kinoite_portal.releases.services.approvals import approval_grant, approval_reject
from kinoite_portal.releases.services.promotions import promotion_cancel, promotion_request, promotion_run
from kinoite_portal.releases.services.rollbacks import rollback_request
from tests.releases.conftest import REF_STABLE

pytestmark = pytest.mark.django_db(transaction=True)


def url(promotion: Promotion) -> str:
    return settings.PORTAL_PUBLIC_URL.rstrip("/") + reverse("releases:promotion_detail", args=[promotion.pk])


def recipients(mailoutbox) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(address for mail in mailoutbox for address in mail.to)


def assert_names_the_promotion(mail, promotion: Promotion) -> None:  # type: ignore[no-untyped-def]
    text = mail.subject + "\n" + mail.body
    assert promotion.commit.version in text
    assert promotion.target_stage.name in text
    assert url(promotion) in mail.body


def test_approvers_each_get_one_mail_when_a_request_needs_them(
    make_dev_commit, release_engineer, approver, second_approver, department_head, mailoutbox
) -> None:
    commit = make_dev_commit("41.20261125.0")

    promotion = promotion_request(user=release_engineer, checksum=commit.checksum, comment="pilot ring is green")

    assert recipients(mailoutbox) == ["alice@example.com", "arne@example.com"]
    assert all(len(mail.to) == 1 for mail in mailoutbox)  # one each: they do not see each other's addresses
    mail = mailoutbox[0]
    assert mail.subject == f"[Kinoite Portal] Approval needed: Promotion #{promotion.pk}: 41.20261125.0 to prod"
    assert_names_the_promotion(mail, promotion)
    assert commit.checksum in mail.body
    assert REF_STABLE in mail.body
    assert "pilot ring is green" in mail.body
    assert mail.from_email == settings.DEFAULT_FROM_EMAIL


def test_a_requester_who_is_also_an_approver_gets_no_mail_for_their_own_request(
    make_dev_commit, release_engineer, approver, mailoutbox
) -> None:
    release_engineer.groups.add(Group.objects.get(name=roles.APPROVERS))
    commit = make_dev_commit("41.20261125.0")

    promotion_request(user=release_engineer, checksum=commit.checksum)

    assert recipients(mailoutbox) == ["alice@example.com"]


def test_the_requester_gets_a_mail_when_it_is_approved_and_the_approver_gets_none(
    make_dev_commit, release_engineer, approver, mailoutbox
) -> None:
    promotion = promotion_request(user=release_engineer, checksum=make_dev_commit("41.20261125.0").checksum)
    mailoutbox.clear()

    promotion = approval_grant(user=approver, promotion=promotion, comment="looks good")

    assert promotion.state == Promotion.State.QUEUED
    assert recipients(mailoutbox) == ["rita@example.com"]
    assert mailoutbox[0].subject.endswith(" approved")
    assert_names_the_promotion(mailoutbox[0], promotion)


def test_no_mail_goes_out_for_a_vote_that_does_not_decide_yet(
    make_dev_commit, release_engineer, approver, second_approver, mailoutbox
) -> None:
    promotion = promotion_request(
        user=release_engineer,
        checksum=make_dev_commit("41.20261125.0", days_in_dev=1).checksum,
        expedited=True,
        expedite_reason="CVE fix",
    )
    mailoutbox.clear()

    promotion = approval_grant(user=approver, promotion=promotion)

    assert promotion.state == Promotion.State.REQUESTED  # expedited: one more approval needed
    assert mailoutbox == []
    approval_grant(user=second_approver, promotion=promotion)
    assert recipients(mailoutbox) == ["rita@example.com"]


def test_the_requester_gets_the_reject_with_its_reason(make_dev_commit, release_engineer, approver, mailoutbox) -> None:
    promotion = promotion_request(user=release_engineer, checksum=make_dev_commit("41.20261125.0").checksum)
    mailoutbox.clear()

    promotion = approval_reject(user=approver, promotion=promotion, comment="breaks the VPN client")

    assert promotion.state == Promotion.State.REJECTED
    assert recipients(mailoutbox) == ["rita@example.com"]
    assert mailoutbox[0].subject.endswith(" rejected")
    assert "alice: breaks the VPN client" in mailoutbox[0].body
    assert_names_the_promotion(mailoutbox[0], promotion)


def test_the_requester_gets_a_mail_when_it_is_done_naming_what_prod_publishes(
    stages, make_dev_commit, release_engineer, approver, mailoutbox
) -> None:
    commit = make_dev_commit("41.20261125.0")
    promotion = approval_grant(
        user=approver, promotion=promotion_request(user=release_engineer, checksum=commit.checksum)
    )
    mailoutbox.clear()

    promotion = promotion_run(promotion_id=promotion.pk)  # the worker's side, in-process on real repos

    assert promotion.state == Promotion.State.SUCCEEDED, promotion.log
    assert recipients(mailoutbox) == ["rita@example.com"]
    mail = mailoutbox[0]
    assert mail.subject.endswith(" done")
    assert f"prod:{REF_STABLE} now points at 41.20261125.0 ({commit.checksum})" in mail.body
    assert_names_the_promotion(mail, promotion)


def test_the_requester_gets_a_mail_when_it_fails_with_the_reason(
    stages, make_dev_commit, release_engineer, approver, mailoutbox
) -> None:
    commit = make_dev_commit("41.20261125.0")
    promotion = approval_grant(
        user=approver, promotion=promotion_request(user=release_engineer, checksum=commit.checksum)
    )
    shutil.rmtree(stages["dev"].repo_dir)  # the dev repo vanished before the worker ran
    mailoutbox.clear()

    promotion = promotion_run(promotion_id=promotion.pk)

    assert promotion.state == Promotion.State.FAILED
    assert recipients(mailoutbox) == ["rita@example.com"]
    assert mailoutbox[0].subject.endswith(" failed")
    assert "has no ostree repo" in mailoutbox[0].body
    assert_names_the_promotion(mailoutbox[0], promotion)


def test_nobody_gets_mail_when_the_requester_cancels_their_own_request(
    make_dev_commit, release_engineer, approver, mailoutbox
) -> None:
    promotion = promotion_request(user=release_engineer, checksum=make_dev_commit("41.20261125.0").checksum)
    mailoutbox.clear()

    promotion_cancel(user=release_engineer, promotion=promotion)

    assert mailoutbox == []


def test_a_refused_request_sends_nothing(make_dev_commit, release_engineer, approver, mailoutbox) -> None:
    make_dev_commit("41.20261125.0")

    with pytest.raises(Exception, match="not in the dev repo"):
        promotion_request(user=release_engineer, checksum="0" * 64)

    assert mailoutbox == []


def test_approvers_get_a_mail_for_a_rollback_request(
    stages, make_dev_commit, release_engineer, approver, second_approver, mailoutbox
) -> None:
    v1 = make_dev_commit("41.20261120.0")
    v2 = make_dev_commit("41.20261121.0", bash="5.2.33")
    for commit in (v1, v2):
        promotion = promotion_request(user=release_engineer, checksum=commit.checksum)
        promotion_run(promotion_id=approval_grant(user=approver, promotion=promotion).pk)
    mailoutbox.clear()

    rollback = rollback_request(user=release_engineer, checksum=v1.checksum, comment="v2 breaks printing")

    assert recipients(mailoutbox) == ["alice@example.com", "arne@example.com"]
    mail = mailoutbox[0]
    assert mail.subject == f"[Kinoite Portal] Approval needed: Rollback #{rollback.pk}: 41.20261120.0 to prod"
    assert_names_the_promotion(mail, rollback)
