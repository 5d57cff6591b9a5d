"""The release flow in a real browser with a real Celery worker: compose, watch the log, promote, approve, roll back.

Nothing is mocked: composes use the local backend (real ``ostree commit``), promotions and the rollback run on the
worker against real repos, and every click goes through the live server.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import expect

from kinoite_portal.ostree import portal_lock
from kinoite_portal.releases.models import Commit, Compose, Promotion

PROMOTION_URL = re.compile(r"/releases/promotions/(\d+)/$")
COMPOSE_URL = re.compile(r"/releases/composes/(\d+)/$")
NO_RELOAD = "window.__kpStillHere = true"


def state_of(page: Any, selector: str) -> str:
    return page.locator(selector).first.inner_text().strip()


def compose_now(page: Any, base: str) -> Compose:
    """Press "Compose now" on the treefile page; return the compose the portal opened."""
    page.goto(f"{base}/releases/treefiles/kinoite/")
    button = page.locator("form button", has_text="Compose now")
    assert button.get_attribute("type") == "submit"
    button.click()
    page.wait_for_url(COMPOSE_URL)
    match = COMPOSE_URL.search(page.url)
    assert match is not None
    return Compose.objects.get(pk=int(match.group(1)))


def wait_for_compose(page: Any, timeout: float = 45) -> list[tuple[str, str]]:
    """Wait, without reloading, until the compose page says the compose ended; return the (state, log) seen."""
    seen: list[tuple[str, str]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = page.get_attribute("#compose-status", "data-state") or ""
        log = page.locator("#compose-log").inner_text() if page.locator("#compose-log").count() else ""
        if not seen or seen[-1] != (state, log):
            seen.append((state, log))
        if state in {"succeeded", "failed", "cancelled", "unchanged"}:
            # The log follows on its own poll: it stops asking once it has the last line.
            page.wait_for_selector("#compose-log:not([data-tail-url])", state="attached", timeout=10_000)
            seen.append((state, page.locator("#compose-log").inner_text()))
            return seen
        page.wait_for_timeout(200)
    raise AssertionError(f"the compose page never showed the end of the compose; saw {[s for s, _ in seen]}")


def request_promotion(page: Any, base: str, commit: Commit, *, rollback: bool = False) -> str:
    """Request a promotion (or a rollback) from the commit page; return the promotion page's URL."""
    page.goto(f"{base}/releases/commits/{commit.checksum}/")
    if rollback:
        page.fill("#rb-comment", "The new plasma crashes on login.")
        page.locator("button", has_text="Request rollback").click()
    else:
        page.fill("#req-comment", f"Tested {commit.version} on the pilot ring.")
        page.locator("button", has_text="Request promotion").click()
    page.wait_for_url(PROMOTION_URL)
    return page.url


def approve(page: Any, url: str, *, shot: Any = None) -> list[str]:
    """Approve on the promotion page and watch the run to its end in place; return the run states seen."""
    page.goto(url)
    if shot is not None:
        shot(page, "flow-approval-page")
    page.evaluate(NO_RELOAD)
    button = page.locator("#promotion-panel button.approve")
    assert button.get_attribute("hx-disabled-elt") == "this"
    # Record whether htmx disabled the button while its request ran (the panel is replaced afterwards).
    page.evaluate(
        """() => {
          const button = document.querySelector('#promotion-panel button.approve');
          window.__kpDisabledWhileRunning = false;
          new MutationObserver(() => { if (button.hasAttribute('disabled')) window.__kpDisabledWhileRunning = true; })
            .observe(button, {attributes: true});
        }"""
    )
    page.fill("#vote-comment", "Package diff checked.")
    button.click()
    page.locator("#promotion-timeline .step-votes", has_text="alice").wait_for()
    states: list[str] = []
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        state = state_of(page, "#promotion-log .badge")
        if not states or states[-1] != state:
            states.append(state)
        if state in {"succeeded", "failed"}:
            break
        page.wait_for_timeout(200)
    assert states[-1] == "succeeded", f"run states seen: {states}; log: {page.locator('#promotion-log').inner_text()}"
    assert page.evaluate("window.__kpStillHere") is True, "the page reloaded"
    assert page.evaluate("window.__kpDisabledWhileRunning") is True, "Approve was not disabled while it ran"
    log = page.locator("#promotion-log pre.log").inner_text()
    assert "+ ostree " in log, log
    assert "# done:" in log, log
    # The run's end (HTTP 286 + promotionChanged) refreshes the decision panel in place too.
    expect(page.locator("#promotion-panel h2 .badge")).to_have_text("succeeded", timeout=10_000)
    return states


