"""Commits linked everywhere with one short length and a copy button; the next step offered; values shown whole."""

from __future__ import annotations

from typing import Any

import pytest

from kinoite_portal.fleet.models import Host

pytestmark = pytest.mark.browser
WIDTHS = {"wide": (1280, 900), "narrow": (390, 844)}


@pytest.mark.parametrize("size", list(WIDTHS))
def test_an_engineer_goes_from_a_new_dev_commit_to_its_promotion_request(
    size: str, demo_data: dict[str, Any], new_page: Any, sign_in: Any, live_server: Any, shot: Any
) -> None:
    page = new_page(*WIDTHS[size])
    sign_in(page, "rita")
    page.goto(f"{live_server.url}/releases/composes/")
    shot(page, f"compose-list-next-action-{size}")
    lengths = page.evaluate("[...document.querySelectorAll('.checksum .mono')].map(el => el.textContent.trim().length)")
    assert lengths
    assert set(lengths) == {12}

    # Demo: the newest dev commit already has an open request, so the dashboard offers nothing for it ...
    page.goto(f"{live_server.url}/")
    assert page.locator("a.next-action").count() == 0
    # ... until that request is cancelled.
    from kinoite_portal.releases.services.promotions import promotion_cancel

    promotion_cancel(user=demo_data["waiting"].requested_by, promotion=demo_data["waiting"])
    page.reload()
    action = page.locator("a.next-action", has_text="Request promotion").first
    action.click()
    page.wait_for_url("**/releases/commits/*/#request-promotion")
    assert page.locator("#request-promotion h2").is_visible()
    shot(page, f"commit-request-promotion-{size}")


def test_the_copy_button_copies_the_full_checksum(
    demo_data: dict[str, Any], new_page: Any, browser: Any, sign_in: Any, live_server: Any
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    try:
        sign_in(page, "rita")
        page.goto(f"{live_server.url}/releases/promotions/{demo_data['waiting'].pk}/")
        button = page.locator(".checksum button.copy").first
        full = button.get_attribute("data-copy")
        assert full is not None
        assert len(full) == 64
        assert page.locator(".checksum .mono").first.get_attribute("title") == full

        button.click()
        page.locator(".checksum button.copy", has_text="Copied").first.wait_for()

        assert page.evaluate("navigator.clipboard.readText()") == full
    finally:
        context.close()


def test_host_names_stay_on_one_line_and_staged_versions_are_whole(
    demo_data: dict[str, Any], page: Any, sign_in: Any, live_server: Any, shot: Any
) -> None:
    Host.objects.filter(pk=demo_data["finance_host"].pk).update(hostname="finance-laptop-0042.corp.example.com")
    staged = Host.objects.exclude(staged_version="").first()
    assert staged is not None
    sign_in(page, "rita")

    page.goto(f"{live_server.url}/fleet/hosts/?q={staged.hostname}")
    assert f"staged {staged.staged_version}" in page.locator(f'tr[data-host="{staged.hostname}"]').inner_text()
    page.goto(f"{live_server.url}/fleet/hosts/?q=finance-laptop")
    cell = page.locator('tr[data-host="finance-laptop-0042.corp.example.com"] td.hostname a')
    line_height = cell.evaluate("el => parseFloat(getComputedStyle(el).lineHeight)")
    assert cell.bounding_box()["height"] < line_height * 1.5
    shot(page, "host-list-long-name-wide")


def test_host_detail_agrees_with_its_newest_check_in(
    demo_data: dict[str, Any], page: Any, sign_in: Any, live_server: Any
) -> None:
    host = demo_data["finance_host"]
    sign_in(page, "rita")

    page.goto(f"{live_server.url}/fleet/hosts/{host.pk}/")

    last = page.locator("dt:text('Last check-in') + dd time").get_attribute("datetime")
    newest = page.locator("table").last.locator("tbody tr").first.locator("time").get_attribute("datetime")
    assert last == newest
