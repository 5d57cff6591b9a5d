"""The live compose log: new lines are appended, the tail is followed unless the reader scrolled up."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from kinoite_portal.releases.models import Compose
from kinoite_portal.releases.services.composes import compose_request
from kinoite_portal.releases.services.joblog import JobLog

pytestmark = pytest.mark.browser


def write_lines(compose: Compose, first: int, count: int) -> None:
    """Append lines through the sink the worker uses."""
    log = JobLog(Compose, compose.pk)
    for number in range(first, first + count):
        log.write(f"line {number}: resolving packages")


def log_geometry(page: Any) -> dict[str, float]:
    return page.evaluate(
        """() => { const log = document.getElementById('compose-log');
                   return {top: log.scrollTop, bottom: log.scrollHeight - log.scrollTop - log.clientHeight,
                           page: window.scrollY}; }"""
    )


@pytest.mark.parametrize("width", [1280, 390])
def test_it_appends_new_lines_and_keeps_the_readers_scroll_position(
    width: int, kinoite_treefile: Any, release_engineer: Any, new_page: Any, sign_in: Any, live_server: Any, shot: Any
) -> None:
    compose = compose_request(treefile=kinoite_treefile, user=release_engineer, enqueue=False)
    Compose.objects.filter(pk=compose.pk).update(state=Compose.State.RUNNING, started_at=timezone.now())
    write_lines(compose, 1, 120)
    page = new_page(width, 700)
    sign_in(page, "rita")
    page.goto(f"{live_server.url}/releases/composes/{compose.pk}/")
    log = page.locator("#compose-log")
    assert "line 120:" in log.inner_text()
    assert log_geometry(page)["bottom"] < 8, "a running compose's log opens on its tail"
    assert page.locator("#compose-status").get_by_text("Running for").count() == 1
    assert "waiting for a worker" not in page.locator("#compose-status").inner_text()

    # Following: new lines arrive at the bottom, and the box stays on the tail.
    write_lines(compose, 121, 10)
    page.locator("#compose-log", has_text="line 130:").wait_for(timeout=10_000)
    assert log_geometry(page)["bottom"] < 8
    assert log.inner_text().count("line 1:") == 1, "the log was appended, not repeated"

    # The reader scrolls the page and the log up to read: new lines must not move either.
    page.evaluate("document.getElementById('compose-log').scrollTop = 40")
    page.evaluate("window.scrollTo(0, 208)")
    before = log_geometry(page)
    write_lines(compose, 131, 30)
    page.locator("#compose-log", has_text="line 160:").wait_for(timeout=10_000)
    after = log_geometry(page)
    assert (after["top"], after["page"]) == (before["top"], before["page"])
    assert after["bottom"] > before["bottom"], "the new lines went below what the reader looks at"
    shot(page, f"compose-log-reading-{'wide' if width > 600 else 'narrow'}")

    # The end: the last lines arrive and the page stops asking.
    write_lines(compose, 161, 1)
    Compose.objects.filter(pk=compose.pk).update(state=Compose.State.SUCCEEDED, finished_at=timezone.now())
    page.wait_for_selector("#compose-log:not([data-tail-url])", state="attached", timeout=10_000)
    assert log.inner_text().rstrip().endswith("line 161: resolving packages")