@pytest.mark.browser
@pytest.mark.slow
def test_release_engineer_composes_and_promotes_approver_approves_then_rollback(
    live_server: Any,
    celery_worker: Any,
    kinoite_treefile: Any,
    release_engineer: Any,
    approver: Any,
    new_page: Any,
    sign_in: Any,
    watch: Any,
    shot: Any,
) -> None:
    base = live_server.url
    rita = new_page()
    sign_in(rita, "rita")
    polls = watch(rita)

    # 1. Compose now, while another job holds the dev repo: the compose waits, says so, then runs.
    with portal_lock(settings.PORTAL_LOCK_DIR, "repo-dev", timeout=5):
        first = compose_now(rita, base)
        rita.evaluate(NO_RELOAD)
        assert state_of(rita, "#compose-status .badge") == "queued"
        rita.locator("#compose-log", has_text="Waiting for another job").wait_for(timeout=15_000)
        shot(rita, "flow-compose-waiting")
    seen = wait_for_compose(rita)
    states = [state for state, _ in seen]
    logs = [log for _, log in seen if log]
    assert states[0] == "queued", states
    assert states[-1] == "succeeded", states
    assert state_of(rita, "#compose-status .badge") == "succeeded"
    assert len(logs) >= 2, "the log never grew while the page watched"
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(logs)), "log was rewritten"
    assert "Wrote commit" in logs[-1]
    assert "Succeeded:" in logs[-1]
    assert rita.evaluate("window.__kpStillHere") is True, "the compose page reloaded"
    first.refresh_from_db()
    commit_a = first.commit
    assert commit_a is not None
    assert commit_a.version in state_of(rita, "#compose-status .facts")
    shot(rita, "flow-compose-succeeded")
    status_url = f"/releases/composes/{first.pk}/status/"
    polls_at_end = polls.count(status_url)

    # The rest of rita's work happens in a second tab; the compose tab stays open to prove its polling stopped.
    work = rita.context.new_page()
    alice = new_page()
    sign_in(alice, "alice")

    # 2. Publish the first commit to prod, so there is an earlier prod commit to roll back to.
    approve(alice, request_promotion(work, base, commit_a))

    # 3. A second revision (edited in the admin form) composes to a commit with package upgrades.
    work.goto(f"{base}/admin/releases/treefile/{kinoite_treefile.pk}/change/")
    content = json.loads(work.input_value("#id_content"))
    content["packages"].append("flatpak")
    work.fill("#id_content", json.dumps(content, indent=2))
    work.fill("#id_comment", "Add flatpak")
    work.locator("input[name=_save]").click()
    work.wait_for_url(re.compile(r"/admin/releases/treefile/$"))
    second = compose_now(work, base)
    assert wait_for_compose(work)[-1][0] == "succeeded"
    second.refresh_from_db()
    commit_b = second.commit
    assert commit_b is not None
    assert commit_b.version != commit_a.version

    # 4. Rita requests its promotion; Alice sees the package diff and approves; the run streams in place.
    url = request_promotion(work, base, commit_b)
    alice.goto(url)
    upgraded = alice.locator("table.pkgdiff tr", has=alice.locator("td", has_text="upgraded"))
    assert upgraded.count() >= 1
    _name, change, before, after = (cell.strip() for cell in upgraded.first.locator("td").all_inner_texts())
    assert change == "upgraded"
    assert before
    assert after
    assert before != after
    assert alice.locator("table.pkgdiff td", has_text="flatpak").count() == 1
    run_states = approve(alice, url, shot=shot)
    assert run_states[0] in {"requested", "approved", "queued", "running"}
    shot(alice, "flow-promotion-succeeded")
    alice.goto(f"{base}/")
    assert commit_b.version in state_of(alice, "#lane-kinoite .now")
    shot(alice, "flow-dashboard-promoted")

    # 5. Roll back to the first commit from its commit page: prod gets a NEW version with the old tree.
    rollback_url = request_promotion(work, base, commit_a, rollback=True)
    shot(work, "flow-rollback-requested")
    approve(alice, rollback_url)
    promotion = Promotion.objects.select_related("published_commit").get(
        pk=int(PROMOTION_URL.search(rollback_url).group(1))
    )  # type: ignore[union-attr]
    restored = promotion.published_commit
    assert restored is not None
    assert restored.content_checksum == commit_a.content_checksum
    assert restored.checksum not in {commit_a.checksum, commit_b.checksum}
    assert restored.version not in {commit_a.version, commit_b.version}
    alice.goto(f"{base}/")
    now = state_of(alice, "#lane-kinoite .now")
    assert restored.version in now
    assert commit_b.version not in now
    prod_rows = alice.locator("#lane-kinoite .history > div").nth(1).locator("tbody tr")
    assert "rollback" in prod_rows.first.inner_text()
    shot(alice, "flow-dashboard-rolled-back")
    work.goto(f"{base}/releases/commits/{restored.checksum}/")
    assert commit_a.checksum[:12] in work.locator(".facts").first.inner_text()
    shot(work, "flow-commit-restored")

    # 6. Long after its compose ended, the first compose tab has not polled again.
    assert polls.count(status_url) == polls_at_end
    assert rita.evaluate("window.__kpStillHere") is True
