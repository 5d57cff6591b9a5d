"""Each role signs in through the real login form and sees the navigation it may use, and nothing else."""

from __future__ import annotations

from typing import Any

import pytest

NAV = ["Dashboard", "Composes", "Promotions", "Rollout", "Audit", "Admin"]

ROLES = {
    # fixture name: (username, nav links it sees, heading of the page it lands on)
    "release_engineer": ("rita", ["Dashboard", "Composes", "Promotions", "Rollout", "Audit", "Admin"], "Dashboard"),
    "approver": ("alice", ["Dashboard", "Composes", "Promotions", "Rollout", "Audit"], "Dashboard"),
    "department_head": ("dora", ["Rollout"], "Rollout"),
    "admin_user": ("root-admin", ["Dashboard", "Composes", "Promotions", "Rollout", "Audit", "Admin"], "Dashboard"),
}


@pytest.mark.browser
@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_sees_only_its_navigation(role: str, request: pytest.FixtureRequest, page: Any, sign_in: Any) -> None:
    username, expected, landing = ROLES[role]
    request.getfixturevalue(role)

    sign_in(page, username)

    links = page.locator("nav.mainnav a").all_inner_texts()
    assert [text.strip() for text in links] == expected
    assert set(NAV) - set(expected) == {
        name for name in NAV if page.locator("nav.mainnav a", has_text=name).count() == 0
    }
    assert page.locator("h1").first.inner_text().strip() == landing
    assert page.locator(".who").inner_text().startswith(username)
