"""A second `manage.py` finds `make run`'s Redis through var/run/portal.json, and ignores a file a crash left behind."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from kinoite_portal.core.run_state import run_state_path, run_state_read, run_state_remove, run_state_write
from tests.services import PROJECT_DIR


def listening_socket(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen(1)
    return sock


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def settings_seen_by_a_fresh_process(var_dir: Path) -> dict[str, str]:
    code = (
        "from django.conf import settings; import json; "
        "print(json.dumps([settings.REDIS_URL, settings.CELERY_BROKER_URL]))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=PROJECT_DIR,
        env={"PATH": os.environ["PATH"], "HOME": str(var_dir), "PORTAL_VAR_DIR": str(var_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    redis_url, broker_url = json.loads(result.stdout.strip().splitlines()[-1])
    return {"REDIS_URL": redis_url, "CELERY_BROKER_URL": broker_url}


def test_it_gives_a_fresh_process_the_running_stacks_redis_socket(tmp_path: Path) -> None:
    sock_path = tmp_path / "run" / "redis.sock"
    sock_path.parent.mkdir()
    with listening_socket(sock_path):
        run_state_write(var_dir=tmp_path, values={"REDIS_URL": f"unix://{sock_path}", "SECRET_KEY": "not shared"})

        seen = settings_seen_by_a_fresh_process(tmp_path)

    assert seen == {"REDIS_URL": f"unix://{sock_path}", "CELERY_BROKER_URL": f"redis+socket://{sock_path}"}
    assert "SECRET_KEY" not in run_state_path(tmp_path).read_text()
    assert run_state_path(tmp_path).stat().st_mode & 0o777 == 0o600


def test_it_ignores_a_file_whose_socket_no_longer_answers(tmp_path: Path) -> None:
    sock_path = tmp_path / "run" / "redis.sock"
    sock_path.parent.mkdir()
    listening_socket(sock_path).close()  # the socket file stays, as after a crash
    run_state_write(var_dir=tmp_path, values={"REDIS_URL": f"unix://{sock_path}"})

    assert sock_path.exists()
    assert run_state_read(tmp_path) == {}
    assert settings_seen_by_a_fresh_process(tmp_path)["REDIS_URL"] == "redis://127.0.0.1:6379/0"


def test_it_ignores_a_file_whose_process_is_gone(tmp_path: Path) -> None:
    path = run_state_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"pid": dead_pid(), "REDIS_URL": "redis://127.0.0.1:6390/0"}))

    assert run_state_read(tmp_path) == {}


def test_it_ignores_a_damaged_file(tmp_path: Path) -> None:
    path = run_state_path(tmp_path)
    path.parent.mkdir(parents=True)
    for text in ("{not json", "[1, 2]", json.dumps({"pid": "1", "REDIS_URL": "redis://x/0"})):
        path.write_text(text)
        assert run_state_read(tmp_path) == {}, text


def test_it_lets_the_environment_win_over_the_file(tmp_path: Path) -> None:
    sock_path = tmp_path / "run" / "redis.sock"
    sock_path.parent.mkdir()
    with listening_socket(sock_path):
        run_state_write(var_dir=tmp_path, values={"REDIS_URL": f"unix://{sock_path}"})
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", "from django.conf import settings; print(settings.REDIS_URL)"],
            cwd=PROJECT_DIR,
            env={"PATH": os.environ["PATH"], "PORTAL_VAR_DIR": str(tmp_path), "REDIS_URL": "redis://10.0.0.9:6379/2"},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )

    assert result.stdout.strip().splitlines()[-1] == "redis://10.0.0.9:6379/2"


def test_it_removes_only_the_file_this_process_wrote(tmp_path: Path) -> None:
    path = run_state_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"pid": os.getpid() + 1, "REDIS_URL": "redis://x/0"}))
    run_state_remove(var_dir=tmp_path)
    assert path.exists()

    run_state_write(var_dir=tmp_path, values={"REDIS_URL": "redis://x/0"})
    run_state_remove(var_dir=tmp_path)
    assert not path.exists()
