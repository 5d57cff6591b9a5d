from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

PAGES = ["dashboard", "releases:compose_list", "releases:promotion_list", "releases:audit", "fleet:rollout"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_sends_anonymous_visitors_to_sign_in(db, client: Client, page: str) -> None:
    response = client.get(reverse(page))

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_login_page_renders_without_any_cdn(db, client: Client) -> None:
    response = client.get("/login/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Sign in" in html
    assert '<script src="/static/django_htmx/htmx-2.min.js"' in html
    assert "https://" not in html
    assert "http://" not in html


def test_a_department_head_lands_on_the_rollout_and_cannot_open_release_pages(department_head, client_for) -> None:
    client = client_for(department_head)

    assert client.get("/").url == reverse("fleet:rollout")
    assert client.get(reverse("releases:promotion_list")).status_code == 403
    assert client.get(reverse("releases:audit")).status_code == 403


def test_a_user_without_a_group_is_told_what_to_ask_for(db, client_for) -> None:
    from django.contrib.auth.models import User

    response = client_for(User.objects.create_user("nobody", password="pw")).get("/")

    assert response.status_code == 403
    assert b"not in any portal group" in response.content


def test_groups_carry_the_permissions_of_their_role(release_engineer, approver, department_head) -> None:
    assert release_engineer.has_perm("releases.start_compose")
    assert release_engineer.has_perm("releases.request_promotion")
    assert not release_engineer.has_perm("releases.approve_promotion")
    assert approver.has_perm("releases.approve_promotion")
    assert not approver.has_perm("releases.start_compose")
    assert department_head.has_perm("fleet.view_rollout")
    assert not department_head.has_perm("fleet.view_all_departments")
    assert not department_head.has_perm("releases.view_commit")


def test_logout_needs_a_post_with_csrf(release_engineer) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(release_engineer)

    assert client.post("/logout/").status_code == 403
    assert client.get("/").status_code == 200


def test_the_favicon_is_served_to_anonymous_visitors(db, client: Client) -> None:
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"] == "/static/img/favicon.svg"
