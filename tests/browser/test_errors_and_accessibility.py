"""Error pages people land on, absolute times in the audit trail, and the treefile editor, in a real browser."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kinoite_portal.core.audit import audit_record

pytestmark = pytest.mark.browser
WIDTHS = {"wide": (1280, 900), "narrow": (390, 844)}


@pytest.mark.parametrize("size", list(WIDTHS))
def test_a_department_head_following_an_approval_email_gets_a_reason_and_the_navigation(
    size: str, demo_data: dict[str, Any], new_page: Any, sign_in: Any, live_server: Any, shot: Any
) -> None:
    page = new_page(*WIDTHS[size])
    sign_in(page, "dora")

    response = page.goto(f"{live_server.url}/releases/promotions/{demo_data['waiting'].pk}/")

    assert response is not None
    assert response.status == 403
    assert page.locator("h1").inner_text() == "You may not open this page"
    assert "department-heads" in page.locator(".error-page").inner_text()
    page.locator("nav.mainnav a", has_text="Rollout").click()
    page.wait_for_url("**/fleet/rollout/")
    page.go_back()
    shot(page, f"error-403-{size}")
    overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert not overflow


def test_a_missing_commit_says_so_with_the_navigation(
    demo_data: dict[str, Any], page: Any, sign_in: Any, live_server: Any, shot: Any
) -> None:
    sign_in(page, "rita")

    response = page.goto(f"{live_server.url}/releases/commits/{'0' * 64}/")

    assert response is not None
    assert response.status == 404
    assert page.locator("h1").inner_text() == "Nothing here"
    assert page.locator("nav.mainnav a", has_text="Promotions").count() == 1
    shot(page, "error-404-wide")


def test_the_audit_trail_shows_absolute_times_in_the_viewers_zone_and_clock_with_relative_on_hover(
    demo_data: dict[str, Any], new_page: Any, sign_in: Any, live_server: Any
) -> None:
    event = audit_record(action="test.absolute", actor_label="worker", message="a moment to show")
    # The pages run in Europe/Berlin: the absolute time is local, with the zone named, on the viewer's own clock.
    local = event.created_at.astimezone(ZoneInfo("Europe/Berlin"))
    for locale, clock in (("en-GB", f"{local:%H}:{local:%M}"), ("en-US", f"{local:%I}:{local:%M} {local:%p}")):
        page = new_page(locale=locale)
        sign_in(page, "alice")

        page.goto(f"{live_server.url}/releases/audit/?action=test.absolute")

        cell = page.locator("table time.absolute").first
        text, title = cell.inner_text(), cell.get_attribute("title")
        assert clock in text, (locale, text)
        assert str(local.year) in text
        assert title == "just now"


def test_the_treefile_editor_is_monospace_with_line_numbers(
    kinoite_treefile: Any, release_engineer: Any, new_page: Any, sign_in: Any, live_server: Any, shot: Any
) -> None:
    page = new_page(1280, 900)
    sign_in(page, "rita")
    page.goto(f"{live_server.url}/admin/releases/treefile/{kinoite_treefile.pk}/change/")

    area = page.locator(".code-editor textarea")
    font = area.evaluate("el => getComputedStyle(el).fontFamily")
    lines = area.input_value().count("\n") + 1
    gutter = page.locator(".code-editor .code-lines")
    assert "mono" in font.lower()
    assert gutter.inner_text().split("\n")[-1] == str(lines)
    area.click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    assert gutter.inner_text().split("\n")[-1] == str(lines + 1)
    # Each number sits on the line it counts: gutter and text share the line height.
    heights = page.evaluate(
        """() => [...document.querySelectorAll('.code-editor .code-lines, .code-editor textarea')]
                 .map(el => getComputedStyle(el).lineHeight)"""
    )
    assert len(set(heights)) == 1
    shot(page, "treefile-editor-wide")
