"""The compose pages: list, detail with its polled status partial, Compose now and Cancel."""

from __future__ import annotations

import pytest

from kinoite_portal.releases.models import Compose
from kinoite_portal.releases.services.composes import compose_request, compose_run

pytestmark = pytest.mark.django_db


def test_compose_now_queues_a_compose_and_redirects_htmx_to_its_page(release_engineer, client_for, treefile) -> None:
    response = client_for(release_engineer).post(
        f"/releases/treefiles/{treefile.name}/compose/", HTTP_HX_REQUEST="true"
    )

    compose = Compose.objects.get()
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == f"/releases/composes/{compose.pk}/"
    assert (compose.state, compose.requested_by, compose.trigger) == ("queued", release_engineer, "manual")


def test_compose_now_needs_the_start_compose_permission_and_a_post(approver, client_for, treefile) -> None:
    client = client_for(approver)
    assert client.post(f"/releases/treefiles/{treefile.name}/compose/").status_code == 403
    assert client.get(f"/releases/treefiles/{treefile.name}/compose/").status_code == 405
    assert not Compose.objects.exists()


def test_the_status_partial_polls_while_queued_and_answers_286_when_finished(
    release_engineer, client_for, treefile
) -> None:
    client = client_for(release_engineer)
    compose = compose_request(treefile=treefile, enqueue=False)
    url = f"/releases/composes/{compose.pk}/status/"

    running = client.get(url, HTTP_HX_REQUEST="true")
    assert running.status_code == 200
    assert 'hx-trigger="every 2s"' in running.content.decode()
    assert "Cancel" in running.content.decode()

    compose_run(compose_id=compose.pk)
    done = client.get(url, HTTP_HX_REQUEST="true")
    body = done.content.decode()
    assert done.status_code == 286
    assert "every 2s" not in body
    assert "Succeeded:" in client.get(f"/releases/composes/{compose.pk}/log/").json()["text"]
    assert 'data-state="succeeded"' in body


def test_the_detail_page_shows_the_failure_reason_above_the_log(release_engineer, client_for, treefile) -> None:
    from kinoite_portal.releases.services.treefiles import treefile_save
    from tests.releases.conftest import REF_STABLE, treefile_content

    treefile_save(name="kinoite", content=treefile_content(packages=["kernel", "nope"]), published_ref=REF_STABLE)
    compose = compose_run(compose_id=compose_request(treefile=treefile, enqueue=False).pk)

    body = client_for(release_engineer).get(f"/releases/composes/{compose.pk}/").content.decode()

    assert body.index("depsolve failed: Packages not found: nope") < body.index('<pre class="log"')
    assert 'class="failure"' in body


def test_cancel_ends_a_queued_compose_and_is_refused_without_permission(
    release_engineer, approver, client_for, treefile
) -> None:
    compose = compose_request(treefile=treefile, enqueue=False)
    url = f"/releases/composes/{compose.pk}/cancel/"

    assert client_for(approver).post(url).status_code == 403
    compose.refresh_from_db()
    assert compose.state == "queued"

    response = client_for(release_engineer).post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 286
    compose.refresh_from_db()
    assert compose.state == "cancelled"
    assert compose.failure_reason == "Cancelled by rita"


def test_the_list_and_treefile_pages_show_history_and_revisions(release_engineer, client_for, treefile) -> None:
    compose = compose_run(compose_id=compose_request(treefile=treefile, enqueue=False).pk)
    client = client_for(release_engineer)

    listing = client.get("/releases/composes/").content.decode()
    page = client.get(f"/releases/treefiles/{treefile.name}/").content.decode()

    assert f'href="/releases/composes/{compose.pk}/"' in listing
    assert "Compose now" in listing
    assert compose.commit.version in page
    assert f"compose #{compose.pk}</a>" in page
    assert f"<td>{compose.commit.package_count}</td>" in page
    assert "r1" in page
    assert "fedora/x86_64/kinoite/stable" in page


def test_an_empty_treefile_page_says_what_to_do(release_engineer, client_for, treefile) -> None:
    page = client_for(release_engineer).get(f"/releases/treefiles/{treefile.name}/").content.decode()

    assert "Press “Compose now” to build the first commit." in page


def test_it_returns_only_the_log_after_an_offset(release_engineer, client_for, treefile) -> None:
    compose = compose_request(treefile=treefile, enqueue=False)
    Compose.objects.filter(pk=compose.pk).update(log="first line\nsecond line\n")
    url = f"/releases/composes/{compose.pk}/log/"
    client = client_for(release_engineer)

    whole = client.get(url, {"offset": 0}).json()
    rest = client.get(url, {"offset": len("first line\n")}).json()
    nothing_new = client.get(url, {"offset": whole["offset"]}).json()

    assert whole == {"text": "first line\nsecond line\n", "offset": 23, "finished": False}
    assert rest == {"text": "second line\n", "offset": 23, "finished": False}
    assert nothing_new == {"text": "", "offset": 23, "finished": False}


def test_it_refuses_an_offset_that_is_not_a_whole_number(release_engineer, client_for, treefile) -> None:
    compose = compose_request(treefile=treefile, enqueue=False)
    client = client_for(release_engineer)

    for offset in ("-1", "abc", "1e3", "9" * 40):
        response = client.get(f"/releases/composes/{compose.pk}/log/", {"offset": offset})
        assert response.status_code == 400
        assert "whole number" in response.json()["error"]
    assert client.get("/releases/composes/999/log/", {"offset": "0"}).status_code == 404


def test_it_says_a_finished_compose_has_no_more_log(release_engineer, client_for, treefile) -> None:
    compose = compose_request(treefile=treefile, enqueue=False)
    compose_run(compose_id=compose.pk)

    answer = client_for(release_engineer).get(f"/releases/composes/{compose.pk}/log/", {"offset": 0}).json()

    assert answer["finished"] is True
    assert "Succeeded:" in answer["text"]
