"""Every commit is linked, and the engineer's next step is offered where they are."""

from __future__ import annotations

import pytest

from kinoite_portal.releases.models import Compose
from kinoite_portal.releases.services.composes import compose_request, compose_run
from kinoite_portal.releases.services.promotions import promotion_request

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_dashboard_offers_a_promotion_request_for_a_dev_commit_newer_than_prod(
    stages, make_dev_commit, release_engineer, approver, client_for
) -> None:
    commit = make_dev_commit("41.20261125.0")
    request_link = f'href="/releases/commits/{commit.checksum}/#request-promotion"'

    before = client_for(release_engineer).get("/").content.decode()
    approver_view = client_for(approver).get("/").content.decode()
    promotion_request(user=release_engineer, checksum=commit.checksum)
    after = client_for(release_engineer).get("/").content.decode()

    assert request_link in before
    assert f'href="/releases/commits/{commit.checksum}/" title="{commit.checksum}">{commit.checksum[:12]}</a>' in before
    assert request_link not in approver_view  # approvers do not request promotions
    assert request_link not in after  # an open request exists: nothing more to request


def test_the_compose_list_links_each_commit_and_offers_the_next_step(
    stages, treefile, release_engineer, client_for
) -> None:
    compose = compose_request(treefile=treefile, enqueue=False)
    compose_run(compose_id=compose.pk)
    commit = Compose.objects.get(pk=compose.pk).commit
    assert commit is not None

    listing = client_for(release_engineer).get("/releases/composes/").content.decode()
    detail = client_for(release_engineer).get(f"/releases/composes/{compose.pk}/").content.decode()
    commit_page = client_for(release_engineer).get(f"/releases/commits/{commit.checksum}/").content.decode()

    assert f'<a href="/releases/commits/{commit.checksum}/">{commit.version}</a>' in listing
    assert f'href="/releases/commits/{commit.checksum}/#request-promotion"' in listing
    assert f'<a href="/releases/commits/{commit.checksum}/">{commit.version}</a>' in detail
    assert 'id="request-promotion"' in commit_page


def test_it_pages_the_compose_list(stages, treefile, release_engineer, client_for) -> None:
    first = compose_request(treefile=treefile, enqueue=False)
    Compose.objects.bulk_create(
        Compose(treefile=treefile, revision=first.revision, stage=first.stage, state=Compose.State.CANCELLED)
        for _ in range(55)
    )
    client = client_for(release_engineer)

    page_one = client.get("/releases/composes/").content.decode()
    page_two = client.get("/releases/composes/?page=2").content.decode()

    assert "56 composes" in page_one
    assert page_one.count('<tr><td><a href="/releases/composes/') == 50
    assert page_two.count('<tr><td><a href="/releases/composes/') == 6
    assert 'href="?page=2"' in page_one
