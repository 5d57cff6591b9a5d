"""gunicorn with deploy/gunicorn.conf.py behind the shipped nginx configuration, on a unix socket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.deploy.conftest import Site, https_request, run_nginx
from tests.services import PROJECT_DIR, Worker, child_environment, stop_process

GUNICORN_CONF = PROJECT_DIR / "deploy" / "gunicorn.conf.py"


def production_env(site: Site, **extra: str) -> dict[str, str]:
    return child_environment(
        {
            "PORTAL_PRODUCTION": "1",
            "SECRET_KEY": "deploy-test-" + "k3y" * 20,
            "ALLOWED_HOSTS": "127.0.0.1",
            "PORTAL_REPO_ROOT": str(site.repo_root),
            "STATIC_ROOT": str(site.static_root),
            "PORTAL_WEBSERVER_USER": "nobody",
            "GUNICORN_BIND": f"unix:{site.socket}",
            "GUNICORN_WORKERS": "1",
            "GUNICORN_ACCESSLOG": "",
            **extra,
        }
    )


@contextmanager
def run_gunicorn(site: Site, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    # As root, the socket belongs to the web server's group (no access for others, from the config's umask),
    # as in production where the web server's user joins the portal's group.
    group = ["--group", "nogroup"] if os.geteuid() == 0 else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), *group],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        stop_process(proc, timeout=15)


def wait_for_socket(path: Path, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return
        if proc.poll() is not None:
            raise AssertionError(
                f"gunicorn exited with {proc.returncode}: {proc.stdout.read().decode() if proc.stdout else ''}"
            )
        time.sleep(0.05)
    raise TimeoutError(f"gunicorn did not create {path} in {timeout} s")


@pytest.mark.slow
def test_gunicorn_serves_healthz_through_nginx_on_a_unix_socket(
    site: Site, tmp_path: Path, celery_worker: Worker
) -> None:
    site.repo_root.mkdir()
    with run_gunicorn(site, production_env(site)) as proc, run_nginx(site, tmp_path / "nginx") as port:
        wait_for_socket(site.socket, proc)
        socket_mode = site.socket.stat().st_mode & 0o777
        status, _headers, body = https_request(port, "GET", "/healthz")
        login_status, login_headers, login_body = https_request(port, "GET", "/login/")

    health = json.loads(body)
    assert status == 200, health
    assert health["status"] == "ok"
    assert health == {"status": "ok", "database": {"ok": True}, "redis": {"ok": True}, "workers": {"ok": True}}
    assert socket_mode & 0o060 == 0o060  # the web server's group may connect...
    assert socket_mode & 0o007 == 0  # ...nobody else may
    # Django saw HTTPS through X-Forwarded-Proto: no redirect loop, secure cookies, HSTS.
    assert login_status == 200
    assert b"Sign in" in login_body
    assert "secure" in login_headers["set-cookie"].lower()
    assert "strict-transport-security" in login_headers
    assert "default-src 'self'" in login_headers["content-security-policy"]


def test_gunicorn_refuses_to_start_with_a_missing_tls_certificate(site: Site) -> None:
    env = production_env(site, PORTAL_TLS_CERT=str(site.root / "tls" / "missing.crt"), PORTAL_TLS_KEY=str(site.key))

    with run_gunicorn(site, env) as proc:
        proc.wait(60)
        output = proc.stdout.read().decode() if proc.stdout else ""

    assert proc.returncode != 0
    assert "refusing to start" in output
    assert f"PORTAL_TLS_CERT={site.root}/tls/missing.crt does not exist" in output
    # Never a half-working server: no socket was ever bound.
    assert not site.socket.exists()


def test_gunicorn_refuses_a_repo_folder_the_web_server_cannot_read(site: Site, tmp_path: Path) -> None:
    (site.repo_root / "prod").mkdir(parents=True)
    (site.repo_root / "prod" / "config").write_text("[core]\nmode=archive-z2\n")
    site.repo_root.chmod(0o700)

    with run_gunicorn(site, production_env(site)) as proc:
        proc.wait(60)
        output = proc.stdout.read().decode() if proc.stdout else ""

    assert proc.returncode != 0
    assert f"The web server user 'nobody' cannot read and enter {site.repo_root}" in output
    assert not site.socket.exists()
