"""Helpers shared by the benchmark items: scratch folders, throwaway PostgreSQL databases and Redis, Django setup."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# The same real-service helpers the test suite uses: one throwaway Redis recipe, one port probe.
from tests.services import free_port, start_worker, wait_for_port

PROJECT_DIR = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
_T0 = time.monotonic()


def say(message: str) -> None:
    """Print a progress line (to stderr, so the table on stdout stays clean)."""
    print(f"[bench {time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def percentile(values: list[float], pct: float) -> float:
    """Return the ``pct`` percentile with linear interpolation (p95 of 30 samples sits between the 28th and 29th)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * pct / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@contextmanager
def scratch_dir(name: str) -> Iterator[Path]:
    """Yield a fresh folder under BENCH_TMPDIR (else the system temp dir); removed afterwards."""
    root = os.environ.get("BENCH_TMPDIR") or None
    path = Path(tempfile.mkdtemp(prefix=f"kinoite-bench-{name}-", dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def stop_group(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Stop a child started with start_new_session=True and everything it started: TERM, then KILL."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        proc.wait(5)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@contextmanager
def postgres_database() -> Iterator[str]:
    """Create a database ``kinoite_bench_<random>`` on the bench PostgreSQL, yield its URL, drop it afterwards."""
    import psycopg

    name = f"kinoite_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    say(f"created database {name}")
    try:
        yield _with_database(PG_ADMIN_URL, name)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def portal_environment(*, database_url: str, var_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment for a portal process (this one, a worker, gunicorn) on the bench database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kinoite_portal.settings",
        "DATABASE_URL": database_url,
        "PORTAL_VAR_DIR": str(var_dir),
        "PORTAL_REPO_ROOT": str(var_dir / "ostree"),
        "PORTAL_LOCK_DIR": str(var_dir / "locks"),
        "PORTAL_GNUPG_ROOT": str(var_dir / "gnupg"),
        "PORTAL_COMPOSE_WORKDIR": str(var_dir / "compose"),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(PROJECT_DIR),
    }
    for name in (
        "DEBUG",
        "PORTAL_PRODUCTION",
        "PORTAL_TEST_DB",
        "CELERY_KEY_PREFIX",
        "DJANGO_SETTINGS_MODULE_OVERRIDE",
    ):
        env.pop(name, None)
    env.update(extra or {})
    return env


def django_setup(env: Mapping[str, str], *, migrate: bool = True) -> None:
    """Point this process at the bench database and folders, set Django up and migrate."""
    os.environ.update(env)
    import django
    from django.core.management import call_command

    django.setup()
    if migrate:
        say("migrating the bench database")
        call_command("migrate", verbosity=0, interactive=False)


@contextmanager
def celery_worker(env: Mapping[str, str], log_dir: Path, *, queues: str = "default,compose,repo") -> Iterator[Path]:
    """Start a real ``celery worker`` on the bench's database and broker and yield its log path; stopped afterwards."""
    worker = start_worker(log_dir, queues=queues, env=env, timeout=60, name_prefix="bench")
    try:
        yield worker.log_path
    finally:
        worker.stop()


def configure_celery_client(broker_url: str) -> None:
    """Point this process's Celery app at the bench broker (the worker gets the same URL via its environment)."""
    from django.conf import settings

    from kinoite_portal.celery import app

    settings.CELERY_BROKER_URL = broker_url
    app.conf.broker_url = broker_url


def gunicorn_command(port: int, *, workers: int | None = None, access_log: Path | None = None) -> tuple[list[str], str]:
    """Return the gunicorn command line for 127.0.0.1:port and a description of where its settings came from.

    deploy/gunicorn.conf.py (the production config) is used when it exists; only the bind address is overridden.
    """
    cmd = [sys.executable, "-m", "gunicorn", "kinoite_portal.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    config = PROJECT_DIR / "deploy" / "gunicorn.conf.py"
    if config.is_file():
        cmd += ["--config", str(config)]
        source = "deploy/gunicorn.conf.py"
    else:
        cmd += ["--workers", "2"]
        source = "2 sync workers (deploy/gunicorn.conf.py does not exist yet)"
    if workers is not None:
        cmd += ["--workers", str(workers)]
    if access_log is not None:
        cmd += ["--access-logfile", str(access_log), "--access-logformat", '%(s)s %(B)s %({content-length}o)s "%(r)s"']
    return cmd, source


@contextmanager
def gunicorn(env: Mapping[str, str], log_dir: Path, *, access_log: Path | None = None) -> Iterator[tuple[int, str]]:
    """Run gunicorn on a free loopback port; yield (port, where its settings came from)."""
    port = free_port()
    cmd, source = gunicorn_command(port, access_log=access_log)
    log_path = log_dir / "gunicorn.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            cmd, cwd=PROJECT_DIR, stdout=log_file, stderr=subprocess.STDOUT, env=dict(env), start_new_session=True
        )
    try:
        try:
            wait_for_port(port, timeout=60, proc=proc)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"gunicorn did not start: {exc}\n{log_path.read_text()[-3000:]}") from None
        yield port, source
    finally:
        stop_group(proc)


def promote_through_worker(checksum: str, requester: Any, approver: Any, timeout: float = 900) -> Any:
    """Request and approve a promotion of ``checksum`` through the services; return it once the worker finished it."""
    from kinoite_portal.releases.models import Promotion
    from kinoite_portal.releases.services.approvals import approval_grant
    from kinoite_portal.releases.services.promotions import promotion_request

    promotion = promotion_request(user=requester, checksum=checksum, comment="bench")
    approval_grant(user=approver, promotion=promotion, comment="bench")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        promotion.refresh_from_db()
        if promotion.state in Promotion.FINISHED_STATES:
            break
        time.sleep(0.05)
    else:
        raise TimeoutError(f"promotion #{promotion.pk} still {promotion.state} after {timeout} s")
    if promotion.state != Promotion.State.SUCCEEDED:
        raise RuntimeError(f"promotion #{promotion.pk} {promotion.state}: {promotion.failure_reason}\n{promotion.log}")
    return promotion


def queries_of_get(client: Any, url: str) -> int:
    """Return how many SQL queries one GET of ``url`` runs: unlike its time, the count does not vary with the load.

    Counted with an execute wrapper: CaptureQueriesContext loses the queries of a whole request, because
    request_started resets the connection's query log.
    """
    from django.db import connection

    queries: list[str] = []
    with connection.execute_wrapper(
        lambda execute, sql, params, many, context: queries.append(sql) or execute(sql, params, many, context)
    ):
        if client.get(url).status_code != 200:
            raise RuntimeError(f"GET {url} did not answer 200")
    return len(queries)
