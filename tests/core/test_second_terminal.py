"""`make run` in one terminal, `manage.py` in another: no exports, the same Redis and database."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.test_run_portal import healthz
from tests.services import PROJECT_DIR, free_port, wait_until


def fresh_checkout(target: Path) -> Path:
    """Copy the portal into a folder of its own, so `var/` is that copy's, as in a fresh clone."""
    target.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("kinoite_portal", "templates", "static"):
        shutil.copytree(PROJECT_DIR / folder, target / folder, ignore=ignore)
    shutil.copy(PROJECT_DIR / "manage.py", target)
    return target


def clean_env(home: Path) -> dict[str, str]:
    """What a new terminal has: no DATABASE_URL, no REDIS_URL, no PORTAL_* variables."""
    return {"PATH": os.environ["PATH"], "HOME": str(home)}


def manage(checkout: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=checkout,
        env=clean_env(checkout.parent),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
def test_it_runs_a_compose_and_an_approval_queued_from_a_second_terminal(tmp_path: Path) -> None:
    checkout = fresh_checkout(tmp_path / "checkout")
    port = free_port()
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        portal = subprocess.Popen(
            [sys.executable, "manage.py", "run_portal", "--bind", f"127.0.0.1:{port}"],
            cwd=checkout,
            env=clean_env(tmp_path),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: (h := healthz(port)) and h.get("status") == "ok", timeout=120, message="healthz ok")
        state_file = checkout / "var" / "run" / "portal.json"
        assert state_file.exists()

        composed = manage(checkout, "compose", "kinoite", "--wait", "--wait-timeout=120")
        assert composed.returncode == 0, composed.stdout + composed.stderr
        # The worker ran it: the demo composed these inputs a moment ago, so it finds nothing new to commit.
        assert '"state": "unchanged"' in composed.stdout
        assert "the input hash matches the current dev commit" in composed.stdout

        listed = manage(checkout, "list_promotions", "--open")
        requested = re.search(r"^#(\d+)\s+promote\s+requested", listed.stdout, re.MULTILINE)
        assert requested, listed.stdout
        approved = manage(checkout, "approve", requested.group(1), "--as", "approver", "--wait", "--wait-timeout=120")
        assert approved.returncode == 0, approved.stdout + approved.stderr
        assert approved.stdout.strip().splitlines()[-1] == f"Promote #{requested.group(1)} is succeeded"

        portal.send_signal(signal.SIGINT)
        assert portal.wait(60) == 0
        assert not state_file.exists()
        after = manage(checkout, "compose", "kinoite", "--wait", "--wait-timeout=60")
        assert after.returncode == 1
        assert "the broker redis://127.0.0.1:6379/0 cannot be reached" in after.stderr or (
            "no worker is listening on the compose queue of redis://127.0.0.1:6379/0" in after.stderr
        )
    finally:
        if portal.poll() is None:
            portal.kill()
            portal.wait()
