"""The promotion pages as approvers use them: one timeline kept consistent by htmx, votes confirmed, errors focused,
and the queue of requests waiting for a vote."""

from __future__ import annotations

from typing import Any

import pytest

from kinoite_portal.releases.models import Promotion

pytestmark = pytest.mark.browser
WIDTHS = {"wide": (1280, 900), "narrow": (390, 844)}


def step_status(page: Any, key: str) -> str:
    return page.get_attribute(f'#promotion-timeline [data-step="{key}"]', "data-status") or ""


@pytest.mark.parametrize("size", list(WIDTHS))
def test_an_approval_moves_the_timeline_the_decision_and_the_run_panel_together(
    size: str, demo_data: dict[str, Any], new_page: Any, sign_in: Any, live_server: Any, watch: Any, shot: Any
) -> None:
    waiting = demo_data["waiting"]
    page = new_page(*WIDTHS[size])
    sign_in(page, "alice")
    seen = watch(page)
    page.goto(f"{live_server.url}/releases/promotions/{waiting.pk}/")
    assert step_status(page, "approvals") == "current"
    assert page.locator("nav.mainnav .count").inner_text().startswith("1")
    assert page.locator('#promotion-timeline [data-step="approvals"] strong').inner_text() == "Approvals 0/1"
    assert "Nothing has run yet" in page.locator("#promotion-log").inner_text()
    shot(page, f"promotion-timeline-waiting-{size}")

    page.fill("#vote-comment", "Checked the package diff.")
    page.locator("button.approve").click()
    page.locator(".vote-confirmation").wait_for()
    page.wait_for_function(
        """() => document.querySelector('#promotion-timeline [data-step="running"]').dataset.status === 'current'"""
    )
    page.locator("#promotion-log", has_text="Approved and queued").wait_for()

    assert Promotion.objects.get(pk=waiting.pk).state == Promotion.State.QUEUED
    assert step_status(page, "approvals") == "done"
    assert "queued: waiting for a worker" in page.locator('#promotion-timeline [data-step="running"]').inner_text()
    assert "This promotion is approved and queued for a worker." in page.locator("#promotion-panel").inner_text()
    assert "You approved this" in page.locator(".vote-confirmation").inner_text()
    assert page.locator("#messages", has_text=f"Your approval of #{waiting.pk} is recorded.").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.locator("nav.mainnav .count").count() == 0, "the navigation still counts the request alice decided"
    assert seen.errors == []
    shot(page, f"promotion-timeline-approved-{size}")


def test_a_refused_reject_moves_keyboard_focus_to_its_error(
    demo_data: dict[str, Any], page: Any, sign_in: Any, live_server: Any
) -> None:
    waiting = demo_data["waiting"]
    sign_in(page, "alice")
    page.goto(f"{live_server.url}/releases/promotions/{waiting.pk}/")

    page.locator("button.reject").focus()
    page.keyboard.press("Enter")  # no comment: a reject needs a reason
    page.locator('#promotion-panel [role="alert"]').wait_for()
    page.wait_for_function("document.activeElement && document.activeElement.getAttribute('role') === 'alert'")

    focused = page.evaluate("document.activeElement.textContent")
    assert "a reject needs a comment" in focused
    assert Promotion.objects.get(pk=waiting.pk).state == Promotion.State.REQUESTED


@pytest.mark.parametrize("size", list(WIDTHS))
def test_an_approver_finds_what_waits_for_them_and_what_blocks_it(
    size: str, demo_data: dict[str, Any], new_page: Any, sign_in: Any, live_server: Any, shot: Any
) -> None:
    waiting = demo_data["waiting"]
    page = new_page(*WIDTHS[size])
    sign_in(page, "alice")
    page.goto(f"{live_server.url}/")

    count = page.locator("nav.mainnav a", has_text="Promotions").locator(".count")
    assert count.inner_text().startswith("1")
    page.locator("nav.mainnav a", has_text="Promotions").click()
    page.locator(".filter-tabs a", has_text="Needs my review").click()
    page.wait_for_url("**/releases/promotions/?review=mine")

    row = page.locator(f'tr[data-promotion="{waiting.pk}"]')
    assert "approvals 0/1" in row.locator(".blocked-by").inner_text()
    assert "days 8/7" in row.locator(".blocked-by").inner_text()
    assert page.locator("tr[data-promotion]").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"promotion-queue-{size}")
