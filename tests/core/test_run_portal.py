from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.services import PROJECT_DIR, free_port, wait_until


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


@pytest.mark.slow
def test_run_portal_serves_with_a_live_worker_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env["PORTAL_VAR_DIR"] = str(tmp_path / "var")
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_portal", "--bind", f"127.0.0.1:{port}"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        health = wait_until(
            lambda: (h := healthz(port)) and h.get("status") == "ok" and h, timeout=90, message="healthz ok"
        )
        assert health == {"status": "ok", "database": {"ok": True}, "redis": {"ok": True}, "workers": {"ok": True}}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as response:
            assert b"Sign in" in response.read()
        assert "sign in as engineer" in log_path.read_text()
        children = [int(pid) for pid in re.findall(r"Started \w+ \(pid (\d+)\)", log_path.read_text())]
        assert len(children) == 4  # redis, worker, beat, web

        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        assert [pid for pid in children if pid_alive(pid)] == []
        assert session_members(set(children)) == []  # no worker pool process or gunicorn worker left behind
        assert "Stopped." in log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


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
