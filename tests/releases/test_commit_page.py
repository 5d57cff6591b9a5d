"""The commit page: metadata, package and file changes against prod, promotions, and the request forms."""

from __future__ import annotations

import pytest

from kinoite_portal.releases.models import Promotion
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.promotions import promotion_request, promotion_run

pytestmark = pytest.mark.django_db(transaction=True)


def promote(commit, release_engineer, approver):  # type: ignore[no-untyped-def]
    p = approval_grant(user=approver, promotion=promotion_request(user=release_engineer, checksum=commit.checksum))
    return promotion_run(promotion_id=p.pk)


def test_it_shows_package_and_file_changes_against_the_prod_head(
    stages, make_dev_commit, release_engineer, approver, client_for
):
    v1 = make_dev_commit("41.20261125.0", extra=("htop",))
    promote(v1, release_engineer, approver)
    v2 = make_dev_commit("41.20261126.0", bash="5.2.37", extra=("git",))

    page = client_for(release_engineer).get(f"/releases/commits/{v2.checksum}/").content.decode()

    assert v2.checksum in page
    assert v2.content_checksum in page
    assert "upgraded" in page
    assert "5.2.32-1.fc41" in page
    assert "5.2.37-1.fc41" in page
    assert "added" in page
    assert "git" in page
    assert "removed" in page
    assert "htop" in page
    # ostree diff: the new package's file and listing added, htop's removed, bash's listing and os-release modified.
    assert "2 added" in page
    assert "2 removed" in page
    assert "Request promotion" in page


def test_a_release_engineer_requests_a_promotion_from_the_page(stages, make_dev_commit, release_engineer, client_for):
    commit = make_dev_commit("41.20261125.0", days_in_dev=1)

    response = client_for(release_engineer).post(
        f"/releases/commits/{commit.checksum}/promote",
        {"comment": "pilots fine", "expedited": "on", "expedite_reason": "security fix"},
    )

    promotion = Promotion.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/releases/promotions/{promotion.pk}/"
    assert promotion.expedited
    assert promotion.expedite_reason == "security fix"


def test_an_expedite_without_a_reason_is_refused_with_a_message(stages, make_dev_commit, release_engineer, client_for):
    commit = make_dev_commit("41.20261125.0")
    client = client_for(release_engineer)

    response = client.post(f"/releases/commits/{commit.checksum}/promote", {"expedited": "on"}, follow=True)

    assert "An expedited request needs a written reason." in response.content.decode()
    assert not Promotion.objects.exists()


def test_an_earlier_prod_commit_offers_a_rollback_and_approvers_cannot_request(
    stages, make_dev_commit, release_engineer, approver, client_for
):
    v1 = make_dev_commit("41.20261125.0")
    promote(v1, release_engineer, approver)
    v2 = make_dev_commit("41.20261126.0", bash="5.2.37")
    promote(v2, release_engineer, approver)

    page = client_for(release_engineer).get(f"/releases/commits/{v1.checksum}/").content.decode()
    assert "Roll prod back to this" in page
    assert client_for(approver).post(f"/releases/commits/{v1.checksum}/rollback").status_code == 403

    response = client_for(release_engineer).post(f"/releases/commits/{v1.checksum}/rollback", {"comment": "wifi"})
    rollback = Promotion.objects.get(kind="rollback")
    assert response["Location"] == f"/releases/promotions/{rollback.pk}/"
