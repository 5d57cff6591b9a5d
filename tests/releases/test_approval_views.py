"""The approval page: htmx buttons, CSRF, permissions, the live log, and one run however many clicks."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kinoite_portal.core.models import AuditEvent
from kinoite_portal.releases.errors import PromotionError
from kinoite_portal.releases.models import Approval, Promotion, RefUpdate
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.promotions import promotion_request, promotion_run
from tests.services import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_page_states_met_and_missing_conditions(stages, make_dev_commit, release_engineer, approver, client_for):
    commit = make_dev_commit("41.20261125.0", days_in_dev=2)
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)

    page = client_for(approver).get(f"/releases/promotions/{promotion.pk}/").content.decode()

    assert "In dev for 2.0 of 7 days; wait, or file an expedited request with a reason." in page
    assert "0 approvals of 1 needed" in page
    assert f'hx-post="/releases/promotions/{promotion.pk}/approve"' in page
    assert 'hx-disabled-elt="this"' in page
    assert "No pilot data" in page


def test_the_requester_sees_no_vote_buttons(stages, make_dev_commit, release_engineer, client_for):
    commit = make_dev_commit("41.20261125.0")
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)

    page = client_for(release_engineer).get(f"/releases/promotions/{promotion.pk}/").content.decode()

    assert "four eyes" in page
    assert "/approve" not in page


def test_a_department_head_cannot_post_a_vote(stages, make_dev_commit, release_engineer, department_head, client_for):
    commit = make_dev_commit("41.20261125.0")
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)

    response = client_for(department_head).post(f"/releases/promotions/{promotion.pk}/approve", HTTP_HX_REQUEST="true")

    assert response.status_code == 403
    assert not Approval.objects.exists()


def test_it_refuses_a_vote_without_a_csrf_token(stages, make_dev_commit, release_engineer, approver):
    commit = make_dev_commit("41.20261125.0")
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)
    client = Client(enforce_csrf_checks=True)
    client.force_login(approver)

    for action in ("approve", "reject", "cancel"):
        response = client.post(f"/releases/promotions/{promotion.pk}/{action}", {"comment": "forged"})
        assert response.status_code == 403
    response = client.post(f"/releases/commits/{commit.checksum}/promote", {"comment": "forged"})
    assert response.status_code == 403

    promotion.refresh_from_db()
    assert promotion.state == Promotion.State.REQUESTED
    assert not Approval.objects.exists()
    assert Promotion.objects.count() == 1


def test_an_htmx_error_comes_back_in_the_panel(stages, make_dev_commit, release_engineer, approver, client_for):
    commit = make_dev_commit("41.20261125.0")
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)

    response = client_for(approver).post(
        f"/releases/promotions/{promotion.pk}/reject", {"comment": ""}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert "a reject needs a comment" in response.content.decode()
    assert "HX-Trigger" not in response or "promotionChanged" not in response["HX-Trigger"]
    assert Promotion.objects.get(pk=promotion.pk).state == Promotion.State.REQUESTED


def test_the_log_polls_until_the_run_ends_then_answers_286(
    stages, make_dev_commit, release_engineer, approver, client_for
):
    commit = make_dev_commit("41.20261125.0")
    promotion = approval_grant(
        user=approver, promotion=promotion_request(user=release_engineer, checksum=commit.checksum)
    )
    client = client_for(approver)

    waiting = client.get(f"/releases/promotions/{promotion.pk}/log", HTTP_HX_REQUEST="true")
    assert waiting.status_code == 200
    assert "every 2s, promotionChanged from:body" in waiting.content.decode()

    promotion_run(promotion_id=promotion.pk)
    done = client.get(f"/releases/promotions/{promotion.pk}/log", HTTP_HX_REQUEST="true")
    assert done.status_code == 286
    assert "+ ostree pull-local" in done.content.decode()
    assert "every 2s" not in done.content.decode()


def test_a_double_click_and_two_approvers_at_once_give_one_run(
    stages, make_dev_commit, release_engineer, approver, second_approver, client_for, celery_worker
):
    commit = make_dev_commit("41.20261125.0")
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)
    url = f"/releases/promotions/{promotion.pk}/approve"
    statuses: list[int] = []

    def click(user) -> None:  # type: ignore[no-untyped-def]
        try:
            statuses.append(client_for(user).post(url, {"comment": "ok"}, HTTP_HX_REQUEST="true").status_code)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=click, args=(u,)) for u in (approver, approver, second_approver, second_approver)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert statuses == [200, 200, 200, 200]
    wait_until(
        lambda: Promotion.objects.get(pk=promotion.pk).state == Promotion.State.SUCCEEDED,
        timeout=60,
        message="promotion succeeded",
    )
    assert Approval.objects.filter(promotion=promotion).count() == 1  # votes close once it is queued
    assert AuditEvent.objects.filter(action="promotion.queue").count() == 1
    assert AuditEvent.objects.filter(action="promotion.run").count() == 1
    assert RefUpdate.objects.filter(ref__stage=stages["prod"]).count() == 1
    with pytest.raises(PromotionError, match="already succeeded"):
        approval_grant(user=second_approver, promotion=promotion)


def test_the_requester_can_cancel_before_it_runs(stages, make_dev_commit, release_engineer, approver, client_for):
    commit = make_dev_commit("41.20261125.0")
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)

    response = client_for(release_engineer).post(f"/releases/promotions/{promotion.pk}/cancel", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert Promotion.objects.get(pk=promotion.pk).state == Promotion.State.CANCELLED
    again = client_for(approver).post(f"/releases/promotions/{promotion.pk}/approve", HTTP_HX_REQUEST="true")
    assert "already cancelled" in again.content.decode()


def test_the_page_reads_the_votes_once_however_many_there_are(
    stages, make_dev_commit, release_engineer, approver, second_approver, client_for
):
    stages["prod"].required_approvals = 3
    stages["prod"].save(update_fields=["required_approvals"])
    commit = make_dev_commit("41.20261125.0")
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)
    client = client_for(approver)
    url = f"/releases/promotions/{promotion.pk}/"
    client.get(url)
    with CaptureQueriesContext(connection) as before:
        assert client.get(url).status_code == 200

    approval_grant(user=second_approver, promotion=promotion, comment="pilot ring is fine")
    approval_grant(user=approver, promotion=promotion, comment="looks good")
    with CaptureQueriesContext(connection) as after:
        page = client.get(url).content.decode()

    assert Promotion.objects.get(pk=promotion.pk).state == Promotion.State.REQUESTED
    assert "2 approvals of 3 needed" in page
    assert "pilot ring is fine" in page
    assert "looks good" in page
    assert f'hx-post="/releases/promotions/{promotion.pk}/approve"' not in page  # the viewer has voted
    # The policy, the vote list and "may I vote" share one read; the viewer's own vote needs no second look at the
    # viewer's permissions. The other voter's permissions are the only addition.
    assert len(after.captured_queries) <= len(before.captured_queries) + 2
    assert len([q for q in after.captured_queries if q["sql"].startswith('SELECT "releases_approval"')]) == 1
