"""Conventions every page follows: relative times with the exact local time on hover, states in words and color,
empty states that say what to do next, and buttons that disable while their request runs."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

RELATIVE = re.compile(r"^(just now|\d+ \w+ ago|in \d+ \w+)$")


@pytest.mark.browser
def test_times_are_relative_with_the_viewers_local_time_on_hover(
    demo_data: dict[str, Any], page: Any, sign_in: Any, live_server: Any
) -> None:
    sign_in(page, "rita")
    # The audit trail and host pages show absolute times instead (tests/browser/test_errors_and_accessibility.py).
    page.goto(f"{live_server.url}/")
    times = page.eval_on_selector_all(
        "time[datetime]:not(.absolute)",
        "els => els.map(el => [el.getAttribute('datetime'), el.textContent.trim(), el.title])",
    )
    assert len(times) >= 5
    for iso, text, title in times:
        assert RELATIVE.match(text), text
        utc = datetime.fromisoformat(iso)
        berlin = utc.astimezone(ZoneInfo("Europe/Berlin"))
        assert not title.endswith("UTC"), f"{title!r} was not rewritten into the viewer's zone"
        assert utc.strftime("%H:%M") != berlin.strftime("%H:%M")
        assert f"{berlin.hour % 12 or 12}:{berlin.minute:02d}" in title, (title, berlin)
        assert "GMT+1" in title or "GMT+2" in title or "CET" in title or "CEST" in title, title


@pytest.mark.browser
def test_states_are_shown_in_words_and_color(
    demo_data: dict[str, Any], page: Any, sign_in: Any, live_server: Any
) -> None:
    sign_in(page, "alice")
    seen: set[str] = set()
    for path in ("/", "/releases/composes/", "/releases/promotions/", "/fleet/hosts/"):
        page.goto(f"{live_server.url}{path}")
        badges = page.eval_on_selector_all(
            ".badge[data-state]",
            """els => els.map(el => [el.dataset.state, el.textContent.trim(),
                 getComputedStyle(el).color, getComputedStyle(el).backgroundColor])""",
        )
        for state, text, color, background in badges:
            assert text, f"a {state} badge has no words"
            assert background not in {"rgba(0, 0, 0, 0)", "transparent"}, f"the {state} badge has no color"
            assert color != background
            seen.add(state)
    assert {"succeeded", "requested"} <= seen
    page.goto(f"{live_server.url}/releases/composes/")
    colors = {
        state: page.eval_on_selector(f".badge[data-state={state}]", "el => getComputedStyle(el).backgroundColor")
        for state in ("succeeded",)
    }
    page.goto(f"{live_server.url}/releases/promotions/")
    colors["requested"] = page.eval_on_selector(
        ".badge[data-state=requested]", "el => getComputedStyle(el).backgroundColor"
    )
    assert colors["succeeded"] != colors["requested"]


@pytest.mark.browser
def test_a_fresh_install_says_what_to_do_next(
    transactional_db: None,
    release_engineer: Any,
    request: pytest.FixtureRequest,
    page: Any,
    sign_in: Any,
    live_server: Any,
    shot: Any,
) -> None:
    base = live_server.url
    sign_in(page, "rita")
    assert "Run manage.py seed_demo, or add stages in the admin" in page.locator("main .empty").inner_text()
    page.goto(f"{base}/releases/composes/")
    empties = page.locator("main .empty").all_inner_texts()
    assert any("No treefiles yet" in text and "admin" in text for text in empties), empties
    assert any("No composes yet" in text for text in empties), empties
    page.goto(f"{base}/releases/promotions/")
    assert "request its promotion" in page.locator("main .empty").inner_text()

    request.getfixturevalue("kinoite_treefile")
    page.goto(f"{base}/")
    lane = page.locator("#lane-kinoite").inner_text()
    assert "No commits in dev yet" in lane
    assert "Compose now" in lane
    assert "Nothing published in prod yet" in lane
    page.locator("#lane-kinoite .empty a", has_text="Open the treefile").click()
    assert page.url.endswith("/releases/treefiles/kinoite/")
    assert "Press “Compose now” to build the first commit" in page.locator("main").inner_text()
    shot(page, "treefile-fresh")


@pytest.mark.browser
def test_buttons_disable_while_their_request_runs(
    demo_data: dict[str, Any], page: Any, sign_in: Any, live_server: Any
) -> None:
    base = live_server.url
    sign_in(page, "alice")
    pages = [
        "/",
        "/releases/composes/",
        "/releases/treefiles/kinoite/",
        f"/releases/promotions/{demo_data['waiting'].pk}/",
    ]
    checked = 0
    for path in pages:
        page.goto(f"{base}{path}")
        # Every htmx write names what it disables: itself (a button) or its buttons (a form).
        missing = page.eval_on_selector_all(
            "[hx-post]", "els => els.filter(el => !el.closest('[hx-disabled-elt]')).map(el => el.outerHTML)"
        )
        assert missing == [], path
        checked += page.locator("[hx-post]").count()
    assert checked >= 2

    # A plain POST form (here: sign out) disables its button once submitted.
    page.goto(f"{base}/releases/composes/")
    page.evaluate(
        """() => {
          const button = document.querySelector('.who form button');
          new MutationObserver(() => { if (button.disabled) sessionStorage.setItem('kpDisabled', '1'); })
            .observe(button, {attributes: true});
        }"""
    )
    page.locator(".who form button").click()
    page.wait_for_url(re.compile(r"/(login/|logout/)"))
    assert page.evaluate("sessionStorage.getItem('kpDisabled')") == "1"


@pytest.mark.browser
def test_the_content_security_policy_refuses_inline_style_and_script_and_the_console_check_sees_it(
    new_page: Any, sign_in: Any, watch: Any, live_server: Any, release_engineer: Any
) -> None:
    page = new_page()
    sign_in(page, release_engineer.username)
    seen = watch(page)
    response = page.goto(f"{live_server.url}/")
    assert response is not None
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "private, no-store"
    assert seen.errors == []  # the page itself needs nothing the policy refuses

    # What an injected or careless template would add: refused, and reported as a console error.
    page.evaluate(
        "document.body.insertAdjacentHTML('beforeend', '<p id=\"injected\" style=\"color: rgb(255, 0, 0)\">x</p>');"
        "const s = document.createElement('script'); s.textContent = 'window.ranInline = true';"
        "document.body.appendChild(s);"
    )
    page.wait_for_timeout(200)

    assert page.evaluate("getComputedStyle(document.getElementById('injected')).color") != "rgb(255, 0, 0)"
    assert page.evaluate("window.ranInline === true") is False
    assert any("Content Security Policy" in error and "style" in error for error in seen.errors), seen.errors
    assert any("Content Security Policy" in error and "script" in error for error in seen.errors), seen.errors
