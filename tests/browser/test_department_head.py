"""A department head sees the rollout of their own department only, and nothing they could approve."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.browser
def test_department_head_sees_own_rollout_and_no_approve_button(
    demo_data: dict[str, Any], page: Any, sign_in: Any, live_server: Any, shot: Any
) -> None:
    base = live_server.url
    finance, other = demo_data["finance"], demo_data["other_department"]
    sign_in(page, "dora")

    assert page.url.rstrip("/").endswith("/fleet/rollout")
    assert page.locator(f"#dept-{finance.slug}").count() == 1
    assert page.locator(f"#dept-{other.slug}").count() == 0
    shot(page, "rollout-department-head")
    for path in (
        "/fleet/rollout/",
        f"/fleet/departments/{finance.slug}/",
        f"/fleet/hosts/?department={finance.slug}",
        f"/fleet/hosts/{demo_data['finance_host'].pk}/",
    ):
        response = page.goto(f"{base}{path}")
        assert response is not None
        assert response.status == 200, path
        assert page.locator("button.approve, [hx-post*='approve'], form[action*='approve']").count() == 0, path
        assert "Approve" not in page.locator("main").inner_text(), path
    assert finance.name in page.locator("main").inner_text()

    refused = {
        f"/releases/promotions/{demo_data['waiting'].pk}/": {403},
        "/releases/promotions/": {403},
        "/releases/composes/": {403},
        f"/fleet/departments/{other.slug}/": {404},
        f"/fleet/hosts/{demo_data['other_host'].pk}/": {404},
    }
    for path, statuses in refused.items():
        response = page.goto(f"{base}{path}")
        assert response is not None
        assert response.status in statuses, (path, response.status)
        if path.startswith("/fleet/"):
            assert other.name not in page.locator("body").inner_text(), path
