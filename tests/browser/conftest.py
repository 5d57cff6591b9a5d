"""Browser fixtures: Debian's chromium driven by Playwright against the live test server, with screenshots."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls these tests make are synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

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
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Europe/Berlin")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def narrow_page(browser: Browser) -> Iterator[Page]:
    """A phone-sized page (390 px wide)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


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
