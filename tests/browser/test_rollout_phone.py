"""On a phone (390 px) the rollout shows its progress and the approval diff keeps its "After" column in view."""

from __future__ import annotations

from typing import Any

import pytest

from kinoite_portal.fleet.services.adoption import adoption_sample_take


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not rendered"
    return dict(found)


@pytest.mark.browser
def test_the_rollout_page_stacks_each_department_with_a_full_width_bar_on_a_phone(
    demo_data: dict[str, Any], new_page: Any, sign_in: Any, live_server: Any, shot: Any
) -> None:
    adoption_sample_take()
    page = new_page(390, 844)
    sign_in(page, "rita")
    page.goto(f"{live_server.url}/fleet/rollout/")

    with_red = 0
    for department in demo_data["departments"]:
        row = f"#dept-{department.slug}"
        bar = box(page, f"{row} .rollout-bar")
        assert bar["x"] >= 0, (department.slug, bar)
        assert bar["x"] + bar["width"] <= 390, (department.slug, bar)
        assert bar["width"] >= 300, (department.slug, bar)  # full width, not a squeezed column
        if page.locator(f"{row} td.cat-unknown.zero").count():
            continue
        # Hosts on an unknown commit (the red part of the bar) and their count are on screen, not scrolled away.
        red = box(page, f"{row} .rollout-bar rect.seg-unknown")
        assert red["width"] > 0, (department.slug, red)
        assert red["x"] + red["width"] <= 390, (department.slug, red)
        count = box(page, f"{row} td.cat-unknown")
        assert count["x"] + count["width"] <= 390, (department.slug, count)
        with_red += 1
    assert with_red >= 1  # the demo data has hosts on unknown commits
    assert page.evaluate("document.documentElement.scrollWidth") <= 391
    chart = box(page, "#adoption-chart svg")
    assert chart["x"] + chart["width"] <= 390
    shot(page, "rollout-phone")


@pytest.mark.browser
def test_the_approval_diff_keeps_the_after_column_on_a_phone(
    demo_data: dict[str, Any], new_page: Any, sign_in: Any, live_server: Any, shot: Any
) -> None:
    page = new_page(390, 844)
    sign_in(page, "alice")
    page.goto(f"{live_server.url}/releases/promotions/{demo_data['waiting'].pk}/")

    table = page.locator("table.pkgdiff")
    assert table.count() == 1
    after = box(page, "table.pkgdiff th:nth-child(4)")
    assert after["x"] + after["width"] <= 390, after
    for cell in table.locator("tbody td:nth-child(4)").all()[:10]:
        found = cell.bounding_box()
        assert found is not None
        assert found["x"] + found["width"] <= 390, (cell.inner_text(), found)
    shot(page, "promotion-detail-phone")
