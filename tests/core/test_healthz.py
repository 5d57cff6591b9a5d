from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from kinoite_portal.core import queues
from tests.conftest import make_user


@pytest.fixture(autouse=True)
def _fresh_worker_answer() -> None:
    """Each test asks the workers anew (the answer is kept a few seconds per process)."""
    queues.queue_consumers(refresh=True)


@pytest.mark.slow
def test_it_reports_database_redis_and_a_live_worker_with_names_for_staff(
    celery_worker, client_for, release_engineer
) -> None:
    queues.queue_consumers(refresh=True)
    response = client_for(release_engineer).get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "vendor": connection.vendor}
    assert body["redis"]["ok"] is True
    assert celery_worker.name in body["workers"]["names"]


@pytest.mark.slow
def test_anonymous_callers_get_states_only(celery_worker, client: Client) -> None:
    queues.queue_consumers(refresh=True)
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": {"ok": True}, "redis": {"ok": True}, "workers": {"ok": True}}


def test_it_says_degraded_without_workers(client_for, release_engineer) -> None:
    response = client_for(release_engineer).get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is True
    assert body["workers"] == {"ok": False, "count": 0, "names": []}


def test_it_reports_redis_down_with_the_error_to_staff_only(db, client: Client, client_for, settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    staff = client_for(make_user("sam", is_staff=True))

    anonymous = client.get("/healthz")
    detailed = staff.get("/healthz").json()

    assert anonymous.status_code == 503
    assert anonymous.json() == {
        "status": "degraded",
        "database": {"ok": True},
        "redis": {"ok": False},
        "workers": {"ok": False},
    }
    assert b"127.0.0.1" not in anonymous.content
    assert detailed["status"] == "degraded"
    assert "127.0.0.1" in detailed["redis"]["error"]
