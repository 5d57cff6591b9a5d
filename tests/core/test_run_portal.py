from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.demo_stack import running_demo
from tests.services import wait_until


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited already; only its parent's wait() is missing.
    status = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
    return status != "Z"


def session_members(session_ids: set[int]) -> list[int]:
    """Return live processes in the given sessions: each child of run_portal leads its own session."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) in session_ids and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def healthz(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return json.load(response)
    except OSError as exc:
        body = getattr(exc, "read", None)
        return json.loads(body()) if body else None


def gpg_agent_running(home: Path) -> bool:
    """Return True when a gpg-agent answers on ``home``'s socket (asked without starting one)."""
    socket_path = subprocess.run(
        ["gpgconf", f"--homedir={home}", "--list-dirs", "agent-socket"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        try:
            client.connect(socket_path)
        except OSError:
            return False
    return True


@pytest.mark.slow
def test_run_portal_serves_with_a_live_worker_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    # running_demo kills the children's sessions and the gpg-agents itself if anything here fails first.
    with running_demo(tmp_path) as stack:
        # Each gunicorn worker asks the Celery workers on its own: wait until the one answering has heard back.
        health = wait_until(
            lambda: (h := healthz(stack.port)) and h.get("status") == "ok" and h, timeout=90, message="healthz ok"
        )
        assert health == {"status": "ok", "database": {"ok": True}, "redis": {"ok": True}, "workers": {"ok": True}}
        with urllib.request.urlopen(f"{stack.url}/login/", timeout=5) as response:
            assert b"Sign in" in response.read()
        log_text = stack.log_path.read_text()
        assert "sign in as engineer" in log_text
        children = [int(pid) for pid in re.findall(r"Started \w+ \(pid (\d+)\)", log_text)]
        assert len(children) == 4  # redis, worker, beat, web
        homes = sorted(home for home in (stack.checkout / "var" / "gnupg").iterdir() if home.is_dir())
        # The demo's prod signing key started an agent: without one this test would prove nothing about stopping it.
        assert [home for home in homes if gpg_agent_running(home)] != []

        assert stack.stop() == 0
        assert [pid for pid in children if pid_alive(pid)] == []
        assert session_members(set(children)) == []  # no worker pool process or gunicorn worker left behind
        assert [home for home in homes if gpg_agent_running(home)] == []
        assert "Stopped." in stack.log_path.read_text()


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("192.0.2.7:9000", "http://192.0.2.7:9000"),
        ("[::1]:8080", "http://[::1]:8080"),
        ("portal.lan", "http://portal.lan:8000"),
    ],
)
def test_the_public_url_follows_the_bind_address(bind: str, url: str) -> None:
    from kinoite_portal.core.management.commands.run_portal import public_url_for_bind

    assert public_url_for_bind(bind) == url


def test_a_wildcard_bind_is_reached_at_this_hosts_name() -> None:
    import socket

    from kinoite_portal.core.management.commands.run_portal import public_url_for_bind

    assert public_url_for_bind("0.0.0.0:8000") == f"http://{socket.getfqdn()}:8000"
