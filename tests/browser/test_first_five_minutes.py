"""The demo as a new admin meets it: `make run`'s own stack, a desktop set up exactly as the client setup page says
(gpg-verify and gpg-verify-summary on), and a promotion that a person approves in the browser."""

from __future__ import annotations

import re
import shlex
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.demo_stack import DemoStack, running_demo
from tests.releases.conftest import REF_STABLE


def ostree(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ostree", *args], capture_output=True, text=True, timeout=120)


def sign_in(page: Any, stack: DemoStack, username: str) -> None:
    page.goto(f"{stack.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", stack.password(username))
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login/" not in page.url, f"sign-in as {username} failed"


def follow_setup_page(commands: dict[str, str], client: Path, key_dir: Path) -> None:
    """Run the page's commands for prod on a client repo: the same arguments, pointed at folders of the test."""
    key_command = shlex.split(commands["key"])
    assert key_command[:3] == ["curl", "-fsSL", "-o"]
    key_path, key_url = key_command[3], key_command[4]
    local_key = key_dir / Path(key_path).name
    with urllib.request.urlopen(key_url, timeout=10) as response:  # what curl -fsSL -o does
        local_key.write_bytes(response.read())
    remote_add = shlex.split(commands["remote"].replace("\\\n", " "))
    assert remote_add[:3] == ["ostree", "remote", "add"]
    assert "--set=gpg-verify=true" in remote_add
    assert "--set=gpg-verify-summary=true" in remote_add
    arguments = [f"--gpg-import={local_key}" if a == f"--gpg-import={key_path}" else a for a in remote_add[3:]]
    assert ostree("init", "--mode=bare-user", f"--repo={client}").returncode == 0
    added = ostree("remote", "add", f"--repo={client}", *arguments)
    assert added.returncode == 0, added.stderr


def pull_prod(client: Path, remote: str) -> str:
    pulled = ostree("pull", f"--repo={client}", remote, REF_STABLE)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    return ostree("rev-parse", f"--repo={client}", f"{remote}:{REF_STABLE}").stdout.strip()


@pytest.mark.browser
@pytest.mark.slow
def test_a_desktop_set_up_from_the_page_pulls_verified_prod_before_and_after_an_approval_in_the_browser(
    tmp_path: Path, new_page: Any, shot: Any
) -> None:
    with running_demo(tmp_path) as stack:
        admin = new_page()
        sign_in(admin, stack, "admin")
        admin.goto(f"{stack.url}/fleet/client-setup/")
        shot(admin, "client-setup")
        assert admin.locator("#public-url-mismatch").count() == 0
        assert admin.locator("#stage-prod .warn").count() == 0  # the demo's prod signs: no unverified setup
        commands = {
            "key": admin.locator("#cmd-key-prod").inner_text(),
            "remote": admin.locator("#cmd-remote-prod").inner_text(),
        }
        assert f"{stack.url}/repo/prod/" in commands["remote"]  # the address run_portal serves, not :8000
        copy = admin.locator("button[data-copy-target=cmd-remote-prod]")
        admin.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.url)
        copy.click()
        admin.locator("button[data-copy-target=cmd-remote-prod]", has_text="Copied").wait_for()
        assert admin.evaluate("navigator.clipboard.readText()") == commands["remote"]
        # Where the browser offers no clipboard (plain http on another host), the button selects the command instead.
        admin.evaluate("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
        admin.locator("button[data-copy-target=cmd-key-prod]").click()
        admin.locator("button[data-copy-target=cmd-key-prod]", has_text="Selected: press Ctrl+C").wait_for()
        assert admin.evaluate("window.getSelection().toString()") == commands["key"]
        client = tmp_path / "desktop"
        follow_setup_page(commands, client, tmp_path)
        remote = shlex.split(commands["remote"].replace("\\\n", " "))[-2]

        before = pull_prod(client, remote)

        approver = new_page()
        sign_in(approver, stack, "approver")
        listed = stack.manage("list_promotions", "--open")
        waiting = re.search(r"^#(\d+)\s+promote\s+requested\s+\S+\s+([0-9a-f]{12})", listed.stdout, re.MULTILINE)
        assert waiting, listed.stdout
        approver.goto(f"{stack.url}/releases/promotions/{waiting.group(1)}/")
        approver.fill("#vote-comment", "Package diff checked.")
        approver.locator("#promotion-panel button.approve").click()
        # A locator, not wait_for_function: a string predicate is evaluated with eval, which the CSP refuses.
        expect(approver.locator("#promotion-panel h2 .badge")).to_have_text("succeeded", timeout=90_000)
        shot(approver, "first-five-minutes-approved")

        after = pull_prod(client, remote)
        assert after != before
        assert after.startswith(waiting.group(2))
        verified = ostree("show", f"--repo={client}", after)
        assert "Found 1 signature" in verified.stdout, verified.stdout + verified.stderr
        assert stack.stop() == 0
