"""Item 7: page latency while 30 callers poll GET /healthz, each once a second, against the same page without them.

/healthz asks the Celery workers whether they are up, which takes up to a second; load balancers and monitors call
it anonymously and often. The answer about the workers is kept a few seconds per process (``core.queues``), so 30
concurrent probes cost one question per period and the gunicorn workers stay free for pages. Real gunicorn with the
production settings, a real worker on a real Redis, PostgreSQL; the page is the dashboard of a signed-in user.
"""

from __future__ import annotations

import http.client
import secrets
import threading
import time

from bench.common import (
    celery_worker,
    configure_celery_client,
    django_setup,
    gunicorn,
    median,
    percentile,
    portal_environment,
    postgres_database,
    say,
    scratch_dir,
)
from bench.report import ItemResult, Row
from tests.services import redis_server

ITEM = 7
FULL = {"requests": 60, "probes": 30}
QUICK = {"requests": 10, "probes": 30}
PROBE_EVERY_S = 1.0
TARGET_RATIO = 2.0


def _get(connection: http.client.HTTPConnection, path: str, cookie: str = "") -> int:
    connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = connection.getresponse()
    response.read()
    return response.status


def _page_times(port: int, cookie: str, requests: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        status = _get(connection, "/", cookie)
        times.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"the dashboard answered {status}")
    connection.close()
    return times


def _probe(port: int, stop: threading.Event, answers: list[tuple[int, float]]) -> None:
    """Call /healthz once a second (a monitor's or load balancer's pace), or as soon as the last answer came."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while not stop.is_set():
        started = time.perf_counter()
        status = _get(connection, "/healthz")
        elapsed = time.perf_counter() - started
        answers.append((status, elapsed * 1000))
        stop.wait(max(0.0, PROBE_EVERY_S - elapsed))


def run(*, quick: bool) -> ItemResult:
    result = ItemResult(ITEM, "Health probes under load")
    scale = QUICK if quick else FULL
    with scratch_dir("healthz") as tmp, postgres_database() as db_url, redis_server(tmp) as redis_url:
        # One secret for this process and the server: the session this process signs in must be valid there.
        env = portal_environment(
            database_url=db_url,
            var_dir=tmp / "var",
            extra={"REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url, "SECRET_KEY": secrets.token_urlsafe(50)},
        )
        django_setup(env)
        configure_celery_client(redis_url)
        from django.contrib.auth.models import Group, User
        from django.test import Client

        from kinoite_portal.core import roles

        user = User.objects.create_user("bench-rita", password=secrets.token_urlsafe(12), is_staff=True)
        user.groups.add(Group.objects.get(name=roles.RELEASE_ENGINEERS))
        client = Client()
        client.force_login(user)
        cookie = f"sessionid={client.cookies['sessionid'].value}"
        server_env = {
            **env,
            "PORTAL_PRODUCTION": "1",
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
        }
        with celery_worker(env, tmp), gunicorn(server_env, tmp) as (port, source):
            say(f"item {ITEM}: gunicorn on 127.0.0.1:{port} ({source}); warming up")
            _page_times(port, cookie, 5)
            say(f"item {ITEM}: {scale['requests']} dashboard requests alone")
            alone = _page_times(port, cookie, scale["requests"])
            stop = threading.Event()
            answers: list[tuple[int, float]] = []
            probes = [
                threading.Thread(target=_probe, args=(port, stop, answers), daemon=True) for _ in range(scale["probes"])
            ]
            for thread in probes:
                thread.start()
            time.sleep(2)  # every probe is under way
            say(f"item {ITEM}: {scale['requests']} dashboard requests while {scale['probes']} callers poll /healthz")
            loaded = _page_times(port, cookie, scale["requests"])
            stop.set()
            for thread in probes:
                thread.join(60)
    probe_times = [ms for _, ms in answers]
    failed = sum(1 for status, _ in answers if status != 200)
    ratio = percentile(loaded, 95) / percentile(alone, 95)
    result.rows.append(
        Row(
            ITEM,
            f"dashboard p95 with {scale['probes']} concurrent /healthz callers (baseline: no callers)",
            percentile(loaded, 95),
            percentile(alone, 95),
            "ms",
            f"< {TARGET_RATIO:g}x",
            ratio < TARGET_RATIO,
        )
    )
    result.rows.append(Row(ITEM, "dashboard median, same runs", median(loaded), median(alone), "ms"))
    result.rows.append(
        Row(
            ITEM,
            "/healthz median answer under that load (p95 as baseline)",
            median(probe_times),
            percentile(probe_times, 95),
            "ms",
            "all 200",
            failed == 0,
        )
    )
    result.notes.append(
        f"gunicorn with PORTAL_PRODUCTION=1 and {source}, one Celery worker, Redis, PostgreSQL, all on the same 2 "
        f"cores as the {scale['probes']} probe threads; {len(answers):,} /healthz answers during the loaded run, "
        f"{failed} of them not 200 (503 means a part was down). Each caller asks once a second; with the worker "
        "question asked on every call (before), each call held a gunicorn worker for about a second. The /healthz "
        "p95 is the first call in each gunicorn process, which asks the workers while it waits."
    )
    return result
