"""One timeline per promotion: requested -> approvals n/m -> eligible on DATE -> running -> published -> rollout."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kinoite_portal.releases import selectors
from kinoite_portal.releases.models import Promotion, RefUpdate
from kinoite_portal.releases.services.approvals import approval_grant, approval_reject, promotion_policy
from kinoite_portal.releases.services.promotions import promotion_cancel, promotion_request, promotion_run

pytestmark = pytest.mark.django_db(transaction=True)


def steps_of(promotion: Promotion) -> dict[str, selectors.TimelineStep]:
    promotion = selectors.promotion_detail(promotion.pk)
    return {step.key: step for step in selectors.promotion_timeline(promotion, promotion_policy(promotion))}


def test_it_dates_a_request_that_waits_for_the_seven_day_rule(stages, make_dev_commit, release_engineer) -> None:
    commit = make_dev_commit("41.20261125.0", days_in_dev=2)
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)
    entered_dev = RefUpdate.objects.get(commit=commit).moved_at

    steps = steps_of(promotion)

    assert [s.key for s in selectors.promotion_timeline(promotion, promotion_policy(promotion))] == [
        "requested",
        "approvals",
        "eligible",
        "running",
        "published",
        "rollout",
    ]
    assert (steps["approvals"].title, steps["approvals"].status) == ("Approvals 0/1", "current")
    assert (steps["eligible"].title, steps["eligible"].status) == ("Eligible on", "waiting")
    assert steps["eligible"].at is not None
    assert abs(steps["eligible"].at - (entered_dev + timedelta(days=7))) < timedelta(seconds=5)
    assert "2.0 of 7 days in dev" in steps["eligible"].detail
    assert steps["running"].status == "waiting"


def test_it_moves_every_step_on_together_after_the_approval(
    stages, make_dev_commit, release_engineer, approver
) -> None:
    commit = make_dev_commit("41.20261125.0", days_in_dev=8)
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)

    approval_grant(user=approver, promotion=promotion)
    queued = steps_of(promotion)
    promotion_run(promotion_id=promotion.pk)
    done = steps_of(promotion)

    assert (queued["approvals"].status, queued["eligible"].status) == ("done", "done")
    assert (queued["running"].status, queued["running"].detail) == ("current", "queued: waiting for a worker")
    assert queued["published"].status == "waiting"
    assert [done[k].status for k in ("running", "published", "rollout")] == ["done", "done", "current"]
    assert done["published"].detail == "41.20261125.0 as prod:fedora/x86_64/kinoite/stable"
    assert selectors.promotion_outcome(Promotion.objects.get(pk=promotion.pk)) == "This promotion succeeded."


def test_it_ends_the_timeline_at_a_reject_or_a_cancel(stages, make_dev_commit, release_engineer, approver) -> None:
    rejected = promotion_request(user=release_engineer, checksum=make_dev_commit("41.20261125.0").checksum)
    approval_reject(user=approver, promotion=rejected, comment="plasma crashes")
    cancelled = promotion_request(user=release_engineer, checksum=make_dev_commit("41.20261125.1").checksum)
    promotion_cancel(user=release_engineer, promotion=cancelled)

    after_reject = steps_of(rejected)
    after_cancel = steps_of(cancelled)

    assert after_reject["approvals"].status == "failed"
    assert {after_reject[k].status for k in ("running", "published", "rollout")} == {"skipped"}
    assert after_cancel["cancelled"].status == "failed"
    assert list(after_cancel)[:2] == ["requested", "cancelled"]
    assert selectors.promotion_outcome(Promotion.objects.get(pk=rejected.pk)) == "This promotion was rejected."


def test_the_page_shows_the_timeline_and_refreshes_it_on_every_change(
    stages, make_dev_commit, release_engineer, approver, client_for
) -> None:
    commit = make_dev_commit("41.20261125.0", days_in_dev=2)
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)
    eligible = timezone.now() + timedelta(days=5)
    client = client_for(approver)

    page = client.get(f"/releases/promotions/{promotion.pk}/").content.decode()
    part = client.get(f"/releases/promotions/{promotion.pk}/?part=timeline", HTTP_HX_REQUEST="true")

    assert 'id="promotion-timeline"' in page
    assert 'hx-trigger="promotionChanged from:body"' in page
    assert f"{eligible:%Y-%m-%d}" in page  # "Eligible on" with the date the 7-day rule allows
    assert part.status_code == 200
    assert part.content.decode().lstrip().startswith('<section class="card promotion-timeline"')


def test_it_confirms_a_vote_on_the_panel_and_as_a_message(
    stages, make_dev_commit, release_engineer, approver, client_for
) -> None:
    commit = make_dev_commit("41.20261125.0", days_in_dev=2)
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)

    response = client_for(approver).post(
        f"/releases/promotions/{promotion.pk}/approve", {"comment": "tested"}, HTTP_HX_REQUEST="true"
    )

    body = response.content.decode()
    assert "You approved this" in body
    assert "your vote is recorded" in body
    assert f"Your approval of #{promotion.pk} is recorded." in response.headers["HX-Trigger"]
    assert "promotionChanged" in response.headers["HX-Trigger"]


def test_a_finished_promotion_reads_naturally(stages, make_dev_commit, release_engineer, approver, client_for) -> None:
    commit = make_dev_commit("41.20261125.0", days_in_dev=8)
    promotion = promotion_request(user=release_engineer, checksum=commit.checksum)
    approval_grant(user=approver, promotion=promotion)
    promotion_run(promotion_id=promotion.pk)

    page = client_for(approver).get(f"/releases/promotions/{promotion.pk}/").content.decode()

    assert "Votes are closed. This promotion succeeded." in page
    assert "is succeeded" not in page
    assert "error:" not in Promotion.objects.get(pk=promotion.pk).log
