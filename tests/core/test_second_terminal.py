"""`make run` in one terminal, `manage.py` in another: no exports, the same Redis and database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.demo_stack import running_demo


@pytest.mark.slow
def test_it_runs_a_compose_and_an_approval_queued_from_a_second_terminal(tmp_path: Path) -> None:
    with running_demo(tmp_path) as stack:
        state_file = stack.checkout / "var" / "run" / "portal.json"
        assert state_file.exists()

        composed = stack.manage("compose", "kinoite", "--wait", "--wait-timeout=120")
        assert composed.returncode == 0, composed.stdout + composed.stderr
        # The worker ran it: the demo composed these inputs a moment ago, so it finds nothing new to commit.
        assert '"state": "unchanged"' in composed.stdout
        assert "the input hash matches the current dev commit" in composed.stdout

        listed = stack.manage("list_promotions", "--open")
        requested = re.search(r"^#(\d+)\s+promote\s+requested", listed.stdout, re.MULTILINE)
        assert requested, listed.stdout
        approved = stack.manage("approve", requested.group(1), "--as", "approver", "--wait", "--wait-timeout=120")
        assert approved.returncode == 0, approved.stdout + approved.stderr
        assert approved.stdout.strip().splitlines()[-1] == f"Promote #{requested.group(1)} is succeeded"

        assert stack.stop() == 0
        assert not state_file.exists()
        after = stack.manage("compose", "kinoite", "--wait", "--wait-timeout=60")
        assert after.returncode == 1
        assert "redis://127.0.0.1:6379/0" in after.stderr  # back to the default broker, and it says so
        assert "is the worker running?" in after.stderr or "is Redis running?" in after.stderr
