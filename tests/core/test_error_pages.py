"""403 and 404 pages keep the portal's navigation and say why."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_it_tells_a_department_head_why_an_approval_link_is_closed_to_them(department_head, client_for) -> None:
    response = client_for(department_head).get("/releases/promotions/1/")
    body = response.content.decode()

    assert response.status_code == 403
    assert "You may not open this page" in body
    assert "department-heads" in body  # the groups the account is in
    assert 'aria-label="Main"' in body  # the portal's navigation
    assert 'href="/fleet/rollout/"' in body


def test_it_names_what_was_not_found_with_the_navigation(release_engineer, client_for) -> None:
    client = client_for(release_engineer)

    missing_promotion = client.get("/releases/promotions/999/")
    missing_page = client.get("/releases/nothing-here/")

    assert missing_promotion.status_code == 404
    assert "No such promotion." in missing_promotion.content.decode()
    assert 'aria-label="Main"' in missing_promotion.content.decode()
    assert missing_page.status_code == 404
    assert 'There is no page at <span class="mono">/releases/nothing-here/</span>' in missing_page.content.decode()
    assert "Resolver404" not in missing_page.content.decode()
