"""Browser fixtures: Debian's chromium driven by Playwright against the live test server, with screenshots."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls these tests make are synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PROJECT_DIR = Path(__file__).resolve().parents[2]


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("chromium is not installed: run deploy/dev/install-system-packages.sh test")
    return path


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Return the folder this run writes screenshots to (PORTAL_SCREENSHOT_DIR, else test-artifacts/screenshots)."""
    folder = Path(os.environ.get("PORTAL_SCREENSHOT_DIR", PROJECT_DIR / "test-artifacts" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    """A 1280 px page in the Europe/Berlin time zone."""
    return new_page()


@pytest.fixture
def sign_in(live_server) -> Callable[[Page, str], None]:  # type: ignore[no-untyped-def]
    """Return a function that signs a page in through the real login form."""

    def sign_in_as(page: Page, username: str) -> None:
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", f"pw-{username}")
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "/login/" not in page.url, f"sign-in as {username} failed"

    return sign_in_as


@pytest.fixture
def shot(screenshot_dir: Path) -> Callable[[Page, str], Path]:
    """Return a function that saves a full-page screenshot under a name."""

    def save(page: Page, name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


# --- Watching a page: console errors, failed requests, requests that leave the live server -----------------------


class PageWatch:
    """Record what a page logs to its console and which URLs it requests, so a test can assert on both."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url.rstrip("/")
        self.requests: list[str] = []
        self.errors: list[str] = []
        self._handlers: dict[str, Callable[[Any], None]] = {
            "request": lambda request: self.requests.append(request.url),
            "console": lambda msg: self.errors.append(f"console: {msg.text}") if msg.type == "error" else None,
            "pageerror": lambda exc: self.errors.append(f"page error: {exc}"),
            "requestfailed": lambda request: self.errors.append(f"request failed: {request.url} {request.failure}"),
        }
        for event, handler in self._handlers.items():
            page.on(event, handler)  # type: ignore[call-overload]

    def stop(self) -> None:
        """Stop recording (the record stays)."""
        for event, handler in self._handlers.items():
            self.page.remove_listener(event, handler)

    def foreign_requests(self) -> list[str]:
        """Return every requested URL that is not on the live server (data: URLs are inline, not requests)."""
        return [url for url in self.requests if not url.startswith((self.base_url + "/", "data:"))]

    def count(self, fragment: str) -> int:
        return sum(fragment in url for url in self.requests)


@pytest.fixture
def watch(live_server) -> Callable[[Page], PageWatch]:  # type: ignore[no-untyped-def]
    """Return a function that starts recording a page's console errors and requests."""
    return lambda page: PageWatch(page, live_server.url)


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Return a function that opens a page in a NEW browser context (another person, own cookies)."""
    contexts = []

    def make(width: int = 1280, height: int = 900, locale: str | None = None) -> Page:
        context = browser.new_context(
            viewport={"width": width, "height": height},
            timezone_id="Europe/Berlin",
            is_mobile=width < 600,
            **({"locale": locale} if locale else {}),
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield make
    for context in contexts:
        context.close()


# --- Data: real stages with tmp repos, the seed treefile, and the demo data set ----------------------------------

from tests.releases.conftest import REF_STABLE  # noqa: E402


@pytest.fixture
def flow_stages(transactional_db: None, tmp_path: Path) -> dict[str, Any]:
    """Create dev and prod with archive repos under tmp_path; prod needs no week in dev, so a flow fits in a test."""
    from kinoite_portal.releases.services.stages import stage_ensure

    return {
        "dev": stage_ensure(name="dev", order=0, repo_path=str(tmp_path / "repos" / "dev")),
        "prod": stage_ensure(
            name="prod", order=1, repo_path=str(tmp_path / "repos" / "prod"), min_days_in_previous_stage=0
        ),
    }


@pytest.fixture
def kinoite_treefile(flow_stages: dict[str, Any]) -> Any:
    """Save the seed article's treefile ``kinoite`` as revision 1."""
    from kinoite_portal.releases.demo import SEED_TREEFILE
    from kinoite_portal.releases.services.treefiles import treefile_save

    return treefile_save(
        name="kinoite", content=dict(SEED_TREEFILE), published_ref=REF_STABLE, description="Kinoite desktop"
    )


@pytest.fixture
def demo_data(transactional_db: None, release_engineer: Any, approver: Any, department_head: Any) -> dict[str, Any]:
    """Build the demo data set in this process, as ``manage.py seed_demo`` does (real local composes, a real
    promotion into prod, one promotion waiting for a vote, three departments with 40 desktops); the department
    head ``dora`` heads Finance."""
    from kinoite_portal.fleet.demo import seed_departments, seed_hosts
    from kinoite_portal.fleet.models import Department, Host
    from kinoite_portal.releases.demo import seed_stages, seed_treefile
    from kinoite_portal.releases.demo_composes import seed_composes
    from kinoite_portal.releases.demo_promotions import seed_promotions
    from kinoite_portal.releases.models import Promotion

    seed_stages()
    seed_treefile()
    composes = seed_composes()
    promotions = seed_promotions()
    departments = seed_departments()
    seed_hosts()
    finance = Department.objects.get(slug="finance")
    finance.heads.add(department_head)
    return {
        "composes": composes,
        "promotions": promotions,
        "waiting": Promotion.objects.get(state=Promotion.State.REQUESTED),
        "departments": departments,
        "finance": finance,
        "other_department": Department.objects.exclude(pk=finance.pk).first(),
        "finance_host": Host.objects.filter(department=finance).first(),
        "other_host": Host.objects.exclude(department=finance).first(),
    }
