"""The dashboard: dev and prod history side by side, what prod runs, newer dev commits, open requests."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.promotions import promotion_request, promotion_run

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_shows_what_prod_runs_and_which_dev_commits_are_newer(
    stages, make_dev_commit, release_engineer, approver, client_for
):
    v1 = make_dev_commit("41.20261125.0")
    promotion_run(
        promotion_id=approval_grant(
            user=approver, promotion=promotion_request(user=release_engineer, checksum=v1.checksum)
        ).pk
    )
    v2 = make_dev_commit("41.20261126.0", bash="5.2.37")
    open_one = promotion_request(user=release_engineer, checksum=v2.checksum)

    page = client_for(approver).get("/").content.decode()

    assert "prod runs" in page
    assert "41.20261125.0" in page
    assert "newer than prod" in page
    assert page.count("newer than prod") == 1  # v1 is what prod runs, only v2 is newer
    assert f"/releases/promotions/{open_one.pk}/" in page
    assert 'hx-trigger="promotionChanged from:body"' in page


def test_it_polls_while_a_promotion_is_queued_and_renders_only_the_lanes_for_htmx(
    stages, make_dev_commit, release_engineer, approver, client_for
):
    v1 = make_dev_commit("41.20261125.0")
    approval_grant(user=approver, promotion=promotion_request(user=release_engineer, checksum=v1.checksum))

    response = client_for(approver).get("/?part=lanes", HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert "every 2s" in body
    assert "<html" not in body


def test_its_query_count_does_not_grow_with_history(stages, make_dev_commit, release_engineer, approver, client_for):
    client = client_for(approver)
    make_dev_commit("41.20261125.0")
    client.get("/")
    with CaptureQueriesContext(connection) as few:
        client.get("/")
    for n in range(1, 4):
        make_dev_commit(f"41.20261126.{n}")
    with CaptureQueriesContext(connection) as more:
        client.get("/")
    assert len(more) == len(few)


def test_an_empty_portal_says_what_to_do_next(db, approver, client_for):
    page = client_for(approver).get("/").content.decode()
    assert "No stages are configured" in page
