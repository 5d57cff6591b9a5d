"""The approvers' queue: what blocks each request, "needs my review", the count in the navigation, paging."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kinoite_portal.releases.models import Promotion
from kinoite_portal.releases.services.approvals import approval_grant
from kinoite_portal.releases.services.promotions import promotion_request

pytestmark = pytest.mark.django_db(transaction=True)


def row_of(body: str, pk: int) -> str:
    start = body.index(f'data-promotion="{pk}"')
    return body[start : body.index("</tr>", start)]


def test_it_shows_what_blocks_each_request(stages, make_dev_commit, release_engineer, approver, client_for) -> None:
    young = promotion_request(user=release_engineer, checksum=make_dev_commit("41.20261125.0", days_in_dev=2).checksum)

    body = client_for(approver).get("/releases/promotions/").content.decode()

    row = row_of(body, young.pk)
    assert '<span class="blocking">approvals 0/1</span>' in row
    assert '<span class="blocking">days 2/7</span>' in row


def test_it_filters_the_requests_waiting_for_my_vote_and_counts_them_in_the_navigation(
    stages, make_dev_commit, release_engineer, approver, second_approver, client_for
) -> None:
    stages["prod"].required_approvals = 2
    stages["prod"].save()
    first = promotion_request(user=release_engineer, checksum=make_dev_commit("41.20261125.0").checksum)
    second = promotion_request(user=release_engineer, checksum=make_dev_commit("41.20261125.1").checksum)
    approval_grant(user=approver, promotion=first)

    alice = client_for(approver).get("/releases/promotions/?review=mine").content.decode()
    arne = client_for(second_approver).get("/releases/promotions/?review=mine").content.decode()
    rita = client_for(release_engineer).get("/releases/promotions/").content.decode()

    assert f'data-promotion="{second.pk}"' in alice
    assert f'data-promotion="{first.pk}"' not in alice  # alice voted on it already
    assert 'title="Requests waiting for your vote">1<' in alice
    assert f'data-promotion="{first.pk}"' in arne
    assert 'title="Requests waiting for your vote">2<' in arne
    assert "Requests waiting for your vote" not in rita  # not an approver: no count, no filter
    assert "Needs my review" not in rita


def test_the_count_costs_one_query_per_page(stages, make_dev_commit, release_engineer, approver, client_for) -> None:
    promotion_request(user=release_engineer, checksum=make_dev_commit("41.20261125.0").checksum)
    client = client_for(approver)
    client.get("/releases/commits/nothing/")  # warm the session and permission caches

    with CaptureQueriesContext(connection) as queries:
        client.get("/releases/audit/")

    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper() and "promotion" in q["sql"]]
    assert len(counts) == 1


def test_it_notes_a_newer_open_request_for_the_same_ref(
    stages, make_dev_commit, release_engineer, approver, client_for
) -> None:
    older = promotion_request(user=release_engineer, checksum=make_dev_commit("41.20261125.0").checksum)
    newer = promotion_request(user=release_engineer, checksum=make_dev_commit("41.20261126.0").checksum)
    client = client_for(approver)

    listing = client.get("/releases/promotions/").content.decode()
    older_page = client.get(f"/releases/promotions/{older.pk}/").content.decode()
    newer_page = client.get(f"/releases/promotions/{newer.pk}/").content.decode()

    assert f'superseded by <a href="/releases/promotions/{newer.pk}/">#{newer.pk}</a>' in row_of(listing, older.pk)
    assert "superseded" not in row_of(listing, newer.pk)
    assert "so this one is superseded" in older_page
    assert "so this one is superseded" not in newer_page


def test_it_pages_the_promotions(stages, make_dev_commit, release_engineer, approver, client_for) -> None:
    commit = make_dev_commit("41.20261125.0")
    template = promotion_request(user=release_engineer, checksum=commit.checksum)
    Promotion.objects.bulk_create(
        Promotion(
            commit=commit,
            source_stage=template.source_stage,
            target_stage=template.target_stage,
            target_ref=template.target_ref,
            requested_by=release_engineer,
            state=Promotion.State.CANCELLED,
        )
        for _ in range(60)
    )
    client = client_for(approver)

    first = client.get("/releases/promotions/").content.decode()
    second = client.get("/releases/promotions/?page=2").content.decode()

    assert first.count("data-promotion=") == 50
    assert second.count("data-promotion=") == 11
    assert "Page 1 of 2" in first
    assert 'href="?page=2"' in first
