from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update(
        {
            "PORTAL_PRODUCTION": "1",
            "SECRET_KEY": "x7#" * 20 + "a-long-random-production-secret",
            "ALLOWED_HOSTS": "portal.example.com",
            "PORTAL_VAR_DIR": str(tmp_path),
            **extra,
        }
    )
    return env


def test_check_deploy_is_clean_in_production_mode(tmp_path: Path) -> None:
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_mode_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["SECRET_KEY"]

    result = run_manage("check", env=env)

    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) must be set" in result.stderr


def test_production_mode_refuses_debug(tmp_path: Path) -> None:
    result = run_manage("check", env=production_env(tmp_path, DEBUG="1"))

    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr


def test_secret_key_file_is_read(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("secret-from-a-file-" + "0123456789abcdefghij" * 3)
    env = production_env(tmp_path, SECRET_KEY_FILE=str(key_file))
    del env["SECRET_KEY"]

    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 0, result.stderr
