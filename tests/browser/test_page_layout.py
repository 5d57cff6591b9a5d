"""Every main page at 1280 px and at 390 px: no horizontal page overflow, no console error, nothing fetched from
anywhere but the portal itself; each is saved as ``<page>-wide.png`` / ``<page>-narrow.png``."""

from __future__ import annotations

from typing import Any

import pytest

WIDTHS = {"wide": (1280, 900), "narrow": (390, 844)}


def main_pages(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Return (screenshot name, who looks at it, path) for every main page of the demo data."""
    waiting = data["waiting"]
    compose = data["composes"][-1]
    return [
        ("dashboard", "rita", "/"),
        ("treefile", "rita", "/releases/treefiles/kinoite/"),
        ("compose-list", "rita", "/releases/composes/"),
        ("compose-detail", "rita", f"/releases/composes/{compose.pk}/"),
        ("commit", "rita", f"/releases/commits/{waiting.commit.checksum}/"),
        ("promotion-detail", "alice", f"/releases/promotions/{waiting.pk}/"),
        ("promotion-list", "alice", "/releases/promotions/"),
        ("audit", "alice", "/releases/audit/"),
        ("rollout", "rita", "/fleet/rollout/"),
        ("department", "dora", f"/fleet/departments/{data['finance'].slug}/"),
        ("host-list", "rita", "/fleet/hosts/"),
        ("host-detail", "rita", f"/fleet/hosts/{data['finance_host'].pk}/"),
        ("client-setup", "rita", "/fleet/client-setup/"),
    ]


def layout_problems(page: Any, width: int) -> list[str]:
    """Return what is wrong with the page's horizontal layout at this viewport width."""
    inner, scroll = page.evaluate("[window.innerWidth, document.documentElement.scrollWidth]")
    problems = []
    if inner != width:
        problems.append(f"the layout viewport is {inner} px, not {width} px (the page zoomed out to fit)")
    if scroll > width + 1:
        wide = page.evaluate(
            """(limit) => [...document.querySelectorAll('body *')]
                .filter(el => el.getBoundingClientRect().right > limit + 1 && !el.closest('.table-wrap, pre, .log'))
                .slice(0, 5)
                .map(el => `${el.tagName}.${el.className} ${Math.round(el.getBoundingClientRect().right)}`)""",
            width,
        )
        problems.append(f"the page is {scroll} px wide at {width} px: {wide}")
    return problems


@pytest.mark.browser
@pytest.mark.parametrize("size", list(WIDTHS))
def test_every_main_page_fits_its_width_without_errors(
    size: str, demo_data: dict[str, Any], new_page: Any, sign_in: Any, watch: Any, shot: Any, live_server: Any
) -> None:
    width, height = WIDTHS[size]
    problems: list[str] = []

    login = new_page(width, height)
    seen = watch(login)
    login.goto(f"{live_server.url}/login/")
    problems += [f"login: {p}" for p in layout_problems(login, width)]
    shot(login, f"login-{size}")
    seen.stop()
    watches = [("login", seen)]

    pages: dict[str, Any] = {}
    for name, username, path in main_pages(demo_data):
        if username not in pages:
            pages[username] = new_page(width, height)
            sign_in(pages[username], username)
        page = pages[username]
        seen = watch(page)
        response = page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        assert response is not None
        if response.status != 200:
            problems.append(f"{name}: HTTP {response.status} for {path}")
        problems += [f"{name}: {p}" for p in layout_problems(page, width)]
        shot(page, f"{name}-{size}")
        seen.stop()
        watches.append((name, seen))

    for name, seen in watches:
        problems += [f"{name}: {error}" for error in seen.errors]
        problems += [f"{name}: requested {url}, which is not the portal" for url in seen.foreign_requests()]
    assert problems == []
