"""Real services for the test suite: a throwaway Redis and real Celery worker processes.

Nothing here is mocked: the worker is the same ``celery worker`` command that production runs, talking to a
real Redis and to the test database.
"""

from __future__ import annotations

import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

PROJECT_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until something accepts connections on 127.0.0.1:port; fail early if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    """Stop a child process: the given signal, then SIGKILL if it does not exit in time."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """Run a throwaway redis-server on a free loopback port and yield its URL."""
    with redis_process(workdir) as (url, _proc):
        yield url


@contextmanager
def redis_process(workdir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run a throwaway redis-server on a free loopback port; yield its URL and its process (to stop or freeze)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run deploy/dev/install-system-packages.sh test")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(workdir),
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc=proc)
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # a frozen server cannot act on SIGTERM
            stop_process(proc)


def child_database_url() -> str:
    """Return a DATABASE_URL that points a child process at the database this test run uses."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    return f"postgres://{credentials}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment for a portal process that shares this test run's database, broker and folders."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kinoite_portal.settings",
        "DATABASE_URL": child_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_KEY_PREFIX": str(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")),
        "PORTAL_REPO_ROOT": str(settings.PORTAL_REPO_ROOT),
        "PORTAL_LOCK_DIR": str(settings.PORTAL_LOCK_DIR),
        "PORTAL_GNUPG_ROOT": str(settings.PORTAL_GNUPG_ROOT),
        "PORTAL_COMPOSE_WORKDIR": str(settings.PORTAL_COMPOSE_WORKDIR),
        "PORTAL_COMPOSE_CONFIG_DIR": str(settings.PORTAL_COMPOSE_CONFIG_DIR),
        "PORTAL_BUILDAH_ROOT": str(settings.PORTAL_BUILDAH_ROOT),
        "PORTAL_COMPOSE_BACKEND": settings.PORTAL_COMPOSE_BACKEND,
        "PORTAL_SIGSTORE_ROOT": str(settings.PORTAL_SIGSTORE_ROOT),
        "PORTAL_REGISTRY_AUTH_FILE": str(settings.PORTAL_REGISTRY_AUTH_FILE),
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(PROJECT_DIR),
    }
    env.pop("PORTAL_TEST_DB", None)
    env.update(extra or {})
    return env


@dataclass
class Worker:
    """A running ``celery worker`` process and its log file."""

    proc: subprocess.Popen[bytes]
    name: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """Kill the worker the hard way, as an out-of-memory killer or a power cut would."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def start_worker(
    log_dir: Path,
    *,
    queues: str = "default,compose,repo",
    pool: str = "solo",
    concurrency: int = 1,
    extra_env: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    name_prefix: str = "test",
) -> Worker:
    """Start a real Celery worker and wait until it is ready.

    By default it shares this test run's database, broker and folders (``child_environment``); the benchmarks pass
    an ``env`` of their own.
    """
    name = f"{name_prefix}-{uuid.uuid4().hex[:8]}@%h"
    log_path = log_dir / f"worker-{uuid.uuid4().hex[:6]}.log"
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "kinoite_portal",
        "worker",
        "-n",
        name,
        "-Q",
        queues,
        f"--pool={pool}",
        f"--concurrency={concurrency}",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=INFO",
    ]
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            cmd,
            cwd=PROJECT_DIR,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else child_environment(extra_env),
            start_new_session=True,
        )
    worker = Worker(proc=proc, name=name.replace("%h", socket.gethostname()), log_path=log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if " ready." in worker.log():
            return worker
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with {proc.returncode}:\n{worker.log()}")
        time.sleep(0.05)
    worker.stop()
    raise TimeoutError(f"celery worker not ready after {timeout} s:\n{worker.log()}")


def wait_until(predicate, *, timeout: float = 30.0, interval: float = 0.1, message: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns a truthy value, and return that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{message} not reached after {timeout} s")


def new_key_prefix() -> str:
    """Return a Redis key prefix unique to one test run."""
    return f"kp-test-{uuid.uuid4().hex[:12]}:"


@contextmanager
def stalling_http_url(name: str = "big.bin") -> Iterator[str]:
    """Yield a loopback URL that sends the first KB of a 1 GB file and then stalls: a download of it never ends.

    A build step that fetches it (``ADD <url>``) stays busy for as long as a test needs to cancel or time it out.
    """
    stop = threading.Event()

    class Stalling(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 30))
            self.end_headers()
            self.wfile.write(b"x" * 1024)
            self.wfile.flush()
            stop.wait(60)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stalling)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{name}"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
